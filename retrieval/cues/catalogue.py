"""The cue catalogue: the coaching cues the articles contain, grouped by body part.

Extracted, not hand-listed: every clause, short sentence and section heading of
the cleaned articles is a candidate; rules keep the instructions ("Keep a
vertical shin angle", "Knees remain soft") and the warnings ("Rather than
folding forward and bringing chest towards thighs"); the body-part words name
the topic, and where a cue names several (or none) the embedder picks the
topic whose description is nearest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from retrieval.cues.check import unit_sentence
from retrieval.cues.stance import Stance, clause_stance, heading_stance, warned_spans, warns
from retrieval.cues.units import CueBook, Unit
from retrieval.cues.wording import token_topics
from retrieval.cues.wordlists import GENERAL_TOPIC, MOVEMENT_WORDS

MIN_WORDS = 2
MAX_WORDS = 16  # longer units are explanations, not cues
TOPIC_MIN_COSINE = 0.35  # a cue without body-part words joins a topic this near, if any
_END_MARKS = " .!;:,)(:"  # a cue is listed without its sentence's closing marks
# First words of a unit that is no cue: the author's own story ("I love starting with..."), or
# the reader's situation ("If you struggle with glute clenching..."), not what to do.
_NOT_A_CUE = frozenset({"i", "i'm", "i've", "i'd", "my", "me"}) | frozenset(
    {"if", "unless", "whether", "when", "whenever"}
)


@dataclass(frozen=True)
class CatalogueCue:
    """One cue as an article words it: document text[start:end] == cue."""

    topic: str
    cue: str
    title: str
    source: str
    start: int
    end: int
    stance: Stance

    def to_json(self) -> dict[str, Any]:
        return {
            "cue": self.cue,
            "title": self.title,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "stance": self.stance,
        }


@dataclass
class Catalogue:
    """Cues by topic, topics in a fixed order (body parts, then the whole movement)."""

    topics: dict[str, list[CatalogueCue]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(cues) for cues in self.topics.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "topics": [
                {"topic": topic, "cues": [c.to_json() for c in cues]}
                for topic, cues in self.topics.items()
            ],
        }


def build_catalogue(book: CueBook) -> Catalogue:
    """Every cue of the indexed articles, grouped by topic, in article order within a topic."""
    found: list[CatalogueCue] = []
    seen: set[tuple[int, frozenset[str]]] = set()
    for i, unit in enumerate(book.units):
        if unit.kind == "sentence" and len(book.parts[i]) > 1:
            continue  # its clauses are the candidates
        stance = _cue_stance(book, i)
        if stance is None:
            continue
        topic = _topic(book, i)
        key = (unit.doc_id, frozenset(book.words[i]))
        if topic is None or key in seen:
            continue
        seen.add(key)
        document = book.index.documents[unit.doc_id]
        start, end = unit.start, unit.start + len(unit.text.rstrip(_END_MARKS))
        found.append(
            CatalogueCue(
                topic,
                book.index.quote(unit.doc_id, start, end),
                document.title,
                document.source,
                start,
                end,
                stance,
            )
        )
    order = [*book.topic_names, GENERAL_TOPIC]
    found.sort(key=lambda c: (order.index(c.topic), c.source, c.start))
    catalogue = Catalogue()
    for cue in found:
        catalogue.topics.setdefault(cue.topic, []).append(cue)
    return catalogue


def _cue_stance(book: CueBook, i: int) -> Stance | None:
    """The unit's stance when it reads as a cue (an instruction or a warning), else None."""
    unit = book.units[i]
    tokens = book.tokens[i]
    if not MIN_WORDS <= len(tokens) <= MAX_WORDS or tokens[0].word in _NOT_A_CUE:
        return None
    sentence, start = unit_sentence(book, unit)
    if sentence.rstrip().endswith(("?", ":")) or _followed_by(unit, sentence, start, "?:"):
        return None  # questions and lead-ins ("Here are three coaching cues...:")
    if unit.kind == "heading":
        stance = heading_stance(unit.text)
    else:
        stance = clause_stance(sentence, unit.start - start, unit.end - start, book.after(unit))
    if stance == "endorsed" or stance == "discouraged" and warns(unit.text, book.after(unit)):
        return stance
    return None


def _followed_by(unit: Unit, sentence: str, start: int, marks: str) -> bool:
    after = sentence[unit.end - start : unit.end - start + 1]
    return bool(after) and after in marks


def _topic(book: CueBook, i: int) -> str | None:
    """The body part a cue is about: its own words first, the embedder to choose or fill in."""
    named = _unwarned_topics(book, i) or book.topics[i]
    if len(named) == 1:
        return named[0]
    sims = book.topic_vectors @ book.vectors[i]
    if named:
        return max(named, key=lambda t: sims[book.topic_names.index(t)])
    best = int(np.argmax(sims))
    if sims[best] >= TOPIC_MIN_COSINE:
        return book.topic_names[best]
    mentions_movement = any(t.word in MOVEMENT_WORDS for t in book.tokens[i])
    return GENERAL_TOPIC if mentions_movement else None


def _unwarned_topics(book: CueBook, i: int) -> list[str]:
    """Body parts a unit names outside a "not ..." ("from the hips and not from the knees")."""
    unit = book.units[i]
    sentence, start = unit_sentence(book, unit)
    spans = warned_spans(sentence)
    offset = unit.start - start
    tokens = book.tokens[i]
    return list(
        dict.fromkeys(
            topic
            for j, topic in token_topics(tokens)
            if not any(a <= tokens[j].start + offset < b for a, b in spans)
        )
    )
