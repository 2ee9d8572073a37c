"""Sources a visitor can open, and refusals that point somewhere: what the chat shows, what the
JSON keeps, and where an article's web address comes from (corpus/articles.json)."""

from __future__ import annotations

import json
import shutil

import pytest

import app
from ingest.build import build_index
from retrieval.assistant import Assistant
from retrieval.index import load_index
from retrieval.links import web_address, with_links
from retrieval.records import GYM_BUSINESS, Answer, Citation, Contact
from retrieval.render import format_markdown, format_text
from tests.conftest import CORPUS
from tests.helpers import ARTICLE_URLS, assert_inert_chat_html
from web import gradio_ui
from web.chat import reveal

URL = "https://www.lift-chicago.com/mastering-the-hip-hinge/"
CITATION = Citation(
    n=1,
    title="Mastering The Hip Hinge",
    source="corpus/mastering-the-hip-hinge.txt",
    quote="Long periods of sitting can lead to tighter and shortened quads.",
    start=1730,
    end=1794,
    passage="The posterior chain... Long periods of sitting can lead to tighter and shortened "
    "quads.  This limits the hip flexors.",
    score=0.5,
    heading="What is the Posterior Chain and Why Do I Need to Strengthen It?",
    url=URL,
)
DESK = Contact("Iron Oak front desk, 12 Mill Lane", url="https://ironoak.example/book")
REFUSAL = "I couldn't find that in the articles, so I won't guess."


def test_a_source_shows_title_link_section_and_quote_with_the_file_folded_away():
    html = format_markdown(Answer("q", f"{CITATION.quote} [1]", False, [CITATION]))
    assert (
        f'<strong>[1] <a href="{URL}" target="_blank" rel="noopener noreferrer">'
        "Mastering The Hip Hinge</a></strong> — <em>What is the Posterior Chain" in html
    )
    assert f"<mark>{CITATION.quote}</mark>" in html
    # File and offsets only inside a collapsed <details> (closed unless opened).
    assert (
        "<details><summary>Where in the file</summary><small>"
        "corpus/mastering-the-hip-hinge.txt, characters 1730–1794</small></details>"
    ) in html
    visible = html.split("<details>")[0]
    assert "corpus/" not in visible and "1730" not in visible
    assert_inert_chat_html(html, links=[URL])


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/x",
        "https://",
        "https://evil.example/a b",
        "ftp://evil.example/x",
        None,
    ],
)
def test_only_http_and_https_addresses_become_links(url):
    citation = Citation(1, "T", "corpus/t.txt", "q", 0, 1, "q", 0.5, url=url)
    html = format_markdown(Answer("q", "q [1]", False, [citation]))
    assert "<a " not in html and "href" not in html
    assert web_address(url) is None


def test_a_link_is_escaped():
    url = 'https://e.example/a?b=1&c="2"><script>'
    citation = Citation(1, "T", "corpus/t.txt", "q", 0, 1, "q", 0.5, url=url)
    html = format_markdown(Answer("q", "q [1]", False, [citation]))
    assert 'href="https://e.example/a?b=1&amp;c=&quot;2&quot;&gt;&lt;script&gt;"' in html
    assert_inert_chat_html(html, links=[url])


def test_json_keeps_file_and_offsets_and_adds_section_and_url_only_when_known():
    record = Answer("q", "a [1]", False, [CITATION]).to_json()
    citation = record["citations"][0]
    assert citation["source"] == "corpus/mastering-the-hip-hinge.txt"
    assert (citation["start"], citation["end"]) == (1730, 1794)
    assert citation["section"] == CITATION.heading and citation["url"] == URL
    assert "url" not in Citation(1, "T", "s", "q", 0, 1, "q", 0.5).to_json()
    assert "refusal_topic" not in record  # only a refusal the answer code tagged has one
    tagged = Answer("q", REFUSAL, True, refusal_topic=GYM_BUSINESS).to_json()
    assert tagged["refusal_topic"] == "gym business"


def test_a_gym_business_refusal_ends_with_the_front_desk():
    refusal = Answer("how much is a membership?", REFUSAL, True, refusal_topic=GYM_BUSINESS)
    html = format_markdown(refusal, DESK)
    assert html.endswith(
        "<p>For prices, hours and booking, ask the front desk: Iron Oak front desk, 12 Mill "
        'Lane — <a href="https://ironoak.example/book" target="_blank" '
        'rel="noopener noreferrer">https://ironoak.example/book</a></p>'
    )
    assert_inert_chat_html(html, links=["https://ironoak.example/book"])
    phone = format_markdown(refusal, Contact("Call the desk", phone="+1 (555) 010-0100"))
    assert '<a href="tel:+15550100100">+1 (555) 010-0100</a>' in phone
    assert format_text(refusal, DESK).endswith(
        "ask the front desk: Iron Oak front desk, 12 Mill Lane — https://ironoak.example/book"
    )
    # The chat's final update carries it too.
    assert list(reveal(refusal, DESK))[-1] == html


def test_without_a_contact_or_for_another_topic_a_refusal_reads_as_before():
    before = format_markdown(Answer("q", REFUSAL, True))
    gym = Answer("how much is a membership?", REFUSAL, True, refusal_topic=GYM_BUSINESS)
    assert format_markdown(gym) == before == f"<p>{REFUSAL}</p>"
    nutrition = Answer("what should I eat?", REFUSAL, True, refusal_topic="nutrition")
    assert format_markdown(nutrition, DESK) == before
    answered = Answer("q", "a [1]", False, [CITATION], refusal_topic=GYM_BUSINESS)
    assert "front desk" not in format_markdown(answered, DESK)  # not a refusal


def test_the_chat_appends_the_contact_to_a_tagged_refusal(real_index_dir, real_embedder):
    settings = app.Settings(contact=DESK)
    respond = gradio_ui.make_responder(Assistant(real_index_dir, real_embedder), settings)
    final = list(respond("How much is a membership?", []))[-1]
    assert final.startswith("<p>I couldn't find that in the articles")
    assert "ask the front desk: Iron Oak front desk" in final
    answered = list(respond("how much should my knees bend", []))[-1]
    assert "front desk" not in answered and "Sources" in answered


def test_articles_json_gives_each_article_its_web_address(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    meta = json.loads((corpus / "articles.json").read_text("utf-8"))
    meta["5-tips-for-your-hip-hinge.txt"]["url"] = "javascript:alert(document.cookie)"
    (corpus / "articles.json").write_text(json.dumps(meta), "utf-8")
    summary = build_index(corpus, tmp_path / "index", fake_embedder, tmp_path, progress=False)
    assert (
        "no link for corpus/5-tips-for-your-hip-hinge.txt: its url in articles.json is not an "
        "http(s) address"
    ) in summary.lines()
    index = load_index(tmp_path / "index", fake_embedder.model_id, fake_embedder.dimension)
    urls = {d.source: d.url for d in index.documents}
    assert urls == {
        "corpus/mastering-the-hip-hinge.txt": URL,
        "corpus/5-tips-for-your-hip-hinge.txt": None,
    }
    linked = with_links(Answer("q", "a [1]", False, [CITATION]), index)
    assert linked.citations[0].url == URL


def test_the_real_answers_link_their_articles(assistant):
    result = with_links(assistant.ask("why do I feel this in my quads?"), assistant.index)
    assert result.citations
    for citation in result.citations:
        assert citation.url == ARTICLE_URLS[citation.source]
