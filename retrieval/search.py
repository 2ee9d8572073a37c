"""Hybrid passage search: dense (FAISS) and lexical (BM25) rankings fused by RRF."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.index import Index
from retrieval.text import stems

RRF_K = 60  # the usual reciprocal-rank-fusion constant
CANDIDATES = 50


@dataclass(frozen=True)
class Hit:
    """A passage found for a query, with the evidence behind its rank."""

    chunk_id: int
    score: float  # fused RRF score
    dense: float  # cosine similarity of query and passage
    lexical: float  # BM25 score (0 when no query stem occurs)


def dense_ranking(index: Index, query_vector: np.ndarray, depth: int) -> dict[int, float]:
    """Chunk id -> cosine, for the `depth` nearest passages."""
    scores, ids = index.chunk_vectors.search(query_vector.reshape(1, -1).astype(np.float32), depth)
    return {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}


def lexical_ranking(index: Index, query: str, depth: int) -> dict[int, float]:
    """Chunk id -> BM25 score, for the best `depth` passages that share a stem with the query."""
    tokens = stems(query)
    if not tokens:
        return {}
    scores = index.bm25.get_scores(tokens)
    top = np.argsort(-scores)[:depth]
    return {int(i): float(scores[i]) for i in top if scores[i] > 0}


def search(index: Index, query_vector: np.ndarray, query: str, k: int = 8) -> list[Hit]:
    """The k best passages by reciprocal rank fusion of dense and BM25 rankings."""
    depth = min(CANDIDATES, len(index.chunks))
    if depth == 0:
        return []
    dense = dense_ranking(index, query_vector, depth)
    lexical = lexical_ranking(index, query, depth)
    fused: dict[int, float] = {}
    for ranking in (dense, lexical):
        ordered = sorted(ranking, key=lambda i: -ranking[i])
        for rank, chunk_id in enumerate(ordered):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    missing = [i for i in fused if i not in dense]
    if missing:  # a lexical-only hit still needs its cosine for scoring quotes
        vectors = np.vstack([index.chunk_vectors.reconstruct(i) for i in missing])
        dense.update(zip(missing, (vectors @ query_vector).tolist(), strict=True))
    best = sorted(fused, key=lambda i: -fused[i])[:k]
    return [Hit(i, fused[i], dense[i], lexical.get(i, 0.0)) for i in best]
