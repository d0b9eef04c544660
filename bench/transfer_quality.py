"""Section 1b (issue 14): transfer-aware source ranking on TaskWeb, through the product's path.

TaskWeb's published results are imported into the benchmark registry with the product's importer
(``query.transfer.import_transfer_rows``, one setting per ``adaptation/model``), then every row
below comes from ``query.evaluate.evaluate`` — what ``fute eval --space S --setting X`` prints —
which ranks each target's candidates with a graph holding no result into that target.

Rows per setting: similarity only; transfer-aware with the a-priori defaults; transfer-aware with
nested leave-one-target-out selection; ablations of the defaults (each change alone); and the fair
baseline: TaskShop's pivot formula recomputed here with the *same* setting's graph and the same
leave-target-out rule over TaskWeb's shipped RoE and LLM similarities.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.taskweb_data import BASELINES, Gold, Orders, score_orders, single_settings
from query.evaluate import evaluate
from query.nested import GRID
from query.transfer import import_transfer_rows
from query.transfer_rank import TransferParams
from registry.api import Registry

ORIGIN = "taskweb"
DEFAULTS = TransferParams()
ABLATIONS: dict[str, TransferParams] = {
    "graph_only": replace(DEFAULTS, lam=1.0),
    "source_prior_only": replace(DEFAULTS, lam=1.0, tau=1000.0, alpha=0.0),
    "no_format_term": replace(DEFAULTS, alpha=0.0),
    "no_centering": replace(DEFAULTS, center=False),
    "no_prior_shrinkage": replace(DEFAULTS, kappa=0.0),
}
TASKSHOP_LAMBDA = 0.7  # TaskShop's published interpolation weight (chosen by its authors on PIQA)


def import_gold(reg: Registry, gold: Gold) -> int:
    """Import every setting's TaskWeb scores (a rerun stores nothing new); returns the rows stored."""
    rows = [
        {"source": s, "target": t, "score": v, "setting": setting}
        for setting, by_target in gold.items()
        for t, by_source in by_target.items()
        for s, v in by_source.items()
    ]
    return import_transfer_rows(reg, rows, ORIGIN, "replace").stored


def _row(reg: Registry, space: str, setting: str, **kw: Any) -> dict[str, Any]:
    """One ``evaluate`` call reduced to the benchmark's figures, with its wall time."""
    start = time.perf_counter()
    out = evaluate(reg, space, setting, n_draws=1, **kw)
    mean = out["mean"]
    return {
        "ndcg": round(mean["ndcg"], 6),
        "rho": round(mean["rho"], 6),
        "regret_at_3": round(mean["regret_at_3"], 6),
        "n_targets": out["n_targets"],
        "seconds": round(time.perf_counter() - start, 3),
        **({"selected": _selected(out)} if kw.get("selection") == "nested" else {}),
    }


def _selected(out: Mapping[str, Any]) -> dict[str, int]:
    """How often each grid point was chosen across held-out targets."""
    counts: dict[str, int] = {}
    for m in out["targets"].values():
        sel = m["selected"]
        key = f"lam={sel['lam']},tau={sel['tau']},alpha={sel['alpha']}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def space_rows(reg: Registry, space: str, settings: list[str], single: bool) -> dict[str, Any]:
    """Every row of one space (or a comma-joined fusion) per setting."""
    rows: dict[str, dict[str, Any]] = {"transfer_fixed": {}, "transfer_nested": {}}
    if single:
        rows["similarity"] = {}
    rows.update({f"ablation_{name}": {} for name in ABLATIONS})
    for setting in settings:
        if single:
            rows["similarity"][setting] = _row(reg, space, setting, ranking="similarity")
        rows["transfer_fixed"][setting] = _row(reg, space, setting, ranking="transfer", params=DEFAULTS)
        rows["transfer_nested"][setting] = _row(reg, space, setting, ranking="transfer", selection="nested")
        for name, params in ABLATIONS.items():
            rows[f"ablation_{name}"][setting] = _row(reg, space, setting, ranking="transfer", params=params)
    return rows


