"""Cue check: do the articles use a coaching cue's wording, say it in other words, or not at all?

- found: a sentence uses the cue's words (retrieval/cues/wording.py decides "same wording").
- close: a sentence or one of its clauses is near the cue in meaning (cosine of the
  sentence embeddings) AND shares a word of action, direction or amount with it
  beyond the body part ("drive your hips back into a wall" ~ "driving your butt
  back into an imaginary wall"), on the same body part, without a contradicting
  qualifier ("straight" knees is not "slight flexion"), and stating the cue's when and
  how ("exhale at the top" is not "think about exhaling into that space": such a
  passage is only related, with "at the top" named as missing).
- not_found: neither; the nearest passages are still listed.

Each match carries the article's stance toward those words (retrieval/cues/stance.py),
and articles whose instructions on the cue's body part contradict each other are
flagged as a Difference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from retrieval.cues.stance import (
    Stance,
    clause_stance,
    heading_stance,
    warned_spans,
    words_stance,
)
from retrieval.cues.units import CueBook, Unit
from retrieval.cues.wording import (
    WARNING_OPENERS,
    Qualifier,
    Token,
    Wording,
    cue_qualifiers,
    folded,
    folded_words,
    match_wording,
    token_topics,
    tokenize,
    unstated,
)
from retrieval.cues.wordlists import OPPOSED, QUALIFIERS
from retrieval.embedder import Embedder
from retrieval.errors import BadCueError
from retrieval.text import clean_input

MAX_CUE_CHARS = 200
Verdict = Literal["found", "close", "not_found"]
Kind = Literal["found", "close", "related"]
_KIND_ORDER = {"found": 0, "close": 1, "related": 2}
# Stems too common in these articles to show that two texts say the same thing.
GENERIC = frozenset({"hing", "movement", "posit", "bodi"})
QUALIFIER_REACH = 3  # content words either side of a body part that qualify it
_BARRIER = re.compile(r"[,;:()\[\]–—=/]|\s-\s")


@dataclass(frozen=True)
class CueSettings:
    """Thresholds of the cue check (calibrated on evaluation/data/cues.json; see README)."""

    close_cosine: float = 0.50  # close: this similar, sharing one action/amount word...
    close_cosine_two: float = 0.35  # ...or this similar, sharing two
    related_cosine: float = 0.30  # nearest passages listed when nothing matches
    differ_cosine: float = 0.35  # instructions this near the cue are compared across articles
    w_overlap: float = 0.5  # score = (cosine + w * share of the cue's words, by rarity) / (1 + w)
    max_matches: int = 8
    per_article: int = 3
    related: int = 3


@dataclass(frozen=True)
class CueMatch:
    """A sentence (or heading) of an article that bears on the cue."""

    kind: Kind
    title: str
    source: str
    quote: str
    start: int
    end: int
    score: float  # cosine of cue and quote (or its clause), blended with the share of cue words
    stance: Stance
    heading: str = ""
    passage: str = ""
    passage_start: int = 0
    words_start: int = 0  # the words that matched, inside the quote (document offsets)
    words_end: int = 0
    # The cue's "when" or "how" ("at the top", "explosively") that this passage, otherwise
    # close, does not say: why it is only related.
    missing: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "kind": self.kind,
            "title": self.title,
            "source": self.source,
            "heading": self.heading,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "stance": self.stance,
        }
        if self.missing:
            record["missing"] = list(self.missing)
        return record


@dataclass(frozen=True)
class Quote:
    """A verbatim span: source text[start:end] == quote."""

    quote: str
    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return {"quote": self.quote, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Side:
    """What one article says about a body part, and the qualifiers it uses."""

    title: str
    source: str
    qualifiers: tuple[str, ...]
    quotes: tuple[Quote, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "source": self.source,
            "qualifiers": list(self.qualifiers),
            "quotes": [q.to_json() for q in self.quotes],
        }


@dataclass(frozen=True)
class Difference:
    """Two or more articles instruct a body part in contradicting terms."""

    topic: str
    sides: tuple[Side, ...]

    @property
    def note(self) -> str:
        said = "; ".join(f"{s.title}: {', '.join(s.qualifiers)}" for s in self.sides)
        return f"The articles' instructions on the {self.topic} differ ({said})."

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "note": self.note, "sides": [s.to_json() for s in self.sides]}


@dataclass
class CueCheck:
    """The verdict on one cue, with the articles' wording and stance."""

    cue: str
    verdict: Verdict
    matches: list[CueMatch] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "cue": self.cue,
            "verdict": self.verdict,
            "matches": [m.to_json() for m in self.matches],
            "differences": [d.to_json() for d in self.differences],
        }


