"""The registry the bad-input cases run against: real data, a real MiniLM space, a transfer row."""

from __future__ import annotations

from pathlib import Path

from ingest.engine import Engine
from ingest.register import DatasetRequest, register_dataset
from query.transfer import import_transfers
from registry.api import Registry
from registry.settings import Settings

DATASETS = {"sst2": "pkg:sst2", "rte": "pkg:rte", "cb": "pkg:cb"}
SPACE = "txt"


def build_home(home: Path) -> Settings:
    """Three packaged datasets (16 examples), embedded with TextEmb (8 examples), one transfer row.

    Returns:
        Settings of the new registry (SQLite under ``home``).
    """
    settings = Settings.build(home=home)
    reg = Registry(settings)
    reg.init()
    for name, source in DATASETS.items():
        register_dataset(reg, DatasetRequest(source=source, name=name, limit=16, tags=(("family", name),)))
    engine = Engine(reg, threads=1)
    # a cosine space (pool=mean): the zero-vector refusal is a property of cosine spaces
    engine.create_space(SPACE, "textemb", overrides={"max_examples": 8, "pool": "mean"})
    for name in DATASETS:
        engine.embed(SPACE, name, "dataset")
    import_transfers(reg, [{"source": "sst2", "target": "rte", "score": 0.5}], origin="test")
    reg.close()
    return settings
