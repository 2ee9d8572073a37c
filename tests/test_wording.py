"""Same wording: case, punctuation, inflection and small reorderings don't matter; meaning
carried by order, sense or a clause break does."""

from __future__ import annotations

import pytest

from retrieval.cues.wording import (
    Wording,
    clause_spans,
    cue_qualifiers,
    match_wording,
    tokenize,
    topics_of,
    unstated,
)


def uses(cue: str, sentence: str) -> str | None:
    """The words of `sentence` that use the cue's wording, or None."""
    tokens = tokenize(sentence)
    span = match_wording(Wording.of(cue), tokens)
    return None if span is None else sentence[tokens[span[0]].start : tokens[span[1]].end]


@pytest.mark.parametrize(
    ("cue", "sentence", "words"),
    [
        ("soft knees", "Knees remain soft and weight stays in the mid-foot.", "Knees remain soft"),
        ("BUTT BACK!", "Hip hinge = butt back.", "butt back"),
        (
            "bring your chest to your thighs",
            "bringing chest towards thighs",
            "bringing chest towards thighs",
        ),
        ("keep your shins vertical", "Keep a vertical shin angle", "vertical shin"),
        ("weight in the midfoot", "Weight in the mid-foot", "Weight in the mid"),
        (
            "knees forward, booty back",
            "Knees forward, booty back, knees forward",
            "Knees forward, booty back",
        ),
        ("keep your spine neutral", "Maintain a solid, neutral spine", "neutral spine"),
        # a bracketed warning about the words before it: the article says not to
        (
            "lock your knees",
            "Maintain a slight flexion in the knees (your legs should not be fully locked out)",
            "knees (your legs should not be fully locked",
        ),
        (
            "don't round your low back",
            "rounding through the low back",
            "rounding through the low back",
        ),
    ],
)
def test_same_wording_ignores_case_punctuation_inflection_and_order(cue, sentence, words):
    assert uses(cue, sentence) == words


@pytest.mark.parametrize(
    ("cue", "sentence"),
    [
        # the order across "to" carries the meaning
        ("bring your chest to your thighs", "bringing thighs towards the chest"),
        # "back" the body part is not "back" the direction; "hip" of "hip hinge" is no hip
        ("butt back", "the glutes and the lower back"),
        ("hips back", "Hip hinge = butt back."),
        # words spread across a list of clauses are not one cue
        ("move up and down", "Any time you bend over, stand up, sit down, or simply move"),
        # too many words in between
        ("soft knees", "Knees should move forward a little, and stay soft"),
        # a missing word
        ("keep a vertical shin angle", "Shins stay vertical."),
        # a bracket that is no warning is a pause like any other
        ("ribs stacked over the pelvis", "maintain a stacked body position (ribs over pelvis)"),
    ],
)
def test_different_wording_is_not_found(cue, sentence):
    assert uses(cue, sentence) is None


@pytest.mark.parametrize(
    ("cue", "said"),
    [
        ("exhale at the top", ["at the top"]),
        ("push your hips back explosively", ["explosively"]),
        ("slowly squeeze your glutes on the way up", ["on the way up", "slowly"]),
        ("unlock your knees slightly", ["slightly"]),
        ("really brace your belly", []),  # an intensifier, and a noun in -ly
        ("hinge from the hips", []),
    ],
)
def test_a_cues_when_and_how_are_its_qualifiers(cue, said):
    assert [q.text for q in cue_qualifiers(cue)] == said


def test_a_qualifier_is_stated_by_its_word_or_its_label():
    tokens = tokenize("Squeeze at the top of the lift, with an explosive drive, slightly")
    how = cue_qualifiers("drive explosively at the top, slightly, slowly")
    assert unstated(how, tokens, {"slight"}) == ["slowly"]
    assert unstated(how, tokenize("Drive hard."), set()) == [
        "at the top",
        "explosively",
        "slightly",
        "slowly",
    ]


def test_a_cue_of_filler_words_requires_nothing():
    assert Wording.of("the and of").required == ()


@pytest.mark.parametrize(
    ("sentence", "clauses"),
    [
        (
            "Knees remain soft and weight stays in the mid-foot.",
            ["Knees remain soft", "weight stays in the mid-foot"],
        ),
        (
            "Pin your shoulders back and stay locked in throughout the entire movement",
            ["Pin your shoulders back", "stay locked in throughout the entire movement"],
        ),
        (
            "Maintain a slight flexion in the knees (your legs should not be fully locked out) "
            "and focus on driving your butt back into an imaginary wall.",
            [
                "Maintain a slight flexion in the knees",
                "your legs should not be fully locked out",
                "focus on driving your butt back into an imaginary wall",
            ],
        ),
        (
            "Keep a vertical shin angle – The majority of the movement should be coming from the "
            "hips.",
            [
                "Keep a vertical shin angle",
                "The majority of the movement should be coming from the hips",
            ],
        ),
        (
            "Any time you bend over, stand up, sit down, or simply move through space you are hip "
            "hinging.",
            [
                "Any time you bend over, stand up, sit down, or simply move through space you are "
                "hip hinging"
            ],
        ),
        (
            "The hamstrings and the glutes are two of the strongest muscle groups.",
            ["The hamstrings and the glutes are two of the strongest muscle groups"],
        ),
    ],
)
def test_clauses_split_where_a_new_instruction_begins(sentence, clauses):
    assert [sentence[a:b] for a, b in clause_spans(sentence)] == clauses


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("Knees remain soft and weight stays in the mid-foot.", ["knees", "feet"]),
        ("Hip hinge = butt back.", ["hips"]),
        ("rounding through the low back", ["spine"]),
        ("think about exhaling the lower ribs back in space", ["ribs/breathing"]),
        ("Keep a vertical shin angle", ["shins"]),
        ("Initiate with the hip hinge.", []),
    ],
)
def test_body_part_topics(text, topics):
    assert topics_of(text) == topics
