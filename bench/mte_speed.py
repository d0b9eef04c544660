"""Section 4 (MTE part): time of a model embedding for a classifier and for SmolLM2 + a prompt over
the default probe set, with the black box's share.

An MTE is two costs: the black box labels every probe (a classifier forward pass, or an LLM pass
per probe and verbalizer scoring), then the surrogate computes a DTE of the pseudo-labelled probes.
The black box is wrapped in a timer and handed to ``Engine.embed`` (the same call an ingestion job
makes), so its share is measured inside the product call; its outputs are then cached in SQL, so
a second MTE of the same subject (e.g. re-embedding into a new space) costs only the DTE part,
measured as ``cached_seconds``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common import RunConfig, open_registry, register_tasks, shared_dir
from ingest.blackbox import BlackBox
from ingest.blackbox.factory import box_for
from ingest.engine import Engine
from ingest.finetune import finetune_classifier
from ingest.probes import DEFAULT_POOL, ProbeRequest, create_probe_set
from ingest.register_entries import register_model, register_prompt
from registry.models import ModelEntry, Prompt
from registry.subjects import get_subject

SPACE, SPACE_AGAIN = "taskemb-fute", "taskemb-fute-again"


class TimedBox:
    """A black box that adds the wall time of every ``predict`` call to ``seconds``."""

    def __init__(self, box: BlackBox) -> None:
        """Args:
        box: The catalogue's black box for the subject.
        """
        self.box = box
        self.seconds = 0.0
        self.probes = 0

    @property
    def n_classes(self) -> int:
        """Classes of the wrapped box."""
        return self.box.n_classes

    def predict(self, probes: Sequence[Any]) -> npt.NDArray[np.float32]:
        """The wrapped box's probabilities, timed."""
        start = time.perf_counter()
        try:
            return self.box.predict(probes)
        finally:
            self.seconds += time.perf_counter() - start
            self.probes += len(probes)


def timed_box(engine: Engine, name: str, kind: str) -> TimedBox:
    """The catalogue's black box of a model or prompt, wrapped in a timer."""
    with engine.reg.db.read() as session:
        subject = get_subject(session, name, kind)
        llm = session.get(ModelEntry, subject.llm_id) if isinstance(subject, Prompt) else None
        return TimedBox(box_for(subject, llm, engine.models_dir))


def one_mte(engine: Engine, name: str, kind: str) -> dict[str, Any]:
    """Embed a subject cold (black box runs), then into a second space (outputs cached)."""
    box = timed_box(engine, name, kind)
    cold = engine.embed(SPACE, name, kind, box=box)
    cached = engine.embed(SPACE_AGAIN, name, kind)
    return {
        "seconds": round(cold.seconds, 3),
        "blackbox_seconds": round(box.seconds, 3),
        "blackbox_share": round(box.seconds / cold.seconds, 3),
        "n_probes": box.probes,
        "cached_seconds": round(cached.seconds, 3),
    }


def first_prompt(family_file: str) -> dict[str, Any]:
    """FUTE's first template of a family as a catalogue prompt entry on SmolLM2."""
    rows = json.loads(
        (shared_dir() / "groundtruth" / "fute_prompts" / family_file).read_text(encoding="utf-8")
    )
    row = rows[0]
    return {
        "name": f"sentiment-{row['id']}@smollm2",
        "llm": "pkg:smollm2",
        "template": row["jinja"],
        "verbalizers": [list(words) for words in row["answer_choices"].values()],
    }


def run_mte(
    n_probes: int, classifier_steps: int, log: Callable[[str], None], budget: dict[str, int] | None = None
) -> dict[str, Any]:
    """MTE times of an IMDB classifier (the surrogate fine-tuned) and of SmolLM2 + a FUTE sentiment
    prompt, in a FUTE-TaskEmb space with a default probe set of ``n_probes`` texts.

    Args:
        n_probes: Size of the default probe set.
        classifier_steps: Fine-tuning steps of the classifier.
        log: Progress lines.
        budget: TaskEmb parameter overrides (None: the space defaults; CI passes smaller ones).

    Returns:
        ``{"classifier": {...}, "prompt": {...}, "n_probes": i, "classifier_steps": i}``.
    """
    home = Path(tempfile.mkdtemp(prefix="fute-mte-bench-"))
    try:
        return _run(home, n_probes, classifier_steps, log, budget or {})
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run(
    home: Path, n_probes: int, classifier_steps: int, log: Callable[[str], None], budget: dict[str, int]
) -> dict[str, Any]:
    reg = open_registry(home)
    engine = Engine(reg)
    register_tasks(reg, ("imdb",), RunConfig(quick=False, tasks=("imdb",), max_examples=1000))
    create_probe_set(reg, ProbeRequest("default", (DEFAULT_POOL,), n=n_probes, seed=13))
    for space in (SPACE, SPACE_AGAIN):
        # Two spaces differing only in a seed: the second MTE reuses the cached black-box outputs.
        engine.create_space(
            space,
            "taskemb",
            overrides={"variant": "fute", "seed": int(space == SPACE_AGAIN), **budget},
            probe_set="default",
        )
    folder = home / "models" / "clf-imdb"
    t0 = time.perf_counter()
    finetune_classifier(reg, "imdb", folder, steps=classifier_steps)
    log(f"  classifier fine-tuned in {time.perf_counter() - t0:.1f} s")
    register_model(reg, "clf-imdb", str(folder), "classifier")
    prompt = first_prompt("sa_use.json")
    register_prompt(reg, prompt)
    out: dict[str, Any] = {
        "n_probes": n_probes,
        "classifier_steps": classifier_steps,
        "taskemb_overrides": budget,
    }
    for label, name, kind in (
        ("classifier", "clf-imdb", "model"),
        ("prompt", prompt["name"], "prompt"),
    ):
        out[label] = one_mte(engine, name, kind)
        log(f"  MTE {label}: {out[label]}")
    reg.close()
    return out
