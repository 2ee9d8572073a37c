"""The HTTP API's request and response bodies (pydantic): what /api/* accepts and returns,
as checked on the way in and shown on the /docs page.

The response bodies document the JSON that Answer.to_json produces; they are not used to
build it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(
        description="The question, at most 1,000 characters.",
        examples=["Why do I feel this in my quads?"],
    )
    history: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Earlier questions of the conversation, oldest first; "
        'follow-ups such as "and my feet?" use them.',
    )
    cited: list[CitedIn] = Field(
        default_factory=list,
        max_length=10,
        description="The citations of the answer before (as it returned them, or just their "
        "source, start and end): this answer quotes something else.",
    )


class CitedIn(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a whole citation from an earlier answer is fine
    source: str = Field(max_length=1000)
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class CitationOut(BaseModel):
    n: int
    title: str
    source: str = Field(description="Article file, relative to the repository root.")
    quote: str = Field(description="Verbatim: the file's text[start:end].")
    start: int
    end: int
    passage: str = Field(description="The passage the quote sits in.")
    score: float


class SentenceOut(BaseModel):
    text: str
    citations: list[int]
    supported: bool = Field(description="The cited passages say this (checked).")
    reason: str | None = Field(None, description="Why the articles don't back it (unsupported).")


class AnswerOut(BaseModel):
    question: str
    answer: str = Field(description="The reply, each claim marked [n], or an abstention.")
    abstained: bool = Field(description="True when the articles don't cover the question.")
    citations: list[CitationOut]
    mode: Literal["extractive", "llm"] = Field(
        description="extractive: quoted sentences; llm: written by the language model."
    )
    sentences: list[SentenceOut] | None = Field(None, description="llm mode only.")
    fallback: str | None = Field(
        None, description="Why a configured language model's answer was not used."
    )


class CueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cue: str = Field(description="A coaching cue.", examples=["soft knees"])


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(max_length=64, description="The X-Answer-Id header of /api/ask.")
    rating: Literal["up", "down"]


class ErrorOut(BaseModel):
    error: str


def validation_message(problems: Sequence[dict[str, Any]], fallback: object) -> str:
    """One line naming the first three problems of a request body, e.g.
    "invalid request: question: Field required."; `fallback` when none are listed."""
    text = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}"
        for e in problems[:3]
    )
    # One line even when a field name the client sent holds a line break.
    return " ".join(f"invalid request: {text or fallback}.".split())
