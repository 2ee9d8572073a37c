"""`hingecoach cue` and `hingecoach cues`: the JSON contract, batch mode and errors."""

from __future__ import annotations

import io
import json

import pytest

import app
from tests.conftest import source_text
from tests.helpers import cli

MATCH_KEYS = {"kind", "title", "source", "heading", "quote", "start", "end", "score", "stance"}


def run(argv, stdin=""):
    out = io.StringIO()
    code = app.run(argv, stdin=io.StringIO(stdin), stdout=out)
    return code, out.getvalue()


def check_contract(record):
    assert set(record) == {"cue", "verdict", "matches", "differences"}
    assert record["verdict"] in ("found", "close", "not_found")
    for match in record["matches"]:
        assert set(match) == MATCH_KEYS
        assert match["stance"] in ("endorsed", "discouraged", "neutral")
        assert match["kind"] in ("found", "close", "related")
        # a found cue leads with a match in the cue's words; not_found lists only the nearest
        if record["verdict"] == "not_found":
            assert match["kind"] == "related"
        assert isinstance(match["score"], float)
        assert source_text(match["source"])[match["start"] : match["end"]] == match["quote"]


def test_cue_json_follows_the_contract(real_index_dir):
    code, out = run(
        ["cue", "bring your chest to your thighs", "--json", "--index", str(real_index_dir)]
    )
    record = json.loads(out)
    assert code == 0
    check_contract(record)
    assert record["verdict"] == "found" and record["matches"][0]["kind"] == "found"
    assert record["matches"][0]["stance"] == "discouraged"
    assert "chest towards thighs" in record["matches"][0]["quote"]


def test_cue_text_shows_verdict_matches_and_differences(real_index_dir):
    code, out = run(["cue", "soft knees", "--index", str(real_index_dir)])
    assert code == 0
    assert out.startswith("soft knees: Found")
    assert "[1] found, endorsed: Knees remain soft" in out
    assert "corpus/5-tips-for-your-hip-hinge.txt:" in out
    assert "! The articles' instructions on the knees differ" in out


def test_a_cue_no_article_says_lists_nearby_passages_without_a_stance(real_index_dir):
    # "bring our chest down" is discouraged by its article; shown as the cue's stance it would
    # read as if the articles warned against a proud chest.
    code, out = run(["cue", "proud chest", "--index", str(real_index_dir)])
    assert code == 0 and out.startswith("proud chest: Not found")
    matches = [line for line in out.splitlines() if line.startswith("[")]
    assert matches and all("related: near the cue, not the cue itself:" in m for m in matches)
    assert "discouraged" not in out and "endorsed" not in out


def test_cue_batch_mode_checks_every_line_in_order(real_index_dir):
    lines = "soft knees\nproud chest\n\n" + "x" * 300 + "\nthe\nbutt back\n"
    code, out = run(["cue", "--json", "-", "--index", str(real_index_dir)], stdin=lines)
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["cue"] for r in records] == [
        "soft knees",
        "proud chest",
        "x" * 300,
        "the",
        "butt back",
    ]
    assert [r.get("verdict") for r in records] == ["found", "not_found", None, None, "found"]
    assert "too long" in records[2]["error"] and "no words" in records[3]["error"]
    for record in records[:2] + records[4:]:
        check_contract(record)
    assert code == 1  # some lines failed, and the caller can tell


def test_cues_json_lists_cues_by_topic_with_offsets(real_index_dir):
    code, out = run(["cues", "--json", "--index", str(real_index_dir)])
    catalogue = json.loads(out)
    assert code == 0
    topics = [t["topic"] for t in catalogue["topics"]]
    assert {"hips", "knees", "shins", "spine", "ribs/breathing"} <= set(topics)
    assert catalogue["count"] == sum(len(t["cues"]) for t in catalogue["topics"])
    for topic in catalogue["topics"]:
        for cue in topic["cues"]:
            assert set(cue) == {"cue", "title", "source", "start", "end", "stance"}
            assert source_text(cue["source"])[cue["start"] : cue["end"]] == cue["cue"]


def test_cues_text_groups_by_topic(real_index_dir):
    code, out = run(["cues", "--index", str(real_index_dir)])
    assert code == 0
    assert "\nshins\n  Shins stay vertical — 5 Tips for Your Hip Hinge" in out
    assert "(warned against)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cue", "soft knees", "--index", "/nonexistent/ix"], "no index at /nonexistent/ix"),
        (["cues", "--index", "/nonexistent/ix"], "no index at /nonexistent/ix"),
        (["cue", "-"], "reading cues from stdin needs --json"),
    ],
)
def test_cue_errors_are_one_line_without_traceback(args, message):
    result = cli(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_empty_cue_is_a_one_line_error(real_index_dir):
    result = cli("cue", "  ", "--index", str(real_index_dir))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "hingecoach: error: the cue is empty; type a coaching cue such as 'soft knees'."
    )
