"""Where the question log lives: a SQLite file, or a PostgreSQL database that replicas share.

Both hold the same schema, created and upgraded by the same versioned migrations at start.
A LogDatabase gives the log's writer and readers a transaction, the dialect's few
differences, and tells apart the errors that mean "the database is away for now" (retry:
locked, read-only, disk full, server down) from those that refuse one row.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from retrieval.errors import FeedbackStoreError

# (version, statements). {id} and {ref} are the dialect's key types. A migration is only
# ever added, never edited: a log records the versions it has, and gets the ones it lacks.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE IF NOT EXISTS questions (
                id {id},
                token TEXT NOT NULL UNIQUE,          -- public id handed out for the thumbs
                asked_at TEXT NOT NULL,              -- ISO 8601, UTC
                channel TEXT NOT NULL,               -- 'api' (API and widget) or 'chat'
                client TEXT,                         -- keyed hash of the address, never it
                question TEXT NOT NULL,
                answered INTEGER NOT NULL CHECK (answered IN (0, 1)),
                answer TEXT NOT NULL,
                sources TEXT NOT NULL                -- JSON list of "source:start-end"
            )""",
            "CREATE INDEX IF NOT EXISTS questions_answered ON questions (answered)",
            """CREATE TABLE IF NOT EXISTS feedback (
                question_id {ref} PRIMARY KEY REFERENCES questions (id),
                rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
                rated_at TEXT NOT NULL
            )""",
        ],
    ),
]
VERSIONS = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL
)"""
# pg_advisory_xact_lock key: replicas starting at once migrate one after the other.
MIGRATION_LOCK = 0x68696E6765  # "hinge"
URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
POSTGRES_SCHEMES = ("postgresql", "postgres")


def log_location(value: str | Path) -> Path | str:
    """The question log a setting names: a SQLite file's Path, or a postgresql:// URL.

    Anything that starts like a URL (`scheme:`) is a URL, never a file name: a URL of
    another kind is refused, so a typo cannot create a directory named `postgresql:`.
    (A file whose name has a colon can still be named as ./name.)
    """
    text = str(value).strip()
    match = URL_LIKE.match(text)
    if not text:
        raise FeedbackStoreError("db must name a file or a postgresql:// URL.")
    if match is None:
        return Path(text)
    scheme = match.group(0)[:-1].lower()
    if scheme in POSTGRES_SCHEMES and text[len(scheme) + 1 :].startswith("//"):
        return text
    shown = redact(text)
    raise FeedbackStoreError(
        f"db {shown!r} is not a file path or a postgresql:// URL; the question log is a "
        "SQLite file or PostgreSQL (write a file name with a colon as ./name)."
    )


def redact(url: str) -> str:
    """A URL fit for a log line: its password (if any) replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def one_line(exc: BaseException) -> str:
    """An error's first line (PostgreSQL adds the statement and a caret on later ones)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Any = ...) -> Cursor: ...


class LogDatabase(Protocol):
    """What the question log needs from where it is kept."""

    name: str  # for messages: the path, or the URL without its password
    null_safe_equal: str  # SQL for "equal, or both NULL"

    def transaction(self) -> AbstractContextManager[Connection]:
        """A connection in a transaction, committed when the block ends without error."""

    def sql(self, text: str) -> str:
        """A statement written with ? placeholders, in this dialect."""

    def row(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """Values as this database can store them."""

    def migrate(self) -> None:
        """Create or upgrade the schema, and prove the log can be written to."""

    def exists(self) -> bool:
        """True when the log has been created (`report` reads only an existing one)."""

    def is_transient(self, exc: BaseException) -> bool:
        """True for "away for now" (retry later); False for an error about this work."""

    def close(self) -> None:
        """Let go of connections."""


def _apply_migrations(db: Connection, placeholder: str, id_type: str, ref_type: str) -> None:
    db.execute(VERSIONS)
    done = {row[0] for row in db.execute("SELECT version FROM schema_migrations").fetchall()}
    for version, statements in MIGRATIONS:
        if version in done:
            continue
        for statement in statements:
            db.execute(statement.format(id=id_type, ref=ref_type))
        db.execute(
            f"INSERT INTO schema_migrations (version, applied_at) VALUES ({placeholder},"
            f" {placeholder})",
            (version, _now()),
        )


class SqliteLog:
    """The log in one SQLite file (WAL: the report reads while the server writes)."""

    null_safe_equal = "IS"

    def __init__(self, path: Path, busy_seconds: float = 1.0) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        # Short: the writer retries a locked log itself, and answers never wait on it.
        self.busy_seconds = busy_seconds

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        db = sqlite3.connect(self.path, timeout=self.busy_seconds)
        try:
            db.execute("PRAGMA foreign_keys=ON")
            with db:
                yield db
        finally:
            db.close()

    def sql(self, text: str) -> str:
        return text

    def row(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return values

    def migrate(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FeedbackStoreError(
                f"cannot create the question log {self.path}: {exc.strerror}."
            ) from exc
        try:
            self._migrate()
        except sqlite3.OperationalError as exc:
            read_only = [p for p in (self.path, self.path.parent) if not writable(p)]
            if read_only:  # "unable to open database file" says less than this
                raise sqlite3.OperationalError(f"{read_only[0]} is read-only; {exc}") from exc
            raise

    def _migrate(self) -> None:
        db = sqlite3.connect(self.path, timeout=self.busy_seconds, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # IMMEDIATE takes the write lock at once: a read-only or locked file says so here,
            # at start, even when the schema is already up to date.
            db.execute("BEGIN IMMEDIATE")
            try:
                _apply_migrations(db, "?", "INTEGER PRIMARY KEY", "INTEGER")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def exists(self) -> bool:
        return self.path.is_file()

    def is_transient(self, exc: BaseException) -> bool:
        # Locked, busy, read-only, disk full, I/O error, cannot open, no such table.
        return isinstance(exc, (sqlite3.OperationalError, OSError))

    def close(self) -> None:
        pass


def writable(path: Path) -> bool:
    """False for an existing file or folder this process cannot write (modes, a read-only
    mount: access(2) says EROFS even to root)."""
    return not path.exists() or os.access(path, os.W_OK)


class PostgresLog:
    """The log in a PostgreSQL database, through psycopg 3's connection pool."""

    null_safe_equal = "IS NOT DISTINCT FROM"

    def __init__(self, url: str, connect_seconds: float = 2.0) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self.name = redact(url)
        # The pool would log each failed reconnection (two lines each) while the server is
        # away; the log's writer says when it goes away and comes back, once.
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        try:
            psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise FeedbackStoreError(f"db {self.name!r} is not a valid PostgreSQL URL.") from exc
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=2,  # the log's one writer, and a reader now and then
            open=False,
            timeout=connect_seconds,  # a connection from the pool, or PoolTimeout
            check=ConnectionPool.check_connection,  # a restarted server's dead connections
            kwargs={
                "connect_timeout": max(1, round(connect_seconds)),
                "application_name": "hingecoach",
            },
            name="question-log",
        )
        self.pool.open(wait=False)

    def transaction(self) -> AbstractContextManager[Connection]:
        return self.pool.connection()  # commits at the end of the block, else rolls back

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def row(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        # PostgreSQL text cannot hold NUL; a question may (it is answered all the same).
        return tuple(v.replace("\x00", "\ufffd") if isinstance(v, str) else v for v in values)

    def migrate(self) -> None:
        with self.pool.connection() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            _apply_migrations(db, "%s", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BIGINT")
            if db.execute("SHOW transaction_read_only").fetchone() == ("on",):
                raise ReadOnlyError("the database is read-only")

    def exists(self) -> bool:
        with self.pool.connection() as db:
            found = db.execute("SELECT to_regclass('questions')").fetchone()
        return found is not None and found[0] is not None

    def is_transient(self, exc: BaseException) -> bool:
        import psycopg
        from psycopg import errors

        return isinstance(
            exc,
            (
                psycopg.OperationalError,  # server gone or restarting, pool timeout
                psycopg.InterfaceError,  # a connection that was closed under us
                errors.ReadOnlySqlTransaction,
                errors.UndefinedTable,  # dropped: the next attempt migrates again
                ReadOnlyError,
            ),
        )

    def close(self) -> None:
        self.pool.close(timeout=2)


class ReadOnlyError(Exception):
    """The database takes no writes."""


def open_database(location: Path | str) -> LogDatabase:
    """The LogDatabase for a location from log_location."""
    if isinstance(location, Path):
        return SqliteLog(location)
    return PostgresLog(location)
