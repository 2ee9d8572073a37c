"""The chat as a visitor sees it, in headless Chromium: it answers and loads nothing external."""

from __future__ import annotations

from urllib.parse import urlparse

from tests.browser import ARTIFACTS, browser_page, require_chromium, running_server


def test_chat_answers_with_sources_and_loads_no_external_url(real_index_dir):
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with running_server("--index", str(real_index_dir)) as url, browser_page() as page:
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(url, wait_until="load")
        page.get_by_role("textbox").first.wait_for(timeout=60_000)
        box = page.get_by_role("textbox").first
        box.fill("why do I feel this in my quads?")
        box.press("Enter")
        page.get_by_text("Sources").first.wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
        body = page.inner_text("body")
        assert "quad" in body.lower()
        assert "corpus/mastering-the-hip-hinge.txt" in body
        assert page.locator("mark").count() >= 1
    external = [
        u for u in requested if urlparse(u).hostname not in ("127.0.0.1", "localhost", None)
    ]
    external = [u for u in external if not u.startswith(("data:", "blob:"))]
    assert external == []
