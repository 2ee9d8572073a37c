"""The hingecoach CLI contract, exercised command by command."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CORPUS
from tests.helpers import check_contract, cli, run


def test_ask_json_follows_the_contract(real_index_dir):
    code, out = run(
        ["ask", "why do I feel this in my quads?", "--json", "--index", str(real_index_dir)]
    )
    record = json.loads(out)
    assert code == 0 and not record["abstained"]
    check_contract(record)
    assert [c["n"] for c in record["citations"]] == list(range(1, len(record["citations"]) + 1))
    assert all(f"[{c['n']}]" in record["answer"] for c in record["citations"])


def test_ask_k_limits_citations(real_index_dir):
    _, out = run(
        ["ask", "what is a hip hinge", "--json", "--k", "1", "--index", str(real_index_dir)]
    )
    assert len(json.loads(out)["citations"]) == 1


def test_ask_text_lists_sources(real_index_dir):
    code, out = run(["ask", "how should my knees be", "--index", str(real_index_dir)])
    assert code == 0
    assert "[1]" in out and "corpus/" in out


def test_batch_mode_answers_every_line_in_order(real_index_dir):
    lines = "\n".join(
        [
            "what is a hip hinge",
            json.dumps({"question": "and my feet?", "history": ["how much should my knees bend"]}),
            "What should I eat before a workout?",
            "{not json",
            json.dumps({"question": "   "}),
        ]
    )
    code, out = run(["ask", "--json", "-", "--index", str(real_index_dir)], stdin=lines + "\n")
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 5
    assert records[0]["question"] == "what is a hip hinge"
    check_contract(records[0])
    assert any("mid-foot" in c["passage"] for c in records[1]["citations"])
    assert records[2]["abstained"] is True
    assert "invalid JSON" in records[3]["error"]
    assert "empty" in records[4]["error"]
    assert code == 1  # some lines failed, and the caller can tell


def test_ingest_prints_a_summary(tmp_path):
    code, out = run(["ingest", "--corpus", str(CORPUS), "--index", str(tmp_path / "ix")])
    assert code == 0
    assert "indexed 2 file(s)" in out and "reviews" in out
    assert (tmp_path / "ix" / "meta.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "hi", "--index", "/nonexistent/ix"], "no index at /nonexistent/ix"),
        (
            ["ingest", "--corpus", "/nonexistent/corpus", "--index", "/tmp/unused-ix"],
            "does not exist",
        ),
        (["ask", "-", "--index", "/nonexistent/ix"], "no index"),
        (["ask", "hi", "--k", "0"], "HINGECOACH_K (--k) must be a whole number from 1 to 10"),
    ],
)
def test_errors_are_one_line_without_traceback(args, message):
    result = cli(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_empty_question_is_a_one_line_error(real_index_dir):
    result = cli("ask", "   ", "--index", str(real_index_dir))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "hingecoach: error: the question is empty; type a question about the hip hinge."
    )
    assert "Traceback" not in result.stderr
