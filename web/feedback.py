"""What visitors asked, whether it was answered, and their thumbs: a small SQLite log.

The log is what `hingecoach report` reads to show a gym which questions its articles miss.
Client addresses are never stored: each becomes a keyed hash (HMAC-SHA256) whose key lives
only in memory, so the ids in the file cannot be turned back into addresses, even by
someone who has the file. A restart starts new ids; that only makes visitor counts across
restarts approximate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from retrieval.errors import FeedbackStoreError
from retrieval.records import Answer

log = logging.getLogger(__name__)

RATINGS = ("up", "down")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,          -- public id handed to the client for its thumbs
    asked_at TEXT NOT NULL,              -- ISO 8601, UTC
    channel TEXT NOT NULL,               -- 'api' (API and widget) or 'chat' (Gradio page)
    client TEXT,                         -- keyed hash of the address, never the address
    question TEXT NOT NULL,
    answered INTEGER NOT NULL CHECK (answered IN (0, 1)),
    answer TEXT NOT NULL,
    sources TEXT NOT NULL                -- JSON list of "source:start-end"
);
CREATE INDEX IF NOT EXISTS questions_answered ON questions (answered);
CREATE TABLE IF NOT EXISTS feedback (
    question_id INTEGER PRIMARY KEY REFERENCES questions (id),
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    rated_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class LoggedQuestion:
    """One question as the log keeps it."""

    token: str
    asked_at: str
    channel: str
    client: str | None
    question: str
    answered: bool
    answer: str
    sources: list[str] = field(default_factory=list)
    rating: str | None = None


@dataclass(frozen=True)
class Totals:
    """Counts over the whole log."""

    questions: int
    answered: int
    visitors: int
    up: int
    down: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class FeedbackStore:
    """The question and feedback log in one SQLite file (WAL, safe across threads)."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = Path(path)
        self._key = secrets.token_bytes(32)  # in memory only: see the module docstring
        self._lock = threading.Lock()
        if not create and not self.path.exists():
            raise FeedbackStoreError(
                f"no question log at {self.path}; it is written while `hingecoach serve` runs."
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackStoreError(f"cannot open the question log {self.path}: {exc}") from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One short connection per call: cheap for SQLite, and WAL lets the report read
        # while the server writes.
        db = sqlite3.connect(self.path, timeout=5)
        try:
            db.execute("PRAGMA busy_timeout=5000")
            db.execute("PRAGMA foreign_keys=ON")
            with db:
                yield db
        finally:
            db.close()

    def client_id(self, address: str | None) -> str | None:
        """A stable pseudonym for a client address within this process (None stays None)."""
        if not address:
            return None
        return hmac.new(self._key, address.encode(), hashlib.sha256).hexdigest()[:16]

    def log(self, result: Answer, channel: str, address: str | None = None) -> str | None:
        """Record one answered or abstained question; returns its token, None if not saved.

        A logging failure (disk full, locked file) must never cost the visitor the answer,
        so it is reported in the server log and swallowed.
        """
        token = secrets.token_urlsafe(12)
        sources = [f"{c.source}:{c.start}-{c.end}" for c in result.citations]
        row = (
            token,
            _now(),
            channel,
            self.client_id(address),
            result.question,
            int(not result.abstained),
            result.answer,
            json.dumps(sources),
        )
        try:
            with self._lock, self._connect() as db:
                db.execute(
                    "INSERT INTO questions (token, asked_at, channel, client, question,"
                    " answered, answer, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
        except sqlite3.Error as exc:
            log.warning("question not logged: %s", exc)
            return None
        return token

    def rate(self, token: str, rating: str) -> bool:
        """Thumbs up or down on a logged answer (a second rating replaces the first).

        Returns False when no answer has that token.
        """
        if rating not in RATINGS:
            raise FeedbackStoreError(f"rating must be 'up' or 'down', not {rating!r}.")
        with self._lock, self._connect() as db:
            found = db.execute("SELECT id FROM questions WHERE token = ?", (token,)).fetchone()
            if found is None:
                return False
            db.execute(
                "INSERT INTO feedback (question_id, rating, rated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (question_id) DO UPDATE SET rating = excluded.rating,"
                " rated_at = excluded.rated_at",
                (found[0], rating, _now()),
            )
        return True

    def latest_token(self, question: str, channel: str, address: str | None) -> str | None:
        """The token of this client's latest answer to exactly this question, if any."""
        with self._connect() as db:
            found = db.execute(
                "SELECT token FROM questions WHERE question = ? AND channel = ?"
                " AND client IS ? ORDER BY id DESC LIMIT 1",
                (question, channel, self.client_id(address)),
            ).fetchone()
        return found[0] if found else None

    def questions(
        self, answered: bool | None = None, rating: str | None = None, since: str | None = None
    ) -> list[LoggedQuestion]:
        """Logged questions, oldest first, optionally only (un)answered or rated so, or asked
        at or after `since` (an ISO 8601 UTC time, as asked_at is stored)."""
        sql = (
            "SELECT q.token, q.asked_at, q.channel, q.client, q.question, q.answered, q.answer,"
            " q.sources, f.rating FROM questions q LEFT JOIN feedback f ON f.question_id = q.id"
            " WHERE q.asked_at >= ?"
        )
        params: list[object] = [since or ""]
        if answered is not None:
            sql += " AND q.answered = ?"
            params.append(int(answered))
        if rating is not None:
            sql += " AND f.rating = ?"
            params.append(rating)
        with self._connect() as db:
            rows = db.execute(sql + " ORDER BY q.id", params).fetchall()
        return [
            LoggedQuestion(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], json.loads(r[7]), r[8])
            for r in rows
        ]

    def totals(self, since: str | None = None) -> Totals:
        """How many questions, answered, distinct visitors, thumbs up and down (of questions
        asked at or after `since`, when given)."""
        with self._connect() as db:
            questions, answered, visitors = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(answered), 0), COUNT(DISTINCT client)"
                " FROM questions WHERE asked_at >= ?",
                (since or "",),
            ).fetchone()
            up, down = db.execute(
                "SELECT COALESCE(SUM(f.rating = 'up'), 0), COALESCE(SUM(f.rating = 'down'), 0)"
                " FROM feedback f JOIN questions q ON q.id = f.question_id WHERE q.asked_at >= ?",
                (since or "",),
            ).fetchone()
        return Totals(questions, answered, visitors, up, down)
