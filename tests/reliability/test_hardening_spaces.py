"""Issue 17, cases 5 and 14: space parameters are checked (types, ranges, finite floats) before
anything is stored, and creating a space that exists with the same configuration is a skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.job_file import load_catalogue
from ingest.methods.table import method_params
from registry.api import Registry
from registry.errors import AlreadyExistsError, ConfigError, InvalidDataError
from registry.spaces import SpaceConfig
from tests.reliability.hardening import Home, make_home

BAD_PARAMS = [
    ("textemb", "max_examples=0", "max_examples"),
    ("textemb", "max_length=-1", "max_length"),
    ("textemb", "max_examples=-3", "max_examples"),
    ("textemb", "max_examples=1.5", "max_examples"),
    ("taskemb", "lr=nan", "lr"),
    ("taskemb", "lr=inf", "lr"),
    ("taskemb", "lr=-0.1", "lr"),
    ("taskemb", "dim=0", "dim"),
    ("taskemb", "variant=bogus", "variant"),
    ("tupate", "centered=maybe", "centered"),
    ("tupate", "seed=99999999999999999999999", "seed"),
]


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Home:
    return make_home(tmp_path, capsys)


@pytest.mark.parametrize(("method", "param", "field"), BAD_PARAMS)
def test_case05_bad_space_parameters_refused_on_the_cli(
    home: Home, method: str, param: str, field: str
) -> None:
    home.refuses("spaces", "create", "s", "--method", method, "--param", param, fragment=field)


def test_case05_bad_space_parameters_refused_in_a_catalogue(home: Home) -> None:
    path = home.files / "cat.yaml"
    path.write_text("spaces:\n  - {name: s, method: textemb, params: {max_examples: -3}}\n", encoding="utf-8")
    with pytest.raises(InvalidDataError, match=r"spaces\[0\].*max_examples"):
        load_catalogue(path)
    home.refuses("ingest", "catalogue", str(path), fragment="max_examples")


def test_case05_parameter_conversion_is_exact() -> None:
    assert method_params("tupate", {"centered": "false"}).centered is False  # bool("false") was True
    assert method_params("tupate", {"centered": "yes"}).centered is True
    assert method_params("taskemb", {"lr": "1e-4", "train_steps": "0"}).lr == 1e-4
    with pytest.raises(ConfigError, match="integer"):
        method_params("textemb", {"max_examples": 12.7})  # int(12.7) silently truncated before


def test_case14_same_space_twice_is_a_skip_other_parameters_an_error(home: Home) -> None:
    reg = Registry.open(home.settings)
    cfg = SpaceConfig(name="s", surrogate="fake", method="fake", dim=4, params={"lr": 0.1})
    first = reg.create_space(cfg)
    again = reg.create_space(cfg)  # what the second of two identical jobs does after the race
    assert again.id == first.id and len(reg.spaces()) == 1
    with pytest.raises(AlreadyExistsError, match=r"other parameters \(lr 0.1 -> 0.2\)"):
        reg.create_space(SpaceConfig(name="s", surrogate="fake", method="fake", dim=4, params={"lr": 0.2}))
    reg.close()


def _stored_textemb_space(home: Home) -> None:
    from ingest.methods.table import TextEmbParams

    reg = Registry.open(home.settings)
    params = TextEmbParams().to_dict()
    reg.create_space(
        SpaceConfig(name="s", surrogate="pkg:all-minilm-l6-v2", method="textemb", dim=384, params=params)
    )
    reg.close()


def _run(home: Home, text: str) -> dict[str, tuple[str, str | None]]:
    from ingest.engine import Engine
    from ingest.jobs import run_catalogue

    path = home.files / "cat.yaml"
    path.write_text(text, encoding="utf-8")
    reg = Registry.open(home.settings)
    report = run_catalogue(reg, Engine(reg), load_catalogue(path), show_progress=False)
    reg.close()
    return {e["key"]: (e["status"], e["error"]) for e in report.entries}


def test_case14_catalogue_space_same_parameters_skips_other_parameters_fail(home: Home) -> None:
    _stored_textemb_space(home)
    same = _run(home, "spaces:\n  - {name: s, method: textemb, params: {max_examples: 1000}}\n")
    assert same == {"space/s": ("skipped", "already exists")}
    other = _run(home, "spaces:\n  - {name: s, method: textemb, params: {max_examples: 5}}\n")
    status, error = other["space/s"]
    assert status == "failed" and "max_examples 1000 -> 5" in str(error)


def test_case14_entry_created_by_a_concurrent_job_is_a_skip(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.register_entries as setup

    real, calls = setup._exists, []

    def racing(reg: Registry, stmt: object) -> bool:
        calls.append(stmt)  # the first look misses the row the other job is about to commit
        return False if len(calls) == 1 else real(reg, stmt)

    monkeypatch.setattr(setup, "_exists", racing)
    source = home.files / "a.jsonl"
    entries = _run(home, f"datasets:\n  - {{source: {source}, name: a}}\n")
    assert entries == {"dataset/a": ("skipped", "already registered")}
    assert home.running_jobs() == 0
