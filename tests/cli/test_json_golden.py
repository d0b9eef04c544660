"""Golden files of every ``--json`` command and every JSON HTTP route (issue 18: typed answers).

The answers became typed models; their JSON must stay byte-identical. A small registry (the web
tests' fake catalogue: six datasets, a classifier, an LLM, a prompt, a job; plus three real packaged
datasets, a second fake space and imported transfer results) is built, every command runs, and the
outputs are compared with ``tests/cli/golden/``. The goldens were written by this file's generator
against the code before the change::

    python tests/cli/test_json_golden.py --write tests/cli/golden

Only values that legitimately vary between runs are normalised (see ``normalise``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

GOLDEN = Path(__file__).resolve().parent / "golden"
TOKEN = "golden-token"
PACKAGED = ("sst2", "mrpc", "rte")
# (source, target, score, setting): measured transfers among the fake and the packaged datasets
TRANSFERS = [
    ("sent-b", "sent-a", 0.9, "full"), ("topic-a", "sent-a", 0.2, "full"), ("sst2", "sent-a", 0.7, "full"),
    ("sent-a", "sst2", 0.8, "full"), ("topic-b", "sst2", 0.1, "full"), ("mrpc", "sst2", 0.4, "full"),
    ("rte", "mrpc", 0.6, "full"), ("topic-c", "mrpc", 0.5, "full"), ("sst2", "mrpc", 0.3, "full"),
    ("sent-a", "sst2", 0.75, "few"), ("mrpc", "rte", 0.65, "full"), ("sst2", "rte", 0.2, "full"),
]  # fmt: skip

# CLI runs, in order: name -> argv after --home/--db (reads first, the transfer import is in build)
CLI = {
    "stats": ["stats", "--json"],
    "spaces_list": ["spaces", "list", "--json"],
    "datasets_list": ["datasets", "list", "--json"],
    "datasets_show_sst2": ["datasets", "show", "sst2", "--json"],
    "datasets_show_sent_a": ["datasets", "show", "sent-a", "--json"],
    "probes_list": ["probes", "list", "--json"],
    "sources": ["query", "sources", "--target", "sst2", "--space", "fake", "--json"],
    "sources_explain": ["query", "sources", "--target", "sst2", "--space", "fake", "--explain", "-k", "3", "--json"],
    "sources_similarity": ["query", "sources", "--target", "sent-a", "--ranking", "similarity", "--json"],
    "sources_fused": ["query", "sources", "--target", "sent-a", "--ranking", "similarity", "--space",
                      "fake,fake2", "--explain", "--json"],
    "sources_models": ["query", "sources", "--target", "sent-a", "--include-models", "--space", "fake",
                       "--setting", "full", "--prefer-measured", "--json"],
    "models": ["query", "models", "--target", "sent-a", "--space", "fake", "--json"],
    "prompts": ["query", "prompts", "--target", "sent-a", "--space", "fake", "--json"],
    "prompts_llm": ["query", "prompts", "--target", "sent-a", "--llm", "llm", "--explain", "--json"],
    "similar": ["query", "similar", "sent-a", "--space", "fake", "--json"],
    "similar_where": ["query", "similar", "topic-a", "--kind", "dataset", "--where", "family=topic", "--json"],
    "eval": ["eval", "--space", "fake", "--setting", "full", "--draws", "20", "--json"],
    "eval_similarity": ["eval", "--space", "fake", "--ranking", "similarity", "--setting", "full", "--json"],
    "eval_nested": ["eval", "--space", "fake", "--select", "nested", "--setting", "full", "--draws", "5", "--json"],
}  # fmt: skip

# HTTP GETs (path with query string), then POSTs/PATCH/DELETE with bodies, in this order
HTTP_GET = {
    "health": "/health",
    "spaces": "/spaces",
    "datasets": "/datasets",
    "datasets_page": "/datasets?limit=2&offset=1&format=classification&tag=family=sentiment",
    "dataset_sst2": "/datasets/sst2",
    "probes": "/probes",
    "stats": "/stats",
    "jobs": "/jobs",
    "jobs_entries": "/jobs?entries=true",
    "job": "/jobs/1",
    "q_sources": "/query/sources?target=sst2&space=fake",
    "q_sources_sim": "/query/sources?target=sent-a&ranking=similarity&space=fake,fake2&explain=true",
    "q_models": "/query/models?target=sent-a&space=fake",
    "q_prompts": "/query/prompts?target=sent-a&llm=llm",
    "q_similar": "/query/similar?name=sent-a&kind=dataset&where=family=topic",
    "eval": "/eval?space=fake&setting=full&n_draws=10",
}
HTTP_WRITE: dict[str, tuple[str, str, object]] = {
    "q_vector": ("POST", "/query/vector", {"space": "fake", "vector": [1.0] + [0.0] * 15, "k": 3}),
    "post_transfers": ("POST", "/transfers", {"rows": [{"source": "rte", "target": "sst2", "score": 0.5}]}),
    "patch_subject": ("PATCH", "/subjects/dataset/topic-b", {"add_tags": {"x": "y"}, "rename": "topic-bb"}),
    "delete_subject": ("DELETE", "/subjects/dataset/topic-c", None),
}


def build(home: Path) -> str:
    """The registry of the goldens at ``home``; returns the output of ``fute transfer import``."""
    from ingest.register import DatasetRequest, register_dataset
    from registry.api import EmbeddingItem, Registry
    from registry.settings import Settings
    from registry.spaces import SpaceConfig
    from registry.subjects import add_probe_set
    from tests.web.conftest import DIM, build_fake, cluster_vector

    reg = Registry(Settings.build(home=home))
    reg.init()
    ids = build_fake(reg)
    for i, name in enumerate(PACKAGED):
        req = DatasetRequest(source=f"pkg:{name}", name=name, limit=12, tags=(("family", "real"),))
        ids[name] = reg_id = register_dataset(reg, req).id
        reg.put_embeddings("fake", [EmbeddingItem(reg_id, cluster_vector("sentiment", 100 + i))])
    reg.create_space(SpaceConfig(name="fake2", surrogate="fake", method="fake", dim=DIM, metric="l2"))
    families = {n: "topic" if n.startswith("topic") else "sentiment" for n in ids}
    reg.put_embeddings(
        "fake2", [EmbeddingItem(i, cluster_vector(families[n], 50 + i)) for n, i in ids.items()]
    )
    with reg.db.transaction() as session:  # test set-up writes directly, as build_fake does
        add_probe_set(session, "mini", [("a probe", None), ("two", "texts")], seed=3)
    reg.close()
    csv = home / "transfers.csv"
    csv.write_text(
        "source,target,score,setting\n" + "".join(f"{s},{t},{v},{g}\n" for s, t, v, g in TRANSFERS)
    )
    return run_cli(home, ["transfer", "import", str(csv), "--origin", "golden", "--json"])


def run_cli(home: Path, argv: list[str]) -> str:
    """Stdout of ``fute --home HOME ARGV`` run in-process (exit status 0 asserted)."""
    from fute.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--home", str(home), *argv])
    assert code == 0, (argv, code)
    return out.getvalue()


def http_outputs(home: Path) -> dict[str, str]:
    """Status and raw body (key order included) of every HTTP call, by name."""
    from fastapi.testclient import TestClient

    from fute.http import create_app
    from registry.settings import Settings

    out = {}
    with TestClient(create_app(Settings.build(home=home), TOKEN)) as client:
        for name, path in HTTP_GET.items():
            resp = client.get(path)
            out[f"http_{name}"] = f"{resp.status_code}\n{resp.text}\n"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for name, (method, path, body) in HTTP_WRITE.items():
            resp = client.request(method, path, json=body, headers=auth)
            out[f"http_{name}"] = f"{resp.status_code}\n{resp.text}\n"
    return out


# ISO times (JSON and str() forms): stored creation/job times differ on every run; the placeholder
# keeps the form (``T`` or space separator, offset or none), so a change of form still shows
TIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ])\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?")
# measured durations; sizes of files on disk (SQLite pages and FAISS files depend on write timing)
VARYING = re.compile(r'("(?:seconds|index_bytes|database|indexes|models)": ?)[0-9.e+-]+')


def _time(match: re.Match[str]) -> str:
    """The placeholder of one time: ``<TIME>`` for ISO 8601, ``<TIME str>`` for ``str(datetime)``."""
    form = "" if match[1] == "T" else " str"
    return f"<TIME{form}{' tz' if match[3] else ''}>"


def normalise(text: str, home: Path) -> str:
    """Replace the run's home folder, times, durations and file sizes by placeholders."""
    text = text.replace(str(home), "<HOME>")
    text = TIME.sub(_time, text)
    return VARYING.sub(r'\1"<VARIES>"', text)


