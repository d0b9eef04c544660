"""Probe sets: FUTE's fixed pool U of unlabelled texts (single texts or pairs).

A probe set is drawn from one or more sources (``pkg:default-pool``, any dataset source, a text
file with one probe per line, or ``dataset:NAME`` for a registered dataset), deduplicated, with
the texts of excluded evaluation tasks removed, then shuffled with a seed and cut to ``n``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from ingest import packaged
from ingest.formats import PAIR_COLS, TEXT_COLS, clean_text, optional, pick
from ingest.names import DEFAULT_POOL as DEFAULT_POOL  # re-exported: its historic home
from ingest.register import check_name, dataset_texts
from ingest.sources import load_table
from registry.api import Registry
from registry.errors import InvalidDataError, NotFoundError, SourceUnavailableError
from registry.lookups import dataset_id_by_key
from registry.registration import store_probe_set

Probe = tuple[str, str | None]


@dataclass(frozen=True)
class ProbeRequest:
    """What ``fute probes create`` asks for.

    Attributes:
        name: Unique probe-set name.
        sources: Where probe texts come from (mixed, then sampled).
        n: Number of probes kept.
        seed: Shuffle seed.
        exclude: Registered dataset names or content hashes whose texts must not appear.
    """

    name: str
    sources: tuple[str, ...]
    n: int = 1000
    seed: int = 13
    exclude: tuple[str, ...] = ()


def norm(text: str) -> str:
    """Comparison key: lower case, alphanumerics only, single spaces."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def read_probes(source: str, reg: Registry) -> list[Probe]:
    """Probe candidates of one source.

    Raises:
        NotFoundError, SourceUnavailableError, InvalidDataError: Unknown or unreadable source.
    """
    if source == DEFAULT_POOL:
        return [(t, p) for t, p, _ in packaged.probe_pool_texts()]
    if source.startswith("dataset:"):
        return [(t, None) for t in dataset_texts(reg, _dataset_id(reg, source.removeprefix("dataset:")))]
    if source.endswith(".txt"):
        return _read_lines(Path(source))
    table = load_table(source)
    text_col = pick(table.columns, None, TEXT_COLS, "probe text", "a 'text' column")
    pair_col = optional(table.columns, None, PAIR_COLS, {text_col})
    warnings: list[str] = []
    out = []
    for i, row in enumerate(table.rows):
        text = clean_text(row.get(text_col), i, text_col, warnings)
        if text:
            out.append((text, clean_text(row.get(pair_col), i, pair_col, warnings) if pair_col else None))
    return out


def _read_lines(path: Path) -> list[Probe]:
    if not path.is_file():
        raise SourceUnavailableError(f"file not found: {path}; check the path")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise SourceUnavailableError(f"{path} is not UTF-8 text; re-save it as UTF-8") from exc
    return [(line.strip().replace("\x00", ""), None) for line in lines if line.strip()]


def _dataset_id(reg: Registry, key: str) -> int:
    """Id of a registered dataset given its name or content hash."""
    found = dataset_id_by_key(reg, key)
    if found is None:
        raise NotFoundError(
            f"no registered dataset with name or content hash {key!r}; see `fute datasets list`"
        )
    return found


def excluded_keys(reg: Registry, exclude: tuple[str, ...]) -> set[str]:
    """Normalised texts of every excluded dataset."""
    keys: set[str] = set()
    for item in exclude:
        keys.update(norm(t) for t in dataset_texts(reg, _dataset_id(reg, item)))
    return keys


def build_probes(reg: Registry, req: ProbeRequest) -> list[Probe]:
    """Mix, deduplicate, filter and sample the probes of a request.

    Raises:
        InvalidDataError: No probe is left, or ``n`` < 1.
    """
    if req.n < 1:
        raise InvalidDataError(f"--n must be at least 1, got {req.n}")
    if not req.sources:
        raise InvalidDataError(f"a probe set needs at least one --from source (e.g. {DEFAULT_POOL})")
    banned = excluded_keys(reg, req.exclude)
    seen: set[tuple[str, str]] = set()
    pool: list[Probe] = []
    for source in req.sources:
        for text, pair in read_probes(source, reg):
            # exact duplicates are dropped; exclusion compares normalised text (case, punctuation)
            if (text, pair or "") in seen or norm(text) in banned or (pair and norm(pair) in banned):
                continue
            seen.add((text, pair or ""))
            pool.append((text, pair))
    if not pool:
        raise InvalidDataError("no probe texts left after deduplication and exclusion; add --from sources")
    random.Random(req.seed).shuffle(pool)
    return pool[: req.n]


def create_probe_set(reg: Registry, req: ProbeRequest) -> dict[str, object]:
    """Build and store a probe set; returns its summary.

    Raises:
        AlreadyExistsError: Name or identical content already stored.
    """
    check_name(req.name)
    probes = build_probes(reg, req)
    drawn = {"sources": list(req.sources), "exclude": list(req.exclude), "n_requested": req.n}
    probe = store_probe_set(reg, req.name, probes, req.seed, drawn)  # one transaction
    return {
        "name": probe.name,
        "n_texts": probe.n_texts,
        "n_pairs": sum(1 for _, p in probes if p),
        "content_hash": probe.content_hash,
        "seed": req.seed,
        "sources": list(req.sources),
        "exclude": list(req.exclude),
    }
