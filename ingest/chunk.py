"""Structure-aware chunking: sections by heading, sized with tiktoken, capped by the window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.clean import Block
from retrieval.text import sentence_spans
from retrieval.tokens import count_tokens

TARGET_TOKENS = 180  # tiktoken tokens of passage text per chunk (soft)
WINDOW_TOKENS = 256  # the embedding model's window (hard), special tokens included


@dataclass(frozen=True)
class Piece:
    """A chunk before it gets an id: the spans it covers and its heading."""

    heading: str
    spans: tuple[tuple[int, int], ...]  # kept blocks (or block parts), in order

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]

    def text(self, source: str) -> str:
        """The passage: the blocks' verbatim text, paragraphs separated by blank lines."""
        out = source[self.spans[0][0] : self.spans[0][1]]
        for (_, prev_end), (s, e) in zip(self.spans, self.spans[1:], strict=False):
            gap = source[prev_end:s]
            out += gap if not gap.strip() else "\n\n"
            out += source[s:e]
        return out


def embed_text(title: str, heading: str, passage: str) -> str:
    """What gets embedded for a chunk: its place in the article, then the passage."""
    context = title if heading in ("", title) else f"{title}: {heading}"
    return f"{context}\n{passage}"


def chunk_blocks(
    blocks: list[Block],
    source: str,
    title: str,
    window_tokens: Callable[[str], int] | None = None,
    target_tokens: int = TARGET_TOKENS,
    window: int = WINDOW_TOKENS,
) -> list[Piece]:
    """Group kept blocks into chunks under their headings.

    A chunk never spans a heading or a dropped block, so no boilerplate sits
    inside a passage. `window_tokens` counts tokens the way the embedding model
    does; a chunk whose embedded text would not fit is split further.
    """
    fits = _fitter(title, source, window_tokens, window)
    pieces: list[Piece] = []
    heading = title
    current: list[tuple[int, int]] = []
    size = 0

    def flush() -> None:
        nonlocal current, size
        if current:
            pieces.extend(_split_to_fit(Piece(heading, tuple(current)), source, fits))
        current, size = [], 0

    for block in blocks:
        if not block.keep:
            flush()
            continue
        if block.kind in ("heading", "title"):
            flush()
            heading = block.text(source)
            continue
        tokens = count_tokens(block.text(source))
        lead_in = current and source[current[-1][1] - 1] == ":"  # "A few tips:" stays with them
        if current and size + tokens > target_tokens and not lead_in:
            flush()
        current.append((block.start, block.end))
        size += tokens
    flush()
    return pieces


def _fitter(
    title: str, source: str, window_tokens: Callable[[str], int] | None, window: int
) -> Callable[[Piece], bool]:
    counter = window_tokens or count_tokens

    def fits(piece: Piece) -> bool:
        return counter(embed_text(title, piece.heading, piece.text(source))) <= window

    return fits


def _split_to_fit(piece: Piece, source: str, fits: Callable[[Piece], bool]) -> list[Piece]:
    """Halve a piece (by block, then sentence, then words) until every part fits."""
    if fits(piece):
        return [piece]
    spans = list(piece.spans)
    if len(spans) == 1:
        parts = sentence_spans(source, *spans[0])
        if len(parts) == 1:
            parts = _word_halves(source, *spans[0])
            if len(parts) == 1:
                return [piece]  # a single word longer than the window; nothing to split
        spans = parts
    mid = len(spans) // 2
    halves = [Piece(piece.heading, tuple(spans[:mid])), Piece(piece.heading, tuple(spans[mid:]))]
    return [part for half in halves for part in _split_to_fit(half, source, fits)]


def _word_halves(source: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a span at the whitespace nearest its middle."""
    mid = (start + end) // 2
    cut = source.rfind(" ", start, mid)
    if cut <= start:
        cut = source.find(" ", mid, end)
    if cut <= start or cut >= end:
        return [(start, end)] if end - start < 2 else [(start, mid), (mid, end)]
    return [(start, cut), (cut + 1, end)]
