"""TextEmb variants of issue 15 on the real MiniLM surrogate: the render mode, the normed mean in an
``l2`` space (linear MMD), centring on the probe pool's mean; what enters the fingerprint; old spaces
keep their recipe; ``reembed`` moves a registry to the new defaults with nothing lost."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.engine import Engine
from ingest.methods.table import EmbedView, embed, method_params, params_from_space, space_config
from ingest.methods.textemb import encode_texts
from ingest.probes import ProbeRequest, create_probe_set
from ingest.reembed import reembed
from ingest.reference import space_view
from ingest.register import DatasetRequest, register_dataset
from registry.api import Registry
from registry.errors import ConfigError
from registry.settings import Settings
from registry.spaces import fingerprint, get_space
from registry.subjects import dataset_examples, get_subject

NLI = [("A man sleeps.", "Someone rests.", "entailment"), ("A dog barks.", "A cat meows.", "contradiction")]
REVIEWS = [("a wonderful film", "pos"), ("dull and far too long", "neg"), ("I loved every minute", "pos")]


def _write(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Registry, Engine]:
    """A registry with two small datasets and a probe set, and one engine (one surrogate load)."""
    tmp = tmp_path_factory.mktemp("variants")
    reg = Registry(Settings.build(home=tmp / "home"))
    reg.init()
    nli = [{"premise": a, "hypothesis": b, "label": c} for a, b, c in NLI * 4]
    reviews = [{"text": t, "label": y} for t, y in REVIEWS * 3]
    register_dataset(reg, DatasetRequest(source=_write(tmp / "nli.jsonl", nli), name="nli"))
    register_dataset(reg, DatasetRequest(source=_write(tmp / "rev.jsonl", reviews), name="reviews"))
    probes = [{"text": f"probe sentence number {i} about the weather"} for i in range(12)]
    create_probe_set(reg, ProbeRequest("p", (_write(tmp / "probes.jsonl", probes),), n=12))
    return reg, Engine(reg, threads=1)


def test_normed_mean_lives_in_an_l2_space_and_is_the_mean_of_unit_vectors(
    world: tuple[Registry, Engine],
) -> None:
    reg, eng = world
    eng.create_space("mmd", "textemb", overrides={"render": "raw", "pool": "normed"})
    eng.embed("mmd", "reviews", "dataset")
    with reg.db.read() as s:
        assert get_space(s, "mmd").metric == "l2"
        subject = get_subject(s, "reviews").id
    states = encode_texts(eng.surrogate("pkg:all-minilm-l6-v2"), [t for t, _ in REVIEWS * 3])
    expected = (states / np.linalg.norm(states, axis=1, keepdims=True)).mean(axis=0)
    stored = reg.vector_of("mmd", subject)
    assert (
        np.allclose(stored, expected, atol=1e-5) and 0.5 < np.linalg.norm(stored) < 1.0
    )  # not re-normalised
    eng.embed("mmd", "nli", "dataset")
    hits = reg.search("mmd", stored, k=2)[0]
    assert hits[0].name == "reviews" and hits[0].score == pytest.approx(0.0, abs=1e-4)  # -||mu - mu||^2
    assert hits[1].score < 0


def test_centring_subtracts_the_probe_pool_mean_fixed_at_creation(world: tuple[Registry, Engine]) -> None:
    reg, eng = world
    with pytest.raises(ConfigError, match="needs a probe set; add --probe NAME"):
        eng.create_space("c0", "textemb", overrides={"center": "probe"})
    # cosine spaces (pool=mean): centring is a translation, which an l2 distance would not see
    eng.create_space("plain", "textemb", overrides={"render": "labels", "pool": "mean"})
    cfg = {"render": "labels", "pool": "mean", "center": "probe"}
    eng.create_space("centred", "textemb", overrides=cfg, probe_set="p")
    with reg.db.read() as s:
        params = get_space(s, "centred").params
        subject = get_subject(s, "nli").id
    assert params["reference"]["probe_set"] == "p" and params["reference"]["n_probes"] == 12
    reference = np.asarray(params["reference_mean"], dtype=np.float32)
    probes = [{"text": f"probe sentence number {i} about the weather", "text_pair": None} for i in range(12)]
    sur = eng.surrogate("pkg:all-minilm-l6-v2")
    again = embed(
        sur,
        "textemb",
        method_params("textemb", {"pool": "mean"}),
        "classification",
        probes,
        1,
        EmbedView("labels"),
    )
    assert np.allclose(reference, again, atol=1e-5)  # the probes' TextEmb under the space's rendering
    for space in ("plain", "centred"):
        eng.embed(space, "nli", "dataset")
    plain, centred = reg.vector_of("plain", subject), reg.vector_of("centred", subject)
    view = EmbedView("labels", ["contradiction", "entailment"])
    mean = method_params("textemb", {"pool": "mean"})
    direct = embed(sur, "textemb", mean, "pair-classification", _examples(reg, "nli"), 2, view)
    assert np.allclose(plain, direct / np.linalg.norm(direct), atol=1e-5)  # cosine spaces store unit vectors
    shifted = direct - reference
    assert np.allclose(centred, shifted / np.linalg.norm(shifted), atol=1e-5)


def _examples(reg: Registry, name: str) -> list[dict[str, Any]]:
    with reg.db.read() as s:
        return dataset_examples(s, get_subject(s, name).id)


def test_fingerprint_changes_with_render_reference_and_surrogate(world: tuple[Registry, Engine]) -> None:
    reg, eng = world
    with reg.db.read() as s:
        base = get_space(s, "plain")
        centred = get_space(s, "centred")
    sur = eng.surrogate("pkg:all-minilm-l6-v2")
    cfg = space_config("x", "textemb", sur, {"render": "labels", "pool": "mean"})
    assert fingerprint(cfg, None) == base.fingerprint
    changed = space_config("x", "textemb", sur, {"render": "template", "pool": "mean"})
    assert fingerprint(changed, None) != base.fingerprint
    moved = dict(centred.params, reference_mean=[0.0] * 384)
    probe_hash = "h"
    with_ref = replace(cfg, params=centred.params)
    assert fingerprint(with_ref, probe_hash) != fingerprint(replace(cfg, params=moved), probe_hash)
    other = replace(cfg, surrogate="other-encoder", params={**cfg.params, "weights_sha256": "0" * 64})
    assert fingerprint(other, None) != base.fingerprint


def test_old_spaces_keep_their_recipe(world: tuple[Registry, Engine]) -> None:
    stored = {"max_length": 128, "max_examples": 1000, "seed": 0, "weights_sha256": "x"}
    params = params_from_space("textemb", stored)  # created before render / pool / center existed
    assert (params.pool, params.center) == ("mean", "none")
    assert space_view(stored, ["a", "b"]).render == "raw" and space_view(stored, None).reference is None


def test_reembed_moves_the_registry_to_the_new_recipe_with_nothing_lost(
    world: tuple[Registry, Engine],
) -> None:
    reg, eng = world
    eng.create_space("old-default", "textemb", overrides={"render": "raw", "pool": "mean"})  # the old recipe
    eng.create_space("new-default", "textemb")  # today's defaults: template rendering, normed l2 mean
    for name in ("nli", "reviews"):
        eng.embed("old-default", name, "dataset")
    before = {n: reg.vector_of("old-default", _id(reg, n)).copy() for n in ("nli", "reviews")}
    report = reembed(reg, eng, "old-default", "new-default")
    assert report.status == "done" and report.count("done") == 2
    for name, vec in before.items():
        assert np.array_equal(reg.vector_of("old-default", _id(reg, name)), vec)  # OLD untouched
        assert reg.vector_of("new-default", _id(reg, name)).shape == (384,)
    assert reg.verify().ok


def _id(reg: Registry, name: str) -> int:
    with reg.db.read() as s:
        return int(get_subject(s, name).id)
