"""Nothing touches the network: ingest and ask run with every socket refused."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import CORPUS, ROOT

pytestmark = pytest.mark.slow  # a real browser or server: see the README's inner loop

GUARD = textwrap.dedent(
    """
    import socket, sys
    def refuse(*args, **kwargs):
        raise OSError("network access attempted: " + repr(args[:2]))
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    sys.path.insert(0, {root!r})
    import app
    codes = [
        app.run(["ingest", "--corpus", {corpus!r}, "--index", {index!r}]),
        app.run(["ask", "why do I feel this in my quads?", "--json", "--index", {index!r}]),
    ]
    sys.exit(max(codes))
    """
)


def test_ingest_and_ask_work_with_sockets_blocked(tmp_path):
    index = tmp_path / "index"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),  # no model or tokenizer caches to lean on
        "TIKTOKEN_CACHE_DIR": str(tmp_path / "tiktoken"),
        "HF_HOME": str(tmp_path / "hf"),
    }
    script = GUARD.format(root=str(ROOT), corpus=str(CORPUS), index=str(index))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "network access attempted" not in result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert not answer["abstained"] and answer["citations"]


def test_the_guard_itself_catches_network_use(tmp_path):
    script = GUARD.split("import app")[0] + (
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9', timeout=1)\n"
    )
    script = script.format(root=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "network access attempted" in result.stderr


SITE = textwrap.dedent(
    """
    import ipaddress, socket, sys
    real_connect = socket.socket.connect
    attempts = []  # also the ones a library would swallow in a background thread
    def loopback_only(self, address, *rest):
        host = address[0] if isinstance(address, tuple) else "127.0.0.1"
        if not ipaddress.ip_address(host).is_loopback:
            attempts.append(address)
            raise OSError("network access attempted: " + repr(address))
        return real_connect(self, address, *rest)
    def no_dns(*args, **kwargs):
        attempts.append(args[:2])
        raise OSError("network access attempted: dns " + repr(args[:2]))
    socket.socket.connect = loopback_only
    socket.getaddrinfo = no_dns
    sys.path.insert(0, {root!r})
    import app
    from fastapi.testclient import TestClient
    from web.feedback import FeedbackStore
    from web.site import create_site
    settings = app.Settings.from_env({{"HINGECOACH_INDEX": {index!r}}})
    settings.db = app.Path({db!r})
    site = create_site(app.open_assistant(settings), settings, FeedbackStore(settings.db))
    with TestClient(site, base_url="http://127.0.0.1") as client:
        for path in ("/", "/config", "/embed", "/widget.js", "/docs", "/api/health"):
            assert client.get(path).status_code == 200, path
        answer = client.post("/api/ask", json={{"question": "what is a hip hinge"}})
        assert answer.status_code == 200 and answer.json()["citations"]
        import time; time.sleep(2)  # give background startup tasks their chance
    assert attempts == [], attempts
    print("site ok")
    """
)


def test_the_served_site_makes_no_outside_connection(tmp_path, real_index_dir):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "TIKTOKEN_CACHE_DIR": str(tmp_path / "tiktoken"),
        "HF_HOME": str(tmp_path / "hf"),
    }
    script = SITE.format(root=str(ROOT), index=str(real_index_dir), db=str(tmp_path / "q.db"))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "network access attempted" not in result.stderr
    assert result.stdout.strip().endswith("site ok")
