"""Every message points at a real next step: empty rankings, an unknown LLM, no SQLAlchemy warning on
``query prompts --llm``, library warnings only under ``--debug``, quiet exit on a closed pipe."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings

import pytest

from fute.cli import main
from fute.cli_common import CLOSED_PIPE_EXIT
from query import service as qs
from registry.api import Registry
from tests.query.conftest import Run


def test_empty_model_ranking_says_what_to_register(fute: Run) -> None:
    # before: "(no entry passes the filters)" although no filter was given
    code, text, _ = fute("query", "models", "--target", "sent-a", "--space", "small")
    assert code == 0
    assert "no model has a vector in space 'small' yet; register one with `fute ingest model" in text
    code, text, _ = fute("query", "prompts", "--target", "sent-a", "--space", "small")
    assert "no prompt has a vector in space 'small' yet" in text and "fute ingest prompt" in text
    code, text, _ = fute("query", "models", "--target", "sent-a", "--space", "fake", "--where", "family=x")
    assert "no entry passes the --where filters; relax them" in text


def test_unknown_llm_lists_the_llms_that_have_prompts(fute: Run) -> None:
    # before: "no prompts run on an LLM named 'nosuch'; see `fute stats`" (stats lists no LLM)
    code, _, err = fute("query", "prompts", "--target", "sent-a", "--space", "fake", "--llm", "nosuch")
    assert (
        code == 2 and "--llm 'nosuch': no prompts run on an LLM of that name; LLMs with prompts: llm" in err
    )


def test_prompts_on_one_llm_raise_no_sqlalchemy_warning(two_spaces: Registry) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = qs.query_prompts(two_spaces, "sent-a", qs.QueryOptions(spaces=("fake",)), llm="llm")
    assert [r["name"] for r in out["results"]] == ["p-sent"]
    assert not [w for w in caught if "SAWarning" in type(w.message).__name__], [
        str(w.message) for w in caught
    ]


def test_library_warnings_are_logged_only_under_debug(
    two_spaces: Registry, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="fute.warnings")
    with warnings.catch_warnings():  # restores the warning display after the test
        warnings.simplefilter("always")
        assert main(["--home", str(two_spaces.settings.home), "spaces", "list"]) == 0
        warnings.warn("noise from a library", FutureWarning, stacklevel=1)
    assert "noise from a library" not in capsys.readouterr().err
    assert "FutureWarning: noise from a library" in caplog.text


def test_closed_pipe_exits_quietly(two_spaces: Registry) -> None:
    # before: `fute datasets list --json | head` ended in a BrokenPipeError traceback
    cmd = [
        sys.executable,
        "-m",
        "fute.cli",
        "--home",
        str(two_spaces.settings.home),
        "datasets",
        "list",
        "--json",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before the command writes anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == CLOSED_PIPE_EXIT
    assert "Traceback" not in err and "BrokenPipe" not in err and "error" not in err.lower(), err
