"""The question log when it cannot be written (locked, read-only, disk full): answers never
wait on it, ratings get a 503 with Retry-After, and every row it cannot keep is counted."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import app
from retrieval.errors import FeedbackStoreError
from retrieval.records import Answer, Citation
from tests.browser import free_port
from tests.conftest import ROOT
from web.feedback import LOG_WAIT, FeedbackStore, LogUnavailableError
from web.logdb import log_location, redact
from web.logwriter import Job
from web.site import create_site


def answered(question: str) -> Answer:
    citation = Citation(1, "T", "corpus/x.txt", "Hinge at the hips.", 10, 28, "p", 0.9)
    return Answer(question, "Hinge at the hips. [1]", False, [citation])


class Locked:
    """Another process's write lock on a SQLite log (what `sqlite3 log 'BEGIN EXCLUSIVE'` holds)."""

    def __init__(self, path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.db.execute("ROLLBACK")
        self.db.close()


def test_a_locked_log_holds_no_answer_up_and_its_rows_follow_once_released(tmp_path, caplog):
    store = FeedbackStore(tmp_path / "log.sqlite3")
    lock = Locked(store.path)
    began = time.monotonic()
    tokens = [store.log(answered(f"question {n}"), "api", "a") for n in range(20)]
    took = time.monotonic() - began
    # Before: each answer waited 5 s for the busy timeout (100 s here).
    assert took < LOG_WAIT * 2 + 1.5, took
    assert all(tokens) and store.status()["status"] == "unavailable"
    began = time.monotonic()
    with pytest.raises(LogUnavailableError):
        store.rate(tokens[0], "up")
    assert time.monotonic() - began < 0.5  # refused at once, not after a timeout
    lock.release()
    assert store.flush(15)
    assert [q.token for q in store.questions()] == tokens
    assert store.rate(tokens[0], "up") and store.status() == {
        "status": "ok",
        "queued": 0,
        "lost": 0,
    }
    lines = [r.getMessage() for r in caplog.records if r.name == "web.logwriter"]
    assert any("unavailable" in line for line in lines)
    assert any("writing again" in line for line in lines)


def test_rows_past_the_queue_are_counted_and_logged_one_line_each(tmp_path, caplog):
    store = FeedbackStore(tmp_path / "log.sqlite3", queue_size=5)
    lock = Locked(store.path)
    tokens = [store.log(answered(f"q{n}"), "chat", "a") for n in range(12)]
    kept = [t for t in tokens if t is not None]
    lost_lines = [r for r in caplog.records if "lost" in r.getMessage() and "row" in r.getMessage()]
    assert store.status()["lost"] == len(tokens) - len(kept) == len(lost_lines) > 0
    lock.release()
    assert store.flush(15)
    assert [q.token for q in store.questions()] == kept  # nothing kept is lost, nothing doubled


def test_rows_still_queued_at_stop_are_written_or_counted(tmp_path):
    store = FeedbackStore(tmp_path / "log.sqlite3")
    lock = Locked(store.path)
    for n in range(3):
        store.log(answered(f"q{n}"), "api", "a")
    store.close(seconds=0.5)  # the log stays locked past the deadline
    assert store.writer.lost == 3
    lock.release()


def test_the_api_answers_at_once_and_refuses_ratings_with_503_while_the_log_is_locked(
    assistant, tmp_path, caplog
):
    settings = app.Settings.from_env({"HINGECOACH_RATE_LIMIT": "1000/minute"})
    settings.db = tmp_path / "q.sqlite3"
    store = FeedbackStore(settings.db)
    site = create_site(assistant, settings, store)
    client = TestClient(site, base_url="http://127.0.0.1", raise_server_exceptions=False)
    token = client.post("/api/ask", json={"question": "how much should my knees bend"}).headers[
        "x-answer-id"
    ]
    lock = Locked(settings.db)
    try:
        began = time.monotonic()
        asked = [
            client.post("/api/ask", json={"question": "what is a hip hinge"}) for _ in range(5)
        ]
        assert time.monotonic() - began < 4  # before: 5 s each
        assert all(r.status_code == 200 and r.headers.get("x-answer-id") for r in asked)
        caplog.clear()
        rated = client.post("/api/feedback", json={"id": token, "rating": "down"})
        assert rated.status_code == 503  # before: a 500 and a traceback
        assert rated.headers["retry-after"] == "5"
        assert rated.json() == {
            "error": "the rating could not be recorded right now; try again in a few seconds."
        }
        lines = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "web.api"]
        assert len(lines) == 1 and not any(r.exc_info for r in caplog.records)
        assert client.get("/api/health").json()["log"]["status"] == "unavailable"
    finally:
        lock.release()
    assert store.flush(15)
    assert client.post("/api/feedback", json={"id": token, "rating": "down"}).status_code == 200
    assert len(store.questions()) == 6 and store.totals().down == 1


