"""Follow-up questions without an LLM: detect dependence on the conversation, then resolve."""

from __future__ import annotations

import re

from retrieval.text import stems

_LEADS = re.compile(
    r"^\s*(?:and|but|also|so|then|ok(?:ay)?|what about|how about|what if|same for|"
    r"why(?: is that| so)?\??$)\b",
    re.IGNORECASE,
)
_REFERS = re.compile(r"\b(?:it|that|this|those|these|them|they|there|one|ones)\b", re.IGNORECASE)
SHORT_CONTENT_WORDS = 3


def is_followup(question: str) -> bool:
    """True when the question reads as dependent on what was asked before."""
    content = stems(question)
    if _LEADS.match(question):
        return True
    return len(content) <= SHORT_CONTENT_WORDS and bool(
        _REFERS.search(question) or len(content) <= 1
    )


def resolve(question: str, history: list[str] | None) -> str:
    """The text to search for: the question, joined to the previous one when it depends on it."""
    if not history or not is_followup(question):
        return question
    return f"{history[-1].strip()} {question.strip()}"
