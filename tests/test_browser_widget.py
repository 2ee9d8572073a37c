"""A gym's page with the widget, in headless Chromium: allowed, it answers with citations;
anywhere else, the browser refuses the chat. Screenshots go to test-artifacts/."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser import (
    ARTIFACTS,
    browser_page,
    free_port,
    require_chromium,
    running_server,
    static_pages,
)
from web.feedback import FeedbackStore
from web.pages import DEMO_SERVER, STATIC

pytestmark = pytest.mark.slow  # a real browser or server: see the README's inner loop

GYM_NAME = "Iron Oak Barbell Club"


@pytest.fixture(scope="module")
def coach(real_index_dir, tmp_path_factory):
    """The coach server, which allows only the gym's origin (http://localhost:<gym port>)."""
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    db = tmp_path_factory.mktemp("coach") / "questions.sqlite3"
    gym_port = free_port()
    env = {
        "HINGECOACH_ALLOWED_ORIGINS": f"http://localhost:{gym_port}",
        "HINGECOACH_GYM_NAME": GYM_NAME,
        "HINGECOACH_ACCENT": "#7c2d12",
    }
    with running_server("--index", str(real_index_dir), "--db", str(db), env=env) as url:
        page = (STATIC / "demo-gym.html").read_text(encoding="utf-8")
        component = (
            '<!doctype html><html><head><meta charset="utf-8"><title>Ask our coach</title>'
            f'<script type="module" src="{url}/gradio.js"></script></head><body>'
            f'<h1>Iron Oak: ask the coach</h1><gradio-app src="{url}"></gradio-app></body></html>'
        )
        pages = {
            "/demo-gym.html": page.replace(DEMO_SERVER, url + "/"),
            "/component.html": component,
        }
        with static_pages(pages, gym_port):
            yield url, gym_port, db


def test_demo_gym_page_widget_answers_with_citations(coach):
    url, gym_port, db = coach
    with browser_page() as page:
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"http://localhost:{gym_port}/demo-gym.html", wait_until="load")
        button = page.get_by_role("button", name=f"Ask {GYM_NAME}")
        button.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "widget-closed.png"))
        button.click()
        frame = page.frame_locator(f"iframe[title='{GYM_NAME} chat']")
        box = frame.get_by_role("textbox", name="Your question")
        box.wait_for(timeout=30_000)
        frame.get_by_text("Why do I feel this in my quads?").wait_for()  # example chips
        box.fill("why do I feel this in my quads?")
        box.press("Enter")
        frame.get_by_text("Sources").first.wait_for(timeout=60_000)
        body = frame.locator("body").inner_text()
        assert "corpus/mastering-the-hip-hinge.txt, characters" in body
        assert frame.locator("mark").count() >= 1
        assert frame.locator("a.hc-ref").first.inner_text() == "[1]"
        page.screenshot(path=str(ARTIFACTS / "widget-answer.png"))
        frame.get_by_role("button", name="Not helpful").click()
        frame.get_by_text("Thanks for the feedback.").wait_for(timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "widget-thumbs-down.png"))
    external = [u for u in requested if urlparse(u).hostname not in ("127.0.0.1", "localhost")]
    assert [u for u in external if not u.startswith(("data:", "blob:"))] == []
    disliked = FeedbackStore(db, create=False).questions(rating="down")
    assert [q.question for q in disliked] == ["why do I feel this in my quads?"]


def test_page_on_another_origin_is_refused(coach):
    url, gym_port, _ = coach
    with browser_page() as page:
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        # Same page, same port, but 127.0.0.1 is not the allowlisted origin (localhost).
        page.goto(f"http://127.0.0.1:{gym_port}/demo-gym.html", wait_until="load")
        page.get_by_role("button", name=f"Ask {GYM_NAME}").click()
        # The panel says the chat is not offered here, instead of a blank, blocked frame.
        notice = page.locator("#hinge-coach-widget").get_by_role("status")
        notice.wait_for(timeout=10_000)
        assert "isn't available on this website" in notice.inner_text()
        assert not [f for f in page.frames if f is not page.main_frame]  # no frame at all
        assert any("HINGECOACH_ALLOWED_ORIGINS" in line for line in console), console
        # A page that frames /embed itself is still blocked by the browser (the CSP).
        page.evaluate(
            """(url) => { const f = document.createElement("iframe");
                          f.src = url + "/embed"; document.body.appendChild(f); }""",
            url,
        )
        page.wait_for_timeout(1500)
        frames = [f for f in page.frames if f is not page.main_frame]
        assert len(frames) == 1 and not frames[0].url.startswith(url)  # chrome-error://...
        assert any("frame-ancestors" in line for line in console), console
        fetched = page.evaluate(
            """async (url) => {
                try {
                    const r = await fetch(url + "/api/ask", {method: "POST",
                        headers: {"Content-Type": "application/json"},
                        body: JSON.stringify({question: "what is a hip hinge"})});
                    return "status " + r.status;
                } catch (e) { return "refused: " + e.message; }
            }""",
            url,
        )
        assert fetched.startswith("refused"), fetched
        page.screenshot(path=str(ARTIFACTS / "widget-refused-origin.png"))


def test_gradio_chat_thumbs_are_recorded(coach):
    url, _, db = coach
    with browser_page() as page:
        page.goto(url, wait_until="load")
        box = page.get_by_role("textbox").first
        box.wait_for(timeout=60_000)
        box.fill("how much should my knees bend")
        box.press("Enter")
        page.get_by_text("Sources").first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Dislike").last.click()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "chat-thumbs.png"), full_page=True)
    rated = FeedbackStore(db, create=False).questions(rating="down")
    assert "how much should my knees bend" in [q.question for q in rated]
    chat = [q for q in FeedbackStore(db, create=False).questions() if q.channel == "chat"]
    assert chat and chat[-1].client is not None and "127.0.0.1" not in chat[-1].client


def test_gradio_web_component_works_on_the_allowed_origin(coach):
    url, gym_port, _ = coach
    with browser_page() as page:
        page.goto(f"http://localhost:{gym_port}/component.html", wait_until="load")
        box = page.get_by_role("textbox").first
        box.wait_for(timeout=60_000)
        box.fill("why do I feel this in my quads?")
        box.press("Enter")
        page.get_by_text("Sources").first.wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        assert "corpus/mastering-the-hip-hinge.txt" in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "gradio-app-component.png"), full_page=True)