def clean_cue(cue: str) -> str:
    """The cue with control characters removed and whitespace folded; errors when unusable."""
    return clean_input(
        cue,
        MAX_CUE_CHARS,
        BadCueError,
        "the cue is empty; type a coaching cue such as 'soft knees'.",
        "the cue is too long ({n:,} characters; the limit is {limit}); "
        "a cue is a short phrase such as 'soft knees'.",
    )


# ---------------------------------------------------------------- comparing words


def qualifiers(tokens: list[Token], text: str, topic: str | None = None) -> set[str]:
    """Qualifier labels said of body parts (of `topic`, or any when None).

    A qualifier belongs to the nearest body part in its stretch of words; stretches
    end at "and", "but", commas, brackets and dashes ("a pull back with the hips and
    a push forward slightly with the knees": "forward" is said of the knees).
    """
    labels: set[str] = set()
    for stretch in _stretches(tokens, text):
        body = [(n, found) for n, (i, found) in enumerate(stretch) if found]
        for n, (i, _) in enumerate(stretch):
            word = tokens[i].word
            if word not in QUALIFIERS or not body:
                continue
            gap, owner = min((abs(n - b), found) for b, found in body)
            if gap <= QUALIFIER_REACH and (topic is None or owner == topic):
                labels.add(QUALIFIERS[word])
    return labels


def _stretches(tokens: list[Token], text: str) -> list[list[tuple[int, str]]]:
    """Content words (index, topic or "") split where a clause may change."""
    topics = dict(token_topics(tokens))
    out: list[list[tuple[int, str]]] = [[]]
    for i, token in enumerate(tokens):
        gap = text[tokens[i - 1].end : token.start] if i else ""
        if token.word in ("and", "but", "or") or _BARRIER.search(gap):
            out.append([])
        if not token.filler or token.word in QUALIFIERS:
            out[-1].append((i, topics.get(i, "")))
    return [s for s in out if s]


def contradicts(a: set[str], b: set[str]) -> bool:
    """Some qualifier of a is opposed to one of b that a does not also use."""
    return any(frozenset((x, y)) in OPPOSED and y not in a for x in a for y in b)


# ---------------------------------------------------------------- the check


@dataclass(frozen=True)
class _Cue:
    text: str
    wording: Wording
    vector: np.ndarray
    content: set[str]
    topics: set[str]
    qualifiers: set[str]
    warned: set[str]  # the cue's own words after its "not"/"instead of" ("hips back, not down")
    how: tuple[Qualifier, ...] = ()  # when or how it is done: "at the top", "explosively"


@dataclass(frozen=True)
class _Candidate:
    quote: int  # quotable unit (sentence or heading)
    part: int  # the unit (the quote or one of its clauses) the evidence comes from
    kind: Kind
    score: float  # for ranking: cosine + weighted share of the cue's words
    cosine: float
    words: tuple[int, int]  # document offsets of the matched words
    missing: tuple[str, ...] = ()  # the cue's qualifiers a close passage does not state


def _warned_words(text: str, tokens: list[Token]) -> set[str]:
    """Stems and folded words of the cue that its own "not"/"rather than" puts in doubt."""
    spans = warned_spans(text)
    keys = folded_words(tokens)
    out: set[str] = set()
    for token, key in zip(tokens, keys, strict=True):
        if any(a <= token.start < b for a, b in spans):
            out |= token.stems | ({key} if key else set())
    return out


def check_cue(
    cue: str, book: CueBook, embedder: Embedder, settings: CueSettings | None = None
) -> CueCheck:
    """Check one coaching cue against the articles."""
    settings = settings or CueSettings()
    text = clean_cue(cue)
    wording = Wording.of(text)
    if not wording.required:
        raise BadCueError(f"the cue {text!r} has no words to look for; try 'soft knees'.")
    tokens = tokenize(text)
    target = _Cue(
        text,
        wording,
        embedder.encode([text])[0],
        folded(tokens),
        {t for _, t in token_topics(tokens)},
        qualifiers(tokens, text),
        _warned_words(text, tokens),
        cue_qualifiers(text),
    )
    cosines = book.vectors @ target.vector
    scores = (cosines + settings.w_overlap * _overlaps(book, target)) / (1 + settings.w_overlap)
    candidates = [_candidate(book, target, q, cosines, scores, settings) for q in book.parts]
    strong = [c for c in candidates if c.kind != "related"]
    verdict: Verdict = "not_found"
    if strong:
        verdict = "found" if any(c.kind == "found" for c in strong) else "close"
    chosen = _choose(book, strong, candidates, target, settings)
    matches = [_match(book, target, c) for c in chosen]
    return CueCheck(text, verdict, matches, _differences(book, target, cosines, settings))


