"""Quote extents on the real articles: a quote must say something by itself."""

from __future__ import annotations

from ingest.build import build_index
from retrieval.index import load_index
from retrieval.quotes import extent, heading_start
from tests.conftest import source_text


def _sentence(index, starts: str) -> int:
    return next(i for i, s in enumerate(index.sentences) if s.text.startswith(starts))


def _quote(index, first: int, last: int) -> str:
    doc = index.chunks[index.sentences[first].chunk_id].doc_id
    return index.quote(doc, index.sentences[first].start, index.sentences[last].end)


def test_a_lead_in_is_quoted_with_the_first_item_of_its_list(assistant):
    # "...coaching cues ...:" is followed by "\n\n  1. Start the initial movement...": quoted
    # alone it tells a reader nothing.
    index = assistant.index
    first, last = extent(index, _sentence(index, "Here are three coaching cues"))
    quote = _quote(index, first, last)
    assert quote.startswith("Here are three coaching cues") and "1. Start the initial" in quote
    assert last == first + 1  # the first cue, not the whole list


def test_a_full_sentence_is_quoted_alone(assistant):
    index = assistant.index
    sid = _sentence(index, "Too much knee flexion can turn this")
    assert extent(index, sid) == (sid, sid)


def test_a_short_question_takes_its_answer(assistant):
    index = assistant.index
    sid = next(i for i, s in enumerate(index.sentences) if s.text == "Why?")
    first, last = extent(index, sid)
    assert first == sid and last > sid and len(_quote(index, first, last)) > len("Why?")


def test_a_sentence_restating_its_heading_is_quoted_with_the_heading(assistant):
    # "3. Butt blooming / allowing the glutes to fully lengthen" then "Yes, butt blooming.":
    # the heading is the definition, the sentence alone says nothing.
    result = assistant.ask("what's butt blooming")
    first = result.citations[0]
    assert first.quote.startswith("Butt blooming / allowing the glutes to fully lengthen")
    assert "Yes, butt blooming." in first.quote and "A client mentioned" not in first.quote
    assert source_text(first.source)[first.start : first.end] == first.quote
    assert first.passage[first.start - first.passage_start :].startswith(first.quote)


def test_any_corpus_quotes_a_restated_heading_with_its_sentence(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "core.txt").write_text(
        "Core Basics for Lifters\n\n"
        "1. Hollow hold / pressing the low back into the floor\n\n"
        "The hollow hold.\n\n"
        "Lie on your back and reach your arms overhead. Keep your ribs down the whole time.\n\n"
        "2. Dead bug / moving one limb at a time\n\n"
        "Lie on your back with arms up. Lower one arm and the opposite leg slowly, then switch.\n",
        encoding="utf-8",
    )
    build_index(corpus, tmp_path / "index", fake_embedder, tmp_path, progress=False)
    index = load_index(tmp_path / "index", fake_embedder.model_id, fake_embedder.dimension)
    restating = _sentence(index, "The hollow hold.")
    assert extent(index, restating) == (restating, restating)
    start = heading_start(index, restating)
    assert start is not None
    assert index.texts[0][start:].startswith("Hollow hold / pressing the low back")
    # A full sentence opening its section is not a restatement.
    assert heading_start(index, _sentence(index, "Lie on your back with arms up")) is None