def taskshop_orders(gold: Gold, setting: str, sims: dict[str, dict[tuple[str, str], float]]) -> Orders:
    """TaskShop's pivot formula with this setting's graph, every result into the target hidden.

    score(s) = 0.7 * mean_p (0.5 T(s->p) + 0.5 sim(t, p)) + 0.3 * direct(t, s), pivots p != s, t
    (squad_v2 is never a pivot: nothing is measured into it). ``sims`` holds ``pivot`` (the
    pivot-side similarity) and ``direct`` tables keyed (target, other).
    """
    by_target = gold[setting]
    orders: Orders = {}
    for t, cands in by_target.items():
        scores = {}
        for s in cands:
            pivots = [p for p in by_target if p not in (s, t) and s in by_target[p]]
            pivot = sum(0.5 * by_target[p][s] + 0.5 * sims["pivot"][(t, p)] for p in pivots) / max(
                len(pivots), 1
            )
            scores[s] = TASKSHOP_LAMBDA * pivot + (1 - TASKSHOP_LAMBDA) * sims["direct"][(t, s)]
        orders[t] = sorted(sorted(cands), key=lambda s: -scores[s])
    return orders


def shipped_similarities(table: Mapping[str, Mapping[tuple[str, str], float]]) -> dict[str, Any]:
    """RoE (raw dot scores, as TaskShop uses them) and LLM-similarity (pair-averaged; the pivot side
    standardised, the direct side min-max scaled, as TaskShop's LLM variant does)."""
    roe = dict(table[BASELINES["roe"]])
    llm_raw = table[BASELINES["llm_similarity"]]
    pair = {(a, b): (llm_raw[(a, b)] + llm_raw[(b, a)]) / 2 for a, b in llm_raw if (b, a) in llm_raw}
    values = list(llm_raw.values())
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    lo, hi = min(values), max(values)
    return {
        "roe": {"pivot": roe, "direct": roe},
        "llm": {
            "pivot": {k: (v - mean) / sd for k, v in pair.items()},
            "direct": {k: (v - lo) / (hi - lo) for k, v in pair.items()},
        },
    }


def taskshop_rows(gold: Gold, settings: list[str], table: Mapping[str, Any]) -> dict[str, Any]:
    """The same-graph TaskShop baselines per setting, scored like every other row."""
    sims = shipped_similarities(table)
    out: dict[str, Any] = {}
    for name, sim in sims.items():
        per = {}
        for setting in settings:
            scored = score_orders(taskshop_orders(gold, setting, sim), {setting: gold[setting]})
            per[setting] = scored[setting]
        out[f"taskshop_same_graph_{name}"] = per
    return out


def read_table(path: Path) -> dict[str, dict[tuple[str, str], float]]:
    """``taskweb_baseline_predictions.csv`` as method -> (key_a, key_b) -> score."""
    table: dict[str, dict[tuple[str, str], float]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            table.setdefault(row["method"], {})[(row["key_a"], row["key_b"])] = float(row["score"])
    return table


def run_transfer(reg: Registry, gold: Gold, labels: list[str], table_path: Path) -> dict[str, Any]:
    """The ``transfer_aware`` block of ``taskweb.json``.

    Args:
        reg: The benchmark registry (TaskWeb tasks embedded in the spaces ``labels``).
        gold: TaskWeb's scores per setting.
        labels: Complete spaces; each alone, and all of them together (mean standardised similarity).
        table_path: TaskWeb's shipped baseline predictions.

    Returns:
        ``{"imported", "settings", "defaults", "grid_size", "spaces": {space: {row: {setting: ...}}},
        "baselines": {...}, "mean_over_single_settings": {...}}``.
    """
    imported = import_gold(reg, gold)
    settings = single_settings(gold)
    spaces = {label: space_rows(reg, label, settings, single=True) for label in labels}
    if len(labels) > 1:
        spaces[",".join(labels)] = space_rows(reg, ",".join(labels), settings, single=False)
    baselines = taskshop_rows(gold, settings, read_table(table_path))
    means = {
        space: {row: _mean(per, settings) for row, per in rows.items()} for space, rows in spaces.items()
    }
    return {
        "imported": imported,
        "settings": settings,
        "defaults": DEFAULTS.to_dict(),
        "grid_size": len(GRID),
        "spaces": spaces,
        "baselines": baselines,
        "mean_over_single_settings": {
            "spaces": means,
            "baselines": {b: _mean(per, settings) for b, per in baselines.items()},
        },
    }


def _mean(per: Mapping[str, Mapping[str, Any]], settings: list[str]) -> dict[str, float]:
    keys = ("ndcg", "rho", "regret_at_3") + (("seconds",) if "seconds" in per[settings[0]] else ())
    return {k: round(sum(float(per[s][k]) for s in settings) / len(settings), 6) for k in keys}
