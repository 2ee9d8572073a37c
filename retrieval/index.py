"""The on-disk index: a directory that describes itself, written atomically.

index/
  meta.json        format version, model id and dimension, chunker settings, source hashes
  records.json     documents, chunks (heading, offsets, passage) and sentences (offsets, text)
  texts.json       each document's full text, so quotes are sliced, never reconstructed
  chunks.faiss     one L2-normalised vector per chunk (inner product = cosine)
  sentences.npy    one L2-normalised vector per sentence, for quote selection
  bm25/            the lexical index over chunk stems (bm25s)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from retrieval.errors import (
    REBUILD_HINT,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
)
from retrieval.records import Chunk, Document, as_dict
from retrieval.text import stems

FORMAT_VERSION = 1


@dataclass(frozen=True)
class SentenceRecord:
    """A quotable sentence: document text[start:end] == text."""

    chunk_id: int
    start: int
    end: int
    text: str


@dataclass
class Index:
    """Everything search needs, in memory."""

    meta: dict[str, Any]
    documents: list[Document]
    chunks: list[Chunk]
    sentences: list[SentenceRecord]
    chunk_vectors: faiss.Index
    sentence_vectors: np.ndarray
    bm25: bm25s.BM25
    chunk_sentences: list[list[int]]  # sentence ids per chunk, in order
    texts: list[str]  # document text by doc_id, exactly as decoded from the file

    def document(self, chunk: Chunk) -> Document:
        return self.documents[chunk.doc_id]

    def quote(self, doc_id: int, start: int, end: int) -> str:
        """The verbatim text of a document span."""
        return self.texts[doc_id][start:end]


def _hint(directory: Path) -> str:
    return f"{REBUILD_HINT} --index {directory}"


def build_bm25(chunks: list[Chunk], documents: list[Document]) -> bm25s.BM25:
    """BM25 over each chunk's stems, heading and title included."""
    retriever = bm25s.BM25()
    corpus = [stems(f"{documents[c.doc_id].title} {c.heading} {c.text}") or [""] for c in chunks]
    retriever.index(corpus, show_progress=False)
    return retriever


def write_index(
    directory: Path,
    meta: dict[str, Any],
    documents: list[Document],
    chunks: list[Chunk],
    sentences: list[SentenceRecord],
    chunk_vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    texts: list[str],
) -> None:
    """Write a complete index next to `directory`, then swap it in with renames.

    Readers see either the old index or the new one, never a half-written one;
    if anything fails, the previous index is left untouched.
    """
    directory = directory.resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-new-", dir=directory.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; an index is meant to be shared read-only
    try:
        flat = faiss.IndexFlatIP(chunk_vectors.shape[1])
        flat.add(np.ascontiguousarray(chunk_vectors, dtype=np.float32))
        faiss.write_index(flat, str(staging / "chunks.faiss"))
        np.save(staging / "sentences.npy", np.ascontiguousarray(sentence_vectors, dtype=np.float32))
        build_bm25(chunks, documents).save(str(staging / "bm25"), show_progress=False)
        records = {
            "documents": [as_dict(d) for d in documents],
            "chunks": [as_dict(c) for c in chunks],
            "sentences": [[s.chunk_id, s.start, s.end, s.text] for s in sentences],
        }
        (staging / "records.json").write_text(json.dumps(records, ensure_ascii=False), "utf-8")
        (staging / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), "utf-8")
        full_meta = {
            **meta,
            "format_version": FORMAT_VERSION,
            "created": time.time(),
            "files": file_checksums(staging),  # bit rot or a partial copy is caught at load
        }
        # meta.json last: an index directory without it is never considered complete.
        (staging / "meta.json").write_text(json.dumps(full_meta, indent=2), "utf-8")
        _swap_in(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_in(staging: Path, directory: Path) -> None:
    old = directory.with_name(f".{directory.name}-old-{os.getpid()}")
    if directory.exists():
        os.replace(directory, old)
    try:
        os.replace(staging, directory)
    except BaseException:
        if old.exists() and not directory.exists():
            os.replace(old, directory)  # the previous index goes back where readers look
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_meta(directory: Path) -> dict[str, Any]:
    """meta.json of an index, or a one-line error that says how to build one."""
    path = directory / "meta.json"
    if not path.exists():
        raise IndexMissingError(f"no index at {directory}; {_hint(directory)}")
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(
            f"index at {directory} is unreadable ({exc}); {_hint(directory)}"
        ) from exc
    if not isinstance(meta, dict):
        raise IndexCorruptError(
            f"index at {directory} has a malformed meta.json; {_hint(directory)}"
        )
    return meta


def file_checksums(directory: Path) -> dict[str, str]:
    """sha256 of every index file but meta.json, by path relative to the directory."""
    out = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != "meta.json"):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        out[path.relative_to(directory).as_posix()] = digest.hexdigest()
    return out


