"""Find and read corpus files; decide which ones can be ingested."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import CorpusError

SUFFIXES = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}
MAX_BYTES = 5 * 1024 * 1024
METADATA_FILE = "articles.json"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_TEXT_CONTROLS = set("\t\n\r\f\v")


@dataclass(frozen=True)
class SourceFile:
    """A readable corpus file, decoded."""

    path: Path
    source: str  # repo-relative when possible
    fmt: str
    text: str
    sha256: str
    meta: dict[str, str | None]


@dataclass(frozen=True)
class Skipped:
    """A corpus file left out, with the reason in one line."""

    source: str
    reason: str


def display_path(path: Path, root: Path, corpus: Path | None = None) -> str:
    """The path relative to root when inside it, else relative to the corpus folder, with /
    separators: never an absolute path of the server, which answers and /config would show."""
    resolved = path.parent.resolve() / path.name  # a link is named as itself, not its target
    for base in (root, corpus):
        if base is not None and resolved.is_relative_to(base.resolve()):
            return resolved.relative_to(base.resolve()).as_posix()
    return path.name


def read_metadata(corpus: Path) -> dict[str, dict[str, str | None]]:
    """Per-file metadata from corpus/articles.json (optional)."""
    path = corpus / METADATA_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{path} is not valid JSON ({exc}); fix or remove it.") from exc
    if not isinstance(data, dict):
        raise CorpusError(f"{path} must map file names to metadata objects.")
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def load_corpus(corpus: Path, root: Path) -> tuple[list[SourceFile], list[Skipped]]:
    """Read every supported file under corpus, in name order; report what was skipped."""
    if not corpus.is_dir():
        raise CorpusError(f"corpus folder {corpus} does not exist.")
    metadata = read_metadata(corpus)
    files: list[SourceFile] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    # Everything but folders is listed, so a broken link or a pipe is reported, not ignored.
    for path in sorted(p for p in corpus.rglob("*") if not p.is_dir()):
        if (
            path.name == METADATA_FILE
            or path.name.lower() == "readme.md"
            or path.name.startswith(".")
        ):
            continue
        source = display_path(path, root, corpus)
        result = read_source(path, source, metadata.get(path.relative_to(corpus).as_posix(), {}))
        if isinstance(result, Skipped):
            skipped.append(result)
            continue
        key = fingerprint(result.text)
        if key in seen:
            skipped.append(Skipped(source, f"duplicate of {seen[key]}"))
        else:
            seen[key] = source
            files.append(result)
    return files, skipped


def fingerprint(text: str) -> str:
    """A hash that ignores what does not change an article: BOM, line endings, spacing."""
    words = unicodedata.normalize("NFC", text.removeprefix("\ufeff")).split()
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()


def read_source(path: Path, source: str, meta: dict[str, str | None]) -> SourceFile | Skipped:
    """Read one file, or say in one line why it cannot be used."""
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        return Skipped(source, f"unsupported file type '{path.suffix or path.name}'")
    raw = _read_bytes(path)
    if isinstance(raw, str):
        return Skipped(source, raw)
    if not raw.strip():
        return Skipped(source, "empty file")
    if raw.startswith(_UTF16_BOMS):
        return Skipped(source, "UTF-16 text; convert it, e.g. iconv -f utf-16 -t utf-8")
    if b"\x00" in raw:
        return Skipped(source, "binary file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(source, _not_utf8_reason(raw, exc))
    if _mostly_controls(text):
        return Skipped(source, "binary file (not text)")
    return SourceFile(path, source, fmt, text, hashlib.sha256(raw).hexdigest(), dict(meta))


def _read_bytes(path: Path) -> bytes | str:
    """The file's bytes, or the one-line reason they cannot be read."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            return "broken symbolic link"
        return "disappeared before it could be read"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (pipe, socket or device)"
    if info.st_size > MAX_BYTES:
        return f"larger than {MAX_BYTES // (1024 * 1024)} MB ({info.st_size} bytes)"
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # a file still growing cannot slip past the limit
    except FileNotFoundError:
        return "disappeared before it could be read"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if len(raw) > MAX_BYTES:
        return f"larger than {MAX_BYTES // (1024 * 1024)} MB (it grew while being read)"
    return raw


def _not_utf8_reason(raw: bytes, exc: UnicodeDecodeError) -> str:
    """Tell a legacy-encoded article from a binary file that happens to have no NUL byte."""
    try:
        legacy = raw.decode("cp1252")
    except UnicodeDecodeError:
        legacy = raw.decode("latin-1")
    if _mostly_controls(legacy):
        return "binary file (not text)"
    return (
        f"not UTF-8 (byte {exc.start} looks like Windows-1252/Latin-1); convert it, "
        "e.g. iconv -f cp1252 -t utf-8"
    )


def _mostly_controls(text: str) -> bool:
    """More than 1% control characters (tabs and line breaks aside): data, not an article."""
    controls = sum(
        1 for ch in text if ch not in _TEXT_CONTROLS and unicodedata.category(ch) == "Cc"
    )
    return controls > len(text) // 100
