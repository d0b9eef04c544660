"""Catalogue files (YAML): the spaces, probe sets, datasets, models and prompts of one ingestion job.

```yaml
probe_sets:
  - {name: default, from: [pkg:default-pool], n: 1000}
spaces:
  - {name: taskemb, method: taskemb, probe_set: default, params: {variant: fute}}
datasets:
  - {source: pkg:sst2, name: sst2, tags: {family: sentiment}, limit: 1000}
models:
  - {source: ./models/sst2-clf, name: sst2-clf, kind: classifier}
prompts:
  - name: sentiment@smollm2
    llm: pkg:smollm2
    template: "Review: {text}\\nSentiment:"
    verbalizers: [[" negative"], [" positive"]]
```
The whole file is validated before anything is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingest.job_file_schema import check_entry
from registry.errors import InvalidDataError

SECTIONS = {
    "probe_sets": ({"name", "from"}, {"n", "seed", "exclude"}),
    "spaces": ({"name", "method"}, {"surrogate", "probe_set", "params", "index_type"}),
    "datasets": (
        {"source", "name"},
        {"format", "text", "text_pair", "label", "limit", "seed", "tags", "allow_duplicate"},
    ),
    "models": ({"source", "name"}, {"kind", "tags"}),
    "prompts": ({"name", "llm", "template", "verbalizers"}, {"tags", "llm_kind"}),
}


@dataclass
class Catalogue:
    """A parsed catalogue file: one list of entry dicts per section."""

    path: Path
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def entries(self, section: str) -> list[dict[str, Any]]:
        """Entries of one section (empty when absent)."""
        return self.sections.get(section, [])


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate a catalogue file.

    Raises:
        InvalidDataError: Unreadable file, bad YAML, unknown sections or keys, missing required
            keys, a field of the wrong type or range (``ingest.job_file_schema``), duplicate names
            (the message names the entry).
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidDataError(
            f"cannot read catalogue {path}: {exc.strerror}; pass a YAML catalogue file"
        ) from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidDataError(f"catalogue {path} is not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(raw, dict):
        raise InvalidDataError(f"catalogue {path} must be a mapping with sections {', '.join(SECTIONS)}")
    unknown = set(raw) - set(SECTIONS)
    if unknown:
        raise InvalidDataError(f"unknown catalogue sections {sorted(unknown)}; valid: {', '.join(SECTIONS)}")
    cat = Catalogue(path.resolve())
    for section, entries in raw.items():
        cat.sections[section] = _check_section(section, entries)
    return cat


def _check_section(section: str, entries: Any) -> list[dict[str, Any]]:
    required, optional = SECTIONS[section]
    if not isinstance(entries, list):
        raise InvalidDataError(f"catalogue section {section!r} must be a list of entries")
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{section}[{i}]"
        if not isinstance(entry, dict):
            raise InvalidDataError(f"{where} must be a mapping")
        missing = required - set(entry)
        extra = set(entry) - required - optional
        if missing or extra:
            raise InvalidDataError(
                f"{where}: missing {sorted(missing)} / unknown {sorted(extra)}; keys: {sorted(required | optional)}"
            )
        check_entry(section, where, entry)
        name = str(entry["name"])
        if name in seen:
            raise InvalidDataError(f"{where}: name {name!r} appears twice in {section}")
        seen.add(name)
    return entries
