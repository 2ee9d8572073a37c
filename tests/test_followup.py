"""Follow-up questions: what depends on the conversation, and what stands on its own."""

from __future__ import annotations

import pytest

from retrieval.followup import is_followup, resolve


@pytest.mark.parametrize(
    "question",
    [
        "and my feet?",
        "what about the spine?",
        "how do I fix that?",
        "why does it matter?",
        "how do i keep it that way?",
        "so what do i do about it",
        "why?",
        "and the second one?",
    ],
)
def test_questions_that_lean_on_the_conversation(question):
    assert is_followup(question)


@pytest.mark.parametrize(
    "question",
    [
        "which muscles are in the posterior chain",
        "should my shins stay vertical",
        "how much should my knees bend in a hinge",
        "what is butt blooming",
        "cool, how do i bench press?",
        "ok and how much is coaching at lift chicago?",
    ],
)
def test_questions_that_stand_on_their_own(question):
    assert not is_followup(question)


def test_a_followup_is_searched_with_the_question_it_continues():
    resolved = resolve("and my feet?", ["what is a hip hinge", "how much should my knees bend"])
    assert resolved.followup and resolved.context == "how much should my knees bend"
    assert resolved.text == "how much should my knees bend and my feet?"


def test_chains_of_followups_go_back_to_the_question_they_started_from():
    resolved = resolve("and my shins?", ["how much should my knees bend", "and my feet?"])
    assert resolved.context == "how much should my knees bend and my feet?"


def test_standalone_questions_ignore_the_history():
    resolved = resolve("which muscles are in the posterior chain", ["what is butt blooming"])
    assert not resolved.followup and resolved.text == "which muscles are in the posterior chain"
    assert not resolve("and my feet?", []).followup
    assert not resolve("and my feet?", ["   "]).followup
