"""Batch mode: one question or cue per input line, one JSON object per output line.

A line that fails becomes an {"error": ...} record of its own; the rest still run, and
the exit status says whether any failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from retrieval.errors import HingeCoachError
from retrieval.links import with_links

if TYPE_CHECKING:
    from retrieval.assistant import Assistant


def json_line(record: dict[str, Any]) -> str:
    """One JSON Lines record: U+2028, U+2029 and NEL escaped too, as line splitters see breaks."""
    text = json.dumps(record, ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")


def parse_line(line: str) -> tuple[str, list[str]]:
    """A question and its history from an input line: plain text, or a JSON object with
    "question" and optional "history"."""
    if not line.lstrip().startswith("{"):
        return line, []
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise HingeCoachError(f"invalid JSON line ({exc.msg}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("question"), str):
        raise HingeCoachError('a JSON line needs a "question" string.')
    history = data.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise HingeCoachError('"history" must be a list of earlier questions (strings).')
    return data["question"], history


def run_lines(
    lines: TextIO, out: TextIO, handle: Callable[[str], dict[str, Any]], field: str
) -> int:
    """Batch mode: one input per line, one JSON object per output line; a line that fails
    gets {field: line, "error": ...} and the exit status 1, and the rest still run."""
    failures = 0
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            record = handle(line)
        except HingeCoachError as exc:
            failures += 1
            record = {field: line, "error": str(exc)}
        out.write(json_line(record) + "\n")
        out.flush()
    return 1 if failures else 0


def answer_lines(assistant: Assistant, lines: TextIO, out: TextIO, k: int) -> int:
    """One question (or JSON object with history) per line, one answer per line."""

    def handle(line: str) -> dict[str, Any]:
        question, history = parse_line(line)
        return with_links(assistant.ask(question, history, k=k), assistant.index).to_json()

    return run_lines(lines, out, handle, "question")


def check_lines(assistant: Assistant, lines: TextIO, out: TextIO) -> int:
    """One cue per line, one cue check per line."""
    return run_lines(lines, out, lambda cue: assistant.check_cue(cue).to_json(), "cue")
