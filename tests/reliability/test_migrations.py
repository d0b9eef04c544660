"""Migrations with data present: every step down to the first revision and back up, then the whole
way down and up again, on SQLite and PostgreSQL. Rows of every table that exists on both sides of a
step are identical (on their common columns); after the round trips the schema equals the ORM's
(what ``alembic check`` asserts). Written over the scripts' revision graph, so new revisions are
covered without editing this file.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from query.transfer import import_transfers
from registry.db import Database, alembic_config, head_revision
from registry.jobs import finish_job, start_job
from registry.models import Base
from registry.settings import Settings
from tests.registry.helpers import make_datasets, open_registry, put, space
from tests.reliability.common import write_figures

Snapshot = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


def revisions() -> list[str]:
    """Revision ids from the first (base) one to the head, following the script graph."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


def migrate(db: Database, target: str, down: bool) -> None:
    """Upgrade or downgrade the database to ``target`` on one connection."""
    cfg = alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)


def snapshot(db: Database) -> Snapshot:
    """Columns and rows of every table but ``alembic_version``."""
    out: Snapshot = {}
    with db.engine.connect() as conn:
        insp = inspect(conn)
        for table in insp.get_table_names():
            if table == "alembic_version":
                continue
            cols = [c["name"] for c in insp.get_columns(table)]
            quoted = ", ".join(f'"{c}"' for c in cols)
            rows = conn.execute(text(f'SELECT {quoted} FROM "{table}"')).all()  # compared as multisets
            out[table] = (cols, [tuple(r) for r in rows])
    return out


def project(snap: Snapshot, table: str, columns: list[str]) -> Counter[tuple[str, ...]]:
    """The rows of one table reduced to ``columns`` (as reprs), as a multiset."""
    names = snap[table][0]
    return Counter(tuple(repr(row[names.index(c)]) for c in columns) for row in snap[table][1])


def lost_rows(before: Snapshot, after: Snapshot) -> dict[str, int]:
    """Per table present on both sides: rows of ``before`` missing from ``after`` (common columns),
    plus rows that appeared from nowhere."""
    lost = {}
    for table in before.keys() & after.keys():
        common = [c for c in before[table][0] if c in after[table][0]]
        old, new = project(before, table, common), project(after, table, common)
        lost[table] = sum((old - new).values()) + sum((new - old).values())
    return {t: n for t, n in lost.items() if n}


def fill(tmp_path: Path, db_url: str) -> int:
    """Real rows in every table the code writes: subjects, tags, a space, vectors, transfers, a job."""
    reg = open_registry(tmp_path, db_url)
    ids = make_datasets(reg, 30, tags=True)
    space(reg)
    put(reg, "s", ids[:20])
    import_transfers(reg, [{"source": "d1", "target": "d2", "score": 0.25}], origin="test")
    with reg.db.transaction() as session:
        job = start_job(session, "catalogue", 3, {"file": "x.yaml"})
        finish_job(session, job.id, "done")
    reg.close()
    return len(ids)


def test_round_trips_lose_no_row_and_end_at_the_orm_schema(tmp_path: Path, db_url: str) -> None:
    fill(tmp_path, db_url)
    db = Database(Settings.build(home=tmp_path, db=db_url))
    revs = revisions()
    assert revs[-1] == head_revision() and len(revs) >= 3
    losses: dict[str, dict[str, int]] = {}
    start = snapshot(db)
    rows_at_start = sum(len(rows) for _, rows in start.values())
    current = start
    for lower in reversed(revs[:-1]):  # one step down at a time, to the first revision
        migrate(db, lower, down=True)
        after = snapshot(db)
        losses[f"down to {lower}"] = lost_rows(current, after)
        current = after
    at_base = current
    for higher in revs[1:]:  # one step up at a time, back to head
        migrate(db, higher, down=False)
        after = snapshot(db)
        losses[f"up to {higher}"] = lost_rows(current, after)
        current = after
    losses["base -> head overall"] = lost_rows(at_base, current)
    migrate(db, revs[0], down=True)  # the whole way down and up again in one command each
    migrate(db, "head", down=False)
    losses["second round trip"] = lost_rows(at_base, snapshot(db))
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    db.dispose()
    backend = db_url.split(":")[0].split("+")[0]
    write_figures(
        f"migrations-{backend}",
        {
            "revisions": revs,
            "rows_at_head": rows_at_start,
            "rows_at_base": sum(len(rows) for _, rows in at_base.values()),
            "rows_lost": sum(sum(v.values()) for v in losses.values()),
            "losses": losses,
            "schema_diff_after_round_trips": [str(d) for d in diff],
        },
    )
    assert all(not v for v in losses.values()), losses
    assert diff == []
    assert sum(len(rows) for _, rows in at_base.values()) > 50  # data really was present at base
