"""Child of ``bench.fresh_query``: import the read path's libraries, then run one CLI command and
print ``{"import_s": ..., "command_s": ...}`` as the last line of stderr.

The imports are the ones any read command needs (numpy, SQLAlchemy with the ORM and the SQLite
driver, faiss, the CLI); timing them apart leaves the command's own work.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    """Run ``fute`` with this process's arguments."""
    t0 = time.perf_counter()
    import sqlite3  # noqa: F401

    import faiss  # noqa: F401
    import numpy  # noqa: F401
    import sqlalchemy.orm  # noqa: F401

    import fute.cli
    import registry.api  # noqa: F401

    t1 = time.perf_counter()
    code = fute.cli.main(sys.argv[1:])
    t2 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "command_s": t2 - t1}), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
