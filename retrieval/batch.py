"""Batch mode: one question or cue per input line, one JSON object per output line.

A line that fails becomes an {"error": ...} record of its own; the rest still run, and
the exit status says whether any failed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TextIO

from retrieval.errors import HingeCoachError

if TYPE_CHECKING:
    from retrieval.service import Assistant


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


def ask_stream(assistant: Assistant, lines: TextIO, out: TextIO, k: int) -> int:
    """Batch mode: one question (or JSON object) per input line, one JSON object per output line."""
    failures = 0
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            question, history = parse_line(line)
            record = assistant.ask(question, history, k=k).to_json()
        except HingeCoachError as exc:
            failures += 1
            record = {"question": line, "error": str(exc)}
        out.write(json_line(record) + "\n")
        out.flush()
    return 1 if failures else 0


def cue_stream(assistant: Assistant, lines: TextIO, out: TextIO) -> int:
    """Batch mode: one cue per input line, one JSON object per output line."""
    failures = 0
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            record = assistant.check_cue(line).to_json()
        except HingeCoachError as exc:
            failures += 1
            record = {"cue": line, "error": str(exc)}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return 1 if failures else 0
