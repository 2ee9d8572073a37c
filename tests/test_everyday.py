"""Questions in the visitors' own words: the everyday sets, health, scope and conversations.

Real model, real corpus (and the second corpus, on another movement, with no code change).
The quality floors sit just under what `hingecoach eval` measures on each set (see the
README); they catch a regression, they are not the targets.
"""

from __future__ import annotations

import pytest

from retrieval.answer import MAX_QUOTE_CHARS, fitted
from retrieval.assistant import Assistant
from retrieval.evaluation import DATA
from retrieval.evaluation.answers import evaluate_answers, load_questions
from retrieval.followup import ordinal, refers_to_subject
from retrieval.health import health_words
from retrieval.scope import asked_out_of_scope, named_lifts
from tests.conftest import source_text

EVERYDAY = DATA / "everyday.jsonl"
EVERYDAY_HELD_OUT = DATA / "everyday-heldout-2026-12-06.jsonl"
SECOND = DATA / "second-corpus"


def measure(assistant, path):
    return evaluate_answers(
        assistant.index, assistant.embedder, load_questions(path), baselines=[]
    ).systems[0]


def assert_within(row, floors: dict[str, float], ceilings: dict[str, float]) -> None:
    for name, floor in floors.items():
        assert getattr(row, name) >= floor, (name, getattr(row, name))
    for name, ceiling in ceilings.items():
        assert getattr(row, name) <= ceiling, (name, getattr(row, name))


EVERYDAY_FLOORS = dict(hit1=0.45, hit3=0.64, abstention=0.75, note=1.0, turn_hit3=0.55)


@pytest.mark.parametrize(
    ("path", "floors", "false_refusals"),
    [
        (EVERYDAY, EVERYDAY_FLOORS, 0.09),
        (EVERYDAY_HELD_OUT, EVERYDAY_FLOORS, 0.09),
        (
            DATA / "everyday-fresh-2026-12-06.jsonl",
            dict(hit1=0.34, hit3=0.55, abstention=0.9, note=1.0, turn_hit3=0.3),
            0.09,
        ),
        (
            DATA / "refusal-tuning-2026-12-06.jsonl",
            dict(hit1=0.4, hit3=0.65, abstention=0.97, note=1.0),
            0.13,
        ),
    ],
    ids=["tuning", "held-out", "fresh", "refusal"],
)
def test_everyday_questions_hold_their_measured_quality(assistant, path, floors, false_refusals):
    row = measure(assistant, path)
    ceilings = dict(false_abstention=false_refusals, repeated=0.0, long_quotes=0.0)
    assert_within(row, floors, ceilings)


@pytest.fixture(scope="module")
def second(tmp_path_factory, real_embedder):
    """A gym's own articles on another movement: built and answered with no code change."""
    from ingest.build import build_index

    index = tmp_path_factory.mktemp("second") / "index"
    build_index(SECOND / "corpus", index, real_embedder, SECOND, progress=False)
    return Assistant(index, real_embedder)


def test_a_second_corpus_gets_the_same_behaviour(second):
    row = measure(second, SECOND / "questions.jsonl")
    floors = dict(hit3=0.75, abstention=0.97, note=1.0)
    assert_within(row, floors, dict(false_abstention=0.08, repeated=0.0, long_quotes=0.0))
    assert second.ask("how do i keep my arms from doing all the work").citations
    assert second.ask("how much is a kettlebell class").abstained


@pytest.mark.parametrize(
    "question",
    [
        "is it ok to deadlift while pregnant?",
        "is hinging safe after a c-section?",
        "since my little one was born my body just feels different, can i do these",
        "i take meds for my blood pressure, can i still lift",
        "my back feels kind of off after bending, should i worry",
        "whats a safe way to start if i had surgery last year",
        "6 months pp, which exercise should i start with",
    ],
)
def test_health_questions_get_the_note_whether_answered_or_refused(assistant, question):
    result = assistant.ask(question)
    assert (
        result.notice
        and "not medical advice" in result.notice
        or (result.notice and "no medical advice" in result.notice)
    )
    assert "see a doctor or physical therapist" in result.answer


@pytest.mark.parametrize(
    "question", ["what is a hip hinge", "where should my weight be", "how do i start the move"]
)
def test_coaching_questions_get_no_health_note(assistant, question):
    assert assistant.ask(question).notice is None


def test_health_is_also_recognised_by_meaning_not_only_words(assistant):
    question = "since my little one was born my body just feels different, can i do these"
    assert not health_words(question)  # no listed word: the prototypes find it
    assert assistant.ask(question).notice


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("what should i eat before lifting", "nutrition"),
        ("how much is a membership", "gym business"),
        ("what time do u open on sundays", "gym business"),
        ("do i need a lifting belt", "gear"),
        ("how many sets and reps should i do", "programming"),
        ("how do i do a pull up", "other exercise"),
        ("can i take ibuprofen before working out", "medication"),
        ("how many kettlebell deadlifts should i do a day", "programming"),
        ("when do i add more weight on it, every week?", "programming"),
        ("should i do this before or after my run", "programming"),
        ("whats the best kettlebell to buy for home", "gear"),
        ("can i do it on an empty stomach", "nutrition"),
        ("how do i foam roll my glutes", "other exercise"),
    ],
)
def test_out_of_scope_intents_are_refused_on_any_corpus(assistant, second, question, intent):
    for one in (assistant, second):
        assert asked_out_of_scope(question, " ".join(c.text for c in one.index.chunks).lower())
        result = one.ask(question)
        assert result.abstained and result.citations == []
        assert result.debug["out_of_scope"] == intent


