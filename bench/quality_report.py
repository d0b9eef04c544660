"""Markdown tables of the quality results (for docs/BENCHMARKS.md), printed from the JSON files.

Usage: python -m bench.quality_report [--dir bench/results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.common import RESULTS

METRICS = (("ndcg", "NDCG"), ("rho", "ρ"), ("regret_at_3", "Regret@3"))


def _load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def taskweb_tables(doc: dict[str, Any]) -> str:
    """One table per metric: rows = methods and baselines, columns = settings, then the 7-setting mean."""
    settings = list(next(iter(doc["methods"].values())))
    singles = doc["mean_over_single_settings"]["settings"]
    means = doc["mean_over_single_settings"]
    lines = []
    for key, title in METRICS:
        lines.append(f"\n**{title}** (mean over targets; ρ and Regret@3: lower is better)\n")
        lines.append("| method | " + " | ".join(settings) + " | mean of 7 single |")
        lines.append("|---|" + "---|" * (len(settings) + 1))
        for group in ("methods", "baselines"):
            for name, block in doc[group].items():
                cells = [f"{block[s][key]:.3f}" for s in settings]
                mean = means[group][name][key]
                label = f"`{name}`" if group == "methods" else name
                lines.append(f"| {label} | " + " | ".join(cells) + f" | {mean:.3f} |")
    lines.append(
        f"\nSingle settings: {', '.join(singles)}; targets per setting: "
        f"{next(iter(doc['methods'].values()))[settings[0]]['n_targets']}."
    )
    lines.append("DTE seconds per space: " + ", ".join(f"{k} {v:.0f} s" for k, v in doc["seconds"].items()))
    return "\n".join(lines)


def unified_table(doc: dict[str, Any]) -> str:
    """Headline figures and the per-model / per-prompt detail."""
    lines = ["| figure | value |", "|---|---|"]
    for key in ("mte_to_dte_top1", "mte_to_dte_mrr", "n_models", "prompt_family_top1", "n_prompts"):
        if key in doc:
            lines.append(f"| `{key}` | {doc[key]} |")
    for name, m in doc.get("models", {}).items():
        lines.append(
            f"| {name} (trained on {m['trained_on']}) | own task at rank {m['rank_of_own_task']}; "
            f"nearest {', '.join(m['nearest'])} |"
        )
    for name, p in doc.get("prompts", {}).items():
        lines.append(f"| {name} | nearest {p['nearest']} ({'own family' if p['hit'] else 'other family'}) |")
    return "\n".join(lines)


def sketch_table(doc: dict[str, Any]) -> str:
    """Spearman and worst cosine error per sketch dimension."""
    lines = ["| sketch dim | Spearman (pairwise cosines) | max abs cosine error |", "|---|---|---|"]
    for dim, value in doc["spearman"].items():
        mark = " (default)" if int(dim) == doc["default_dim"] else ""
        lines.append(f"| {int(dim):,}{mark} | {value:.4f} | {doc['max_abs_cosine_error'][dim]:.4f} |")
    return "\n".join(lines)


def main() -> None:
    """Print every table whose result file exists."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dir", type=Path, default=RESULTS)
    args = ap.parse_args()
    for name, fn in (
        ("taskweb.json", taskweb_tables),
        ("unified.json", unified_table),
        ("sketch.json", sketch_table),
    ):
        doc = _load(args.dir, name)
        if doc is not None:
            print(f"\n### {name}\n{fn(doc)}")


if __name__ == "__main__":
    main()
