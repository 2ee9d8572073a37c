"""Compose a short, cited, extractive answer, or abstain plainly."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

import numpy as np

from retrieval.bridge import article_terms, bridge, everyday_terms, unfamiliar
from retrieval.embedder import Embedder
from retrieval.errors import BadQuestionError
from retrieval.followup import Resolved, ordinal, refers_to_subject, resolve
from retrieval.health import (
    CONDITION,
    NOTE,
    REFUSAL_NOTE,
    asks_clearance,
    health_words,
    is_health,
    prototype_vectors,
)
from retrieval.index import Index, per_index
from retrieval.quotes import (
    Query,
    Scored,
    Span,
    Weights,
    extent,
    heading_start,
    list_items,
    other_article,
    pick,
    score_sentences,
)
from retrieval.records import GYM_BUSINESS, Answer, Citation
from retrieval.rerank import best_units, features, scores
from retrieval.roles import intent
from retrieval.scope import (
    BUSINESS,
    OUT_OF_SCOPE,
    asked_out_of_scope,
    named_lifts,
    nearest_topic,
    off_topic,
    topic_vectors,
)
from retrieval.search import Hit, search
from retrieval.text import clean_input, stems
from retrieval.vocabulary import (
    Lexicon,
    as_reader,
    content_words,
    lexicon,
    normalise_question,
    query_terms,
    specificity,
    without_topic,
)

MAX_QUESTION_CHARS = 1000
MAX_QUOTE_CHARS = 300  # a quote a visitor reads at a glance


@dataclass(frozen=True)
class AnswerSettings:
    """Knobs of quote selection and abstention (calibrated on the labelled questions)."""

    k: int = 3  # citations at most
    passages: int = 12  # passages whose sentences compete for quotes
    # Evidence that the articles answer: the best quotable sentence's score, minus off_topic times
    # the question's cosine with the nearest out-of-scope topic, plus topic_bonus when the
    # question names what every article is about ("hinge"). Below min_evidence: abstain.
    min_evidence: float = 0.04
    min_best: float = 0.18  # and whatever the topic, abstain when no sentence scores this much
    off_topic: float = 0.9
    topic_bonus: float = 0.2
    margin: float = 0.20  # keep quotes scoring within this of the best
    max_chars: int = 420  # what a reader is handed at most, all quotes together (one at least)
    both_margin: float = 0.10  # the other article is cited when its best is this close to the top
    context_weight: float = 0.4  # weight of the earlier question's words in a follow-up
    everyday: bool = True  # everyday names of the body to the articles' (bridge.EVERYDAY)
    everyday_dense: bool = False  # ... in the embedded question too: measured worse
    bridge: bool = False  # bridge by embedding: measured no better (see README)
    lift_as_subject: bool = True  # a lift the articles teach, named in a question, is its subject
    rerank: bool = False  # the learned reranker (rerank.py): measured, not better on all sets
    bridge_cosine: float = 0.66
    bridge_weight: float = 1.0  # of a bridged term, next to the question's own words
    weights: Weights = field(default_factory=Weights)
    out_of_scope: tuple[str, ...] = OUT_OF_SCOPE


def prepare(index: Index, embedder: Embedder, settings: AnswerSettings | None = None) -> None:
    """Build what answering reuses (word statistics, dictionary, topic vectors) ahead of time."""
    settings = settings or AnswerSettings()
    normalise_question("warm up", lexicon(index))
    specificity("warm")
    topic_vectors(embedder, settings.out_of_scope)
    prototype_vectors(embedder)
    corpus_text(index)
    if settings.bridge:
        article_terms(index, embedder)


def clean_question(question: str) -> str:
    """The question with control characters removed and whitespace folded; errors when unusable."""
    return clean_input(
        question,
        MAX_QUESTION_CHARS,
        BadQuestionError,
        "the question is empty; type a question about the hip hinge.",
        "the question is too long ({n:,} characters; the limit is {limit:,}); "
        "ask it in a sentence or two.",
    )


def clean_history(history: Sequence[str] | None) -> list[str]:
    """The earlier questions that can give context, cleaned; blank ones dropped, long ones cut.

    A bad earlier question must not make the current one fail: the visitor cannot fix it.
    """
    out = []
    for earlier in history or []:
        try:
            out.append(clean_question(earlier))
        except BadQuestionError:
            text = " ".join("".join(ch if ch.isprintable() else " " for ch in earlier).split())
            if text:
                out.append(text[:MAX_QUESTION_CHARS])
    return out


def _embeddable(question: str, lex: Lexicon) -> str:
    """The question as the articles would phrase it: to "you", without the shared topic words."""
    return without_topic(as_reader(question), lex)


def _query(
    resolved: Resolved,
    index: Index,
    lex: Lexicon,
    embedder: Embedder,
    settings: AnswerSettings,
    cited: frozenset[int],
) -> Query:
    """Embed the question and weigh its words; a follow-up also brings its earlier question.

    The question's phrases that the articles never use are embedded in the same call and
    bridged to the nearest article terms, which join its words and its vector. A follow-up
    is embedded alone and with the question it continues; the two vectors are summed to
    search with, and the passages the earlier answer cited mark the section the follow-up
    most likely asks about.
    """
    known = lex.vocabulary  # every word of the articles
    wanted = intent(resolved.question) or intent(resolved.context)
    if settings.lift_as_subject and wanted not in ("", "what", "compare"):
        # "where should I feel a deadlift?": the lift is what the question is about, as the
        # articles' topic is; what it asks is where to feel it. A mention of the lift in a
        # sentence is no evidence that the sentence answers.
        lifts = named_lifts(resolved.question, corpus_text(index))
        if lifts:
            bare = re.sub("|".join(re.escape(x) for x in lifts), " it ", resolved.question)
            if len(content_words(bare)) >= 1:
                resolved = Resolved(" ".join(bare.split()), resolved.context)
    asked = unfamiliar(resolved.question, known) if settings.bridge else []
    texts = [_embeddable(resolved.question, lex)]
    if resolved.followup:
        texts.insert(0, _embeddable(resolved.context, lex))
    vectors = embedder.encode(texts + asked)
    terms = article_terms(index, embedder) if asked else None
    bridged = bridge(asked, vectors[len(texts) :], terms, settings.bridge_cosine) if terms else []
    named = everyday_terms(resolved.question, known) if settings.everyday else []
    extra = " ".join(dict.fromkeys(named + bridged))
    own = query_terms(resolved.question, lex)
    for term, weight in query_terms(extra, lex, settings.bridge_weight).items():
        own[term] = max(own.get(term, 0.0), weight)
    alone = vectors[len(texts) - 1]
    if named and settings.everyday_dense:
        alone = alone + settings.bridge_weight * embedder.encode([" ".join(named)])[0]
        alone = alone / (float(np.linalg.norm(alone)) or 1.0)
    if bridged and terms is not None:
        rows = [terms.terms.index(t) for t in bridged]
        alone = alone + settings.bridge_weight * terms.vectors[rows].sum(axis=0)
        alone = alone / (float(np.linalg.norm(alone)) or 1.0)
    # What the question asks; a follow-up that does not say ("and my feet?") keeps the intent
    # of the question it continues.
    if not resolved.followup:
        return Query(alone, own, intent=wanted, extra=extra)
    earlier = vectors[0]
    together = earlier + alone
    together /= float(np.linalg.norm(together)) or 1.0
    before = query_terms(resolved.context, lex)
    if not cited:  # the caller did not say what the earlier answer quoted: find it again
        _, _, spans = _rank(index, lex, Query(earlier, before), resolved.context, settings)
        cited = frozenset(index.sentences[span.first].chunk_id for span in spans)
    weights = {t: v * settings.context_weight for t, v in before.items()}
    weights.update({t: max(v, weights.get(t, 0.0)) for t, v in own.items()})
    return Query(together, weights, alone, own, cited, wanted, extra)


def _rank(
    index: Index,
    lex: Lexicon,
    query: Query,
    text: str,
    settings: AnswerSettings,
    exclude: frozenset[int] = frozenset(),
) -> tuple[list[Hit], list[Scored], list[Span]]:
    """Passages by hybrid search, their sentences scored (but the excluded), the quotes picked."""
    hits = search(index, query.vector, f"{text} {query.extra}".strip(), k=settings.passages)
    scored = score_sentences(index, lex, hits, query, settings.weights)
    scored = [x for x in scored if x.sentence_id not in exclude]
    spans = pick(index, scored, settings.k, settings.margin, settings.max_chars, exclude)
    spans = other_article(index, scored, spans, settings.k, settings.both_margin, exclude)
    return hits, scored, spans


def _pointed_item(index: Index, resolved: Resolved, before: frozenset[int]) -> int | None:
    """The list item a follow-up points at by its place ("the second one?", "and the last?")."""
    n = ordinal(resolved.question) if resolved.followup and before else None
    if n is None:
        return None
    items = list_items(index, sorted(before))
    if not items or n > len(items):
        return None
    return items[n - 1] if n > 0 else items[-1]


@per_index
def _sentence_table(index: Index) -> tuple[dict[str, int], np.ndarray]:
    """Document id per source, and (doc, start, end) per sentence, for matching citations."""
    docs = {d.source: d.doc_id for d in index.documents}
    rows = np.array(
        [(index.chunks[s.chunk_id].doc_id, s.start, s.end) for s in index.sentences], dtype=int
    ).reshape(-1, 3)
    return docs, rows


def quoted_before(index: Index, cited: Sequence[Citation]) -> frozenset[int]:
    """The sentences an earlier answer quoted (by source and offsets)."""
    docs, rows = _sentence_table(index)
    found: set[int] = set()
    for c in cited:
        doc = docs.get(c.source)
        if doc is None or not len(rows):
            continue
        hit = (rows[:, 0] == doc) & (rows[:, 1] < c.end) & (rows[:, 2] > c.start)
        found.update(np.flatnonzero(hit).tolist())
    return frozenset(found)


@per_index
def _sentence_texts(index: Index) -> list[str]:
    return [s.text for s in index.sentences]


@per_index
def corpus_text(index: Index) -> str:
    """All the articles' kept text, lower-cased: what they mention at all."""
    return " ".join(c.text for c in index.chunks).lower()


