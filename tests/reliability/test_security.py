"""Security: no pickle loading anywhere in the product (AST scan), every HTTP write needs the token,
and file arguments sent over HTTP cannot leave the allowed roots."""

from __future__ import annotations

import ast
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fute.http import create_app
from ingest.blackbox.hf_classifier import HFClassifier
from ingest.surrogate import DEFAULT_SURROGATE, load_surrogate, resolve
from registry.api import Registry
from registry.errors import ConfigError
from registry.settings import Settings
from tests.reliability.common import ROOT, file_hashes, table_hashes, write_figures

PRODUCT = ("fute", "registry", "ingest", "query", "migrations")
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
TOKEN = "security-token"
# Non-GET routes that only read: a new non-GET route must need the token or be listed here on purpose.
READ_ONLY = {"POST /query/vector"}


def _name(node: ast.AST) -> str:
    """Dotted name of a call target (``np.load``), or '' when it is not a plain name chain."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _kw(call: ast.Call, name: str) -> Any:
    """Constant value of keyword ``name`` (None when absent or not a constant)."""
    for kw in call.keywords:
        if kw.arg == name and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return None


def unsafe_loads(source: str, filename: str) -> list[str]:
    """Pickle-capable loads in one module's source.

    Flags imports of pickle-like modules, ``*.load(s)`` on them, ``torch.load`` without
    ``weights_only=True``, ``np.load(allow_pickle=True)``, ``pandas.read_pickle`` and
    ``yaml.load`` / ``unsafe_load`` (arbitrary objects, like pickle).
    """
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{where} imports {m}" for m in mods if m.split(".")[0] in PICKLE_MODULES]
            if isinstance(node, ast.ImportFrom) and node.module == "torch":
                found += [f"{where} imports torch.load bare" for a in node.names if a.name == "load"]
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        last = name.rsplit(".", 1)[-1]
        if name.split(".")[0] in PICKLE_MODULES:
            found.append(f"{where} calls {name}")
        elif re.fullmatch(r"torch\.load", name) and _kw(node, "weights_only") is not True:
            found.append(f"{where} torch.load without weights_only=True")
        elif re.fullmatch(r"(np|numpy)\.load", name) and _kw(node, "allow_pickle") is True:
            found.append(f"{where} np.load(allow_pickle=True)")
        elif _kw(node, "weights_only") is False:
            found.append(f"{where} {name}(weights_only=False)")
        elif last == "read_pickle" or name in ("yaml.load", "yaml.unsafe_load", "yaml.full_load"):
            found.append(f"{where} calls {name}")
    return found


def product_files() -> Iterator[Path]:
    """Every Python file of the product packages."""
    for package in PRODUCT:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_the_scanner_finds_each_kind_of_unsafe_load() -> None:
    bad = (
        "import pickle\nimport joblib\nfrom torch import load\nimport torch, numpy as np, yaml, pandas as pd\n"
        "torch.load('w.pt')\ntorch.load('w.pt', weights_only=False)\nnp.load('a.npy', allow_pickle=True)\n"
        "pd.read_pickle('x')\nyaml.load(s)\npickle.loads(b)\nAutoModel.from_pretrained(p, weights_only=False)\n"
    )
    flagged = {int(hit.split()[0].split(":")[1]) for hit in unsafe_loads(bad, "bad.py")}
    assert flagged == {1, 2, 3, 5, 6, 7, 8, 9, 10, 11}  # every line but the harmless imports (4)
    good = "import torch, numpy as np, yaml\ntorch.load('w', weights_only=True)\nnp.load('a')\nyaml.safe_load(s)\n"
    assert unsafe_loads(good, "good.py") == []


def test_no_product_module_loads_pickles() -> None:
    files = list(product_files())
    found = [
        hit for f in files for hit in unsafe_loads(f.read_text(encoding="utf-8"), str(f.relative_to(ROOT)))
    ]
    write_figures("security-scan", {"files_scanned": len(files), "unsafe_loads": found})
    assert len(files) > 50 and found == []


def test_packaged_surrogate_weights_are_safetensors() -> None:
    folder = Path(resolve(DEFAULT_SURROGATE))
    names = {p.name for p in folder.rglob("*") if p.is_file()}
    assert "model.safetensors" in names and not any(n.endswith((".bin", ".pt", ".pkl")) for n in names), names


class Payload:
    """Unpickling this runs ``touch MARKER``: what a hostile checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_pickled_checkpoint_is_refused_unopened(tmp_path: Path) -> None:
    """A model folder whose weights are a pickle (with a payload) is refused by the surrogate and
    classifier loaders with a clear error, and the payload never runs."""
    import torch

    folder, marker = tmp_path / "hostile-model", tmp_path / "payload-ran"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(Path(resolve(DEFAULT_SURROGATE)) / name, folder / name)
    torch.save({"weights": Payload(marker)}, folder / "pytorch_model.bin")
    for load in (load_surrogate, HFClassifier):
        with pytest.raises(ConfigError, match=r"model\.safetensors"):
            load(str(folder))
    assert not marker.exists()


def _home(tmp_path: Path, roots: str | None) -> Settings:
    settings = Settings.build(home=tmp_path / "home").model_copy(update={"http_roots": roots})
    Registry(settings).init()
    return settings


