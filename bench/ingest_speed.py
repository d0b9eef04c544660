"""Ingestion speed (issue 7, section 4): each method through the product path against its raw-torch
floor, measured in the same process and run.

The floor does the same forward / backward / optimiser steps on the same tensors, but in a bare
loop over batches tokenised beforehand (not timed): for ``textemb`` the length-sorted inference
batches; for ``taskemb`` the seeded training batches, AdamW with the same schedule and clipping,
then the gradient pass with its accumulation; for ``tupate`` the same prefix-tuned forward and the
seeded training batches. What the product adds on top (tokenisation, batching, the count-sketch,
copies) is the overhead the ratio shows. Data: the first n examples of TaskWeb's RTE (read from
``../shared``, benchmarks only).
"""

from __future__ import annotations

import copy
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import torch

from ingest.formats import ColumnMap, normalise
from ingest.heads import head_for, loss_of, make_batch
from ingest.methods.prefix import PrefixTuner
from ingest.methods.table import embed, method_params
from ingest.methods.taskemb import _grad_subset
from ingest.methods.textemb import _batches as product_batches
from ingest.methods.textemb import example_inputs
from ingest.methods.training import TrainConfig, ordered_batches, seeded_batches
from ingest.sources import load_table
from ingest.surrogate import DEFAULT_SURROGATE, load_surrogate

METHODS = {"taskemb": {"variant": "fute"}, "tupate": {}, "textemb": {}}
GOALS = {"textemb": 1.1, "taskemb": 1.25, "tupate": 1.25}


