"""Progress of long steps (embedding, fine-tuning, gradient passes, MTE probing, encoding).

The loops that take time call ``stage(label, total)`` and advance it; what that shows depends on the
reporter the command installed with ``reporting(show)``:

* on an interactive terminal, a tqdm bar per stage with rate and ETA (left behind only when done);
* anywhere else (pipes, log files, CI), plain lines on stderr: the start, every tenth of the way and
  the end, each with the elapsed time and an ETA;
* no reporter (``--json``, the HTTP service, library use, worker threads): nothing, at no cost.

The reporter and the current subject (``scope``) live in context variables, so the methods need no
extra parameters and threads that did not install a reporter stay silent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

_SHOW: ContextVar[TextIO | None] = ContextVar("fute_progress_stream", default=None)
_SCOPE: ContextVar[str] = ContextVar("fute_progress_scope", default="")
STEPS = 10  # line mode: a line at every tenth of a stage


class Stage:
    """One long step: ``advance()`` per unit of work, ``close()`` at the end (or use ``with``)."""

    def __init__(self, label: str, total: int, stream: TextIO | None) -> None:
        """Args:
        label: What runs (``fine-tuning``), prefixed by the current scope.
        total: Units of work (steps, batches, probes).
        stream: Where to report; None: a silent stage.
        """
        self.label, self.total, self.done = label, max(int(total), 0), 0
        self.stream, self.start = stream, time.perf_counter()
        self._bar: Any = None
        self._shown = -1
        if stream is not None and self.total > 0:
            if stream.isatty():
                from tqdm import tqdm

                self._bar = tqdm(total=self.total, desc=label, file=stream, leave=False, dynamic_ncols=True)
            else:
                self._line()

    def advance(self, n: int = 1) -> None:
        """Record ``n`` more units done."""
        self.update(self.done + n)

    def update(self, done: int) -> None:
        """Record that ``done`` units are done."""
        done = min(max(done, self.done), self.total)
        step, self.done = done - self.done, done
        if self._bar is not None:
            self._bar.update(step)
        elif self.stream is not None and self.total and done * STEPS // self.total > self._shown:
            self._line()

    def close(self) -> None:
        """End the stage (a bar is removed; line mode prints the last line if not yet shown)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def _line(self) -> None:
        """``fine-tuning [dataset sst2 in te]: 8/16 (50%), 3.1 s, ETA 3.1 s``."""
        self._shown = self.done * STEPS // self.total
        elapsed = time.perf_counter() - self.start
        eta = (
            f", ETA {elapsed / self.done * (self.total - self.done):.1f} s"
            if 0 < self.done < self.total
            else ""
        )
        pct = 100 * self.done // self.total
        if self.stream is not None:
            print(f"{self.label}: {self.done}/{self.total} ({pct}%), {elapsed:.1f} s{eta}", file=self.stream)


def stage(label: str, total: int) -> Stage:
    """A stage of ``total`` units under the current reporter and scope (silent without a reporter).

    Args:
        label: What runs, e.g. ``fine-tuning``.
        total: Units of work.

    Returns:
        The stage; advance it and close it (``with stage(...) as st:``).
    """
    scope = _SCOPE.get()
    return Stage(f"{label} [{scope}]" if scope else label, total, _SHOW.get())


@contextmanager
def reporting(show: bool, stream: TextIO | None = None) -> Iterator[None]:
    """Report the stages run inside this block (bar on a terminal, lines otherwise).

    Args:
        show: False installs nothing (``--json``).
        stream: Where to write (default stderr).
    """
    token = _SHOW.set((stream or sys.stderr) if show else None)
    try:
        yield
    finally:
        _SHOW.reset(token)


@contextmanager
def scope(text: str) -> Iterator[None]:
    """Name what the stages inside belong to (``dataset sst2 in te``)."""
    token = _SCOPE.set(text)
    try:
        yield
    finally:
        _SCOPE.reset(token)
