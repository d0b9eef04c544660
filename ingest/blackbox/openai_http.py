"""A prompt on an LLM behind an OpenAI-compatible completions endpoint (vLLM, llama.cpp, TGI, OpenAI).

Request per prompt: ``POST {base_url}/v1/completions`` with ``max_tokens=1``, ``temperature=0`` and
``logprobs=K``; the answer is read from ``choices[i].logprobs.top_logprobs[0]`` (token string -> logprob
of the first generated token). Standard library only (urllib).

Scoring rule: for each class, the max logprob over its verbalizers, each looked up as the exact token
string the answer would start with (``" " + word`` after text on the same line, ``word`` after a line
break: the leading-space rule of :mod:`ingest.blackbox.prompt`; ``Ġ``/``▁`` space markers are read as a
space). Softmax over classes. A logprob is the logit minus the log partition of that position, the same
for every token, so this equals the softmax over the per-class max logits: FUTE's rule, except that

* the "floor at 0" of FUTE's logit rule cannot be reproduced (logprobs do not reveal the logits' offset);
  it only matters where every verbalizer logit of a class is negative, which the local
  :class:`ingest.blackbox.llm.PromptLLM` would floor and this box does not;
* a verbalizer outside the returned top K gets ``MISSING_LOGPROB`` (probability ~0 next to a class that
  was returned; all classes missing gives a uniform row); raise K where the server allows it (OpenAI
  caps it at 5, vLLM at 20 by default);
* a verbalizer is matched as a whole token: a word the server's tokenizer splits into several tokens
  never matches (the local box uses the word's first token). FUTE's verbalizers are single tokens on
  common BPE vocabularies.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.blackbox import Probe, check_probabilities
from ingest.blackbox.prompt import answer_position, check_prompt_config, fill_template
from registry.errors import ConfigError, SourceUnavailableError

MISSING_LOGPROB = -1.0e4
_SPACE_MARKERS = ("Ġ", "▁")  # byte-level BPE and SentencePiece spellings of a leading space


def completions_url(base_url: str) -> str:
    """``{base_url}/v1/completions``; a base URL that already ends in ``/v1`` (OpenAI-client style) works too.

    Raises:
        ConfigError: Not an http(s) URL.
    """
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"LLM endpoint must be an http(s) URL, got {base_url!r}")
    return f"{base}/completions" if base.endswith("/v1") else f"{base}/v1/completions"


def _token_text(token: str) -> str:
    """A returned token string with a leading space marker turned into a space."""
    return " " + token[1:] if token.startswith(_SPACE_MARKERS) else token


def class_scores(top: dict[str, float], verbalizers: list[list[str]], leading_space: bool) -> list[float]:
    """Per-class max logprob of the verbalizers in one ``top_logprobs`` entry.

    Args:
        top: Token string -> logprob of the first generated token.
        verbalizers: Answer words per class.
        leading_space: Look up ``" " + word`` instead of ``word``.

    Returns:
        One score per class (``MISSING_LOGPROB`` where no verbalizer was returned).
    """
    best: dict[str, float] = {}
    for token, logprob in top.items():
        text = _token_text(token)
        if math.isfinite(logprob) and logprob > best.get(text, -math.inf):
            best[text] = float(logprob)  # two ids may decode to one string: keep the likelier
    prefix = " " if leading_space else ""
    return [max(best.get(prefix + w, MISSING_LOGPROB) for w in words) for words in verbalizers]


class OpenAICompletionsBox:
    """A prompt on a remote LLM, read through the top logprobs of its first generated token."""

    def __init__(
        self,
        base_url: str,
        model: str,
        template: str,
        verbalizers: list[list[str]],
        api_key: str | None = None,
        timeout: float = 30,
        *,
        top_logprobs: int = 20,
    ) -> None:
        """Check the settings; nothing is sent until ``predict``.

        Args:
            base_url: Server root (``http://host:port``) or its ``/v1`` URL.
            model: The ``model`` field of each request.
            template: Prompt template (placeholders: :mod:`ingest.blackbox.prompt`).
            verbalizers: One list of answer words per class.
            api_key: Sent as ``Authorization: Bearer``; None sends no header.
            timeout: Seconds per request.
            top_logprobs: K, the ``logprobs`` field (how many first-token alternatives come back).

        Raises:
            ConfigError: Bad URL, template, verbalizers, timeout or K.
        """
        check_prompt_config(template, verbalizers)
        if timeout <= 0 or top_logprobs < 1:
            raise ConfigError(f"timeout must be > 0 and top_logprobs >= 1, got {timeout}, {top_logprobs}")
        self.url = completions_url(base_url)
        self.model = model
        self.template = template
        self.verbalizers = [list(words) for words in verbalizers]
        self.timeout = timeout
        self.top_logprobs = top_logprobs
        self._api_key = api_key

    @property
    def n_classes(self) -> int:
        """Number of classes (one per verbalizer list)."""
        return len(self.verbalizers)

    def _post(self, prompt: str) -> Any:
        """Send one completion request; returns the decoded JSON body."""
        body = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": 1,
            "temperature": 0,
            "logprobs": self.top_logprobs,
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:  # before URLError: it is a subclass
            detail = exc.read().decode("utf-8", "replace")[:300]
            hint = " (check api_key)" if exc.code in (401, 403) else ""
            raise SourceUnavailableError(
                f"LLM endpoint {self.url} answered HTTP {exc.code}{hint}: {detail}"
            ) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceUnavailableError(
                f"cannot reach LLM endpoint {self.url} ({reason}); is the server running and the URL right?"
            ) from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SourceUnavailableError(f"LLM endpoint {self.url} did not return JSON ({exc})") from exc

    def _first_token_top(self, reply: Any) -> dict[str, float]:
        """``choices[0].logprobs.top_logprobs[0]`` of a reply, checked."""
        try:
            top = reply["choices"][0]["logprobs"]["top_logprobs"][0]
            return {str(token): float(lp) for token, lp in top.items()}
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise SourceUnavailableError(
                f"LLM endpoint {self.url} returned no choices[0].logprobs.top_logprobs[0] "
                f"(does it support `logprobs` on /v1/completions?): {str(reply)[:300]}"
            ) from exc

    def predict(self, probes: Sequence[Probe]) -> npt.NDArray[np.float32]:
        """Verbalizer probabilities of each probe, one request per probe.

        Args:
            probes: n probes matching the template's placeholders.

        Returns:
            float32 array (n, n_classes): softmax over classes of the per-class max logprob.

        Raises:
            SourceUnavailableError: Connection failure, timeout, HTTP error or a malformed reply.
            InvalidDataError: A probe does not fit the template.
        """
        scores = np.zeros((len(probes), self.n_classes), dtype=np.float64)
        for row, probe in enumerate(probes):
            prompt, space = answer_position(fill_template(self.template, probe, self.verbalizers))
            top = self._first_token_top(self._post(prompt))
            scores[row] = class_scores(top, self.verbalizers, space)
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))  # stable softmax over classes
        return check_probabilities(shifted / shifted.sum(axis=1, keepdims=True), len(probes), self.n_classes)
