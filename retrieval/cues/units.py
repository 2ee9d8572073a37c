"""The quotable units a cue is checked against: sentences, their clauses, and headings.

Built once per loaded index: sentences come with their vectors from the index;
clauses and headings are embedded here (a few hundred short texts).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from retrieval.cues.wording import Token, clause_spans, folded, token_topics, tokenize
from retrieval.cues.wordlists import TOPICS
from retrieval.embedder import Embedder
from retrieval.index import Index

MIN_CLAUSE_WORDS = 2


@dataclass(frozen=True)
class Unit:
    """A verbatim span of an article: document text[start:end] == text."""

    doc_id: int
    chunk_id: int
    sentence_id: int  # the sentence it is (or is part of); -1 for a heading
    start: int
    end: int
    text: str
    kind: str  # "sentence" | "clause" | "heading"


@dataclass
class CueBook:
    """Units of an index with their vectors, words and body-part topics."""

    index: Index
    units: list[Unit]
    vectors: np.ndarray  # one L2-normalised row per unit
    tokens: list[list[Token]]
    topics: list[list[str]]  # body-part topics each unit mentions, in order
    topic_names: list[str]
    topic_vectors: np.ndarray  # one row per topic, from its words
    parts: dict[int, list[int]]  # quotable unit (sentence, heading) -> itself and its clauses
    words: list[set[str]]  # each unit's folded content words (retrieval.wording.folded)
    idf: dict[str, float]  # rarity of each folded word over the quotable units

    def rarity(self, word: str) -> float:
        return self.idf.get(word, self.idf_unseen)

    @property
    def idf_unseen(self) -> float:
        return math.log(1 + len(self.parts))

    def after(self, unit: Unit) -> str:
        """The sentence that follows a unit's sentence in the same passage ("" if none)."""
        nxt = unit.sentence_id + 1
        sentences = self.index.sentences
        if unit.sentence_id < 0 or nxt >= len(sentences):
            return ""
        if sentences[nxt].chunk_id != unit.chunk_id:
            return ""
        return sentences[nxt].text


def build_cuebook(index: Index, embedder: Embedder) -> CueBook:
    """Split every sentence into clauses, add the section headings, and embed what is new."""
    units: list[Unit] = []
    fresh: list[int] = []  # units that need a vector
    sentence_rows: dict[int, int] = {}
    for unit in _headings(index):
        fresh.append(len(units))
        units.append(unit)
    for sid, sentence in enumerate(index.sentences):
        doc_id = index.chunks[sentence.chunk_id].doc_id
        sentence_rows[len(units)] = sid
        units.append(
            Unit(
                doc_id,
                sentence.chunk_id,
                sid,
                sentence.start,
                sentence.end,
                sentence.text,
                "sentence",
            )
        )
        spans = clause_spans(sentence.text)
        if len(spans) < 2:
            continue
        for a, b in spans:
            text = sentence.text[a:b]
            if len(text.split()) >= MIN_CLAUSE_WORDS:
                fresh.append(len(units))
                units.append(
                    Unit(
                        doc_id,
                        sentence.chunk_id,
                        sid,
                        sentence.start + a,
                        sentence.start + b,
                        text,
                        "clause",
                    )
                )
    names = list(TOPICS)
    encoded = embedder.encode([units[i].text for i in fresh] + [_describe(t) for t in names])
    vectors = np.zeros((len(units), embedder.dimension), dtype=np.float32)
    for row, sid in sentence_rows.items():
        vectors[row] = index.sentence_vectors[sid]
    for row, i in enumerate(fresh):
        vectors[i] = encoded[row]
    tokens = [tokenize(u.text) for u in units]
    topics = [list(dict.fromkeys(t for _, t in token_topics(toks))) for toks in tokens]
    parts: dict[int, list[int]] = {}
    owner = -1
    for i, unit in enumerate(units):
        if unit.kind != "clause":
            owner = i
            parts[owner] = []
        parts[owner].append(i)  # a clause follows its sentence
    words = [folded(t) for t in tokens]
    df: Counter[str] = Counter(w for q in parts for w in words[q])
    idf = {w: math.log(1 + len(parts) / n) for w, n in df.items()}
    return CueBook(
        index, units, vectors, tokens, topics, names, encoded[len(fresh) :], parts, words, idf
    )


def _describe(topic: str) -> str:
    return ", ".join(TOPICS[topic][:6])


def _headings(index: Index) -> list[Unit]:
    """Section headings other than titles, located verbatim just before their passage."""
    titles = {d.title for d in index.documents}
    seen: set[tuple[int, str]] = set()
    units = []
    for chunk in index.chunks:
        key = (chunk.doc_id, chunk.heading)
        if chunk.heading in titles or not chunk.heading.strip() or key in seen:
            continue
        seen.add(key)
        at = index.texts[chunk.doc_id].rfind(chunk.heading, 0, chunk.start)
        if at >= 0:
            end = at + len(chunk.heading)
            units.append(Unit(chunk.doc_id, chunk.chunk_id, -1, at, end, chunk.heading, "heading"))
    return units
