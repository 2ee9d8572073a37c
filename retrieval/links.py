"""Where a visitor can read a cited article: its web address, from corpus/articles.json.

Only http and https addresses are ever kept or shown: a `javascript:` or `data:` address in
the metadata would otherwise become a live link in every answer that cites the article.
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from retrieval.records import Answer

if TYPE_CHECKING:  # not imported at run time: the settings check uses web_address alone
    from retrieval.index import Index

_LINKS: weakref.WeakKeyDictionary[Index, dict[str, str]] = weakref.WeakKeyDictionary()


def web_address(value: object) -> str | None:
    """`value` when it is an absolute http(s) URL with a host and no spaces, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or any(ch.isspace() or ord(ch) < 32 for ch in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return text


def article_links(index: Index) -> dict[str, str]:
    """Each article's web address by its source path (articles without one are left out);
    read once per loaded index."""
    if index not in _LINKS:
        _LINKS[index] = {
            d.source: url for d in index.documents if (url := web_address(d.url)) is not None
        }
    return _LINKS[index]


def with_links(result: Answer, index: Index) -> Answer:
    """The answer with each citation carrying its article's web address, where known.

    The answer code may set Citation.url itself; then this changes nothing.
    """
    links = article_links(index)
    if any(c.url is None and c.source in links for c in result.citations):
        result.citations = [
            c if c.url is not None or c.source not in links else replace(c, url=links[c.source])
            for c in result.citations
        ]
    return result
