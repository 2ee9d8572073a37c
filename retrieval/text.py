"""Text helpers shared by ingest and retrieval: sentence spans and word stems."""

from __future__ import annotations

import os
import re
import unicodedata
from functools import cache
from pathlib import Path

import Stemmer

# A sentence ends at . ! ? or … (plus closing quotes/brackets and emoticons such
# as ":)") when whitespace and a capital, digit, quote or bracket follow.
_BOUNDARY = re.compile(
    r"""(?:[.!?…]+["”’')\]]*|\s:\)|\s;\))(?=\s+["“‘(\[]?[A-Z0-9])""",
)
_ABBREVIATIONS = {"e.g", "i.e", "vs", "etc", "dr", "mr", "mrs", "ms", "st", "approx", "min", "no"}
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "im",
        "ive",
        "id",
        "youre",
        "dont",
        "doesnt",
        "isnt",
        "cant",
        "get",
        "got",
        "also",
        "really",
        "much",
        "many",
        "way",
        "like",
        "thing",
        "things",
        "one",
        "ones",
        "it's",
        "i'm",
        "i've",
        "don't",
        "doesn't",
        "isn't",
        "can't",
        "ok",
        "okay",
    ]
)


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """Text that can be encoded: lone surrogates (from JSON such as "\\ud800") become U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split text[start:end] into sentences; spans are offsets into text, trimmed of spaces."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        stop = match.end()
        word = re.search(r"([A-Za-z.]+)\.$", text[cursor:stop])
        if word and word.group(1).lower().rstrip(".") in _ABBREVIATIONS:
            continue
        spans.append((cursor, stop))
        cursor = stop
    spans.append((cursor, end))
    return [trimmed for s, e in spans if (trimmed := trim_span(text, s, e))[1] > trimmed[0]]


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span so it neither starts nor ends with whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@cache
def stemmer() -> Stemmer.Stemmer:
    """The one English Snowball stemmer, shared by search, quotes and the cue check."""
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased words, apostrophes normalised."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def stems(text: str, keep_stopwords: bool = False) -> list[str]:
    """Stemmed content words of text, in order (stopwords dropped unless asked)."""
    tokens = [w for w in words(text) if keep_stopwords or w not in STOPWORDS]
    return list(stemmer().stemWords([t.replace("'", "") for t in tokens]))


def clean_input(text: str, limit: int, error: type[Exception], empty: str, too_long: str) -> str:
    """Typed text with control characters removed and whitespace folded.

    Text no one can use raises `error`: with `empty`, or with `too_long` filled in with the
    text's length `n` and the `limit` (the caller words both for what was typed).
    """
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = " ".join(text.split())
    if not text:
        raise error(empty)
    if len(text) > limit:
        raise error(too_long.format(n=len(text), limit=limit))
    return text


def user_cache(variable: str, name: str) -> Path:
    """A cache directory: the one `variable` names, else `name` under the per-user cache
    (XDG_CACHE_HOME, else ~/.cache) in hingecoach/."""
    configured = os.environ.get(variable)
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hingecoach" / name
