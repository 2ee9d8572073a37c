"""The articles' vocabulary, questions normalised against it, and the shape of each sentence.

People type "wat musles does hinging work lol". Before searching we expand chat-speak, and
correct words that are neither in the articles nor in an English dictionary to the nearest
article word ("musles" -> "muscles"), leaving real words alone ("leaning" stays "leaning" even
though "learning" is one letter away).

Words are weighed by how rare they are in the articles (inverse sentence frequency) and in
English (from the dictionary's word counts): "hamstrings" tells more than "work".
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

import numpy as np
from spellchecker import SpellChecker

from retrieval.index import Index, per_index
from retrieval.text import STOPWORDS, stems, words

# Chat-speak and contractions typed without apostrophes.
CHAT_SPEAK = {
    "u": "you",
    "r": "are",
    "ur": "your",
    "n": "and",
    "ppl": "people",
    "wat": "what",
    "wut": "what",
    "whats": "what is",
    "hows": "how is",
    "bc": "because",
    "cuz": "because",
    "coz": "because",
    "abt": "about",
    "w": "with",
    "tho": "though",
    "thru": "through",
    "b4": "before",
    "im": "I am",
    "dont": "do not",
    "doesnt": "does not",
    "cant": "cannot",
    "wont": "will not",
    "isnt": "is not",
    "shld": "should",
    # Sound-alike spellings people text, too far from the word for a spelling corrector.
    "shud": "should",
    "shuld": "should",
    "cud": "could",
    "wud": "would",
    "wen": "when",
    "wer": "where",
    "wher": "where",
    "hw": "how",
    "y": "why",
    "wht": "what",
    "lik": "like",
    "luk": "look",
    "ovr": "over",
    "pik": "pick",
    "stuf": "stuff",
    "bak": "back",
    "rite": "right",
    "gud": "good",
    "nd": "and",
    "bcuz": "because",
    "becuz": "because",
    "kno": "know",
    "knw": "know",
    "hv": "have",
    "sumthing": "something",
    "smth": "something",
    "pls": "",
    "plz": "",
    "lol": "",
    "lmao": "",
    "tbh": "",
    "btw": "",
    "idk": "",
    "thx": "",
}
# The articles talk to their reader; questions talk about the asker.
TO_READER = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "i'm": "you're",
    "i've": "you've",
    "i'd": "you'd",
    "i'll": "you'll",
}
# Words that carry tone, not topic: ignored when matching words.
FILLERS = frozenset(
    [
        "heck",
        "hell",
        "damn",
        "kinda",
        "sorta",
        "super",
        "actually",
        "even",
        "basically",
        "literally",
        "honestly",
        "pretty",
        "stuff",
        "hey",
        "hi",
        "hello",
        "thanks",
        "thank",
        "please",
        "cool",
        "guys",
        "anyway",
        "lot",
        "lots",
        "bit",
        "gonna",
        "wanna",
        "someone",
        "something",
        "tell",
        "know",
        "want",
        "wondering",
        "question",
        "talk",
        "mean",
    ]
)
MIN_CORRECTABLE = 4  # shorter unknown words are left alone ("ok", "rdl")
LONG_WORD = 8  # from this length a correction may change two letters, one below
MIN_TOPICLESS_WORDS = 1  # the topic words stay when fewer content words would be left
SPECIFIC = 12.0  # -log English frequency at which a word counts fully ("hip" ~ 12, "work" ~ 7)
GENERIC_FLOOR = 0.3  # the weight left to the commonest English words
_TOKEN = re.compile(r"[A-Za-z][A-Za-z']*")
_LINK = re.compile(r"\b(?:https?://|www\.)\S*", re.IGNORECASE)
_MARKUP = re.compile(r"<[A-Za-z/!][^<>]*>")  # an HTML tag: its name and attributes ask nothing
_MEDIA = re.compile(r"\b(?:videos?|pictures?|photos?|graphics?|images?|links?|click)\b", re.I)


@dataclass(frozen=True)
class Lexicon:
    """Word statistics and sentence shapes of an index, for matching, spelling and quoting."""

    vocabulary: frozenset[str]  # lower-cased words of the passages and headings
    stems: frozenset[str]
    idf: dict[str, float]  # stem -> inverse sentence frequency
    sentence_stems: list[frozenset[str]]
    heading_stems: list[frozenset[str]]  # per chunk
    question: np.ndarray  # per sentence: it asks ("Why?"), it does not answer
    media: np.ndarray  # it points at a video, photo or link the text does not contain
    aside: np.ndarray  # it sits inside brackets: a side remark, often a link to elsewhere
    topic: frozenset[str]  # stems every article's title shares ("hip", "hing")
    topic_name: str  # the most specific of them ("hing"): naming it puts a question on topic
    speller: SpellChecker

    @property
    def quotable(self) -> np.ndarray:
        """Sentences that can answer by themselves."""
        return ~(self.question | self.aside)

    def weight(self, stem: str) -> float:
        """How telling a stem is in the articles: rare is telling, absent is most telling."""
        return self.idf.get(stem, math.log(1 + len(self.sentence_stems) / 0.5))


@per_index
def lexicon(index: Index) -> Lexicon:
    """The lexicon of an index, built once per loaded index."""
    sentence_stems = [frozenset(stems(s.text)) for s in index.sentences]
    heading_stems = [frozenset(stems(c.heading)) for c in index.chunks]
    df = Counter(stem for group in sentence_stems for stem in group)
    n = len(sentence_stems)
    idf = {stem: math.log(1 + n / (count + 0.5)) for stem, count in df.items()}
    texts = [c.text for c in index.chunks] + [c.heading for c in index.chunks]
    all_words = [w for text in texts for w in words(text)]
    speller = SpellChecker(language=None, distance=2)
    speller.word_frequency.load_words(all_words)
    sentences = [s.text for s in index.sentences]
    titles = [frozenset(stems(d.title)) for d in index.documents]
    topic: frozenset[str] = frozenset.intersection(*titles) if titles else frozenset()
    spelled = {stems(w, keep_stopwords=True)[0]: w for d in index.documents for w in words(d.title)}
    rarest = sorted(topic, key=lambda stem: -specificity(spelled[stem]))
    return Lexicon(
        vocabulary=frozenset(all_words),
        stems=frozenset(s for group in sentence_stems + heading_stems for s in group),
        idf=idf,
        sentence_stems=sentence_stems,
        heading_stems=heading_stems,
        question=np.array([t.rstrip(")”\"'").endswith("?") for t in sentences], dtype=bool),
        media=np.array([bool(_MEDIA.search(t)) for t in sentences], dtype=bool),
        aside=np.array([_aside(t) for t in sentences], dtype=bool),
        topic=topic,
        topic_name=rarest[0] if rarest else "",
        speller=speller,
    )


def _aside(sentence: str) -> bool:
    opens, closes = sentence.startswith("("), sentence.rstrip(".!?").endswith(")")
    return (opens and ")" not in sentence) or (closes and "(" not in sentence) or opens and closes


@cache
def _english() -> SpellChecker:
    return SpellChecker(distance=1)


def normalise_question(question: str, lex: Lexicon) -> str:
    """The question with chat-speak expanded and misspelled words corrected to article words.

    Links and HTML tags are dropped first: "https" is no misspelling of "hips", and
    "<details open ontoggle=...>" asks nothing about opening. A correction may change one
    letter of a short word, two of a word of eight letters or more.
    """

    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        lower = token.lower()
        if lower in CHAT_SPEAK:
            return CHAT_SPEAK[lower]
        if len(lower) < MIN_CORRECTABLE or lower in lex.vocabulary or "'" in lower:
            return token
        if _english().known([lower]):
            return token
        fixed = lex.speller.correction(lower)
        if not fixed or (
            len(lower) < LONG_WORD and fixed not in lex.speller.edit_distance_1(lower)
        ):
            return token
        return fixed

    return " ".join(_TOKEN.sub(fix, _LINK.sub(" ", _MARKUP.sub(" ", question))).split())


def without_topic(text: str, lex: Lexicon) -> str:
    """The text without the name of what every article is about, when enough else remains.

    Every sentence of the articles is about the hip hinge, so "hinge" in a question pulls its
    embedding towards whichever sentence says "hinge" most, not towards the one that answers.
    Only the name goes ("hinge", "hip hinge"); "hip" elsewhere ("hip flexors", "hip thrust")
    keeps its meaning.
    """
    tokens = _TOKEN.findall(text)
    names = [stems(t, keep_stopwords=True)[0] for t in tokens]
    drop = {i for i, stem in enumerate(names) if stem == lex.topic_name}
    drop |= {
        j for i in drop for j in (i - 1, i + 1) if 0 <= j < len(names) and names[j] in lex.topic
    }
    kept = [t for i, t in enumerate(tokens) if i not in drop]
    if not drop or len(content_words(" ".join(kept))) < MIN_TOPICLESS_WORDS:
        return text
    return " ".join(kept)


def as_reader(text: str) -> str:
    """First person turned into the second ("my knees" -> "your knees"), as the articles write."""
    return _TOKEN.sub(lambda m: TO_READER.get(m.group(0).lower(), m.group(0)), text)


def content_words(text: str) -> list[str]:
    """Words that say what a question is about (stopwords and fillers dropped)."""
    return [w for w in words(text) if w not in FILLERS and w not in STOPWORDS]


def specificity(word: str) -> float:
    """0.3 for the commonest English words up to 1 for rare ones and words English lacks."""
    counts = _english().word_frequency
    rarity = math.log(counts.total_words / (counts[word] + 1))
    return min(1.0, max(GENERIC_FLOOR, rarity / SPECIFIC))


def query_terms(text: str, lex: Lexicon, scale: float = 1.0) -> dict[str, float]:
    """Stem -> weight for the content words of a question."""
    terms: dict[str, float] = {}
    for word in content_words(text):
        stem = stems(word, keep_stopwords=True)[0]
        terms[stem] = max(terms.get(stem, 0.0), scale * lex.weight(stem) * specificity(word))
    return terms
