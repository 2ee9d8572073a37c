"""What visitors asked, whether it was answered, and their thumbs: the question log.

The log is what `hingecoach report` reads to show a gym which questions its articles miss.
It lives in a SQLite file (the default) or, for replicas that share it, in PostgreSQL
(`db` is then a postgresql:// URL); see web/logdb.py.

Answers never wait on a failing log: rows go through one bounded queue and one writer
thread (web/logwriter.py). While the log writes normally an answer waits for its row (a
few milliseconds, at most LOG_WAIT), so an answer a visitor got is on disk and can be
rated on any replica; while it is away (locked, read-only, disk full, server down) answers
go on at once, rows wait in memory, ratings are refused with LogUnavailableError (the API's
503), and every row that cannot be kept is counted and logged.

Client addresses are never stored: each becomes a keyed hash (HMAC-SHA256) whose key lives
only in memory, so the ids in the log cannot be turned back into addresses, even by
someone who has the log. A restart (or another replica) uses another key; that only makes
visitor counts approximate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from retrieval.errors import FeedbackStoreError
from retrieval.records import Answer
from web.logdb import Connection, LogDatabase, log_location, one_line, open_database
from web.logwriter import Job, LogWriter

RATINGS = ("up", "down")
LOG_WAIT = 0.5  # seconds an answer waits for its row, only while the log writes normally
ASK_WAIT = 3.0  # seconds a rating waits for the writer before it is refused (503)
QUEUE = 10_000  # rows that may wait in memory while the log is away
RATE_RETRIES = (0.2, 0.4, 0.8)  # seconds between looks for an id not (yet) in the log
TOKEN = re.compile(r"[A-Za-z0-9_-]{16}")  # what log() hands out: token_urlsafe(12)


class LogUnavailableError(FeedbackStoreError):
    """The log cannot take a rating right now (locked, read-only, full, server away)."""


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


def _insert(sql: str, row: tuple[Any, ...], db: Connection) -> None:
    db.execute(sql, row)


def _rate(find: str, upsert: str, token: str, rating: str, db: Connection) -> bool:
    found = db.execute(find, (token,)).fetchone()
    if found is None:
        return False
    db.execute(upsert, (found[0], rating, _now()))
    return True


def _latest(sql: str, params: tuple[Any, ...], db: Connection) -> str | None:
    found = db.execute(sql, params).fetchone()
    return found[0] if found else None


class FeedbackStore:
    """The question and feedback log (SQLite file or PostgreSQL URL), safe across threads.

    Args:
        location: a SQLite file's path, or a postgresql:// URL (see log_location).
        create: create or upgrade the log (serve); False only reads an existing one (report).
        queue_size: rows that may wait in memory while the log is unavailable.
    """

    def __init__(self, location: Path | str, create: bool = True, queue_size: int = QUEUE) -> None:
        self.location = log_location(location)
        self.path = self.location if isinstance(self.location, Path) else None
        self._key = secrets.token_bytes(32)  # in memory only: see the module docstring
        self.db: LogDatabase = open_database(self.location)
        self.problem: str | None = None  # why the log cannot be written, found at start
        self._queue_size = queue_size
        self._writer: LogWriter | None = None
        if not create:
            self._require_existing()
            return
        try:
            self.db.migrate()
        except FeedbackStoreError:
            raise
        except Exception as exc:
            if not self.db.is_transient(exc):  # e.g. no right to create tables there
                self.db.close()
                raise FeedbackStoreError(
                    f"cannot set up the question log {self.db.name}: {one_line(exc)}"
                ) from exc
            reason = one_line(exc)
            self.problem = (
                f"cannot write the question log {self.db.name} ({reason}): answers are "
                "served, questions wait in memory for it and ratings are refused until "
                "it can be written"
            )
        self._writer = LogWriter(self.db, queue_size, ready=self.problem is None)
        self._writer.problem = self.problem

    def _require_existing(self) -> None:
        try:
            exists = self.db.exists()
        except Exception as exc:
            if not self.db.is_transient(exc):
                raise
            self.db.close()
            raise FeedbackStoreError(
                f"cannot read the question log {self.db.name}: {one_line(exc)}"
            ) from exc
        if not exists:
            self.db.close()
            raise FeedbackStoreError(
                f"no question log at {self.db.name}; it is written while `hingecoach serve` runs."
            )

    @property
    def writer(self) -> LogWriter:
        if self._writer is None:
            raise FeedbackStoreError("this question log was opened for reading only.")
        return self._writer

    def close(self, seconds: float = 10.0) -> None:
        """Write what is queued (for `seconds` at most), then let go of the database."""
        if self._writer is not None:
            self._writer.close(seconds)
        self.db.close()

    def status(self) -> dict[str, Any]:
        """For /api/health: whether the log writes, rows waiting, rows lost since start."""
        writer = self.writer
        return {
            "status": "ok" if writer.available else "unavailable",
            "queued": writer.queued,
            "lost": writer.lost,
        }

    def client_id(self, address: str | None) -> str | None:
        """A stable pseudonym for a client address within this process (None stays None)."""
        if not address:
            return None
        return hmac.new(self._key, address.encode(), hashlib.sha256).hexdigest()[:16]

    def log(self, result: Answer, channel: str, address: str | None = None) -> str | None:
        """Record one answered or abstained question; returns its token, None if it is lost.

        Never raises and never holds the answer up while the log is unavailable: the row
        then waits in memory (or, past the queue's size, is counted lost).
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
        sql = self.db.sql(
            "INSERT INTO questions (token, asked_at, channel, client, question,"
            " answered, answer, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        job = Job(partial(_insert, sql, self.db.row(row)), token=token)
        if not self.writer.submit(job):
            return None
        if self.writer.available:
            job.wait(LOG_WAIT)
        return token

    def _ask(self, job: Job) -> Any:
        """Run a job in order after the rows queued before it; its result, or
        LogUnavailableError at once when the log cannot answer now."""
        writer = self.writer
        if not writer.available:
            raise LogUnavailableError(f"the question log is unavailable ({writer.problem})")
        if not writer.submit(job):
            raise LogUnavailableError("the question log is busy (its queue is full)")
        if not job.wait(ASK_WAIT):
            job.cancelled = True
            raise LogUnavailableError(f"the question log did not answer in {ASK_WAIT:g} s")
        if job.error is not None:
            raise LogUnavailableError(f"the question log refused it ({job.error})")
        return job.result

    def rate(self, token: str, rating: str) -> bool:
        """Thumbs up or down on a logged answer (a second rating replaces the first).

        Returns False when no answer has that token; raises LogUnavailableError when the
        log cannot take the rating now (the visitor may try again).
        """
        if rating not in RATINGS:
            raise FeedbackStoreError(f"rating must be 'up' or 'down', not {rating!r}.")
        find = self.db.sql("SELECT id FROM questions WHERE token = ?")
        upsert = self.db.sql(
            "INSERT INTO feedback (question_id, rating, rated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (question_id) DO UPDATE SET rating = excluded.rating,"
            " rated_at = excluded.rated_at"
        )
        found = bool(self._ask(Job(partial(_rate, find, upsert, token, rating))))
        # An id from another replica whose row is still on its way (that replica answered
        # before its commit, under load): look again for a moment before saying "no such id".
        for pause in RATE_RETRIES if not found and TOKEN.fullmatch(token) else ():
            time.sleep(pause)
            found = bool(self._ask(Job(partial(_rate, find, upsert, token, rating))))
            if found:
                break
        return found

    def latest_token(self, question: str, channel: str, address: str | None) -> str | None:
        """The token of this client's latest answer to exactly this question, if any."""
        sql = self.db.sql(
            "SELECT token FROM questions WHERE question = ? AND channel = ?"
            f" AND client {self.db.null_safe_equal} ? ORDER BY id DESC LIMIT 1"
        )
        params = self.db.row((question, channel, self.client_id(address)))
        found = self._ask(Job(partial(_latest, sql, params)))
        return str(found) if found is not None else None

    def flush(self, seconds: float = 10.0) -> bool:
        """Wait until the rows queued so far are written; False if not within `seconds`."""
        deadline = time.monotonic() + seconds
        job = Job(lambda db: None)
        while not self.writer.submit(job):  # a full queue: wait for room
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return job.wait(max(0.0, deadline - time.monotonic()))

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
        with self.db.transaction() as db:
            rows = db.execute(self.db.sql(sql + " ORDER BY q.id"), params).fetchall()
        return [
            LoggedQuestion(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], json.loads(r[7]), r[8])
            for r in rows
        ]

    def totals(self, since: str | None = None) -> Totals:
        """How many questions, answered, distinct visitors, thumbs up and down (of questions
        asked at or after `since`, when given)."""
        with self.db.transaction() as db:
            questions, answered, visitors = db.execute(
                self.db.sql(
                    "SELECT COUNT(*), COALESCE(SUM(answered), 0), COUNT(DISTINCT client)"
                    " FROM questions WHERE asked_at >= ?"
                ),
                (since or "",),
            ).fetchone()
            up, down = db.execute(
                self.db.sql(
                    "SELECT COALESCE(SUM(CASE WHEN f.rating = 'up' THEN 1 ELSE 0 END), 0),"
                    " COALESCE(SUM(CASE WHEN f.rating = 'down' THEN 1 ELSE 0 END), 0)"
                    " FROM feedback f JOIN questions q ON q.id = f.question_id"
                    " WHERE q.asked_at >= ?"
                ),
                (since or "",),
            ).fetchone()
        return Totals(int(questions), int(answered), int(visitors), int(up), int(down))


__all__ = ["FeedbackStore", "LogUnavailableError", "LoggedQuestion", "Totals", "log_location"]
