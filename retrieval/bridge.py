"""Everyday words bridged to the articles' own: "back of my body" -> "backside of the body",
"stomach" -> "abdominals", "breathing" -> "breath".

When an index is loaded, the articles' terms (content words and the two- and three-word
phrases they form in sentences and headings) are collected with their frequencies and
embedded once. A question's own phrases that the articles never use are embedded with the
question, in the same call, and each is mapped to its nearest article term when the two are
close enough. The terms found are added to what lexical search and sentence scoring match,
and to the text that is embedded for dense search. Nothing here knows any one article.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from retrieval.embedder import Embedder
from retrieval.index import Index, per_index
from retrieval.text import STOPWORDS, words
from retrieval.vocabulary import FILLERS

# Everyday names of the body and of common movements, in general English, next to the words
# coaching writing uses for them. A term joins a question only when the articles use it.
EVERYDAY: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), terms)
    for pattern, terms in (
        (r"\b(?:butt|booty|bum|buttocks?|behind|rear end|ass)\b", ("glutes", "glute")),
        (r"\bfront of (?:my |your |ur |the )?(?:thighs?|legs?)\b", ("quads", "quadriceps")),
        (
            r"\b(?:back of (?:my |your |ur |the )?(?:thighs?|legs?)|hammies|hammys|hams)\b",
            ("hamstrings",),
        ),
        (r"\b(?:stomach|belly|tummy|midsection|abs)\b", ("abdominals", "core", "abs")),
        (
            r"\b(?:back|rear|backside) (?:side )?of (?:my |your |ur |the )?body\b|\bbackside\b",
            ("posterior chain", "backside"),
        ),
        (r"\bfront of (?:my |your |ur |the )?hips?\b", ("hip flexors",)),
        (r"\b(?:breath\w*|breathe)\b", ("breath", "exhale", "inhale")),
        (r"\b(?:heels?|toes|balls of (?:my |your )?feet)\b", ("mid-foot", "weight")),
        (r"\b(?:feet|foot)\b", ("mid-foot", "foot")),
        (
            r"\b(?:computer|desk|office|sit(?:ting)? all day|sit(?:ting)? a lot)\b",
            ("sitting", "sedentary"),
        ),
        (
            r"\b(?:bend(?:ing)? (?:over|down)|lean(?:ing)? over|pick(?:ing)? (?:\w+ )?up)\b",
            ("hinge", "bend over"),
        ),
        (r"\b(?:lower|low) back\b|\blumbar\b", ("low back", "lower back")),
        (r"\b(?:rib ?cage|ribs)\b", ("ribs", "rib")),
        (
            r"\b(?:legs? (?:totally |fully |completely )?straight|"
            r"lock(?:ed)? (?:my |your )?knees?)\b",
            ("locked", "knees"),
        ),
    )
)
MAX_WORDS = 3  # phrases of one to three content words
MIN_COSINE = 0.66  # a question phrase this close to an article term means it (calibrated)
MAX_TERMS = 3  # article terms added to one question at most
_SPLIT = re.compile(r"[.!?;:,()\[\]“”\"–—]+|\s-\s")


@dataclass(frozen=True)
class Terms:
    """An index's terms, how often each occurs, and their embeddings (rows match `terms`)."""

    terms: list[str]
    counts: list[int]
    vectors: np.ndarray
    words: frozenset[str]  # every word of the articles, lower-cased


def _runs(text: str) -> list[list[str]]:
    """Runs of consecutive content words between stopwords and punctuation."""
    runs: list[list[str]] = []
    for piece in _SPLIT.split(text):
        run: list[str] = []
        for word in words(piece):
            if word in STOPWORDS or word in FILLERS or len(word) < 3:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(word)
        if run:
            runs.append(run)
    return runs


def phrases(text: str) -> list[str]:
    """Content-word phrases of one to three words, in order of appearance."""
    out: list[str] = []
    for run in _runs(text):
        for size in range(1, MAX_WORDS + 1):
            out += [" ".join(run[i : i + size]) for i in range(len(run) - size + 1)]
    return list(dict.fromkeys(out))


def article_terms(index: Index, embedder: Embedder) -> Terms:
    """The index's terms with their embeddings, built once per loaded index."""
    return _terms_for(index)(embedder)


@per_index
def _terms_for(index: Index) -> _Cached:
    texts = [s.text for s in index.sentences] + [c.heading for c in index.chunks]
    counts: Counter[str] = Counter(p for t in texts for p in phrases(t))
    # Single words and the phrases the articles repeat, or use in a heading.
    headings = {p for c in index.chunks for p in phrases(c.heading)}
    kept = [p for p, n in counts.items() if " " not in p or n > 1 or p in headings]
    vocabulary = frozenset(w for t in texts for w in words(t))
    return _Cached(kept, [counts[p] for p in kept], vocabulary)


class _Cached:
    def __init__(self, terms: list[str], counts: list[int], vocabulary: frozenset[str]):
        self.terms, self.counts, self.vocabulary = terms, counts, vocabulary
        self.built: dict[int, Terms] = {}

    def __call__(self, embedder: Embedder) -> Terms:
        key = id(embedder)
        if key not in self.built:
            vectors = (
                embedder.encode(self.terms)
                if self.terms
                else np.zeros((0, embedder.dimension), np.float32)
            )
            self.built[key] = Terms(self.terms, self.counts, vectors, self.vocabulary)
        return self.built[key]


def unfamiliar(question: str, known: frozenset[str]) -> list[str]:
    """The question's phrases with a word the articles never use: what needs bridging."""
    return [p for p in phrases(question) if any(w not in known for w in p.split())]


def bridge(
    asked: list[str], vectors: np.ndarray, terms: Terms, min_cosine: float = MIN_COSINE
) -> list[str]:
    """Article terms nearest the asked phrases (their embeddings in `vectors`), best first."""
    if not asked or not len(terms.terms):
        return []
    cosines = vectors @ terms.vectors.T
    found: dict[str, float] = {}
    for row, phrase in zip(cosines, asked, strict=True):
        best = int(np.argmax(row))
        term = terms.terms[best]
        if row[best] >= min_cosine and term not in phrase:
            found[term] = max(found.get(term, 0.0), float(row[best]))
    return sorted(found, key=lambda t: -found[t])[:MAX_TERMS]


def everyday_terms(question: str, known: frozenset[str]) -> list[str]:
    """The articles' words for the everyday names in the question ("butt" -> "glutes")."""
    found: list[str] = []
    for pattern, terms in EVERYDAY:
        if pattern.search(question):
            found += [t for t in terms if all(w in known for w in words(t)) and t not in found]
    return [t for t in found if t.lower() not in question.lower()]