@pytest.mark.parametrize(
    "question",
    [
        "how much should my knees bend",  # "how much" about the body is no price question
        "what should I do with my breathing during the lift?",
        "whats a good beginner exercise to learn it",
        "what's the point of training the back of your body",
    ],
)
def test_covered_questions_in_everyday_words_are_answered(assistant, question):
    result = assistant.ask(question)
    assert not result.abstained and result.citations


def test_it_and_this_name_the_subject():
    assert refers_to_subject("is it bad if my back rounds")
    assert refers_to_subject("where should i feel this")
    assert refers_to_subject("how shud my back be when i lean over to grab stuff")
    assert not refers_to_subject("how much is a membership")


def test_a_follow_up_never_repeats_what_the_answer_before_quoted(assistant):
    first = assistant.ask("why do I feel this in my quads?")
    history = ["why do I feel this in my quads?"]
    fix = assistant.ask("how do I fix that?", history, cited=first.citations)
    assert fix.citations
    shown = {(c.source, c.start, c.end) for c in first.citations}
    assert not shown & {(c.source, c.start, c.end) for c in fix.citations}


def test_the_second_one_is_the_second_item_of_the_list_quoted_before(assistant):
    question = "what are the main tips for doing this right"
    first = assistant.ask(question)
    assert first.citations[0].quote.startswith("A few tips:")
    second = assistant.ask("the second one?", [question], cited=first.citations)
    text = source_text(second.citations[0].source)
    before = text[: second.citations[0].start].rstrip()
    assert before.endswith("•")  # it opens a list item, and not the first one
    assert second.citations[0].start > first.citations[0].end
    assert ordinal("and the last one?") == -1 and ordinal("explain number 2") == 2


def test_nothing_new_is_said_in_one_line(assistant):
    question = "what is butt blooming"
    seen = []
    answer = assistant.ask(question)
    for _ in range(6):  # ask the same follow-up until the articles run out
        seen += answer.citations
        answer = assistant.ask("tell me more about it", [question], cited=seen)
        if answer.abstained:
            break
    assert answer.abstained
    assert answer.answer.startswith("The articles say nothing more on that")


def test_quotes_are_cut_to_a_glance_at_a_clause_boundary():
    long = "We want the knees soft, the shins vertical, " * 10
    cut = fitted(long)
    assert len(cut) <= MAX_QUOTE_CHARS and long.startswith(cut) and cut.endswith(",")


@pytest.mark.parametrize(
    ("question", "answer", "not_first"),
    [
        ("where should I feel a deadlift?", "feel the work more so in the glutes", "kettlebell"),
        ("what muscles does an RDL work?", "muscle", "associated with the RDL"),
    ],
)
def test_a_named_hinge_lift_is_the_subject_not_the_answer(assistant, question, answer, not_first):
    # The lift says what the question is about; a sentence that merely names it answers nothing.
    result = assistant.ask(question)
    assert not_first not in result.citations[0].quote
    assert any(answer in c.quote for c in result.citations), [c.quote for c in result.citations]


def test_only_lifts_the_articles_mention_count_as_their_subject():
    text = "we love a kettlebell deadlift and the rdl; a squat differs"
    assert named_lifts("where do i feel an RDL", text) == ["RDL"]
    assert named_lifts("is a kettlebell swing ok", text) == []  # never mentioned
    assert named_lifts("how deep should my squat be", text) == []  # another movement


def test_is_it_safe_while_pregnant_is_for_a_doctor_unless_the_articles_say_who_clears_it(
    assistant, second
):
    # The hinge articles mention pregnancy but clear nobody: refused, with the note.
    for question in (
        "is it safe to do kettlebell deadlifts at 30 weeks pregnant",
        "is it ok to deadlift while pregnant?",
    ):
        result = assistant.ask(question)
        assert result.abstained and result.debug["out_of_scope"] == "medical clearance"
        assert result.notice and "no medical advice" in result.notice
    # "Is that normal?" asks for an explanation the articles may give: not refused for it.
    assert assistant.ask("my ribs stick out since i had the baby, is that normal?").citations
    # The swing articles say who should check in first: answered from them, with the note.
    result = second.ask("im 4 months pregnant can i still do kettlebell swings")
    assert not result.abstained
    assert any("midwife" in c.quote for c in result.citations)
    assert result.notice and "not medical advice" in result.notice


def test_health_words_are_read_in_chat_speak_too(assistant):
    assert assistant.ask("is preworkout bad for u").notice
