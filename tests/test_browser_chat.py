"""The chat as a visitor sees it, in headless Chromium: it answers and loads nothing external."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser import ARTIFACTS, browser_page, require_chromium, running_server

pytestmark = pytest.mark.slow  # a real browser or server: see the README's inner loop

LATEST_QUESTION_IN_VIEW = """(question) => {
  const box = document.querySelector("#hc-chat .bubble-wrap");
  const rows = box.querySelectorAll(".user-row");
  const last = rows[rows.length - 1];
  const view = box.getBoundingClientRect(), row = last.getBoundingClientRect();
  const answer = last.nextElementSibling.getBoundingClientRect();
  return last.innerText.includes(question) && row.top >= view.top && row.bottom <= view.bottom
    && answer.top < view.bottom && box.scrollHeight > box.clientHeight;
}"""


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
        # A second question: its answer is read from the top, not scrolled past to the sources.
        box.fill("how bent should my knees be")
        box.press("Enter")
        page.get_by_text("Sources").nth(1).wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "chat-second-question.png"), full_page=True)
        assert page.evaluate(LATEST_QUESTION_IN_VIEW, "how bent should my knees be")
    external = [
        u for u in requested if urlparse(u).hostname not in ("127.0.0.1", "localhost", None)
    ]
    external = [u for u in external if not u.startswith(("data:", "blob:"))]
    assert external == []
