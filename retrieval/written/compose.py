"""A model-written answer, every sentence checked against the passages it cites.

Retrieval decides first: when the extractive answer abstains, the model is never
asked. Otherwise the model gets the retrieved passages, numbered; each sentence of
its reply is checked as soon as it is complete (citation numbers that name no
passage are dropped, and the sentence must be supported by a passage it cites).
When too little of the reply is supported, or the endpoint fails, the extractive
answer is returned with a short notice instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from retrieval.answer import MAX_QUESTION_CHARS, citation, clean_question
from retrieval.embedder import Embedder
from retrieval.errors import LLMError
from retrieval.index import Index
from retrieval.records import Answer, AnswerSentence
from retrieval.search import Hit
from retrieval.text import sentence_spans
from retrieval.written.llm import ChatModel, Passage, build_prompt
from retrieval.written.verify import Support, VerifierSettings, check, passage_evidence

_log = logging.getLogger("hingecoach.llm")
FLAG, DROP = "flag", "drop"
FALLBACK_NOTICE = "Showing the quoted passages instead of a written answer: {reason}."


@dataclass(frozen=True)
class WrittenSettings:
    """What to do with unsupported sentences, and when to give up on the model's answer."""

    unsupported: str = FLAG  # FLAG shows them marked; DROP leaves them out
    min_supported: float = 0.5  # share of the model's sentences that must be supported
    search_depth: int = 6  # passages retrieved for the prompt (the prompt may keep fewer)
    verifier: VerifierSettings = field(default_factory=VerifierSettings)


@dataclass(frozen=True)
class Claim:
    """A sentence of the model's reply and the passage numbers it cites, as written."""

    text: str
    cited: tuple[int, ...]


@dataclass(frozen=True)
class Checked:
    """A claim with the verdict of each passage it validly cites."""

    claim: Claim
    supports: dict[int, Support]  # passage number -> its support (only passages that exist)

    @property
    def supported(self) -> bool:
        return any(s.supported for s in self.supports.values())

    def reason(self) -> str:
        if not self.supports:
            return "it cites no passage" if not self.claim.cited else "it cites a missing passage"
        return next(iter(sorted(self.supports.values(), key=lambda s: -s.score))).reason


@dataclass(frozen=True)
class Draft:
    """The answer so far, while the model is still writing."""

    answer: Answer


# [1], [1, 2], [1-3], [passage 2]
_MARKER = re.compile(r"\[\s*(?:passages?|sources?)?\s*(\d+(?:\s*[,;\-–]\s*\d+)*)\s*\]", re.I)
_LEADING_MARKERS = re.compile(rf"^(?:\s*{_MARKER.pattern})+", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def _numbers(body: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"[,;]", body):
        bounds = [int(x) for x in re.findall(r"\d+", part)]
        if len(bounds) == 2 and 0 < bounds[1] - bounds[0] < 20:  # a range, [1-3]
            out.extend(range(bounds[0], bounds[1] + 1))
        else:
            out.extend(bounds)
    return out


def _claim(segment: str) -> Claim:
    cited = [n for m in _MARKER.finditer(segment) for n in _numbers(m.group(1))]
    text = _MARKER.sub("", segment)
    text = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(text.split()))
    return Claim(text, tuple(dict.fromkeys(cited)))


def split_reply(reply: str) -> list[Claim]:
    """The reply's sentences in order, each with the markers that follow it.

    Markers written after the full stop ("... back. [1]") belong to the sentence
    before them; list bullets and blank lines are dropped.
    """
    segments: list[str] = []
    for line in reply.splitlines():
        line = _BULLET.sub("", line)
        for start, end in sentence_spans(line):
            piece = line[start:end]
            lead = _LEADING_MARKERS.match(piece)
            if lead and segments:
                segments[-1] += " " + lead.group(0).strip()
                piece = piece[lead.end() :]
            if piece.strip():
                segments.append(piece)
    claims = [_claim(s) for s in segments]
    return [c for c in claims if re.search(r"[A-Za-z]", c.text)]


def retrieve_passages(
    index: Index, extractive: Answer, hits: Sequence[Hit], depth: int
) -> list[Passage]:
    """The passages for the prompt, from the answer's own retrieval: those the extractive
    answer quotes first, then the rest of the passages found, `depth` at most."""
    first = [c.chunk_id for c in extractive.citations if c.chunk_id >= 0]
    order = list(dict.fromkeys(first + [h.chunk_id for h in hits]))[: max(depth, len(first))]
    passages: list[Passage] = []
    for chunk_id in order:
        chunk = index.chunks[chunk_id]
        title = index.documents[chunk.doc_id].title
        passages.append(Passage(len(passages) + 1, chunk_id, title, chunk.heading, chunk.text))
    return passages


