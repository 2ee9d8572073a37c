"""One object the edges hold: the loaded index and model, answering questions."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.answer import AnswerSettings, Retrieval, decide, prepare, retrieve
from retrieval.cues.catalogue import Catalogue, build_catalogue
from retrieval.cues.check import CueCheck, CueSettings, check_cue
from retrieval.cues.units import CueBook, build_cuebook
from retrieval.embedder import Embedder, vector_space
from retrieval.index import Index, load_index
from retrieval.records import Answer, Citation
from retrieval.text import valid_text

if TYPE_CHECKING:
    from retrieval.written.compose import Draft, WrittenSettings
    from retrieval.written.llm import ChatModel


class Assistant:
    """Answers questions from an index directory; reload() picks up a rebuilt index."""

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        settings: AnswerSettings | None = None,
        llm: ChatModel | None = None,
        written: WrittenSettings | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.settings = settings or AnswerSettings()
        self.llm = llm  # None: extractive answers only
        self.written = written
        self._lock = threading.Lock()
        self._index: Index = load_index(
            self.index_dir, embedder.model_id, embedder.dimension, vector_space(embedder)
        )
        prepare(self._index, embedder, self.settings)
        self._slots: threading.BoundedSemaphore | None = None
        self.cue_settings = CueSettings()
        self._cue_lock = threading.Lock()
        self._cues: tuple[CueBook, Catalogue] | None = None

    def limit_concurrency(self, answers: int) -> None:
        """Run at most this many answers at once; callers beyond that wait their turn.

        A server shares one Assistant between its chat page and its HTTP API: one limit here
        keeps the total number of busy embedding threads at the number of cores.
        """
        self._slots = threading.BoundedSemaphore(max(1, answers))

    @property
    def index(self) -> Index:
        return self._index

    def reload(self) -> None:
        """Swap in the index now on disk; on failure the current one stays in use."""
        fresh = load_index(
            self.index_dir,
            self.embedder.model_id,
            self.embedder.dimension,
            vector_space(self.embedder),
        )
        prepare(fresh, self.embedder, self.settings)
        with self._lock:
            self._index = fresh

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        k: int | None = None,
        cited: Sequence[Citation] = (),
    ) -> Answer:
        """Answer one question (history: earlier user questions, oldest first; cited: what
        the answer before this one quoted, so a follow-up moves on from it)."""
        question, history = _valid(question, history)
        if self.llm is None:
            return self._extractive(question, history, k, cited)[0]
        *_, final = self.ask_stream(question, history, k, cited)
        assert isinstance(final, Answer)
        return final

    def ask_stream(
        self,
        question: str,
        history: list[str] | None = None,
        k: int | None = None,
        cited: Sequence[Citation] = (),
    ) -> Iterator[Draft | Answer]:
        """Drafts of a model-written answer while it is written, then the answer (always last).

        Without a language model this yields the extractive answer alone.
        """
        question, history = _valid(question, history)
        index = self._index
        extractive, found = self._extractive(question, history, k, cited, index)
        if self.llm is None or extractive.abstained:
            yield extractive
            return
        from retrieval.written.compose import write_answer

        yield from write_answer(
            question,
            history or [],
            index,
            self.embedder,
            extractive,
            found.hits,
            self.llm,
            self.written,
        )

    def _extractive(
        self,
        question: str,
        history: list[str] | None,
        k: int | None,
        cited: Sequence[Citation] = (),
        index: Index | None = None,
    ) -> tuple[Answer, Retrieval]:
        """The quoted answer and the one retrieval it came from."""
        settings = self.settings
        if k is not None and k != settings.k:
            settings = AnswerSettings(**{**settings.__dict__, "k": k})
        index = index or self._index
        # The slots cover the CPU-bound part only: a language model's reply is waited for
        # without holding a core's slot.
        with self._slots or nullcontext():
            found = retrieve(question, index, self.embedder, history, settings, cited)
            return decide(found, index, self.embedder, settings, question), found

    def _cue_data(self) -> tuple[CueBook, Catalogue]:
        """Clauses, vectors and catalogue of the current index, built on first use."""
        with self._cue_lock:
            index = self._index
            if self._cues is None or self._cues[0].index is not index:
                book = build_cuebook(index, self.embedder)
                self._cues = (book, build_catalogue(book))
            return self._cues

    def check_cue(self, cue: str) -> CueCheck:
        """Whether the articles use a coaching cue's wording, and their stance."""
        with self._slots or nullcontext():  # embedding is CPU-bound, like answers
            return check_cue(cue, self._cue_data()[0], self.embedder, self.cue_settings)

    def cues(self) -> Catalogue:
        """The coaching cues the articles contain, by topic."""
        with self._slots or nullcontext():
            return self._cue_data()[1]


def _valid(question: str, history: list[str] | None) -> tuple[str, list[str] | None]:
    """Question and history as encodable text: a lone surrogate must not fail the log or JSON."""
    return valid_text(question), None if history is None else [valid_text(h) for h in history]
