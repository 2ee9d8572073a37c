"""A model-written answer in the chat, in headless Chromium: the unsupported sentence is flagged."""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS, browser_page, require_chromium, running_server
from tests.llm_server import scripted_llm

pytestmark = pytest.mark.slow  # a real browser or server: see the README's inner loop

SCROLL_TO_TOP = """
for (const el of document.querySelectorAll('*')) {
  const style = getComputedStyle(el);
  if (el.scrollHeight > el.clientHeight && /(auto|scroll)/.test(style.overflowY)) el.scrollTop = 0;
}
"""


def test_chat_flags_the_sentence_the_articles_do_not_support(real_index_dir):
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with scripted_llm() as llm:
        env = {"HINGECOACH_LLM_BASE_URL": llm.base_url, "HINGECOACH_LLM_MODEL": "hallucinated"}
        with running_server("--index", str(real_index_dir), env=env) as url, browser_page() as page:
            page.goto(url, wait_until="load")
            box = page.get_by_role("textbox").first
            box.wait_for(timeout=60_000)
            box.fill("why do I feel this in my quads?")
            box.press("Enter")
            page.get_by_text("Sources").first.wait_for(timeout=60_000)
            page.wait_for_timeout(500)
            # Scroll the conversation back to the question, so the picture shows the answer.
            page.evaluate(SCROLL_TO_TOP)
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / "chat-llm-flagged.png"), full_page=True)
            flagged = page.locator("del", has_text="Wearing flat shoes")
            assert flagged.count() == 1 and flagged.first.is_visible()
            body = page.inner_text("body")
            assert "Not in the articles" in body
            assert "quad dominant movement" in body and "[2]" in body
            assert page.locator("mark").count() >= 1
        assert llm.requests, "the chat never called the language model"
