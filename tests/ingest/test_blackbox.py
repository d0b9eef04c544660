"""Black boxes for MTE on real models, offline: a MiniLM classifier, SmolLM2 with a prompt (locally and
through an OpenAI-compatible server started here), and wrapped Python callables.

SmolLM2 is converted from its packaged GGUF once per session (about 20-30 s) into a temporary folder;
set ``FUTE_TEST_LLM_CACHE`` to a folder to keep the conversion between runs.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from ingest.blackbox import Probe, check_probabilities
from ingest.blackbox import llm as llm_module
from ingest.blackbox.callable_box import CallableBlackBox
from ingest.blackbox.hf_classifier import HFClassifier
from ingest.blackbox.llm import CONVERTED_MARKER, PromptLLM, load_causal_lm, smollm2_folder
from ingest.blackbox.openai_http import MISSING_LOGPROB, OpenAICompletionsBox, class_scores, completions_url
from ingest.blackbox.prompt import fill_template
from ingest.surrogate import resolve
from registry.errors import ConfigError, NotFoundError, SourceUnavailableError

REPO = Path(__file__).resolve().parents[2]
SENTIMENT = "Review: {text}\nSentiment:"
SENTIMENT_WORDS = [["negative"], ["positive"]]
POSITIVE: Probe = ("I loved this film, wonderful", None)
NEGATIVE: Probe = ("A dreadful, boring waste of time", None)
NLI = "{{premise}}\nQuestion: {{hypothesis}} true, false, or maybe?"  # FUTE nli_use.json id 2
NLI_WORDS = [["true", "True"], ["maybe", "Maybe"], ["false", "False"]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def sentiment_box(llm_cache: Path) -> PromptLLM:
    """SmolLM2 with a plain sentiment prompt (a batch of 2 exercises left padding)."""
    return PromptLLM("pkg:smollm2", SENTIMENT, SENTIMENT_WORDS, llm_cache, batch_size=2)


@pytest.fixture(scope="session")
def classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MiniLM with a fresh 2-way head saved as a local classifier (the untrained head is enough here)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = tmp_path_factory.mktemp("classifier")
    src = resolve("pkg:all-minilm-l6-v2")
    labels = {0: "negative", 1: "positive"}
    model = AutoModelForSequenceClassification.from_pretrained(src, num_labels=2, id2label=labels)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(src).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def server_url(llm_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m tests.ingest.llm_server`` on a free loopback port, stopped after the session."""
    smollm2_folder(llm_cache)  # convert here, so the server only loads
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.ingest.llm_server",
                "--port",
                str(port),
                "--cache-dir",
                str(llm_cache),
            ],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"LLM server did not start:\n{log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- HFClassifier -------------------------------------------------------------------------------------


def test_hf_classifier_gives_probabilities_for_texts_and_pairs(classifier_dir: Path) -> None:
    box = HFClassifier(str(classifier_dir), batch_size=2)
    probes: list[Probe] = [
        ("a short one", None),
        ("A man is playing a guitar on the stage tonight.", "Someone plays music."),
        ("great movie", None),
        ("great movie", "terrible plot"),
        ("The stock market fell sharply today after the announcement.", None),
    ]
    probs = box.predict(probes)
    assert box.n_classes == 2 and box.labels == ["negative", "positive"]
    assert probs.dtype == np.float32 and probs.shape == (5, 2)
    check_probabilities(probs, 5, 2)
    assert not np.allclose(probs[2], probs[3])  # the second text is really encoded
    # Length-sorted, padded batches give each probe what it gets alone, in probe order.
    alone = np.vstack([box.predict([p]) for p in probes])
    assert np.allclose(probs, alone, atol=1e-5)
    assert box.predict([]).shape == (0, 2)


