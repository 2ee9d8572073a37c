"""The real server under abuse: no file leaves it, oversized, slow and dropped clients don't
stall anyone, and a short load run loses no log or feedback row (bench/load.py: full run).

One server (real model, real index, its own question log) for the whole module, on a free
127.0.0.1 port; raw sockets send paths exactly as written (no client-side normalising).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import struct
import threading
import time

import httpx
import pytest

from bench.load import Result, count_rows, drive, server
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # a real browser or server: see the README's inner loop

CLIENT_TIMEOUT = 6  # seconds the server gives a client for its headers, then its body


@pytest.fixture(scope="module")
def site(real_index_dir, tmp_path_factory):
    """(base URL, port, folder with the index copy, the log and canary files)."""
    root = tmp_path_factory.mktemp("served")
    shutil.copytree(real_index_dir, root / "index")
    (root / "index" / "canary.txt").write_text("CANARY-IN-INDEX", "utf-8")
    (root / "outside.txt").write_text("CANARY-OUTSIDE", "utf-8")
    env = {"HINGECOACH_CLIENT_TIMEOUT": str(CLIENT_TIMEOUT)}
    with server(root / "index", root / "log" / "questions.sqlite3", env) as url:
        yield url, int(url.rsplit(":", 1)[1]), root


def raw_request(port: int, request: bytes, timeout: float = 30) -> bytes:
    """Send bytes as they are, return everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        chunks = []
        while True:
            try:
                data = conn.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks) and len(b"".join(chunks)) > 200_000:
                break
    return b"".join(chunks)


def get(port: int, path: str) -> bytes:
    return raw_request(
        port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    )


SECRETS = {
    "app.py": '"""Hinge Coach\'s edge',
    "pyproject.toml": "[build-system]",
    "/etc/passwd": "root:x:0:0",
    "/proc/self/environ": "HINGECOACH_CLIENT_TIMEOUT",
}


def leak_paths(root) -> list[str]:
    targets = [
        str(ROOT / "app.py"),
        "app.py",
        "./pyproject.toml",
        "../../../../../../etc/passwd",
        "/etc/passwd",
        "/proc/self/environ",
        str(root / "outside.txt"),
        str(root / "index" / "canary.txt"),
        str(root / "index" / "meta.json"),
        str(root / "log" / "questions.sqlite3"),
        "/tmp/gradio/../../etc/passwd",
    ]
    paths = []
    for target in targets:
        encoded = target.replace("/", "%2F").replace(".", "%2E")
        paths += [
            f"/gradio_api/file={target}",
            f"/gradio_api/file={encoded}",
            f"/gradio_api/file={encoded.replace('%', '%25')}",  # double-encoded
            f"/file={target}",
            f"/gradio_api/proxy=file://{target}",
        ]
    for prefix in (
        "/assets",
        "/static",
        "/svelte",
        "/gradio_api/static",
        "/custom_component",
        "/docs-static",
        "/gradio.js",
        "/embed.js",
        "/favicon.ico",
    ):
        paths += [
            f"{prefix}/../../../../../../etc/passwd",
            f"{prefix}/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
            f"{prefix}/%2e%2e/%2e%2e/app.py",
            f"{prefix}/..%5c..%5capp.py",
            f"{prefix}/....//....//app.py",
        ]
    return paths + ["//etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/gradio_api/proxy=/etc/passwd"]


def test_no_file_outside_gradios_assets_is_served(site):
    url, port, root = site
    canaries = [*SECRETS.values(), "CANARY-OUTSIDE", "CANARY-IN-INDEX", '"format_version"']
    leaks = []
    for path in leak_paths(root):
        answer = get(port, path)
        assert answer.startswith(b"HTTP/1.1 "), (path, answer[:100])
        if any(canary.encode() in answer for canary in canaries):
            leaks.append(path)
    assert leaks == []
    assert get(port, "/favicon.ico").startswith(b"HTTP/1.1 200")  # assets still served


def test_uploads_are_refused(site):
    url, _, _ = site
    response = httpx.post(f"{url}/gradio_api/upload", files={"files": ("x.html", b"<script>")})
    assert response.status_code == 403
    assert response.json() == {"error": "this chat takes no uploads."}


