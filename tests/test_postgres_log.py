"""The question log in PostgreSQL, with a real server: the same log as SQLite, shared by
replicas, migrated once however many start together, and never holding answers up when the
server goes away."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest

from retrieval.errors import FeedbackStoreError
from retrieval.records import Answer, Citation
from tests.browser import free_port
from tests.helpers import run
from web.feedback import FeedbackStore, LogUnavailableError

pytestmark = pytest.mark.slow  # a real PostgreSQL server


def answered(question: str) -> Answer:
    citation = Citation(1, "T", "corpus/x.txt", "Hinge at the hips.", 10, 28, "p", 0.9)
    return Answer(question, "Hinge at the hips. [1]", False, [citation])


@pytest.fixture
def database(postgres) -> str:
    """A new, empty database on the session's server; its URL."""
    return postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")


def test_replicas_starting_at_once_migrate_the_log_once(database):
    stores: list[FeedbackStore] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_log() -> None:
        start.wait()
        try:
            stores.append(FeedbackStore(database))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=open_log) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(stores) == 4
    assert all(store.problem is None for store in stores)
    with psycopg.connect(database) as db:
        assert db.execute("SELECT version FROM schema_migrations").fetchall() == [(1,)]
    for store in stores:
        store.close()


def test_the_postgresql_log_keeps_what_the_sqlite_log_keeps(database, tmp_path):
    replica_a, replica_b = FeedbackStore(database), FeedbackStore(database)
    sqlite = FeedbackStore(tmp_path / "q.sqlite3")
    for store in (replica_a, sqlite):
        store.log(answered("what is a hinge"), "api", "203.0.113.7")
        store.log(Answer("what should I eat", "No article says.", True), "chat", None)
        store.log(answered("why\x00 my quads?"), "api", "203.0.113.7")  # NUL: not for PostgreSQL
    token = replica_a.log(answered("knees?"), "chat", "198.51.100.1")
    assert token is not None
    # The id a visitor got from replica A, rated on replica B: accepted, counted once.
    assert replica_b.rate(token, "down") and replica_b.rate(token, "up")
    assert not replica_b.rate("no-such-id", "up")
    assert replica_a.latest_token("knees?", "chat", "198.51.100.1") == token
    assert replica_a.latest_token("what should I eat", "chat", None) is not None
    pg = [(q.question, q.answered, q.channel, q.sources, q.client) for q in replica_b.questions()]
    lite = [(q.question, q.answered, q.channel, q.sources, q.client) for q in sqlite.questions()]
    assert pg[1] == lite[1] and pg[0][:4] == lite[0][:4] and pg[0][4] and pg[0][4] != "203.0.113.7"
    assert pg[2][0] == lite[2][0].replace("\x00", "\ufffd") and pg[2][1:4] == lite[2][1:4]
    assert [q.question for q in replica_b.questions()] == [
        "what is a hinge",
        "what should I eat",
        "why\ufffd my quads?",
        "knees?",
    ]
    assert replica_b.totals().up == 1 and replica_b.totals().questions == 4
    assert [q.rating for q in replica_b.questions(rating="up")] == ["up"]
    for store in (replica_a, replica_b, sqlite):
        store.close()


def test_postgresql_going_away_holds_no_answer_up_and_writing_resumes(postgres, caplog):
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    store = FeedbackStore(url, queue_size=8)
    before = store.log(answered("before"), "api", "a")
    postgres.stop()
    try:
        began = time.monotonic()
        tokens = [store.log(answered(f"during {n}"), "api", "a") for n in range(12)]
        assert time.monotonic() - began < 2.5  # the first waits at most LOG_WAIT, then none
        assert store.status()["status"] == "unavailable"
        with pytest.raises(LogUnavailableError):
            store.rate(before or "", "up")
        kept = [t for t in tokens if t is not None]
        assert store.status()["lost"] == len(tokens) - len(kept) > 0  # the queue holds 8
    finally:
        postgres.start()
    assert store.flush(30)
    after = store.log(answered("after"), "api", "a")
    assert store.rate(after or "", "up") and store.status()["status"] == "ok"
    written = [q.token for q in store.questions()]
    assert written == [before, *kept, after]
    messages = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("question log: row") for m in messages) == store.status()["lost"]
    assert any("writing again" in m for m in messages)
    store.close()


def test_report_reads_the_shared_log(database, postgres):
    store = FeedbackStore(database)
    store.log(Answer("Is creatine safe?", "No article says.", True), "api", "a")
    store.log(answered("how wide are my feet"), "chat", "b")
    store.close()
    code, out = run(["report", "--db", database])
    assert code == 0
    assert "2 question(s) from 2 visitor(s): 1 answered, 1 unanswered (50%)" in out
    assert "Is creatine safe?" in out


def test_report_on_a_database_without_the_log_or_unreachable_says_so_in_one_line(postgres):
    empty = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    with pytest.raises(FeedbackStoreError, match="no question log at postgresql://"):
        FeedbackStore(empty, create=False)
    gone = f"postgresql://hingecoach:pw@127.0.0.1:{free_port()}/x"  # nothing listens
    with pytest.raises(FeedbackStoreError, match=r"cannot read the question log .*:\*\*\*@"):
        FeedbackStore(gone, create=False)


def test_a_database_the_log_may_not_create_tables_in_is_refused_in_one_line(postgres, database):
    with psycopg.connect(postgres.admin_url, autocommit=True) as db:
        db.execute("DROP ROLE IF EXISTS visitor_only")
        db.execute("CREATE ROLE visitor_only LOGIN")  # PostgreSQL 15: no CREATE on public
    url = database.replace("postgresql://hingecoach@", "postgresql://visitor_only@")
    with pytest.raises(FeedbackStoreError) as refused:
        FeedbackStore(url)
    assert str(refused.value).startswith(f"cannot set up the question log {url}: permission")
    assert "\n" not in str(refused.value)
