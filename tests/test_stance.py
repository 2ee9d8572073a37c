"""Stance detection: does a sentence endorse some words of it, warn against them, or only
mention them? Sentences are the articles' own (and a few written like them)."""

from __future__ import annotations

import pytest

from retrieval.cues.stance import clause_stance, detect_stance, heading_stance
from retrieval.cues.wording import Wording, match_wording, tokenize

RATHER = (
    "Rather than folding forward and bringing chest towards thighs, think about hinging back "
    "and bringing thighs towards the chest (more down below)."
)
INSTEAD = (
    "Instead of bringing the thigh towards the chest and sitting back, we bring the chest to "
    "the thighs and sort of “fold forward.”"
)
START = (
    "Start the initial movement from the hips and not from the knees – Focus on pushing the "
    "hips back rather than down."
)
FLEXION = (
    "Maintain a slight flexion in the knees (your legs should not be fully locked out) and "
    "focus on driving your butt back into an imaginary wall."
)
TOO_MUCH = (
    "Too much knee flexion can turn this into a quad dominant movement and take away the "
    "emphasis on our posterior chain."
)
LITTLE = (
    "The hip hinge will involve little to no knee flexion and the spine will be more horizontal."
)
EXTENDED = (
    "If you find yourself in that more extended position, think about exhaling the lower ribs "
    "back in space."
)
LEADS_TO = "This tends to lead to overactive hip flexors."

CASES = [
    # (sentence, cue, next sentence, stance the sentence takes toward the cue's words)
    (RATHER, "chest to thighs", "", "discouraged"),
    (RATHER, "fold forward", "", "discouraged"),
    (RATHER, "bring your thighs to your chest", "", "endorsed"),
    (INSTEAD, "bring your chest to your thighs", LEADS_TO, "discouraged"),
    (INSTEAD, "bring the thigh to the chest", LEADS_TO, "endorsed"),
    (INSTEAD, "bring your chest to your thighs", "", "neutral"),
    (START, "start the movement from the knees", "", "discouraged"),
    (START, "push the hips back", "", "endorsed"),
    (START, "push the hips down", "", "discouraged"),
    (FLEXION, "lock out your legs", "", "discouraged"),
    (FLEXION, "slight flexion in the knees", "", "endorsed"),
    (FLEXION, "drive your butt back into a wall", "", "endorsed"),
    (TOO_MUCH, "knee flexion", "", "discouraged"),
    (TOO_MUCH, "quad dominant movement", "", "discouraged"),
    (LITTLE, "little to no knee flexion", "", "endorsed"),
    (LITTLE, "knee flexion", "", "discouraged"),
    (EXTENDED, "exhale the lower ribs back", "", "endorsed"),
    (EXTENDED, "extended position", "", "discouraged"),
    (LEADS_TO, "overactive hip flexors", "", "discouraged"),
    ("Knees remain soft and weight stays in the mid-foot.", "soft knees", "", "endorsed"),
    ("Shins stay vertical.", "shins stay vertical", "", "endorsed"),
    ("Hip hinge = butt back.", "butt back", "", "endorsed"),
    ("Knees forward, booty back, knees forward, booty back.", "booty back", "", "endorsed"),
    (
        "Pin your shoulders back and stay locked in throughout the entire movement",
        "pin your shoulders back",
        "",
        "endorsed",
    ),
    ("Torso leans forward more.", "lean your torso forward", "", "endorsed"),
    (
        "You should feel the work more so in the glutes, hamstrings, and even your abdominals.",
        "feel the work",
        "",
        "endorsed",
    ),
    (
        "Our goal is to keep the hip flexors nice and relaxed :)",
        "relaxed hip flexors",
        "",
        "endorsed",
    ),
    (
        "It can be really helpful to actually place your hands on your glutes.",
        "hands on your glutes",
        "",
        "endorsed",
    ),
    (
        "Maintain a solid, neutral spine – A solid, neutral spine can only be accomplished with a "
        "deep breath and strong, braced core.",
        "braced core",
        "",
        "endorsed",
    ),
    (
        "Sometimes we may see this as rounding through the low back in a hinge.",
        "round your low back",
        "",
        "discouraged",
    ),
    (
        "We’re not moving up and down (more of a squat), but rather moving “back.”",
        "move up and down",
        "",
        "discouraged",
    ),
    (
        "Long periods of sitting can lead to tighter and shortened quads.",
        "sitting",
        "",
        "discouraged",
    ),
    (
        "As we go into a hip hinge, sometimes we may find we “pull” ourselves forward and bring "
        "our chest down.",
        "bring your chest down",
        "",
        "discouraged",
    ),
    (
        "Squats will involve higher degrees of knee flexion and a more vertical spine.",
        "vertical spine",
        "",
        "neutral",
    ),
    (
        "The posterior chain refers to the muscle groups that comprise the backside of the body, "
        "including the glutes, hamstrings, calves and traps.",
        "glutes",
        "",
        "neutral",
    ),
    (
        "During pregnancy and postpartum our body takes on a more extended position (ribs flared, "
        "booty out).",
        "booty out",
        "",
        "neutral",
    ),
    (
        "The hamstrings and the glutes are two of the strongest muscle groups of the body.",
        "hamstrings",
        "",
        "neutral",
    ),
    ("Don’t let your knees cave in.", "knees cave in", "", "discouraged"),
    ("Avoid shrugging your shoulders.", "shrug your shoulders", "", "discouraged"),
]


