"""A refused question about the gym's business, in headless Chromium: the chat and the embed
end the refusal with the gym's front desk (the contact setting), as a link."""

from __future__ import annotations

import pytest

import app
from retrieval.assistant import Assistant
from retrieval.records import Contact
from tests.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    axe_violations,
    browser_page,
    require_chromium,
    serving,
)
from web.feedback import FeedbackStore
from web.site import create_site

pytestmark = pytest.mark.slow  # a real browser or server: see the README's inner loop

DESK = Contact("Iron Oak front desk, 12 Mill Lane", url="https://ironoak.example/book")
LINE = "For prices, hours and booking, ask the front desk: Iron Oak front desk, 12 Mill Lane"


@pytest.fixture(scope="module")
def url(real_index_dir, real_embedder, tmp_path_factory):
    """A site whose answer code tags refusals as gym business (a stand-in until the answer
    code does), with a contact and the gym's branding."""
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    db = tmp_path_factory.mktemp("refusal") / "questions.sqlite3"
    settings = app.Settings(gym_name="Iron Oak Barbell Club", accent="#7c2d12", contact=DESK, db=db)
    assistant = Assistant(real_index_dir, real_embedder)
    with serving(create_site(assistant, settings, FeedbackStore(db))) as address:
        yield address


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280x900", "390x844"])
def test_the_chat_sends_a_business_question_to_the_front_desk(url, viewport):
    with browser_page(viewport) as page:
        page.goto(url, wait_until="load")
        box = page.get_by_role("textbox", name="Your question")
        box.wait_for(timeout=60_000)
        box.fill("How much is a membership?")
        box.press("Enter")
        reply = page.locator("[data-testid=bot]").last
        reply.get_by_text("ask the front desk").wait_for(timeout=60_000)
        page.wait_for_timeout(800)
        size = f"{viewport['width']}x{viewport['height']}"
        page.screenshot(path=str(ARTIFACTS / f"chat-refusal-contact-{size}.png"))
        text = reply.inner_text()
        assert text.startswith("I couldn't find that in the articles") and LINE in text
        link = reply.get_by_role("link", name="https://ironoak.example/book")
        assert link.get_attribute("target") == "_blank"
        assert axe_violations(page) == []


def test_the_embed_sends_a_business_question_to_the_front_desk(url):
    with browser_page(PHONE) as page:
        page.goto(f"{url}/embed", wait_until="load")
        box = page.get_by_role("textbox", name="Your question")
        box.fill("What are your opening hours?")
        box.press("Enter")
        line = page.locator(".hc-contact")
        line.wait_for(timeout=60_000)
        assert line.inner_text() == f"{LINE} — https://ironoak.example/book"
        page.wait_for_function("() => document.getElementById('hc-announce').textContent")
        assert LINE in (page.locator("#hc-announce").text_content() or "")
        page.screenshot(path=str(ARTIFACTS / "embed-refusal-contact-390x844.png"))
