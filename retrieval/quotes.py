"""Sentence-level reranking inside the best passages, and the one or two sentences to quote.

There is no cross-encoder to lean on, so each sentence of the candidate passages is scored
from what we have: its own cosine with the question (the bi-encoder at sentence level), its
passage's cosine (which carries the heading and neighbouring sentences), the share of the
question's telling words it and its heading contain, and its shape (a question such as "Why?",
a pointer to a video, or a bracketed aside answers nothing by itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from retrieval.index import Index, per_index
from retrieval.roles import fits, role_table
from retrieval.search import Hit
from retrieval.vocabulary import Lexicon, lexicon

FRAGMENT_CHARS = 40  # "Why?", "A few tips:": quoted with the next sentence, even across a break
SHORT_QUOTE_CHARS = 60  # shorter quotes take the next sentence of their paragraph
MAX_MERGED_CHARS = 260  # two neighbouring sentences become one quote only up to this length
_LIST_MARKER = re.compile(r"(?:\d{1,2}[.)]|[-*•–])")


@dataclass(frozen=True)
class Weights:
    """How sentence evidence is combined (calibrated on the labelled questions)."""

    sentence: float = 0.45
    passage: float = 0.40
    overlap: float = 0.30
    heading: float = 0.10
    new_words: float = 0.30  # follow-ups: share of the new question's words matched
    own_sentence: float = 0.50  # follow-ups: part of the sentence cosine from the new words alone
    question: float = 0.20
    media: float = 0.10
    aside: float = 0.20
    same_section: float = 0.20  # follow-ups: the sentence shares a section with what was cited
    role: float = 0.0  # the sentence's role fits what the question asks (roles.fit)


@dataclass(frozen=True)
class Query:
    """A question as sentences are scored against it."""

    vector: np.ndarray  # embedding of the resolved question (with its context)
    terms: dict[str, float]  # telling stems of the resolved question, weighted
    own_vector: np.ndarray | None = None  # follow-ups: embedding of the new question alone
    own_terms: dict[str, float] | None = None  # follow-ups: stems of the new question alone
    cited: frozenset[int] = frozenset()  # follow-ups: passages the earlier question cited
    intent: str = ""  # what the question asks (roles.intent)
    extra: str = ""  # article terms bridged from the question's everyday words


@dataclass(frozen=True)
class Scored:
    """A candidate sentence and its evidence."""

    sentence_id: int
    score: float
    cosine: float
    overlap: float  # weighted share of the question's stems in the sentence
    evidence: float  # the score without the follow-up's pull towards what was cited before


@dataclass(frozen=True)
class Span:
    """Consecutive sentences quoted together (first..last, inclusive)."""

    first: int
    last: int
    score: float


def _coverage(terms: dict[str, float], found: frozenset[str]) -> float:
    total = sum(terms.values())
    return sum(w for t, w in terms.items() if t in found) / total if total else 0.0


def score_sentences(
    index: Index, lex: Lexicon, hits: list[Hit], query: Query, w: Weights
) -> list[Scored]:
    """Every sentence of the candidate passages, best first."""
    ids = np.array([sid for hit in hits for sid in index.chunk_sentences[hit.chunk_id]], int)
    if not len(ids):
        return []
    cosines = index.sentence_vectors[ids] @ query.vector
    if query.own_vector is not None:
        own = index.sentence_vectors[ids] @ query.own_vector
        cosines = (1 - w.own_sentence) * cosines + w.own_sentence * own
    # Role fit only costs a pass over the sentences when it counts (its weight is 0 now).
    roles = fits(index, query.intent, ids) if w.role else np.zeros(len(ids))
    passage = {hit.chunk_id: hit.dense for hit in hits}
    sections = {_section(index, c) for c in query.cited}
    out = []
    for sid, cosine, role in zip(ids.tolist(), cosines.tolist(), roles.tolist(), strict=True):
        chunk_id = index.sentences[sid].chunk_id
        words, heading = lex.sentence_stems[sid], lex.heading_stems[chunk_id]
        overlap = _coverage(query.terms, words)
        score = (
            w.sentence * cosine
            + w.passage * passage[chunk_id]
            + w.overlap * overlap
            + w.heading * _coverage(query.terms, heading)
            - w.question * lex.question[sid]
            - w.media * lex.media[sid]
            - w.aside * lex.aside[sid]
            + w.role * role
        )
        pull = 0.0
        if query.own_terms is not None:
            score += w.new_words * _coverage(query.own_terms, words | heading)
            pull = w.same_section * (_section(index, chunk_id) in sections)
        out.append(Scored(sid, float(score + pull), float(cosine), overlap, float(score)))
    return sorted(out, key=lambda s: -s.score)


def _section(index: Index, chunk_id: int) -> tuple[int, str]:
    chunk = index.chunks[chunk_id]
    return chunk.doc_id, chunk.heading


def _chars(index: Index, first: int, last: int) -> int:
    return index.sentences[last].end - index.sentences[first].start


def pick(
    index: Index,
    scored: list[Scored],
    k: int,
    margin: float,
    budget: int = 10**9,
    exclude: frozenset[int] = frozenset(),
) -> list[Span]:
    """The best quotes within `margin` of the top, k at most, `budget` characters in all.

    A quote is one sentence (or a fragment and what completes it); a sentence next to a lone
    quoted sentence joins it as one quote. The first quote is always given.
    """
    spans: list[Span] = []
    if not scored:
        return spans
    top = scored[0].score
    for item in scored:
        if item.score < top - margin:
            break
        first, last = extent(index, item.sentence_id)
        if any(s.first <= last and first <= s.last for s in spans):
            continue
        used = sum(_chars(index, s.first, s.last) for s in spans)
        joined = _joined(index, spans, first, last)
        if joined is not None:
            n, span = joined
            grown = used - _chars(index, spans[n].first, spans[n].last)
            if grown + _chars(index, span.first, span.last) <= budget:
                spans[n] = span
            continue
        if len(spans) == k:
            break
        if not spans or used + _chars(index, first, last) <= budget:
            spans.append(Span(first, last, item.score))
    if len(spans) == 1:  # a lone quote may as well carry the sentence that follows it
        only = spans[0]
        fits = _chars(index, only.first, only.last + 1) <= min(MAX_MERGED_CHARS, budget)
        fresh = only.last + 1 not in exclude
        if _joinable(index, only.last, only.last + 1, 0) and fits and fresh:
            spans[0] = Span(only.first, only.last + 1, only.score)
    return spans


def _joined(index: Index, spans: list[Span], first: int, last: int) -> tuple[int, Span] | None:
    """A lone quoted sentence and its neighbour, as one quote, when they read as one."""
    for n, span in enumerate(spans):
        if span.first != span.last or index.sentences[first].chunk_id != (
            index.sentences[span.first].chunk_id
        ):
            continue
        if last + 1 == span.first or span.last + 1 == first:
            lo, hi = min(first, span.first), max(last, span.last)
            short = _chars(index, lo, hi) <= MAX_MERGED_CHARS
            if short and all(_joinable(index, i, i + 1, 0) for i in range(lo, hi)):
                return n, Span(lo, hi, span.score)
    return None


def extent(index: Index, sentence_id: int) -> tuple[int, int]:
    """A sentence, plus what follows when it says too little alone.

    "Why?" or "A few tips:" is answered by the next sentence, even past a paragraph break;
    "The posterior chain is important." is explained by the sentences after it.
    """
    first = last = sentence_id
    if heading_start(index, sentence_id) is not None:  # "Yes, butt blooming.": its heading says it
        return first, last
    roles = role_table(index)
    while True:
        sentence = index.sentences[last]
        length = sentence.end - index.sentences[first].start
        announces = "announcement" in roles[last] and length < MAX_MERGED_CHARS
        fragment = (
            len(sentence.text) < FRAGMENT_CHARS
            or sentence.text.endswith((":", "?"))
            or announces  # "There are two major differences.": quoted with what it announces
        )
        if length >= SHORT_QUOTE_CHARS and not fragment:
            return first, last
        # "Why?" and a lead-in ("Here are three coaching cues...:") are answered by what
        # follows, even on the next line; other short sentences join within their paragraph.
        lead_in = len(sentence.text) < FRAGMENT_CHARS or sentence.text.endswith(":")
        newlines = 2 if lead_in else 0
        if not _joinable(index, last, last + 1, newlines):
            return first, last
        last += 1


RESTATES_SHARE = 0.6  # of a section's opening sentence's words found in its heading


@per_index
def _heading_starts(index: Index) -> dict[int, int]:
    """Sentence id -> where its section's heading starts, for a section that opens with a short
    sentence restating its heading ("3. Butt blooming / allowing the glutes to fully lengthen",
    then "Yes, butt blooming."): alone it says nothing, with its heading it defines the term."""
    lex = lexicon(index)
    out: dict[int, int] = {}
    titles = {d.doc_id: d.title for d in index.documents}
    for chunk in index.chunks:
        ids = index.chunk_sentences[chunk.chunk_id]
        if not ids or not chunk.heading or chunk.heading == titles.get(chunk.doc_id):
            continue
        first = index.sentences[ids[0]]
        if first.start != chunk.start or len(first.text) >= SHORT_QUOTE_CHARS:
            continue
        text = index.texts[chunk.doc_id]
        at = text.rfind(chunk.heading, 0, chunk.start)
        if at < 0 or text[at + len(chunk.heading) : chunk.start].strip():
            continue  # the heading is not right above this passage
        said = lex.sentence_stems[ids[0]]
        if said and len(said & lex.heading_stems[chunk.chunk_id]) >= RESTATES_SHARE * len(said):
            out[ids[0]] = at
    return out


def heading_start(index: Index, sentence_id: int) -> int | None:
    """Where the quote of this sentence starts when its heading must come with it, else None."""
    return _heading_starts(index).get(sentence_id)


def _joinable(index: Index, a: int, b: int, newlines: int) -> bool:
    """Sentence b follows a in the same passage with only whitespace (and few breaks) between.

    Where line breaks are allowed, so is a list marker: "...coaching cues:" then "1. Start...".
    """
    if b >= len(index.sentences) or index.sentences[a].chunk_id != index.sentences[b].chunk_id:
        return False
    doc_id = index.chunks[index.sentences[a].chunk_id].doc_id
    gap = index.quote(doc_id, index.sentences[a].end, index.sentences[b].start)
    between = gap.strip()
    marker = newlines > 0 and "\n" in gap and bool(_LIST_MARKER.fullmatch(between))
    return (not between or marker) and gap.count("\n") <= newlines


def other_article(
    index: Index,
    scored: list[Scored],
    spans: list[Span],
    k: int,
    margin: float,
    exclude: frozenset[int] = frozenset(),
) -> list[Span]:
    """Both articles are cited when the other one's best sentence is close to the top."""
    if not spans:
        return spans
    docs = {index.chunks[index.sentences[s.first].chunk_id].doc_id for s in spans}
    for item in scored:
        doc = index.chunks[index.sentences[item.sentence_id].chunk_id].doc_id
        if doc in docs or item.sentence_id in exclude:
            continue
        if item.score >= scored[0].score - margin:
            first, last = extent(index, item.sentence_id)
            spans = spans[: k - 1] if len(spans) >= k else spans
            spans.append(Span(first, last, item.score))
        break
    return spans


