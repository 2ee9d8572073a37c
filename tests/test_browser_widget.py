"""A gym's page with the widget, in headless Chromium: allowed, it answers with citations,
in the gym's colour, by keyboard (focus moves into the chat and back to the button); anywhere
else, the browser refuses the chat. Screenshots go to test-artifacts/."""

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
    free_port,
    require_chromium,
    running_server,
    static_pages,
)
from tests.helpers import ARTICLE_URLS
from web.feedback import FeedbackStore
from web.pages import DEMO_SERVER, STATIC

pytestmark = pytest.mark.slow  # a real browser or server: see the README's inner loop

GYM_NAME = "Iron Oak Barbell Club"
ACCENT = "#7c2d12"  # not the default: the pages must show this one
# The README's iframe snippet, pasted as is into a page of another origin.
IFRAME_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Iron Oak: coach</title>'
    '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
    '<body style="margin:0;font-family:system-ui;background:#faf7f2"><main style="padding:16px">'
    "<h1>Ask our coach</h1>"
    '<iframe src="{url}/embed" title="Ask our coach" '
    'style="width: 100%; max-width: 420px; height: 640px; border: 0"></iframe></main></body></html>'
)


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
        "HINGECOACH_ACCENT": ACCENT,
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
            "/iframe.html": IFRAME_PAGE.replace("{url}", url),
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
        assert "corpus/" not in body  # the file and offsets are folded away...
        where = frame.locator("details.hc-source-where").first
        assert "corpus/mastering-the-hip-hinge.txt, characters" in where.text_content()
        link = frame.get_by_role("link", name="Mastering The Hip Hinge").first  # ...the page isn't
        assert link.get_attribute("href") == ARTICLE_URLS["corpus/mastering-the-hip-hinge.txt"]
        assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
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
        assert "Mastering The Hip Hinge" in page.inner_text("body")
        assert page.get_by_role("tab", name="Cue check").count() == 0  # no coaches' tools
        # The gym's colour, not Gradio's orange: the send button is in the accent.
        send = page.get_by_role("button", name="Send")
        assert send.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(124, 45, 18)"
        page.screenshot(path=str(ARTIFACTS / "gradio-app-component.png"), full_page=True)


WIDGET_OPEN = "#hinge-coach-widget"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280x900", "390x844"])
def test_widget_on_demo_moves_focus_in_and_back_and_has_no_serious_violation(coach, viewport):
    url, _, _ = coach
    size = f"{viewport['width']}x{viewport['height']}"
    with browser_page(viewport) as page:
        page.goto(f"{url}/demo", wait_until="load")
        button = page.get_by_role("button", name=f"Ask {GYM_NAME}")
        button.focus()
        page.keyboard.press("Enter")  # opened from the keyboard
        frame = page.frame_locator(f"iframe[title='{GYM_NAME} chat']")
        frame.get_by_role("textbox", name="Your question").wait_for(timeout=30_000)
        chat = next(f for f in page.frames if f.url.startswith(f"{url}/embed"))
        chat.wait_for_function("() => document.activeElement.id === 'hc-question'")
        # Typing goes straight into the chat, and the answer comes back to the box.
        page.keyboard.type("How much should my knees bend?")
        page.keyboard.press("Enter")
        frame.get_by_text("Sources").first.wait_for(timeout=60_000)
        chat.wait_for_function("() => document.activeElement.id === 'hc-question'")
        page.wait_for_timeout(300)
        # The widget's colour is the server's accent (the snippet sets none).
        head = frame.locator(".hc-head")
        assert head.evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(124, 45, 18)"
        page.screenshot(path=str(ARTIFACTS / f"widget-open-demo-{size}.png"))
        assert axe_violations(page) == [] and axe_violations(chat) == []
        # Escape, pressed inside the chat, closes it and puts focus back on the button.
        page.keyboard.press("Escape")
        page.wait_for_function(
            "() => !document.getElementById('hinge-coach-widget').shadowRoot"
            ".querySelector('.hc-panel.open')"
        )
        assert focused(page) == f"button#[Ask {GYM_NAME}]"
        assert page.locator(WIDGET_OPEN).get_by_role("button").get_attribute("aria-expanded") == (
            "false"
        )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280x900", "390x844"])
def test_iframe_snippet_on_another_origin_takes_the_servers_accent(coach, viewport):
    url, gym_port, _ = coach
    size = f"{viewport['width']}x{viewport['height']}"
    with browser_page(viewport) as page:
        page.goto(f"http://localhost:{gym_port}/iframe.html", wait_until="load")
        frame = page.frame_locator("iframe[title='Ask our coach']")
        box = frame.get_by_role("textbox", name="Your question")
        box.wait_for(timeout=30_000)
        assert GYM_NAME in frame.locator(".hc-name").inner_text()  # the gym's name...
        head = frame.locator(".hc-head")  # ...and colour, though the snippet names neither
        assert head.evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(124, 45, 18)"
        frame.get_by_role("button", name="Why do I feel this in my quads?").click()
        frame.get_by_text("Sources").first.wait_for(timeout=60_000)
        chat = next(f for f in page.frames if f.url.startswith(f"{url}/embed"))
        chat.wait_for_function("() => document.activeElement.id === 'hc-question'")
        chat.wait_for_function("() => document.getElementById('hc-announce').textContent")
        said = chat.locator("#hc-announce").text_content() or ""
        assert said.startswith("Long periods of sitting")  # the answer, announced once
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / f"iframe-other-origin-{size}.png"))
        assert axe_violations(chat) == []
