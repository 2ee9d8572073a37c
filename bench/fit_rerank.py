"""Fit the quote reranker's weights (retrieval/rerank.py) on the tuning question sets.

Trains on retrieval/evaluation/data/everyday.jsonl and questions.jsonl only; prints the
weights to paste into rerank.WEIGHTS, then the quality of the pipeline with them next to
without, on the tuning sets and on the held-out sets (everyday-heldout, heldout) and the
second corpus, which the fit never sees:

    .venv/bin/python -m bench.fit_rerank
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app  # noqa: E402
from retrieval import rerank  # noqa: E402
from retrieval.answer import AnswerSettings, retrieve  # noqa: E402
from retrieval.evaluation import DATA, HELD_OUT, QUESTIONS  # noqa: E402
from retrieval.evaluation.answers import (  # noqa: E402
    LabelledQuestion,
    _normal,
    evaluate_answers,
    load_questions,
)
from retrieval.vocabulary import lexicon  # noqa: E402

TRAIN = (DATA / "everyday.jsonl", QUESTIONS)
HELD = (DATA / "everyday-heldout-2026-12-06.jsonl", HELD_OUT)
SECOND = DATA / "second-corpus"
L2 = 0.01


def examples(assistant, questions: list[LabelledQuestion]) -> tuple[np.ndarray, np.ndarray, list]:
    """Features and labels of every candidate unit of every answerable question."""
    index, embedder = assistant.index, assistant.embedder
    lex = lexicon(index)
    settings = dataclasses.replace(AnswerSettings(), rerank=False)
    rows, labels, groups = [], [], []
    cited: list = []
    last_conversation = -1
    qid_seen: list[int] = []
    for q in questions:
        if q.conversation != last_conversation:
            cited = []
        found = retrieve(q.question, index, embedder, list(q.history), settings, cited)
        cited = [
            __import__("retrieval.answer", fromlist=["citation"]).citation(
                index,
                n,
                index.sentences[s.first].chunk_id,
                index.sentences[s.first].start,
                index.sentences[s.last].end,
                s.score,
            )
            for n, s in enumerate(found.spans, 1)
        ]
        last_conversation = q.conversation
        if not q.answerable or not found.hits:
            continue
        pipeline = {x.sentence_id: x.score for x in found.scored}
        units, matrix = rerank.features(
            index, lex, embedder, found.hits, found.query, found.before, pipeline
        )
        gold = [_normal(g) for g in q.gold]
        qid_seen.append(1)
        for unit, row in zip(units, matrix, strict=True):
            doc = index.chunks[unit.chunk_id].doc_id
            text = _normal(
                index.quote(doc, index.sentences[unit.first].start, index.sentences[unit.last].end)
            )
            rows.append(row)
            labels.append(any(g in text for g in gold))
            groups.append(len(qid_seen))
    return np.asarray(rows), np.asarray(labels, dtype=float), groups


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Listwise (softmax) ranking: for each question, raise the probability mass of the
    candidates that contain a gold phrase among all its candidates. Gradient descent with an
    L2 penalty on standardised features; returns weights for the raw features plus a bias."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / std
    w = np.zeros(z.shape[1])
    keep = [g for g in np.unique(groups) if y[groups == g].any()]
    members = [np.flatnonzero(groups == g) for g in keep]
    for _ in range(1500):
        grad = L2 * w
        for rows in members:
            s = z[rows] @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            pos = y[rows] > 0
            q = p * pos / (p[pos].sum())
            grad += z[rows].T @ (p - q) / len(members)
        w -= 0.5 * grad
    raw = w / std
    return np.append(raw, -float(mean @ raw))


def report(name: str, assistant, path: Path) -> str:
    r = evaluate_answers(
        assistant.index, assistant.embedder, load_questions(path), assistant.settings, []
    ).systems[0]
    return (
        f"{name:<22} Hit@1 {r.hit1:.2f}  Hit@3 {r.hit3:.2f}  turn@3 {r.turn_hit3:.2f}  "
        f"false {r.false_abstention:.2f}  abstain {r.abstention:.2f}"
    )


def main() -> None:
    settings = app.Settings.from_env()
    assistant = app.open_assistant(settings, build_if_missing=True)
    second = app.Settings.from_env()
    second.corpus, second.index = SECOND / "corpus", ROOT / ".bench" / "second-index"
    other = app.open_assistant(second, build_if_missing=True)
    xs, ys, gs = [], [], []
    offset = 0
    for path in TRAIN:
        x, y, g = examples(assistant, load_questions(path))
        xs.append(x)
        ys.append(y)
        gs.append(np.asarray(g) + offset)
        offset += max(g, default=0) + 1
    weights = fit(np.vstack(xs), np.concatenate(ys), np.concatenate(gs))
    print("WEIGHTS = np.array([" + ", ".join(f"{w:.4f}" for w in weights) + "])")
    for name, w in zip([*rerank.FEATURES, "bias"], weights, strict=True):
        print(f"  {name:<14} {w:+.3f}")
    sets = [
        ("tuning: everyday", assistant, TRAIN[0]),
        ("tuning: questions", assistant, TRAIN[1]),
        ("held out: everyday", assistant, HELD[0]),
        ("held out: heldout", assistant, HELD[1]),
        ("second corpus", other, SECOND / "questions.jsonl"),
    ]
    for label, use in (("without reranker", False), ("with fitted weights", True)):
        rerank.WEIGHTS[:] = weights
        for a in (assistant, other):
            a.settings = dataclasses.replace(a.settings, rerank=use)
        print(f"\n{label}")
        for name, a, path in sets:
            print(" ", report(name, a, path))


if __name__ == "__main__":
    main()
