"""Helpers for browser tests: a real server in a subprocess, headless Debian Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip on a developer machine without Chromium; CI installs it, so there it must exist."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium not installed (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`python app.py serve ...` on a free port; yields its base URL, stops it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "serve", "--port", str(port), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("server did not start in time")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@contextmanager
def browser_page(viewport: dict[str, int] | None = None) -> Iterator[Any]:
    """A Playwright page in headless Debian Chromium (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport or {"width": 1100, "height": 1000})
            yield page
        finally:
            browser.close()


# WCAG 2.1 A and AA rules; the issues that would stop someone: serious and critical.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def axe_violations(target: Any) -> list[str]:
    """axe-core (from the axe-playwright-python package) run in a page or frame: its serious
    and critical WCAG 2.1 A/AA violations, one line each with the elements concerned."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(target, options=AXE_OPTIONS).response
    return [
        f"{v['id']} ({v['impact']}): {[n['html'][:160] for n in v['nodes'][:3]]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def focused(target: Any) -> str:
    """The focused element of a page or frame, as tag#id[name] (descending into shadow roots)."""
    return str(
        target.evaluate(
            """() => {
                let e = document.activeElement;
                while (e && e.shadowRoot && e.shadowRoot.activeElement) {
                    e = e.shadowRoot.activeElement;
                }
                if (!e) return "";
                const name = e.getAttribute("aria-label") || e.getAttribute("title") || "";
                return `${e.tagName.toLowerCase()}#${e.id}[${name}]`;
            }"""
        )
    )


@contextmanager
def serving(site: Any) -> Iterator[str]:
    """A site built in this process (e.g. with a stand-in assistant) served by uvicorn on a
    free loopback port in a thread; yields its base URL."""
    import threading

    import uvicorn

    config = uvicorn.Config(site, host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{config.port}"
    try:
        deadline = time.time() + 60
        while not server.started:
            if time.time() > deadline or not thread.is_alive():
                raise AssertionError("the site did not start")
            time.sleep(0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@contextmanager
def static_pages(pages: dict[str, str], port: int | None = None) -> Iterator[int]:
    """A plain web server for a gym's own pages (another origin than the coach); yields its port."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((body or "not found").encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
