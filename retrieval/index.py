"""The on-disk index: a directory that describes itself, written atomically.

index/
  meta.json              format version, model (id, dimension, vector space), chunker
                         settings, source hashes, counts, the vector index kind and its recall
  documents.*            one JSON record per article          (strings table)
  texts.*                each article's full text, exactly as decoded from its file
  headings.*, passages.* each chunk's heading and passage text
  sentence_texts.*       each sentence's text
  chunks.npy             per chunk: doc_id, start, end, first sentence, end sentence (int64)
  sentences.npy          per sentence: chunk_id, start, end (int64)
  chunk_vectors.npy      one L2-normalised vector per chunk (exact; inner product = cosine)
  sentence_vectors.npy   one L2-normalised vector per sentence, for quote selection
  hashes.npy             a digest of every embedded text (chunks, then sentences): rebuilds
                         reuse the vectors of unchanged text instead of embedding it again
  chunks.faiss           the search structure over chunk vectors: exact (flat) for small
                         corpora, HNSW beyond EXACT_MAX chunks
  bm25/                  the lexical index over chunk stems (bm25s), memory-mapped

Strings tables are `<name>.bin` (UTF-8, back to back) and `<name>.offsets.npy`. Every
array and table is memory-mapped on load, so a request reads only the records it
touches and the corpus is never turned into Python objects wholesale.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

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
from retrieval.tables import LazyRows, StringTable, write_strings
from retrieval.text import stems

FORMAT_VERSION = 2
VECTORS_DEFAULT = "fp32"  # the vector space of an embedder that does not name one
EXACT_MAX = 8192  # chunks searched exactly; beyond, an HNSW graph (flat scans grow linearly)
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128  # >= the candidate depth search asks for
RECALL_SAMPLE = 200
DIGEST_BYTES = 16
# The files every index holds, which its checksum table must list (bm25/ holds a few more).
REQUIRED_FILES = (
    *(
        f"{name}.{part}"
        for name in ("documents", "texts", "headings", "passages", "sentence_texts")
        for part in ("bin", "offsets.npy")
    ),
    "chunks.npy",
    "sentences.npy",
    "chunk_vectors.npy",
    "sentence_vectors.npy",
    "chunks.faiss",
)


@dataclass(frozen=True)
class SentenceRecord:
    """A quotable sentence: document text[start:end] == text."""

    chunk_id: int
    start: int
    end: int
    text: str


@dataclass(eq=False)  # compared and hashed by identity, so per-index results can be memoised
class Index:
    """Everything search needs; records are read from mapped files on access."""

    meta: dict[str, Any]
    documents: Sequence[Document]
    chunks: Sequence[Chunk]
    sentences: Sequence[SentenceRecord]
    chunk_vectors: faiss.Index
    sentence_vectors: np.ndarray
    bm25: bm25s.BM25
    chunk_sentences: Sequence[list[int]]  # sentence ids per chunk, in order
    texts: Sequence[str]  # document text by doc_id, exactly as decoded from the file

    def document(self, chunk: Chunk) -> Document:
        return self.documents[chunk.doc_id]

    def quote(self, doc_id: int, start: int, end: int) -> str:
        """The verbatim text of a document span."""
        return self.texts[doc_id][start:end]


R = TypeVar("R")


def per_index(function: Callable[[Index], R]) -> Callable[[Index], R]:
    """Memoise a function of the whole index (e.g. a summary of every heading) per index.

    Such a function walks every record; an index never changes once loaded, so it
    runs once per loaded index instead of once per request. Entries go with the index.
    """
    results: weakref.WeakKeyDictionary[Index, R] = weakref.WeakKeyDictionary()

    def memoised(index: Index) -> R:
        if index not in results:
            results[index] = function(index)
        return results[index]

    memoised.__doc__ = function.__doc__
    memoised.__name__ = function.__name__
    return memoised


def _hint(directory: Path) -> str:
    return f"{REBUILD_HINT} --index {directory}"


def text_digest(text: str) -> bytes:
    """The key under which an embedded text's vector is kept for reuse."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST_BYTES).digest()


def build_bm25(chunks: Sequence[Chunk], documents: Sequence[Document]) -> bm25s.BM25:
    """BM25 over each chunk's stems, heading and title included."""
    retriever = bm25s.BM25()
    corpus = [stems(f"{documents[c.doc_id].title} {c.heading} {c.text}") or [""] for c in chunks]
    retriever.index(corpus, show_progress=False)
    return retriever


