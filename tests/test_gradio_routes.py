"""Every route Gradio mounts, attacked: no 5xx, no traceback, no outbound connection, no
upload kept; Gradio's file route fetches no URL; malformed events are one log line at most.

The site runs in this process on a real uvicorn server (the one `serve` builds, on a free
127.0.0.1 port) so the test sees its log and Gradio's cache. A second loopback server
stands in for the rest of the internet, and Gradio's address check is told that loopback
is public, as the probe that found the hole did: any URL the site would fetch reaches
that server, which records it. The routes are listed from the app itself, so a Gradio
upgrade that adds one is attacked too.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import safehttpx
from fastapi.routing import iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount

import app
from ingest.build import build_index
from retrieval.assistant import Assistant
from tests.conftest import CORPUS, ROOT
from web.feedback import FeedbackStore
from web.site import create_site, listen, server

pytestmark = pytest.mark.slow  # a real server: see the README's inner loop


class Elsewhere(ThreadingHTTPServer):
    """The internet, on loopback: answers anything with an HTML page named like an image
    (the shape of the file-route attack) and records every connection."""

    daemon_threads = True

    def __init__(self) -> None:
        self.hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                body = b"<script>fetch('/api/health')</script>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_HEAD = do_POST = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        request = super().get_request()
        self.hits.append(str(request[1]))
        return request

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@dataclass
class Served:
    url: str
    site: Any
    blocks: Any
    gradio: Any  # Gradio's own app, under the gate
    elsewhere: Elsewhere

    def kept_files(self) -> set[Path]:
        """Every file in Gradio's cache and upload folders."""
        folders = {Path(self.blocks.GRADIO_CACHE), Path(self.gradio.uploaded_file_dir)}
        return {p for folder in folders if folder.exists() for p in folder.rglob("*")}

    def idle(self, timeout: float = 30) -> None:
        """Wait until Gradio's queue has run every event it took."""
        queue = self.blocks._queue
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(queue) == 0 and all(job is None for job in queue.active_jobs):
                return
            time.sleep(0.1)
        raise AssertionError("Gradio's queue did not drain")


@pytest.fixture(scope="module")
def served(fake_embedder, tmp_path_factory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("gradio-routes")
    build_index(CORPUS, root / "index", fake_embedder, ROOT, progress=False)
    elsewhere = Elsewhere()
    threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
    patch = pytest.MonkeyPatch()
    # Loopback passes Gradio's "public address" check, as the probe had it: whatever URL
    # Gradio would fetch on the internet reaches `elsewhere` instead.
    patch.setattr(safehttpx, "is_public_ip", lambda ip: True)
    settings_ = app.Settings.from_env(
        {
            "HINGECOACH_RATE_LIMIT": "100000/minute",
            "HINGECOACH_FEEDBACK_RATE_LIMIT": "100000/minute",
            "HINGECOACH_COACH_TOOLS": "true",  # every event the app can have
        }
    )
    settings_.db = root / "log" / "questions.sqlite3"
    site = create_site(
        Assistant(root / "index", fake_embedder),
        settings_,
        FeedbackStore(settings_.db),
        private=(ROOT, root / "index"),
    )
    gate = next(r.app for r in site.router.routes if isinstance(r, Mount) and r.path == "")
    sock = listen("127.0.0.1", 0)
    runner = server(site, settings_)
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not runner.started and time.monotonic() < deadline:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield Served(url, site, gate.app.get_blocks(), gate.app, elsewhere)
    finally:
        runner.should_exit = True
        thread.join(30)
        elsewhere.shutdown()
        patch.undo()


def mounted_routes(site: Any) -> list[tuple[str, str, bool]]:
    """(method, path template, mounted by Gradio) for every route of the site."""
    out = []

    def walk(routes: Any, prefix: str, gradio: bool) -> None:
        for route in iter_route_contexts(routes):
            original = route.original_route
            if isinstance(original, Mount):
                walk(original.routes, prefix + original.path, gradio or original.path == "")
                continue
            for method in sorted(route.methods or ["GET"]):
                out.append((method, prefix + (route.path or ""), gradio))

    walk(site.routes, "", False)
    return out


def fill(template: str, elsewhere: str) -> list[str]:
    """Concrete paths for a route template, its parameters given hostile values."""
    import re

    names = re.findall(r"{([^}:]+)(:path)?}", template)
    if not names:
        return [template]
    values = [  # (for a path parameter, for a name); traversal: test_server_abuse.py
        (f"{elsewhere}/x.png", "chat"),
        (f"//{elsewhere.split('//')[1]}/x.png", "rate"),
        ("/etc/passwd", "999"),
        (str(ROOT / "app.py"), "x" * 300),
    ]
    paths = []
    for as_path, as_name in values:
        path = template
        for name, is_path in names:
            pattern = "{" + name + (is_path or "") + "}"
            path = path.replace(pattern, as_path if is_path else as_name)
        paths.append(path)
    return paths


def hostile_bodies(elsewhere: str, chat_fn: int) -> list[dict[str, Any]]:
    """Request bodies (httpx keyword arguments) naming outside URLs and local files."""
    remote = {"path": f"{elsewhere}/x.png", "url": f"{elsewhere}/x.png"}
    remote_meta = {**remote, "meta": {"_type": "gradio.FileData"}}
    local = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}
    history = [{"role": "user", "content": [{"type": "file", "file": remote_meta}]}]
    return [
        {},
        {"content": b"not json", "headers": {"content-type": "application/json"}},
        {"json": {"data": [remote_meta, []], "fn_index": chat_fn, "session_hash": "hostile"}},
        {"json": {"data": ["hi", history], "fn_index": chat_fn, "session_hash": "hostile"}},
        {"json": {"data": [local, [remote]], "message": remote_meta, "cue": local}},
        {"json": {"session_hash": "hostile", "fn_index": 999, "event_id": "x"}},
        {"files": {"files": ("x.html", b"<script>alert(1)</script>", "text/html")}},
    ]


