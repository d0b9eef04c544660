"""Query parameters of the transfer-aware ranking over HTTP (``/query/sources``, ``/eval``); the
same meaning and defaults as the CLI flags (``fute query sources --help``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query

from query.transfer_query import TransferOptions
from query.transfer_rank import TransferParams

_D = TransferParams()


def transfer_params(
    lam: Annotated[float, Query(ge=0, le=1, description="graph weight")] = _D.lam,
    tau: Annotated[float, Query(ge=1e-3, le=1e3, description="pivot temperature")] = _D.tau,
    kappa: Annotated[float, Query(ge=0, le=1e6, description="source-prior weight")] = _D.kappa,
    alpha: Annotated[float, Query(ge=-10, le=10, description="same-format bonus")] = _D.alpha,
    center: Annotated[bool, Query(description="centre vectors on the catalogue mean")] = _D.center,
) -> TransferParams:
    """Dependency: the score parameters (422 when out of range)."""
    return TransferParams(lam=lam, tau=tau, kappa=kappa, alpha=alpha, center=center)


def transfer_options(
    params: Annotated[TransferParams, Depends(transfer_params)],
    ranking: Annotated[Literal["auto", "transfer", "similarity"], Query()] = "auto",
    setting: Annotated[str | None, Query(max_length=100, description="only this setting's results")] = None,
    prefer_measured: bool = False,
) -> TransferOptions:
    """Dependency: how ``/query/sources`` uses recorded transfer results."""
    return TransferOptions(ranking=ranking, setting=setting, prefer_measured=prefer_measured, params=params)
