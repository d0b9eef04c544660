"""Black-box inference over many probe texts with Ray Data ``map_batches``.

When a model or prompt+LLM has many uncached probe outputs, the driver spreads the queries over
Ray Data actors (each loads the black box once) before the embedding tasks run; the outputs go to
the same SQL cache ``ingest.mte`` reads, so the embedding task then queries nothing. Below the
threshold the embedding task queries the black box itself, as the single-process path does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.blackbox import BlackBox, check_probabilities
from ingest.blackbox.factory import box_for
from ingest.device import resolve_device
from ingest.mte import probe_texts
from registry.api import Registry
from registry.job_targets import blackbox_rows, cache_outputs, cached_positions, probe_set_ids, subject_ids
from registry.settings import Settings

BoxFactory = Callable[[], BlackBox]


@dataclass(frozen=True)
class ProbeOptions:
    """When and how to use Ray Data for probe inference.

    Attributes:
        threshold: Uncached probe texts of one black box from which Ray Data is used.
        batch_size: Probes per ``map_batches`` call.
        concurrency: Ray Data actors (each holds one copy of the black box).
        num_cpus: CPUs per actor.
        num_gpus: GPUs per actor.
    """

    threshold: int = 500
    batch_size: int = 64
    concurrency: int = 2
    num_cpus: float = 1.0
    num_gpus: float = 0.0


class CatalogueBox:
    """Picklable factory of a registered subject's black box (built inside the Ray actor)."""

    def __init__(self, settings_json: str, subject_id: int) -> None:
        """Args:
        settings_json: ``Settings.model_dump_json()`` of the driver.
        subject_id: The model or prompt.
        """
        self.settings_json, self.subject_id = settings_json, subject_id

    def __call__(self) -> BlackBox:
        """Open the registry and build the subject's black box."""
        reg = Registry.open(Settings.model_validate_json(self.settings_json))
        subject, llm = blackbox_rows(reg, self.subject_id)
        return box_for(subject, llm, reg.settings.home / "models", resolve_device(reg.settings.device))


class _Predict:
    """Ray Data callable class: one black box per actor, class probabilities per batch."""

    def __init__(self, make_box: BoxFactory) -> None:
        self.box = make_box()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        pairs = [None if p is None or p == "" else str(p) for p in batch["pair"]]
        probes = [(str(t), p) for t, p in zip(batch["text"], pairs, strict=True)]
        probs = check_probabilities(self.box.predict(probes), len(probes), self.box.n_classes)
        return {"id": batch["id"], "probs": probs}


def fill_probe_cache(
    ray: Any, reg: Registry, blackbox_id: int, probe_set_id: int, make_box: BoxFactory, opts: ProbeOptions
) -> int:
    """Query a black box on its uncached probe texts with ``map_batches`` and cache the outputs.

    Args:
        ray: The ``ray`` module (initialised).
        reg: Registry (the driver's).
        blackbox_id: Subject id of the model or prompt.
        probe_set_id: Probe set to cover.
        make_box: Picklable factory of the black box (run once per actor).
        opts: Threshold, batch size, actors and their resources.

    Returns:
        Number of probe outputs computed (0 below the threshold: the embedding task does them).

    Raises:
        ValueError: The black box returned invalid probabilities.
    """
    cached = cached_positions(reg, blackbox_id, probe_set_id)
    missing = [(pos, tid, t, q) for pos, tid, t, q in probe_texts(reg, probe_set_id) if pos not in cached]
    if len(missing) < opts.threshold:
        return 0
    rows = [{"id": tid, "text": t, "pair": q or ""} for _, tid, t, q in missing]
    out = ray.data.from_items(rows).map_batches(
        _Predict,
        fn_constructor_args=(make_box,),
        batch_size=opts.batch_size,
        batch_format="numpy",
        concurrency=opts.concurrency,
        num_cpus=opts.num_cpus,
        num_gpus=opts.num_gpus,
    )
    done = 0
    for batch in out.iter_batches(batch_size=1024, batch_format="numpy"):
        rows_out = zip(batch["id"], batch["probs"], strict=True)
        # one commit per batch: an interrupted fill resumes
        cache_outputs(
            reg, blackbox_id, [(int(tid), np.asarray(row, dtype=np.float32)) for tid, row in rows_out]
        )
        done += len(batch["id"])
    return done


def prefill(
    ray: Any, reg: Registry, spaces: list[str], subjects: list[tuple[str, str]], opts: ProbeOptions
) -> int:
    """Fill the probe caches of the catalogue's models and prompts for the probe sets of its spaces.

    Args:
        ray: The ``ray`` module (initialised).
        reg: Registry.
        spaces: Space names of the catalogue (TextEmb spaces and spaces without probes are skipped).
        subjects: (kind, name) of the catalogue's models and prompts.
        opts: Ray Data options.

    Returns:
        Number of probe outputs computed with Ray Data.
    """
    probe_sets = probe_set_ids(reg, spaces)
    ids = subject_ids(reg, subjects)
    settings_json = reg.settings.model_dump_json()
    total = 0
    for subject_id in ids:
        for probe_set_id in probe_sets:
            box = CatalogueBox(settings_json, subject_id)
            total += fill_probe_cache(ray, reg, subject_id, probe_set_id, box, opts)
    return total
