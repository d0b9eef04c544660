"""Names the entry layer shows before anything is embedded: methods, the default surrogate, model kinds.

They live apart from the modules that use them so that building the CLI, `--help` and read-only
commands never import torch or transformers (those load only when something is embedded).
"""

from __future__ import annotations

METHODS = ("textemb", "taskemb", "tupate")
DEFAULT_SURROGATE = "pkg:all-minilm-l6-v2"
MODEL_KINDS = ("classifier", "llm", "openai", "callable")
DEFAULT_POOL = "pkg:default-pool"  # the packaged probe pool
