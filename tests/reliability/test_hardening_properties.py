"""Issue 17, property-based: generated catalogue entries, job bodies, space parameters, option values
and transfer tables of every wrong type and range. Each one either succeeds or is refused with a
``RegistryError`` (CLI: exit 2 / HTTP: 4xx) that leaves the store unchanged; never a traceback, a
500 or a job left ``running``.

The fast tier runs ``FAST`` examples per property, the slow tier (``-m slow``) ``SLOW``; the figures
(inputs generated, refused, accepted, store changes on refusal, 500s, running jobs) are written to
``results/[reduced/]hardening.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fute.cli_types import int_range
from fute.http import create_app
from ingest.job_file_schema import check_entry
from ingest.methods.table import PARAM_TYPES, method_params
from query.transfer import ON_CONFLICT, import_transfer_rows
from registry.api import Registry
from registry.errors import RegistryError
from tests.reliability.common import write_figures
from tests.reliability.hardening import Home, make_home

FAST, SLOW = 120, 1200
FIGURES: Counter[str] = Counter()
TOKEN = "prop-token"
SLOW_SETTINGS = settings(max_examples=SLOW, deadline=None, suppress_health_check=list(HealthCheck))
FAST_SETTINGS = settings(max_examples=FAST, deadline=None, suppress_health_check=list(HealthCheck))

# Values of every JSON/YAML type, with the edges that broke things: huge ints, NaN, inf, negatives,
# empty and long strings, nested lists and mappings.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["pkg:sst2", "../etc/passwd", "/etc", "a b", "x" * 300, "nan", "-1", "0"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)

FIELDS = {
    "probe_sets": ["name", "from", "n", "seed", "exclude"],
    "spaces": ["name", "method", "surrogate", "probe_set", "params", "index_type"],
    "datasets": [
        "source",
        "name",
        "format",
        "text",
        "text_pair",
        "label",
        "limit",
        "seed",
        "tags",
        "allow_duplicate",
    ],
    "models": ["source", "name", "kind", "tags"],
    "prompts": ["name", "llm", "template", "verbalizers", "tags", "llm_kind"],
}


@st.composite
def entries(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A catalogue section and an entry whose fields hold arbitrary values."""
    section = draw(st.sampled_from(sorted(FIELDS)))
    keys = draw(st.lists(st.sampled_from(FIELDS[section]), unique=True, max_size=len(FIELDS[section])))
    return section, {k: draw(values) for k in keys}


