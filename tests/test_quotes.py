"""Quote extents on the real articles: a quote must say something by itself."""

from __future__ import annotations

from retrieval.quotes import extent


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
