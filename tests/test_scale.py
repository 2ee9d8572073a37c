"""Speed and scale: the torch-free query path, incremental ingest, the approximate index,
and many clients at once (short versions of what bench/run.py measures at length)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from bench.http_load import run_load
from bench.synth_corpus import generate, real_material
from ingest.build import build_index
from retrieval.assistant import Assistant
from retrieval.errors import IndexMismatchError
from retrieval.index import load_index
from retrieval.search import search
from retrieval.tables import StringTable, write_strings
from tests.browser import running_server
from tests.conftest import CORPUS, ROOT, FakeEmbedder, source_text

pytestmark = pytest.mark.slow  # a real browser or server: see the README's inner loop


class CountingEmbedder(FakeEmbedder):
    """The fake embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts, progress=False):
        self.texts.extend(texts)
        return super().encode(texts, progress)


def test_onnx_backend_gives_the_reference_vectors(real_embedder):
    from retrieval.embedder import MiniLMEmbedder

    texts = ["why do I feel this in my quads?", source_text("corpus/5-tips-for-your-hip-hinge.txt")]
    reference = MiniLMEmbedder(threads=1)
    assert real_embedder.backend == "onnxruntime"
    assert np.abs(real_embedder.encode(texts) - reference.encode(texts)).max() < 1e-4
    assert real_embedder.encode(texts[:1]).shape == (1, 384)
    assert real_embedder.count_tokens(texts[1]) == reference.count_tokens(texts[1]) > 256


