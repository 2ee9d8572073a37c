"""Bad questions through the CLI and the chat handler: a clear reply or a plain abstention.

Real model, real corpus: garbage, attacks and other languages never crash, never echo
attacker text into the reply, and never quote anything the articles do not contain.
"""

from __future__ import annotations

import io
import json

import pytest

import app
from retrieval.batch import answer_lines
from tests.conftest import source_text
from tests.helpers import ATTACKER_TEXT, CASES, IDS, assert_inert_chat_html
from web import gradio_ui


@pytest.fixture()
def cli(monkeypatch, capsys, real_embedder, real_index_dir):
    """`hingecoach ask ... --index IX` in-process with the loaded model: (code, stdout, stderr)."""
    monkeypatch.setattr(app, "embedder_for", lambda settings: real_embedder)
    real_run = app.run

    def run(*argv):
        out = io.StringIO()  # run() binds sys.stdout when defined, so capsys cannot see it
        monkeypatch.setattr(app, "run", lambda args: real_run(args, stdout=out))
        with pytest.raises(SystemExit) as exit_info:
            app.main([*argv, "--index", str(real_index_dir)])
        return exit_info.value.code, out.getvalue(), capsys.readouterr().err

    return run


def check_record(record: dict, expected: str) -> None:
    if expected.startswith("error:"):
        assert record["error"].startswith(expected[6:])
        return
    assert record["abstained"] is (expected == "abstain")
    assert bool(record["citations"]) is (expected == "answer")
    for citation in record["citations"]:
        text = source_text(citation["source"])
        assert text[citation["start"] : citation["end"]] == citation["quote"]
    for marker in ATTACKER_TEXT:
        assert marker not in record["answer"]


@pytest.mark.parametrize(("question", "expected"), CASES, ids=IDS)
def test_cli_ask_gives_a_clear_reply_or_one_line_error(cli, question, expected):
    code, out, err = cli("ask", question, "--json")
    if expected.startswith("error:"):
        assert code == 1 and out == ""
        assert err.startswith(f"hingecoach: error: {expected[6:]}") and err.count("\n") == 1
        return
    assert code == 0
    record = json.loads(out)
    check_record(record, expected)
    code, text, _ = cli("ask", question)
    assert code == 0 and "\x1b" not in text and "\x00" not in text


def test_batch_mode_answers_every_bad_question_on_its_own_line(assistant):
    lines = [json.dumps({"question": q}) for q, _ in CASES]
    out = io.StringIO()
    code = answer_lines(assistant, io.StringIO("\n".join(lines) + "\n"), out, k=3)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == len(CASES)
    for record, (_, expected) in zip(records, CASES, strict=True):
        check_record(record, expected)
    assert code == 1  # some lines were errors, and the caller can tell


@pytest.mark.parametrize(("question", "expected"), CASES, ids=IDS)
def test_the_chat_gives_a_clear_reply_as_inert_html(assistant, question, expected):
    respond = gradio_ui.make_responder(assistant, app.Settings())
    updates = list(respond(question, [{"role": "user", "content": question}]))
    for update in updates:
        assert_inert_chat_html(update)
    final = updates[-1]
    if expected.startswith("error:"):
        assert final.startswith(f"<p>Sorry, {expected[6:]}")
    elif expected == "abstain":
        assert "couldn't find that in the articles" in final and "Sources" not in final
    else:
        assert "<strong>Sources</strong>" in final
    for marker in ATTACKER_TEXT:
        assert marker not in final


def test_a_line_that_is_not_utf8_does_not_lose_the_batch(
    monkeypatch, real_embedder, real_index_dir
):
    monkeypatch.setattr(app, "embedder_for", lambda settings: real_embedder)
    raw = b"what is a hip hinge\n\xff\xfe caf\xe9 hinge?\nhow much should my knees bend\n"
    stdin = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8")
    out = io.StringIO()
    code = app.run(["ask", "--json", "-", "--index", str(real_index_dir)], stdin=stdin, stdout=out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 0 and len(records) == 3
    assert records[1]["question"] == "\ufffd\ufffd caf\ufffd hinge?"
    assert records[0]["citations"] and records[2]["citations"]
