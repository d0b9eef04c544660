"""``fute eval``: score the registry's source rankings against recorded transfer results.

For each target with recorded results in a setting, the candidates are the sources measured for
it; they are ranked like ``fute query sources`` ranks them: by default transfer-aware
(``query.transfer_rank``, built from a graph that never holds a result into the target, so the
evaluation is leave-one-target-out by construction), or by the space's similarity alone
(``ranking="similarity"``); candidates without a vector go last, by name. The ranking is scored by ``query.metrics``: NDCG (TaskWeb: relevance = N - gold
rank, gain 2^rel - 1, log2 discount), rho (predicted rank of the truly best source), Regret@k. The
same numbers for a seeded random order (mean over many draws) stand beside them.
"""

from __future__ import annotations

from typing import Any, cast

from query import nested
from query.answers import EvalReport, TargetScores
from query.metrics import evaluate_target, mean_over_targets, random_baseline
from query.space_choice import choose_spaces
from query.transfer_query import Prepared, prepare, score_all
from query.transfer_rank import TransferParams
from registry.api import Registry
from registry.errors import InvalidDataError
from registry.filters import SearchFilter
from registry.subject_reads import space_methods


def gold_scores(reg: Registry, setting: str | None) -> tuple[str, dict[str, dict[str, float]]]:
    """{target: {source: score}} of one setting (the only one when None).

    Args:
        reg: Registry.
        setting: The setting scored; ``None``: the only one recorded.

    Returns:
        The setting chosen and its scores by target and source name.

    Raises:
        InvalidDataError: No results, or several settings and none chosen.
    """
    rows = reg.transfers.gold_rows()
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
            gold.setdefault(target, {})[source] = score
    return setting, gold


def predicted_order(reg: Registry, space: str, target: str, candidates: list[str]) -> list[str]:
    """Candidates ranked by the space (nearest first); those without vectors last, by name.

    Args:
        reg: Registry.
        space: The space ranking them.
        target: The target dataset's name.
        candidates: Source dataset names (all registered).

    Returns:
        The candidates, in predicted order.
    """
    ids = reg.transfers.ids_of([*candidates, target])
    try:
        vec = reg.vector_of(space, ids[target])
    except LookupError:
        return sorted(candidates)
    flt = SearchFilter(subject_ids=tuple(ids[c] for c in candidates))
    ranked = [h.name for h in reg.search(space, vec, k=len(candidates), flt=flt, provenance=False)[0]]
    return ranked + sorted(set(candidates) - set(ranked))


