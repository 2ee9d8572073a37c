"""The question log and the coverage-gap report built from it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime

import pytest

from retrieval.errors import FeedbackStoreError, HingeCoachError
from retrieval.records import Answer, Citation
from tests.helpers import run
from web.feedback import FeedbackStore
from web.gaps import build_report, group_similar, parse_since, question_key, write_csv


def answered(question: str) -> Answer:
    citation = Citation(1, "T", "corpus/x.txt", "Hinge at the hips.", 10, 28, "p", 0.9)
    return Answer(question, "Hinge at the hips. [1]", False, [citation])


def abstained(question: str) -> Answer:
    return Answer(question, "I couldn't find that in the articles.", True)


def test_log_keeps_questions_and_outcome_but_no_address(tmp_path):
    store = FeedbackStore(tmp_path / "log.sqlite3")
    store.log(answered("what is a hinge"), "api", "203.0.113.7")
    store.log(abstained("what should I eat"), "chat", "203.0.113.7")
    rows = store.questions()
    assert [(r.question, r.answered, r.channel) for r in rows] == [
        ("what is a hinge", True, "api"),
        ("what should I eat", False, "chat"),
    ]
    assert rows[0].sources == ["corpus/x.txt:10-28"]
    assert rows[0].client == rows[1].client is not None
    raw = b"".join(f.read_bytes() for f in tmp_path.glob("log.sqlite3*"))
    assert b"203.0.113.7" not in raw
    with sqlite3.connect(tmp_path / "log.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_client_ids_differ_per_address_and_cannot_be_recomputed_elsewhere(tmp_path):
    one, other = FeedbackStore(tmp_path / "a.sqlite3"), FeedbackStore(tmp_path / "b.sqlite3")
    assert one.client_id("198.51.100.1") != one.client_id("198.51.100.2")
    assert one.client_id("198.51.100.1") != other.client_id("198.51.100.1")  # key in memory
    assert one.client_id(None) is None


def test_rating_replaces_and_unknown_tokens_are_reported(tmp_path):
    store = FeedbackStore(tmp_path / "log.sqlite3")
    token = store.log(answered("knees?"), "api", "a")
    assert token and store.rate(token, "down")
    assert store.rate(token, "up")
    assert [q.rating for q in store.questions()] == ["up"]
    assert store.totals().up == 1 and store.totals().down == 0
    assert not store.rate("no-such-token", "up")
    with pytest.raises(FeedbackStoreError, match="rating must be"):
        store.rate(token, "meh")


def test_latest_token_finds_this_clients_answer(tmp_path):
    store = FeedbackStore(tmp_path / "log.sqlite3")
    store.log(answered("knees?"), "chat", "a")
    newer = store.log(answered("knees?"), "chat", "a")
    store.log(answered("knees?"), "chat", "b")
    assert store.latest_token("knees?", "chat", "a") == newer
    assert store.latest_token("knees?", "api", "a") is None


def test_report_refuses_a_missing_log(tmp_path):
    with pytest.raises(FeedbackStoreError, match="no question log"):
        FeedbackStore(tmp_path / "none.sqlite3", create=False)


def test_normalise_folds_trivial_variants():
    assert (
        question_key("  What is a HINGE?? ") == question_key("what is a hinge") == "what is a hinge"
    )


def test_group_similar_groups_wordings_and_counts_visitors(tmp_path, fake_embedder):
    store = FeedbackStore(tmp_path / "log.sqlite3")
    asked = [
        ("What should I eat before a workout?", "a"),
        ("what should I eat before a workout", "b"),
        ("eat before workout?", "c"),
        ("Is creatine safe?", "a"),
    ]
    for question, client in asked:
        store.log(abstained(question), "api", client)
    groups = group_similar(store.questions(answered=False), fake_embedder, threshold=0.6)
    assert [(g.label, g.count, g.visitors) for g in groups] == [
        ("What should I eat before a workout?", 3, 3),
        ("Is creatine safe?", 1, 1),
    ]
    assert groups[0].wordings == ["eat before workout?"]


def test_report_lists_gaps_and_disliked_answers(tmp_path, fake_embedder):
    store = FeedbackStore(tmp_path / "log.sqlite3")
    store.log(abstained("Is creatine safe?"), "api", "a")
    store.log(answered("how wide are my feet"), "api", "a")
    for client in ("a", "b"):
        token = store.log(answered("what about my knees"), "api", client)
        assert token is not None
        store.rate(token, "down")
    report = build_report(store, fake_embedder)
    text = "\n".join(report.lines())
    assert "4 question(s) from 2 visitor(s): 3 answered, 1 unanswered (25%)" in text
    assert "thumbs down 2" in text
    assert "   1×  Is creatine safe?" in text
    assert "   2×  what about my knees" in text and "corpus/x.txt:10-28" in text


def backdate(store: FeedbackStore, question: str, when: str) -> None:
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE questions SET asked_at = ? WHERE question = ?", (when, question))


def test_report_since_a_date_or_a_duration_reads_only_those_questions(tmp_path, fake_embedder):
    store = FeedbackStore(tmp_path / "log.sqlite3")
    store.log(abstained("Is creatine safe?"), "api", "a")
    token = store.log(answered("what about my knees"), "api", "b")
    assert token is not None
    store.rate(token, "down")
    store.log(abstained("How much is a membership?"), "api", "c")
    backdate(store, "Is creatine safe?", "2026-01-05T10:00:00+00:00")
    backdate(store, "what about my knees", "2026-01-05T11:00:00+00:00")
    backdate(store, "How much is a membership?", "2026-01-20T09:00:00+00:00")
    now = datetime(2026, 1, 21, 12, tzinfo=UTC)
    week = build_report(store, fake_embedder, since=parse_since("7d", now))
    assert (week.questions, week.answered, week.down) == (1, 0, 0)
    assert [g.label for g in week.gaps] == ["How much is a membership?"] and not week.disliked
    month = build_report(store, fake_embedder, since=parse_since("2026-01-01", now))
    assert (month.questions, month.down) == (3, 1) and month.disliked
    assert parse_since("36h", now) == datetime(2026, 1, 20, 0, tzinfo=UTC)
    assert parse_since("2w", now) == datetime(2026, 1, 7, 12, tzinfo=UTC)
    with pytest.raises(HingeCoachError, match="--since takes a date"):
        parse_since("last week", now)


def test_report_as_csv_has_a_row_per_gap_and_per_disliked_answer(tmp_path, fake_embedder):
    store = FeedbackStore(tmp_path / "log.sqlite3")
    for client in ("a", "b"):
        store.log(abstained("Is creatine safe?"), "api", client)
    token = store.log(answered('what about my "knees", then?'), "api", "a")
    assert token is not None
    store.rate(token, "down")
    out = io.StringIO()
    write_csv(build_report(store, fake_embedder), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows == [
        {
            "kind": "unanswered",
            "count": "2",
            "visitors": "2",
            "question": "Is creatine safe?",
            "also_asked": "",
            "answer": "",
            "sources": "",
        },
        {
            "kind": "thumbs down",
            "count": "1",
            "visitors": "",
            "question": 'what about my "knees", then?',
            "also_asked": "",
            "answer": "Hinge at the hips. [1]",
            "sources": "corpus/x.txt:10-28",
        },
    ]


def test_report_reads_the_log_the_settings_name(tmp_path, monkeypatch):
    """`report` takes --settings or HINGECOACH_SETTINGS, whose db wins over the default;
    --db wins over both."""
    settings_log, other_log = tmp_path / "gym.sqlite3", tmp_path / "other.sqlite3"
    FeedbackStore(settings_log).log(abstained("Do you sell protein bars?"), "api", "a")
    FeedbackStore(other_log).log(abstained("Where do I park?"), "api", "a")
    gym = tmp_path / "gym.toml"
    gym.write_text(f'gym_name = "Iron Oak"\ndb = "{settings_log}"\n', "utf-8")
    monkeypatch.delenv("HINGECOACH_SETTINGS", raising=False)
    monkeypatch.delenv("HINGECOACH_DB", raising=False)
    code, out = run(["report", "--settings", str(gym)])
    assert code == 0 and "Do you sell protein bars?" in out
    monkeypatch.setenv("HINGECOACH_SETTINGS", str(gym))
    code, out = run(["report", "--csv", "--since", "1d"])
    assert code == 0 and out.startswith("kind,count,") and "Do you sell protein bars?" in out
    code, out = run(["report", "--db", str(other_log), "--json"])
    assert code == 0 and json.loads(out)["gaps"][0]["label"] == "Where do I park?"
