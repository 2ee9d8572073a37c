"""End to end with the real bundled model on the real corpus."""

from __future__ import annotations

import pytest

from tests.conftest import source_text

# Each question, and a phrase that the passage it must cite contains.
ANSWERABLE = [
    ("why do I feel this in my quads?", "quad"),
    ("what is a hip hinge", "hinge at the hips"),
    ("is a hinge the same as a squat??", "squat"),
    ("how much should my knees bend", "knee"),
    ("where should my weight be on my feet", "mid-foot"),
    ("what muscles does the hip hinge work", "hamstrings"),
    ("how do I stop my ribs flaring", "rib"),
    ("what is butt blooming", "butt blooming"),
    ("how do I keep a neutral spine", "neutral spine"),
    ("should my shins move forward", "vertical"),
    ("what is the posterior chain", "posterior chain refers to"),
    ("my hip flexors feel tight when I hinge", "hip flexors"),
    ("what does push pull mean", "push"),
    ("how do I start the movement", "from the hips"),
    ("why does sitting all day matter", "sitting"),
    ("what exercise should I start with to learn it", "kettlebell deadlift"),
]
UNANSWERABLE = [
    "What should I eat before a workout?",
    "how much does a membership at Lift Chicago cost?",
    "who are the coaches at lift chicago",
    "how to do a bench press",
    "what are the gym's opening hours",
]
BOILERPLATE = (
    "read more",
    "Avatar",
    "Previous",
    "Squats after Baby",
    "xoxo",
    "I got you",
    "Posterior Chain Photo",
    "Lift Chicago is a fantastic",
)


@pytest.mark.parametrize(("question", "phrase"), ANSWERABLE)
def test_answerable_questions_cite_the_right_passage(assistant, question, phrase):
    result = assistant.ask(question)
    assert not result.abstained, result.debug
    passages = " ".join(c.passage.lower() for c in result.citations)
    assert phrase.lower() in passages, [c.quote for c in result.citations]


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_questions_the_articles_do_not_cover_are_refused_plainly(assistant, question):
    result = assistant.ask(question)
    assert result.abstained, [c.quote for c in result.citations]
    assert result.citations == []
    assert "couldn't find that in the articles" in result.answer
    # It says what the articles do cover: section headings from every article.
    index = assistant.index
    for doc in index.documents:
        headings = {c.heading for c in index.chunks if c.doc_id == doc.doc_id} - {doc.title}
        assert any(h in result.answer for h in headings)


def test_quads_question_cites_knee_flexion_passages(assistant):
    result = assistant.ask("why do I feel this in my quads?")
    quotes = " ".join(c.quote for c in result.citations)
    assert "quad" in quotes.lower()
    assert any("knee flexion" in c.quote or "quadriceps" in c.quote for c in result.citations)


@pytest.mark.parametrize("question", [q for q, _ in ANSWERABLE] + UNANSWERABLE)
def test_every_quote_is_a_verbatim_span_and_never_boilerplate(assistant, question):
    for citation in assistant.ask(question).citations:
        assert source_text(citation.source)[citation.start : citation.end] == citation.quote
        assert citation.quote in citation.passage
        for junk in BOILERPLATE:
            assert junk not in citation.passage


def test_pain_questions_carry_a_not_medical_advice_note(assistant):
    result = assistant.ask("my lower back hurts when I hinge, what am I doing wrong?")
    assert "not medical advice" in result.answer
    assert "not medical advice" not in assistant.ask("what is a hip hinge").answer


def test_an_injury_the_articles_do_not_cover_is_refused_with_the_note(assistant):
    # No article mentions discs: quoting its lines on back pain would read as advice.
    result = assistant.ask("does hinging hurt my back if I have a herniated disc?")
    assert result.abstained and result.citations == []
    assert "no medical advice" in result.answer and "see a doctor" in result.answer
    assert result.notice and result.notice in result.answer


@pytest.mark.parametrize(
    "question",
    [
        "i have sciatica can i deadlift",  # "deadlift" alone would find quotes
        "can i hinge after knee surgery",
        "i have diastasis recti, is hinging ok?",
    ],
)
def test_a_named_diagnosis_the_articles_never_mention_is_refused(assistant, question):
    result = assistant.ask(question)
    assert result.abstained and result.citations == []
    assert result.notice and "see a doctor" in result.answer


def test_follow_up_uses_the_conversation(assistant):
    alone = assistant.ask("and my feet?")
    followed = assistant.ask("and my feet?", history=["how much should my knees bend in a hinge"])
    assert not followed.abstained
    assert any("mid-foot" in c.passage for c in followed.citations)
    assert alone.abstained or alone.citations != followed.citations