SECRETS = ("root:x:0:0", "Hinge Coach's entry", "[build-system]")


def request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> tuple[int, str, bytes]:
    """(status, content type, first bytes): streams (Gradio's event streams never end) are
    read for a moment, then let go."""
    with client.stream(method, path, **kwargs) as response:
        kind = response.headers.get("content-type", "")
        head = b""
        if not kind.startswith("text/event-stream"):
            try:
                for chunk in response.iter_raw():
                    head += chunk
                    if len(head) > 4096:
                        break
            except httpx.ReadTimeout:
                pass
        return response.status_code, kind, head


def test_every_route_the_site_mounts_gradios_included_refuses_or_answers_harmlessly(
    served, capfd, caplog
):
    routes = mounted_routes(served.site)
    gradio_routes = [(m, t) for m, t, gradio in routes if gradio]
    assert len(gradio_routes) > 60  # Gradio's own routes were found, not only ours
    assert ("POST", "/gradio_api/process_recording") in gradio_routes
    config = httpx.get(f"{served.url}/config").json()
    chat_fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "chat")
    bodies = hostile_bodies(served.elsewhere.url, chat_fn)
    before = served.kept_files()
    problems, requests = [], 0
    with httpx.Client(base_url=served.url, timeout=httpx.Timeout(10, read=2)) as client:
        for method, template in sorted({(m, t) for m, t, _ in routes}):  # ours too
            for path in fill(template, served.elsewhere.url):
                for kwargs in bodies if method == "POST" else [{}]:
                    status, kind, head = request(client, method, path, **kwargs)
                    requests += 1
                    shaped = status < 400 or (
                        kind.startswith("application/json")
                        and (method == "HEAD" or "error" in json.loads(head))
                    )
                    leaked = [s for s in SECRETS if s.encode() in head]
                    if status >= 500 or not shaped or leaked:
                        problems.append((method, path[:80], str(kwargs)[:60], status, head[:80]))
            for other in ("PUT", "PROPFIND"):  # methods no route of the site takes
                status, kind, head = request(client, other, fill(template, "http://x")[0])
                if status != 405 or "error" not in json.loads(head):
                    problems.append((other, template, status, head[:80]))
    served.idle()
    assert problems == []
    assert served.elsewhere.hits == []  # nothing was fetched from anywhere
    assert served.kept_files() - before == set()  # no upload, no downloaded copy kept
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "Traceback" not in caplog.text
    assert requests > 400


