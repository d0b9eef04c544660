"""Data sources: packaged (``pkg:NAME``), local files (CSV, TSV, JSON, JSONL, Parquet) and
Hugging Face ids (``name[:config][@split]``), all returned as raw rows.

Local files and hub ids go through the same ``datasets.load_dataset`` call; a local folder of data
files is a valid hub-style id, which is how the hub path is tested offline.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest import packaged
from registry.errors import InvalidDataError, SourceUnavailableError

LOCAL_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
_TEXT_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl"}


@dataclass
class RawTable:
    """Rows of a source before normalisation.

    Attributes:
        rows: One dict per row.
        columns: Column names in source order.
        origin: What was read (for provenance), e.g. ``file:/abs/path.csv``.
        label_names: Class names from the source's schema (a ClassLabel feature), if any.
    """

    rows: list[dict[str, Any]]
    columns: list[str]
    origin: str
    label_names: list[str] | None = None


def is_local(source: str) -> bool:
    """True when the source names a local file (by suffix or because it exists)."""
    path = Path(source)
    return path.suffix.lower() in LOCAL_BUILDERS or path.is_file()


def load_table(source: str) -> RawTable:
    """Read a source into raw rows.

    Raises:
        SourceUnavailableError: Missing or unreadable file, non-UTF-8 text, hub unreachable.
        InvalidDataError: The file cannot be parsed in its format.
        NotFoundError: Unknown packaged name.
    """
    if source.startswith("pkg:"):
        records = packaged.load_records(source)
        return RawTable([dict(r) for r in records], ["text", "text_pair", "label"], source)
    if is_local(source):
        return _load_local(Path(source))
    return _load_hub(source)


def _load_local(path: Path) -> RawTable:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise SourceUnavailableError(f"file not found: {path}; check the path")
    if suffix not in LOCAL_BUILDERS:
        raise InvalidDataError(f"cannot read {path.name}: use one of {', '.join(sorted(LOCAL_BUILDERS))}")
    if suffix in _TEXT_SUFFIXES:
        _check_utf8(path)
    if suffix in (".csv", ".tsv"):
        _check_header(path, "\t" if suffix == ".tsv" else ",")
    if suffix == ".parquet":
        _check_parquet(path)
    kwargs: dict[str, Any] = {"delimiter": "\t"} if suffix == ".tsv" else {}
    table = _load_with_datasets(
        LOCAL_BUILDERS[suffix], f"file:{path.resolve()}", data_files=str(path), **kwargs
    )
    return table


def _check_utf8(path: Path) -> None:
    """Fail early, with the offset, on a file that is not UTF-8 text."""
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceUnavailableError(
            f"{path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "re-save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise SourceUnavailableError(f"cannot read {path}: {exc.strerror}; check permissions") from exc


def _check_header(path: Path, delimiter: str) -> None:
    """Refuse a CSV/TSV header that names a column twice (the reader renamed the second copy
    ``label.1`` and went on silently).

    Args:
        path: The file (already checked to be UTF-8).
        delimiter: ``,`` or a tab.

    Raises:
        InvalidDataError: A column name appears more than once in the header.
    """
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle, delimiter=delimiter), [])
    seen: set[str] = set()
    for name in (column.strip() for column in header):
        if name and name in seen:
            raise InvalidDataError(
                f"{path.name}: column {name!r} appears twice in the header; rename or drop one of them"
            )
        seen.add(name)


def _check_parquet(path: Path) -> None:
    """Read the footer first: a file with valid ``PAR1`` magic and a garbage footer made the
    datasets loader raise a 41-line Arrow traceback (not a ValueError)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.ParquetFile(path).schema_arrow  # noqa: B018 - parsing the footer is the check
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidDataError(
            f"{path.name} is not a readable Parquet file ({_first_line(exc)}); write it again or use CSV/JSONL"
        ) from exc


def _load_hub(source: str) -> RawTable:
    """``name[:config][@split]`` through the Hugging Face loader (default split ``train``)."""
    name, _, split = source.partition("@")
    name, _, config = name.partition(":")
    try:
        return _load_with_datasets(name, f"hf:{source}", config=config or None, split_name=split or "train")
    except SourceUnavailableError as exc:
        if not Path(name).is_dir():
            raise
        # not a network problem: the folder holds no data file the loader knows
        raise SourceUnavailableError(
            f"cannot load folder {name} ({_first_line(exc.__cause__ or exc)}); pass a data file "
            f"({', '.join(sorted(LOCAL_BUILDERS))}) or a folder holding such files"
        ) from exc


def _load_with_datasets(
    builder: str, origin: str, config: str | None = None, split_name: str = "train", **kwargs: Any
) -> RawTable:
    import datasets

    datasets.disable_progress_bars()
    # its own parse-failure log lines would duplicate our one-line error
    logging.getLogger("datasets").setLevel(logging.CRITICAL)
    # A throwaway cache: the registry stores the normalised examples itself.
    with tempfile.TemporaryDirectory(prefix="fute-ds-") as cache:
        try:
            ds = datasets.load_dataset(builder, config, split=split_name, cache_dir=cache, **kwargs)
        except (ConnectionError, FileNotFoundError) as exc:
            raise SourceUnavailableError(
                f"cannot load {origin} ({_first_line(exc)}); without network, download the data and pass a "
                "local file, or use a packaged source (pkg:...)"
            ) from exc
        except (datasets.exceptions.DatasetsError, ValueError, TypeError) as exc:
            cause = exc.__cause__ or exc.__context__ or exc
            if "corresponds to no data" in str(exc):  # the datasets library's words for a header-only file
                raise InvalidDataError(f"{origin} is empty (no rows); add rows or check the file") from exc
            raise InvalidDataError(
                f"cannot parse {origin}: {_first_line(cause)}; check the file format"
            ) from exc
        names = _class_names(ds)
        rows, columns = ds.to_list(), list(ds.column_names)
        if names and "label_name" not in columns:  # keep the declared class names with each row
            for row in rows:
                label = row.get("label")
                row["label_name"] = (
                    names[label] if isinstance(label, int) and 0 <= label < len(names) else None
                )
            columns.append("label_name")
        return RawTable(rows, columns, origin, names)


def _class_names(ds: Any) -> list[str] | None:
    """Names of a ClassLabel feature called ``label``, if the source declares one."""
    feature = ds.features.get("label") if hasattr(ds, "features") else None
    names = getattr(feature, "names", None)
    return [str(n) for n in names] if names else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
