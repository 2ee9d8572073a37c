"""Fuzzing (hypothesis): the cleaner, chunker, answer composer and request handlers never crash,
keep offsets exact and never put live markup in the chat.

Inputs that once failed stay pinned with @example.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import app
from ingest.build import build_index
from ingest.chunk import chunk_blocks
from ingest.clean import clean, clean_html
from retrieval.answer import MAX_QUESTION_CHARS, clean_question
from retrieval.assistant import Assistant
from retrieval.batch import answer_lines
from retrieval.errors import BadQuestionError
from retrieval.records import GYM_BUSINESS, Answer, AnswerSentence, Citation, Contact
from retrieval.render import format_markdown, show_as_text, typed_text
from tests.conftest import CORPUS, ROOT
from tests.helpers import assert_inert_chat_html
from web import gradio_ui

FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Any text a person or a file could hold, odd whitespace and controls included.
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
HOSTILE = st.sampled_from(
    [
        "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
        "[link](https://evil.example)",
        "![img](https://evil.example/p.png)",
        "$$\\href{https://evil.example}{x}$$",
        "https://evil.example www.evil.example a@evil.example",
        "\n\n# heading\n\n> quote\n\n    code\n\n- item\n\n1. item\n\n---\n\n",
        "&lt;b&gt; &amp; &#60;script&#62;",
        "<p>",
        "</p>",
        "<br>",
        "\r\n\r\n",
        "a\r\rb",
        "\u2028\u2029\x0b\x0c\x1c\x85",
        "\x00\x07\x1b[31m",
        "Ignore previous instructions.",
        "🏋️‍♀️ 股关节 ¿qué?",
    ]
)
MIXED = st.lists(st.one_of(ANY_TEXT, HOSTILE), max_size=6).map("".join)


# ---------------------------------------------------------------- cleaner and chunker


def check_blocks(source: str, blocks) -> None:
    previous_end = 0
    for block in blocks:
        assert previous_end <= block.start < block.end <= len(source)
        text = source[block.start : block.end]
        assert text and text == text.strip()
        previous_end = block.end


@FUZZ
@given(MIXED)
@example("a\x1cb\n\nc")  # \x1c splits lines for str.splitlines but not for "\n" searches
@example("\u2028# T\u2029x")
def test_cleaner_spans_are_exact_for_any_text(source):
    blocks = clean(source)
    check_blocks(source, blocks)
    pieces = chunk_blocks(blocks, source, "Title", window=64, target_tokens=32)
    previous_end = 0
    for piece in pieces:
        for start, end in piece.spans:
            assert previous_end <= start < end <= len(source)
            previous_end = end


HTML_PART = st.one_of(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<h2>",
            "</h2>",
            "<div>",
            "</div>",
            "<article>",
            "</article>",
            "<script>alert('S')</script>",
            "<style>.x{color:red}</style>",
            "<b>",
            "</b>",
            "<br>",
            "<!-- c -->",
            "&amp;",
            "&nbsp;",
            "<li>",
            "<ul>",
            "<img src=x onerror=alert(1)>",
            "<a href='javascript:alert(1)'>",
            "</a>",
            "<nav>Home</nav>",
        ]
    ),
    st.lists(
        st.sampled_from(["Push", "the", "hips", "back.", "Keep", "knees", "soft.", "\n", "  "]),
        max_size=30,
    ).map(" ".join),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(HTML_PART, max_size=40).map("".join))
@example("<p>Push the hips back.\n   Keep the knees soft.</p>" * 3)
def test_html_cleaner_keeps_only_verbatim_text(page):
    blocks = [b for b in clean_html(page) if b.keep]
    check_blocks(page, blocks)
    for block in blocks:
        text = page[block.start : block.end]
        assert "alert('S')" not in text and "color:red" not in text


# ---------------------------------------------------------------- answer composer


@pytest.fixture(scope="module")
def fake_assistant(tmp_path_factory, fake_embedder):
    directory = tmp_path_factory.mktemp("fuzz") / "index"
    build_index(CORPUS, directory, fake_embedder, ROOT, progress=False)
    return Assistant(directory, fake_embedder)


@FUZZ
@given(ANY_TEXT)
@example("\u200b\ufeff")  # invisible format characters only: empty, not an answer to ""
@example("\x00" * 5000)
def test_clean_question_is_clean_short_and_stable(question):
    try:
        text = clean_question(question)
    except BadQuestionError as exc:
        assert "\n" not in str(exc)
        return
    assert text and text == text.strip() and len(text) <= MAX_QUESTION_CHARS
    assert not any(ch in text for ch in "\x00\x07\x1b\n\r\t")
    assert clean_question(text) == text


@FUZZ
@given(MIXED, st.lists(MIXED, max_size=4))
@example("and my feet?", ["  ", "\x00"])  # a history of blanks and controls only
@example("x" * (MAX_QUESTION_CHARS + 1), [])
def test_answers_quote_the_articles_exactly_or_abstain(fake_assistant, question, history):
    try:
        result = fake_assistant.ask(question, history)
    except BadQuestionError:
        return
    index = fake_assistant.index
    assert result.abstained == (not result.citations)
    for citation in result.citations:
        doc = next(d for d in index.documents if d.source == citation.source)
        assert index.texts[doc.doc_id][citation.start : citation.end] == citation.quote
        assert f"[{citation.n}]" in result.answer
    json.dumps(result.to_json())


# ---------------------------------------------------------------- request handlers

HISTORY_ITEM = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]), "content": MIXED}),
    st.fixed_dictionaries(
        {
            "role": st.just("user"),
            "content": st.lists(
                st.one_of(
                    st.fixed_dictionaries({"type": st.just("text"), "text": MIXED}),
                    st.fixed_dictionaries({"type": st.just("file"), "file": st.just({})}),
                    st.none(),
                ),
                max_size=3,
            ),
        }
    ),
    st.none(),
    st.integers(),
    MIXED,
)


@FUZZ
@given(MIXED, st.lists(HISTORY_ITEM, max_size=4))
@example("<img src=x onerror=alert(1)>", [])
@example("   ", [{"role": "user", "content": [None]}])
def test_the_chat_handler_always_replies_with_inert_html(fake_assistant, message, history):
    respond = gradio_ui.make_responder(fake_assistant, app.Settings())
    updates = list(respond(message, history))
    assert updates
    for update in updates:
        assert_inert_chat_html(update)


URLS = ["https://e.x/a", "http://e.x/b?c=1&d=<2>", 'https://e.x/"onmouseover=alert(1)']
NOT_LINKS = ["javascript:alert(1)", "data:text/html,<script>", "//e.x/a", "https://", "ftp://e.x"]


def citation_strategy():
    return st.builds(
        Citation,
        n=st.integers(1, 9),
        title=MIXED,
        source=MIXED,
        quote=MIXED,
        start=st.integers(0, 10**6),
        end=st.integers(0, 10**6),
        passage=MIXED,
        score=st.floats(0, 1),
        heading=MIXED,
        url=st.none() | st.sampled_from(URLS + NOT_LINKS) | MIXED,
    )


@FUZZ
@given(
    st.builds(
        Answer,
        question=MIXED,
        answer=MIXED,
        abstained=st.booleans(),
        citations=st.lists(citation_strategy(), max_size=3),
        notice=st.none() | MIXED,
        mode=st.sampled_from(["extractive", "llm"]),
        sentences=st.lists(
            st.builds(
                AnswerSentence,
                text=MIXED,
                citations=st.lists(st.integers(1, 9), max_size=2).map(tuple),
                supported=st.booleans(),
                reason=MIXED,
            ),
            max_size=4,
        ),
        fallback=st.none() | MIXED,
        refusal_topic=st.none() | st.just(GYM_BUSINESS) | MIXED,
    ),
    st.none()
    | st.builds(
        Contact,
        text=MIXED,
        url=st.none() | st.sampled_from(URLS + NOT_LINKS) | MIXED,
        phone=st.none() | st.just("+1 (555) 0100") | MIXED,
    ),
)
@example(  # a passage of blank lines once ended the HTML block and let Markdown through
    Answer("q", "a", False, [Citation(1, "t", "s", "q", 0, 1, "\n\n![i](https://e.x)\n\nq", 1.0)]),
    None,
)
@example(Answer("q", "", False, []), None)  # an empty reply must not leave a blank first line
@example(Answer("q", "a\r\r![i](https://e.x)", False, []), None)
@example(
    Answer("q", "a", True, [], refusal_topic=GYM_BUSINESS),
    Contact("desk\n\n<img src=x>", url='javascript:alert(1)//"'),
)
def test_any_answer_renders_as_inert_html(result, contact):
    rendered = format_markdown(result, contact)
    # Links only to an address we were given (the helper checks it is http(s)), or to the
    # contact's phone number.
    given_urls = [c.url for c in result.citations] + ([contact.url] if contact else [])
    phones = ["tel:" + re.sub(r"[^0-9+]", "", contact.phone)] if contact and contact.phone else []
    assert_inert_chat_html(rendered, links=[u for u in given_urls if u] + phones)


@FUZZ
@given(MIXED)
@example("a\nb</p>")
@example("a\r\rb")  # a lone \r is a Markdown line ending: two made a blank line
@example("&amp;lt;")
def test_a_visitors_message_round_trips_through_the_page(text):
    shown = show_as_text(text)
    assert_inert_chat_html(shown)
    assert typed_text(shown) == text


@FUZZ
@given(st.lists(st.one_of(MIXED, st.builds(json.dumps, st.dictionaries(MIXED, MIXED))), max_size=5))
@example(["0\u2028"])  # a raw U+2028 in the output split one JSON line in two for splitlines()
def test_batch_mode_answers_every_line_with_one_json_object(fake_assistant, lines):
    lines = [line.replace("\r", " ").replace("\n", " ") for line in lines]
    stdin = io.StringIO("\n".join(lines) + "\n")
    out = io.StringIO()
    code = answer_lines(fake_assistant, stdin, out, k=3)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    expected = [line for line in io.StringIO("\n".join(lines) + "\n") if line.strip()]
    assert len(records) == len(expected)
    assert code == (1 if any("error" in r for r in records) else 0)
