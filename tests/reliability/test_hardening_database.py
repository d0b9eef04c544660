"""Issue 17, case 7: a damaged database gets one line from every command (exit 2, no traceback);
``--debug`` / ``FUTE_DEBUG=1`` shows the traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.hardening import make_home

COMMANDS = [
    ("maintain", "verify"),
    ("stats",),
    ("spaces", "list"),
    ("datasets", "list"),
    ("datasets", "show", "a"),
    ("query", "similar", "a"),
    ("maintain", "rebuild"),
    ("eval",),
]


def truncate(db: Path) -> None:
    db.write_bytes(db.read_bytes()[:50_000])


def overwrite(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[4096:12288] = b"\xa5" * 8192  # pages of the schema and tables
    db.write_bytes(bytes(data))


def not_a_database(db: Path) -> None:
    db.write_bytes(b"this is a text file, not a database\n" * 100)


def wrong_schema(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE examples")
        conn.execute("DROP TABLE tags")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "overwritten": overwrite,
    "not_a_database": not_a_database,
    "wrong_schema": wrong_schema,
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_case07_damaged_database_one_line_from_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    home = make_home(tmp_path, capsys)
    db = home.settings.home / "registry.db"
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    DAMAGE[damage](db)
    for command in COMMANDS:
        code, _out, err = home.cli(*command)
        assert code == 2, (command, code, err)
        assert "Traceback" not in err, (command, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("fute: error:"), (command, err)
        assert "registry database is damaged" in err or "database" in err, (command, err)
        assert "fute export" in err or "rebuild" in err or "fute init" in err, (command, err)


def test_case07_debug_flag_and_env_show_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = make_home(tmp_path, capsys)
    not_a_database(home.settings.home / "registry.db")
    code, _out, err = home.cli("stats", "--debug")
    assert code == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("fute: error:")
    monkeypatch.setenv("FUTE_DEBUG", "1")
    code, _out, err = home.cli("maintain", "verify")
    assert code == 2 and "Traceback" in err


def test_unexpected_exception_is_one_line_without_debug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = make_home(tmp_path, capsys)

    def broken(*_args: object, **_kw: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("registry.api.Registry.stats", broken)
    code, _out, err = home.cli("stats")
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (
        "fute: error: unexpected ZeroDivisionError: division by zero "
        "(rerun with --debug for the traceback, and please report it)"
    )
