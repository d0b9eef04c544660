"""Typed models of catalogue entries (YAML files and ``POST /jobs`` bodies share them).

Every entry is checked here, before a job row or anything else is written: types (a ``source`` of
123 or ``tags`` given as a list are refused), ranges (positive counts, seeds that numpy accepts),
known enums (methods, formats, model kinds, index types), lengths and tag-key syntax. Strict types:
YAML turns ``name: 1`` into an int, and silently stringifying it hid mistakes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError, field_validator

from registry.errors import ConfigError, InvalidDataError
from registry.validate import MAX_SEED, check_tag, shown

# Kept literal (not imported) so that loading a catalogue never imports torch; a test checks
# that they match ingest.methods.table.METHODS, ingest.formats.FORMATS and the black-box kinds.
Method = Literal["textemb", "taskemb", "tupate"]
Format = Literal[
    "classification",
    "pair-classification",
    "regression",
    "pair-regression",
    "multiple-choice",
    "extractive-qa",
]
ModelKind = Literal["classifier", "llm", "openai", "callable"]
IndexType = Literal["flat", "ivf", "ivfpq"]

Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=4096)]
Count = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
Seed = Annotated[int, Field(strict=True, ge=0, le=MAX_SEED)]
Scalar = StrictStr | StrictBool | Annotated[int, Field(strict=True)] | Annotated[float, Field(strict=True)]
Tags = dict[StrictStr, Scalar | list[Scalar]]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _tags_ok(tags: Tags | None) -> Tags | None:
    for key, value in (tags or {}).items():
        for v in value if isinstance(value, list) else [value]:
            check_tag(key, v)
    return tags


class ProbeSetEntry(_Entry):
    """``probe_sets[i]``: a probe set built from sources."""

    name: Name
    sources: Text | Annotated[list[Text], Field(min_length=1, max_length=100)] = Field(alias="from")
    n: Count = 1000
    seed: Seed = 13
    exclude: list[Name] = []


class SpaceEntry(_Entry):
    """``spaces[i]``: an embedding space (its ``params`` are checked by the method's own rules)."""

    name: Name
    method: Method
    surrogate: Text | None = None
    probe_set: Name | None = None
    params: dict[StrictStr, Scalar] | None = None
    index_type: IndexType = "flat"


class DatasetEntry(_Entry):
    """``datasets[i]``: a dataset to register."""

    source: Text
    name: Name
    format: Format | None = None
    text: Text | None = None
    text_pair: Text | None = None
    label: Text | None = None
    limit: Count = 1000
    seed: Seed = 0
    tags: Tags | None = None
    allow_duplicate: StrictBool = False

    _check_tags = field_validator("tags")(_tags_ok)


class ModelEntrySpec(_Entry):
    """``models[i]``: a model (black box) to register."""

    source: Text
    name: Name
    kind: ModelKind = "classifier"
    tags: Tags | None = None

    _check_tags = field_validator("tags")(_tags_ok)


class PromptEntry(_Entry):
    """``prompts[i]``: a prompt on an LLM."""

    name: Name
    llm: Text
    template: Annotated[StrictStr, Field(min_length=1, max_length=20_000)]
    verbalizers: Annotated[
        list[StrictStr | Annotated[list[StrictStr], Field(min_length=1)]], Field(min_length=2)
    ]
    tags: Tags | None = None
    llm_kind: ModelKind = "llm"

    _check_tags = field_validator("tags")(_tags_ok)


ENTRY_MODELS: dict[str, type[_Entry]] = {
    "probe_sets": ProbeSetEntry,
    "spaces": SpaceEntry,
    "datasets": DatasetEntry,
    "models": ModelEntrySpec,
    "prompts": PromptEntry,
}


# What to write instead, per field (pydantic's message says what is wrong, this says how to fix it).
FIXES = {
    "tags": "write tags as a mapping of key to value(s), e.g. {family: nli, lang: [en, de]}",
    "params": "write params as a mapping of parameter to value, e.g. {max_examples: 500}",
    "from": "write a source or a list of sources, e.g. [pkg:default-pool]",
    "verbalizers": "write one word (or list of words) per class, e.g. [[' no'], [' yes']]",
}
_UNION_TAGS = ("str", "bool", "int", "float", "list[")


def _field_path(loc: tuple[Any, ...]) -> str:
    # pydantic names the union member it tried (tags.x.str); users only need the field path.
    parts = [str(p) for p in loc if not str(p).startswith(_UNION_TAGS)]
    return ".".join(parts) or "entry"


def check_entry(section: str, where: str, entry: dict[str, Any]) -> None:
    """Validate one entry against its section's model.

    Args:
        section: Catalogue section (a key of ``ENTRY_MODELS``).
        where: Position named in the error (``datasets[2]``).
        entry: The raw entry mapping.

    Raises:
        InvalidDataError: The first bad field, its value and what is expected.
    """
    try:
        ENTRY_MODELS[section].model_validate(entry)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = _field_path(tuple(err["loc"]))
        name = entry.get("name")
        label = f"{where} ({name!r})" if isinstance(name, str) else where
        value = shown(err.get("input"), 50)
        message = str(err["msg"]).removeprefix("Value error, ")
        fix = FIXES.get(field.split(".")[0])
        raise InvalidDataError(
            f"{label}: field {field} = {value} is invalid: {message}" + (f"; {fix}" if fix else "")
        ) from None
    except RecursionError:  # a YAML self-alias (tags: &a [*a]) nests forever
        raise InvalidDataError(f"{where}: a value refers to itself (YAML alias loop); write it out") from None
    if section == "spaces":
        _check_space_params(where, entry)


def _check_space_params(where: str, entry: dict[str, Any]) -> None:
    """The method's own ranges (``ingest.methods.table``), so a bad ``params`` value fails the
    whole catalogue up front instead of the space entry halfway through the job."""
    from ingest.methods.table import method_params  # imports torch: only for catalogues with spaces

    try:
        method_params(entry["method"], entry.get("params"))
    except ConfigError as exc:
        raise InvalidDataError(f"{where} ({entry['name']!r}): {exc}") from None