def build_vector_index(
    vectors: np.ndarray, exact_max: int = EXACT_MAX
) -> tuple[faiss.Index, dict[str, Any]]:
    """Exact search up to `exact_max` vectors, an HNSW graph beyond; with its description."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) <= exact_max:
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        return flat, {"kind": "flat", "exact_max": exact_max}
    graph = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    graph.hnsw.efSearch = HNSW_EF_SEARCH
    graph.add(vectors)
    info = {
        "kind": "hnsw",
        "exact_max": exact_max,
        "m": HNSW_M,
        "ef_construction": HNSW_EF_CONSTRUCTION,
        "ef_search": HNSW_EF_SEARCH,
    }
    return graph, info


def recall_at_k(index: faiss.Index, vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    """Share of the exact top-k that `index` also returns, averaged over the queries."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    k = min(k, len(vectors))
    if k == 0 or len(queries) == 0:
        return 1.0
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, k)
    _, found = index.search(queries, k)
    hits = [len(set(t.tolist()) & set(f.tolist())) for t, f in zip(truth, found, strict=True)]
    return float(np.mean(hits)) / k


def _recall_queries(sentence_vectors: np.ndarray, chunk_vectors: np.ndarray) -> np.ndarray:
    """A fixed sample of sentence vectors: short texts, like questions, off the chunk points."""
    pool = sentence_vectors if len(sentence_vectors) else chunk_vectors
    rng = np.random.default_rng(0)
    picked = rng.choice(len(pool), size=min(RECALL_SAMPLE, len(pool)), replace=False)
    return np.asarray(pool[np.sort(picked)], dtype=np.float32)


