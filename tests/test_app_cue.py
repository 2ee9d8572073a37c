"""The Cue check tab: its handler, its HTML, and the catalogue table."""

from __future__ import annotations

import app
from retrieval.cues.check import CueMatch
from retrieval.cues.render import catalogue_rows, match_in_context
from web import gradio_ui


def labels(demo):
    return [getattr(block, "label", None) for block in demo.blocks.values()]


def test_the_cue_check_tab_is_beside_the_chat_only_with_coach_tools(assistant):
    coaches = gradio_ui.create_ui(assistant, app.Settings(coach_tools=True))
    assert "Chat" in labels(coaches) and "Cue check" in labels(coaches)
    assert "Cue" in labels(coaches)  # the cue box
    visitors = gradio_ui.create_ui(assistant, app.Settings())  # coach_tools is off by default
    assert "Cue check" not in labels(visitors) and "Cue" not in labels(visitors)
    assert "Your question" in labels(visitors)
    routes = {d["api_name"] for d in visitors.config["dependencies"] if d.get("api_name")}
    assert "cue" not in routes and "ask" in routes


def test_cue_checker_shows_verdict_stance_and_highlighted_quote(assistant):
    check = gradio_ui.make_cue_checker(assistant)
    shown = check("bring your chest to your thighs")
    assert "Found: an article uses this wording." in shown
    assert "✖ discouraged" in shown
    assert "<mark>" in shown and "<strong>bringing chest towards thighs</strong>" in shown
    assert "corpus/5-tips-for-your-hip-hinge.txt" in shown
    assert check("   ").startswith("<p>Sorry, the cue is empty")


def test_cue_checker_shows_differences(assistant):
    shown = gradio_ui.make_cue_checker(assistant)("soft knees")
    assert "⚠️ <strong>The articles' instructions on the knees differ" in shown


def test_match_in_context_escapes_article_text():
    match = CueMatch(
        kind="found",
        title="T",
        source="corpus/x.txt",
        quote="<b>bold</b>",
        start=7,
        end=18,
        score=1.0,
        stance="neutral",
        passage="before <b>bold</b> after",
        passage_start=0,
        words_start=10,
        words_end=14,
    )
    shown = match_in_context(match)
    assert "<b>" not in shown
    assert shown == "before <mark>&lt;b&gt;<strong>bold</strong>&lt;/b&gt;</mark> after"


def test_catalogue_rows_name_topic_cue_stance_article_and_place(assistant):
    rows = catalogue_rows(assistant.cues())
    assert ["shins", "Shins stay vertical", "endorsed", "5 Tips for Your Hip Hinge"] in [
        r[:4] for r in rows
    ]
    assert all(r[4].startswith("corpus/") for r in rows)