@dataclass(frozen=True)
class Retrieval:
    """One question's retrieval: what was searched, the passages found, the quotes chosen."""

    text: str  # the question, cleaned
    resolved: Resolved
    query: Query
    hits: list[Hit]
    scored: list[Scored]  # sentences of the passages, best first (evidence for refusing)
    spans: list[Span]  # the quotes, best first
    before: frozenset[int]  # sentences the answer before this one quoted
    pointed: bool = False  # the quote is the list item the follow-up pointed at


def retrieve(
    question: str,
    index: Index,
    embedder: Embedder,
    history: list[str] | None = None,
    settings: AnswerSettings | None = None,
    cited: Sequence[Citation] = (),
) -> Retrieval:
    """Resolve the question in its conversation, search, and choose the quotes."""
    settings = settings or AnswerSettings()
    text = clean_question(question)
    lex = lexicon(index)
    asked = clean_history(history)
    earlier = [normalise_question(h, lex) for h in asked]
    resolved = resolve(normalise_question(text, lex), earlier)
    # What the answer before quoted is never quoted again. A caller that does not say (an API
    # client sending questions only) gets the old behaviour: the earlier question's section
    # is found again in _query, and nothing is excluded.
    before = quoted_before(index, cited)
    cited_chunks = frozenset(index.sentences[i].chunk_id for i in before)
    query = _query(resolved, index, lex, embedder, settings, cited_chunks)
    hits, scored, spans = _rank(index, lex, query, resolved.text, settings, before)
    item = _pointed_item(index, resolved, before)
    if item is not None:  # "the second one?": that item of the list the answer before quoted
        first, last = extent(index, item)
        spans = [Span(first, last, 1.0)]
        return Retrieval(text, resolved, query, hits, scored, spans, before, pointed=True)
    if settings.rerank and scored:
        pipeline = {x.sentence_id: x.score for x in scored}
        candidates, matrix = features(index, lex, embedder, hits, query, before, pipeline)
        if len(candidates):
            best = best_units(candidates, scores(matrix), settings.k)
            spans = [Span(unit.first, unit.last, value) for unit, value in best]
    return Retrieval(text, resolved, query, hits, scored, spans, before)