def shared_dir() -> Path:
    """``FUTE_SHARED`` or ``../shared`` next to the repository."""
    return Path(os.environ.get("FUTE_SHARED", Path(__file__).resolve().parents[2] / "shared"))


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Sample this process's RSS every 5 ms; yields a dict whose ``mb`` is the peak once closed."""
    proc, out, stop = psutil.Process(), {"mb": 0.0}, threading.Event()

    def sample() -> None:
        while not stop.is_set():
            out["mb"] = max(out["mb"], proc.memory_info().rss / 2**20)
            stop.wait(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()


def textemb_floor(sur: Any, examples: list[dict[str, Any]], p: Any) -> Callable[[], None]:
    """Bare forward passes over the product's batches (length-sorted, pairs encoded jointly as the
    product does), pre-tokenised."""
    inputs = [example_inputs(e) for e in examples[: p.max_examples]]
    texts, second = [a for a, _ in inputs], [b for _, b in inputs]
    batches = [
        sur.tokenizer(
            [texts[i] for i in idx],
            text_pair=[str(second[i]) for i in idx] if second[idx[0]] is not None else None,
            truncation=True,
            max_length=p.max_length,
            padding=True,
            return_tensors="pt",
        )
        for idx in product_batches(texts, second, 32)
    ]

    def run() -> None:
        with torch.inference_mode():
            for enc in batches:
                states = sur.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
                (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    return run


def _train_batches(sur: Any, fmt: str, examples: list[dict[str, Any]], cfg: TrainConfig) -> list[Any]:
    batches = seeded_batches(examples, cfg.batch_size, cfg.seed)
    return [make_batch(sur.tokenizer, fmt, next(batches), cfg.max_length) for _ in range(cfg.steps)]


def _bare_train(
    params: list[Any], head: Any, encoder: Any, fmt: str, batches: list[Any], cfg: TrainConfig
) -> None:
    """The training loop's steps (AdamW, linear warm-up schedule, clipping) over ready batches."""
    trainable = [q for q in params if q.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = max(1, int(cfg.warmup * cfg.steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (cfg.steps - s) / max(1, cfg.steps - warm)))
    )
    for batch in batches:
        loss = loss_of(fmt, head, encoder, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, cfg.clip)
        opt.step()
        sched.step()


def taskemb_floor(
    sur: Any, fmt: str, examples: list[dict[str, Any]], n_labels: int, p: Any
) -> Callable[[], None]:
    """Fine-tuning steps then the gradient pass with its accumulation, on pre-tokenised batches."""
    cfg = TrainConfig(p.train_steps, p.batch_size, p.lr, p.max_length, p.seed)
    train_b = _train_batches(sur, fmt, examples, cfg)
    grad_b = [
        make_batch(sur.tokenizer, fmt, c, p.max_length)
        for c in ordered_batches(_grad_subset(examples, p.grad_examples, p.seed), p.grad_batch_size)
    ]

    def run() -> None:
        torch.manual_seed(p.seed)
        model = copy.deepcopy(sur.model)
        head = head_for(fmt, sur.hidden_size, n_labels)
        model.train()
        encoder = lambda **kw: model(**kw).last_hidden_state  # noqa: E731
        _bare_train(list(model.parameters()), head, encoder, fmt, train_b, cfg)
        model.eval()
        params = list(model.parameters())
        acc = [torch.zeros_like(q, dtype=torch.float64) for q in params]
        for batch in grad_b:
            model.zero_grad(set_to_none=True)
            head.zero_grad(set_to_none=True)
            loss_of(fmt, head, encoder, batch).backward()
            for a, q in zip(acc, params, strict=True):
                if q.grad is not None:
                    a += q.grad.to(torch.float64)

    return run


def tupate_floor(
    sur: Any, fmt: str, examples: list[dict[str, Any]], n_labels: int, p: Any
) -> Callable[[], None]:
    """Prefix-tuning steps on the frozen surrogate, on pre-tokenised batches."""
    cfg = TrainConfig(p.train_steps, p.batch_size, p.lr, p.max_length, p.seed)
    batches = _train_batches(sur, fmt, examples, cfg)

    def run() -> None:
        torch.manual_seed(p.seed)
        tuner = PrefixTuner(sur.model, prefix_len=p.prefix_len, seed=p.seed)
        try:
            head = head_for(fmt, sur.hidden_size, n_labels)
            _bare_train(tuner.prefix_parameters(), head, tuner, fmt, batches, cfg)
        finally:
            tuner.remove()

    return run


def measure(fn: Callable[[], Any]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the whole process, peak RSS in MB) of one call.

    CPU seconds are what the work costs whatever else runs on the machine; wall seconds add the
    time the scheduler kept it waiting (large on a shared machine).
    """
    with peak_rss() as rss:
        start, cpu0 = time.perf_counter(), time.process_time()
        fn()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return seconds, cpu, rss["mb"]


def floor_for(method: str, sur: Any, data: Any, examples: list[dict[str, Any]], p: Any) -> Callable[[], None]:
    """The raw-torch floor of a method (its inputs tokenised now, outside the timing)."""
    n_labels = len(data.label_set or [0])
    if method == "textemb":
        return textemb_floor(sur, examples, p)
    if method == "taskemb":
        return taskemb_floor(sur, data.task_format, examples, n_labels, p)
    return tupate_floor(sur, data.task_format, examples, n_labels, p)


def one_method(sur: Any, data: Any, examples: list[dict[str, Any]], method: str, runs: int) -> dict[str, Any]:
    """Product and floor alternately ``runs`` times (same warm caches, same machine load); medians."""
    p = method_params(method, METHODS[method])
    n_labels = len(data.label_set or [0])
    floor = floor_for(method, sur, data, examples, p)
    prod, base, prod_cpu, base_cpu, peak = [], [], [], [], 0.0
    for _ in range(runs):
        seconds, cpu, rss = measure(lambda: embed(sur, method, p, data.task_format, examples, n_labels))
        prod.append(seconds)
        prod_cpu.append(cpu)
        peak = max(peak, rss)
        seconds, cpu, _ = measure(floor)
        base.append(seconds)
        base_cpu.append(cpu)
    seconds, floor_s = statistics.median(prod), statistics.median(base)
    cpu_s, floor_cpu = statistics.median(prod_cpu), statistics.median(base_cpu)
    return {
        "seconds": round(seconds, 3),
        "floor_seconds": round(floor_s, 3),
        "ratio": round(seconds / floor_s, 3),
        "cpu_seconds": round(cpu_s, 3),
        "floor_cpu_seconds": round(floor_cpu, 3),
        "cpu_ratio": round(cpu_s / floor_cpu, 3),
        "goal_ratio": GOALS[method],
        "peak_rss_mb": round(peak, 1),
        "n_examples": len(examples),
        "runs": runs,
        "runs_seconds": [round(x, 3) for x in prod],
        "runs_floor_seconds": [round(x, 3) for x in base],
        "torch_threads": torch.get_num_threads(),
        "params": p.to_dict(),
    }


def run_ingest(
    n_examples: int, log: Callable[[str], None], runs: int = 1, task: str = "rte"
) -> dict[str, Any]:
    """Every method on n examples of a TaskWeb task: product path, floor, ratio, peak RSS."""
    torch.set_num_threads(int(os.environ.get("FUTE_THREADS", "2")))
    table = load_table(str(shared_dir() / "datasets" / "taskweb" / f"{task}.jsonl"))
    data = normalise(table.rows, table.columns, None, ColumnMap())
    examples = data.examples[:n_examples]
    sur = load_surrogate(DEFAULT_SURROGATE)
    out: dict[str, Any] = {}
    for method in METHODS:
        out[method] = res = one_method(sur, data, examples, method, runs)
        log(
            f"ingest {method}: {res['seconds']} s, floor {res['floor_seconds']} s, ratio {res['ratio']}, cpu ratio {res['cpu_ratio']}, peak {res['peak_rss_mb']} MB"
        )
    return out
