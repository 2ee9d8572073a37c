"""One chat turn as the visitor sees it: the earlier questions it follows, and the reply
as it grows, from the first draft to the answer with its sources."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from retrieval.errors import HingeCoachError
from retrieval.links import with_links
from retrieval.records import Answer, Citation, Contact
from retrieval.render import answer_html, format_markdown, paragraphs, typed_text

if TYPE_CHECKING:
    from retrieval.assistant import Assistant


def user_turns(history: Sequence[Any]) -> list[str]:
    """The user's earlier questions from Gradio's messages history, oldest first."""
    turns = []
    for message in history or []:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        if isinstance(content, str) and content.strip():
            turns.append(content)
    return turns


def typed_messages(messages: list[Any]) -> list[Any]:
    """Gradio's message dicts as they come back from the page: text parts only (files are
    dropped, and messages left empty), the visitor's text as typed (see render.show_as_text)."""
    for message in messages:
        texts = [
            item
            for item in message.get("content") or []
            if isinstance(item, dict) and item.get("type") == "text"
        ]
        message["content"] = texts
        if message.get("role") == "user":
            for item in texts:
                item["text"] = typed_text(str(item.get("text", "")))
    return [message for message in messages if message["content"]]


MAX_HISTORY = 10  # earlier questions an API call may send, as POST /api/ask allows


def linked_answer(
    assistant: Assistant, question: str, history: Any, k: int, cited: Sequence[Citation] = ()
) -> Answer:
    """One answer for an API caller, its citations linked to their articles.

    `history` is checked here because Gradio's API passes whatever a client sent.
    """
    if not isinstance(question, str):
        raise HingeCoachError("the question must be text.")
    history = [] if history is None else history
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise HingeCoachError("history must be a list of earlier questions (text).")
    if len(history) > MAX_HISTORY:
        raise HingeCoachError(f"history holds at most {MAX_HISTORY} earlier questions.")
    return with_links(assistant.ask(question, history, k=k, cited=cited), assistant.index)


def stream_answer(
    assistant: Assistant,
    message: str,
    history: list[Any],
    k: int,
    cited: Sequence[Citation] = (),
) -> Generator[str, None, Answer]:
    """Yield the checked drafts of a model-written answer; return the final answer.

    `cited`: what the chat's answer before this one quoted (a follow-up moves on from it).
    """
    from retrieval.written.compose import Draft

    final: Answer | None = None
    for item in assistant.ask_stream(message, user_turns(history), k=k, cited=cited):
        if isinstance(item, Draft):
            written = answer_html(item.answer)
            yield (
                f"{written}\n<p>…</p>"
                if written
                else "<p><em>Writing an answer from the articles…</em></p>"
            )
        else:
            final = item
    assert final is not None
    return with_links(final, assistant.index)


def reveal(result: Answer, contact: Contact | None = None) -> Iterator[str]:
    """The reply's last updates: a quoted answer a few words at a time (about eight steps),
    then the whole answer with its sources (and, for a refused question about the gym's
    business, the gym's contact); a model-written one, already streamed as drafts, at once."""
    if result.mode != "llm":
        words = result.answer.split(" ")
        step = max(1, len(words) // 8)
        for end in range(step, len(words), step):
            yield paragraphs(" ".join(words[:end]))
    yield format_markdown(result, contact)


class ShownQuotes:
    """What each chat reply quoted, by the id its message carries (metadata "id"), so the
    next turn can move on from it: the page sends the conversation back, not the quotes.
    Kept in memory for the most recent replies (a chat stays on one server)."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._by_id: OrderedDict[str, list[Citation]] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, reply_id: str, citations: list[Citation]) -> None:
        with self._lock:
            self._by_id[reply_id] = citations
            self._by_id.move_to_end(reply_id)
            while len(self._by_id) > self._size:
                self._by_id.popitem(last=False)

    def before(self, history: Any) -> list[Citation]:
        """The quotes of the last reply in the history, when this server showed it."""
        for message in reversed(history if isinstance(history, list) else []):
            if isinstance(message, dict) and message.get("role") == "assistant":
                metadata = message.get("metadata")
                reply_id = metadata.get("id") if isinstance(metadata, dict) else None
                with self._lock:
                    return list(self._by_id.get(reply_id, [])) if isinstance(reply_id, str) else []
        return []
