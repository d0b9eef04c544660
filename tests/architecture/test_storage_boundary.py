"""`registry/` is the one door to storage: the upper floors hold no SQL and no session handling.

An AST check over `ingest/`, `query/` and `fute/`: it fails on any import of SQLAlchemy, any call of
`select(...)`, and any `<x>.db.read()` / `<x>.db.transaction()` block. The data access they need
lives in `registry/` as typed functions that open and close their own sessions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UPPER_FLOORS = ("ingest", "query", "fute")


def storage_violations(path: Path) -> list[str]:
    """Every place in one module where an upper floor touches storage directly.

    Args:
        path: a Python source file.

    Returns:
        `file:line: what` strings, empty when the module goes through `registry/` only.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    rel = path.relative_to(ROOT)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"{rel}:{node.lineno}: import {a.name}" for a in node.names if _is_sqla(a.name)]
        elif isinstance(node, ast.ImportFrom) and _is_sqla(node.module or ""):
            found.append(f"{rel}:{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "select":
                found.append(f"{rel}:{node.lineno}: select(...)")
            elif _is_session_block(func):
                found.append(f"{rel}:{node.lineno}: a db session block")
    return found


def _is_sqla(module: str) -> bool:
    return module == "sqlalchemy" or module.startswith("sqlalchemy.")


def _is_session_block(func: ast.expr) -> bool:
    """`<x>.db.read()` or `<x>.db.transaction()` (or `.session()`)."""
    if not (isinstance(func, ast.Attribute) and func.attr in {"read", "transaction", "session"}):
        return False
    owner = func.value
    return isinstance(owner, ast.Attribute) and owner.attr == "db"


def upper_floor_modules() -> list[Path]:
    """The Python modules of the floors above `registry/`."""
    return sorted(p for floor in UPPER_FLOORS for p in (ROOT / floor).rglob("*.py"))


def test_the_check_sees_each_kind_of_violation(tmp_path: Path) -> None:
    # a mutant module with one of each: the check must name all four, so it cannot pass vacuously
    bad = ROOT / "fute" / "_boundary_mutant_probe.py"
    source = (
        "from sqlalchemy import select\n"
        "import sqlalchemy.orm\n"
        "def f(reg):\n"
        "    with reg.db.read() as s:\n"
        "        return s.scalars(select(1))\n"
    )
    bad.write_text(source, encoding="utf-8")
    try:
        found = storage_violations(bad)
    finally:
        bad.unlink()
    assert len(found) == 4, found
    assert any("select(...)" in f for f in found) and any("session block" in f for f in found)


def test_upper_floors_hold_no_sql_and_no_sessions() -> None:
    modules = upper_floor_modules()
    assert len(modules) > 50  # the walk found the packages
    found = [v for path in modules for v in storage_violations(path)]
    if found:
        pytest.fail(f"{len(found)} direct storage uses outside registry/:\n" + "\n".join(found))
