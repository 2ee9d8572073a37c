"""The Gradio app, built without a server, and its chat handler."""

from __future__ import annotations

import app
from retrieval.render import quote_in_context
from web import gradio_ui


def test_create_app_builds_blocks(assistant):
    import gradio as gr

    demo = gradio_ui.create_ui(assistant, app.Settings())
    assert isinstance(demo, gr.Blocks)


def test_chat_streams_an_answer_with_highlighted_sources(assistant):
    respond = gradio_ui.make_responder(assistant, app.Settings())
    updates = list(respond("why do I feel this in my quads?", []))
    assert len(updates) > 1  # streamed
    final = updates[-1]
    assert "<strong>Sources</strong>" in final and "<mark>" in final
    assert "corpus/mastering-the-hip-hinge.txt" in final


def test_chat_follow_up_uses_history(assistant):
    respond = gradio_ui.make_responder(assistant, app.Settings())
    history = [
        {"role": "user", "content": "how much should my knees bend"},
        {"role": "assistant", "content": "..."},
    ]
    final = list(respond("and my feet?", history))[-1]
    assert "mid-foot" in final


def test_chat_abstains_helpfully_and_escapes_html(assistant):
    respond = gradio_ui.make_responder(assistant, app.Settings())
    final = list(respond("What should I eat before a workout?", []))[-1]
    assert "couldn't find that in the articles" in final
    empty = list(respond("   ", []))[-1]
    assert empty.startswith("<p>Sorry, the question is empty")


def test_quote_in_context_escapes_corpus_text():
    from retrieval.records import Citation

    citation = Citation(
        1, "T", "corpus/x.txt", "<b>bold</b>", 0, 11, "before <b>bold</b> after", 1.0
    )
    rendered = quote_in_context(citation)
    assert "<b>" not in rendered and "&lt;b&gt;" in rendered and "<mark>" in rendered


def test_settings_come_from_the_environment(tmp_path):
    settings = app.Settings.from_env({"HINGECOACH_INDEX": str(tmp_path), "HINGECOACH_K": "2"})
    assert settings.index == tmp_path and settings.k == 2


def test_a_chat_follow_up_moves_on_from_what_the_reply_before_quoted(assistant, tmp_path):
    from web.feedback import FeedbackStore

    store = FeedbackStore(tmp_path / "log.sqlite3")
    respond = gradio_ui.make_responder(assistant, app.Settings(), store)
    question = "why do I feel this in my quads?"
    first = list(respond(question, []))[-1]
    quotes = [c.quote for c in assistant.ask(question).citations]
    assert all(quote_in_context_text(q) in first["content"] for q in quotes)
    history = [{"role": "user", "content": question}, first]
    follow = list(respond("how do I fix that?", history))[-1]["content"]
    assert "<strong>Sources</strong>" in follow
    assert not any(quote_in_context_text(q) in follow for q in quotes)


def quote_in_context_text(quote: str) -> str:
    """A quote as the chat shows it inside its <mark> (escaped, breaks as <br>)."""
    from retrieval.render import plain_html

    return f"<mark>{plain_html(quote)}</mark>"
