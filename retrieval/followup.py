"""Follow-up questions without an LLM: detect dependence on the conversation, then resolve.

"and my feet?" after "how much should my knees bend" is searched as both questions together,
while the words of the new question keep the most weight when quotes are picked. A question
that stands on its own ("which muscles are in the posterior chain?") is left alone, whatever
was asked before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.text import stems

_LEADS = re.compile(
    r"^\s*(?:and|but|also|so|then|ok(?:ay)?|what about|how about|what if|same for|"
    r"why(?: is that| so)?\??$)\b",
    re.IGNORECASE,
)
_REFERS = re.compile(
    r"\b(?:it|its|that|this|those|these|them|they|there|one|ones|same|instead)\b", re.IGNORECASE
)
# A question that needs no name for what it asks about: "is it bad if...", "where should I feel
# this", "the lift", "bending over to pick stuff up". The subject is the articles' own topic.
_SUBJECT = re.compile(
    r"\b(?:it|this|that|the lift|this lift|the move|this move|the movement|this movement|"
    r"the exercise|this exercise|the thing|this thing|"
    r"(?:bend|lean|reach)(?:ing)? (?:over|down|forward)|"
    r"(?:pick|grab|lift)(?:ing)? (?:\w+ )?(?:up|off))\b",
    re.IGNORECASE,
)
SHORT_CONTENT_WORDS = 3
MAX_DEPTH = 3  # earlier turns followed back through chains of follow-ups


@dataclass(frozen=True)
class Resolved:
    """A question and, when it depends on the conversation, the question it continues."""

    question: str
    context: str = ""  # the earlier question (itself resolved), empty when standalone

    @property
    def followup(self) -> bool:
        return bool(self.context)

    @property
    def text(self) -> str:
        """What to search for: the earlier question, then this one."""
        return f"{self.context} {self.question}" if self.context else self.question


def is_followup(question: str) -> bool:
    """True when the question reads as dependent on what was asked before.

    "and my feet?", "how do I fix that?", "why?" lean on the conversation; "ok, and how much is
    coaching at Lift Chicago?" opens like a follow-up but names its own subject, so it stands
    alone.
    """
    content = stems(question)
    refers = bool(_REFERS.search(question))
    if _LEADS.match(question):
        return refers or len(content) < SHORT_CONTENT_WORDS
    return len(content) <= SHORT_CONTENT_WORDS and (refers or len(content) <= 1)


def resolve(question: str, history: list[str] | None) -> Resolved:
    """The question, with the earlier question it continues when it is a follow-up."""
    history = [h for h in history or [] if h.strip()][-MAX_DEPTH:]
    if not history or not is_followup(question):
        return Resolved(question)
    previous = resolve(history[-1], history[:-1])
    return Resolved(question, previous.text)


def refers_to_subject(question: str) -> bool:
    """The question points at its subject without naming it ("it", "this", "the lift")."""
    return bool(_SUBJECT.search(question))


_ORDINAL = re.compile(
    r"\b(?:(first|1st)|(second|2nd)|(third|3rd)|(fourth|4th)|(fifth|5th)|(last))\b|"
    r"(?:number|no\.?|#|tip|step|cue)\s*([1-9])\b",
    re.IGNORECASE,
)


def ordinal(question: str) -> int | None:
    """The item a follow-up points at ("the second one?" -> 2, "and the last?" -> -1)."""
    if len(question.split()) > 8:  # a longer question asks something of its own
        return None
    match = _ORDINAL.search(question)
    if not match:
        return None
    if match.group(7):
        return int(match.group(7))
    n = next(i for i in range(1, 7) if match.group(i))
    return -1 if n == 6 else n
