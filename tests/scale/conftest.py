"""Fixtures of the scale-out tests: one local Ray instance per module (start-up is slow), and
registries on the real PostgreSQL server (``FUTE_TEST_PG_URL``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from registry.api import Registry
from registry.settings import Settings
from tests.conftest import PG_URL, fresh_database

ROOT = Path(__file__).resolve().parents[2]
# Packaged starter datasets (installed packages, no download), subsampled to keep entries short.
STARTERS = ["sst2", "rte", "cb", "mrpc", "bbcnews", "drugreview-sentiment"]
TINY_TASKEMB = {"train_steps": 2, "batch_size": 8, "grad_examples": 16, "grad_batch_size": 8, "dim": 256}


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    """A local Ray instance with 2 CPUs, shared by the tests of a module."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'fute-registry[ray]'")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024**2,
        log_to_driver=False,
        # workers import test-module classes (black-box factories) like the driver does
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
    )
    yield ray
    ray.shutdown()


def pg_registry(folder: Path) -> tuple[Registry, Any]:
    """An initialised registry on a fresh PostgreSQL database; returns it and its drop function."""
    if not PG_URL:
        pytest.skip('FUTE_TEST_PG_URL is not set: Ray workers need PostgreSQL (`eval "$(.ci/pg-start)"`)')
    url, drop = fresh_database("postgresql", folder)
    reg = Registry(Settings.build(home=folder / "home", db=url))
    reg.init()
    return reg, drop


def write_catalogue(folder: Path, names: list[str], limit: int = 24) -> Path:
    """A catalogue of starter datasets in a TextEmb and a (tiny) TaskEmb space."""
    body = {
        "spaces": [
            {"name": "te", "method": "taskemb", "params": TINY_TASKEMB},
            {"name": "txt", "method": "textemb", "params": {"max_examples": 8}},
        ],
        "datasets": [{"source": f"pkg:{n}", "name": n, "limit": limit} for n in names],
    }
    path = folder / "catalogue.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path