FILE_URLS = [
    "/gradio_api/file={url}/x.png",
    "/gradio_api/file={url}/page.html",
    "/gradio_api/file={https}/x.png",
    "/gradio_api/file=HTTP://{host}/x.png",
    "/gradio_api/file=//{host}/x.png",
    "/gradio_api/file=http%3A%2F%2F{host}%2Fx.png",
    "/gradio_api/file/{url}/x.png",
    "/gradio_api/proxy={url}/x.png",
]


def test_the_file_route_fetches_no_url_and_serves_nothing_but_gradios_assets(served, capfd):
    # Gradio's own check would let the listener through: the attack is live if not gated.
    import asyncio

    assert asyncio.run(safehttpx.async_validate_url("127.0.0.1")) == "127.0.0.1"
    host = served.elsewhere.url.split("//")[1]
    with httpx.Client(base_url=served.url, timeout=10) as client:
        for template in FILE_URLS:
            path = template.format(url=served.elsewhere.url, https=f"https://{host}", host=host)
            for method in ("GET", "HEAD"):
                response = client.request(method, path)
                assert 400 <= response.status_code < 500, (method, path, response.status_code)
                assert response.headers["content-type"] == "application/json", path
                if method == "GET":
                    assert set(response.json()) == {"error"}, path
        for local in ("/etc/passwd", str(ROOT / "app.py"), served.blocks.GRADIO_CACHE):
            response = client.get(f"/gradio_api/file={local}")
            assert response.status_code == 404 and response.json() == {"error": "no such file."}
        # The routes the page does use still answer.
        assert client.get("/favicon.ico").status_code == 200
        assert client.get("/theme.css").status_code == 200
    assert served.elsewhere.hits == []
    assert "Traceback" not in "".join(capfd.readouterr())


def events(url: str) -> dict[str, int]:
    config = httpx.get(f"{url}/config").json()
    return {d["api_name"]: d["id"] for d in config["dependencies"] if d.get("api_name")}


