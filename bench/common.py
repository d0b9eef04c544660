"""Shared plumbing of the quality benchmarks (issue 7, sections 1-3): where the shared data lives,
the run configuration (full or quick), a registry home with the TaskWeb tasks, JSON results.

Benchmarks (not product code) may read ``../shared``; ``FUTE_SHARED`` overrides its location.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import transformers

from ingest.engine import Engine
from ingest.register import DatasetRequest, register_dataset
from registry.api import Registry
from registry.errors import NotFoundError
from registry.settings import Settings
from registry.subjects import get_subject

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

# The 22 TaskWeb tasks (squad_v2 is a source only).
ALL_TASKS = (
    "anli_r3", "boolq", "cb", "copa", "cosmosqa", "hellaswag", "imdb", "mrpc", "piqa", "qnli", "qqp",
    "quartz", "rotten_tomatoes", "rte", "scitail", "snli", "socialiqa", "squad_v2", "stsb", "wic",
    "winogrande", "wsc",
)  # fmt: skip
QUICK_TASKS = ("boolq", "cb", "copa", "imdb", "rotten_tomatoes", "rte")


def shared_dir() -> Path:
    """The read-only shared folder (``FUTE_SHARED`` or ``../shared`` beside the repository)."""
    return Path(os.environ.get("FUTE_SHARED", ROOT.parent / "shared"))


@dataclass(frozen=True)
class SpaceSpec:
    """One method space of the benchmark: a label, the method and its parameter overrides."""

    label: str
    method: str
    overrides: dict[str, Any] = field(default_factory=dict)
    # False for the ablation variants of issue 15: the ``fused`` row keeps fusing one space per method
    fused: bool = True
    # the new recipe of each method (issue 15): fused in its own row, ``fused-new``
    fused_new: bool = False
    surrogate: str = "pkg:all-minilm-l6-v2"


@dataclass(frozen=True)
class RunConfig:
    """Everything that sizes a run (recorded in every result file as ``config``).

    Attributes:
        quick: Reduced CI mode (results under ``bench/results/quick``).
        tasks: TaskWeb tasks registered.
        max_examples: Examples kept per task (seeded, stratified; the same for every method).
        seed: Sampling seed.
        spaces: The method spaces compared.
        n_random: Seeded random orders averaged for the random baseline.
        classifier_tasks: Tasks a classifier is fine-tuned on (section 2).
        classifier_steps: AdamW steps of each classifier (batch 16).
        probes: Size of the default probe set (classifier MTEs).
        prompt_probes: Size of the probe set of the prompt space (SmolLM2 MTEs).
        prompts_per_family: FUTE prompt templates used per family (the first ones of each file).
        sketch_dims: Sketch dimensions compared with the uncompressed TaskEmb statistic.
        reduced: Smaller per-DTE budgets than the spaces' defaults (see ``reduced_config``).
        out: Results folder overriding the default one (None: ``bench/results[/quick]``).
    """

    quick: bool
    tasks: tuple[str, ...]
    max_examples: int
    seed: int = 0
    spaces: tuple[SpaceSpec, ...] = ()
    n_random: int = 200
    classifier_tasks: tuple[str, ...] = ()
    classifier_steps: int = 60
    probes: int = 1000
    prompt_probes: int = 256
    prompts_per_family: int = 10
    sketch_dims: tuple[int, ...] = (1024, 4096, 16384)
    reduced: bool = False
    out: Path | None = None

    @property
    def out_dir(self) -> Path:
        """Where the result files go."""
        if self.out is not None:
            return self.out
        return RESULTS / "quick" if self.quick else RESULTS

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with the machine and library versions."""
        return {
            **asdict(self),
            "out": str(self.out_dir),
            "surrogate": "pkg:all-minilm-l6-v2",
            "machine": machine(),
        }


