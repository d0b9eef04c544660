"""Issue 17, case 10: an export that is checksum-consistent but holds a 100-byte or NaN vector (or a
dangling reference) is refused before the first write; the target stays empty and importable."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from registry.api import EmbeddingItem, Registry
from registry.models import Subject
from registry.settings import Settings
from registry.spaces import SpaceConfig
from tests.reliability.common import file_hashes, table_hashes
from tests.reliability.hardening import Home, make_home


def _export(home: Home, folder: Path) -> None:
    reg = Registry.open(home.settings)
    with reg.db.read() as session:
        ids = list(session.scalars(select(Subject.id)))
    reg.create_space(SpaceConfig(name="s", surrogate="fake", method="fake", dim=4))
    reg.put_embeddings("s", [EmbeddingItem(i, np.arange(1, 5, dtype=np.float32) + i) for i in ids])
    reg.close()
    code, _out, err = home.cli("export", str(folder))
    assert code == 0, err


def _tamper(folder: Path, table: str, change: Callable[[list[dict[str, object]]], None]) -> None:
    """Rewrite one table's rows and its manifest checksum, so only the content is wrong."""
    path = folder / f"{table}.parquet"
    data = pq.read_table(path)
    rows = data.to_pylist()
    change(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=data.schema), path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["tables"][table]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _short_vector(rows: list[dict[str, object]]) -> None:
    rows[0]["vector"] = b"\x00" * 100


def _nan_vector(rows: list[dict[str, object]]) -> None:
    rows[0]["vector"] = np.array([np.nan, 1, 2, 3], dtype="<f4").tobytes()


def _dangling_space(rows: list[dict[str, object]]) -> None:
    rows[0]["space_id"] = 999


@pytest.mark.parametrize(
    ("change", "fragment"),
    [(_short_vector, "100 bytes"), (_nan_vector, "NaN"), (_dangling_space, "refers to a space")],
)
def test_case10_bad_vectors_in_an_export_are_refused_before_any_write(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[list[dict[str, object]]], None],
    fragment: str,
) -> None:
    source = make_home(tmp_path / "src", capsys)
    good, bad = tmp_path / "good", tmp_path / "bad"
    _export(source, good)
    shutil.copytree(good, bad)
    _tamper(bad, "embeddings", change)
    target = Settings.build(home=tmp_path / "target")
    Registry(target).init()
    before = table_hashes(target.database_url), file_hashes(target.home)
    code, _out, err = source.cli("--home", str(target.home), "import", str(bad))
    assert code == 2 and "Traceback" not in err and fragment in err, err
    assert (table_hashes(target.database_url), file_hashes(target.home)) == before
    code, _out, err = source.cli("--home", str(target.home), "import", str(good))  # re-running works
    assert code == 0, err
    reg = Registry.open(target)
    assert reg.verify().ok and len(reg.spaces()) == 1
    reg.close()
