"""Does a sentence recommend some words of it, warn against them, or only mention them?

Rules over the sentence's own wording (and the next sentence, which often says
what a fault leads to):

- discouraged: the words sit in the reach of "rather than", "instead of", "not",
  "no", "avoid"...; or after "too much"; or in a fault ("we may find we...",
  "if you find yourself..."); or before what they lead to ("... can turn this
  into", "This tends to lead to ..."). In a sentence that describes a fault,
  "instead of X" names the right way, so X is endorsed there.
- endorsed: an instruction: the clause opens with a verb ("Keep", "Pin") or a
  body part and its state ("Knees remain soft"), or the sentence says
  "should", "we want", "our goal is", "ideally", "=", "you'll"...
- neutral: anything else (descriptions, comparisons, anatomy).
"""

from __future__ import annotations

import re
from typing import Literal

from retrieval.cues.wording import (
    SUBORDINATE,
    WARNING_OPENERS,
    Token,
    clause_spans,
    opens_instruction,
    strip_leads,
    token_topics,
    tokenize,
)

Stance = Literal["endorsed", "discouraged", "neutral"]
STANCES: tuple[Stance, ...] = ("endorsed", "discouraged", "neutral")

# A reach ends at clause punctuation, a bracket, a dash or "but".
_SCOPE_END = re.compile(r"[,;:()\[\]!?]|\s[–—-]\s|\.(?:\s|$)|\bbut\b", re.IGNORECASE)
_NOUN_PHRASE_END = re.compile(_SCOPE_END.pattern + r"|\b(?:and|or)\b", re.IGNORECASE)
_CONTRAST = re.compile(
    r"\b(?:rather than|instead of|not(?! only)|never|no|avoid(?:ing)?|without|stop(?:ping)?|"
    r"\w+n['’]t)\b",
    re.IGNORECASE,
)
_EXCESS = re.compile(r"\btoo (?:much|far|many)\b|\bover-?(?:arch|extend)\w*", re.IGNORECASE)
_FAULT = re.compile(
    r"\b(?:(?:we|you) (?:may|might) (?:find|see|notice)|if you find yourself|"
    r"(?:may|might) see this as|if you struggle with|common (?:mistake|fault|error)|"
    r"compensat\w*)\b",
    re.IGNORECASE,
)
_CONSEQUENCE = re.compile(
    r"\b(?:(?:can|could|will|might|may|tends? to) (?:turn|lead|result|cause)\w*|leads? to|"
    r"turns? (?:this |it )?into|result(?:s|ed)? in|causes?)\b",
    re.IGNORECASE,
)
_NEXT_CONSEQUENCE = re.compile(
    r"^\W*(?:this|that|which|it|doing so)\b(?:\s+\w+){0,2}?\s+"
    r"(?:(?:can|could|might|may|tends? to)\s+)?(?:lead|leads|cause|causes|result|results)\b",
    re.IGNORECASE,
)
_INSTRUCTS = re.compile(
    r"\b(?:should|must|need to|(?:we|you|i) want|goal is|ideally|make sure|the key|aim to|"
    r"you['’]ll|you will|(?:we|you)['’]re looking for|looking for|focus on|think about|"
    r"think of|try to|remember to|hinge (?:will|should) (?:involve|be)|"
    r"(?:accomplished|achieved) (?:with|by)|(?:can be|is|are) (?:\w+ )?(?:helpful|useful|key|"
    r"important|essential|a great strategy))\b|=",
    re.IGNORECASE,
)


def _reaches(pattern: re.Pattern[str], text: str, ignore: frozenset[str]) -> list[tuple[int, int]]:
    """(start, end) of each marker's reach: from after the marker to the end of its clause."""
    spans = []
    for m in pattern.finditer(text):
        if m.group().lower() in ignore:
            continue
        # "no" denies one noun phrase ("little to no knee flexion and the spine ...")
        ends = _NOUN_PHRASE_END if m.group().lower() == "no" else _SCOPE_END
        stop = ends.search(text, m.end())
        spans.append((m.end(), stop.start() if stop else len(text)))
    return spans


def _inside(tokens: list[Token], spans: list[tuple[int, int]]) -> bool:
    return any(a <= t.start < b for t in tokens for a, b in spans)


def _clause_start(text: str, at: int) -> int:
    """Where the clause holding offset `at` begins."""
    starts = [m.end() for m in _SCOPE_END.finditer(text, 0, at)]
    starts += [m.end() for m in re.finditer(r",?\s+and\s+", text[:at])]
    return max(starts, default=0)


