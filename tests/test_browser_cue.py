"""The Cue check tab as a coach sees it (a server with coach_tools on), in headless Chromium."""

from __future__ import annotations

import pytest

from tests.browser import (
    ARTIFACTS,
    axe_violations,
    browser_page,
    require_chromium,
    running_server,
)

pytestmark = pytest.mark.slow  # a real browser or server: see the README's inner loop


@pytest.fixture(scope="module")
def url(real_index_dir):
    """One server for the module's tests; each opens its own page."""
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    env = {"HINGECOACH_COACH_TOOLS": "true"}  # the tab is for coaches: off by default
    with running_server("--index", str(real_index_dir), env=env) as address:
        yield address


def check_cue(page, url: str, cue: str, verdict: str, screenshot: str):
    """Type a cue in the Cue check tab; the result once its verdict shows, screenshotted."""
    page.goto(url, wait_until="load")
    page.get_by_role("tab", name="Cue check").click()
    box = page.get_by_label("Cue", exact=True)
    box.wait_for(timeout=60_000)
    box.fill(cue)
    box.press("Enter")
    result = page.locator("#cue-result")
    result.get_by_text(verdict).wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    return result


def test_cue_check_tab_shows_verdict_stance_and_catalogue(url):
    with browser_page() as page:
        found = "Found: an article uses this wording."
        result = check_cue(page, url, "soft knees", found, "cue-check.png")
        text = result.inner_text()
        assert "Knees remain soft" in text and "endorsed" in text
        assert "instructions on the knees differ" in text
        assert result.locator("mark").count() >= 3
        assert axe_violations(page) == []  # the tab with a result, its catalogue included
        catalogue = page.locator("#cue-catalogue")
        assert "hinge at the hips" in catalogue.inner_text()
        catalogue.get_by_placeholder("Search").fill("shin")
        catalogue.locator("span:visible", has_text="Shins stay vertical").first.wait_for()
        assert "hinge at the hips" not in catalogue.inner_text()

        # A cue picked from the catalogue is checked at once.
        catalogue.get_by_placeholder("Search").fill("folding")
        catalogue.locator("span:visible", has_text="Rather than folding forward").first.click()
        result.get_by_text("Rather than folding forward").first.wait_for(timeout=60_000)
        assert "discouraged" in result.inner_text()
        page.screenshot(path=str(ARTIFACTS / "cue-check-catalogue.png"), full_page=True)


def test_a_cue_no_article_says_shows_nearby_passages_without_a_stance(url):
    with browser_page() as page:
        verdict = "Not found: no article says this"
        result = check_cue(page, url, "proud chest", verdict, "cue-check-not-found.png")
        text = result.inner_text()
        assert "related: near the cue, not the cue itself" in text
        assert "discouraged" not in text and "endorsed" not in text


def test_a_missing_qualifier_is_named(url):
    with browser_page() as page:
        verdict = "Not found: no article says this"
        result = check_cue(page, url, "exhale at the top", verdict, "cue-check-qualifier.png")
        assert "it does not say “at the top”" in result.inner_text()