def answer(
    question: str,
    index: Index,
    embedder: Embedder,
    history: list[str] | None = None,
    settings: AnswerSettings | None = None,
    cited: Sequence[Citation] = (),
) -> Answer:
    """Answer one question from the index, quoting the sentences that answer it.

    `history` holds the earlier questions, oldest first; `cited`, what the answer before this
    one quoted: a follow-up moves on from it instead of repeating it.
    """
    settings = settings or AnswerSettings()
    found = retrieve(question, index, embedder, history, settings, cited)
    return decide(found, index, embedder, settings, question)


def decide(
    found: Retrieval, index: Index, embedder: Embedder, settings: AnswerSettings, question: str
) -> Answer:
    """The cited answer, or a refusal, from one retrieval."""
    text, resolved, query, hits, scored = (
        found.text,
        found.resolved,
        found.query,
        found.hits,
        found.scored,
    )
    lex = lexicon(index)
    own = query.own_vector if query.own_vector is not None else query.vector
    nearest_off_topic = off_topic(own, embedder, settings.out_of_scope)
    # A question ("Why?") or a bracketed aside in the articles is no evidence of an answer.
    best = max((x.evidence for x in scored if lex.quotable[x.sentence_id]), default=0.0)
    names_topic = lex.topic_name in stems(resolved.question) or refers_to_subject(resolved.question)
    evidence = best - settings.off_topic * nearest_off_topic + settings.topic_bonus * names_topic
    out_of_scope = asked_out_of_scope(text, corpus_text(index)) or (
        "medical clearance" if asks_clearance(text, _sentence_texts(index)) else ""
    )
    unmentioned = _unmentioned_condition(text, lex)
    debug = {
        "query": resolved.text,
        "bridged": query.extra,
        "intent": query.intent,
        "followup": resolved.followup,
        "best_sentence": best,
        "max_cosine": max((x.cosine for x in scored), default=0.0),
        "max_overlap": max((x.overlap for x in scored), default=0.0),
        "top_overlap": scored[0].overlap if scored else 0.0,
        "top_cosine": scored[0].cosine if scored else 0.0,
        "best_passage": max((h.dense for h in hits), default=0.0),
        "off_topic": nearest_off_topic,
        "evidence": evidence,
        "out_of_scope": out_of_scope,
        "unmentioned_condition": unmentioned,
    }
    weak = not scored or evidence < settings.min_evidence or best < settings.min_best
    refused = (
        not found.spans
        or (weak and not found.pointed)  # "the second one?" needs no evidence of its own
        or bool(unmentioned)
        or bool(out_of_scope)
    )
    citations = [] if refused else _citations(index, found.spans)
    if refused and found.before and not (out_of_scope or unmentioned):
        body = nothing_new(index)
    else:
        body = abstention(index) if refused else quoted(citations)
    # Refused or not, a question about health gets the note.
    medical = (
        is_health(text, own, embedder)
        or health_words(resolved.question)  # as normalised: "bad for u" is "bad for you"
        or (resolved.followup and health_words(resolved.context))
    )
    notice = (REFUSAL_NOTE if refused else NOTE) if medical else None
    return Answer.reply(
        question,
        body,
        notice,
        abstained=refused,
        citations=citations,
        debug=debug,
        refusal_topic=_refusal_topic(out_of_scope, own, embedder, settings) if refused else None,
    )


