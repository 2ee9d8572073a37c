"""Find and read corpus files; decide which ones can be ingested."""

from __future__ import annotations

import hashlib
import json
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


def display_path(path: Path, root: Path) -> str:
    """The path relative to root when inside it, else absolute, with / separators."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


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
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        if (
            path.name == METADATA_FILE
            or path.name.lower() == "readme.md"
            or path.name.startswith(".")
        ):
            continue
        source = display_path(path, root)
        result = read_source(path, source, metadata.get(path.relative_to(corpus).as_posix(), {}))
        if isinstance(result, Skipped):
            skipped.append(result)
        elif result.sha256 in seen:
            skipped.append(Skipped(source, f"duplicate of {seen[result.sha256]}"))
        else:
            seen[result.sha256] = source
            files.append(result)
    return files, skipped


def read_source(path: Path, source: str, meta: dict[str, str | None]) -> SourceFile | Skipped:
    """Read one file, or say in one line why it cannot be used."""
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        return Skipped(source, f"unsupported file type '{path.suffix or path.name}'")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return Skipped(source, f"larger than {MAX_BYTES // (1024 * 1024)} MB ({size} bytes)")
        raw = path.read_bytes()
    except OSError as exc:
        return Skipped(source, f"cannot be read ({exc.strerror or exc})")
    if not raw.strip():
        return Skipped(source, "empty file")
    if b"\x00" in raw:
        return Skipped(source, "binary file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(
            source,
            f"not UTF-8 (byte {exc.start}); convert it, e.g. iconv -f cp1252 -t utf-8",
        )
    return SourceFile(path, source, fmt, text, hashlib.sha256(raw).hexdigest(), dict(meta))
