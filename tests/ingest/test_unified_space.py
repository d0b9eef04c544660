"""FUTE's central claim on real data: models and datasets share one space.

Two real classifiers are fine-tuned from the surrogate (sentiment on SST-2, topic on BBC News) and
embedded through the probe set (MTE); four real datasets are embedded directly (DTE). The sentiment
model must sit closer to the sentiment datasets than to the topic datasets, and the reverse.
Measured when written (FUTE-TaskEmb, 300 examples, 256 probes): sentiment model -> SST-2 0.647,
drug reviews 0.313 vs BBC 0.383, 20NG 0.410; topic model -> BBC 0.415, 20NG 0.460 vs SST-2 0.437,
drug reviews 0.346. Single pairs are not always ordered (topic model vs SST-2 / BBC), the family
means are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.engine import Engine
from ingest.finetune import finetune_classifier
from ingest.probes import ProbeRequest, create_probe_set
from ingest.register import DatasetRequest, register_dataset
from ingest.register_entries import register_model
from registry.api import Registry
from registry.settings import Settings
from registry.subjects import get_subject

SENTIMENT, TOPIC = ["sst2", "drugreview-sentiment"], ["bbcnews", "20newsgroups"]


@pytest.mark.slow
def test_models_sit_with_the_datasets_of_their_task(tmp_path: Path) -> None:
    reg = Registry(Settings.build(home=tmp_path))
    reg.init()
    for name in SENTIMENT + TOPIC:
        register_dataset(reg, DatasetRequest(source=f"pkg:{name}", name=name, limit=300))
    create_probe_set(reg, ProbeRequest("u", ("pkg:default-pool",), n=256))
    engine = Engine(reg)
    engine.create_space("te", "taskemb", probe_set="u")
    for name in SENTIMENT + TOPIC:
        engine.embed("te", name, "dataset")
    for dataset, model in (("sst2", "clf-sentiment"), ("bbcnews", "clf-topic")):
        path = finetune_classifier(reg, dataset, tmp_path / "models" / model, steps=60)
        register_model(reg, model, str(path), "classifier")
        engine.embed("te", model, "model")

    def cos(a: str, b: str) -> float:
        with reg.db.read() as s:
            va = reg.vector_of("te", get_subject(s, a).id)
            vb = reg.vector_of("te", get_subject(s, b).id)
        return float(np.dot(va, vb))

    def family(model: str, names: list[str]) -> float:
        return float(np.mean([cos(model, n) for n in names]))

    assert family("clf-sentiment", SENTIMENT) > family("clf-sentiment", TOPIC)
    assert family("clf-topic", TOPIC) > family("clf-topic", SENTIMENT)
    assert cos("clf-sentiment", "sst2") > max(cos("clf-sentiment", n) for n in TOPIC)
