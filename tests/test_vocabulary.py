"""Questions normalised against the articles' words, and the shapes of their sentences."""

from __future__ import annotations

import pytest

from retrieval.vocabulary import (
    as_reader,
    content_words,
    lexicon,
    normalise_question,
    without_topic,
)


@pytest.fixture(scope="module")
def lex(assistant):
    return lexicon(assistant.index)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("wat musles r in the posterior chain", "what muscles are in the posterior chain"),
        ("hamstrngs and glutues", "hamstrings and glutes"),
        ("squat vs hinge whats the diffrence", "squat vs hinge what is the difference"),
        ("my hip flexers feel tight n grab lol", "my hip flexors feel tight and grab"),
        ("posterier chain", "posterior chain"),
    ],
)
def test_chat_speak_and_misspellings_become_article_words(lex, typed, meant):
    assert normalise_question(typed, lex) == meant


@pytest.mark.parametrize(
    "question",
    ["how far should I be leaning", "heels or toes", "is running bad for my knees", "ok rdl"],
)
def test_real_words_are_never_corrected(lex, question):
    assert normalise_question(question, lex) == question


def test_links_are_dropped_not_corrected_into_article_words(lex):
    # "https" is two letters from "hips"; a short word may only lose or change one.
    assert normalise_question("see https://evil.example/x now", lex) == "see now"
    assert normalise_question("pwned", lex) == "pwned"


def test_questions_are_put_in_the_articles_voice_without_the_shared_topic(lex):
    assert as_reader("should my legs be straight when I hinge") == (
        "should your legs be straight when you hinge"
    )
    assert lex.topic == {"hip", "hing"}
    assert without_topic("where do I feel a hip hinge", lex) == "where do I feel a"
    assert without_topic("what is a hip hinge", lex) == "what is a hip hinge"  # nothing left
    assert content_words("what the heck is butt blooming") == ["butt", "blooming"]


def test_sentences_that_cannot_answer_alone_are_marked(assistant, lex):
    marks = {s.text: i for i, s in enumerate(assistant.index.sentences)}
    assert lex.question[marks["Why?"]]
    assert lex.aside[marks["Here are 4 ankle mobility drills to instantly improve your squat)"]]
    assert lex.media[marks["Check out this video?"]]
    ordinary = marks["Shins stay vertical."]
    assert lex.quotable[ordinary] and not lex.media[ordinary]
