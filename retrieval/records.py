"""Typed records shared by ingest and retrieval, and their one JSON shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """A source article: where it is and what it is."""

    doc_id: int
    source: str  # path relative to the repo root when inside it, e.g. corpus/x.txt
    title: str
    sha256: str
    author: str | None = None
    publisher: str | None = None
    date: str | None = None
    url: str | None = None  # the article on the web (http or https), from articles.json


@dataclass(frozen=True)
class Sentence:
    """A quotable span: source text[start:end] of its chunk's document."""

    chunk_id: int
    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: a verbatim span with the heading it sits under."""

    chunk_id: int
    doc_id: int
    heading: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Citation:
    """A verbatim quote with where it comes from."""

    n: int
    title: str
    source: str
    quote: str
    start: int
    end: int
    passage: str
    score: float
    heading: str = ""
    passage_start: int = 0
    chunk_id: int = -1  # the passage in the index it was quoted from (not in the JSON)
    url: str | None = None  # the article on the web, when articles.json gives one

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "n": self.n,
            "title": self.title,
            "source": self.source,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "passage": self.passage,
            "score": round(self.score, 4),
            "section": self.heading,
        }
        if self.url:
            record["url"] = self.url
        return record


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of a model-written answer, checked against the passages it cites."""

    text: str  # without its [n] markers
    citations: tuple[int, ...]  # Citation.n of the quotes that support it
    supported: bool
    reason: str = ""  # why not, when unsupported

    def to_json(self) -> dict[str, Any]:
        record = {"text": self.text, "citations": list(self.citations), "supported": self.supported}
        if not self.supported:
            record["reason"] = self.reason  # the answer's reader sees it struck through; say why
        return record


@dataclass
class Answer:
    """What the assistant replies to one question."""

    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    notice: str | None = None  # e.g. "not medical advice"
    debug: dict[str, Any] = field(default_factory=dict)
    mode: str = (
        "extractive"  # or "llm": written by the language model, checked sentence by sentence
    )
    sentences: list[AnswerSentence] = field(default_factory=list)  # llm mode only
    fallback: str | None = None  # why a configured language model's answer was not used
    # Why a refusal refused, when the answer code knows: GYM_BUSINESS (prices, hours,
    # booking: the site adds where to ask), "nutrition", "medical", ...; None otherwise.
    refusal_topic: str | None = None

    @classmethod
    def reply(cls, question: str, body: str, notice: str | None = None, **fields: Any) -> Answer:
        """An answer whose text is the body, then its notice (if any) as a paragraph of its own:
        the one place a reply's text is put together."""
        text = f"{body}\n\n{notice}" if notice else body
        return cls(question=question, answer=text, notice=notice, **fields)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "mode": self.mode,
        }
        if self.mode == "llm":
            record["sentences"] = [s.to_json() for s in self.sentences]
        if self.fallback:
            record["fallback"] = self.fallback
        if self.refusal_topic:
            record["refusal_topic"] = self.refusal_topic
        return record


# Answer.refusal_topic of a question about the gym as a business (prices, opening hours,
# booking a coach): the refusal ends with the gym's contact, when the site has one.
GYM_BUSINESS = "gym business"


@dataclass(frozen=True)
class Contact:
    """Where a gym sends questions the articles can't answer: text, and a link or a phone."""

    text: str
    url: str | None = None  # http or https
    phone: str | None = None


def as_dict(record: Any) -> dict[str, Any]:
    """A dataclass record as a plain dict (for the index files)."""
    return asdict(record)