def evaluate(
    reg: Registry,
    space: str | None,
    setting: str | None,
    n_draws: int = 200,
    seed: int = 0,
    ranking: str = "auto",
    selection: str = "fixed",
    params: TransferParams | None = None,
) -> EvalReport:
    """Per-target and mean metrics of a ranking against one setting, beside the random baseline.

    Args:
        reg: Registry.
        space: Space (or comma-separated spaces, transfer ranking only); None: the default space.
        setting: Setting scored (and, for the transfer ranking, the graph used); None: the only one.
        n_draws: Random orders averaged for the baseline.
        seed: Seed of the random orders.
        ranking: ``auto``/``transfer`` (transfer-aware, every result into the target hidden) or
            ``similarity`` (the space's similarity alone).
        selection: ``fixed`` (``params``, default: the a-priori defaults) or ``nested``
            (leave-one-target-out selection over ``query.nested.GRID``).
        params: Fixed parameters of the transfer ranking.

    Returns:
        ``{"space", "method", "setting", "ranking", "n_targets", "mean", "random", "random_draws",
        "targets"}`` (+ ``params`` or per-target ``selected`` for the transfer ranking).

    Raises:
        InvalidDataError: No results, an unknown setting, ranking or selection, ``n_draws < 1``.
    """
    if n_draws < 1:
        raise InvalidDataError(f"n_draws must be >= 1 (random orders averaged), got {n_draws}")
    if ranking not in ("auto", "transfer", "similarity") or selection not in ("fixed", "nested"):
        raise InvalidDataError(
            f"ranking {ranking!r} / selection {selection!r}: choose auto|transfer|similarity and fixed|nested"
        )
    names = list(choose_spaces(reg, tuple(s for s in (space or "").split(",") if s)).names)
    if ranking == "similarity" and len(names) > 1:
        raise InvalidDataError("--ranking similarity scores one space; pass a single --space")
    methods = space_methods(reg, names)
    method = ",".join(methods[n] for n in names)
    setting, gold = gold_scores(reg, setting)
    extra: dict[str, Any] = {}
    if ranking == "similarity":
        orders = {t: predicted_order(reg, names[0], t, sorted(g)) for t, g in gold.items()}
    else:
        orders, extra = transfer_orders(reg, names, setting, gold, selection, params or TransferParams())
    per_target, per_random = {}, {}
    for target, scores in sorted(gold.items()):
        order = orders[target]
        per_target[target] = {**evaluate_target(order, scores), "predicted": order[:5]}
        if target in extra.get("selected", {}):
            per_target[target]["selected"] = extra["selected"][target]
        per_random[target] = random_baseline(scores, n_draws=n_draws, seed=seed)
    numeric = {t: {k: v for k, v in m.items() if isinstance(v, float)} for t, m in per_target.items()}
    report = EvalReport(
        space=",".join(names),
        method=method,
        setting=setting,
        ranking="similarity" if ranking == "similarity" else "transfer",
        n_targets=len(gold),
        mean=mean_over_targets(numeric),
        random=mean_over_targets(per_random),
        random_draws=n_draws,
        # evaluate_target's metrics at DEFAULT_KS plus predicted (and selected): TargetScores' keys
        targets=cast("dict[str, TargetScores]", per_target),
    )
    if "params" in extra:
        report["params"] = extra["params"]
    if ranking != "similarity":
        report["selection"] = selection
    return report


def transfer_orders(
    reg: Registry,
    spaces: list[str],
    setting: str,
    gold: dict[str, dict[str, float]],
    selection: str,
    params: TransferParams,
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Each target's candidates ordered by the transfer-aware score of ``query sources`` (the same
    ``score_all``), whose graph never contains a result into the target (leave-one-target-out by
    construction). Candidates without a vector go last, by name.

    Returns:
        (target -> order, ``{"params"}`` for fixed or ``{"selected": target -> params}`` for nested).
    """
    prep = prepare(reg, spaces, setting)
    ids = reg.transfers.ids_of(sorted({n for g in gold.values() for n in (*g, *gold)}))
    pos = {n: p for n, i in ids.items() if (p := prep.position(i)) is not None}
    gold_pos = {pos[t]: {pos[s]: v for s, v in g.items() if s in pos} for t, g in gold.items() if t in pos}
    zsims: dict[int, Any] = {}

    def zsim(u: int) -> Any:
        if u not in zsims:
            zsims[u] = score_all(prep, u, params).zsim
        return zsims[u]

    orders, selected = {}, {}
    for target, g in gold.items():
        chosen = params
        if selection == "nested" and target in pos:
            chosen, inner = nested.select(pos[target], gold_pos, zsim, prep.edges, prep.formats)
            selected[target] = {**chosen.to_dict(), "inner_ndcg": round(inner, 6)}
        orders[target] = _order(prep, pos, target, sorted(g), chosen)
    return orders, ({"selected": selected} if selection == "nested" else {"params": params.to_dict()})


def _order(
    prep: Prepared, pos: dict[str, int], target: str, candidates: list[str], params: TransferParams
) -> list[str]:
    if target not in pos:
        return candidates
    score = score_all(prep, pos[target], params).score
    ranked = sorted((c for c in candidates if c in pos), key=lambda c: (-float(score[pos[c]]), c))
    return ranked + [c for c in candidates if c not in pos]
