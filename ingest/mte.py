"""Pseudo-targets for model task embeddings: a black box's class probabilities on the probe set,
cached in SQL per (black box, probe text) so that a new space never queries the black box again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingest.blackbox import BlackBox, check_probabilities
from ingest.progress import stage
from registry.api import Registry
from registry.lookups import cached_blackbox_outputs, probe_set_texts
from registry.registration import cache_blackbox_outputs

Progress = Callable[[int, int], None]


def probe_texts(reg: Registry, probe_set_id: int) -> list[tuple[int, int, str, str | None]]:
    """(position, probe text id, text, text_pair) of a probe set, in position order."""
    return probe_set_texts(reg, probe_set_id)


def pseudo_labelled(
    reg: Registry,
    blackbox_id: int,
    probe_set_id: int,
    box: BlackBox,
    batch: int = 64,
    progress: Progress | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Probe examples with the black box's soft targets, querying it only for uncached probes.

    Each batch of new outputs is committed on its own, so an interrupted job resumes where it stopped.

    Args:
        reg: Registry.
        blackbox_id: Subject id of the model or prompt+LLM pair.
        probe_set_id: Probe set of the space.
        box: The black box.
        batch: Probes per black-box call (and per commit).
        progress: Optional ``callable(done, total)``.

    Returns:
        (examples ``{"text", "text_pair", "soft"}`` in probe order, number of black-box queries made).

    Raises:
        ValueError: The black box returned invalid probabilities (nothing of that batch is cached).
    """
    texts = probe_texts(reg, probe_set_id)
    cached = cached_blackbox_outputs(reg, blackbox_id, probe_set_id)
    missing = [t for t in texts if t[0] not in cached]
    queried = 0
    shown = stage("probing the black box", len(missing))  # cached probes cost nothing: not counted
    for start in range(0, len(missing), batch):
        chunk = missing[start : start + batch]
        probs = check_probabilities(box.predict([(t, q) for _, _, t, q in chunk]), len(chunk), box.n_classes)
        pairs = list(zip(chunk, probs, strict=True))
        cache_blackbox_outputs(reg, blackbox_id, [(text_id, row) for (_, text_id, _, _), row in pairs])
        cached.update((pos, row) for (pos, _, _, _), row in pairs)
        queried += len(chunk)
        shown.advance(len(chunk))
        if progress is not None:
            progress(len(texts) - len(missing) + queried, len(texts))
    shown.close()
    examples = [{"text": t, "text_pair": q, "soft": cached[pos].tolist()} for pos, _, t, q in texts]
    return examples, queried


def box_label_names(box: BlackBox) -> list[str] | None:
    """A black box's class names, when it knows them: a classifier's ``labels``, or the first
    verbalizer of each class of a prompt+LLM pair; None for a bare callable.

    Placeholder names (``LABEL_0``) count as none: they say nothing about the task."""
    labels = getattr(box, "labels", None)
    if labels is None and getattr(box, "verbalizers", None):
        labels = [words[0] for words in box.verbalizers if words]  # type: ignore[attr-defined]
    if not labels or all(str(name).upper().startswith("LABEL_") for name in labels):
        return None
    return [str(name) for name in labels]