# Issue 15's TextEmb ablation: what the surrogate reads (render), how two sets of examples are
# compared (pool=normed: linear MMD in an l2 space) and centring on the probe pool's mean. The
# plain ``textemb`` space is pinned to the original recipe (render=raw) so that it stays comparable
# with earlier runs whatever the product's default becomes.
TEMPLATE_L2 = {"render": "template", "pool": "normed"}
TEXTEMB_ABLATION = (
    SpaceSpec("textemb-labels", "textemb", {"render": "labels"}, fused=False),
    SpaceSpec("textemb-template", "textemb", {"render": "template"}, fused=False),
    SpaceSpec("textemb-l2", "textemb", {"render": "raw", "pool": "normed"}, fused=False),
    SpaceSpec("textemb-template-l2", "textemb", TEMPLATE_L2, fused=False, fused_new=True),
    SpaceSpec("textemb-centred", "textemb", {"render": "raw", "center": "probe"}, fused=False),
    SpaceSpec("textemb-template-centred", "textemb", {"render": "template", "center": "probe"}, fused=False),
    SpaceSpec("textemb-labels-l2", "textemb", {"render": "labels", "pool": "normed"}, fused=False),
    # the second surrogate (5x the cost), beside MiniLM at the same reduced example budget
    SpaceSpec("textemb-template-l2-256", "textemb", {**TEMPLATE_L2, "max_examples": 256}, fused=False),
    SpaceSpec(
        "mpnet-template-l2-256",
        "textemb",
        {**TEMPLATE_L2, "max_examples": 256},
        fused=False,
        surrogate="pkg:all-mpnet-base-v2",
    ),
)

# The original TaskEmb / TuPaTE recipes, pinned (new spaces get block normalisation and the
# original TuPaTE pooling by default), and issue 15's fixes beside them at the same step budget.
OLD_TASKEMB = {"render": "raw", "block_norm": False, "include_embeddings": True}
OLD_TUPATE = {"render": "raw", "pooling": "layers", "init": "seeded", "prefix_dropout": 0.0}
METHOD_ABLATION = (
    SpaceSpec("taskemb-fute-blocks", "taskemb", {"variant": "fute", "render": "template"}, fused=False),
    SpaceSpec(
        "taskemb-fisher-blocks",
        "taskemb",
        {"variant": "fisher", "render": "template"},
        fused=False,
        fused_new=True,
    ),
    SpaceSpec(
        "taskemb-activation",
        "taskemb",
        {"variant": "activation", "render": "template"},
        fused=False,
        fused_new=True,
    ),
    SpaceSpec("tupate-original", "tupate", {"render": "template"}, fused=False, fused_new=True),
)

FULL_SPACES = (
    SpaceSpec("textemb", "textemb", {"render": "raw"}),
    SpaceSpec("taskemb-fute", "taskemb", {"variant": "fute", **OLD_TASKEMB}),
    SpaceSpec("taskemb-fisher", "taskemb", {"variant": "fisher", **OLD_TASKEMB}),
    SpaceSpec("tupate", "tupate", OLD_TUPATE),
    *TEXTEMB_ABLATION,
    *METHOD_ABLATION,
)


def full_config() -> RunConfig:
    """The full run of ``make bench``: 22 tasks x 1,000 examples, every method."""
    return RunConfig(
        quick=False,
        tasks=ALL_TASKS,
        max_examples=1000,
        spaces=FULL_SPACES,
        classifier_tasks=("imdb", "snli", "qqp", "boolq", "wic", "rte"),
        prompts_per_family=5,
    )


def reduced_config() -> RunConfig:
    """The full task set with smaller per-DTE budgets, for a machine too busy for the full run
    (every budget is recorded in the spaces and in ``config``): TextEmb over 256 examples, TaskEmb
    with 4 fine-tuning steps and a 64-example gradient pass, TuPaTE with 8 prefix steps,
    classifiers with 30 steps, SmolLM2 prompts over 64 probes."""
    small = {"train_steps": 4, "grad_examples": 64}
    return RunConfig(
        quick=False,
        tasks=ALL_TASKS,
        max_examples=1000,
        spaces=(
            SpaceSpec("textemb", "textemb", {"max_examples": 256}),
            SpaceSpec("taskemb-fute", "taskemb", {"variant": "fute", **small}),
            SpaceSpec("taskemb-fisher", "taskemb", {"variant": "fisher", **small}),
            SpaceSpec("tupate", "tupate", {"train_steps": 8}),
        ),
        classifier_tasks=("imdb", "snli", "qqp", "boolq", "wic", "rte"),
        classifier_steps=30,
        prompt_probes=64,
        prompts_per_family=3,
        reduced=True,
    )


