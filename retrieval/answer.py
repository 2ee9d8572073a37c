"""Compose a short, cited, extractive answer, or abstain plainly."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

import numpy as np

from retrieval.embedder import Embedder
from retrieval.errors import BadQuestionError
from retrieval.followup import Resolved, resolve
from retrieval.index import Index, per_index
from retrieval.quotes import Query, Scored, Span, Weights, other_article, pick, score_sentences
from retrieval.records import Answer, Citation
from retrieval.scope import OUT_OF_SCOPE, off_topic, topic_vectors
from retrieval.search import Hit, search
from retrieval.text import clean_input, stems
from retrieval.vocabulary import (
    Lexicon,
    as_reader,
    lexicon,
    normalise_question,
    query_terms,
    specificity,
    without_topic,
)

MAX_QUESTION_CHARS = 1000


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
    weights: Weights = field(default_factory=Weights)
    out_of_scope: tuple[str, ...] = OUT_OF_SCOPE


_PAIN = re.compile(
    r"\b(?:pain|painful|hurts?|hurting|injur\w*|ache|aches|aching|sore(?:ness)?|sciatica|"
    r"herniat\w*|numb\w*|tingl\w*|sprain\w*|strain(?:ed)?|pulled|tweak\w*)\b",
    re.IGNORECASE,
)
# Diagnoses and injuries. When a question names one that the articles never mention, no quote
# about the hinge in general answers it ("I have sciatica, can I deadlift?"): it is refused.
_CONDITION = re.compile(
    r"\b(?:sciatica|herniat\w*|bulging|discs?|disks?|arthritis|osteo\w*|scoliosis|"
    r"stenosis|spondyl\w*|tendinitis|tendonitis|bursitis|fractur\w*|surgery|surgeries|"
    r"torn|tears?|ruptur\w*|hernias?|diastasis|prolapse|labral|meniscus|acl|mcl)\b",
    re.IGNORECASE,
)
MEDICAL_NOTE = (
    "This is general coaching information from the articles, not medical advice: "
    "for pain or an injury, see a doctor or physical therapist."
)
MEDICAL_REFUSAL_NOTE = (
    "The articles give no medical advice: for pain or an injury, see a doctor or physical "
    "therapist."
)


def prepare(index: Index, embedder: Embedder, settings: AnswerSettings | None = None) -> None:
    """Build what answering reuses (word statistics, dictionary, topic vectors) ahead of time."""
    settings = settings or AnswerSettings()
    normalise_question("warm up", lexicon(index))
    specificity("warm")
    topic_vectors(embedder, settings.out_of_scope)


def clean_question(question: str) -> str:
    """The question with control characters removed and whitespace folded; errors when unusable."""
    try:
        return clean_input(question, MAX_QUESTION_CHARS)
    except ValueError as exc:
        if str(exc) == "empty":
            raise BadQuestionError(
                "the question is empty; type a question about the hip hinge."
            ) from None
        raise BadQuestionError(
            f"the question is too long ({len(' '.join(question.split())):,} characters; the "
            f"limit is {MAX_QUESTION_CHARS:,}); ask it in a sentence or two."
        ) from None


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
    resolved: Resolved, index: Index, lex: Lexicon, embedder: Embedder, settings: AnswerSettings
) -> Query:
    """Embed the question and weigh its words; a follow-up also brings its earlier question.

    A follow-up is embedded alone and with the question it continues, in one call; the two
    vectors are summed to search with, and the passages the earlier question's own answer
    cites mark the section the follow-up most likely asks about.
    """
    own = query_terms(resolved.question, lex)
    if not resolved.followup:
        return Query(embedder.encode([_embeddable(resolved.question, lex)])[0], own)
    earlier, alone = embedder.encode(
        [_embeddable(t, lex) for t in (resolved.context, resolved.question)]
    )
    together = earlier + alone
    together /= float(np.linalg.norm(together)) or 1.0
    before = query_terms(resolved.context, lex)
    _, _, spans = _rank(index, lex, Query(earlier, before), resolved.context, settings)
    cited = frozenset(index.sentences[span.first].chunk_id for span in spans)
    terms = {t: v * settings.context_weight for t, v in before.items()}
    terms.update({t: max(v, terms.get(t, 0.0)) for t, v in own.items()})
    return Query(together, terms, alone, own, cited)


def _rank(
    index: Index, lex: Lexicon, query: Query, text: str, settings: AnswerSettings
) -> tuple[list[Hit], list[Scored], list[Span]]:
    """Passages by hybrid search, their sentences scored, and the quotes picked."""
    hits = search(index, query.vector, text, k=settings.passages)
    scored = score_sentences(index, lex, hits, query, settings.weights)
    spans = pick(index, scored, settings.k, settings.margin, settings.max_chars)
    return hits, scored, other_article(index, scored, spans, settings.k, settings.both_margin)


def answer(
    question: str,
    index: Index,
    embedder: Embedder,
    history: list[str] | None = None,
    settings: AnswerSettings | None = None,
) -> Answer:
    """Answer one question from the index, quoting the sentences that answer it."""
    settings = settings or AnswerSettings()
    text = clean_question(question)
    lex = lexicon(index)
    earlier = [normalise_question(h, lex) for h in clean_history(history)]
    resolved = resolve(normalise_question(text, lex), earlier)
    query = _query(resolved, index, lex, embedder, settings)
    hits, scored, spans = _rank(index, lex, query, resolved.text, settings)
    own = query.own_vector if query.own_vector is not None else query.vector
    nearest_off_topic = off_topic(own, embedder, settings.out_of_scope)
    # A question ("Why?") or a bracketed aside in the articles is no evidence of an answer.
    best = max((x.evidence for x in scored if lex.quotable[x.sentence_id]), default=0.0)
    names_topic = lex.topic_name in stems(resolved.question)
    evidence = best - settings.off_topic * nearest_off_topic + settings.topic_bonus * names_topic
    debug = {
        "query": resolved.text,
        "followup": resolved.followup,
        "best_sentence": best,
        "max_cosine": max((x.cosine for x in scored), default=0.0),
        "max_overlap": max((x.overlap for x in scored), default=0.0),
        "top_overlap": scored[0].overlap if scored else 0.0,
        "top_cosine": scored[0].cosine if scored else 0.0,
        "best_passage": max((h.dense for h in hits), default=0.0),
        "off_topic": nearest_off_topic,
        "evidence": evidence,
    }
    unmentioned = _unmentioned_condition(text, lex)
    debug["unmentioned_condition"] = unmentioned
    refused = (
        not scored
        or evidence < settings.min_evidence
        or best < settings.min_best
        or bool(unmentioned)
    )
    citations = [] if refused else _citations(index, spans)
    body = abstention(index) if refused else " ".join(f"{c.quote} [{c.n}]" for c in citations)
    # Refused or not, a question about pain, an injury or a diagnosis gets the note.
    medical = bool(_PAIN.search(text) or _CONDITION.search(text))
    notice = (MEDICAL_REFUSAL_NOTE if refused else MEDICAL_NOTE) if medical else None
    return Answer(
        question=question,
        answer=f"{body}\n\n{notice}" if notice else body,
        abstained=refused,
        citations=citations,
        notice=notice,
        debug=debug,
    )


def _unmentioned_condition(question: str, lex: Lexicon) -> str:
    """The first diagnosis or injury the question names that no article mentions, else ""."""
    for match in _CONDITION.finditer(question):
        if match.group(0).lower() not in lex.vocabulary:
            return match.group(0)
    return ""


def _citations(index: Index, spans: list[Span]) -> list[Citation]:
    return [
        citation(
            index,
            n,
            index.sentences[span.first].chunk_id,
            index.sentences[span.first].start,
            index.sentences[span.last].end,
            span.score,
        )
        for n, span in enumerate(spans, start=1)
    ]


def citation(index: Index, n: int, chunk_id: int, start: int, end: int, score: float) -> Citation:
    """Citation [n]: the verbatim text at [start:end] of the passage's article."""
    chunk = index.chunks[chunk_id]
    document = index.documents[chunk.doc_id]
    return Citation(
        n=n,
        title=document.title,
        source=document.source,
        quote=index.quote(chunk.doc_id, start, end),
        start=start,
        end=end,
        passage=chunk.text,
        score=score,
        heading=chunk.heading,
        passage_start=chunk.start,
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