@st.composite
def space_params(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    method = draw(st.sampled_from(sorted(PARAM_TYPES)))
    names = [f.name for f in PARAM_TYPES[method].__dataclass_fields__.values()] + ["bogus"]
    keys = draw(st.lists(st.sampled_from(names), unique=True, min_size=1, max_size=4))
    return method, {k: draw(scalars | st.integers(-5, 5).map(str)) for k in keys}


transfer_rows = st.lists(
    st.fixed_dictionaries(
        {
            "source": st.sampled_from(["a", "b", "c", "zz"]) | scalars,
            "target": st.sampled_from(["a", "b", "c"]) | scalars,
            "score": st.floats(allow_nan=True, allow_infinity=True) | scalars,
        },
        optional={"setting": st.sampled_from(["default", "", "x" * 101]) | scalars},
    ),
    max_size=6,
)


def _outcome(kind: str, refused: bool) -> None:
    FIGURES[f"{kind}:generated"] += 1
    FIGURES[f"{kind}:{'refused' if refused else 'accepted'}"] += 1


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    class _NoCapture:
        def readouterr(self) -> tuple[str, str]:
            return "", ""

    yield make_home(tmp_path_factory.mktemp("prop"), _NoCapture())  # type: ignore[arg-type]
    if FIGURES:
        totals = {k: v for k, v in sorted(FIGURES.items())}
        generated = sum(v for k, v in FIGURES.items() if k.endswith(":generated"))
        write_figures("hardening", {"counts": totals, "generated": generated})


def _check_entry_property(case: tuple[str, dict[str, Any]]) -> None:
    section, entry = case
    try:
        check_entry(section, f"{section}[0]", entry)
    except RegistryError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 1000
        _outcome("catalogue_entry", True)
        return
    _outcome("catalogue_entry", False)


def _space_params_property(case: tuple[str, dict[str, Any]]) -> None:
    method, params = case
    try:
        out = method_params(method, params)
    except RegistryError:
        _outcome("space_params", True)
        return
    for value in out.to_dict().values():  # accepted: every number is finite and in range
        assert not isinstance(value, float) or math.isfinite(value)
        assert not isinstance(value, int) or isinstance(value, bool) or 0 <= value < 2**32
    _outcome("space_params", False)


def _option_property(text: str) -> None:
    try:
        value = int_range(1, 10_000)(text)
    except argparse.ArgumentTypeError:
        _outcome("cli_option", True)
        return
    assert 1 <= value <= 10_000
    _outcome("cli_option", False)


def _transfer_property(home: Home, rows: list[dict[str, Any]], policy: str) -> None:
    before = home.state()
    reg = Registry.open(home.settings)
    try:
        import_transfer_rows(reg, rows, "prop", policy)
    except RegistryError:
        assert home.state() == before, "a refused transfer import changed the store"
        _outcome("transfer_rows", True)
        return
    finally:
        reg.close()
    _outcome("transfer_rows", False)


def _job_property(home: Home, body: Any) -> None:
    before = home.state()
    with TestClient(create_app(home.settings, TOKEN), raise_server_exceptions=False) as client:
        # json.dumps writes NaN / Infinity (as some clients do); the server must cope with those too
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        resp = client.post("/jobs", content=json.dumps(body), headers=headers)
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    if resp.status_code == 202:  # a valid body (no file, no pkg: source): its job must end
        deadline = time.monotonic() + 30
        while home.running_jobs() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert home.running_jobs() == 0
        _outcome("job_body", False)
        return
    assert 400 <= resp.status_code < 500
    assert home.state() == before and home.running_jobs() == 0
    _outcome("job_body", True)


job_bodies = st.one_of(
    values,
    st.dictionaries(
        st.sampled_from(sorted(FIELDS)), st.lists(entries().map(lambda c: c[1]), max_size=3), max_size=3
    ),
).filter(lambda b: "pkg:" not in repr(b))


@FAST_SETTINGS
@given(entries())
def test_property_catalogue_entries(case: tuple[str, dict[str, Any]]) -> None:
    _check_entry_property(case)


@FAST_SETTINGS
@given(space_params())
def test_property_space_params(case: tuple[str, dict[str, Any]]) -> None:
    _space_params_property(case)


@FAST_SETTINGS
@given(st.text(max_size=25) | st.integers().map(str) | st.floats().map(str))
def test_property_cli_int_options(text: str) -> None:
    _option_property(text)


@settings(max_examples=FAST // 3, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=transfer_rows, policy=st.sampled_from(ON_CONFLICT))
def test_property_transfer_tables(home: Home, rows: list[dict[str, Any]], policy: str) -> None:
    _transfer_property(home, rows, policy)


@settings(max_examples=FAST // 3, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=job_bodies)
def test_property_job_bodies(home: Home, body: Any) -> None:
    _job_property(home, body)


@pytest.mark.slow
@SLOW_SETTINGS
@given(entries())
def test_property_catalogue_entries_slow(case: tuple[str, dict[str, Any]]) -> None:
    _check_entry_property(case)


@pytest.mark.slow
@SLOW_SETTINGS
@given(space_params())
def test_property_space_params_slow(case: tuple[str, dict[str, Any]]) -> None:
    _space_params_property(case)


@pytest.mark.slow
@settings(max_examples=SLOW // 3, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=transfer_rows, policy=st.sampled_from(ON_CONFLICT))
def test_property_transfer_tables_slow(home: Home, rows: list[dict[str, Any]], policy: str) -> None:
    _transfer_property(home, rows, policy)


@pytest.mark.slow
@settings(max_examples=SLOW // 3, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=job_bodies)
def test_property_job_bodies_slow(home: Home, body: Any) -> None:
    _job_property(home, body)


def test_figures_written_last(home: Home) -> None:
    """Keeps the module fixture alive to the end so that it writes the figures of every property."""
    assert FIGURES["catalogue_entry:generated"] >= 1 or not FIGURES
