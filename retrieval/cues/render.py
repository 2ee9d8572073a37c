"""Cue checks and the cue catalogue as people see them: terminal text and browser HTML.

Article text, cues and file names are escaped in the HTML, and it is shown as HTML, never
parsed as Markdown: none of them becomes a live tag, link, image or math.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.cues.catalogue import Catalogue
    from retrieval.cues.check import CueCheck, CueMatch

VERDICT_TEXT = {
    "found": "Found: an article uses this wording.",
    "close": "Close: an article gives the same instruction in other words.",
    "not_found": "Not found: no article says this; the nearest passages show what they say.",
}
STANCE_TEXT = {
    "endorsed": "✔ endorsed",
    "discouraged": "✖ discouraged (the article warns against it)",
    "neutral": "○ neutral (mentioned, not instructed)",
}


RELATED_TEXT = "related: near the cue, not the cue itself"


def _label(kind: str, stance: str, sep: str = " · ", missing: tuple[str, ...] = ()) -> str:
    """A match's kind and stance; a related passage's stance is about its own words, not the
    cue's, so it is left out ("discouraged" there would read as if the cue were). A passage
    that would be close but for the cue's "at the top" or "explosively" says which."""
    if kind != "related":
        return f"{kind}{sep}{stance}"
    if missing:
        said = ", ".join(f"“{m}”" for m in missing)
        return f"{RELATED_TEXT} (it does not say {said})"
    return RELATED_TEXT


def format_cue_text(check: CueCheck) -> str:
    """A cue check for the terminal: the verdict, each match, then any differences."""
    lines = [f"{check.cue}: {VERDICT_TEXT[check.verdict]}"]
    for n, m in enumerate(check.matches, start=1):
        lines.append(f"[{n}] {_label(m.kind, m.stance, ', ', m.missing)}: {m.quote}")
        lines.append(f"    {m.title} — {m.source}:{m.start}-{m.end} (score {m.score:.2f})")
    for d in check.differences:
        lines.append(f"! {d.note}")
        for side in d.sides:
            quotes = " / ".join(f"“{q.quote}” ({q.start}-{q.end})" for q in side.quotes)
            lines.append(f"    {side.title}: {quotes}")
    return "\n".join(lines)


def format_catalogue_text(catalogue: Catalogue) -> str:
    """The cue catalogue for the terminal, grouped by topic."""
    lines = [f"{catalogue.count} cues in the articles"]
    for topic, cues in catalogue.topics.items():
        lines.append(f"\n{topic}")
        for c in cues:
            warn = " (warned against)" if c.stance == "discouraged" else ""
            lines.append(f"  {c.cue}{warn} — {c.title}, {c.source}:{c.start}-{c.end}")
    return "\n".join(lines)


def match_in_context(match: CueMatch, context: int = 200) -> str:
    """HTML: the quote highlighted inside its passage, the matched words in bold, all escaped."""
    passage, base = match.passage, match.passage_start

    def flat(text: str) -> str:
        return html.escape(re.sub(r"\s+", " ", text))

    at, end = match.start - base, match.end - base
    if passage[at:end] != match.quote:  # the quote always comes from the article text itself
        passage, at, end, base = match.quote, 0, len(match.quote), match.start
    words_at = max(at, match.words_start - base)
    words_end = min(end, max(words_at, match.words_end - base))
    before = passage[max(0, at - context) : at]
    after = passage[end : end + context]
    return (
        f"{'…' if at > context else ''}{flat(before)}<mark>{flat(passage[at:words_at])}"
        f"<strong>{flat(passage[words_at:words_end])}</strong>{flat(passage[words_end:end])}"
        f"</mark>{flat(after)}{'…' if end + context < len(passage) else ''}"
    )


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def format_cue_html(check: CueCheck) -> str:
    """A cue check for the browser: verdict, differences, matches with their stance.

    HTML with every piece of text escaped, for a component that shows HTML as it is (not
    Markdown): a cue or an article holding `![x](https://...)` or `$$x$$` stays those
    characters.
    """
    parts = [
        f"<h3>{_esc(check.cue)}</h3>",
        f"<p><strong>{VERDICT_TEXT[check.verdict]}</strong></p>",
    ]
    for d in check.differences:
        sides = "; ".join(
            f"<em>{_esc(s.title)}</em>: " + ", ".join(f"“{_esc(q.quote)}”" for q in s.quotes)
            for s in d.sides
        )
        parts.append(f"<p>⚠️ <strong>{_esc(d.note)}</strong> {sides}</p>")
    for n, m in enumerate(check.matches, start=1):
        heading = f" — <em>{_esc(m.heading)}</em>" if m.heading and m.heading != m.title else ""
        label = _esc(_label(m.kind, STANCE_TEXT[m.stance], missing=m.missing))
        parts.append(
            f"<p><strong>[{n}] {_esc(m.title)}</strong>{heading} · {label}<br>"
            f"<small>{_esc(m.source)}, characters {m.start}–{m.end}, "
            f"score {m.score:.2f}</small></p>\n<blockquote>{match_in_context(m)}</blockquote>"
        )
    return "\n".join(parts)


def catalogue_rows(catalogue: Catalogue) -> list[list[str]]:
    """The catalogue as table rows: topic, cue, stance, article, where."""
    return [
        [topic, c.cue, c.stance, c.title, f"{c.source}:{c.start}-{c.end}"]
        for topic, cues in catalogue.topics.items()
        for c in cues
    ]