def _opens_instruction(text: str, at: int) -> bool:
    """The clause holding offset `at` is an instruction; words in brackets take the
    clause around them ("(ribs flared, booty out)" describes, it does not instruct)."""
    bracket = text.rfind("(", 0, at)
    if bracket >= 0 and text.rfind(")", 0, at) < bracket:
        return bracket > 0 and _opens_instruction(text, bracket - 1)
    start = max((a for a, _ in clause_spans(text) if a <= at), default=0)
    return opens_instruction(strip_leads(tokenize(text[start:])))


def detect_stance(
    sentence: str,
    start: int = 0,
    end: int | None = None,
    after: str = "",
    ignore: frozenset[str] = frozenset(),
) -> Stance:
    """The stance `sentence` takes toward its words at [start:end].

    Args:
        sentence: one sentence of an article.
        start, end: the words in question (default: the whole sentence).
        after: the next sentence of the same paragraph, if any.
        ignore: negation words that belong to the cue itself ("little to no").
    """
    end = len(sentence) if end is None else end
    words = [t for t in tokenize(sentence) if start <= t.start < end]
    return words_stance(sentence, words, after, ignore)


def words_stance(
    sentence: str, words: list[Token], after: str = "", ignore: frozenset[str] = frozenset()
) -> Stance:
    """The stance `sentence` takes toward some of its words (tokens of the sentence)."""
    if not words:
        return "neutral"
    contrast = _inside(words, _reaches(_CONTRAST, sentence, ignore))
    if _inside(words, _reaches(_FAULT, sentence, ignore)):
        return "endorsed" if contrast else "discouraged"
    if _NEXT_CONSEQUENCE.match(after):
        return "endorsed" if contrast else "discouraged"
    if _inside(words, _reaches(_EXCESS, sentence, ignore)) or _leads_to_harm(sentence, words):
        return "discouraged"
    if contrast:
        return "discouraged"
    if _opens_instruction(sentence, words[0].start):
        return "endorsed"
    instructs = [m for m in _INSTRUCTS.finditer(sentence) if m.start() <= words[-1].start]
    return "endorsed" if instructs else "neutral"


def clause_stance(sentence: str, start: int, end: int, after: str = "") -> Stance:
    """The stance of a whole clause (sentence[start:end]): read from its main words."""
    lead = SUBORDINATE.match(sentence, start, end)
    if lead and lead.end() < end:
        start = lead.end()
    words = [
        t for t in tokenize(sentence[start:end]) if not t.filler and t.word not in WARNING_OPENERS
    ]
    if not words:
        return "neutral"
    if _FAULT.search(sentence, start, end):
        return "discouraged"  # "Sometimes we may see this as rounding through the low back"
    first = start + words[0].start
    stance = detect_stance(sentence, first, first + len(words[0].word), after)
    if stance == "neutral" and _INSTRUCTS.search(sentence, start, end):
        return "endorsed"  # "your legs should not be...", "The hip hinge will involve..."
    return stance


def heading_stance(heading: str) -> Stance:
    """Section headings of tips name what to do, unless they ask or warn."""
    if heading.rstrip().endswith("?"):
        return "neutral"
    if _CONTRAST.search(heading) or _EXCESS.search(heading):
        return "discouraged"
    tokens = tokenize(heading)
    if opens_instruction(tokens) or token_topics(tokens):
        return "endorsed"
    return "neutral"


def warns(text: str, after: str = "") -> bool:
    """The text carries a warning word ("rather than", "not", "too much", a fault), or the
    next sentence says what harm it leads to ("This tends to lead to ...")."""
    return any(p.search(text) for p in (_CONTRAST, _EXCESS, _FAULT)) or bool(
        _NEXT_CONSEQUENCE.match(after)
    )


def warned_spans(sentence: str, ignore: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """Stretches of a sentence that a "not", "rather than", "too much"... puts in doubt."""
    return _reaches(_CONTRAST, sentence, ignore) + _reaches(_EXCESS, sentence, ignore)


def _leads_to_harm(sentence: str, words: list[Token]) -> bool:
    """The words are a cause or a result of "can turn this into" / "leads to" in their clause
    ("Too much knee flexion can turn this into a quad dominant movement")."""
    for m in _CONSEQUENCE.finditer(sentence):
        clause = _clause_start(sentence, m.start())
        if any(clause <= t.start < m.start() for t in words):
            return True
    return _inside(words, _reaches(_CONSEQUENCE, sentence, frozenset()))