class Checker:
    """Checks claims against the numbered passages, once each."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        passages: Sequence[Passage],
        settings: VerifierSettings,
    ) -> None:
        self.embedder = embedder
        self.settings = settings
        self.evidence = {p.n: passage_evidence(index, p.n, p.chunk_id) for p in passages}
        self._done: dict[Claim, Checked] = {}

    def __call__(self, claim: Claim) -> Checked:
        if claim not in self._done:
            valid = [n for n in claim.cited if n in self.evidence]
            supports = {}
            if valid:
                vector = self.embedder.encode([claim.text])[0]
                supports = {
                    n: check(claim.text, vector, self.evidence[n], self.settings) for n in valid
                }
            self._done[claim] = Checked(claim, supports)
        return self._done[claim]


def compose(
    question: str,
    checked: Sequence[Checked],
    index: Index,
    passages: Sequence[Passage],
    extractive: Answer,
    settings: WrittenSettings,
) -> Answer:
    """The llm-mode answer: sentences with verdicts, each citing the exact span that backs it.

    A citation is one verbatim quote (the span that supports the sentence) inside the
    passage the model cited; citations are numbered in order of first use.
    """
    chunk_of = {p.n: p.chunk_id for p in passages}
    quotes: dict[tuple[int, int, int], list[Support]] = {}  # (chunk, start, end) -> supports
    sentences = []
    for item in checked:
        if not item.supported:
            if settings.unsupported == FLAG:
                sentences.append(AnswerSentence(item.claim.text, (), False, item.reason()))
            continue
        cites = []
        for n, support in item.supports.items():
            if support.supported:
                key = (chunk_of[n], support.span[0].start, support.span[-1].end)
                quotes.setdefault(key, []).append(support)
                cites.append(list(quotes).index(key) + 1)
        sentences.append(AnswerSentence(item.claim.text, tuple(dict.fromkeys(cites)), True))
    citations = [
        citation(index, n, chunk_id, start, end, max(s.score for s in supports))
        for n, ((chunk_id, start, end), supports) in enumerate(quotes.items(), start=1)
    ]
    body = " ".join(
        f"{s.text} " + "".join(f"[{n}]" for n in s.citations) for s in sentences if s.supported
    )
    return Answer.reply(
        question,
        body,
        extractive.notice,
        abstained=False,
        citations=citations,
        debug=dict(extractive.debug),
        mode="llm",
        sentences=sentences,
    )


def fall_back(extractive: Answer, reason: str) -> Answer:
    """The extractive answer, saying why the written one is not shown."""
    return replace(extractive, fallback=FALLBACK_NOTICE.format(reason=reason.rstrip(".")))


def write_answer(
    question: str,
    history: Sequence[str],
    index: Index,
    embedder: Embedder,
    extractive: Answer,
    hits: Sequence[Hit],
    model: ChatModel,
    settings: WrittenSettings | None = None,
) -> Iterator[Draft | Answer]:
    """Drafts while the model writes (checked sentences only), then the final answer.

    `extractive` and `hits` come from the question's one retrieval (the resolved question,
    searched once): the prompt's passages are those, not a second search.
    """
    settings = settings or WrittenSettings()
    if extractive.abstained:  # abstention is retrieval's call, never the model's
        yield extractive
        return
    passages = retrieve_passages(index, extractive, hits, settings.search_depth)
    earlier = [" ".join(h.split())[:MAX_QUESTION_CHARS] for h in history if h.strip()]
    reply = ""
    try:
        prompt = build_prompt(clean_question(question), passages, earlier, model.config)
        checker = Checker(index, embedder, prompt.passages, settings.verifier)
        yield Draft(compose(question, [], index, prompt.passages, extractive, settings))
        shown = 0
        for delta in model.stream(prompt.messages):
            reply += delta
            complete = split_reply(reply)[:-1]  # the last one may still be growing
            if len(complete) > shown:
                shown = len(complete)
                checked = [checker(c) for c in complete]
                yield Draft(
                    compose(question, checked, index, prompt.passages, extractive, settings)
                )
    except LLMError as exc:
        # The operator's log gets the cause the visitor's notice leaves out.
        _log.warning("written answer fell back: %s (cause: %r)", exc, exc.__cause__)
        yield fall_back(extractive, str(exc))
        return
    checked = [checker(c) for c in split_reply(reply)]
    supported = sum(c.supported for c in checked)
    if not checked:
        yield fall_back(extractive, "the language model's reply was empty")
    elif supported == 0 or supported / len(checked) < settings.min_supported:
        yield fall_back(extractive, _backed(supported, len(checked)))
    else:
        final = compose(question, checked, index, prompt.passages, extractive, settings)
        final.debug.update(prompt_tokens=prompt.tokens, passages=len(prompt.passages), reply=reply)
        yield final


def _backed(supported: int, total: int) -> str:
    """Why a written answer was set aside: how few of its sentences the articles back."""
    if supported == 0:
        return f"none of its {total} sentences is backed by the articles"
    verb = "is" if supported == 1 else "are"
    return f"only {supported} of its {total} sentences {verb} backed by the articles"
