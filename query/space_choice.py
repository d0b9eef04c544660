"""The one rule that picks the embedding space of a command that names none, used by the CLI, the
HTTP service, the pages, the map and the Python facade alike:

``--space`` (``space=`` over HTTP), else the default stored with ``fute spaces default NAME``, else
``FUTE_DEFAULT_SPACE``, else the only space, else the space holding the most vectors (ties: the
older space). Whenever the rule, not the caller, picked the space, ``SpaceChoice.note`` is a one-line
note naming it and why, which the entry layer prints (stderr on the CLI) or returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from registry.api import Registry
from registry.defaults import space_names, stored_default_space
from registry.errors import ConfigError, SpaceNotFoundError

NAMED, STORED, ENV, ONLY, MOST = (
    "named",
    "registry default",
    "FUTE_DEFAULT_SPACE",
    "only space",
    "most vectors",
)
WHY = {
    STORED: "the registry default; change it with `fute spaces default NAME`",
    ENV: "from FUTE_DEFAULT_SPACE; `fute spaces default NAME` stores one in the registry",
    ONLY: "the only space",
    MOST: "the space with the most vectors; `fute spaces default NAME` fixes the choice",
}


@dataclass(frozen=True)
class SpaceChoice:
    """The spaces a command uses and why.

    Attributes:
        names: The spaces, in order (several only when named).
        reason: ``named``, ``registry default``, ``FUTE_DEFAULT_SPACE``, ``only space`` or ``most vectors``.
    """

    names: tuple[str, ...]
    reason: str

    @property
    def name(self) -> str:
        """The first (usually the only) space."""
        return self.names[0]

    @property
    def note(self) -> str | None:
        """One line naming the space the rule picked (None when the caller named it)."""
        if self.reason == NAMED:
            return None
        return f"space {self.name!r} ({WHY[self.reason]})"


def choose_spaces(
    reg: Registry, named: Sequence[str] = (), among: Sequence[str] | None = None, flag: str = "--space"
) -> SpaceChoice:
    """Apply the rule.

    Args:
        reg: The registry.
        named: Spaces the caller named (``--space a,b``); checked to exist, duplicates dropped.
        among: Restrict the fallbacks to these spaces (a subject page: the spaces holding the
            subject's vector); the stored default and ``FUTE_DEFAULT_SPACE`` apply only if among them.
        flag: How the caller names a space, for messages (``--space`` on the CLI, ``space=`` over HTTP).

    Returns:
        The choice.

    Raises:
        SpaceNotFoundError: A named space, or ``FUTE_DEFAULT_SPACE``, does not exist.
        ConfigError: There is no space at all (or none among ``among``).
    """
    known = space_names(reg.db)
    if named:
        for name in named:
            _check_known(name, known, flag)
        return SpaceChoice(tuple(dict.fromkeys(named)), NAMED)  # a space named twice counts once
    pool = [s for s in known if among is None or s in among]
    stored = stored_default_space(reg.db)
    if stored is not None and stored in pool:
        return SpaceChoice((stored,), STORED)
    env = reg.settings.default_space
    if env:
        _check_known(env, known, "FUTE_DEFAULT_SPACE")
        if env in pool:
            return SpaceChoice((env,), ENV)
    if len(pool) == 1:
        return SpaceChoice((pool[0],), ONLY)
    if not pool:
        raise ConfigError(_no_space_message(known, among))
    counts = {space.name: n for space, n in reg.spaces() if space.name in pool}
    best = min(pool, key=lambda s: (-counts.get(s, 0), pool.index(s)))
    return SpaceChoice((best,), MOST)


def _check_known(name: str, known: list[str], flag: str) -> None:
    if name not in known:
        listed = ", ".join(known) or "none (create one with `fute spaces create NAME --method textemb`)"
        sep = "" if flag.endswith("=") else " "
        raise SpaceNotFoundError(
            f"{flag}{sep}{name!r}: no embedding space has this name; known spaces: {listed}"
        )


def _no_space_message(known: list[str], among: Sequence[str] | None) -> str:
    if not known:
        return (
            "no embedding space exists yet; run `fute quickstart`, or "
            "`fute spaces create NAME --method textemb` then `fute embed SUBJECT --space NAME`"
        )
    return f"none of the spaces ({', '.join(known)}) holds a vector of this subject ({list(among or [])})"