def join(client: httpx.Client, body: dict[str, Any], timeout: float = 20) -> list[dict[str, Any]]:
    """Join Gradio's queue as the page does; the messages of the session until its event
    completes (or [] when the join itself is refused)."""
    joined = client.post("/gradio_api/queue/join", json=body)
    if joined.status_code != 200:
        return []
    messages = []
    params = {"session_hash": body["session_hash"]}
    with client.stream("GET", "/gradio_api/queue/data", params=params, timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                messages.append(json.loads(line[5:]))
                if messages[-1].get("msg") == "process_completed":
                    break
    return messages


def test_malformed_event_calls_get_a_json_4xx_or_an_error_event_and_one_log_line(
    served, capfd, caplog
):
    fns = events(served.url)
    with httpx.Client(base_url=served.url, timeout=30) as client:
        refused = [
            client.post("/gradio_api/queue/join", json=body)
            for body in (
                {"data": ["hi"], "fn_index": 999, "session_hash": "m1"},
                {"data": ["hi"], "fn_index": -1, "session_hash": "m1"},
                {"data": ["hi"], "fn_index": True, "session_hash": "m1"},
                {"data": [], "fn_index": fns["chat"], "session_hash": "m1"},
                {"data": "hi", "fn_index": fns["chat"], "session_hash": "m1"},
            )
        ]
        refused += [
            client.post("/gradio_api/call/v2/ask", json={}),
            client.post("/gradio_api/call/v2/ask", json={"question": "hi", "extra": 1}),
            client.post("/gradio_api/call/v2/nothing", json={"message": "hi"}),
            client.post("/gradio_api/call/v2/chat", json={"message": "hi"}),  # not documented
            client.post("/gradio_api/call/rate", json={"data": [[]]}),  # not a public endpoint
            client.post("/gradio_api/run/predict", json={"data": [None], "fn_index": 0}),
        ]
        for response in refused:
            assert 400 <= response.status_code < 500, response.text
            assert set(response.json()) == {"error"}, response.text
        assert client.post("/gradio_api/call/v2/ask", json={"question": "hi"}).status_code == 200

        # The thumbs and catalogue handlers, with event data the page never sends.
        history = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        for event_data in (
            {"index": None, "liked": True},
            {"index": 999},
            {"index": [None]},
            {"index": "0", "liked": "yes"},
            None,
            5,
            "x",
        ):
            messages = join(
                client,
                {
                    "data": [history],
                    "event_data": event_data,
                    "fn_index": fns["rate"],
                    "session_hash": "m2",
                },
            )
            assert messages and messages[-1]["msg"] == "process_completed"
            refused.append(messages)
        for event_data in (
            {"index": [999, 1]},
            {"index": None},
            {"index": "a"},
            {"index": [-1, 0]},
            [],
            None,
        ):
            messages = join(
                client,
                {
                    "data": [],
                    "event_data": event_data,
                    "fn_index": fns["pick"],
                    "session_hash": "m3",
                },
            )
            assert messages[-1]["msg"] == "process_completed", messages
            refused.append(messages)
    served.idle()
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "Traceback" not in caplog.text
    # Each malformed call is one log line at most (most are none: a refusal, or a handler
    # that ignores an event it does not understand).
    lines = [r for r in caplog.records if r.levelno >= 30]
    assert len(lines) + len([x for x in err.splitlines() if x.strip()]) <= len(refused)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
ROUTES = [
    "/gradio_api/queue/join",
    "/gradio_api/run/predict",
    "/gradio_api/call/chat",
    "/gradio_api/call/cue",
    "/gradio_api/call/v2/chat",
    "/gradio_api/call/v2/ask",
    "/gradio_api/call/v2/cue",
    "/gradio_api/cancel",
    "/gradio_api/reset",
]


def test_fuzzing_the_queue_api_gives_no_5xx_no_traceback_and_one_line_a_call(served, capfd, caplog):
    fn_ids = sorted(served.blocks.fns)
    calls: list[int] = []

    @st.composite
    def bodies(draw: Any) -> tuple[str, Any]:
        route = draw(st.sampled_from(ROUTES))
        fn = draw(st.sampled_from(fn_ids))
        size = len(served.blocks.fns[fn].inputs)
        body = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "fn_index": st.one_of(st.just(fn), st.integers(-3, 999), JSON),
                    "data": st.one_of(st.lists(JSON, min_size=size, max_size=size), JSON),
                    "session_hash": st.one_of(st.just("fuzz"), JSON),
                    "event_data": JSON,
                    "trigger_id": JSON,
                    "event_id": JSON,
                    "message": JSON,
                    "cue": JSON,
                },
            )
        )
        return route, draw(st.one_of(st.just(body), JSON))

    with httpx.Client(base_url=served.url, timeout=30) as client:

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(bodies())
        def call(case: tuple[str, Any]) -> None:
            route, body = case
            response = client.post(route, json=body)
            calls.append(response.status_code)
            assert response.status_code < 500, (route, body, response.text)
            if response.status_code >= 400:
                assert set(response.json()) == {"error"}, (route, body, response.text)

        call()
    served.idle()
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "Traceback" not in caplog.text
    lines = len([r for r in caplog.records if r.levelno >= 30])
    lines += len([x for x in err.splitlines() if x.strip()])
    assert lines <= len(calls)
    assert served.elsewhere.hits == []


def test_cue_checks_in_the_tab_spend_the_question_budget_of_the_api(fake_embedder, tmp_path):
    """/api/cue and the Cue check tab's endpoint draw on one `rate_limit` budget."""
    from fastapi.testclient import TestClient

    build_index(CORPUS, tmp_path / "index", fake_embedder, ROOT, progress=False)
    settings_ = app.Settings.from_env(
        {"HINGECOACH_RATE_LIMIT": "2/minute", "HINGECOACH_COACH_TOOLS": "true"}
    )
    settings_.db = tmp_path / "questions.sqlite3"
    site = create_site(
        Assistant(tmp_path / "index", fake_embedder), settings_, FeedbackStore(settings_.db)
    )
    with TestClient(site, base_url="http://127.0.0.1") as client:
        for _ in range(2):
            assert client.post("/api/cue", json={"cue": "soft knees"}).status_code == 200
        assert client.post("/api/cue", json={"cue": "soft knees"}).status_code == 429
        event = client.post("/gradio_api/call/cue", json={"data": ["soft knees"]}).json()
        result = client.get(f"/gradio_api/call/cue/{event['event_id']}").text
    assert "too many cue checks from your address (limit 2 per 1 minute)" in result
    assert "Found: an article uses this wording" not in result
