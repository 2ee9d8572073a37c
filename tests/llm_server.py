"""A scripted OpenAI-compatible chat server on loopback, for tests and demos.

It speaks the chat-completions streaming protocol (Server-Sent Events: `data:` chunks,
then `data: [DONE]`). The model name picks the script. A script's sentences cite
passages by a phrase ("{quad dominant}" -> the number of the prompt's passage that
contains it), so the replies stay right however retrieval orders the passages.

Run it by hand: `python -m tests.llm_server --port 8099`, then
`hingecoach serve --llm-base-url http://127.0.0.1:8099/v1 --llm-model hallucinated`.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD = [
    "In a hip hinge you should feel the work in your glutes, hamstrings and even your "
    "abdominals rather than all in your quadriceps {versus feeling all quadriceps}.",
    "Too much knee flexion can turn the hinge into a quad dominant movement and take the "
    "emphasis away from your posterior chain. {quad dominant}",
    "So keep a vertical shin angle and let most of the movement come from the hips "
    "{vertical shin angle}.",
]
HALLUCINATED_SENTENCE = (
    "Wearing flat shoes with a wide toe box is the best way to stop your quads from "
    "taking over {quad dominant}."
)
SCRIPTS: dict[str, list[str]] = {
    "good": GOOD,
    "hallucinated": [GOOD[0], GOOD[1], HALLUCINATED_SENTENCE],
    "bad-citation": [
        GOOD[0].replace("{versus feeling all quadriceps}", "{versus feeling all quadriceps}[7]"),
        "Quad soreness after hinging always means you are overtraining [9].",
        GOOD[1],
    ],
    "mostly-unsupported": [
        GOOD[1],
        HALLUCINATED_SENTENCE,
        "Stretching your quads for ten minutes before every session will fix this {quad dominant}.",
    ],
}
TIMEOUT_MODELS = {"hang"}  # stream a little, then go silent
SILENT_MODELS = {"silent"}  # accept the request, never answer
MALFORMED_MODELS = {"malformed"}  # a broken JSON chunk mid-stream
ERROR_MODELS = {"error"}  # HTTP 500


def passage_numbers(prompt: str) -> dict[int, str]:
    """Passage number -> its text, from the numbered passages of the prompt."""
    parts = re.split(r"^\[(\d+)\] \(", prompt, flags=re.M)
    return {int(n): text for n, text in zip(parts[1::2], parts[2::2], strict=True)}


def render(script: list[str], prompt: str) -> str:
    """The script with each {phrase} replaced by [n] of the passage containing it."""
    passages = passage_numbers(prompt)

    def cite(match: re.Match[str]) -> str:
        phrase = match.group(1).lower()
        found = [n for n, text in passages.items() if phrase in text.lower()]
        return f"[{found[0]}]" if found else "[1]"

    return " ".join(re.sub(r"\{([^}]+)\}", cite, s) for s in script)


def _chunk(model: str, content: str | None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    data = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(data)}\n\n".encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (e.g. after its timeout) is part of the script


class ScriptedLLM:
    """The server: start() on a free loopback port, records every request it gets."""

    def __init__(self, port: int = 0, hang_seconds: float = 5.0, delay: float = 0.005) -> None:
        self.requests: list[dict[str, Any]] = []
        self.hang_seconds = hang_seconds
        self.delay = delay
        self._stop = threading.Event()
        self._server = _Server(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # releases hanging handlers
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.requests.append(body)
                model = str(body.get("model", ""))
                if not self.path.endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found"}})
                elif model in SILENT_MODELS:
                    owner._stop.wait(owner.hang_seconds)
                elif model in ERROR_MODELS:
                    self._json(500, {"error": {"message": "scripted failure"}})
                else:
                    self._stream(model, body)

            def _json(self, status: int, data: dict[str, Any]) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _send(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _stream(self, model: str, body: dict[str, Any]) -> None:
                prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
                text = render(SCRIPTS.get(model, GOOD), prompt)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    self._send(_chunk(model, ""))
                    for i, piece in enumerate(re.findall(r"\S+\s*", text)):
                        if model in TIMEOUT_MODELS and i == 4:
                            owner._stop.wait(owner.hang_seconds)
                            return
                        if model in MALFORMED_MODELS and i == 6:
                            self._send(
                                b'data: {"id": "chatcmpl-scripted", "choices": [{"delta"\n\n'
                            )
                        self._send(_chunk(model, piece))
                        time.sleep(owner.delay)
                    self._send(_chunk(model, None, "stop"))
                    self._send(b"data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (e.g. its timeout): nothing to clean up

        return Handler


@contextmanager
def scripted_llm(**kwargs: Any) -> Iterator[ScriptedLLM]:
    """A running ScriptedLLM, stopped afterwards."""
    server = ScriptedLLM(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    server = ScriptedLLM(port=parser.parse_args().port)
    print(f"scripted chat server on {server.base_url}; models: {', '.join(SCRIPTS)}, hang, ...")
    server._thread.run()
