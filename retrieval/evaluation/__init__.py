"""Evaluation: the labelled sets and `hingecoach eval`, side by side with baselines."""

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
QUESTIONS = DATA / "questions.jsonl"  # labelled questions, tuned on
HELD_OUT = DATA / "heldout.jsonl"  # written before tuning, never tuned on
CUES = DATA / "cues.json"  # labelled cues for the cue check


def sample_questions(limit: int = 40) -> list[str]:
    """Single questions (no history) from the labelled set, for benchmarks: the questions
    answer quality is checked on, answerable and not."""
    from retrieval.evaluation.answers import load_questions

    return [q.question for q in load_questions(QUESTIONS) if not q.history][:limit]
