"""The retrieval setups people build by default, to compare ours against in the same run.

Each baseline returns whole passages, best first, with the score a cutoff would use:
- fixed 1,000-character chunks with 200 characters of overlap over each file's full text,
  dense top-4 (LangChain's common defaults: no cleaning, no structure, no abstention);
- dense-only over our cleaned, heading-aware passages (top 3);
- BM25-only over the same passages (top 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from retrieval.embedder import Embedder
from retrieval.index import Index
from retrieval.search import dense_ranking, lexical_ranking

FIXED_SIZE = 1000
FIXED_OVERLAP = 200


@dataclass(frozen=True)
class Retrieved:
    """What a baseline hands the reader for one question."""

    passages: list[str]  # best first
    score: float  # the top passage's score, what an abstention cutoff would look at
    junk: bool  # the top passage is mostly not article text (reviews, navigation, sign-offs)


class Baseline(Protocol):
    """A retrieval setup: a name, how many passages it returns, and retrieve()."""

    name: str
    k: int

    def retrieve(self, query: str, vector: np.ndarray) -> Retrieved:
        """The top passages for a query (its text and its embedding)."""
        ...


def fixed_spans(
    text: str, size: int = FIXED_SIZE, overlap: int = FIXED_OVERLAP
) -> list[tuple[int, int]]:
    """Windows of at most `size` characters, each starting `overlap` before the previous end.

    Cuts fall on whitespace when there is some in the second half of a window, so words stay
    whole (as a character splitter with a space separator does).
    """
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > start else end
        spans.append((start, end))
        if end >= len(text):
            break
        nxt = max(end - overlap, start + 1)
        space = text.find(" ", nxt, end)
        start = space + 1 if space >= 0 else nxt
    return spans


def _article_share(index: Index, doc_id: int, start: int, end: int) -> float:
    """Share of a span's characters that lie inside the article's indexed passages."""
    covered = 0
    for chunk in index.chunks:
        if chunk.doc_id == doc_id:
            covered += max(0, min(end, chunk.end) - max(start, chunk.start))
    return covered / max(1, end - start)


class FixedChunkDense:
    """Fixed-size overlapping character chunks of the raw files, dense top-k."""

    name = "fixed 1000/200 chunks, dense top-4"

    def __init__(self, index: Index, embedder: Embedder, k: int = 4) -> None:
        self.k = k
        self.texts: list[str] = []
        self.junk: list[bool] = []
        for doc_id, text in enumerate(index.texts):
            for start, end in fixed_spans(text):
                self.texts.append(text[start:end])
                self.junk.append(_article_share(index, doc_id, start, end) < 0.5)
        self.vectors = embedder.encode(self.texts)

    def retrieve(self, query: str, vector: np.ndarray) -> Retrieved:
        scores = self.vectors @ vector
        order = np.argsort(-scores)[: self.k]
        best = int(order[0])
        return Retrieved([self.texts[i] for i in order], float(scores[best]), self.junk[best])


class DenseOnly:
    """Our passages ranked by the cosine of their vectors alone."""

    name = "dense-only, our passages"

    def __init__(self, index: Index, k: int = 3) -> None:
        self.index, self.k = index, k

    def retrieve(self, query: str, vector: np.ndarray) -> Retrieved:
        ranking = dense_ranking(self.index, vector, min(self.k, len(self.index.chunks)))
        ids = sorted(ranking, key=lambda i: -ranking[i])
        passages = [self.index.chunks[i].text for i in ids]
        return Retrieved(passages, ranking[ids[0]] if ids else 0.0, False)


class BM25Only:
    """Our passages ranked by BM25 alone."""

    name = "BM25-only, our passages"

    def __init__(self, index: Index, k: int = 3) -> None:
        self.index, self.k = index, k

    def retrieve(self, query: str, vector: np.ndarray) -> Retrieved:
        ranking = lexical_ranking(self.index, query, self.k)
        ids = sorted(ranking, key=lambda i: -ranking[i])
        passages = [self.index.chunks[i].text for i in ids]
        return Retrieved(passages, ranking[ids[0]] if ids else 0.0, False)


def default_baselines(index: Index, embedder: Embedder) -> list[Baseline]:
    """The three setups the evaluation compares against."""
    return [FixedChunkDense(index, embedder), DenseOnly(index), BM25Only(index)]
