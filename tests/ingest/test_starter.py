"""`fute ingest starter`: the offline starter catalogue and default probe set on a fresh install."""

from __future__ import annotations

from ingest import packaged
from ingest.probes import norm
from registry.api import Registry
from registry.models import Dataset, ProbeText
from registry.subjects import dataset_examples
from tests.ingest.conftest import Run


def test_starter_catalogue_and_default_probe_set(fute: Run, home: object) -> None:
    code, out, err = fute("ingest", "starter", "--limit", "200", "--json")
    assert code == 0, err
    datasets = out["datasets"]
    assert len(datasets) >= 10 and all(d["n_examples"] >= 50 for d in datasets)
    _, listing, _ = fute("datasets", "list", "--json")
    families = {v for d in listing for v in d["tags"]["family"]}
    assert len(families) >= 5 and {"sentiment", "topic", "nli", "yesno-qa"} <= families
    assert out["probe_set"]["n_texts"] == 1000
    from registry.settings import Settings

    reg = Registry.open(Settings.build(home=str(home)))
    with reg.db.read() as s:
        from sqlalchemy import select

        probes = s.scalars(select(ProbeText)).all()
        starter_texts = {
            norm(str(e[k]))
            for ds in s.scalars(select(Dataset))
            for e in dataset_examples(s, ds.id)
            for k in ("text", "text_pair")
            if e.get(k)
        }
    assert probes and not any(norm(p.text) in starter_texts for p in probes)
    assert sum(1 for p in probes if p.text_pair) > 0  # pairs as well as single texts
    code, again, _ = fute("ingest", "starter", "--json")
    assert code == 0 and all(d.get("skipped") for d in again["datasets"]) and again["probe_set"]["skipped"]
    assert len(packaged.starter_catalogue()) == len(datasets)