def verify_files(directory: Path, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """meta.json, after checking every file it lists against its checksum; one-line errors."""
    meta = read_meta(directory) if meta is None else meta
    expected = meta.get("files")
    if expected is None:  # written before checksums were recorded
        return meta
    try:
        actual = file_checksums(directory)
    except OSError as exc:
        raise IndexCorruptError(
            f"index at {directory} is unreadable ({exc.strerror or exc}); {_hint(directory)}"
        ) from exc
    if not isinstance(expected, dict):
        raise IndexCorruptError(
            f"index at {directory} has a malformed meta.json; {_hint(directory)}"
        )
    for name in sorted(expected):
        if name not in actual:
            raise IndexCorruptError(f"index at {directory} is missing {name}; {_hint(directory)}")
        if actual[name] != expected[name]:
            raise IndexCorruptError(
                f"index at {directory} is damaged ({name} does not match its checksum); "
                f"{_hint(directory)}"
            )
    return meta


def check_compatible(meta: dict[str, Any], directory: Path, model_id: str, dimension: int) -> None:
    """Refuse an index built with another format or model."""
    if meta.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {directory} has format {meta.get('format_version')!r}, this version reads "
            f"format {FORMAT_VERSION}; {_hint(directory)}"
        )
    model = meta.get("model")
    model = model if isinstance(model, dict) else {}
    if model.get("id") != model_id or model.get("dimension") != dimension:
        raise IndexMismatchError(
            f"index at {directory} was built with {model.get('id')} ({model.get('dimension')} "
            f"dimensions), but the running model is {model_id} ({dimension}); {_hint(directory)}"
        )


def load_index(directory: Path, model_id: str, dimension: int) -> Index:
    """Load and validate an index; every failure is a one-line HingeCoachError."""
    directory = Path(directory)
    meta = read_meta(directory)
    check_compatible(meta, directory, model_id, dimension)
    verify_files(directory, meta)
    try:
        records = json.loads((directory / "records.json").read_text("utf-8"))
        documents = [Document(**d) for d in records["documents"]]
        chunks = [Chunk(**c) for c in records["chunks"]]
        sentences = [
            SentenceRecord(int(a), int(b), int(c), str(t)) for a, b, c, t in records["sentences"]
        ]
        chunk_vectors = faiss.read_index(str(directory / "chunks.faiss"))
        sentence_vectors = np.load(directory / "sentences.npy", allow_pickle=False)
        bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
        texts = [str(t) for t in json.loads((directory / "texts.json").read_text("utf-8"))]
    except Exception as exc:  # any unreadable part means the same thing to a user
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise IndexCorruptError(
            f"index at {directory} is damaged ({reason}); {_hint(directory)}"
        ) from exc
    if (
        chunk_vectors.ntotal != len(chunks)
        or chunk_vectors.d != dimension
        or sentence_vectors.shape != (len(sentences), dimension)
        or any(c.doc_id >= len(documents) for c in chunks)
        or any(s.chunk_id >= len(chunks) for s in sentences)
        or len(texts) != len(documents)
    ):
        raise IndexCorruptError(f"index at {directory} is inconsistent; {_hint(directory)}")
    by_chunk: list[list[int]] = [[] for _ in chunks]
    for i, sentence in enumerate(sentences):
        by_chunk[sentence.chunk_id].append(i)
    return Index(
        meta, documents, chunks, sentences, chunk_vectors, sentence_vectors, bm25, by_chunk, texts
    )
