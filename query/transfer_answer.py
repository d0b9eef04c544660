"""The answer of a transfer-aware ``query sources``: the ordered hits with their score parts, the
pivots that support them (``evidence``) and the results already measured into the target
(``measured``), in the same result shape as every other query."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from query.answer import Ranked, hydrate
from query.transfer_query import Prepared, TransferOptions, prepare, ranked_positions, score_all
from query.transfer_rank import Scored, TransferParams, hidden
from registry.api import Hit, Registry
from registry.filters import SearchFilter
from registry.transfers import TransferGraph, measured_into

N_EVIDENCE = 5
FORMULA = (
    "score = lam*z(graph) + (1-lam)*z(sim) + alpha*[same format]; graph(s) = weighted mean over pivots p "
    "of z(T(s->p)), w(p) = exp(z(sim(t,p))/tau), shrunk to the source prior by kappa; results into "
    "the target are never read"
)


def transfer_sources(
    reg: Registry,
    target: tuple[int, str],
    spaces: list[str],
    flt: SearchFilter,
    k: int,
    explain: bool,
    topts: TransferOptions,
    graph: TransferGraph,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Datasets ranked for a target by the transfer-aware score.

    Args:
        reg: Registry.
        target: (dataset id, name) of the target; it has a vector in every space (checked by caller).
        spaces: Spaces whose similarity is used (several: mean of standardised similarities).
        flt: The query's filter (kinds, tags, ...; the target excluded).
        k: Results wanted.
        explain: Add provenance.
        topts: Transfer options.
        graph: The transfer graph read for this query (``check_setting``).

    Returns:
        (result items, the ``ranking`` block of the query).
    """
    prep = prepare(reg, spaces, topts.setting, graph)
    tpos = prep.position(target[0])
    if tpos is None:
        raise LookupError(f"{target[1]!r} lacks a vector in one of {', '.join(spaces)}; run `fute embed`")
    scored = score_all(prep, tpos, topts.params)
    order = ranked_positions(scored, _allowed(reg, prep, spaces, tpos, flt))
    measured = _measured(graph, target[0], topts.setting)
    if topts.prefer_measured:
        first = sorted(
            (p for p in order if int(prep.subject_ids[p]) in measured),
            key=lambda p: -_best(measured, prep, p),
        )
        order = first + [p for p in order if p not in set(first)]
    top = order[:k]
    ranked = _ranked(reg, prep, spaces, tpos, top, scored, measured, topts.params)
    block = {
        "mode": "transfer",
        "setting": topts.setting,
        "settings_used": "all, each standardised" if topts.setting is None else topts.setting,
        "params": topts.params.to_dict(),
        "prefer_measured": topts.prefer_measured,
        "formula": FORMULA,
    }
    return hydrate(reg, spaces, ranked, explain), block


def _allowed(
    reg: Registry, prep: Prepared, spaces: list[str], tpos: int, flt: SearchFilter
) -> npt.NDArray[np.bool_]:
    """Positions passing the filter (resolved by the product's filtered search), target excluded."""
    allowed = np.ones(len(prep.subject_ids), dtype=bool)
    allowed[tpos] = False
    plain = SearchFilter(kinds=flt.kinds, exclude_subject_ids=flt.exclude_subject_ids)
    if flt == plain:
        return allowed
    vec = prep.vectors[0][tpos]
    _, ids = reg.search_ids(spaces[0], vec, k=len(prep.subject_ids), flt=flt)[0]
    return allowed & np.isin(prep.embedding_ids[0], ids[ids >= 0])


def _measured(graph: TransferGraph, target_id: int, setting: str | None) -> dict[int, list[dict[str, Any]]]:
    """Results measured into the target (of the setting when one is chosen), by source id."""
    found = measured_into(graph, target_id)
    if setting is None:
        return found
    kept = {s: [m for m in ms if m["setting"] == setting] for s, ms in found.items()}
    return {s: ms for s, ms in kept.items() if ms}


def _best(measured: dict[int, list[dict[str, Any]]], prep: Prepared, pos: int) -> float:
    scores = [m["score"] for m in measured[int(prep.subject_ids[pos])]]
    return float(np.mean(scores))


def _ranked(
    reg: Registry,
    prep: Prepared,
    spaces: list[str],
    tpos: int,
    top: list[int],
    scored: Scored,
    measured: dict[int, list[dict[str, Any]]],
    params: TransferParams,
) -> list[Ranked]:
    """Hydrated hits (raw similarity and provenance from each space's search) with score parts."""
    ids = [int(prep.subject_ids[p]) for p in top]
    by_space: dict[str, dict[int, Hit]] = {}
    for i, space in enumerate(spaces):
        hits = reg.search(
            space, prep.vectors[i][tpos], k=max(len(ids), 1), flt=SearchFilter(subject_ids=tuple(ids))
        )
        by_space[space] = {h.subject_id: h for h in hits[0]}
    pivots = _evidence(reg, prep, tpos, top, scored)
    out = []
    for p, sid in zip(top, ids, strict=True):
        found = {s: by_space[s][sid] for s in spaces if sid in by_space[s]}
        if spaces[0] not in found:
            continue  # deleted by a concurrent writer since the matrices were read
        extra = {
            "measured": measured.get(sid, []),
            "transfer": _parts(scored, p, params),
            "evidence": pivots[p],
        }
        similarity = {s: round(h.score, 6) for s, h in found.items()}
        prov = {s: h.provenance for s, h in found.items()}
        out.append(Ranked(found[spaces[0]], float(scored.score[p]), similarity, prov, extra))
    return out


def _parts(scored: Scored, p: int, params: TransferParams) -> dict[str, Any]:
    """The score's parts for one source and the share of its magnitude that came from the graph."""
    g, s, f = float(scored.zgraph[p]), float(scored.zsim[p]), float(scored.same_format[p])
    terms = (abs(params.lam * g), abs((1 - params.lam) * s), abs(params.alpha * f))
    total = sum(terms) or 1.0
    return {
        "graph_z": round(g, 4),
        "similarity_z": round(s, 4),
        "same_format": bool(f),
        "n_pivots": int(scored.n_pivots[p]),
        "graph_share": round(terms[0] / total, 4),
        "similarity_share": round(terms[1] / total, 4),
    }


def _evidence(
    reg: Registry, prep: Prepared, tpos: int, top: list[int], scored: Scored
) -> dict[int, list[dict[str, Any]]]:
    """Per source, its most heavily weighted pivots: weight share, recorded score, standardised score."""
    e = prep.edges
    gone = set(hidden(e, tpos).tolist())
    chosen: dict[int, list[tuple[int, float, float, float]]] = {}
    for p in top:
        rows = np.array([r for r in e.source_rows(p).tolist() if r not in gone], dtype=np.int64)
        w = scored.weights[e.pivot[rows]]
        total = float(w.sum()) or 1.0
        best = rows[np.argsort(-w, kind="stable")[:N_EVIDENCE]]
        chosen[p] = [
            (int(e.pivot[r]), float(scored.weights[e.pivot[r]]) / total, float(e.raw[r]), float(e.z[r]))
            for r in best
        ]
    names = reg.transfers.names_of([int(prep.subject_ids[q]) for rows in chosen.values() for q, *_ in rows])
    return {
        p: [
            {
                "pivot": names.get(int(prep.subject_ids[q]), "?"),
                "weight": round(w, 4),
                "score": round(r, 6),
                "z": round(zz, 4),
            }
            for q, w, r, zz in rows
        ]
        for p, rows in chosen.items()
    }
