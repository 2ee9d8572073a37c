"""Split an article into blocks and mark boilerplate with general rules.

Offsets always point into the original file text, so every kept block is a
verbatim span of the source. Nothing is rewritten; boilerplate is only marked
(keep=False) with a reason, which the ingest summary and tests can inspect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.text import trim_span

_MD_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]+")
_BULLET = re.compile(r"[ \t]*(?:[•●▪◦‣∙*\-–+]|\d{1,2}[.)])[ \t]+")
_NUMBERED = re.compile(r"[ \t]*\d{1,2}[.)][ \t]+")
_TERMINAL = tuple('.!?:;,…)"”’')

_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_DATE = re.compile(
    rf"^(?:(?:posted|published|updated)\s+(?:on\s+)?)?(?:(?:{_MONTHS})[a-z]*\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}\s+(?:{_MONTHS})[a-z]*\.?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}})$",
    re.IGNORECASE,
)
_NAV = {
    "previous",
    "next",
    "previous post",
    "next post",
    "older post",
    "newer post",
    "older posts",
    "newer posts",
    "back to top",
    "back to blog",
    "read more",
    "share",
    "tweet",
    "pin it",
    "email",
    "print",
    "comments",
    "leave a comment",
    "related posts",
    "you may also like",
    "home",
    "menu",
    "skip to content",
    "search",
    "prev",
    "« previous",
    "next »",
}
_NAV_MARKERS = {
    "previous",
    "next",
    "prev",
    "older post",
    "newer post",
    "previous post",
    "next post",
}
_REVIEW_HEADING = re.compile(
    r"\b(?:what (?:people|clients|members|customers|our \w+|others) (?:are )?say(?:ing)?|"
    r"testimonials?|reviews?|what they say|kind words|client love|success stories)\b",
    re.IGNORECASE,
)
_REVIEW_BLOCK = re.compile(
    r"(?:\.\.\.|…)\s*read more$|\b([A-Z][\w'’-]+(?: [A-Z][\w'’-]+)+) Avatar \1|^Positive:|★",
)
_CAPTION = re.compile(
    r"\b(?:photo|photograph|image|picture|pic|graphic|illustration|diagram|figure|fig\.|"
    r"shown|showing|pictured|screenshot|credit|courtesy|alt)\b",
    re.IGNORECASE,
)
_SIGNOFF = re.compile(
    r"^(?:xoxo|xo|cheers|best|love|thanks|thank you|warmly|with love|talk soon|until next time|"
    r"happy lifting|stay strong|yours)\b[\s,!.~:;)(]*$",
    re.IGNORECASE,
)
_PROMO = re.compile(
    r"\b(?:looking for more|sign up|subscribe|join (?:my|our)|book (?:a|your|now)|"
    r"contact (?:me|us)|dm me|link in (?:my )?bio|i got you|(?:my|our) (?:\w+ ){0,2}programs?\b|"
    r"look out next week|stay tuned|use (?:my )?code|free consultation|enroll)",
    re.IGNORECASE,
)
PROMO_MAX_WORDS = 60


@dataclass
class Block:
    """A paragraph, list item or heading: source[start:end], trimmed."""

    start: int
    end: int
    kind: str  # "title" | "heading" | "text" | "item"
    keep: bool = True
    reason: str | None = None

    def text(self, source: str) -> str:
        return source[self.start : self.end]


def segment(source: str) -> list[Block]:
    """Split plain text or Markdown into blocks: blank lines and list markers separate them."""
    blocks: list[Block] = []
    current: Block | None = None
    offset = 0
    for line in source.splitlines(keepends=True):
        line_start, offset = offset, offset + len(line)
        body = line.rstrip("\r\n")
        if not body.strip():
            current = None
            continue
        heading = _MD_HEADING.match(body)
        bullet = None if heading else _BULLET.match(body)
        if heading or bullet or current is None or current.kind == "heading":
            marker = heading or bullet
            start = line_start + (marker.end() if marker else 0)
            start, end = trim_span(source, start, line_start + len(body))
            if end <= start:
                current = None
                continue
            kind = "heading" if heading else ("item" if bullet else "text")
            current = Block(start, end, kind)
            if _NUMBERED.match(body):
                current.reason = "numbered"
            blocks.append(current)
        else:
            current.end = trim_span(source, current.start, line_start + len(body))[1]
    return blocks


def _words(text: str) -> int:
    return len(text.split())


def _heading_shaped(text: str, max_words: int = 14) -> bool:
    """A short line with no sentence punctuation at its end reads as a heading.

    A Title-Case question ("Squat VS Hip Hinge – What's the difference?") is one too.
    """
    if "\n" in text or _words(text) > max_words:
        return False
    if not text.endswith(_TERMINAL):
        return True
    long_words = [w for w in text.split() if len(w) >= 3]
    capitalised = [w for w in long_words if w[0].isupper()]
    return (
        text.endswith("?") and len(capitalised) >= 3 and len(capitalised) >= 0.5 * len(long_words)
    )


def infer_headings(blocks: list[Block], source: str) -> None:
    """Promote heading-shaped paragraphs (and short numbered tips) to headings."""
    for i, block in enumerate(blocks):
        text = block.text(source)
        numbered = block.reason == "numbered"
        block.reason = None
        if block.kind == "heading":
            continue
        plain_heading = block.kind == "text" and _heading_shaped(text)
        if plain_heading or numbered and _heading_shaped(text, max_words=15):
            block.kind = "heading"
        if i == 0 and block.kind == "heading":
            block.kind = "title"


def _drop(block: Block, reason: str) -> None:
    if block.keep:
        block.keep = False
        block.reason = reason


def mark_boilerplate(blocks: list[Block], source: str) -> None:
    """Mark navigation, reviews, captions, dates, sign-offs and promotions as not kept."""
    in_reviews = in_nav = in_signoff = False
    for block in blocks:
        text = block.text(source)
        lines = {line.strip(" .:!»«").lower() for line in text.splitlines()}
        if in_reviews and not _is_markdown_heading(source, block):
            _drop(block, "reviews")  # a review run lasts until a real (#) heading
            continue
        in_reviews = False
        if block.kind in ("heading", "title") and _REVIEW_HEADING.search(text):
            in_reviews = True
            _drop(block, "reviews")
        elif _REVIEW_BLOCK.search(text):
            _drop(block, "reviews")
        elif lines <= _NAV:
            in_nav = in_nav or bool(lines & _NAV_MARKERS)
            _drop(block, "navigation")
        elif in_nav and _heading_shaped(text):
            _drop(block, "navigation")  # the linked title after Previous/Next
        elif _DATE.match(text.strip()):
            _drop(block, "date line")
        elif _SIGNOFF.match(text) or in_signoff and _words(text) <= 4:
            in_signoff = True
            _drop(block, "sign-off")
        elif _heading_shaped(text, max_words=15) and _CAPTION.search(text):
            _drop(block, "image caption")
        elif (
            block.kind in ("text", "item")
            and _words(text) <= PROMO_MAX_WORDS
            and _PROMO.search(text)
        ):
            _drop(block, "promotion")
        else:
            in_nav = in_signoff = False


def _is_markdown_heading(source: str, block: Block) -> bool:
    """True when the block was written as a Markdown heading (# ...), which ends a review run."""
    line_start = source.rfind("\n", 0, block.start) + 1
    return bool(_MD_HEADING.match(source[line_start : block.start + 1]))


def clean(source: str) -> list[Block]:
    """Blocks of an article with boilerplate marked; kept blocks are verbatim spans."""
    blocks = segment(source)
    infer_headings(blocks, source)
    mark_boilerplate(blocks, source)
    return blocks


def segment_html(source: str) -> list[Block]:
    """Main-content blocks of an HTML page, located verbatim in the page source.

    trafilatura extracts the article text (dropping scripts, styles, menus and
    comments); each extracted sentence is then found in the raw HTML so that
    offsets stay exact. Text that does not occur verbatim (e.g. written with
    entities or split by inline tags) is left out rather than misquoted.
    """
    import trafilatura

    from retrieval.text import sentence_spans

    extracted = trafilatura.extract(
        source,
        output_format="txt",
        include_comments=False,
        include_tables=False,
        include_images=False,
        favor_precision=True,
    )
    blocks: list[Block] = []
    cursor = 0
    for line in (extracted or "").splitlines():
        line = _BULLET.sub("", line, count=1) if _BULLET.match(line) else line
        previous: Block | None = None
        for s, e in sentence_spans(line):
            piece = line[s:e]
            match = _find_loose(source, piece, cursor)
            if match is None:
                previous = None
                continue
            found, cursor = match
            if previous is not None and not source[previous.end : found].strip():
                previous.end = cursor  # same paragraph, only whitespace between
            else:
                previous = Block(found, cursor, "text")
                blocks.append(previous)
    return blocks


def _find_loose(source: str, piece: str, start: int) -> tuple[int, int] | None:
    """Where piece occurs in source from start, any run of whitespace matching any other.

    Extraction folds the page's line wrapping into single spaces; the span found is
    still a verbatim slice of the page.
    """
    words = piece.split()
    if not words:
        return None
    match = re.compile(r"\s+".join(map(re.escape, words))).search(source, start)
    return (match.start(), match.end()) if match else None


def clean_html(source: str) -> list[Block]:
    """Like clean(), for an HTML page."""
    blocks = segment_html(source)
    infer_headings(blocks, source)
    mark_boilerplate(blocks, source)
    return blocks


def html_title(source: str) -> str | None:
    """The page title from its metadata, if any."""
    import trafilatura

    meta = trafilatura.extract_metadata(source)
    return meta.title if meta is not None and meta.title else None