def test_hf_classifier_that_cannot_load_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot load classifier.*local folder"):
        HFClassifier(str(tmp_path / "no-such-model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="cannot load classifier"):
        HFClassifier(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="batch_size"):
        HFClassifier(str(tmp_path), batch_size=0)


# --- SmolLM2 conversion and PromptLLM -----------------------------------------------------------------


def test_smollm2_is_converted_once_and_reused(llm_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = smollm2_folder(llm_cache)
    marker = folder / CONVERTED_MARKER
    stamp = marker.stat().st_mtime_ns
    assert (folder / "model.safetensors").stat().st_size > 500e6  # fp32, not the 98 MB Q4_1
    assert json.loads(marker.read_text())["dtype"] == "float32"

    def no_conversion(*args: Any) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(llm_module, "_convert_gguf", no_conversion)
    assert smollm2_folder(llm_cache) == folder and marker.stat().st_mtime_ns == stamp
    assert not [p for p in llm_cache.iterdir() if p.name.startswith(".")]  # no temp folder left
    assert load_causal_lm("pkg:smollm2", llm_cache) is load_causal_lm(str(folder), llm_cache)


def test_unknown_or_unloadable_llm_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="known: pkg:smollm2"):
        load_causal_lm("pkg:gpt-nano", tmp_path)
    with pytest.raises(ConfigError, match="cannot load causal LM"):
        load_causal_lm(str(tmp_path / "missing"), tmp_path)


def test_prompt_llm_scores_sentiment_the_right_way_round(sentiment_box: PromptLLM) -> None:
    probs = sentiment_box.predict([POSITIVE, NEGATIVE])
    check_probabilities(probs, 2, 2)
    assert sentiment_box.n_classes == 2
    assert probs[0, 1] > 0.7 and probs[1, 1] < 0.3  # column 1 is "positive"
    assert sentiment_box.predict([]).shape == (0, 2)


def test_prompt_llm_batches_match_single_prompts(sentiment_box: PromptLLM) -> None:
    probes: list[Probe] = [
        POSITIVE,
        ("Meh.", None),
        NEGATIVE,
        ("It was fine, nothing special at all, really.", None),
    ]
    batched = sentiment_box.predict(probes)
    alone = np.vstack([sentiment_box.predict([p]) for p in probes])
    assert np.allclose(batched, alone, atol=1e-4)  # left padding with shifted positions changes nothing


def test_prompt_llm_rule_is_fute_floor_then_softmax(sentiment_box: PromptLLM) -> None:
    prompt, space = sentiment_box.prompts([POSITIVE])[0]
    assert prompt == "Review: I loved this film, wonderful\nSentiment:" and space
    logits = sentiment_box.next_token_logits([prompt])[0]
    ids = sentiment_box.verbalizer_ids(space)
    scores = np.array([max(float(logits[i]) for i in cls) for cls in ids]).clip(min=0)
    expected = np.exp(scores) / np.exp(scores).sum()
    assert np.allclose(sentiment_box.predict([POSITIVE])[0], expected, atol=1e-5)


def test_prompt_llm_fills_fute_pair_templates(llm_cache: Path) -> None:
    box = PromptLLM("pkg:smollm2", NLI, NLI_WORDS, llm_cache)
    probes: list[Probe] = [
        ("A dog runs in the park.", "An animal is outside."),
        ("It is raining.", "The sun is out."),
    ]
    check_probabilities(box.predict(probes), 2, 3)
    assert box.prompts(probes[:1])[0] == (
        "A dog runs in the park.\nQuestion: An animal is outside. true, false, or maybe?",
        True,
    )
    # a mixed probe set: a pair template gets an empty second text, a single template joined texts
    assert box.prompts([("only one text", None)])[0][0].startswith("only one text\nQuestion:  true")
    check_probabilities(box.predict([("only one text", None)]), 1, 3)
    chat = PromptLLM("pkg:smollm2", SENTIMENT, SENTIMENT_WORDS, llm_cache, use_chat_template=True)
    text, space = chat.prompts([POSITIVE])[0]
    assert text.endswith("<|im_start|>assistant\n") and not space
    check_probabilities(chat.predict([POSITIVE]), 1, 2)


def test_templates_and_verbalizers_are_checked() -> None:
    words = [["no"], ["yes"]]
    assert fill_template("{{ text }} / {text_pair} [{label_space}]", ("a {text_pair}", "b"), words) == (
        "a {text_pair} / b [no, yes]"  # a placeholder inside a probe text stays text
    )
    assert fill_template("{{premise}} {{hypothesis}} {{other}}", ("p", "h"), words) == "p h {{other}}"
    with pytest.raises(ConfigError, match="no \\{text\\} placeholder"):
        PromptLLM("pkg:smollm2", "Sentiment:", words, Path("unused"))
    with pytest.raises(ConfigError, match="at least 2 classes"):
        PromptLLM("pkg:smollm2", "{text}", [["yes"]], Path("unused"))
    with pytest.raises(ConfigError, match="empty"):
        OpenAICompletionsBox("http://127.0.0.1:1", "m", "{text}", [["yes"], [" "]])


# --- CallableBlackBox ---------------------------------------------------------------------------------


def test_callable_black_box_checks_every_output() -> None:
    def fixed(rows: list[list[float]]) -> Any:
        return lambda probes: rows

    ok = CallableBlackBox(fixed([[0.25, 0.75]]), 2)
    out = ok.predict([POSITIVE])
    assert out.dtype == np.float32 and out.tolist() == [[0.25, 0.75]] and ok.n_classes == 2
    bad_outputs = {
        "shape": [[0.25, 0.25, 0.5]],
        "negative": [[1.5, -0.5]],
        "NaN": [[float("nan"), 1.0]],
        "sum to 1": [[0.2, 0.2]],
    }
    for message, rows in bad_outputs.items():
        with pytest.raises(ValueError, match=f"callable black box .*{message}"):
            CallableBlackBox(fixed(rows), 2).predict([POSITIVE])
    with pytest.raises(ValueError, match="callable black box"):
        CallableBlackBox(lambda probes: "not numbers", 2).predict([POSITIVE])
    with pytest.raises(ConfigError, match="at least 2 classes"):
        CallableBlackBox(fixed([[1.0]]), 1)

    def broken(probes: Sequence[Probe]) -> npt.ArrayLike:
        raise KeyError("the function's own error")

    with pytest.raises(KeyError, match="own error"):
        CallableBlackBox(broken, 2).predict([POSITIVE])


# --- OpenAICompletionsBox -----------------------------------------------------------------------------


def test_openai_box_agrees_with_prompt_llm(server_url: str, sentiment_box: PromptLLM) -> None:
    probes: list[Probe] = [POSITIVE, NEGATIVE, ("It was fine, nothing special.", None)]
    local = sentiment_box.predict(probes)
    # K large enough that both verbalizers come back: then softmax over logprobs equals the logit rule
    # (the logits here are positive, so the floor at 0 does not act).
    remote = OpenAICompletionsBox(server_url, "smollm2", SENTIMENT, SENTIMENT_WORDS, top_logprobs=500)
    probs = remote.predict(probes)
    check_probabilities(probs, 3, 2)
    assert np.allclose(probs, local, atol=1e-3)
    assert list(np.argsort(probs[:, 1])) == list(np.argsort(local[:, 1]))
    few = OpenAICompletionsBox(server_url + "/v1/", "smollm2", SENTIMENT, SENTIMENT_WORDS, top_logprobs=5)
    check_probabilities(few.predict(probes), 3, 2)  # verbalizers outside the top 5: still valid rows


def test_openai_box_errors_name_the_url(server_url: str) -> None:
    port = _free_port()  # nothing listens there
    box = OpenAICompletionsBox(f"http://127.0.0.1:{port}", "m", SENTIMENT, SENTIMENT_WORDS, timeout=5)
    with pytest.raises(SourceUnavailableError, match=re.escape(f"127.0.0.1:{port}/v1/completions")):
        box.predict([POSITIVE])
    wrong_route = OpenAICompletionsBox(f"{server_url}/nope", "m", SENTIMENT, SENTIMENT_WORDS)
    with pytest.raises(SourceUnavailableError, match="HTTP 404"):
        wrong_route.predict([POSITIVE])
    with pytest.raises(ConfigError, match="http"):
        OpenAICompletionsBox("ftp://host", "m", SENTIMENT, SENTIMENT_WORDS)


def test_openai_box_rejects_replies_that_are_not_completions() -> None:
    replies = iter([b"<html>not json</html>", b'{"choices": []}'])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = next(replies)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        box = OpenAICompletionsBox(
            f"http://127.0.0.1:{server.server_address[1]}", "m", SENTIMENT, SENTIMENT_WORDS
        )
        with pytest.raises(SourceUnavailableError, match="did not return JSON"):
            box.predict([POSITIVE])
        with pytest.raises(SourceUnavailableError, match="top_logprobs"):
            box.predict([POSITIVE])
    finally:
        server.shutdown()
        server.server_close()


def test_class_scores_match_whole_tokens_with_the_leading_space_rule() -> None:
    top = {" positive": -1.0, "Ġnegative": -2.0, "yes": -0.5, " no": -3.0, "positive": -0.1}
    words = [["negative"], ["positive"]]
    assert class_scores(top, words, leading_space=True) == [-2.0, -1.0]
    assert class_scores(top, words, leading_space=False) == [MISSING_LOGPROB, -0.1]
    assert class_scores(top, [["no", "nope"], ["yes"]], leading_space=True) == [-3.0, MISSING_LOGPROB]
    assert completions_url("http://h:1/v1/") == completions_url("http://h:1") == "http://h:1/v1/completions"


def test_a_decoder_works_as_surrogate(llm_cache: Path) -> None:
    from ingest.methods.table import embed, method_params
    from ingest.surrogate import load_surrogate

    sur = load_surrogate("pkg:smollm2", cache_dir=llm_cache)
    assert sur.hidden_size == 576 and len(sur.weights_hash) == 64
    examples = [
        {"text": t, "text_pair": None, "label": i % 2}
        for i, t in enumerate(["great film", "awful plot", "loved it", "boring and slow", "a joy", "a mess"])
    ]
    text_vec = embed(sur, "textemb", method_params("textemb"), "classification", examples, 2)
    assert text_vec.shape == (576,) and np.isfinite(text_vec).all()
    tiny = method_params("taskemb", {"train_steps": 1, "batch_size": 3, "grad_examples": 6, "dim": 256})
    task_vec = embed(sur, "taskemb", tiny, "classification", examples, 2)
    assert task_vec.shape == (256,) and np.isfinite(task_vec).all()
    with pytest.raises(ConfigError):
        embed(sur, "tupate", method_params("tupate"), "classification", examples, 2)  # prefix: BERT-like only