def list_items(index: Index, sentence_ids: list[int]) -> list[int]:
    """The first sentences of the items of the list that the given sentences lead into or
    belong to ("A few tips:" then "• Knees remain soft..."), in order, across passages of
    the same article; [] when there is none."""
    for sid in sentence_ids:
        start = sid
        while start > 0 and _continues(index, start - 1, start):  # back to the list's top
            start -= 1
        items: list[int] = []
        i = start
        while i + 1 < len(index.sentences) and _continues(index, i, i + 1):
            if _item_start(index, i + 1):
                items.append(i + 1)
            i += 1
        if start in items or (start > 0 and _item_start(index, start)):
            items.insert(0, start)
        if items:
            return items
    return []


def _gap(index: Index, a: int, b: int) -> str | None:
    """The text between sentences a and b of one article (None across articles)."""
    doc_a = index.chunks[index.sentences[a].chunk_id].doc_id
    if doc_a != index.chunks[index.sentences[b].chunk_id].doc_id:
        return None
    return index.quote(doc_a, index.sentences[a].end, index.sentences[b].start)


def _continues(index: Index, a: int, b: int) -> bool:
    """Sentence b still belongs to the list a is in: same paragraph, or a new item."""
    gap = _gap(index, a, b)
    if gap is None:
        return False
    return not gap.strip() and gap.count("\n") == 0 or _item_start(index, b)


def _item_start(index: Index, b: int) -> bool:
    """Sentence b opens a list item: a line break and a list marker come before it."""
    gap = _gap(index, b - 1, b) if b > 0 else None
    return gap is not None and "\n" in gap and bool(_LIST_MARKER.fullmatch(gap.strip()))