def test_a_full_disk_costs_the_rows_not_the_answers(tmp_path):
    # The log's file may not grow past its size at start: SQLite gets EFBIG, as on a full disk.
    script = textwrap.dedent(
        f"""
        import resource, signal, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from retrieval.records import Answer
        from web.feedback import FeedbackStore
        store = FeedbackStore({str(tmp_path / "q.sqlite3")!r}, queue_size=20)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
        began = time.monotonic()
        for n in range(60):
            store.log(Answer("q" * 2000 + str(n), "a" * 3000, False), "api", "x")
        took = time.monotonic() - began
        status = store.status()
        store.close(seconds=1)
        print(took, status["status"], store.writer.lost)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    took, status, lost = done.stdout.split()
    assert float(took) < 10 and status == "unavailable"
    written = len(FeedbackStore(tmp_path / "q.sqlite3", create=False).questions())
    assert written + int(lost) == 60 and int(lost) > 0
    assert "Traceback" not in done.stderr
    assert "lost" in done.stderr and "unavailable" in done.stderr


def read_only_serve(log_dir, port: int, index) -> list[str]:
    """`hingecoach serve` with the log's directory read-only: a read-only bind mount when
    root (root writes through file modes), else the file modes."""
    serve = [sys.executable, str(ROOT / "app.py"), "serve", "--port", str(port)]
    serve += ["--index", str(index), "--db", str(log_dir / "q.sqlite3")]
    if os.geteuid() != 0:
        for path in log_dir.iterdir():
            path.chmod(0o444)
        log_dir.chmod(0o555)
        return serve
    mount = f'mount --bind "{log_dir}" "{log_dir}" && mount -o remount,bind,ro "{log_dir}"'
    return ["unshare", "-m", "sh", "-c", f'{mount} && exec "$0" "$@"', *serve]


@pytest.mark.slow
def test_a_server_started_on_a_read_only_log_says_so_and_still_answers(real_index_dir, tmp_path):
    import httpx

    log_dir = tmp_path / "log"
    FeedbackStore(log_dir / "q.sqlite3").close()
    port = free_port()
    proc = subprocess.Popen(
        read_only_serve(log_dir, port, real_index_dir),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        asked = httpx.post(url + "/api/ask", json={"question": "what is a hip hinge"}, timeout=30)
        assert asked.status_code == 200
        rated = httpx.post(
            url + "/api/feedback", json={"id": asked.headers["x-answer-id"], "rating": "up"}
        )
        assert rated.status_code == 503 and rated.headers["retry-after"]
        assert httpx.get(url + "/api/health").json()["log"]["status"] == "unavailable"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    warning = [line for line in err.splitlines() if "warning" in line]
    assert warning and "is read-only" in warning[0] and str(log_dir) in warning[0], err
    assert warning[0].startswith("hingecoach: warning: cannot write the question log")
    assert "Traceback" not in err


def test_a_failing_log_costs_nothing_but_the_record(tmp_path):
    store = FeedbackStore(tmp_path / "log.sqlite3", queue_size=1)
    lock = Locked(store.path)
    tokens = [store.log(answered(q), "api", "a") for q in "xyz"]
    assert tokens[0] and tokens[1]  # the writer holds one, the queue the other
    assert tokens[2] is None  # past the queue: lost (counted), so no id to rate
    assert store.writer.lost == 1
    lock.release()


@pytest.mark.parametrize(
    "value",
    [
        "postgresql:/user@host/hc",  # one slash: still not a file
        "mysql://user@host/hc",
        "sqlite:///tmp/q.db",
        "https://example.com/q",
        "c:questions.db",
    ],
)
def test_a_url_is_never_taken_for_a_file_name(tmp_path, value):
    with pytest.raises(FeedbackStoreError, match="is not a file path or a postgresql:// URL"):
        log_location(value)


def test_the_db_setting_takes_a_path_or_a_postgresql_url():
    url = "postgresql://coach:secret@db.internal:5432/hc"
    assert app.Settings.from_env({"HINGECOACH_DB": url}).db == url
    assert log_location("postgres://h/hc") == "postgres://h/hc"
    assert app.Settings.from_env({"HINGECOACH_DB": "logs/q.sqlite3"}).db == Path("logs/q.sqlite3")
    assert log_location("./odd:name.db").name == "odd:name.db"
    assert redact(url) == "postgresql://coach:***@db.internal:5432/hc"


def test_serve_refuses_another_url_scheme_with_one_line_and_creates_nothing(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "serve", "--db", "mysql://coach:pw@h/hc"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "hingecoach: error: db 'mysql://coach:***@h/hc' is not a file path or a postgresql:// "
        "URL; the question log is a SQLite file or PostgreSQL (write a file name with a colon "
        "as ./name)."
    ]
    assert list(tmp_path.iterdir()) == []  # before: a directory named "mysql:"
    env_done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "report"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "HINGECOACH_DB": "postgresql:/h/hc", "PYTHONPATH": str(ROOT)},
    )
    assert env_done.returncode == 1 and "is not a file path" in env_done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_old_log_gets_the_versioned_schema_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # a log written before migrations were versioned
        db.executescript(
            "CREATE TABLE questions (id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE,"
            " asked_at TEXT NOT NULL, channel TEXT NOT NULL, client TEXT, question TEXT NOT NULL,"
            " answered INTEGER NOT NULL, answer TEXT NOT NULL, sources TEXT NOT NULL);"
            "INSERT INTO questions VALUES"
            " (1, 't', '2026-01-01', 'api', NULL, 'old?', 1, 'a', '[]');"
        )
    store = FeedbackStore(path)
    assert [q.question for q in store.questions()] == ["old?"]
    assert store.rate("t", "up")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_migrations").fetchall() == [(1,)]


def test_an_id_whose_row_is_still_on_its_way_from_another_replica_can_be_rated(tmp_path):
    # Two replicas on one log; replica A answers before its (busy) writer commits the row,
    # as under heavy load, and the visitor's thumb reaches replica B at once.
    replica_a, replica_b = (
        FeedbackStore(tmp_path / "q.sqlite3"),
        FeedbackStore(tmp_path / "q.sqlite3"),
    )
    replica_a.writer.submit(Job(lambda db: time.sleep(0.9)))
    token = replica_a.log(answered("knees?"), "api", "a")
    assert token is not None and replica_a.questions() == []  # answered, row not in yet
    assert replica_b.rate(token, "down")  # before: 404, "no answer has that id"
    assert [q.rating for q in replica_a.questions()] == ["down"]
    began = time.monotonic()
    assert not replica_b.rate("not-an-id", "up")  # not an id at all: no waiting
    assert time.monotonic() - began < 0.2


def test_a_chat_thumb_the_locked_log_cannot_take_warns_the_visitor_without_a_traceback(
    tmp_path, caplog
):
    from types import SimpleNamespace

    from web import gradio_ui

    store = FeedbackStore(tmp_path / "q.sqlite3")
    token = store.log(answered("knees?"), "chat", "192.0.2.1")
    lock = Locked(store.path)
    store.log(answered("feet?"), "chat", "192.0.2.1")  # the writer finds the log locked
    deadline = time.monotonic() + 10
    while store.status()["status"] != "unavailable" and time.monotonic() < deadline:
        time.sleep(0.1)
    reply = {"role": "assistant", "content": "Hinge.", "metadata": {"id": token}}
    history = [{"role": "user", "content": "knees?"}, reply]
    rate = gradio_ui.make_rater(store)
    with pytest.warns(UserWarning, match="could not be saved"):
        rate(SimpleNamespace(index=1, liked=False), history)  # before: an exception
    assert [r.getMessage() for r in caplog.records if r.name == "web.gradio_ui"] == [
        "rating not recorded: the question log is unavailable (database is locked)"
    ]
    lock.release()
