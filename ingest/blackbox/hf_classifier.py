"""A fine-tuned Hugging Face sequence classifier as a black box (FUTE: softmax probabilities).

Works with a hub id (needs network) or a local model folder (offline).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from ingest.blackbox import Probe, check_probabilities
from ingest.blackbox._batching import length_sorted_batches
from ingest.device import resolve_device
from registry.errors import ConfigError


class HFClassifier:
    """``AutoModelForSequenceClassification`` seen only through its class probabilities.

    Pair probes are encoded as text pairs (``[CLS] a [SEP] b [SEP]`` for BERT), single texts alone.
    Inputs longer than ``max_length`` tokens are truncated (longest text of a pair first).
    """

    def __init__(
        self, source: str, batch_size: int = 32, max_length: int = 128, device: str | torch.device = "cpu"
    ) -> None:
        """Load the tokenizer and model (eval mode, fp32, on ``device``).

        Args:
            source: Hub id or local folder of a sequence-classification model.
            batch_size: Probes per forward pass.
            max_length: Token limit per probe.
            device: ``cpu`` (default), ``cuda``, ``cuda:N``, ``auto`` or a ``torch.device``.

        Raises:
            ConfigError: Bad batch size or length, a bad or invisible device, or the model cannot
                be loaded.
        """
        if batch_size < 1 or max_length < 2:
            raise ConfigError(f"batch_size must be >= 1 and max_length >= 2, got {batch_size}, {max_length}")
        target = resolve_device(device) if isinstance(device, str) else device  # fail before a slow load
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            self._tokenizer: Any = AutoTokenizer.from_pretrained(source)
            # safetensors only: a pickled checkpoint (pytorch_model.bin) is refused, never unpickled
            self._model: Any = AutoModelForSequenceClassification.from_pretrained(
                source, use_safetensors=True
            )
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"cannot load classifier {source!r} ({first}); pass a local folder holding config.json, the "
                "weights and the tokenizer of a sequence-classification model, or a hub id with network access"
            ) from exc
        self._model.to(target).eval()
        self.device = torch.device(target)
        self.source = source
        self.batch_size = batch_size
        self.max_length = max_length

    @property
    def n_classes(self) -> int:
        """Number of classes (``config.num_labels``)."""
        return int(self._model.config.num_labels)

    @property
    def labels(self) -> list[str]:
        """Class names in column order, from ``config.id2label`` (``LABEL_i`` when the config has none)."""
        id2label = self._model.config.id2label or {}
        return [str(id2label.get(i, f"LABEL_{i}")) for i in range(self.n_classes)]

    def _encode(self, probes: Sequence[Probe]) -> list[dict[str, list[int]]]:
        """Tokenize every probe without padding (singles and pairs in two batched calls)."""
        encoded: list[dict[str, list[int]]] = [{} for _ in probes]
        singles = [i for i, (_, pair) in enumerate(probes) if pair is None]
        pairs = [i for i, (_, pair) in enumerate(probes) if pair is not None]
        for idx, second in ((singles, None), (pairs, [probes[i][1] for i in pairs])):
            if not idx:
                continue
            enc = self._tokenizer(
                [probes[i][0] for i in idx], second, truncation=True, max_length=self.max_length
            )
            for row, i in enumerate(idx):
                encoded[i] = {key: values[row] for key, values in enc.items()}
        return encoded

    def predict(self, probes: Sequence[Probe]) -> npt.NDArray[np.float32]:
        """Softmax probabilities of each probe.

        Args:
            probes: n probes (text, optional second text).

        Returns:
            float32 array (n, n_classes), rows sum to 1, in probe order.
        """
        out = np.zeros((len(probes), self.n_classes), dtype=np.float32)
        encoded = self._encode(probes)
        for batch in length_sorted_batches([len(e["input_ids"]) for e in encoded], self.batch_size):
            inputs = self._tokenizer.pad([encoded[i] for i in batch], return_tensors="pt").to(self.device)
            with torch.inference_mode():
                logits = self._model(**inputs).logits.float()
            out[batch] = torch.softmax(logits, dim=-1).cpu().numpy()
        return check_probabilities(out, len(probes), self.n_classes)
