"""One object the edges hold: the loaded index and model, answering questions."""

from __future__ import annotations

import threading
from pathlib import Path

from retrieval.answer import AnswerSettings, answer
from retrieval.embedder import Embedder
from retrieval.index import Index, load_index
from retrieval.records import Answer


class Assistant:
    """Answers questions from an index directory; reload() picks up a rebuilt index."""

    def __init__(
        self, index_dir: Path, embedder: Embedder, settings: AnswerSettings | None = None
    ) -> None:
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.settings = settings or AnswerSettings()
        self._lock = threading.Lock()
        self._index: Index = load_index(self.index_dir, embedder.model_id, embedder.dimension)

    @property
    def index(self) -> Index:
        return self._index

    def reload(self) -> None:
        """Swap in the index now on disk; on failure the current one stays in use."""
        fresh = load_index(self.index_dir, self.embedder.model_id, self.embedder.dimension)
        with self._lock:
            self._index = fresh

    def ask(self, question: str, history: list[str] | None = None, k: int | None = None) -> Answer:
        """Answer one question (history: earlier user questions, oldest first)."""
        settings = self.settings
        if k is not None and k != settings.k:
            settings = AnswerSettings(**{**settings.__dict__, "k": k})
        return answer(question, self._index, self.embedder, history, settings)