def quoted(citations: list[Citation]) -> str:
    """The reply of a quoted answer: the best quote as the answer, then the others under
    "Also in the articles", each with its [n]."""
    first, *more = citations
    body = f"{first.quote} [{first.n}]"
    if more:
        body += "\n\nAlso in the articles:\n" + "\n".join(f"{c.quote} [{c.n}]" for c in more)
    return body


def _refusal_topic(
    asked: str, vector: np.ndarray, embedder: Embedder, settings: AnswerSettings
) -> str | None:
    """What a refused question was about, when it is one of the out-of-scope intents or
    closest to the gym-business topics (the site then says where to ask)."""
    if asked:
        return asked
    nearest = nearest_topic(vector, embedder, settings.out_of_scope)
    return GYM_BUSINESS if nearest in BUSINESS else None


def _unmentioned_condition(question: str, lex: Lexicon) -> str:
    """The first diagnosis or injury the question names that no article mentions, else ""."""
    for match in CONDITION.finditer(question):
        if match.group(0).lower() not in lex.vocabulary:
            return match.group(0)
    return ""


def _citations(index: Index, spans: list[Span]) -> list[Citation]:
    out = []
    for n, span in enumerate(spans, start=1):
        chunk_id = index.sentences[span.first].chunk_id
        # A lone sentence restating its heading ("Yes, butt blooming.") is quoted with it.
        heading = heading_start(index, span.first) if span.first == span.last else None
        start = index.sentences[span.first].start if heading is None else heading
        end = index.sentences[span.last].end
        doc = index.chunks[chunk_id].doc_id
        end = start + len(fitted(index.quote(doc, start, end)))
        out.append(citation(index, n, chunk_id, start, end, span.score))
    return out


