"""The chat as a visitor sees it, in headless Chromium: it answers with sources they can open,
works by keyboard and screen reader (axe-core finds no serious WCAG 2.1 A/AA violation),
reads on a phone without a box scrolling inside the page, and loads nothing external."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    axe_violations,
    browser_page,
    focused,
    require_chromium,
    running_server,
)
from tests.helpers import ARTICLE_URLS

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
# Every announcement the page makes to screen readers, recorded as it is made.
RECORD_ANNOUNCEMENTS = """() => {
  window.hcSaid = [];
  const live = document.getElementById("hc-announce");
  new MutationObserver(() => { if (live.textContent) window.hcSaid.push(live.textContent); })
    .observe(live, { childList: true, characterData: true, subtree: true });
}"""
ANSWER_DONE = """() => {
  const bots = document.querySelectorAll("#hc-chat [data-testid=bot]");
  const box = document.querySelector("#hc-question textarea");
  return bots.length && bots[bots.length - 1].innerText.includes("Sources") && !box.disabled;
}"""


@pytest.fixture(scope="module")
def url(real_index_dir):
    """One server with the default settings (no coach tools), for the module's tests."""
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with running_server("--index", str(real_index_dir)) as address:
        yield address


def ask(page, question: str) -> None:
    box = page.get_by_role("textbox", name="Your question")
    box.fill(question)
    page.get_by_role("button", name="Send").click()
    page.wait_for_function(ANSWER_DONE, timeout=60_000)
    page.wait_for_timeout(300)


def test_chat_answers_with_sources_by_keyboard_and_loads_no_external_url(url):
    with browser_page(DESKTOP) as page:
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(url, wait_until="load")
        box = page.get_by_role("textbox", name="Your question")  # a named box
        box.wait_for(timeout=60_000)
        assert page.get_by_role("button", name="Send").count() == 1  # a named button
        assert page.get_by_role("tab", name="Cue check").count() == 0  # coaches' tools are off
        assert axe_violations(page) == []
        page.evaluate(RECORD_ANNOUNCEMENTS)

        box.fill("why do I feel this in my quads?")
        box.press("Enter")
        page.wait_for_function(ANSWER_DONE, timeout=60_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "chat-answer-1280x900.png"))
        assert focused(page).startswith("textarea")  # back in the question box, ready to type
        assert axe_violations(page) == []
        answer = page.locator("[data-testid=bot]").last
        said = page.evaluate("window.hcSaid")
        assert len(said) == 1 and said[0].startswith("Long periods of sitting")  # once, whole
        assert "Sources" not in said[0]
        assert page.locator("[role=log]").get_attribute("aria-live") == "off"
        assert "<" not in (
            page.locator("[data-testid=user]").last.get_attribute("aria-label") or ""
        )

        # Sources: the article's page opens in a new tab; the file and offsets stay folded.
        link = answer.get_by_role("link", name="Mastering The Hip Hinge").first
        assert link.get_attribute("href") == ARTICLE_URLS["corpus/mastering-the-hip-hinge.txt"]
        assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
        assert answer.locator("mark").count() >= 1
        assert "corpus/" not in answer.inner_text() and "characters" not in answer.inner_text()
        where = answer.locator("details").first
        assert where.get_attribute("open") is None and "corpus/" in where.text_content()

        # The next question, typed straight away: focus is still in the box.
        page.keyboard.type("how bent should my knees be")
        page.keyboard.press("Enter")
        page.get_by_text("Sources").nth(1).wait_for(timeout=60_000)
        page.wait_for_function(ANSWER_DONE, timeout=60_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "chat-second-question.png"), full_page=True)
        assert page.evaluate(LATEST_QUESTION_IN_VIEW, "how bent should my knees be")
        assert focused(page).startswith("textarea")
        assert len(page.evaluate("window.hcSaid")) == 2

        # An empty question posts no bubble.
        users = page.locator("[data-testid=user]").count()
        box.fill("   ")
        box.press("Enter")
        page.wait_for_timeout(1500)
        assert page.locator("[data-testid=user]").count() == users
    external = [
        u for u in requested if urlparse(u).hostname not in ("127.0.0.1", "localhost", None)
    ]
    external = [u for u in external if not u.startswith(("data:", "blob:"))]
    assert external == []


def test_on_a_phone_the_answer_and_its_first_source_read_without_a_scroll_box(url):
    with browser_page(PHONE) as page:
        page.goto(url, wait_until="load")
        page.get_by_role("textbox", name="Your question").wait_for(timeout=60_000)
        ask(page, "why do I feel this in my quads?")
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "chat-answer-390x844.png"))
        # No box inside the page scrolls: the page itself does.
        nested = page.evaluate(
            """() => [...document.querySelectorAll("#hc-chat, #hc-chat *")].filter(e => {
                 const s = getComputedStyle(e);
                 return /(auto|scroll)/.test(s.overflowY) && e.scrollHeight > e.clientHeight + 1;
               }).map(e => e.className)"""
        )
        assert nested == []
        # The question, the answer and the start of the first source are on screen.
        answer = page.locator("[data-testid=bot]").last
        first_source = answer.locator("blockquote").first
        top = page.locator("[data-testid=user]").last.bounding_box()
        quote = first_source.bounding_box()
        assert top is not None and quote is not None
        assert top["y"] >= 0 and quote["y"] < PHONE["height"]
        # The question box stays at the bottom of the screen, ready for the next question.
        box = page.get_by_role("textbox", name="Your question").bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE["height"]
        assert axe_violations(page) == []


@pytest.mark.parametrize(("viewport", "size"), [(DESKTOP, "1280x900"), (PHONE, "390x844")])
def test_a_term_defined_by_its_heading_is_answered_with_the_heading(url, viewport, size):
    # "Yes, butt blooming." says nothing alone: the answer quotes the heading above it, and
    # the source shows that heading in the passage, marked.
    with browser_page(viewport) as page:
        page.goto(url, wait_until="load")
        page.get_by_role("textbox", name="Your question").wait_for(timeout=60_000)
        ask(page, "whats butt blooming")
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / f"chat-heading-quote-{size}.png"))
        answer = page.locator("[data-testid=bot]").last
        text = answer.inner_text()
        assert "allowing the glutes to fully lengthen" in text.split("Also in the articles")[0]
        marked = " ".join(answer.locator("mark").all_inner_texts())
        assert "allowing the glutes to fully lengthen" in marked
