"""Issue 17, case 11 and the HTTP part of 15: integers beyond 64 bits are a 422, not a 500, and a
422 never echoes a huge body back."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fute.http import create_app
from tests.reliability.hardening import Home, make_home

HUGE = str(2**70)


@pytest.fixture
def client(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> TestClient:
    home: Home = make_home(tmp_path, capsys)
    return TestClient(create_app(home.settings, "t"), raise_server_exceptions=False)


@pytest.mark.parametrize(
    "url", [f"/jobs/{HUGE}", f"/jobs?offset={HUGE}", f"/datasets?offset={HUGE}", "/jobs/0"]
)
def test_case11_integers_beyond_64_bits_are_422(client: TestClient, url: str) -> None:
    resp = client.get(url)
    assert resp.status_code == 422, (resp.status_code, resp.text[:200])


def test_case11_largest_sql_integer_is_fine(client: TestClient) -> None:
    assert client.get(f"/jobs?offset={2**63 - 1}").status_code == 200
    assert client.get(f"/jobs/{2**63 - 1}").status_code == 404


def test_case15_a_422_does_not_echo_a_huge_body(client: TestClient) -> None:
    resp = client.post("/query/vector", json={"space": "s", "vector": "x" * 3_500_000})
    assert resp.status_code == 422
    assert len(resp.content) < 2_000, len(resp.content)
    assert resp.json()["detail"][0]["loc"] == ["body", "vector"]
