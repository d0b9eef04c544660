"""Typed answers of every query and listing: the one shape behind the CLI's ``--json``, the HTTP
responses (their ``response_model``, so ``/openapi.json`` documents them) and the Python facade.

They are ``TypedDict`` s, not classes with attributes: the answers were plain dicts before they had
a type, and the ``--json`` output, the HTTP payloads and every caller that indexes them
(``answer["results"]``) stay exactly as they were. pydantic reads them as schemas (FastAPI
validates each response against them). A key marked ``NotRequired`` is left out when it does not
apply (``space_note`` when a space was named, ``provenance`` without ``explain``, ...). Maps whose
keys are data (metric names, spaces, tags) are typed as ``dict``. Shapes built in ``registry/``
(stats, listings, job rows) are described here too: this is the catalogue's public contract,
and the registry floor must not import upward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NotRequired

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

if TYPE_CHECKING:
    from query.transfer import TransferImport

# open-ended blocks keep keys this module does not list (pydantic would drop them otherwise)
OPEN = ConfigDict(extra="allow")


class TransferParamsDict(TypedDict):
    """Parameters of the transfer-aware score (``query.transfer_rank.TransferParams``)."""

    lam: float
    tau: float
    kappa: float
    alpha: float
    center: bool


@with_config(OPEN)
class RankingInfo(TypedDict):
    """How ``query sources`` ranked: ``mode`` is ``similarity`` or ``transfer`` (the rest)."""

    mode: str
    setting: NotRequired[str | None]
    settings_used: NotRequired[str]
    params: NotRequired[TransferParamsDict]
    prefer_measured: NotRequired[bool]
    formula: NotRequired[str]


class FusionInfo(TypedDict):
    """Reciprocal rank fusion of several spaces."""

    rrf_k: int


class QueryInfo(TypedDict):
    """What was asked: ``type`` is ``sources|models|prompts|similar|vector``."""

    type: str
    name: NotRequired[str]
    kind: NotRequired[str]
    k: int
    where: dict[str, str]
    space_note: NotRequired[str]
    provenance: NotRequired[dict[str, dict[str, Any]]]  # space -> the query vector's provenance
    search: NotRequired[dict[str, dict[str, Any]]]  # with explain: space -> how its search ran
    fusion: FusionInfo | None
    ranking: NotRequired[RankingInfo]


class Measured(TypedDict):
    """A recorded transfer result from a source into the target."""

    setting: str
    score: float


class TransferParts(TypedDict):
    """The terms of one source's transfer-aware score."""

    graph_z: float
    similarity_z: float
    same_format: bool
    n_pivots: int
    graph_share: float
    similarity_share: float


class Evidence(TypedDict):
    """A pivot dataset behind a source's graph term."""

    pivot: str
    weight: float
    score: float
    z: float


@with_config(OPEN)
class ResultItem(TypedDict):
    """One ranked entry; ``score`` is the similarity, the RRF score or the transfer-aware score."""

    rank: int
    name: str
    kind: str
    score: float
    tags: dict[str, list[str]]
    format: str | None
    space: str
    method: str
    similarity: dict[str, float]  # space -> raw similarity
    ranks: NotRequired[dict[str, int]]  # space -> rank there (fused answers)
    measured: NotRequired[list[Measured]]
    transfer: NotRequired[TransferParts]
    evidence: NotRequired[list[Evidence]]
    provenance: NotRequired[dict[str, dict[str, Any]]]  # with explain: space -> provenance


class QueryAnswer(TypedDict):
    """The answer of every ``query_*`` function (``fute query ... --json``, ``/query/...``)."""

    space: str
    query: QueryInfo
    results: list[ResultItem]
    warnings: list[str]


class SelectedParams(TransferParamsDict):
    """Parameters chosen for one target by nested selection, with their inner NDCG."""

    inner_ndcg: float


@with_config(OPEN)
class TargetScores(TypedDict):
    """Metrics of one target at the default cut-offs (``query.metrics.DEFAULT_KS``) and its top five."""

    ndcg: float
    rho: float
    regret_at_1: float
    regret_at_1_rel: float
    regret_at_3: float
    regret_at_3_rel: float
    regret_at_5: float
    regret_at_5_rel: float
    predicted: list[str]
    selected: NotRequired[SelectedParams]


class EvalReport(TypedDict):
    """``fute eval --json`` and ``GET /eval``: metric means beside a seeded random baseline."""

    space: str
    method: str
    setting: str
    ranking: str
    params: NotRequired[TransferParamsDict]
    selection: NotRequired[str]
    n_targets: int
    mean: dict[str, float]
    random: dict[str, float]
    random_draws: int
    targets: dict[str, TargetScores]


class TransferImportAnswer(TypedDict):
    """``fute transfer import --json`` and ``POST /transfers``."""

    imported: int
    rows: int
    stored: int
    unchanged: int
    duplicates: int
    conflicts: list[str]
    on_conflict: str


def transfer_import_answer(report: TransferImport) -> TransferImportAnswer:
    """The JSON of a transfer import (``fute transfer import --json``, ``POST /transfers``).

    Args:
        report: What ``query.transfer.import_transfer_rows`` did.

    Returns:
        ``imported`` (the rows written, as ``stored``) and the report's counts.
    """
    return TransferImportAnswer(
        imported=report.stored,
        rows=report.rows,
        stored=report.stored,
        unchanged=report.unchanged,
        duplicates=report.duplicates,
        conflicts=list(report.conflicts),
        on_conflict=report.on_conflict,
    )
