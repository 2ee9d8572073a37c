"""The ingest pipeline: corpus folder -> cleaned, chunked, embedded index directory."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ingest.chunk import TARGET_TOKENS, Piece, chunk_blocks, embed_text
from ingest.clean import Block, clean, clean_html, html_title
from ingest.load import Skipped, SourceFile, load_corpus
from retrieval.embedder import MODEL_PACKAGE, Embedder, vector_space
from retrieval.errors import CorpusError
from retrieval.index import (
    DIGEST_BYTES,
    EXACT_MAX,
    SentenceRecord,
    VectorCache,
    recover_index,
    text_digest,
    write_index,
)
from retrieval.links import web_address
from retrieval.records import Chunk, Document
from retrieval.text import sentence_spans
from retrieval.tokens import DEFAULT_ENCODING

EMBED_BATCH = 64


@dataclass
class IngestSummary:
    """What an ingest run did, for the one-screen report."""

    files: int = 0
    chunks: int = 0
    sentences: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    embedded: int = 0  # texts run through the model in this build
    reused: int = 0  # texts whose vectors came from the previous index or an identical text
    search: dict[str, Any] = field(default_factory=dict)  # the vector index chosen (meta "ann")
    notes: list[str] = field(default_factory=list)  # metadata left out, with the reason
    recovered: list[str] = field(default_factory=list)  # what an interrupted build left

    def lines(self) -> list[str]:
        out = [
            *self.recovered,
            f"indexed {self.files} file(s): {self.chunks} chunks, {self.sentences} sentences "
            f"in {self.seconds:.1f}s",
            f"embedded {self.embedded} new text(s); reused {self.reused} (unchanged or repeated)",
        ]
        if self.search.get("kind") == "hnsw":
            out.append(
                f"vector search: HNSW graph (over {self.search['exact_max']} chunks), recall@10 "
                f"{self.search['recall_at_10']:.3f} against exact search"
            )
        if self.dropped:
            parts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.dropped.items()))
            out.append(f"boilerplate blocks removed: {parts}")
        out += [f"skipped {s.source}: {s.reason}" for s in self.skipped]
        return out + self.notes


@dataclass
class _Parsed:
    document: Document
    text: str
    pieces: list[Piece]


def _title(file: SourceFile, blocks: list[Block]) -> str:
    if file.meta.get("title"):
        return str(file.meta["title"])
    for block in blocks:
        if block.kind == "title":
            return block.text(file.text)
    if file.fmt == "html" and (title := html_title(file.text)):
        return title
    return file.path.stem.replace("-", " ").replace("_", " ").strip().capitalize()


def parse_file(
    file: SourceFile, doc_id: int, embedder: Embedder
) -> tuple[_Parsed | None, list[Block]]:
    """Clean and chunk one file; None when nothing quotable is left."""
    blocks = clean_html(file.text) if file.fmt == "html" else clean(file.text)
    title = _title(file, blocks)
    pieces = chunk_blocks(
        blocks, file.text, title, window_tokens=embedder.count_tokens, window=embedder.window
    )
    if not pieces:
        return None, blocks
    meta = file.meta
    document = Document(
        doc_id=doc_id,
        source=file.source,
        title=title,
        sha256=file.sha256,
        author=meta.get("author"),
        publisher=meta.get("publisher"),
        date=meta.get("date"),
        url=web_address(meta.get("url")),
    )
    return _Parsed(document, file.text, pieces), blocks


def build_index(
    corpus: Path,
    index_dir: Path,
    embedder: Embedder,
    root: Path,
    progress: bool = True,
    incremental: bool = True,
    exact_max: int = EXACT_MAX,
) -> IngestSummary:
    """Ingest every usable file of `corpus` into a fresh index at `index_dir`.

    With `incremental`, text whose vectors the current index at `index_dir` already
    holds (same model, same vector space, same text) is not embedded again, so
    editing one article re-embeds only that article's changed passages and sentences.
    """
    began = time.perf_counter()
    # An earlier build killed mid-swap: its index is put in place (and its vectors reused
    # below), its other leftovers removed, before anything else is written.
    recovered = recover_index(index_dir)
    files, skipped = load_corpus(corpus, root)
    summary = IngestSummary(skipped=list(skipped), recovered=recovered)
    parsed: list[_Parsed] = []
    for file in files:
        try:
            result, blocks = parse_file(file, len(parsed), embedder)
        except Exception as exc:  # one odd file must not sink the whole ingest
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
            summary.skipped.append(Skipped(file.source, f"could not be parsed ({reason})"))
            continue
        summary.dropped.update(b.reason for b in blocks if not b.keep and b.reason)
        if file.meta.get("url") and web_address(file.meta.get("url")) is None:
            summary.notes.append(
                f"no link for {file.source}: its url in articles.json is not an http(s) address"
            )
        if result is None:
            summary.skipped.append(Skipped(file.source, "no article text left after cleaning"))
        else:
            parsed.append(result)
    if not parsed:
        raise CorpusError(f"no usable articles in {corpus} (.txt, .md or .html); index unchanged.")

    documents, chunks, sentences, chunk_inputs = _records(parsed)
    cache = (
        VectorCache.from_index(
            index_dir, embedder.model_id, embedder.dimension, vector_space(embedder)
        )
        if incremental
        else None
    )
    inputs = chunk_inputs + [s.text for s in sentences]
    vectors, digests, summary.embedded = _vectors(embedder, inputs, cache, progress)
    summary.reused = len(inputs) - summary.embedded
    chunk_vectors, sentence_vectors = vectors[: len(chunks)], vectors[len(chunks) :]
    meta = {
        "model": {
            "id": embedder.model_id,
            "dimension": embedder.dimension,
            "package": MODEL_PACKAGE,
            "vectors": vector_space(embedder),
            "backend": getattr(embedder, "backend", type(embedder).__name__),
        },
        "chunker": {
            "target_tokens": TARGET_TOKENS,
            "window_tokens": embedder.window,
            "tokenizer": DEFAULT_ENCODING,
        },
        "sources": {d.source: d.sha256 for d in documents},
        "counts": {"documents": len(documents), "chunks": len(chunks), "sentences": len(sentences)},
    }
    texts = [item.text for item in parsed]
    written = write_index(
        index_dir,
        meta,
        documents,
        chunks,
        sentences,
        chunk_vectors,
        sentence_vectors,
        texts,
        hashes=digests,
        exact_max=exact_max,
    )
    summary.search = written["ann"]
    summary.files, summary.chunks, summary.sentences = len(documents), len(chunks), len(sentences)
    summary.seconds = time.perf_counter() - began
    return summary


def _vectors(
    embedder: Embedder, texts: list[str], cache: VectorCache | None, progress: bool
) -> tuple[np.ndarray, np.ndarray, int]:
    """Vectors for texts, embedding each distinct new text once; also their digests.

    Returns the vectors, the digests and how many texts were embedded.
    """
    keys = [text_digest(t) for t in texts]
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    pending: dict[bytes, list[int]] = {}
    for row, key in enumerate(keys):
        known = cache.get(key) if cache is not None else None
        if known is not None:
            vectors[row] = known
        else:
            pending.setdefault(key, []).append(row)
    firsts = [rows[0] for rows in pending.values()]
    fresh = _embed_with_progress(embedder, [texts[i] for i in firsts], progress)
    for rows, vector in zip(pending.values(), fresh, strict=True):
        vectors[rows] = vector
    digests = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), DIGEST_BYTES)
    return vectors, digests, len(firsts)


def _embed_with_progress(embedder: Embedder, texts: list[str], progress: bool) -> np.ndarray:
    """Embed in batches under one progress bar (on stderr)."""
    batches = [texts[i : i + EMBED_BATCH] for i in range(0, len(texts), EMBED_BATCH)]
    with tqdm(total=len(texts), desc="embedding", unit="text", disable=not progress) as bar:
        parts = []
        for batch in batches:
            parts.append(embedder.encode(batch))
            bar.update(len(batch))
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), np.float32)


def _records(
    parsed: list[_Parsed],
) -> tuple[list[Document], list[Chunk], list[SentenceRecord], list[str]]:
    documents: list[Document] = []
    chunks: list[Chunk] = []
    sentences: list[SentenceRecord] = []
    inputs: list[str] = []
    for item in parsed:
        documents.append(item.document)
        for piece in item.pieces:
            chunk = Chunk(
                chunk_id=len(chunks),
                doc_id=item.document.doc_id,
                heading=piece.heading,
                start=piece.start,
                end=piece.end,
                text=piece.text(item.text),
            )
            chunks.append(chunk)
            inputs.append(embed_text(item.document.title, piece.heading, chunk.text))
            for span in piece.spans:
                for s, e in sentence_spans(item.text, *span):
                    sentences.append(SentenceRecord(chunk.chunk_id, s, e, item.text[s:e]))
    return documents, chunks, sentences, inputs
