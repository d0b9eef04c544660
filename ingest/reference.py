"""The reference mean of a centred TextEmb space, and how a space reads its subjects.

``center=probe`` subtracts one fixed vector from every TextEmb vector of a space: the TextEmb of the
space's probe pool (the same rendering and pooling as the datasets, so that only the direction every
text shares is removed). It is computed once, when the space is created, and stored in the space's
params: it enters the fingerprint, so a different reference is a different space and two references
are never mixed in one index. Nothing is fitted on the registered datasets.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.methods.table import EmbedView, embed, stored_render
from ingest.mte import probe_texts
from ingest.surrogate import Surrogate
from registry.api import Registry
from registry.lookups import probe_set_id
from registry.spaces import SpaceConfig


def reference_params(
    reg: Registry, sur: Surrogate, params: Any, cfg: SpaceConfig, probe_set: str
) -> dict[str, Any]:
    """The params that record a new space's reference mean.

    Args:
        reg: Registry holding the probe set.
        sur: The space's surrogate.
        params: The TextEmb parameter object (``max_examples`` caps the probes read).
        cfg: The space's configuration (its ``render`` is used).
        probe_set: Name of the probe set.

    Returns:
        ``{"reference_mean": [floats], "reference": {probe_set, n_probes, sha256}}``.

    Raises:
        NotFoundError: Unknown probe set.
    """
    probe_id = probe_set_id(reg, probe_set)
    # the first max_examples probes in position order: a fixed, documented choice
    probes = probe_texts(reg, probe_id)[: params.max_examples]
    examples: list[dict[str, Any]] = [{"text": t, "text_pair": q} for _, _, t, q in probes]
    view = EmbedView(render=stored_render(cfg.params))
    mean = embed(sur, "textemb", params, "classification", examples, 1, view)
    values = [float(x) for x in mean]
    digest = hashlib.sha256(np.asarray(values, dtype=np.float32).tobytes()).hexdigest()
    return {
        "reference_mean": values,
        "reference": {"probe_set": probe_set, "n_probes": len(examples), "sha256": digest},
    }


def space_view(stored: dict[str, Any], label_names: list[Any] | None) -> EmbedView:
    """How a space reads a subject: its render mode, the subject's label names, its reference mean.

    Args:
        stored: The space's stored params.
        label_names: The dataset's label set or the black box's class names.
    """
    ref = stored.get("reference_mean")
    reference: npt.NDArray[np.float32] | None = None if ref is None else np.asarray(ref, dtype=np.float32)
    return EmbedView(render=stored_render(stored), label_names=label_names, reference=reference)