def _overlaps(book: CueBook, cue: _Cue) -> np.ndarray:
    """Per unit: the share of the cue's folded words it has, each weighted by its rarity."""
    total = sum(book.rarity(w) for w in cue.content) or 1.0
    return np.array(
        [sum(book.rarity(w) for w in cue.content & words) / total for words in book.words],
        dtype=np.float32,
    )


def _candidate(
    book: CueBook,
    cue: _Cue,
    quote: int,
    cosines: np.ndarray,
    scores: np.ndarray,
    settings: CueSettings,
) -> _Candidate:
    """How a quotable unit bears on the cue: found, close, or only related."""
    parts = book.parts[quote]
    best = max(parts, key=lambda i: scores[i])
    unit = book.units[quote]
    span = match_wording(cue.wording, book.tokens[quote])
    if span is not None:
        tokens = book.tokens[quote]
        words = (unit.start + tokens[span[0]].start, unit.start + tokens[span[1]].end)
        return _Candidate(quote, best, "found", float(scores[best]), float(cosines[best]), words)
    kind: Kind = "related"
    close = [i for i in parts if _is_close(book, cue, i, float(cosines[i]), settings)]
    # A close clause says more precisely what is close (and in what stance) than its sentence.
    close = [i for i in close if i != quote] or close
    missing: list[str] = []
    if close:
        best = max(close, key=lambda i: scores[i])
        # Without the cue's "at the top" or "explosively", it is another instruction.
        missing = _unstated(book, cue, quote)
        kind = "related" if missing else "close"
    where = book.units[best]
    return _Candidate(
        quote,
        best,
        kind,
        float(scores[best]),
        float(cosines[best]),
        (where.start, where.end),
        tuple(missing),
    )


def _unstated(book: CueBook, cue: _Cue, quote: int) -> list[str]:
    """The cue's qualifiers (when, how) that the quote's sentence does not state."""
    if not cue.how:
        return []
    text, _ = unit_sentence(book, book.units[quote])
    tokens = tokenize(text)
    return unstated(cue.how, tokens, qualifiers(tokens, text))


def _is_close(book: CueBook, cue: _Cue, i: int, cosine: float, settings: CueSettings) -> bool:
    if cue.topics and not cue.topics & set(book.topics[i]):
        return False
    shared = {w for w in cue.content & book.words[i] if w[0] != "@"} - GENERIC
    if not shared or contradicts(cue.qualifiers, qualifiers(book.tokens[i], book.units[i].text)):
        return False
    similar = cosine >= settings.close_cosine or (
        len(shared) >= 2 and cosine >= settings.close_cosine_two
    )
    # Only an instruction (or a warning) can give "the same instruction in other words";
    # a passing mention ("more of a squat") cannot.
    return similar and _unit_stance(book, book.units[i]) != "neutral"


def _choose(
    book: CueBook,
    strong: list[_Candidate],
    everything: list[_Candidate],
    cue: _Cue,
    settings: CueSettings,
) -> list[_Candidate]:
    """Found, then close, best first, a few per article; then what other articles say."""
    ranked = sorted(strong, key=lambda c: (_KIND_ORDER[c.kind], -c.score))
    chosen: list[_Candidate] = []
    per_doc: dict[int, int] = {}
    for c in ranked:
        doc = book.units[c.quote].doc_id
        if per_doc.get(doc, 0) < settings.per_article and len(chosen) < settings.max_matches:
            chosen.append(c)
            per_doc[doc] = per_doc.get(doc, 0) + 1
    related = sorted(
        (c for c in everything if c.kind == "related"),
        key=lambda c: -c.score,
    )
    if not chosen:  # nothing says it: the nearest passages, so the coach sees what is said
        chosen = [c for c in related if c.cosine >= settings.related_cosine][: settings.related]
    for doc in range(len(book.index.documents)):
        if any(book.units[c.quote].doc_id == doc for c in chosen):
            continue
        nearest = next(
            (
                c
                for c in related
                if book.units[c.quote].doc_id == doc
                and c.cosine >= settings.differ_cosine
                and (not cue.topics or cue.topics & set(book.topics[c.part]))
            ),
            None,
        )
        if nearest is not None:
            chosen.append(nearest)
    return chosen