def test_a_history_naming_a_file_does_not_leak_it(site):
    """Every chat event that takes the conversation and returns it, fed a history naming
    files: none may come back as a /gradio_api/file= copy (the undo button once did)."""
    url, _, root = site
    config = httpx.get(f"{url}/config", timeout=30).json()
    chatbot = next(c["id"] for c in config["components"] if c["type"] == "chatbot")
    events = [
        d["id"]
        for d in config["dependencies"]
        if chatbot in d["inputs"] and chatbot in d["outputs"]
    ]
    assert events
    for fn_index in events:
        for path in (str(ROOT / "app.py"), str(root / "outside.txt"), "/etc/passwd"):
            file = {"path": path, "meta": {"_type": "gradio.FileData"}}
            history = [
                {"role": "user", "content": [{"type": "file", "file": file}]},
                {"role": "assistant", "content": [{"type": "text", "text": "..."}]},
                {"role": "user", "content": [{"type": "text", "text": "<p>hi</p>"}]},
            ]
            body = {"data": [history], "fn_index": fn_index, "session_hash": "leak1234"}
            response = httpx.post(f"{url}/gradio_api/run/predict", json=body, timeout=30)
            assert "gradio_api/file=" not in response.text, (fn_index, path, response.text)
            assert "CANARY" not in response.text and "root:x:0:0" not in response.text


def test_no_share_link_analytics_or_share_button(site):
    url, _, _ = site
    config = httpx.get(f"{url}/config", timeout=30).json()
    assert config["analytics_enabled"] is False
    assert not config.get("share_url")
    chatbots = [c for c in config["components"] if c["type"] == "chatbot"]
    assert chatbots and all("share" not in c["props"]["buttons"] for c in chatbots)
    assert all(c["props"]["latex_delimiters"] == [] for c in chatbots)


