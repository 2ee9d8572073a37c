"""Quotes ranked by what they say, not by the words they share: a learned linear reranker.

The candidates are short units of the best passages: a sentence, or two or three consecutive
sentences of one paragraph (at most MAX_UNIT_CHARS), embedded once per loaded index. Each
candidate is described by general features: its own cosine with the question and its best
sentence's, its passage's dense and lexical scores, the share of the question's telling words
it contains, how its sentences' roles fit what the question asks (roles.py), whether it opens
with an announcement, an aside or an anecdote, its length, and, for a follow-up, how it
relates to the new words and to what was cited before. A linear model over these features
was fitted on the labelled tuning questions (`python -m bench.fit_rerank`); its weights are
below. Nothing in a feature names a word of any one article.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.embedder import Embedder
from retrieval.index import Index, per_index
from retrieval.quotes import Query, _coverage, _joinable
from retrieval.roles import fit, role_table
from retrieval.search import Hit
from retrieval.vocabulary import Lexicon

MAX_UNIT_CHARS = 300  # a quote a visitor reads at a glance
MAX_UNIT_SENTENCES = 3
FEATURES = (
    "unit_cos",
    "first_cos",
    "max_cos",
    "passage_cos",
    "passage_bm25",
    "passage_rank",
    "overlap",
    "heading",
    "fit_first",
    "fit_best",
    "opens_weak",
    "opens_example",
    "opens_aside",
    "sentences",
    "length",
    "own_cos",
    "own_overlap",
    "same_section",
    "opens_passage",
    "sentence_score",
    "best_score",
)
# Fitted by bench/fit_rerank.py (listwise) on everyday.jsonl and questions.jsonl; used only
# with AnswerSettings(rerank=True), which is off: better Hit@3, worse Hit@1 on heldout.jsonl.
WEIGHTS = np.array(
    [
        6.3386,
        0.2986,
        4.0555,
        5.8961,
        1.1918,
        -0.2307,
        1.4547,
        1.9126,
        -0.5548,
        1.4284,
        -1.4132,
        0.3895,
        2.1922,
        -1.1776,
        5.2675,
        3.6575,
        -0.7431,
        0.5121,
        -0.5887,
        -0.1692,
        6.9251,
        -7.8219,
    ]
)


@dataclass(frozen=True)
class Unit:
    """Consecutive sentences first..last (inclusive) of one passage."""

    first: int
    last: int
    chunk_id: int


class _Units:
    def __init__(self, units: list[Unit], texts: list[str]):
        self.units, self.texts = units, texts
        self.by_chunk: dict[int, list[int]] = {}
        for n, unit in enumerate(units):
            self.by_chunk.setdefault(unit.chunk_id, []).append(n)
        self.vectors: dict[int, np.ndarray] = {}

    def embedded(self, embedder: Embedder) -> np.ndarray:
        key = id(embedder)
        if key not in self.vectors:
            self.vectors[key] = (
                embedder.encode(self.texts)
                if self.texts
                else np.zeros((0, embedder.dimension), np.float32)
            )
        return self.vectors[key]


@per_index
def units(index: Index) -> _Units:
    """Every candidate unit of the index and its text."""
    found: list[Unit] = []
    texts: list[str] = []
    for first, sentence in enumerate(index.sentences):
        doc = index.chunks[sentence.chunk_id].doc_id
        last = first
        while True:
            text = index.quote(doc, sentence.start, index.sentences[last].end)
            if last == first or len(text) <= MAX_UNIT_CHARS:
                found.append(Unit(first, last, sentence.chunk_id))
                texts.append(text)
            if last - first + 1 >= MAX_UNIT_SENTENCES or not _joinable(index, last, last + 1, 1):
                break
            last += 1
            if len(index.quote(doc, sentence.start, index.sentences[last].end)) > MAX_UNIT_CHARS:
                break
    return _Units(found, texts)


def features(
    index: Index,
    lex: Lexicon,
    embedder: Embedder,
    hits: list[Hit],
    query: Query,
    exclude: frozenset[int] = frozenset(),
    scored: dict[int, float] | None = None,
) -> tuple[list[Unit], np.ndarray]:
    """The candidate units of the hit passages (none touching `exclude`) and their features."""
    table = units(index)
    vectors = table.embedded(embedder)
    roles = role_table(index)
    top_lexical = max((h.lexical for h in hits), default=0.0) or 1.0
    sections = {(index.chunks[c].doc_id, index.chunks[c].heading) for c in query.cited}
    sentence_cos = index.sentence_vectors @ query.vector
    own_cos = index.sentence_vectors @ query.own_vector if query.own_vector is not None else None
    chosen: list[Unit] = []
    rows: list[list[float]] = []
    for rank, hit in enumerate(hits):
        chunk = index.chunks[hit.chunk_id]
        heading = lex.heading_stems[hit.chunk_id]
        in_chunk = index.chunk_sentences[hit.chunk_id]
        first_in_chunk = in_chunk[0] if in_chunk else -1
        for n in table.by_chunk.get(hit.chunk_id, []):
            unit = table.units[n]
            ids = range(unit.first, unit.last + 1)
            if any(i in exclude for i in ids):
                continue
            words = frozenset().union(*(lex.sentence_stems[i] for i in ids))
            opening = roles[unit.first]
            weak = bool(opening & {"announcement", "question"}) or bool(lex.question[unit.first])
            cos = [float(sentence_cos[i]) for i in ids]
            own = [float(own_cos[i]) for i in ids] if own_cos is not None else [0.0]
            rows.append(
                [
                    float(vectors[n] @ query.vector),
                    cos[0],
                    max(cos),
                    hit.dense,
                    hit.lexical / top_lexical,
                    1.0 / (rank + 1),
                    _coverage(query.terms, words),
                    _coverage(query.terms, heading),
                    fit(query.intent, opening),
                    max(fit(query.intent, roles[i]) for i in ids),
                    float(weak),
                    float("example" in opening),
                    float(lex.aside[unit.first] or lex.media[unit.first]),
                    float(unit.last - unit.first),
                    len(table.texts[n]) / MAX_UNIT_CHARS,
                    max(own),
                    _coverage(query.own_terms, words | heading) if query.own_terms else 0.0,
                    float((chunk.doc_id, chunk.heading) in sections),
                    float(unit.first == first_in_chunk),
                    (scored or {}).get(unit.first, 0.0),
                    max((scored or {}).get(i, 0.0) for i in ids),
                ]
            )
            chosen.append(unit)
    return chosen, np.asarray(rows, dtype=float).reshape(-1, len(FEATURES))


def scores(matrix: np.ndarray, weights: np.ndarray = WEIGHTS) -> np.ndarray:
    """The model's score of each candidate (higher: more likely the answer)."""
    return matrix @ weights[:-1] + weights[-1]


def best_units(candidates: list[Unit], values: np.ndarray, k: int) -> list[tuple[Unit, float]]:
    """The k best candidates that do not overlap, best first."""
    out: list[tuple[Unit, float]] = []
    for n in np.argsort(-values):
        unit = candidates[int(n)]
        if any(u.first <= unit.last and unit.first <= u.last for u, _ in out):
            continue
        out.append((unit, float(values[int(n)])))
        if len(out) == k:
            break
    return out
