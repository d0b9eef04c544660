"""A tiny OpenAI-compatible completions server on a local causal LM, for tests.

Run: ``python -m tests.ingest.llm_server --port 8011 --cache-dir /tmp/llm-cache`` (or set
``FUTE_LLM_CACHE``). Serves ``GET /health`` and ``POST /v1/completions`` with the fields
``prompt`` (string or list), ``max_tokens`` (must be 1), ``logprobs`` (K top alternatives of the first
token) and ``temperature`` (ignored: the answer is always the argmax). The reply has the OpenAI
completions shape: ``choices[i].text`` and ``choices[i].logprobs.top_logprobs = [{token: logprob}]``,
each token spelled as the tokenizer decodes that single id (leading spaces kept).

Each prompt runs alone (no padding), so the numbers are what the model gives that exact text.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import torch

from ingest.blackbox.llm import DEFAULT_LLM, load_causal_lm


def first_token(tokenizer: Any, model: Any, prompt: str, k: int) -> tuple[str, float, dict[str, float]]:
    """Greedy first token after ``prompt``, its logprob, and the top-k alternatives (token -> logprob)."""
    enc = tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        logits = model(**enc, logits_to_keep=1).logits[0, -1].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    values, ids = torch.topk(logprobs, max(k, 1))
    top: dict[str, float] = {}
    for value, token_id in zip(values.tolist(), ids.tolist(), strict=True):
        top.setdefault(tokenizer.decode([token_id]), value)  # two ids, one string: keep the likelier
    best = tokenizer.decode([ids[0].item()])
    return best, float(values[0]), dict(list(top.items())[:k])


def completion(tokenizer: Any, model: Any, lock: threading.Lock, request: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI completions reply to one request body.

    Raises:
        ValueError: A field the server does not support (the handler answers HTTP 400).
    """
    prompts = request.get("prompt")
    prompts = [prompts] if isinstance(prompts, str) else prompts
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise ValueError("`prompt` must be a string or a non-empty list of strings")
    if request.get("max_tokens", 16) != 1:
        raise ValueError("this test server generates exactly one token: send max_tokens=1")
    k = request.get("logprobs")
    if k is not None and (not isinstance(k, int) or k < 0):
        raise ValueError("`logprobs` must be a non-negative integer")
    choices = []
    for index, prompt in enumerate(prompts):
        with lock:  # one forward at a time: torch already uses every core
            text, logprob, top = first_token(tokenizer, model, prompt, k or 0)
        logprobs = None
        if k is not None:
            logprobs = {
                "tokens": [text],
                "token_logprobs": [logprob],
                "top_logprobs": [top],
                "text_offset": [0],
            }
        choices.append({"index": index, "text": text, "logprobs": logprobs, "finish_reason": "length"})
    return {
        "id": f"cmpl-{time.time_ns()}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": str(request.get("model", "")),
        "choices": choices,
    }


def make_server(host: str, port: int, tokenizer: Any, model: Any) -> ThreadingHTTPServer:
    """An HTTP server bound to (host, port) that answers with ``model``."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/health":
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self._send(200, completion(tokenizer, model, lock, body))
            except (ValueError, AttributeError) as exc:  # bad JSON, or a body that is not an object
                self._send(400, {"error": {"message": str(exc), "type": "invalid_request_error"}})

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, load the model, serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--source", default=DEFAULT_LLM, help="LLM: pkg:smollm2, hub id or local folder")
    parser.add_argument("--cache-dir", default=os.environ.get("FUTE_LLM_CACHE"), help="env FUTE_LLM_CACHE")
    args = parser.parse_args(argv)
    if not args.cache_dir:
        parser.error("--cache-dir (or FUTE_LLM_CACHE) is required: where pkg:smollm2 is converted")
    tokenizer, model = load_causal_lm(args.source, Path(args.cache_dir))
    server = make_server(args.host, args.port, tokenizer, model)
    print(f"serving {args.source} on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
