"""An OpenAI-compatible chat endpoint: the prompt it gets and the text it streams back.

Works with any server that speaks the chat-completions protocol (OpenAI, Ollama,
llama.cpp's server, vLLM). The prompt numbers the retrieved passages and is fitted
to the model's context window with the model's tiktoken encoding.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from retrieval.errors import LLMError
from retrieval.tokens import encoding_for_model

MESSAGE_OVERHEAD = 4  # tokens the chat format adds around each message
REPLY_PRIMING = 3  # tokens that open the assistant's reply

INSTRUCTIONS = (
    "You are Hinge Coach, a friendly strength coach who answers questions about the hip hinge. "
    "Answer ONLY from the numbered passages in the user's message: do not add facts, numbers, "
    "names or advice that the passages do not state. Write two to five short sentences in a "
    "conversational voice, in plain text without lists or headings. End every sentence with "
    "the number of the passage that supports it in square brackets, like [1] or [2][3], and "
    "use only the numbers of the passages given."
)


@dataclass(frozen=True)
class LLMConfig:
    """Where the chat model is and how much it may take and give."""

    base_url: str
    model: str
    api_key: str | None = None
    context_tokens: int = 4096  # the model's context window
    answer_tokens: int = 400  # kept free for the reply
    max_passages: int = 5
    timeout: float = 20.0  # seconds of silence (connect or between chunks) before giving up
    deadline: float = 90.0  # seconds for a whole reply
    temperature: float = 0.1


@dataclass(frozen=True)
class Passage:
    """A retrieved passage as the model sees it: numbered from 1."""

    n: int
    chunk_id: int
    title: str
    heading: str
    text: str

    def render(self) -> str:
        label = self.title if self.heading in ("", self.title) else f"{self.title} — {self.heading}"
        return f"[{self.n}] ({label})\n{self.text}"


@dataclass(frozen=True)
class Prompt:
    """The messages sent, with what made it into the budget."""

    messages: list[dict[str, str]]
    passages: list[Passage]
    history: list[str]  # earlier questions kept, oldest first
    tokens: int


def _count(encoding: Any, text: str) -> int:
    return len(encoding.encode(text, disallowed_special=())) + MESSAGE_OVERHEAD


def build_prompt(
    question: str, passages: Sequence[Passage], history: Sequence[str], config: LLMConfig
) -> Prompt:
    """Instructions, earlier questions and numbered passages, fitted to the context window.

    The question always goes in; earlier questions (newest first) get at most a
    quarter of what is left; passages (best first) fill the rest. Only the
    user's earlier questions are sent, never earlier model replies, so an
    unsupported sentence cannot feed the next answer.
    """
    encoding = encoding_for_model(config.model)
    budget = config.context_tokens - config.answer_tokens - REPLY_PRIMING
    used = _count(encoding, INSTRUCTIONS) + _count(encoding, f"Question: {question}")
    kept_history: list[str] = []
    history_budget = max(0, budget - used) // 4
    for earlier in reversed(list(history)):
        cost = len(encoding.encode(f"- {earlier}\n", disallowed_special=()))
        if cost > history_budget:
            break
        history_budget -= cost
        used += cost
        kept_history.insert(0, earlier)
    kept: list[Passage] = []
    for passage in passages[: config.max_passages]:
        numbered = replace(passage, n=len(kept) + 1)
        cost = len(encoding.encode(numbered.render() + "\n\n", disallowed_special=()))
        if used + cost > budget:
            break
        kept.append(numbered)
        used += cost
    if not kept:
        raise LLMError(
            f"the language model's context ({config.context_tokens} tokens) is too small "
            "for even one passage."
        )
    parts = []
    if kept_history:
        earlier = "\n".join(f"- {h}" for h in kept_history)
        parts.append(f"Earlier questions in this conversation:\n{earlier}")
    parts.append("Passages:\n\n" + "\n\n".join(p.render() for p in kept))
    parts.append(f"Question: {question}")
    messages = [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": "\n\n".join(parts)},
    ]
    tokens = sum(_count(encoding, m["content"]) for m in messages) + REPLY_PRIMING
    return Prompt(messages, kept, kept_history, tokens)


class ChatModel:
    """A client for one OpenAI-compatible endpoint (created once, shared by requests)."""

    def __init__(self, config: LLMConfig) -> None:
        from openai import OpenAI

        self.config = config
        # Local servers ignore the key, but the client insists on one.
        self._client = OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "not-needed",
            timeout=config.timeout,
            max_retries=0,
        )

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """The reply's text as it arrives; every failure is an LLMError with a short reason."""
        import openai

        started = time.monotonic()
        received = False
        try:
            stream: Any = self._client.chat.completions.create(
                model=self.config.model,
                messages=cast(Any, messages),
                stream=True,
                max_tokens=self.config.answer_tokens,
                temperature=self.config.temperature,
            )
            with stream:
                for chunk in stream:
                    if time.monotonic() - started > self.config.deadline:
                        raise LLMError(f"the language model took over {self.config.deadline:g}s.")
                    for choice in getattr(chunk, "choices", None) or []:
                        delta = getattr(choice, "delta", None)
                        text = getattr(delta, "content", None)
                        if isinstance(text, str) and text:
                            received = True
                            yield text
        except openai.APITimeoutError as exc:
            if received:  # it began, then went silent: its half answer is not shown
                raise LLMError(
                    f"the language model stopped mid-answer (silent for {self.config.timeout:g}s)."
                ) from exc
            raise LLMError(
                f"the language model did not answer within {self.config.timeout:g}s."
            ) from exc
        except openai.APIStatusError as exc:
            raise LLMError(f"the language model endpoint answered HTTP {exc.status_code}.") from exc
        except openai.APIConnectionError as exc:
            raise LLMError("the language model endpoint could not be reached.") from exc
        except (openai.OpenAIError, json.JSONDecodeError, ValueError, TypeError) as exc:
            # The visitor reads this; the exception's class is for the log.
            raise LLMError("the language model sent a malformed reply.") from exc

    def close(self) -> None:
        self._client.close()
