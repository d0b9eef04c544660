"""The offline starter catalogue and the default probe set, from packaged real data."""

from __future__ import annotations

from typing import Any

from ingest import packaged
from ingest.probes import DEFAULT_POOL, ProbeRequest, create_probe_set
from ingest.register import DatasetRequest, register_dataset
from registry.api import Registry
from registry.lookups import dataset_names, probe_set_exists

DEFAULT_PROBE_SET = "default"


def starter_name(source: str) -> str:
    """Dataset name of a packaged source: ``pkg:sst2`` -> ``sst2``."""
    return source.removeprefix("pkg:")


def register_starter(reg: Registry, limit: int, seed: int = 0) -> list[dict[str, Any]]:
    """Register every starter dataset not yet registered (by name).

    Returns:
        One entry per starter source: the registration result, or ``{"name", "skipped": True}``.
    """
    existing = dataset_names(reg)
    out: list[dict[str, Any]] = []
    for src in packaged.starter_catalogue():
        name = starter_name(src.name)
        if name in existing:
            out.append({"name": name, "skipped": True})
            continue
        req = DatasetRequest(
            source=src.name,
            name=name,
            task_format=src.task_format,
            limit=limit,
            seed=seed,
            tags=(("family", src.family), ("origin", "packaged")),
        )
        out.append(register_dataset(reg, req).to_dict())
    return out


def ensure_default_probe_set(reg: Registry, n: int = 1000) -> dict[str, Any]:
    """Create the default probe set (packaged pool minus registered starter texts) unless it exists."""
    if probe_set_exists(reg, DEFAULT_PROBE_SET):
        return {"name": DEFAULT_PROBE_SET, "skipped": True}
    registered = dataset_names(reg)
    starters = tuple(
        n for n in (starter_name(s.name) for s in packaged.starter_catalogue()) if n in registered
    )
    req = ProbeRequest(name=DEFAULT_PROBE_SET, sources=(DEFAULT_POOL,), n=n, seed=13, exclude=starters)
    return create_probe_set(reg, req)