def outputs(home: Path) -> dict[str, str]:
    """Every golden output, normalised, by file stem."""
    raw = {"transfer_import": build(home)}
    raw |= {f"cli_{name}": run_cli(home, argv) for name, argv in CLI.items()}
    raw |= http_outputs(home)
    return {name: normalise(text, home) for name, text in raw.items()}


def _comparable(name: str, text: str) -> str:
    """The text as compared: CLI output byte for byte (it sorts its keys); an HTTP body with its
    objects' keys sorted, since FastAPI writes them in the response model's field order (JSON
    objects are unordered), while every value, ``1`` against ``1.0`` included, must stay."""
    if not name.startswith("http_"):
        return text
    status, _, body = text.partition("\n")
    return status + "\n" + json.dumps(json.loads(body), sort_keys=True)


def test_json_outputs_match_the_golden_files(tmp_path: Path) -> None:
    got = outputs(tmp_path / "home")
    wanted = {p.stem: p.read_text() for p in GOLDEN.glob("*.json")}
    assert sorted(got) == sorted(wanted)
    changed = [name for name in got if _comparable(name, got[name]) != _comparable(name, wanted[name])]
    assert not changed, f"--json / HTTP output changed: {changed}\n" + "\n".join(
        f"--- {n}\n{got[n][:2000]}" for n in changed[:3]
    )


def _write(folder: Path, tmp: Path) -> None:
    """Regenerate the goldens into ``folder`` (run against the code whose outputs are the contract)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in outputs(tmp / "home").items():
        (folder / f"{name}.json").write_text(text)


if __name__ == "__main__":
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, required=True, help="folder for the golden files")
    with tempfile.TemporaryDirectory() as tmp:
        _write(parser.parse_args().write, Path(tmp))
    sys.exit(0)
