"""Malformed inputs across the CLI, the Python API and HTTP: each one is refused with a clear message
(exit 2 / a RegistryError / a 4xx), and every table (ordered dump) and every file under the home hashes
the same before and after. The registry holds real data (``bad_input_home``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fute.cli import main
from fute.http import create_app
from ingest.register import DatasetRequest, register_dataset
from query import service as qs
from query.transfer import import_transfers
from registry.api import EmbeddingItem, Registry
from registry.errors import RegistryError
from registry.settings import Settings
from registry.spaces import SpaceConfig
from tests.reliability.bad_input_home import SPACE, build_home
from tests.reliability.common import file_hashes, table_hashes, write_figures

TOKEN = "bad-input-token"
SEEN: dict[str, str] = {}  # case id -> the message it produced (written as figures at the end)


@dataclass
class Ctx:
    """The registry under test, a folder of bad files beside it, and an HTTP client."""

    settings: Settings
    files: Path
    http: TestClient

    def state(self) -> tuple[dict[str, str], dict[str, str]]:
        """Hashes of every table and every file of the registry."""
        return table_hashes(self.settings.database_url), file_hashes(self.settings.home)


def write_bad_files(folder: Path) -> None:
    """Malformed data, catalogues and transfer files used by the CLI cases."""
    folder.mkdir()
    rows = lambda items: "".join(json.dumps(r) + "\n" for r in items)  # noqa: E731
    (folder / "latin1.csv").write_bytes("text,label\ncaf\xe9,1\nth\xe9,0\n".encode("latin-1"))
    (folder / "broken.jsonl").write_text('{"text": "a", "label": 1}\n{"text": \n', encoding="utf-8")
    (folder / "one_class.jsonl").write_text(rows({"text": f"t{i}", "label": "pos"} for i in range(5)))
    (folder / "nan.csv").write_text("text,label\na,1\nb,\nc,0\nd,NaN\n", encoding="utf-8")
    (folder / "mixed.jsonl").write_text(rows([{"text": "a", "label": 1}, {"text": "b", "label": "neg"}]))
    (folder / "data.xlsx").write_bytes(b"PK\x03\x04")
    (folder / "empty.csv").write_text("text,label\n", encoding="utf-8")
    (folder / "ok.jsonl").write_text(rows({"text": f"e{i}", "label": i % 2} for i in range(6)))
    catalogues = {
        "not_yaml": "spaces: [unclosed\n",
        "unknown_section": "tables: []\n",
        "missing_keys": "datasets:\n  - {name: x}\n",
        "duplicate": "datasets:\n  - {source: pkg:cb, name: a}\n  - {source: pkg:rte, name: a}\n",
        "python_tag": "datasets: !!python/object/apply:os.system ['touch /tmp/fute-pwned']\n",
        "scalar": "just a string\n",
    }
    for name, body in catalogues.items():
        (folder / f"cat_{name}.yaml").write_text(body, encoding="utf-8")
    (folder / "t_unknown.csv").write_text("source,target,score\nghost,rte,0.1\n", encoding="utf-8")
    (folder / "t_nan.csv").write_text("source,target,score\ncb,rte,nan\n", encoding="utf-8")
    (folder / "t_cols.csv").write_text("from,to\ncb,rte\n", encoding="utf-8")
    (folder / "t_text.csv").write_text("source,target,score\ncb,rte,high\n", encoding="utf-8")


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    """Build the registry once per module; write the figures when the module is done."""
    tmp = tmp_path_factory.mktemp("bad-input")
    settings = build_home(tmp / "home")
    write_bad_files(tmp / "files")
    with TestClient(create_app(settings, TOKEN)) as client:
        yield Ctx(settings, tmp / "files", client)
    write_figures(
        "bad_input", {"cases": len(SEEN), "refused_cleanly_state_unchanged": len(SEEN), "messages": SEEN}
    )


def refused_without_change(ctx: Ctx, case_id: str, attempt: Callable[[], str]) -> None:
    """Run ``attempt`` (which asserts the refusal and returns its message); the state must not move."""
    before = ctx.state()
    message = attempt()
    after = ctx.state()
    assert after[0] == before[0], (
        f"tables changed: {[t for t in before[0] if before[0][t] != after[0].get(t)]}"
    )
    assert after[1] == before[1], "files under the home changed"
    assert message.strip(), "no message"
    SEEN[case_id] = message.strip()[:300]


# ---- CLI: (case id, arguments with {f} = the bad-files folder, a fragment of the expected message)
CLI_CASES = [
    ("cli-missing-file", ["ingest", "dataset", "{f}/nope.csv", "--name", "x"], "file not found"),
    ("cli-not-utf8", ["ingest", "dataset", "{f}/latin1.csv", "--name", "x"], "is not UTF-8"),
    ("cli-unparseable", ["ingest", "dataset", "{f}/broken.jsonl", "--name", "x"], "cannot parse"),
    ("cli-one-class", ["ingest", "dataset", "{f}/one_class.jsonl", "--name", "x"], "only one class"),
    ("cli-nan-labels", ["ingest", "dataset", "{f}/nan.csv", "--name", "x"], "have no label"),
    ("cli-mixed-labels", ["ingest", "dataset", "{f}/mixed.jsonl", "--name", "x"], "mix numbers and strings"),
    ("cli-bad-extension", ["ingest", "dataset", "{f}/data.xlsx", "--name", "x"], "use one of"),
    ("cli-empty-file", ["ingest", "dataset", "{f}/empty.csv", "--name", "x"], "is empty (no rows)"),
    ("cli-unknown-column", ["ingest", "dataset", "{f}/ok.jsonl", "--name", "x", "--label", "stars"], "no column"),
    ("cli-name-traversal", ["ingest", "dataset", "{f}/ok.jsonl", "--name", "../etc/passwd"], "invalid name"),
    ("cli-name-sql", ["ingest", "dataset", "{f}/ok.jsonl", "--name", "x'; DROP TABLE subjects;--"], "invalid name"),
    ("cli-name-too-long", ["ingest", "dataset", "{f}/ok.jsonl", "--name", "x" * 201], "invalid name"),
    ("cli-name-taken", ["ingest", "dataset", "{f}/ok.jsonl", "--name", "rte"], "already exists"),
    ("cli-unknown-pkg", ["ingest", "dataset", "pkg:nope", "--name", "x"], "unknown packaged source"),
    ("cli-path-traversal", ["ingest", "dataset", "../../../../../etc/shadow.csv", "--name", "x"], "file not found"),
    ("cli-system-file", ["ingest", "dataset", "/etc/passwd", "--name", "x"], "use one of"),
    ("cli-catalogue-not-yaml", ["ingest", "catalogue", "{f}/cat_not_yaml.yaml"], "not valid YAML"),
    ("cli-catalogue-section", ["ingest", "catalogue", "{f}/cat_unknown_section.yaml"], "unknown catalogue sections"),
    ("cli-catalogue-keys", ["ingest", "catalogue", "{f}/cat_missing_keys.yaml"], "missing ['source']"),
    ("cli-catalogue-duplicate", ["ingest", "catalogue", "{f}/cat_duplicate.yaml"], "appears twice"),
    ("cli-catalogue-python-tag", ["ingest", "catalogue", "{f}/cat_python_tag.yaml"], "not valid YAML"),
    ("cli-catalogue-scalar", ["ingest", "catalogue", "{f}/cat_scalar.yaml"], "must be a mapping"),
    ("cli-catalogue-missing", ["ingest", "catalogue", "{f}/none.yaml"], "cannot read catalogue"),
    ("cli-query-unknown-target", ["query", "sources", "--target", "ghost"], "ghost"),
    ("cli-query-unknown-space", ["query", "sources", "--target", "rte", "--space", "nope"], "no embedding space has this name; known spaces: txt"),
    ("cli-query-k-zero", ["query", "sources", "--target", "rte", "-k", "0"], "k must be between"),
    ("cli-filter-kind", ["query", "sources", "--target", "rte", "--where", "kind=table"], "choose dataset"),
    ("cli-filter-time", ["query", "sources", "--target", "rte", "--where", "created_after=1' OR '1"], "ISO time"),
    ("cli-filter-no-equals", ["query", "sources", "--target", "rte", "--where", "DROP TABLE"], "--where needs key=value"),
    ("cli-similar-sql", ["query", "similar", "x'; DROP TABLE subjects;--"], "no dataset, model or prompt"),
    ("cli-transfer-unknown", ["transfer", "import", "{f}/t_unknown.csv"], "ghost"),
    ("cli-transfer-nan", ["transfer", "import", "{f}/t_nan.csv"], "finite"),
    ("cli-transfer-columns", ["transfer", "import", "{f}/t_cols.csv"], "lacks columns"),
    ("cli-transfer-text-score", ["transfer", "import", "{f}/t_text.csv"], "high"),
    ("cli-space-taken", ["spaces", "create", SPACE, "--method", "textemb"], "already exists"),
    ("cli-space-param", ["spaces", "create", "s2", "--method", "textemb", "--param", "bogus=1"], "unknown textemb"),
    ("cli-space-dim", ["spaces", "create", "s3", "--method", "taskemb", "--dim", "-5"], "dim"),
    ("cli-embed-unknown", ["embed", "ghost", "--space", SPACE], "no dataset, model or prompt"),
    ("cli-show-traversal", ["datasets", "show", "../../etc/passwd"], "no dataset named"),
    ("cli-rebuild-unknown", ["maintain", "rebuild", "--space", "nope"], "no embedding space"),
    ("cli-bad-db-url", ["--db", "notadb://x", "stats"], "unsupported database backend"),
    ("cli-verbalizers", ["ingest", "prompt", "--llm", "pkg:smollm2", "--template", "{text}", "--verbalizers",
                         "not json", "--name", "p"], "must be JSON"),
    ("cli-template-file", ["ingest", "prompt", "--llm", "pkg:smollm2", "--template", "@{f}/none.txt",
                           "--verbalizers", '[["a"], ["b"]]', "--name", "p"], "none.txt"),
    ("cli-probe-traversal", ["probes", "create", "p", "--from", "../../../../etc/nothing.txt"], "file not found"),
]  # fmt: skip


@pytest.mark.parametrize(("case_id", "args", "fragment"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_refuses(
    ctx: Ctx, capsys: pytest.CaptureFixture[str], case_id: str, args: list[str], fragment: str
) -> None:
    def attempt() -> str:
        capsys.readouterr()
        argv = [a.replace("{f}", str(ctx.files)) for a in args]
        code = main(["--home", str(ctx.settings.home), *argv])
        err = capsys.readouterr().err
        assert code == 2, (code, err)
        assert err.startswith("fute: error:") and fragment in err, err
        return err

    refused_without_change(ctx, case_id, attempt)


def _put(
    dim: int, value: float = 0.1, subject: int | None = None, space: str = SPACE
) -> Callable[[Registry], Any]:
    def run(reg: Registry) -> Any:
        sid = subject if subject is not None else 1  # subject 1 (sst2) exists and has a vector
        vector = np.full(dim, value, dtype=np.float32)
        return reg.put_embeddings(space, [EmbeddingItem(sid, vector)])

    return run


def _dataset(name: str, source: str = "pkg:cb") -> Callable[[Registry], Any]:
    return lambda reg: register_dataset(reg, DatasetRequest(source=source, name=name, limit=16))


# ---- Python API: (case id, call on an open Registry, a fragment of the expected message)
API_CASES: list[tuple[str, Callable[[Registry], Any], str]] = [
    ("api-vector-wrong-dim", _put(7), "dim"),
    ("api-vector-nan", _put(384, float("nan")), "finite"),
    ("api-vector-inf", _put(384, float("inf")), "finite"),
    ("api-vector-zero", _put(384, 0.0), "zero"),
    ("api-vector-unknown-subject", _put(384, subject=10_000_000), "10000000"),
    ("api-vector-unknown-space", _put(384, space="nope"), "nope"),
    ("api-search-wrong-dim", lambda reg: reg.search(SPACE, np.ones(5, dtype=np.float32)), "dim"),
    ("api-search-nan", lambda reg: reg.search(SPACE, np.full(384, np.nan, dtype=np.float32)), "finite"),
    ("api-space-bad-metric", lambda reg: reg.create_space(
        SpaceConfig(name="m", surrogate="x", method="textemb", dim=8, metric="hamming")), "metric"),
    ("api-space-bad-dim", lambda reg: reg.create_space(
        SpaceConfig(name="m", surrogate="x", method="textemb", dim=0)), "dim"),
    ("api-query-vector-nan", lambda reg: qs.query_vector(reg, SPACE, [float("nan")] * 384, qs.QueryOptions()),
     "finite"),
    ("api-transfer-unknown", lambda reg: import_transfers(reg, [{"source": "ghost", "target": "rte", "score": 1}]),
     "ghost"),
    ("api-transfer-inf", lambda reg: import_transfers(
        reg, [{"source": "cb", "target": "rte", "score": float("inf")}]), "finite"),
    ("api-delete-unknown", lambda reg: reg.delete_subject("ghost", "dataset"), "ghost"),
    ("api-dataset-nul-name", _dataset("bad\x00name"), "invalid name"),
    ("api-dataset-newline-name", _dataset("new\nline"), "invalid name"),
]  # fmt: skip


@pytest.mark.parametrize(("case_id", "call", "fragment"), API_CASES, ids=[c[0] for c in API_CASES])
def test_api_refuses(ctx: Ctx, case_id: str, call: Callable[[Registry], Any], fragment: str) -> None:
    def attempt() -> str:
        reg = Registry.open(ctx.settings)
        try:
            with pytest.raises(RegistryError) as info:
                call(reg)
        finally:
            reg.close()
        assert fragment.lower() in str(info.value).lower(), str(info.value)
        return f"{type(info.value).__name__}: {info.value}"

    refused_without_change(ctx, case_id, attempt)


BEARER = {"Authorization": f"Bearer {TOKEN}"}

# ---- HTTP: (case id, method, path, request keyword arguments, expected status, message fragment)
HTTP_CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    ("http-vector-wrong-dim", "POST", "/query/vector", {"json": {"space": SPACE, "vector": [1.0, 2.0]}}, 422, "dim"),
    ("http-vector-nan", "POST", "/query/vector",
     {"content": b'{"space": "txt", "vector": [NaN' + b", 1.0" * 383 + b"]}",
      "headers": {"content-type": "application/json"}}, 422, "finite"),
    ("http-vector-unknown-space", "POST", "/query/vector", {"json": {"space": "nope", "vector": [1.0]}}, 404, "nope"),
    ("http-unknown-target", "GET", "/query/sources?target=ghost", {}, 404, "ghost"),
    ("http-filter-hostile-kind", "GET", "/query/sources?target=rte&where=kind%3D'%20OR%201%3D1", {}, 422, "kind"),
    ("http-unknown-dataset", "GET", "/datasets/..%2F..%2Fetc%2Fpasswd", {}, 404, ""),
    ("http-transfer-unknown", "POST", "/transfers",
     {"json": {"rows": [{"source": "ghost", "target": "rte", "score": 1}]}, "headers": BEARER}, 422, "ghost"),
    ("http-transfer-no-token", "POST", "/transfers",
     {"json": {"rows": [{"source": "cb", "target": "rte", "score": 1}]}}, 401, "bearer token"),
    ("http-delete-unknown", "DELETE", "/subjects/dataset/ghost", {"headers": BEARER}, 404, "ghost"),
    ("http-delete-bad-kind", "DELETE", "/subjects/table/rte", {"headers": BEARER}, 422, ""),
    ("http-job-bad-section", "POST", "/jobs", {"json": {"tables": []}, "headers": BEARER}, 422, "unknown catalogue"),
    ("http-job-not-mapping", "POST", "/jobs", {"json": [1, 2], "headers": BEARER}, 422, ""),
    ("http-oversized", "POST", "/query/vector",
     {"content": b"{" + b" " * (6 * 1024 * 1024) + b"}", "headers": {"content-type": "application/json"}},
     413, "5 MB"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case_id", "method", "path", "kwargs", "status", "fragment"), HTTP_CASES, ids=[c[0] for c in HTTP_CASES]
)
def test_http_refuses(
    ctx: Ctx, case_id: str, method: str, path: str, kwargs: dict[str, Any], status: int, fragment: str
) -> None:
    def attempt() -> str:
        response = ctx.http.request(method, path, **kwargs)
        assert response.status_code == status, (response.status_code, response.text[:500])
        detail = json.dumps(response.json()["detail"])
        assert fragment in detail, detail
        return f"{response.status_code} {detail}"

    refused_without_change(ctx, case_id, attempt)


def test_hostile_filter_values_are_inert(ctx: Ctx, capsys: pytest.CaptureFixture[str]) -> None:
    """A hostile tag *value* is a legal filter that matches nothing: an empty answer, nothing changed
    (kept apart from the refusals above, which must exit non-zero)."""
    before = ctx.state()
    for value in ("family=' OR 1=1 --", 'family="; DROP TABLE embeddings; --', "any:family=%' OR '%'='"):
        capsys.readouterr()
        code = main(
            [
                "--home",
                str(ctx.settings.home),
                "query",
                "sources",
                "--target",
                "rte",
                "--where",
                value,
                "--json",
            ]
        )
        answer = json.loads(capsys.readouterr().out)
        assert code == 0 and all(not part["results"] for part in answer.get("spaces", [answer])), answer
    assert ctx.state() == before