_CLAUSE_END = re.compile(r"[.;:!?–—,)](?=\s)")


def fitted(quote: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """The quote cut to at most `limit` characters at its last clause or word boundary (still
    a verbatim prefix), so a visitor reads it at a glance."""
    if len(quote) <= limit:
        return quote
    head = quote[:limit]
    ends = [m.end() for m in _CLAUSE_END.finditer(head) if m.end() > limit // 2]
    cut = ends[-1] if ends else (head.rfind(" ") if " " in head else limit)
    return head[:cut].rstrip()


def citation(index: Index, n: int, chunk_id: int, start: int, end: int, score: float) -> Citation:
    """Citation [n]: the verbatim text at [start:end] of the passage's article."""
    chunk = index.chunks[chunk_id]
    document = index.documents[chunk.doc_id]
    # A quote that starts at the heading above its passage is shown in the passage with it.
    passage_start = min(start, chunk.start)
    return Citation(
        n=n,
        title=document.title,
        source=document.source,
        quote=index.quote(chunk.doc_id, start, end),
        start=start,
        end=end,
        passage=index.quote(chunk.doc_id, passage_start, chunk.end),
        score=score,
        heading=chunk.heading,
        passage_start=passage_start,
        chunk_id=chunk_id,
        url=document.url,
    )


@per_index
def abstention(index: Index) -> str:
    """A helpful refusal that says what the articles do cover."""
    titles = {d.title for d in index.documents}
    per_doc: list[list[str]] = [[] for _ in index.documents]
    for chunk in index.chunks:
        if chunk.heading not in titles and chunk.heading not in per_doc[chunk.doc_id]:
            per_doc[chunk.doc_id].append(chunk.heading)
    # Round-robin over articles so every article is represented.
    headings = [h for group in zip_longest(*per_doc) for h in group if h]
    # Quoted, so headings that end in "?" read as titles, not as broken punctuation.
    covered = ", ".join(f"“{h.strip()}”" for h in headings[:6])
    return (
        "I couldn't find that in the articles, so I won't guess. "
        f"They cover the hip hinge: {covered}. Try asking about one of those."
    )


@per_index
def nothing_new(index: Index) -> str:
    """A follow-up the articles have nothing more on than the answer before it."""
    return (
        "The articles say nothing more on that than the quotes above. "
        + abstention(index).split(". ", 1)[1]
    )