@pytest.mark.parametrize(("sentence", "cue", "after", "expected"), CASES)
def test_stance_toward_the_cues_words(sentence, cue, after, expected):
    wording = Wording.of(cue)
    tokens = tokenize(sentence)
    span = match_wording(wording, tokens)
    assert span is not None, f"{cue!r} should use the wording of {sentence!r}"
    start, end = tokens[span[0]].start, tokens[span[1]].end
    assert detect_stance(sentence, start, end, after, wording.negations) == expected


def test_the_cues_own_negation_is_not_the_articles_warning():
    # "little to no" is what the cue says; only a "no" outside the cue's words warns.
    wording = Wording.of("little to no knee flexion")
    assert wording.negations == {"no"}
    at = LITTLE.index("little")
    assert detect_stance(LITTLE, at, at + 25, "", wording.negations) == "endorsed"
    assert detect_stance(LITTLE, at, at + 25) == "discouraged"


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("Rather than folding forward and bringing chest towards thighs", "discouraged"),
        ("think about hinging back and bringing thighs towards the chest", "endorsed"),
        ("your legs should not be fully locked out", "endorsed"),  # an instruction, worded "not"
        ("Start the initial movement from the hips and not from the knees", "endorsed"),
        ("Sometimes we may see this as rounding through the low back in a hinge.", "discouraged"),
        ("Long periods of sitting can lead to tighter and shortened quads.", "discouraged"),
        ("We perform the hip hinge hundreds of times per day.", "neutral"),
    ],
)
def test_clause_stance_reads_the_whole_clause(clause, expected):
    assert clause_stance(clause, 0, len(clause)) == expected


def test_a_sentence_is_judged_by_its_main_clause():
    assert clause_stance(EXTENDED, 0, len(EXTENDED)) == "endorsed"
    assert clause_stance(INSTEAD, 0, len(INSTEAD), LEADS_TO) == "discouraged"


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Keep hip flexors relaxed", "endorsed"),
        ("Check your ribcage", "endorsed"),
        ("Butt blooming / allowing the glutes to fully lengthen", "endorsed"),
        ("Squat VS Hip Hinge – What’s the difference?", "neutral"),
        ("Hip Hinge Progression", "neutral"),
        ("Don’t round your back", "discouraged"),
    ],
)
def test_heading_stance(heading, expected):
    assert heading_stance(heading) == expected
