"""Answers as people see them: text for the terminal, escaped HTML for the chat.

In the HTML every piece of text that comes from an article, a file name or a visitor is
escaped: nothing in the corpus or in a question ever becomes live HTML, a link or an image.
In the terminal, control characters are shown rather than obeyed.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from retrieval.links import web_address
from retrieval.records import GYM_BUSINESS, Answer, Citation, Contact

# Control characters, and the bidirectional overrides that make a line read other than it is.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal(text: str) -> str:
    """Text safe to print: control characters from articles, file names or errors (an
    escape sequence could retitle, recolour or clear the terminal) are shown as \\xNN or \\uNNNN."""
    return _CONTROLS.sub(_escaped, text.replace("\r\n", "\n"))


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def format_text(result: Answer, contact: Contact | None = None) -> str:
    """An answer for the terminal: the reply, then numbered sources."""
    lines = [result.fallback] if result.fallback else []
    lines.append(result.answer)
    if desk := refusal_contact(result, contact):
        lines.append(contact_text(desk))
    lines += [
        f"(unsupported, left out: {s.text} — {s.reason})"
        for s in result.sentences
        if not s.supported
    ]
    for c in result.citations:
        lines.append(f"[{c.n}] {c.title} — {c.source}:{c.start}-{c.end}")
        if c.url:
            lines.append(f"    {c.url}")
    return "\n".join(lines)


def plain_html(text: str) -> str:
    """Text that shows as itself inside an HTML block: escaped, line breaks as <br>.

    Inside an HTML block Markdown is not parsed, so nothing in the text becomes a tag,
    a link, an image or math: corpus files and visitors' questions are never live HTML.
    """
    return re.sub(r"[ \t]*(?:\r\n?|\n)\s*", "<br>", html.escape(text, quote=False))


def paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs, one per blank-line-separated block."""
    parts = [p for p in re.split(r"(?:\r\n?|\n)[ \t]*(?:\r\n?|\n)", text) if p.strip()]
    return "\n".join(f"<p>{plain_html(part.strip())}</p>" for part in parts)


def quote_in_context(citation: Citation, context: int = 240) -> str:
    """HTML: the quote highlighted inside a window of its passage, everything escaped."""
    passage = citation.passage
    at = passage.find(citation.quote)
    if at < 0:
        return f"<mark>{plain_html(citation.quote)}</mark>"
    before = passage[max(0, at - context) : at]
    after = passage[at + len(citation.quote) : at + len(citation.quote) + context]
    lead = "…" if at > context else ""
    tail = "…" if at + len(citation.quote) + context < len(passage) else ""
    # Line breaks become <br> so the excerpt stays inside its one-line blockquote.
    quote = plain_html(citation.quote)
    return f"{lead}{plain_html(before)}<mark>{quote}</mark>{plain_html(after)}{tail}"


def answer_html(result: Answer) -> str:
    """The reply itself as HTML paragraphs: a model-written one sentence by sentence,
    unsupported ones flagged. Every piece of text is escaped (see plain_html)."""
    if result.mode != "llm":
        lead = f"<p><em>{plain_html(result.fallback)}</em></p>" if result.fallback else ""
        return "\n".join(part for part in (lead, paragraphs(result.answer)) if part)
    out = []
    for s in result.sentences:
        text = plain_html(s.text)
        if s.supported:
            out.append(text + "".join(f" [{n}]" for n in s.citations))
        else:
            why = plain_html(s.reason or "the cited passage does not say this")
            out.append(f"<del>{text}</del> <small>⚠ <em>Not in the articles: {why}.</em></small>")
    body = f"<p>{' '.join(out)}</p>" if out else ""
    return "\n".join(part for part in (body, paragraphs(result.notice or "")) if part)


def source_html(c: Citation) -> str:
    """One source as a visitor reads it: the article's title (a link to the article when it
    has a web address), its section, and the quote highlighted in its passage. The file and
    character offsets, which mean nothing to a visitor, sit in a collapsed details element."""
    title = plain_html(c.title)
    url = web_link(c.url)
    if url:
        title = f'<a href="{url}" target="_blank" rel="noopener noreferrer">{title}</a>'
    heading = f" — <em>{plain_html(c.heading)}</em>" if c.heading and c.heading != c.title else ""
    return (
        f"<p><strong>[{c.n}] {title}</strong>{heading}</p>\n"
        f"<blockquote>{quote_in_context(c)}</blockquote>\n"
        f"<details><summary>Where in the file</summary><small>{plain_html(c.source)}, "
        f"characters {c.start}–{c.end}</small></details>"
    )


def web_link(url: str | None) -> str:
    """An http(s) address escaped for an href attribute, or "" for anything else."""
    address = web_address(url)
    return html.escape(address, quote=True) if address else ""


def contact_html(contact: Contact) -> str:
    """Where to ask what the articles can't answer, as one escaped paragraph."""
    text = f"For prices, hours and booking, ask the front desk: {plain_html(contact.text)}"
    url = web_link(contact.url)
    if url:
        shown = plain_html(contact.url or "")
        text += f' — <a href="{url}" target="_blank" rel="noopener noreferrer">{shown}</a>'
    elif contact.phone:
        dial = re.sub(r"[^0-9+]", "", contact.phone)
        text += f' — <a href="tel:{dial}">{plain_html(contact.phone)}</a>'
    return f"<p>{text}</p>"


def contact_text(contact: Contact) -> str:
    """The contact line for the terminal."""
    link = contact.url or contact.phone
    line = f"For prices, hours and booking, ask the front desk: {contact.text}"
    return f"{line} — {link}" if link else line


def refusal_contact(result: Answer, contact: Contact | None) -> Contact | None:
    """The gym's contact when the answer refuses a question about the gym's business."""
    if contact and result.abstained and result.refusal_topic == GYM_BUSINESS:
        return contact
    return None


def format_markdown(result: Answer, contact: Contact | None = None) -> str:
    """An answer for the chat: the reply, then each source with its quote in context.

    A refused question about the gym's business ends with the gym's contact, when set.
    Written as HTML blocks with every piece of text escaped (see plain_html).
    """
    parts = [answer_html(result)]
    if desk := refusal_contact(result, contact):
        parts.append(contact_html(desk))
    if result.citations:
        parts.append("<p><strong>Sources</strong></p>")
        parts += [source_html(c) for c in result.citations]
    return "\n".join(part for part in parts if part)


def show_as_text(text: str) -> str:
    """A visitor's message as chat HTML that displays exactly the characters typed."""
    # A lone \r would end the HTML block for the Markdown parser; as &#13; it is only a character.
    escaped = html.escape(text, quote=False).replace("\r", "&#13;").replace("\n", "<br>")
    return f"<p>{escaped}</p>"


def typed_text(shown: str) -> str:
    """The characters a visitor typed, back from show_as_text (other text is returned as is)."""
    if shown.startswith("<p>") and shown.endswith("</p>"):
        return html.unescape(shown[3:-4].replace("<br>", "\n"))
    return shown


def script_json(value: Any) -> str:
    """JSON safe to place inside an HTML <script> element."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
