"""Why the first quote misses: each answerable question and conversation turn of a set whose
first quote holds no gold phrase, sorted into causes.

    PYTHONPATH=. .venv/bin/python bench/misses.py retrieval/evaluation/data/everyday.jsonl

Causes: refused though covered; the right quote came 2nd or 3rd (ordering); a follow-up whose
answer the answer before already quoted (a follow-up never repeats it); the passage
with the answering sentence was not among those searched (search); it was, but another
sentence was chosen, and the answering one shares no word with the question (vocabulary)
or does (intent and discourse).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app  # noqa: E402
from retrieval.answer import AnswerSettings, Retrieval, decide, retrieve  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.evaluation.answers import LabelledQuestion, _normal, load_questions  # noqa: E402
from retrieval.index import Index  # noqa: E402
from retrieval.records import Answer, Citation  # noqa: E402
from retrieval.text import stems  # noqa: E402


def main(path: Path) -> None:
    assistant = app.open_assistant(app.Settings.from_env(), build_if_missing=True)
    index, embedder, settings = assistant.index, assistant.embedder, assistant.settings
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    for q, found, result in replay(index, embedder, settings, load_questions(path)):
        if not q.answerable:
            continue
        gold = [_normal(g) for g in q.gold]
        quotes = [_normal(c.quote) for c in result.citations]
        rank = next((n for n, t in enumerate(quotes, 1) if any(g in t for g in gold)), None)
        if rank == 1:
            continue
        kind = "turn" if q.conversation >= 0 and q.history else "single"
        key = (kind, cause(q, found, result.abstained, rank, gold, index))
        counts[key] += 1
        examples.setdefault(key, q.question)
    for (kind, why), n in counts.most_common():
        print(f"{n:4d}  {kind:<6} {why:<58} e.g. {examples[(kind, why)]!r}")


def replay(
    index: Index, embedder: Embedder, settings: AnswerSettings, questions: list[LabelledQuestion]
) -> Iterator[tuple[LabelledQuestion, Retrieval, Answer]]:
    """Each question through retrieval and the answer, as `hingecoach eval` asks it: a
    conversation's turns in order, each given what the turn before quoted."""
    cited: list[Citation] = []
    conversation = -1
    for q in questions:
        if q.conversation != conversation:
            cited, conversation = [], q.conversation
        found = retrieve(q.question, index, embedder, list(q.history), settings, cited)
        result = decide(found, index, embedder, settings, q.question)
        cited = result.citations
        yield q, found, result


def cause(
    q: LabelledQuestion,
    found: Retrieval,
    refused: bool,
    rank: int | None,
    gold: list[str],
    index: Index,
) -> str:
    if refused:
        return "refused though covered"
    if rank:
        return "right quote 2nd or 3rd (ordering)"
    searched = {s for hit in found.hits for s in index.chunk_sentences[hit.chunk_id]}
    answering = [
        i
        for i, sentence in enumerate(index.sentences)
        if any(g in _normal(sentence.text) or _normal(sentence.text) in g for g in gold)
    ]
    if set(answering) & found.before:
        return "quoted by the answer before, never repeated (conversation)"
    if not set(answering) & searched:
        return "answering passage not searched (search)"
    asked = set(stems(q.question))
    if any(asked & set(stems(index.sentences[i].text)) for i in answering):
        return "passage found, another sentence chosen (intent, discourse)"
    return "passage found, no shared word (vocabulary)"


if __name__ == "__main__":
    main(Path(sys.argv[1]))
