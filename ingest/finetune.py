"""Fine-tune the surrogate into a real text classifier (used to create model entries offline:
the quickstart's classifier and the unified-space tests)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch

from ingest.heads import make_batch
from ingest.methods.training import seeded_batches
from ingest.progress import stage
from ingest.surrogate import resolve
from registry.api import Registry
from registry.errors import InvalidDataError
from registry.lookups import dataset_and_examples
from registry.models import Dataset


def finetune_classifier(
    reg: Registry,
    dataset: str,
    out_dir: Path,
    surrogate: str = "pkg:all-minilm-l6-v2",
    steps: int = 60,
    batch_size: int = 16,
    lr: float = 1e-4,
    seed: int = 0,
) -> Path:
    """Fine-tune a sequence classifier on a registered classification dataset and save it.

    Args:
        reg: Registry holding the dataset.
        dataset: Dataset name (classification or pair-classification).
        out_dir: Folder to write (replaced atomically: temp folder then rename).
        surrogate: Base model (``pkg:`` name, hub id or folder).
        steps: AdamW steps.
        batch_size: Examples per step.
        lr: Learning rate.
        seed: Seed of the head initialisation and the batch order.

    Returns:
        ``out_dir``, a Hugging Face folder (``AutoModelForSequenceClassification``) with its tokenizer.

    Raises:
        InvalidDataError: The dataset is not a classification task.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    ds, examples = dataset_and_examples(reg, dataset)
    if not isinstance(ds, Dataset) or not ds.label_set or "classification" not in ds.task_format:
        raise InvalidDataError(f"{dataset!r} is not a classification dataset; pick one with a label set")
    labels = list(ds.label_set)
    path = resolve(surrogate)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)},
    )
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    batches = seeded_batches(examples, batch_size, seed)
    with stage(f"fine-tuning a classifier on {ds.name}", steps) as shown:
        for _ in range(steps):
            batch = make_batch(tokenizer, ds.task_format, next(batches), 128)
            loss = model(**batch.inputs, labels=batch.targets).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            shown.advance()
    model.eval()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ft-", dir=out_dir.parent))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return out_dir