def quick_config() -> RunConfig:
    """The CI run of ``make bench-quick``: 6 tasks x 64 examples, textemb and FUTE-TaskEmb, small budgets."""
    return RunConfig(
        quick=True,
        tasks=QUICK_TASKS,
        max_examples=64,
        spaces=(
            SpaceSpec("textemb", "textemb", {"render": "raw"}),
            SpaceSpec("taskemb-fute", "taskemb", {"variant": "fute", "train_steps": 4, "grad_examples": 64}),
            SpaceSpec(
                "textemb-template-l2", "textemb", {"render": "template", "pool": "normed"}, fused=False
            ),
        ),
        n_random=50,
        classifier_tasks=("imdb", "rte"),
        classifier_steps=8,
        probes=64,
        prompt_probes=32,
        prompts_per_family=1,
        sketch_dims=(1024, 4096, 16384),
    )


def machine() -> dict[str, Any]:
    """The machine and library versions a result was measured with."""
    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def say(message: str) -> None:
    """Progress on stderr with a timestamp (full runs take most of an hour)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def timed(store: dict[str, float], key: str) -> Iterator[None]:
    """Add the wall time of the block to ``store[key]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        store[key] = round(store.get(key, 0.0) + time.perf_counter() - start, 2)


def open_registry(home: Path) -> Registry:
    """A registry in ``home`` (SQLite + FAISS), created if new; reused so a broken run can resume."""
    reg = Registry(Settings.build(home=home))
    reg.init()
    return reg


def register_tasks(reg: Registry, tasks: tuple[str, ...], cfg: RunConfig) -> None:
    """Register TaskWeb task files (at most ``cfg.max_examples`` each) unless already registered."""
    folder = shared_dir() / "datasets" / "taskweb"
    for task in tasks:
        if has_subject(reg, task, "dataset"):
            continue
        req = DatasetRequest(
            source=str(folder / f"{task}.jsonl"), name=task, limit=cfg.max_examples, seed=cfg.seed
        )
        register_dataset(reg, req)


def has_subject(reg: Registry, name: str, kind: str) -> bool:
    """Whether a subject of that name and kind is registered."""
    try:
        with reg.db.read() as session:
            get_subject(session, name, kind)
    except NotFoundError:
        return False
    return True


def ensure_space(engine: Engine, spec: SpaceSpec, probe_set: str | None = None) -> None:
    """Create the space of ``spec`` unless it exists (same name: a resumed run)."""
    if spec.label not in {s.name for s, _ in engine.reg.spaces()}:
        engine.create_space(
            spec.label, spec.method, spec.surrogate, overrides=dict(spec.overrides), probe_set=probe_set
        )


def has_vector(reg: Registry, space: str, name: str, kind: str) -> bool:
    """Whether the subject already has a vector in the space (skip it on a resumed run)."""
    with reg.db.read() as session:
        subject_id = get_subject(session, name, kind).id
    try:
        reg.vector_of(space, subject_id)
    except LookupError:
        return False
    return True


def wait_for_vectors(reg: Registry, space: str, tasks: tuple[str, ...], timeout_s: float = 7200) -> None:
    """Block until every task has a vector in the space (another process of the run computes them).

    Raises:
        TimeoutError: They did not all appear within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while not all(has_vector(reg, space, t, "dataset") for t in tasks):
        if time.monotonic() > deadline:
            raise TimeoutError(f"DTEs of {space} still missing after {timeout_s:.0f} s; run its space first")
        time.sleep(20)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a result file atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
