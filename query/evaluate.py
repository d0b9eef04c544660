"""``fute eval``: score the registry's source rankings against recorded transfer results.

For each target with recorded results in a setting, the candidates are the sources measured for
it; the space ranks them (cosine similarity to the target's vector; candidates without a vector go
last, by name) and the ranking is scored by ``query.metrics``: NDCG (TaskWeb: relevance = N - gold
rank, gain 2^rel - 1, log2 discount), rho (predicted rank of the truly best source), Regret@k. The
same numbers for a seeded random order (mean over many draws) stand beside them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from query.metrics import evaluate_target, mean_over_targets, random_baseline
from registry.api import Registry
from registry.errors import InvalidDataError
from registry.filters import SearchFilter
from registry.models import Dataset, TransferResult
from registry.spaces import get_space


def gold_scores(reg: Registry, setting: str | None) -> tuple[str, dict[str, dict[str, float]]]:
    """{target: {source: score}} of one setting (the only one when None).

    Raises:
        InvalidDataError: No results, or several settings and none chosen.
    """
    src, tgt = aliased(Dataset), aliased(Dataset)
    with reg.db.read() as session:
        rows = session.execute(
            select(TransferResult.setting, tgt.name, src.name, TransferResult.score)
            .join(src, src.id == TransferResult.source_id)
            .join(tgt, tgt.id == TransferResult.target_id)
        ).all()
    settings = sorted({r[0] for r in rows})
    if not settings:
        raise InvalidDataError(
            "no transfer results recorded; import some with `fute transfer import FILE.csv`"
        )
    if setting is None:
        if len(settings) > 1:
            raise InvalidDataError(f"several settings recorded ({', '.join(settings)}); pass --setting")
        setting = settings[0]
    if setting not in settings:
        raise InvalidDataError(f"no results for setting {setting!r}; recorded: {', '.join(settings)}")
    gold: dict[str, dict[str, float]] = {}
    for s, target, source, score in rows:
        if s == setting:
            gold.setdefault(target, {})[source] = float(score)
    return setting, gold


def predicted_order(reg: Registry, space: str, target: str, candidates: list[str]) -> list[str]:
    """Candidates ranked by the space (nearest first); those without vectors last, by name."""
    with reg.db.read() as session:
        ids = dict(
            session.execute(
                select(Dataset.name, Dataset.id).where(Dataset.name.in_([*candidates, target]))
            ).all()
        )
    try:
        vec = reg.vector_of(space, ids[target])
    except LookupError:
        return sorted(candidates)
    flt = SearchFilter(subject_ids=tuple(ids[c] for c in candidates))
    ranked = [h.name for h in reg.search(space, vec, k=len(candidates), flt=flt)[0]]
    return ranked + sorted(set(candidates) - set(ranked))


def evaluate(
    reg: Registry, space: str | None, setting: str | None, n_draws: int = 200, seed: int = 0
) -> dict[str, Any]:
    """Per-target and mean metrics of one space against one setting, beside the random baseline."""
    from query.service import QueryOptions, resolve_spaces

    name = space or resolve_spaces(reg, QueryOptions())[0]
    with reg.db.read() as session:
        method = get_space(session, name).method
    setting, gold = gold_scores(reg, setting)
    per_target, per_random = {}, {}
    for target, scores in sorted(gold.items()):
        order = predicted_order(reg, name, target, sorted(scores))
        per_target[target] = {**evaluate_target(order, scores), "predicted": order[:5]}
        per_random[target] = random_baseline(scores, n_draws=n_draws, seed=seed)
    numeric = {t: {k: v for k, v in m.items() if isinstance(v, float)} for t, m in per_target.items()}
    return {
        "space": name,
        "method": method,
        "setting": setting,
        "n_targets": len(gold),
        "mean": mean_over_targets(numeric),
        "random": mean_over_targets(per_random),
        "random_draws": n_draws,
        "targets": per_target,
    }
