"""The embedding engine: computes the vector of a dataset (DTE) or of a model / prompt+LLM pair
(MTE) in a space, and stores it with its provenance. Surrogates are loaded once per engine."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from ingest.blackbox import BlackBox
from ingest.blackbox.factory import box_for
from ingest.methods.table import embed, method_params, params_from_space, space_config
from ingest.mte import box_label_names, pseudo_labelled
from ingest.progress import scope
from ingest.reference import reference_params, space_view
from ingest.surrogate import DEFAULT_SURROGATE, Surrogate, load_surrogate
from registry.api import EmbeddingItem, Registry
from registry.errors import ConfigError
from registry.lookups import embedding_inputs, stored_examples
from registry.models import Dataset, EmbeddingSpace

Progress = Callable[[int, int], None]


@dataclass
class EmbedResult:
    """One stored vector and how it was made."""

    space: str
    subject: str
    kind: str
    embedding_id: int
    seconds: float
    blackbox_queries: int = 0


@dataclass
class Computed:
    """A computed, not yet stored, vector of one subject."""

    subject_id: int
    subject: str
    kind: str
    vector: npt.NDArray[np.float32]
    provenance: dict[str, Any]
    blackbox_queries: int = 0


class Engine:
    """Computes and stores task embeddings for one registry."""

    def __init__(
        self,
        reg: Registry,
        models_dir: Path | None = None,
        threads: int | None = None,
        device: str | None = None,
    ) -> None:
        """Args:
        reg: The registry.
        models_dir: Cache of converted model weights (default ``<home>/models``).
        threads: torch intra-op threads (default: ``FUTE_THREADS``, else torch's choice, one per core).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (default: ``FUTE_DEVICE`` / ``--device``,
            else ``auto``); resolved once here, on the machine that computes (a Ray worker too).

        Raises:
            ConfigError: A bad device, or CUDA asked for where torch sees none.
        """
        from ingest.device import resolve_device  # local: the import block is not this method's

        self.reg = reg
        self.models_dir = models_dir or reg.settings.home / "models"
        threads = threads if threads is not None else reg.settings.threads
        if threads is not None:
            torch.set_num_threads(threads)
        self.device = resolve_device(device if device is not None else reg.settings.device)
        self._surrogates: dict[str, Surrogate] = {}

    def surrogate(self, name: str) -> Surrogate:
        """Load a surrogate once per engine, on the engine's device."""
        if name not in self._surrogates:
            self._surrogates[name] = load_surrogate(name, cache_dir=self.models_dir, device=self.device)
        return self._surrogates[name]

    def create_space(
        self,
        name: str,
        method: str,
        surrogate: str = DEFAULT_SURROGATE,
        overrides: dict[str, Any] | None = None,
        probe_set: str | None = None,
        index_type: str = "flat",
    ) -> EmbeddingSpace:
        """Define a space (method, hyper-parameters, surrogate weights, probe set) and publish its index.

        Raises:
            ConfigError: Unknown method, bad parameter (checked before the surrogate is loaded).
            AlreadyExistsError: See ``registry.spaces.create_space`` (the same configuration is a skip).
        """
        params = method_params(method, overrides)  # fail fast: a bad --param must not wait for a model load
        if getattr(params, "center", "none") == "probe" and probe_set is None:
            raise ConfigError(
                "center=probe subtracts the probe pool's mean, so the space needs a probe set; "
                "add --probe NAME (fute probes list shows them) or drop center=probe"
            )
        sur = self.surrogate(surrogate)
        cfg = space_config(name, method, sur, overrides, probe_set)
        if getattr(params, "center", "none") == "probe" and probe_set is not None:
            cfg = replace(
                cfg, params={**cfg.params, **reference_params(self.reg, sur, params, cfg, probe_set)}
            )
        return self.reg.create_space(replace(cfg, index_type=index_type))

    def embed(
        self,
        space_name: str,
        subject_name: str,
        kind: str | None = None,
        box: BlackBox | None = None,
        progress: Progress | None = None,
    ) -> EmbedResult:
        """Compute and store the vector of one subject in one space.

        Args:
            space_name: Target space.
            subject_name: Dataset, model or prompt name.
            kind: ``dataset``, ``model`` or ``prompt`` when the name is ambiguous.
            box: A black box to use instead of the catalogue's (e.g. a Python callable).
            progress: Optional ``callable(done, total)`` for black-box queries.

        Raises:
            ConfigError: The method cannot embed this subject (TextEmb of a model), or a space
                without a probe set was asked for an MTE.
        """
        start = time.perf_counter()
        with scope(f"{kind or 'subject'} {subject_name} in {space_name}"):  # names the progress lines
            vec = self.compute(space_name, subject_name, kind, box, progress)
        (emb_id,) = self.reg.put_embeddings(
            space_name, [EmbeddingItem(vec.subject_id, vec.vector, vec.provenance)]
        )
        return EmbedResult(
            space_name, vec.subject, vec.kind, emb_id, time.perf_counter() - start, vec.blackbox_queries
        )

    def compute(
        self,
        space_name: str,
        subject_name: str,
        kind: str | None = None,
        box: BlackBox | None = None,
        progress: Progress | None = None,
    ) -> Computed:
        """Compute the vector of one subject in one space without storing it (``embed`` stores it;
        distributed workers store it themselves, fenced by their job-entry lease).

        Args and Raises: as ``embed``.
        """
        start = time.perf_counter()
        rows = embedding_inputs(self.reg, space_name, subject_name, kind)  # one read session
        space, subject, llm = rows.space, rows.subject, rows.llm
        sur = self.surrogate(space.surrogate)
        params = params_from_space(space.method, space.params)
        queries = 0
        if isinstance(subject, Dataset):
            vec, prov = self._dataset_vector(sur, space, subject, params)
        else:
            black = box or box_for(subject, llm, self.models_dir, self.device)
            vec, prov, queries = self._blackbox_vector(sur, space, subject, black, params, progress)
        prov.update(
            {
                "method": space.method,
                "surrogate": space.surrogate,
                "space_fingerprint": space.fingerprint,
                "seconds": round(time.perf_counter() - start, 3),
            }
        )
        return Computed(subject.id, subject.name, subject.kind, vec, prov, queries)

    def _dataset_vector(
        self, sur: Surrogate, space: EmbeddingSpace, ds: Dataset, params: Any
    ) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
        examples = stored_examples(self.reg, ds.id)
        n_labels = len(ds.label_set) if ds.label_set else 1
        view = space_view(space.params, ds.label_set)
        vec = embed(sur, space.method, params, ds.task_format, examples, n_labels, view)
        return vec, {"kind": "dte", "content_hash": ds.content_hash, "n_examples": len(examples)}

    def _blackbox_vector(
        self,
        sur: Surrogate,
        space: EmbeddingSpace,
        subject: Any,
        box: BlackBox,
        params: Any,
        progress: Progress | None,
    ) -> tuple[npt.NDArray[np.float32], dict[str, Any], int]:
        if space.method == "textemb":
            raise ConfigError(
                f"space {space.name!r} uses textemb, which embeds datasets only; use taskemb or tupate"
            )
        if space.probe_set_id is None:
            raise ConfigError(f"space {space.name!r} has no probe set; model embeddings need one (--probe)")
        examples, queries = pseudo_labelled(self.reg, subject.id, space.probe_set_id, box, progress=progress)
        view = space_view(space.params, box_label_names(box))
        vec = embed(sur, space.method, params, "classification", examples, box.n_classes, view)
        return vec, {"kind": "mte", "n_probes": len(examples), "n_classes": box.n_classes}, queries