def test_answering_never_imports_torch(real_index_dir):
    script = textwrap.dedent(
        f"""
        import io, json, sys
        sys.path.insert(0, {str(ROOT)!r})
        import app
        out = io.StringIO()
        app.run(["ask", "what is a hip hinge", "--json", "--index", {str(real_index_dir)!r}],
                stdout=out)
        heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers")
                       if m in sys.modules)
        print(json.dumps({{"answer": json.loads(out.getvalue()), "heavy": heavy}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["answer"]["citations"]


def test_synthetic_corpus_is_deterministic_and_made_of_real_sentences(tmp_path):
    first = generate(12, tmp_path / "a")
    second = generate(12, tmp_path / "b")
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir()) and len(names) == 12
    assert all((first / n).read_bytes() == (second / n).read_bytes() for n in names)
    real = " ".join(" ".join(source_text(f"corpus/{p.name}").split()) for p in CORPUS.glob("*.txt"))
    sentences, _ = real_material()
    assert sentences and all(s in real for s in sentences)


def test_editing_one_article_reembeds_only_it(tmp_path):
    corpus, index = generate(30, tmp_path / "corpus"), tmp_path / "index"
    embedder = CountingEmbedder()
    first = build_index(corpus, index, embedder, tmp_path, progress=False)
    assert first.embedded == len(set(embedder.texts)) == len(embedder.texts)

    edited = sorted(corpus.iterdir())[7]
    added = "Keep the bar close to your legs on the way down."
    edited.write_text(edited.read_text("utf-8").rstrip() + " " + added + "\n", "utf-8")
    embedder.texts.clear()
    second = build_index(corpus, index, embedder, tmp_path, progress=False)
    # The edited article's passage (its text changed) and its new sentence, nothing else.
    assert second.embedded == len(embedder.texts) == 2
    assert added in embedder.texts and any(added in t for t in embedder.texts if t != added)

    fresh = tmp_path / "fresh"
    build_index(corpus, fresh, FakeEmbedder(), tmp_path, progress=False, incremental=False)
    for name in ("chunk_vectors.npy", "sentence_vectors.npy", "hashes.npy"):
        assert np.array_equal(np.load(index / name), np.load(fresh / name)), name


def test_vectors_of_another_model_are_not_reused(tmp_path):
    corpus, index = generate(5, tmp_path / "corpus"), tmp_path / "index"
    first = build_index(corpus, index, FakeEmbedder(), tmp_path, progress=False)

    class OtherModel(CountingEmbedder):
        model_id = "test/other-model"

    other = OtherModel()
    summary = build_index(corpus, index, other, tmp_path, progress=False)
    assert summary.embedded == first.embedded == len(other.texts) > 0
    assert json.loads((index / "meta.json").read_text())["model"]["id"] == "test/other-model"
    with pytest.raises(IndexMismatchError):
        load_index(index, FakeEmbedder.model_id, FakeEmbedder.dimension)


def test_an_index_of_another_vector_space_is_refused(tmp_path):
    corpus, index = generate(5, tmp_path / "corpus"), tmp_path / "index"

    class Quantized(FakeEmbedder):
        vectors = "int8"
        backend = "onnxruntime-int8"

    build_index(corpus, index, Quantized(), tmp_path, progress=False)
    meta = json.loads((index / "meta.json").read_text())
    assert meta["model"]["vectors"] == "int8" and meta["model"]["backend"] == "onnxruntime-int8"
    with pytest.raises(IndexMismatchError, match="'int8' vectors"):
        Assistant(index, FakeEmbedder())
    Assistant(index, Quantized())  # the same vector space loads


def test_a_large_index_is_searched_approximately_with_high_recall(tmp_path):
    corpus, index = generate(300, tmp_path / "corpus"), tmp_path / "index"
    embedder = FakeEmbedder()
    build_index(corpus, index, embedder, tmp_path, progress=False, exact_max=100)
    ann = json.loads((index / "meta.json").read_text())["ann"]
    assert ann["kind"] == "hnsw" and ann["recall_at_10"] >= 0.9
    loaded = load_index(index, embedder.model_id, embedder.dimension)
    assert loaded.chunk_vectors.hnsw.efSearch == ann["ef_search"]
    query = "how do I stop my ribs flaring"
    hits = search(loaded, embedder.encode([query])[0], query, k=5)
    assert len(hits) == 5
    flat = tmp_path / "flat"
    build_index(corpus, flat, embedder, tmp_path, progress=False)
    assert json.loads((flat / "meta.json").read_text())["ann"]["kind"] == "flat"


def test_string_tables_round_trip(tmp_path):
    strings = ["", "hip hinge", "Café – “quoted” 💪", "line\nbreak", ""]
    assert write_strings(tmp_path / "t", strings) == len(strings)
    table = StringTable(tmp_path / "t")
    assert list(table) == strings and table[-2] == "line\nbreak" and table[1:3] == strings[1:3]
    with pytest.raises(IndexError):
        table[len(strings)]


@pytest.mark.parametrize("endpoint", ["api", "gradio"])
def test_many_clients_at_once_get_answers_without_errors(real_index_dir, tmp_path, endpoint):
    # Capacity, not the per-address rate limit: all these clients share 127.0.0.1.
    limits = {"HINGECOACH_RATE_LIMIT": "100000/minute", "HINGECOACH_DB": str(tmp_path / "q.db")}
    with running_server("--index", str(real_index_dir), env=limits) as url:
        result = asyncio.run(run_load(url, clients=8, seconds=3, endpoint=endpoint))
    assert result.errors == []
    assert len(result.latencies) >= 8


def test_the_benchmark_runs_and_reports_every_target(tmp_path):
    # The documented command, at its smallest: real corpus only, one round, a short load.
    args = ["--sizes", "real", "--rounds", "1", "--cold-runs", "1", "--http-seconds", "2"]
    args += ["--clients", "4", "--work", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for section in ("== Ingest", "== Warm latency in-process", "== Cold start", "== HTTP"):
        assert section in out
    targets = out.split("== Targets")[1].strip().splitlines()[1:]
    assert len(targets) >= 5 and all(t.startswith(("met", "MISSED")) for t in targets)
    assert "via /api/ask" in out and "errors 0" in out
