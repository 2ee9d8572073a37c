"""Shared fixtures: a tiny deterministic fake embedder, and the real model on the real corpus."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from retrieval.text import stems  # noqa: E402
from retrieval.tokens import count_tokens  # noqa: E402


class FakeEmbedder:
    """Hashes word stems into a small vector space: similar words, similar vectors."""

    model_id = "test/fake-embedder"
    dimension = 64
    window = 256

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for stem in stems(text, keep_stopwords=False) or ["empty"]:
                digest = hashlib.md5(stem.encode()).digest()
                out[row, digest[0] % self.dimension] += 1.0
                out[row, digest[1] % self.dimension] += 0.5
            out[row] /= np.linalg.norm(out[row]) or 1.0
        return out

    def count_tokens(self, text: str) -> int:
        return count_tokens(text) + 2


@pytest.fixture(scope="session")
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    """The embedder the product runs: the bundled model through ONNX Runtime."""
    from retrieval.embedder import load_embedder

    return load_embedder(threads=1)


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory, real_embedder) -> Path:
    from ingest.build import build_index

    directory = tmp_path_factory.mktemp("real") / "index"
    build_index(CORPUS, directory, real_embedder, ROOT, progress=False)
    return directory


@pytest.fixture(scope="session")
def assistant(real_index_dir, real_embedder):
    from retrieval.assistant import Assistant

    return Assistant(real_index_dir, real_embedder)


def source_text(source: str) -> str:
    """A corpus file's text exactly as the offsets index it."""
    return (ROOT / source).read_bytes().decode("utf-8")


def require_server(program: str, package: str) -> None:
    """Skip on a developer machine without a server program; CI installs it (.ci/run), so
    there a missing one fails."""
    import glob
    import shutil

    if shutil.which(program) or glob.glob(f"/usr/lib/postgresql/*/bin/{program}"):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{program} is missing; .ci/run installs it (apt-get install {package})")
    pytest.skip(f"{program} not installed (apt-get install {package})")


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of the session's own, on loopback, in a temporary directory
    (bench/replicas.py: initdb, run as an unprivileged user when root); stopped at the end."""
    import shutil
    import tempfile

    from bench.replicas import Postgres, service_user

    require_server("postgres", "postgresql")
    work = Path(tempfile.mkdtemp(prefix="hingecoach-pg-"))
    work.chmod(0o755)
    server = Postgres(work / "pg", service_user())
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
