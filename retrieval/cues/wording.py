"""Words with offsets, clauses, body-part topics, and "same wording" matching for cues.

Same wording ignores case, punctuation, inflection (Snowball stems), filler words
and small changes of word order ("soft knees" ~ "Knees remain soft"), but keeps
the order across a relational word ("chest to thighs" is not "thighs to chest").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.cues.wordlists import (
    ACTION_TOPIC_WORDS,
    BACK_AS_BODY,
    DIRECTIONS,
    IMPERATIVE_VERBS,
    IRREGULAR,
    LIGHT_VERBS,
    NOT_BODY_AFTER,
    QUALIFIERS,
    RELATIONAL,
    STATE_WORDS,
    topic_phrases,
    topic_words,
)
from retrieval.text import STOPWORDS, stemmer

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_PAUSE = re.compile(r"[,;:()\[\]–—=/]|\s-\s|[.!?]\s")
FILLER = STOPWORDS - DIRECTIONS
WORD_SLACK = 2  # extra words allowed inside a match, beyond the cue's own
SUBJECT_WORDS = frozenset(topic_words()) | {"weight", "body", "bar", "kettlebell"}


@dataclass(frozen=True)
class Token:
    """A word of a text: text[start:end], lower-cased, with the stems it can match."""

    word: str
    stems: frozenset[str]  # its stem, and the stem of "mid-foot" joined up for "mid"
    start: int
    end: int
    key: str = ""  # its own stem (sense-marked: "back#" is the body part)
    pause: bool = False  # a comma, bracket, dash... stands between it and the word before
    aside: bool = False  # that pause only opens a bracket: "the knees (your legs should...)"

    @property
    def filler(self) -> bool:
        return self.word in FILLER


def stem(word: str) -> str:
    """The Snowball stem of a lower-case word, irregular forms folded first."""
    word = IRREGULAR.get(word, word).replace("'", "")
    return str(stemmer().stemWord(word))


def tokenize(text: str) -> list[Token]:
    """Every word of text with its offsets; "mid-foot" also matches "midfoot".

    Words that name a body part in one place and not in another keep the two
    senses apart: "back" in "lower back" is not the "back" of "butt back", and
    "hip" in "hip hinge" is not the hips.
    """
    matches = list(_WORD.finditer(text))
    tokens = []
    for i, m in enumerate(matches):
        word = m.group().lower().replace("’", "'")
        stems = {stem(word)}
        if i + 1 < len(matches) and text[m.end() : matches[i + 1].start()] == "-":
            stems.add(stem(word + matches[i + 1].group().lower()))
        gap = text[matches[i - 1].end() : m.start()] if i else ""
        pause = i > 0 and bool(_PAUSE.search(gap))
        aside = pause and gap.strip() == "("
        tokens.append(Token(word, frozenset(stems), m.start(), m.end(), stem(word), pause, aside))
    body = {i for i, _ in token_topics(tokens)}
    for i, token in enumerate(tokens):
        if token.word in _TWO_SENSES and (i in body) != (token.word == "hip"):
            key = token.word + "#"
            tokens[i] = Token(
                token.word, frozenset({key}), token.start, token.end, key, token.pause, token.aside
            )
    return tokens


# Words whose stems are kept apart by sense: "back" as a body part, "hip" not as one.
_TWO_SENSES = frozenset({"back", "hip"})


def content_tokens(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if not t.filler]


# ---------------------------------------------------------------- topics


def token_topics(tokens: list[Token]) -> list[tuple[int, str]]:
    """(token index, topic) for each body-part mention, in order."""
    words = topic_words()
    phrases = topic_phrases()
    found: list[tuple[int, str]] = []
    for i, token in enumerate(tokens):
        nxt = tokens[i + 1].word if i + 1 < len(tokens) else ""
        prev = tokens[i - 1].word if i else ""
        pair = (token.word, nxt)
        if pair in phrases:
            found.append((i, phrases[pair]))
        elif token.word in words:
            if nxt in NOT_BODY_AFTER.get(token.word, ()):
                continue
            if token.word == "back" and (prev not in BACK_AS_BODY or nxt in ("side", "of")):
                continue
            found.append((i, words[token.word]))
    return found


def topics_of(text: str) -> list[str]:
    """The body-part topics a text mentions, in order of first mention."""
    seen: list[str] = []
    for _, topic in token_topics(tokenize(text)):
        if topic not in seen:
            seen.append(topic)
    return seen


# ---------------------------------------------------------------- clauses

_HARD_BREAK = re.compile(r"\s+[–—]\s+|\s+-{1,2}\s+|;\s*|:\s+|\s*\(|\)\s*|\s*=\s*")
_SOFT_BREAK = re.compile(r",\s+(?:but|then|so)\s+|,?\s+and\s+|,\s+(?=[A-Za-z])", re.IGNORECASE)
_TRIM = " \t\n.,;:–—-\"“”‘’'()"


def opens_instruction(tokens: list[Token]) -> bool:
    """True when words start an instruction: a verb ("Pin your...") or a body part + state
    ("Knees remain soft", "Weight in the mid-foot")."""
    if not tokens:
        return False
    first = tokens[0].word
    if first in IMPERATIVE_VERBS:
        return True
    if first in ("your", "the") and len(tokens) > 1:
        tokens = tokens[1:]
        first = tokens[0].word
    if first not in SUBJECT_WORDS or len(tokens) < 2:
        return False
    second = tokens[1].word
    return second in STATE_WORDS or second.endswith(("ly", "ing"))


def clause_spans(text: str) -> list[tuple[int, int]]:
    """Clauses of a sentence as (start, end) offsets into text, trimmed of punctuation.

    A sentence breaks at dashes, semicolons, colons, brackets and "=", at ", but",
    and where a new instruction begins: after "and" that joins two instructions
    ("Knees remain soft and weight stays in the mid-foot"), or after a comma
    ("..., think about hinging back") unless the commas list verbs ("bend over,
    stand up, sit down").
    """
    pieces, cursor = [], 0
    for m in _HARD_BREAK.finditer(text):
        if m.start() >= cursor:
            pieces.append((cursor, m.start()))
            cursor = m.end()
    pieces.append((cursor, len(text)))
    spans = [span for a, b in pieces for span in _soft_split(text, a, b)]
    return [s for s in (_trim(text, a, b) for a, b in spans) if s[1] > s[0]]


# Words that open a warning; a clause's own stance is read from the words after them.
WARNING_OPENERS = frozenset({"rather", "instead", "avoid", "avoiding", "never", "stop", "stopping"})
# A leading subordinate clause ("If you find yourself ..., think about ...") is not
# what a sentence says; its main clause is.
SUBORDINATE = re.compile(
    r"\s*(?:rather than|instead of|if|when|as|while|although|though|even if|once)\b[^,]*,\s*",
    re.IGNORECASE,
)
_VERB_AFTER_COMMA = re.compile(r",\s+(?:and\s+|or\s+)?([A-Za-z]+)")


def _soft_split(text: str, start: int, end: int) -> list[tuple[int, int]]:
    verbs_listed = sum(
        m.group(1).lower() in IMPERATIVE_VERBS for m in _VERB_AFTER_COMMA.finditer(text, start, end)
    )
    spans, cursor = [], start
    lead = SUBORDINATE.match(text, start, end)
    if lead and lead.end() < end:  # "Instead of X, we Y": X and Y are said differently
        spans.append((start, lead.end()))
        cursor = lead.end()
    for m in _SOFT_BREAK.finditer(text, cursor, end):
        if m.start() < cursor:
            continue
        joint = m.group().strip(", ").lower()
        following = tokenize(text[m.end() : min(end, m.end() + 40)])
        if joint in ("but", "then", "so"):
            cut = True
        elif joint == "and":
            cut = opens_instruction(following) and opens_instruction(
                strip_leads(tokenize(text[cursor : m.start()]))
            )
        else:
            listed = bool(following) and following[0].word in IMPERATIVE_VERBS and verbs_listed > 1
            cut = opens_instruction(following) and not listed
        if cut:
            spans.append((cursor, m.start()))
            cursor = m.end()
    spans.append((cursor, end))
    return spans


LEAD_WORDS = frozenset({"and", "then", "so", "also", "just", "simply", "now", "yes", "but", "or"})


def strip_leads(tokens: list[Token]) -> list[Token]:
    """Tokens without leading connectives ("and", "yes", "simply"...)."""
    while tokens and tokens[0].word in LEAD_WORDS:
        tokens = tokens[1:]
    return tokens


_LEAD_WORD = re.compile(r"(?:and|but|then|so|or)\s+", re.IGNORECASE)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _TRIM:
        start += 1
    if lead := _LEAD_WORD.match(text, start, end):
        start = lead.end()
    while end > start and text[end - 1] in _TRIM:
        closing = _PAIRS.get(text[end - 1])
        if closing and text.count(closing, start, end) > text.count(text[end - 1], start, end - 1):
            break  # keep the quote that closes one opened inside: sort of “fold forward.”
        end -= 1
    return start, end


_PAIRS = {"”": "“", "’": "‘", ")": "("}


# ---------------------------------------------------------------- same wording


@dataclass(frozen=True)
class Wording:
    """What a cue's wording requires of a sentence."""

    required: tuple[str, ...]  # stems that must all occur
    ordered: tuple[tuple[str, str], ...]  # (a, b): a must come before b
    negations: frozenset[str]  # negation words the cue itself uses
    pauses: int = 0  # commas, brackets... inside the cue; a match may cross no more

    @classmethod
    def of(cls, cue: str) -> Wording:
        tokens = tokenize(cue)
        words = [t for t in tokens if not t.filler and t.word not in NEGATIONS]
        content = [t for t in words if t.word not in LIGHT_VERBS] or words
        required = tuple(dict.fromkeys(t.key for t in content))
        ordered = []
        for token in tokens:
            if token.word not in RELATIONAL:
                continue
            before = [t.key for t in content if t.end <= token.start]
            after = [t.key for t in content if t.start >= token.end]
            if before and after and before[-1] != after[0]:
                ordered.append((before[-1], after[0]))
        negations = frozenset(t.word for t in tokens if t.word in NEGATIONS)
        return cls(required, tuple(ordered), negations, sum(t.pause for t in tokens))


NEGATIONS = frozenset({"not", "no", "never", "don't", "dont", "avoid", "without", "nor"})


def match_wording(wording: Wording, tokens: list[Token]) -> tuple[int, int] | None:
    """(first, last) token indexes of the shortest stretch using the cue's wording, or None."""
    if not wording.required:
        return None
    content = [i for i, t in enumerate(tokens) if not t.filler]
    need = set(wording.required)
    best: tuple[int, int] | None = None
    limit = len(need) + WORD_SLACK
    for a in range(len(content)):
        if not need & tokens[content[a]].stems:
            continue
        for b in range(a, min(len(content), a + limit)):
            window = [tokens[i] for i in content[a : b + 1]]
            if not need <= set().union(*(t.stems for t in window)):
                continue
            if not _in_order(wording.ordered, window):
                continue
            if _pauses(tokens, content[a], content[b]) > wording.pauses:
                break  # the stretch runs across clauses ("stand up, sit down, or simply move")
            if best is None or b - a < _width(best, content):
                best = (content[a], content[b])
            break
    return best


def _pauses(tokens: list[Token], first: int, last: int) -> int:
    """Pauses inside tokens[first..last], but for a bracketed warning about the words
    before it: "the knees (your legs should not be fully locked out)" says the knees should
    not lock, so it matches "lock your knees", as a warning."""
    count = 0
    for i in range(first + 1, last + 1):
        if not tokens[i].pause:
            continue
        warns = any(_negates(t) for t in tokens[i : last + 1])
        if not (tokens[i].aside and warns):
            count += 1
    return count


def _negates(token: Token) -> bool:
    return token.word in NEGATIONS or token.word.endswith("n't")


def _width(span: tuple[int, int], content: list[int]) -> int:
    return content.index(span[1]) - content.index(span[0])


def _in_order(pairs: tuple[tuple[str, str], ...], window: list[Token]) -> bool:
    for a, b in pairs:
        first_a = next((i for i, t in enumerate(window) if a in t.stems), None)
        last_b = max((i for i, t in enumerate(window) if b in t.stems), default=None)
        if first_a is None or last_b is None or first_a >= last_b:
            return False
    return True


# ---------------------------------------------------------------- how and when a cue says it


@dataclass(frozen=True)
class Qualifier:
    """A part of a cue that says when or how ("at the top", "explosively"): a match that
    does not say it too gives a different instruction."""

    text: str  # as the cue says it
    options: tuple[frozenset[str], ...]  # a sentence with all the stems of one states it
    label: str | None = None  # or with this qualifier label (QUALIFIERS: "slightly" ~ "slight")


_WHEN = re.compile(
    r"\b(?:at|on|in|during|through|to|by|near|from)\s+(?:the\s+|your\s+)?"
    r"(top|bottom|start|beginning|end|finish|lockout|lock-out|peak|way\s+(?:up|down))\b",
    re.IGNORECASE,
)
# Adverbs of manner and pace: "explosively", "slowly", "hard". Words in -ly that only
# intensify or hedge ("really", "simply") say nothing a sentence must repeat.
_MANNER = frozenset({"hard", "fast", "slow", "quick", "explosive", "powerful"})
_NOT_MANNER = frozenset(
    {
        "only",
        "really",
        "actually",
        "simply",
        "truly",
        "just",
        "fully",
        "totally",
        "completely",
        "basically",
        "generally",
        "usually",
        "likely",
        "early",
        "belly",
        "family",
        "properly",
        "correctly",
        "nicely",
        "definitely",
        "literally",
        "especially",
        "mostly",
        "nearly",
    }
)


def cue_qualifiers(text: str) -> tuple[Qualifier, ...]:
    """The cue's parts that say when ("at the top", "on the way up") or how ("explosively",
    "slowly") the instruction is done."""
    found = [
        Qualifier(m.group(0), (frozenset(stem(w.lower()) for w in m.group(1).split()),))
        for m in _WHEN.finditer(text)
    ]
    for token in tokenize(text):
        word = token.word
        manner = word in _MANNER or (word.endswith("ly") and len(word) > 5)
        if not manner or word in _NOT_MANNER:
            continue
        base = word[:-2] if word.endswith("ly") else word
        options = (frozenset({stem(word)}), frozenset({stem(base)}))
        found.append(Qualifier(word, options, QUALIFIERS.get(word)))
    return tuple(found)


def unstated(qualifiers: tuple[Qualifier, ...], tokens: list[Token], labels: set[str]) -> list[str]:
    """The qualifiers that a text (its tokens, and its qualifier labels) does not state."""
    said: set[str] = set().union(*(t.stems for t in tokens)) if tokens else set()
    return [
        q.text
        for q in qualifiers
        if not (any(o <= said for o in q.options) or (q.label and q.label in labels))
    ]


def folded_words(tokens: list[Token]) -> list[str | None]:
    """Per token, its content for overlap: a body part as "@topic", a qualifier as
    "~label", another content word as its stem; None for filler and generic verbs."""
    topics = dict(token_topics(tokens))
    out: list[str | None] = []
    for i, token in enumerate(tokens):
        if token.word in ACTION_TOPIC_WORDS:
            out.append(token.key)  # "braced" is "brace", whatever else it names
        elif token.word in QUALIFIERS and i not in topics:
            out.append("~" + QUALIFIERS[token.word])  # "much", "no" count although filler
        elif token.filler or token.word in LIGHT_VERBS or token.word in NEGATIONS:
            out.append(None)
        elif i in topics:
            out.append("@" + topics[i])
        else:
            out.append(token.key)
    return out


def folded(tokens: list[Token]) -> set[str]:
    """A text's content for overlap (see folded_words)."""
    return {w for w in folded_words(tokens) if w is not None}
