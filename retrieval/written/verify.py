"""Check a model-written sentence against the passages it cites.

A sentence counts as supported when some span of one or two adjacent sentences
of the cited passages is close to it both in meaning (embedding cosine) and in
words (share of the sentence's content stems that the span contains), and every
number it states occurs in those passages. The thresholds are calibrated on the
labelled sentence/quote pairs in bench/support_pairs.jsonl
(`python bench/verifier.py` reproduces the figures).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.index import Index
from retrieval.text import stems, words


@dataclass(frozen=True)
class VerifierSettings:
    """Thresholds of the support check (calibrated by bench/verifier.py)."""

    w_cosine: float = 0.4  # score = w_cosine * cosine + (1 - w_cosine) * coverage
    min_score: float = 0.74
    window: int = 2  # adjacent sentences a span may join


@dataclass(frozen=True)
class Evidence:
    """A quotable sentence of a cited passage: the document's text[start:end] == text."""

    n: int  # the passage number the model saw
    doc_id: int
    start: int
    end: int
    text: str
    vector: np.ndarray = field(compare=False, repr=False)
    joins_previous: bool = False  # same paragraph as the sentence before it
    context: str = ""  # the article title and heading it sits under


@dataclass(frozen=True)
class Support:
    """How well a sentence is backed by its cited passages, and by which span."""

    supported: bool
    score: float
    cosine: float
    coverage: float
    span: tuple[Evidence, ...] = ()  # the best-matching sentences, adjacent, in order
    reason: str = ""  # why it is unsupported, for the UI


# "one" is left out: "one of the best ways" states no number.
_SMALL = (
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty"
)
_NUMBER_WORDS = {w: i for i, w in enumerate(_SMALL.split(" "), start=2)} | {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "hundred": 100,
    "thousand": 1000,
}
_DIGITS = re.compile(r"\d+(?:\.\d+)?")


def numbers(text: str) -> set[str]:
    """Numbers a text states, as digits ("three" and "3" are the same number)."""
    found = set(_DIGITS.findall(text))
    found |= {str(_NUMBER_WORDS[w]) for w in words(text) if w in _NUMBER_WORDS}
    return found


def sentence_evidence(index: Index, n: int, sentence_ids: Sequence[int]) -> list[Evidence]:
    """Indexed sentences (of one document, in order) as evidence numbered n."""
    out: list[Evidence] = []
    for sid in sentence_ids:
        s = index.sentences[sid]
        chunk = index.chunks[s.chunk_id]
        context = f"{index.documents[chunk.doc_id].title} {chunk.heading}"
        joins = bool(out) and "\n" not in index.quote(chunk.doc_id, out[-1].end, s.start)
        vector = index.sentence_vectors[sid]
        out.append(Evidence(n, chunk.doc_id, s.start, s.end, s.text, vector, joins, context))
    return out


def passage_evidence(index: Index, n: int, chunk_id: int) -> list[Evidence]:
    """The quotable sentences of one passage, with their stored vectors."""
    return sentence_evidence(index, n, index.chunk_sentences[chunk_id])


def _spans(evidence: Sequence[Evidence], window: int) -> list[tuple[Evidence, ...]]:
    """Runs of 1..window adjacent sentences of one paragraph (a quote never spans paragraphs)."""
    out = []
    for i in range(len(evidence)):
        for size in range(1, window + 1):
            run = tuple(evidence[i : i + size])
            if len(run) == size and all(e.n == run[0].n and e.joins_previous for e in run[1:]):
                out.append(run)
    return out


def check(
    sentence: str,
    vector: np.ndarray,
    evidence: Sequence[Evidence],
    settings: VerifierSettings | None = None,
) -> Support:
    """Whether `sentence` (with its embedding `vector`) is supported by `evidence`."""
    settings = settings or VerifierSettings()
    if not evidence:
        return Support(False, 0.0, 0.0, 0.0, reason="cites no passage")
    claimed = set(stems(sentence))
    scored = []
    for span in _spans(evidence, settings.window):
        joined = np.sum([e.vector for e in span], axis=0)
        cosine = float(joined @ vector / (np.linalg.norm(joined) or 1.0))
        # Words of the title and heading count: the model sees them with the passage.
        have = set(stems(" ".join([span[0].context, *(e.text for e in span)])))
        coverage = len(claimed & have) / len(claimed) if claimed else 0.0
        score = settings.w_cosine * cosine + (1 - settings.w_cosine) * coverage
        scored.append(Support(False, score, cosine, coverage, span))
    best = max(scored, key=lambda s: s.score)
    missing = numbers(sentence) - numbers(" ".join(e.text for e in evidence))
    if missing:
        reason = f"it states {', '.join(sorted(missing))}, which the cited passage does not"
    elif best.score < settings.min_score:
        reason = "the cited passage does not say this"
    else:
        # The quote: the fewest sentences that still pass, so the highlight stays tight.
        passing = [s for s in scored if s.score >= settings.min_score]
        best = min(passing, key=lambda s: (len(s.span), -s.score))
        reason = ""
    return Support(not reason, best.score, best.cosine, best.coverage, best.span, reason)