def _match(book: CueBook, cue: _Cue, c: _Candidate) -> CueMatch:
    unit = book.units[c.quote]
    index = book.index
    chunk = index.chunks[unit.chunk_id]
    document = index.documents[unit.doc_id]
    return CueMatch(
        kind=c.kind,
        title=document.title,
        source=document.source,
        quote=index.quote(unit.doc_id, unit.start, unit.end),
        start=unit.start,
        end=unit.end,
        score=c.score,
        stance=_stance(book, cue, c),
        heading=chunk.heading,
        passage=chunk.text if unit.kind != "heading" else unit.text,
        passage_start=chunk.start if unit.kind != "heading" else unit.start,
        words_start=c.words[0],
        words_end=c.words[1],
        missing=c.missing,
    )


def _stance(book: CueBook, cue: _Cue, c: _Candidate) -> Stance:
    """The quote's stance toward the cue's own words in it (else toward its matched clause)."""
    unit = book.units[c.quote]
    if unit.kind == "heading":
        return heading_stance(unit.text)
    tokens = book.tokens[c.quote]
    lo, hi = c.words[0] - unit.start, c.words[1] - unit.start
    if c.kind == "found":
        need = set(cue.wording.required)
        words = [t for t in tokens if lo <= t.start < hi and t.stems & need]
        asserted = [t for t in words if not t.stems & cue.warned]
    else:
        keys = folded_words(tokens)
        pairs = [(t, k) for t, k in zip(tokens, keys, strict=True) if lo <= t.start < hi]
        words = [t for t, k in pairs if k in cue.content]
        asserted = [t for t, k in pairs if k in cue.content and k not in cue.warned]
    # The cue's own "not down" is expected in a warning; judge the words it asserts.
    words = [t for t in asserted or words if t.word not in WARNING_OPENERS]
    if not words:
        return clause_stance(unit.text, lo, hi, book.after(unit))
    return words_stance(unit.text, words, book.after(unit), cue.wording.negations)


# ---------------------------------------------------------------- differences


def _differences(
    book: CueBook, cue: _Cue, cosines: np.ndarray, settings: CueSettings
) -> list[Difference]:
    """Body parts of the cue on which two articles' instructions contradict each other."""
    out = []
    for topic in sorted(cue.topics, key=book.topic_names.index):
        found = (
            _side(book, doc, topic, cosines, settings) for doc in range(len(book.index.documents))
        )
        sides = [side for side in found if side is not None]
        labels = [set(side.qualifiers) for side in sides]
        if any(contradicts(x, y) for x in labels for y in labels if x is not y):
            out.append(Difference(topic, tuple(sides)))
    return out


def _side(
    book: CueBook, doc: int, topic: str, cosines: np.ndarray, settings: CueSettings
) -> Side | None:
    """One article's instructions on a body part near the cue, with their qualifiers."""
    labels: set[str] = set()
    quotes: list[tuple[float, Unit]] = []
    for i, unit in enumerate(book.units):
        if unit.doc_id != doc or topic not in book.topics[i] or cosines[i] < settings.differ_cosine:
            continue
        if unit.kind == "sentence" and len(book.parts[i]) > 1:
            continue  # its clauses speak for it
        if _unit_stance(book, unit) != "endorsed":
            continue
        said = qualifiers(_unwarned(book, unit, book.tokens[i]), unit.text, topic)
        if said:
            labels |= said
            quotes.append((float(cosines[i]), unit))
    if not labels:
        return None
    document = book.index.documents[doc]
    picked: dict[str, Unit] = {}
    for _, unit in sorted(quotes, key=lambda q: -q[0]):
        picked.setdefault(unit.text.lower(), unit)
    best = list(picked.values())[:3]
    return Side(
        document.title,
        document.source,
        tuple(sorted(labels)),
        tuple(Quote(book.index.quote(doc, u.start, u.end), u.start, u.end) for u in best),
    )


def unit_sentence(book: CueBook, unit: Unit) -> tuple[str, int]:
    """The sentence (or heading) a unit belongs to, and where it starts."""
    if unit.sentence_id < 0:
        return unit.text, unit.start
    sentence = book.index.sentences[unit.sentence_id]
    return sentence.text, sentence.start


def _unit_stance(book: CueBook, unit: Unit) -> Stance:
    if unit.kind == "heading":
        return heading_stance(unit.text)
    sentence, start = unit_sentence(book, unit)
    return clause_stance(sentence, unit.start - start, unit.end - start, book.after(unit))


def _unwarned(book: CueBook, unit: Unit, tokens: list[Token]) -> list[Token]:
    """The unit's words outside any "not ..."/"too much ..." reach."""
    sentence, start = unit_sentence(book, unit)
    spans = warned_spans(sentence, ignore=frozenset({"no"}))  # "no" is itself a qualifier
    offset = unit.start - start
    return [t for t in tokens if not any(a <= t.start + offset < b for a, b in spans)]