def write_index(
    directory: Path,
    meta: dict[str, Any],
    documents: list[Document],
    chunks: list[Chunk],
    sentences: list[SentenceRecord],
    chunk_vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    texts: list[str],
    hashes: np.ndarray | None = None,
    exact_max: int = EXACT_MAX,
) -> dict[str, Any]:
    """Write a complete index next to `directory`, then swap it in with renames; its meta.

    Readers see either the old index or the new one, never a half-written one;
    if anything fails, the previous index is left untouched.
    """
    directory = directory.resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{directory.name}-new-{os.getpid()}-"  # the pid: see recover_index
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=directory.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; an index is meant to be shared read-only
    try:
        ann = _write_vectors(staging, chunk_vectors, sentence_vectors, exact_max)
        if hashes is not None:
            np.save(staging / "hashes.npy", np.asarray(hashes, dtype=np.uint8))
        build_bm25(chunks, documents).save(str(staging / "bm25"), show_progress=False)
        _write_records(staging, documents, chunks, sentences, texts)
        full_meta = {
            **meta,
            "ann": ann,
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
    return full_meta


def _write_vectors(
    staging: Path, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, exact_max: int
) -> dict[str, Any]:
    chunk_vectors = np.ascontiguousarray(chunk_vectors, dtype=np.float32)
    sentence_vectors = np.ascontiguousarray(sentence_vectors, dtype=np.float32)
    np.save(staging / "chunk_vectors.npy", chunk_vectors)
    np.save(staging / "sentence_vectors.npy", sentence_vectors)
    searcher, ann = build_vector_index(chunk_vectors, exact_max)
    if ann["kind"] != "flat":
        queries = _recall_queries(sentence_vectors, chunk_vectors)
        ann["recall_at_10"] = round(recall_at_k(searcher, chunk_vectors, queries), 4)
    faiss.write_index(searcher, str(staging / "chunks.faiss"))
    return ann


def _write_records(
    staging: Path,
    documents: list[Document],
    chunks: list[Chunk],
    sentences: list[SentenceRecord],
    texts: list[str],
) -> None:
    write_strings(staging / "documents", (json.dumps(as_dict(d)) for d in documents))
    write_strings(staging / "texts", texts)
    write_strings(staging / "headings", (c.heading for c in chunks))
    write_strings(staging / "passages", (c.text for c in chunks))
    write_strings(staging / "sentence_texts", (s.text for s in sentences))
    owners = np.array([s.chunk_id for s in sentences], dtype=np.int64)
    if np.any(np.diff(owners) < 0):
        raise ValueError("sentences must be grouped by chunk, in chunk order")
    ids = np.arange(len(chunks))
    first, last = np.searchsorted(owners, ids, "left"), np.searchsorted(owners, ids, "right")
    table = np.array([[c.doc_id, c.start, c.end] for c in chunks], dtype=np.int64).reshape(-1, 3)
    np.save(staging / "chunks.npy", np.column_stack([table, first, last]))
    spans = [[s.chunk_id, s.start, s.end] for s in sentences]
    np.save(staging / "sentences.npy", np.array(spans, dtype=np.int64).reshape(-1, 3))


def _swap_in(staging: Path, directory: Path) -> None:
    """Two renames: `directory` -> `.name-old-PID`, staging -> `directory`. A crash between
    them leaves no index where readers look; recover_index finishes such a swap."""
    old = directory.with_name(f".{directory.name}-old-{os.getpid()}")
    if directory.exists():
        os.replace(directory, old)
    try:
        os.replace(staging, directory)
    except BaseException:
        if old.exists() and not directory.exists():
            os.replace(old, directory)  # the previous index goes back where readers look
        raise
    # A server still reading the old files keeps them: mapped files outlive their unlinking.
    shutil.rmtree(old, ignore_errors=True)


_LEFTOVER = re.compile(r"\.(?P<name>.+)-(?P<kind>new|old)-(?P<pid>\d+)(?:-.*)?")


def _alive(pid: int) -> bool:
    """Whether another process with this id runs (our own id is a previous run's: containers
    reuse ids, and nothing in this process is mid-swap when recovery runs)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process
    return True


def recover_index(directory: Path) -> list[str]:
    """Finish or undo an index swap that a crash interrupted, and remove what interrupted
    builds left next to the index; returns what was done, one line each.

    A build writes `.NAME-new-PID-*` next to the index and swaps it in with two renames
    (see _swap_in). When the process died between them, there is no index at `directory`:
    the new one is put in place if it was complete (its meta.json is written last), else
    the previous one goes back. Leftovers of processes still running are left alone.
    """
    directory = Path(directory).absolute()
    if not directory.parent.is_dir():
        return []
    leftovers: dict[str, list[Path]] = {"new": [], "old": []}
    for path in directory.parent.iterdir():
        match = _LEFTOVER.fullmatch(path.name)
        if match and match["name"] == directory.name and not _alive(int(match["pid"])):
            leftovers[match["kind"]].append(path)
    done = []
    if not directory.exists():
        for kind, what in (
            ("new", "finished an interrupted index swap"),
            ("old", "put back the index an interrupted build had moved"),
        ):
            complete = [p for p in leftovers[kind] if (p / "meta.json").is_file()]
            if complete:
                latest = max(complete, key=lambda p: (p / "meta.json").stat().st_mtime)
                os.replace(latest, directory)
                leftovers[kind].remove(latest)
                done.append(f"{what}: {directory}")
                break
    for path in leftovers["new"] + leftovers["old"]:
        shutil.rmtree(path, ignore_errors=True)
        done.append(f"removed {path.name}, left by an interrupted build")
    return done


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
    # Without its table an index cannot be checked, so it is refused like a damaged one:
    # a zeroed file would otherwise be served, NULs quoted as "verbatim" text.
    if not isinstance(expected, dict) or not expected:
        raise IndexCorruptError(
            f"index at {directory} has no checksum table in its meta.json; {_hint(directory)}"
        )
    unlisted = [name for name in REQUIRED_FILES if name not in expected]
    if unlisted or not any(name.startswith("bm25/") for name in expected):
        raise IndexCorruptError(
            f"index at {directory} has no checksum for {(unlisted or ['bm25/'])[0]}; "
            f"{_hint(directory)}"
        )
    try:
        actual = file_checksums(directory)
    except OSError as exc:
        raise IndexCorruptError(
            f"index at {directory} is unreadable ({exc.strerror or exc}); {_hint(directory)}"
        ) from exc
    for name in sorted(expected):
        if name not in actual:
            raise IndexCorruptError(f"index at {directory} is missing {name}; {_hint(directory)}")
        if actual[name] != expected[name]:
            raise IndexCorruptError(
                f"index at {directory} is damaged ({name} does not match its checksum); "
                f"{_hint(directory)}"
            )
    return meta


def check_compatible(
    meta: dict[str, Any],
    directory: Path,
    model_id: str,
    dimension: int,
    vectors: str = VECTORS_DEFAULT,
) -> None:
    """Refuse an index built with another format, model or vector space."""
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
    if model.get("vectors", VECTORS_DEFAULT) != vectors:
        raise IndexMismatchError(
            f"index at {directory} holds {model.get('vectors')!r} vectors of {model_id}, but the "
            f"running embedder ({model.get('backend', 'unknown backend')} built the index) "
            f"produces {vectors!r} vectors; {_hint(directory)}"
        )


def load_index(
    directory: Path, model_id: str, dimension: int, vectors: str = VECTORS_DEFAULT
) -> Index:
    """Load and validate an index; every failure is a one-line HingeCoachError."""
    directory = Path(directory)
    meta = read_meta(directory)
    check_compatible(meta, directory, model_id, dimension, vectors)
    verify_files(directory, meta)
    try:
        index = _open(directory, meta)
    except Exception as exc:  # any unreadable part means the same thing to a user
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise IndexCorruptError(
            f"index at {directory} is damaged ({reason}); {_hint(directory)}"
        ) from exc
    if not _consistent(index, directory, dimension):
        raise IndexCorruptError(f"index at {directory} is inconsistent; {_hint(directory)}")
    return index


def _mapped(path: Path) -> np.ndarray:
    """A read-only array backed by the file (a plain ndarray view: np.memmap indexing is slow)."""
    return np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)


def _open(directory: Path, meta: dict[str, Any]) -> Index:
    documents = StringTable(directory / "documents")
    texts = StringTable(directory / "texts")
    headings = StringTable(directory / "headings")
    passages = StringTable(directory / "passages")
    sentence_texts = StringTable(directory / "sentence_texts")
    chunk_rows = _mapped(directory / "chunks.npy")
    sentence_rows = _mapped(directory / "sentences.npy")
    sentence_vectors = _mapped(directory / "sentence_vectors.npy")
    searcher = faiss.read_index(str(directory / "chunks.faiss"))
    if isinstance(searcher, faiss.IndexHNSW):
        searcher.hnsw.efSearch = int((meta.get("ann") or {}).get("ef_search", HNSW_EF_SEARCH))
    bm25 = bm25s.BM25.load(str(directory / "bm25"), mmap=True, show_progress=False)
    if chunk_rows.shape[1:] != (5,) or sentence_rows.shape[1:] != (3,):
        raise ValueError("malformed record arrays")

    def chunk(i: int) -> Chunk:
        doc_id, start, end, _, _ = chunk_rows[i].tolist()
        return Chunk(i, doc_id, headings[i], start, end, passages[i])

    def sentence(i: int) -> SentenceRecord:
        chunk_id, start, end = sentence_rows[i].tolist()
        return SentenceRecord(chunk_id, start, end, sentence_texts[i])

    def chunk_sentences(i: int) -> list[int]:
        first, last = chunk_rows[i, 3:5].tolist()
        return list(range(first, last))

    return Index(
        meta=meta,
        documents=LazyRows(len(documents), lambda i: Document(**json.loads(documents[i]))),
        chunks=LazyRows(len(chunk_rows), chunk),
        sentences=LazyRows(len(sentence_rows), sentence),
        chunk_vectors=searcher,
        sentence_vectors=sentence_vectors,
        bm25=bm25,
        chunk_sentences=LazyRows(len(chunk_rows), chunk_sentences),
        texts=texts,
    )


def _consistent(index: Index, directory: Path, dimension: int) -> bool:
    """Cheap whole-array checks that every cross-reference points somewhere."""
    chunk_rows = _mapped(directory / "chunks.npy")
    sentence_rows = _mapped(directory / "sentences.npy")
    n_docs, n_chunks, n_sentences = len(index.documents), len(chunk_rows), len(sentence_rows)
    return (
        index.chunk_vectors.ntotal == n_chunks
        and index.chunk_vectors.d == dimension
        and index.sentence_vectors.shape == (n_sentences, dimension)
        and len(index.texts) == n_docs
        and len(StringTable(directory / "passages")) == n_chunks
        and len(StringTable(directory / "sentence_texts")) == n_sentences
        and (n_chunks == 0 or int(chunk_rows[:, 0].max()) < n_docs)
        and (n_chunks == 0 or int(chunk_rows[:, 4].max()) <= n_sentences)
        and (n_sentences == 0 or int(sentence_rows[:, 0].max()) < n_chunks)
    )


class VectorCache:
    """Vectors of a previous index by text digest, so a rebuild embeds only new text."""

    def __init__(self, digests: np.ndarray, vectors: list[np.ndarray]) -> None:
        self._rows = {bytes(d): i for i, d in enumerate(digests)}
        self._vectors = vectors

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, digest: bytes) -> np.ndarray | None:
        row = self._rows.get(digest)
        if row is None:
            return None
        first = self._vectors[0]
        return first[row] if row < len(first) else self._vectors[1][row - len(first)]

    @classmethod
    def from_index(
        cls, directory: Path, model_id: str, dimension: int, vectors: str = VECTORS_DEFAULT
    ) -> VectorCache | None:
        """The cache of an existing compatible index, or None (no index, another model, damage).

        Files are checked against their checksums first: a damaged index must be re-embedded,
        not have its bad vectors carried into the rebuild.
        """
        try:
            meta = verify_files(Path(directory))
            check_compatible(meta, Path(directory), model_id, dimension, vectors)
            digests = _mapped(Path(directory) / "hashes.npy")
            parts = [
                _mapped(Path(directory) / "chunk_vectors.npy"),
                _mapped(Path(directory) / "sentence_vectors.npy"),
            ]
        except Exception:  # nothing to reuse is not an error: everything gets embedded
            return None
        if (
            digests.shape != (len(parts[0]) + len(parts[1]), DIGEST_BYTES)
            or parts[0].shape[1:] != (dimension,)
            or parts[1].shape[1:] != (dimension,)
        ):
            return None
        return cls(digests, parts)
