"""The question log's one writer: a bounded queue, drained by one thread, so that answers
never wait on the log, and nothing it fails to keep goes uncounted.

Request threads hand work (a row to insert, a rating, a read that must see the rows
before it) to the queue and go on; the writer applies it in order, a batch per
transaction. When the database is away (locked, read-only, disk full, server down), the
writer keeps the batch and retries with a growing pause, the rows behind it wait in the
queue, and work that needs an answer is told at once that the log is unavailable. A row
that cannot be kept (the queue is full, the database refuses that row, the server stops
before it is written) is counted in `lost` and logged, one line per row.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from web.logdb import LogDatabase, one_line

log = logging.getLogger(__name__)

BATCH = 200  # rows per transaction at most: one commit for many answers under load
RETRY_FIRST, RETRY_MAX = 0.1, 2.0  # seconds between attempts while the database is away


class Job:
    """One piece of work for the writer; `row` marks a question row (counted when lost)."""

    def __init__(self, work: Callable[[Any], Any], token: str | None = None) -> None:
        self.work = work
        self.token = token
        self.row = token is not None
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False  # whoever waited gave up: not applied if not yet begun
        self._done = threading.Event()

    def wait(self, seconds: float) -> bool:
        """True once applied (or refused: see `error`) within `seconds`."""
        return self._done.wait(seconds)

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self._done.set()


class LogWriter:
    """A bounded queue of Jobs and the one thread that applies them to a LogDatabase.

    Args:
        db: where the log is kept.
        capacity: jobs waiting at most; past that a new row is lost (counted) at once.
        ready: whether the schema is known to be in place (else migrated before writing).
    """

    def __init__(self, db: LogDatabase, capacity: int = 10_000, ready: bool = True) -> None:
        self.db = db
        self.capacity = capacity
        self.available = ready
        self.problem: str | None = None  # why the log is unavailable, while it is
        self._ready = ready
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=capacity)
        self._lost = 0
        self._lost_lock = threading.Lock()
        self._closing = threading.Event()
        self._give_up_at = float("inf")
        self._thread = threading.Thread(target=self._run, name="question-log-writer", daemon=True)
        self._thread.start()

    @property
    def lost(self) -> int:
        """Question rows that will never be written, since start."""
        return self._lost

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def submit(self, job: Job) -> bool:
        """Queue a job; False (and a row counted lost) when the queue is full or closed."""
        if self._closing.is_set():
            self._lose(job, "the server is stopping")
            return False
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self._lose(job, f"{self.capacity:,} rows already wait for the log")
            return False
        return True

    def close(self, seconds: float = 10.0) -> None:
        """Write what is queued, for `seconds` at most; what is left then is counted lost."""
        self._give_up_at = time.monotonic() + seconds
        self._closing.set()
        with contextlib.suppress(queue.Full):  # full: the writer is busy and will see _closing
            self._queue.put_nowait(None)  # wakes a writer waiting on an empty queue
        self._thread.join(seconds + 5)  # + one last attempt (a busy or connect timeout)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._lose(job, "the server stopped before writing it")

    def _run(self) -> None:
        while not (self._closing.is_set() and self._queue.empty()):
            first = self._queue.get()
            batch = [first] if first is not None else []
            while len(batch) < BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    batch.append(job)
            self._write(batch)

    def _write(self, batch: list[Job]) -> None:
        pause = RETRY_FIRST
        while True:
            batch = [job for job in batch if not job.cancelled]
            if not batch:
                return
            if time.monotonic() > self._give_up_at:  # stopping, and the log is still away
                for job in batch:
                    self._lose(job, "the log was still unavailable when the server stopped")
                return
            try:
                if not self._ready:
                    self.db.migrate()
                    self._ready = True
                with self.db.transaction() as db:
                    results = [job.work(db) for job in batch]
            except Exception as exc:
                if not self.db.is_transient(exc):
                    self._refused(batch, exc)
                    return
                self._unavailable(exc)
                time.sleep(max(0.0, min(pause, self._give_up_at - time.monotonic())))
                pause = min(pause * 2, RETRY_MAX)
                continue
            self._back()
            for job, result in zip(batch, results, strict=True):
                job.finish(result)
            return

    def _refused(self, batch: list[Job], exc: Exception) -> None:
        """The database refused the batch (not because it is away): find the job at fault."""
        if len(batch) > 1:
            for job in batch:
                self._write([job])
            return
        job = batch[0]
        if job.row:
            self._lose(job, f"the database refused it: {one_line(exc)}")
        else:
            log.warning("question log %s refused a request: %s", self.db.name, one_line(exc))
        job.finish(error=exc)

    def _unavailable(self, exc: Exception) -> None:
        reason = one_line(exc)
        if self.available:
            log.warning(
                "question log %s unavailable (%s): answers go on; up to %s rows wait for it",
                self.db.name,
                reason,
                f"{self.capacity:,}",
            )
        self.available, self.problem = False, reason
        self._ready = False  # migrate again first: a replaced file, a dropped table

    def _back(self) -> None:
        if not self.available:
            log.warning(
                "question log %s writing again (%s row(s) lost since start)",
                self.db.name,
                f"{self.lost:,}",
            )
        self.available, self.problem = True, None

    def _lose(self, job: Job, why: str) -> None:
        if job.row:
            with self._lost_lock:
                self._lost += 1
                lost = self._lost
            log.warning("question log: row %s lost: %s (%s lost since start)", job.token, why, lost)
        job.finish(error=RuntimeError(why))