def test_oversized_bodies_are_refused_and_the_server_carries_on(site):
    url, port, _ = site
    big = json.dumps({"question": "x" * 1_000_000}).encode()
    declared = httpx.post(
        f"{url}/api/ask", content=big, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    chunked = httpx.post(
        f"{url}/api/ask",
        content=iter([big[:20_000], big[20_000:60_000]]),  # no Content-Length
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413
    chat = httpx.post(f"{url}/gradio_api/queue/join", content=b"[" + b" " * 2_000_000 + b"]")
    assert chat.status_code == 413
    assert httpx.post(f"{url}/api/ask", json={"question": "what is a hip hinge"}).status_code == 200


def open_slow(port: int, kind: str) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT * 3)
    if kind == "headers":  # never finishes its headers
        conn.sendall(b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    else:  # finishes its headers, then trickles a body it never completes
        conn.sendall(
            b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
    return conn


def drop(port: int, request: bytes) -> None:
    """Send part of a request, then reset the connection."""
    conn = socket.create_connection(("127.0.0.1", port))
    conn.sendall(request)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def test_slow_and_dropped_clients_do_not_stall_others(site):
    url, port, _ = site
    kinds = ["body" if i % 2 == 0 else "headers" for i in range(60)]
    slow = [open_slow(port, kind) for kind in kinds]
    stop = threading.Event()

    def trickle() -> None:  # a byte now and then keeps each slow client "active"
        while not stop.wait(0.5):
            for conn, kind in zip(slow, kinds, strict=True):
                with contextlib.suppress(OSError):
                    conn.send(b" " if kind == "body" else b"X")

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        for _ in range(10):  # dropped mid-request: half a body, then a reset
            drop(
                port, b'POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n\r\n{"q'
            )
        with httpx.Client(base_url=url, timeout=60) as client:
            for _ in range(3):  # Gradio API readers that hang up mid-stream
                event = client.post("/gradio_api/call/ask", json={"data": ["how to hinge", []]})
                with client.stream("GET", f"/gradio_api/call/ask/{event.json()['event_id']}"):
                    pass
            began = time.monotonic()
            answers = [
                client.post("/api/ask", json={"question": q}).status_code
                for q in ("what is a hip hinge", "how much should my knees bend", "and my feet?")
            ]
            served_in = time.monotonic() - began
        # Everyone else was served while all 60 slow clients were still connected.
        assert answers == [200, 200, 200]
        still_waiting = sum(1 for conn in slow if not readable(conn))
        assert served_in < CLIENT_TIMEOUT and still_waiting == len(slow)
        # Then the slow ones are let go: a 408 for a body, a closed connection for headers.
        time.sleep(CLIENT_TIMEOUT + 2)
        replies = [receive_all(conn) for conn in slow]
    finally:
        stop.set()
        trickler.join()
        for conn in slow:
            conn.close()
    bodies = [r for r, kind in zip(replies, kinds, strict=True) if kind == "body"]
    headers = [r for r, kind in zip(replies, kinds, strict=True) if kind == "headers"]
    assert all(r.startswith(b"HTTP/1.1 408 ") for r in bodies), bodies[:2]
    assert all(b"took longer than" in r for r in bodies)
    assert all(r == b"" for r in headers)  # dropped without a word
    assert httpx.get(f"{url}/api/health").status_code == 200


def readable(conn: socket.socket) -> bool:
    conn.setblocking(False)
    try:
        return conn.recv(1, socket.MSG_PEEK) is not None
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        conn.setblocking(True)


def receive_all(conn: socket.socket) -> bytes:
    conn.settimeout(5)
    chunks = []
    try:
        while data := conn.recv(65536):
            chunks.append(data)
    except OSError:
        pass
    return b"".join(chunks)


def connect_from(address: str, port: int) -> socket.socket:
    """A connection to the server from another loopback address (all of 127/8 is local)."""
    conn = socket.socket()
    conn.bind((address, 0))
    conn.settimeout(5)
    conn.connect(("127.0.0.1", port))
    return conn


def test_one_address_reconnecting_hundreds_of_sockets_shuts_out_no_one(site):
    """127.0.0.2 holds 205 sockets that never finish their headers and reopens each one as
    soon as it is dropped or turned away, for two rounds of the client timeout; a visitor at
    127.0.0.3 asks /api/health five times a second all along."""
    url, port, _ = site
    seconds = 2 * CLIENT_TIMEOUT + 2
    stop = threading.Event()
    turned_away: list[bytes] = []
    opened = [0]

    def attack() -> None:
        conns: list[socket.socket] = []
        while not stop.is_set():
            for conn in [c for c in conns if readable(c)]:
                turned_away.append(receive_all(conn))
                conn.close()
                conns.remove(conn)
            while len(conns) < 205 and not stop.is_set():
                with contextlib.suppress(OSError):
                    conn = connect_from("127.0.0.2", port)
                    conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    conns.append(conn)
                    opened[0] += 1
            stop.wait(0.2)
        for conn in conns:
            conn.close()

    attacker = threading.Thread(target=attack, daemon=True)
    attacker.start()
    visitor = httpx.HTTPTransport(local_address="127.0.0.3")
    answers: list[tuple[int, float]] = []
    try:
        time.sleep(1)  # the attack is in full swing
        with httpx.Client(base_url=url, transport=visitor, timeout=10) as client:
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                began = time.monotonic()
                status = client.get("/api/health", headers={"Connection": "close"}).status_code
                answers.append((status, time.monotonic() - began))
                time.sleep(0.2)
    finally:
        stop.set()
        attacker.join(30)
    latencies = sorted(seconds for _, seconds in answers)
    print(
        f"\nattacker opened {opened[0]} sockets in {seconds + 1} s, {len(turned_away)} turned "
        f"away; visitor: {len(answers)} requests, statuses "
        f"{sorted({s for s, _ in answers})}, p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )
    assert {status for status, _ in answers} == {200}
    assert latencies[-1] < 5.0  # a loaded shared machine; before, every answer was a 503
    refusals = [r for r in turned_away if r.startswith(b"HTTP/1.1 503 ")]
    assert refusals, turned_away[:3]
    body = json.loads(refusals[0].split(b"\r\n\r\n", 1)[1])
    assert body == {
        "error": "too many open connections from your address (limit 32); "
        "try again in a few seconds."
    }


def test_past_200_connections_in_all_new_ones_get_a_json_503(site):
    url, port, _ = site
    conns = []
    try:
        for n in range(215):  # one each from 215 addresses: no address is over its own cap
            conn = connect_from(f"127.0.{10 + n // 200}.{1 + n % 200}", port)
            conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            conns.append(conn)
        time.sleep(0.5)
        busy = [receive_all(c) for c in conns if readable(c)]
    finally:
        for conn in conns:
            conn.close()
    assert busy and all(r.startswith(b"HTTP/1.1 503 ") for r in busy)
    assert json.loads(busy[0].split(b"\r\n\r\n", 1)[1]) == {
        "error": "the server is busy; try again in a few seconds."
    }
    assert httpx.get(f"{url}/api/health").status_code == 200


def test_a_short_load_run_loses_nothing(site):
    url, _, root = site
    db = root / "log" / "questions.sqlite3"
    logged_before, rated_before = count_rows(db)
    api, chat = asyncio.run(drive(url, clients=12, seconds=6))
    logged, rated = count_rows(db)
    result = Result(12, 6, api, chat, logged - logged_before, rated - rated_before)
    print("\n".join(result.lines()))
    assert api.errors_5xx == 0 and chat.errors_5xx == 0
    assert api.answered > 0 and chat.answered > 0
    assert result.logged["api"] == api.answered and result.logged["chat"] == chat.answered
    assert result.rated_rows == api.rated == api.answered
    assert result.nothing_lost
