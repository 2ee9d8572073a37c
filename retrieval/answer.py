"""Compose a short, cited, extractive answer, or abstain plainly."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest

import numpy as np

from retrieval.embedder import Embedder
from retrieval.errors import BadQuestionError
from retrieval.followup import resolve
from retrieval.index import Index, per_index
from retrieval.records import Answer, Citation
from retrieval.search import Hit, search
from retrieval.text import stems

MAX_QUESTION_CHARS = 1000


@dataclass(frozen=True)
class AnswerSettings:
    """Knobs of quote selection and abstention (calibrated on the labelled questions)."""

    k: int = 3  # citations at most
    passages: int = 6  # passages whose sentences compete for quotes
    min_evidence: float = (
        0.52  # abstain when no sentence's cosine + w_evidence * overlap reaches this
    )
    w_evidence: float = 0.20
    margin: float = 0.12  # keep quotes scoring within this of the best
    w_sentence: float = 0.55
    w_passage: float = 0.30
    w_lexical: float = 0.15


_PAIN = re.compile(
    r"\b(?:pain|painful|hurts?|hurting|injur\w*|ache|aches|aching|sore(?:ness)?|sciatica|"
    r"herniat\w*|numb\w*|tingl\w*|sprain\w*|strain(?:ed)?|pulled|tweak\w*)\b",
    re.IGNORECASE,
)
MEDICAL_NOTE = (
    "This is general coaching information from the articles, not medical advice: "
    "for pain or an injury, see a doctor or physical therapist."
)


def clean_question(question: str) -> str:
    """The question with control characters removed and whitespace folded; errors when unusable."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in question)
    text = " ".join(text.split())
    if not text:
        raise BadQuestionError("the question is empty; type a question about the hip hinge.")
    if len(text) > MAX_QUESTION_CHARS:
        raise BadQuestionError(
            f"the question is too long ({len(text):,} characters; the limit is "
            f"{MAX_QUESTION_CHARS:,}); ask it in a sentence or two."
        )
    return text


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


@dataclass(frozen=True)
class _Scored:
    sentence_id: int
    score: float
    cosine: float
    overlap: float  # share of the query's content stems found in the sentence


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
    query = resolve(text, clean_history(history)[-3:])
    query_vector = embedder.encode([query])[0]
    hits = search(index, query_vector, query, k=settings.passages)
    scored = _score_sentences(index, hits, query_vector, query, settings)
    evidence = max((s.cosine + settings.w_evidence * s.overlap for s in scored), default=0.0)
    debug = {
        "query": query,
        "best_passage": max((h.dense for h in hits), default=0.0),
        "best_sentence": scored[0].score if scored else 0.0,
        "evidence": evidence,
    }
    if evidence < settings.min_evidence:
        return Answer(question=question, answer=abstention(index), abstained=True, debug=debug)
    citations = _citations(index, _pick(index, scored, settings))
    body = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    notice = MEDICAL_NOTE if _PAIN.search(text) else None
    return Answer(
        question=question,
        answer=f"{body}\n\n{notice}" if notice else body,
        abstained=False,
        citations=citations,
        notice=notice,
        debug=debug,
    )


def _score_sentences(
    index: Index, hits: list[Hit], query_vector: np.ndarray, query: str, settings: AnswerSettings
) -> list[_Scored]:
    """Each sentence of the candidate passages, scored by itself, its passage and shared words."""
    query_stems = set(stems(query))
    ids = [sid for hit in hits for sid in index.chunk_sentences[hit.chunk_id]]
    if not ids:
        return []
    cosines = index.sentence_vectors[ids] @ query_vector
    passage = {hit.chunk_id: hit.dense for hit in hits}
    out = []
    for sid, cosine in zip(ids, cosines.tolist(), strict=True):
        sentence = index.sentences[sid]
        overlap = len(query_stems & set(stems(sentence.text))) / max(1, len(query_stems))
        score = (
            settings.w_sentence * cosine
            + settings.w_passage * passage[sentence.chunk_id]
            + settings.w_lexical * overlap
        )
        out.append(_Scored(sid, score, cosine, overlap))
    return sorted(out, key=lambda s: -s.score)


def _pick(index: Index, scored: list[_Scored], settings: AnswerSettings) -> list[_Scored]:
    """Best quotes within the margin, one per passage; another article's best joins if close."""
    top = scored[0].score
    picked: list[_Scored] = []
    used_chunks: set[int] = set()
    for item in scored:
        chunk_id = index.sentences[item.sentence_id].chunk_id
        if item.score < top - settings.margin or len(picked) == settings.k:
            break
        if chunk_id not in used_chunks:
            picked.append(item)
            used_chunks.add(chunk_id)
    docs = {index.chunks[index.sentences[p.sentence_id].chunk_id].doc_id for p in picked}
    for item in scored:
        doc = index.chunks[index.sentences[item.sentence_id].chunk_id].doc_id
        if doc not in docs and item.score >= top - 2 * settings.margin:
            picked = (
                picked[: settings.k - 1] + [item] if len(picked) >= settings.k else picked + [item]
            )
            break
    return picked


def _citations(index: Index, picked: list[_Scored]) -> list[Citation]:
    citations = []
    for n, item in enumerate(picked, start=1):
        sentence = index.sentences[item.sentence_id]
        chunk = index.chunks[sentence.chunk_id]
        document = index.documents[chunk.doc_id]
        start, end = _extend(index, item.sentence_id)
        citations.append(
            Citation(
                n=n,
                title=document.title,
                source=document.source,
                quote=index.quote(chunk.doc_id, start, end),
                start=start,
                end=end,
                passage=chunk.text,
                score=item.score,
                heading=chunk.heading,
                passage_start=chunk.start,
            )
        )
    return citations


def _extend(index: Index, sentence_id: int) -> tuple[int, int]:
    """A sentence, plus the next one when it is a fragment that needs it ("Why?", "A few tips:")."""
    sentence = index.sentences[sentence_id]
    start, end = sentence.start, sentence.end
    if len(sentence.text) >= 40 and not sentence.text.endswith(":"):
        return start, end
    nxt = sentence_id + 1
    if nxt < len(index.sentences) and index.sentences[nxt].chunk_id == sentence.chunk_id:
        doc_id = index.chunks[sentence.chunk_id].doc_id
        gap = index.quote(doc_id, end, index.sentences[nxt].start)
        if "\n" not in gap:  # same paragraph only
            end = index.sentences[nxt].end
    return start, end


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
    covered = "; ".join(headings[:6])
    return (
        "I couldn't find that in the articles, so I won't guess. "
        f"They cover the hip hinge: {covered}. Try asking about one of those."
    )