def _state(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    return table_hashes(settings.database_url), file_hashes(settings.home)


def _concrete(path: str) -> str:
    """A route path with its parameters filled (``/subjects/{kind}/{name}`` -> ``/subjects/dataset/x``)."""
    return re.sub(r"\{kind\}", "dataset", re.sub(r"\{(?!kind)[^}]+\}", "x", path))


def test_every_mutating_route_needs_the_token(tmp_path: Path) -> None:
    settings = _home(tmp_path, None)
    before = _state(settings)
    checked = []
    with (
        TestClient(create_app(settings, TOKEN)) as guarded,
        TestClient(create_app(settings, None)) as readonly,
    ):
        schema = guarded.get("/openapi.json").json()["paths"]  # every route the app serves
        for route, operations in schema.items():
            for method in sorted(
                m.upper() for m in operations if m.upper() in {"POST", "PUT", "PATCH", "DELETE"}
            ):
                if f"{method} {route}" in READ_ONLY:
                    continue
                path = _concrete(route)
                for headers, client, status in (
                    ({}, guarded, 401),
                    ({"Authorization": "Bearer wrong"}, guarded, 401),
                    ({"Authorization": f"Basic {TOKEN}"}, guarded, 401),
                    ({"Authorization": f"Bearer {TOKEN}"}, readonly, 403),
                ):
                    response = client.request(method, path, headers=headers, json={"rows": []})
                    assert response.status_code == status, (method, path, headers, response.text)
                checked.append(f"{method} {route}")
    assert _state(settings) == before
    write_figures("security-token", {"mutating_routes": checked})
    assert {"POST /transfers", "POST /jobs", "DELETE /subjects/{kind}/{name}"} <= set(checked)


@pytest.fixture
def roots(tmp_path: Path) -> dict[str, Path]:
    """An allowed folder with a good file and a symlink out, and a secret file beside it."""
    allowed, secret = tmp_path / "allowed", tmp_path / "secret"
    (allowed / "sub").mkdir(parents=True)
    secret.mkdir()
    rows = "".join(f'{{"text": "t{i}", "label": {i % 2}}}\n' for i in range(6))
    (allowed / "ok.jsonl").write_text(rows, encoding="utf-8")
    (secret / "data.jsonl").write_text(rows, encoding="utf-8")
    (allowed / "link.jsonl").symlink_to(secret / "data.jsonl")
    (allowed / "linkdir").symlink_to(secret)
    return {"allowed": allowed, "secret": secret}


def _escapes(allowed: Path, secret: Path) -> list[dict[str, Any]]:
    """Catalogue bodies naming a file outside ``allowed`` in every way we know."""
    data = lambda src: {"datasets": [{"source": src, "name": "x"}]}  # noqa: E731
    return [
        data(str(secret / "data.jsonl")),  # absolute path elsewhere
        data("/etc/passwd"),
        data(str(allowed / ".." / "secret" / "data.jsonl")),  # .. out of the root
        data(str(allowed / "sub" / ".." / ".." / "secret" / "data.jsonl")),
        data(os.path.relpath(secret / "data.jsonl")),  # relative to the server's folder
        data(str(allowed / "link.jsonl")),  # a symlink inside pointing out
        data(str(allowed / "linkdir" / "data.jsonl")),  # through a symlinked folder
        data("glue:rte@train"),  # a hub id is no file: refused over HTTP
        {"models": [{"source": str(secret), "name": "m"}]},
        {"probe_sets": [{"name": "p", "from": ["pkg:default-pool", str(secret / "data.jsonl")]}]},
        {"prompts": [{"name": "p", "llm": str(secret), "template": "{text}", "verbalizers": [["a"], ["b"]]}]},
    ]


def test_http_file_arguments_cannot_leave_the_allowed_roots(tmp_path: Path, roots: dict[str, Path]) -> None:
    settings = _home(tmp_path, str(roots["allowed"]))
    bodies = _escapes(roots["allowed"], roots["secret"])
    before = _state(settings)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(settings, TOKEN)) as client:
        for body in bodies:
            response = client.post("/jobs", json=body, headers=auth)
            assert response.status_code == 403, (body, response.text)
            assert "outside the folders this server may read" in response.json()["detail"]
        assert _state(settings) == before  # no job row, no catalogue file written
        ok = client.post("/jobs", json={"datasets": [{"source": str(roots["allowed"] / "ok.jsonl"), "name": "ok"}]},
                         headers=auth)  # fmt: skip
        assert ok.status_code == 202, ok.text
        job = ok.json()["job_id"]
        for _ in range(600):
            status = client.get(f"/jobs/{job}").json()["status"]
            if status != "running":
                break
            time.sleep(0.1)
        assert status == "done" and client.get("/datasets/ok").status_code == 200
    write_figures("security-roots", {"escapes_refused": len(bodies), "allowed_file_accepted": True})


def test_a_server_without_roots_reads_no_file(tmp_path: Path, roots: dict[str, Path]) -> None:
    settings = _home(tmp_path, None)
    with TestClient(create_app(settings, TOKEN)) as client:
        body = {"datasets": [{"source": str(roots["allowed"] / "ok.jsonl"), "name": "x"}]}
        response = client.post("/jobs", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 403 and "FUTE_HTTP_ROOTS" in response.json()["detail"]
