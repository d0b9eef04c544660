"""fute export / import: Parquet + manifest, identical answers after a round trip (SQLite, PostgreSQL,
PostgreSQL -> SQLite), and refusals that store nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.api import Registry
from registry.errors import AlreadyExistsError, InvalidDataError, SourceUnavailableError
from registry.exchange import export_registry, import_registry, tables
from tests.conftest import fresh_database
from tests.maintenance.helpers import answers, build_catalogue
from tests.registry.helpers import open_registry


def _rows(reg: Registry) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows (times and JSON excluded from nothing: compared as text)."""
    out = {}
    with reg.db.read() as s:
        for table in tables():
            rows = s.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(_norm(v) for v in r) for r in rows]
    return out


def _norm(value: object) -> object:
    if isinstance(value, memoryview):
        return bytes(value)
    if hasattr(value, "replace") and hasattr(value, "tzinfo"):
        return value.replace(tzinfo=None)  # type: ignore[call-arg]
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def _count(reg: Registry) -> int:
    with reg.db.read() as s:
        return sum(int(s.scalar(select(func.count()).select_from(t)) or 0) for t in tables())


def test_round_trip_gives_identical_answers(db_url: str, tmp_path: Path) -> None:
    src = open_registry(tmp_path / "src", db_url)
    build_catalogue(src)
    manifest = export_registry(src, tmp_path / "exp")
    assert manifest["tables"]["embeddings"]["rows"] == 51 and (tmp_path / "exp" / "manifest.json").exists()
    dst_url, drop = fresh_database(db_url.split(":")[0].split("+")[0], tmp_path / "dstdb")
    try:
        dst = open_registry(tmp_path / "dst", dst_url)
        out = import_registry(dst, tmp_path / "exp")
        assert out["tables"]["datasets"] == 30 and sorted(out["rebuilt"]) == ["flat", "l2"]
        assert answers(dst) == answers(src)
        assert _rows(dst)["embeddings"][0][:4] == _rows(src)["embeddings"][0][:4]
        assert {k: v for k, v in _rows(dst).items() if k != "embedding_spaces"} == {
            k: v
            for k, v in _rows(src).items()
            if k != "embedding_spaces"  # generation differs: rebuilt
        }
        assert dst.verify().ok
        ids = open_new_ids(dst)
        assert ids > max(r[0] for r in _rows(src)["subjects"])  # sequences moved past imported ids
        dst.close()
    finally:
        drop()


def open_new_ids(reg: Registry) -> int:
    """Register one more dataset after an import; returns its id."""
    from tests.registry.helpers import make_datasets

    return make_datasets(reg, 1, prefix="new")[0]


@pytest.mark.postgres
def test_postgresql_to_sqlite(tmp_path: Path) -> None:
    pg_url, drop = fresh_database("postgresql", tmp_path / "pg")
    try:
        src = open_registry(tmp_path / "src", pg_url)
        build_catalogue(src)
        export_registry(src, tmp_path / "exp")
        dst = open_registry(tmp_path / "dst", f"sqlite:///{tmp_path / 'dst.db'}")
        import_registry(dst, tmp_path / "exp")
        assert answers(dst) == answers(src) and dst.verify().ok
        src.close()
    finally:
        drop()


def test_refusals_store_nothing(tmp_path: Path) -> None:
    src = open_registry(tmp_path / "src", f"sqlite:///{tmp_path / 'src.db'}")
    build_catalogue(src, n=12)
    exp = tmp_path / "exp"
    export_registry(src, exp)
    with pytest.raises(AlreadyExistsError, match="already holds an export"):
        export_registry(src, exp)
    with pytest.raises(AlreadyExistsError, match="not empty"):
        import_registry(src, exp)
    dst = open_registry(tmp_path / "dst", f"sqlite:///{tmp_path / 'dst.db'}")
    with pytest.raises(SourceUnavailableError, match="no export"):
        import_registry(dst, tmp_path / "nowhere")
    damaged = exp / "tags.parquet"
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(InvalidDataError, match="does not match its checksum"):
        import_registry(dst, exp)
    manifest = json.loads((exp / "manifest.json").read_text())
    manifest["tables"]["tags"]["file"] = "../../etc/passwd"
    (exp / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidDataError, match=r"expected tags\.parquet"):
        import_registry(dst, exp)
    assert _count(dst) == 0


def test_unfinished_export_is_overwritten(tmp_path: Path) -> None:
    reg = open_registry(tmp_path / "h", f"sqlite:///{tmp_path / 'h.db'}")
    build_catalogue(reg, n=12)
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "subjects.parquet").write_bytes(b"half-written")  # as a killed export leaves it
    manifest = export_registry(reg, exp)
    assert manifest["tables"]["subjects"]["rows"] == 13
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(AlreadyExistsError, match="holds other files"):
        export_registry(reg, tmp_path / "other")
