"""Model-written answers against a real OpenAI-style streaming server on loopback.

The scripted server (tests/llm_server.py) answers by model name: a good answer, one
with a hallucinated sentence, citations to passages that do not exist, a malformed
stream, a hang, an HTTP error. Every case must end in a grounded reply.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from fastapi.testclient import TestClient

import app
from retrieval.assistant import Assistant
from retrieval.errors import LLMError
from retrieval.records import Answer
from retrieval.render import format_markdown
from retrieval.written.compose import DROP, Draft, WrittenSettings
from retrieval.written.llm import ChatModel, LLMConfig
from tests.conftest import source_text
from tests.llm_server import HALLUCINATED_SENTENCE, passage_numbers, scripted_llm
from web import gradio_ui
from web.feedback import FeedbackStore
from web.site import create_site

QUADS = "why do I feel this in my quads?"


@pytest.fixture(scope="module")
def llm_server():
    with scripted_llm(hang_seconds=4) as server:
        yield server


@pytest.fixture(scope="module")
def ask_with(llm_server, real_index_dir, real_embedder):
    """ask_with(model, **written) -> (items streamed, final answer)."""

    def run(model: str, **written) -> tuple[list[Draft | Answer], Answer]:
        config = LLMConfig(llm_server.base_url, model, timeout=1.0)
        assistant = Assistant(
            real_index_dir, real_embedder, llm=ChatModel(config), written=WrittenSettings(**written)
        )
        items = list(assistant.ask_stream(QUADS))
        final = items[-1]
        assert isinstance(final, Answer)
        assert all(isinstance(i, Draft) for i in items[:-1])
        return items, final

    return run


def assert_grounded(result: Answer) -> None:
    """Every quote is verbatim and every number shown names a listed citation."""
    numbers = [c.n for c in result.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    for c in result.citations:
        assert source_text(c.source)[c.start : c.end] == c.quote
    for s in result.sentences:
        assert set(s.citations) <= set(numbers)
        assert bool(s.citations) == s.supported
    for n in range(len(numbers) + 1, 20):
        assert f"[{n}]" not in result.answer


def test_good_answer_streams_checked_sentences_with_verbatim_quotes(ask_with, llm_server):
    items, result = ask_with("good")
    assert result.mode == "llm" and result.fallback is None
    assert len(items) >= 3  # drafts arrive sentence by sentence before the answer
    assert [len(i.answer.sentences) for i in items[:-1]] == sorted(
        len(i.answer.sentences) for i in items[:-1]
    )
    assert len(result.sentences) == 3 and all(s.supported for s in result.sentences)
    assert_grounded(result)
    assert "quad dominant" in result.answer
    record = result.to_json()
    assert record["mode"] == "llm"
    assert [set(s) for s in record["sentences"]] == [{"text", "citations", "supported"}] * 3
    prompt = llm_server.requests[-1]["messages"]
    assert (
        prompt[0]["role"] == "system" and "ONLY from the numbered passages" in prompt[0]["content"]
    )
    assert "[1] (" in prompt[1]["content"] and prompt[1]["content"].endswith(f"Question: {QUADS}")


def test_hallucinated_sentence_is_flagged_and_never_cited(ask_with):
    _, result = ask_with("hallucinated")
    assert result.mode == "llm"
    flagged = [s for s in result.sentences if not s.supported]
    assert [s.text for s in flagged] == [HALLUCINATED_SENTENCE.split(" {")[0] + "."]
    assert flagged[0].citations == () and flagged[0].reason
    assert "flat shoes" not in result.answer  # the plain answer carries supported sentences only
    assert_grounded(result)
    html = format_markdown(result)
    assert "<del>Wearing flat shoes" in html and "Not in the articles" in html


def test_drop_setting_leaves_unsupported_sentences_out(ask_with):
    _, result = ask_with("hallucinated", unsupported=DROP)
    assert result.mode == "llm"
    assert len(result.sentences) == 2 and all(s.supported for s in result.sentences)
    assert "flat shoes" not in format_markdown(result)


def test_citations_to_missing_passages_are_never_shown(ask_with, llm_server):
    _, result = ask_with("bad-citation")
    prompt = llm_server.requests[-1]["messages"][1]["content"]
    assert max(passage_numbers(prompt)) < 7  # the model cited [7] and [9] all the same
    assert result.mode == "llm"
    assert_grounded(result)
    assert len(result.citations) < 7
    overtraining = next(s for s in result.sentences if "overtraining" in s.text)
    assert not overtraining.supported and "missing passage" in overtraining.reason
    assert "[7]" not in format_markdown(result) and "[9]" not in format_markdown(result)


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("malformed", "malformed reply"),
        ("error", "HTTP 500"),
        ("mostly-unsupported", "only 1 of its 3 sentences is backed"),
    ],
)
def test_unusable_replies_fall_back_to_the_extractive_answer(ask_with, assistant, model, reason):
    _, result = ask_with(model)
    assert result.mode == "extractive" and result.sentences == []
    assert reason in (result.fallback or "")
    extractive = assistant.ask(QUADS)
    assert result.answer == extractive.answer and result.citations == extractive.citations
    assert result.to_json()["fallback"].startswith("Showing the quoted passages")


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("hang", "stopped mid-answer (silent for 1s)"),  # streams a little, then goes silent
        ("silent", "did not answer within 1s"),  # never sends a byte
    ],
)
def test_a_hanging_endpoint_times_out_into_the_extractive_answer(ask_with, model, reason):
    started = time.monotonic()
    _, result = ask_with(model)
    assert time.monotonic() - started < 3.5  # 1 s of silence is the configured limit
    assert result.mode == "extractive" and reason in (result.fallback or "")
    assert result.citations


def test_a_fallback_notice_reads_as_a_sentence_not_a_traceback(ask_with):
    _, result = ask_with("malformed")
    assert "Error" not in (result.fallback or "") and "(" not in (result.fallback or "")


def test_a_reply_that_trickles_past_the_deadline_is_cut_off(llm_server):
    model = ChatModel(LLMConfig(llm_server.base_url, "good", deadline=0.02))
    with pytest.raises(LLMError, match="took over"):
        list(model.stream([{"role": "user", "content": "hello"}]))


def test_abstention_is_retrievals_decision_and_the_model_is_not_called(
    llm_server, real_index_dir, real_embedder
):
    assistant = Assistant(
        real_index_dir, real_embedder, llm=ChatModel(LLMConfig(llm_server.base_url, "good"))
    )
    before = len(llm_server.requests)
    result = assistant.ask("What should I eat before a workout?")
    assert result.abstained and result.mode == "extractive"
    assert len(llm_server.requests) == before


def test_without_an_endpoint_nothing_changes(assistant):
    items = list(assistant.ask_stream(QUADS))
    assert len(items) == 1 and items[0] == assistant.ask(QUADS)
    record = items[0].to_json()
    assert record["mode"] == "extractive" and "sentences" not in record and "fallback" not in record


def test_cli_ask_json_in_llm_mode_keeps_the_contract(llm_server, real_index_dir):
    out = io.StringIO()
    code = app.run(
        ["ask", QUADS, "--json", "--index", str(real_index_dir),
         "--llm-base-url", llm_server.base_url, "--llm-model", "hallucinated"],
        stdout=out,
    )  # fmt: skip
    record = json.loads(out.getvalue())
    assert code == 0 and record["mode"] == "llm"
    assert [s["supported"] for s in record["sentences"]] == [True, True, False]
    # The struck-through sentence says why; supported ones carry no reason.
    assert record["sentences"][2]["reason"] and "reason" not in record["sentences"][0]
    for citation in record["citations"]:
        assert (
            source_text(citation["source"])[citation["start"] : citation["end"]]
            == (citation["quote"])
        )
    cited = {n for s in record["sentences"] for n in s["citations"]}
    assert cited == {c["n"] for c in record["citations"]}


def test_chat_streams_the_written_answer_with_the_flag(llm_server, real_index_dir, real_embedder):
    settings = app.Settings(
        index=real_index_dir, llm_base_url=llm_server.base_url, llm_model="hallucinated"
    )
    assistant = Assistant(real_index_dir, real_embedder, **app.written_answer_options(settings))
    updates = list(gradio_ui.make_responder(assistant, settings)(QUADS, []))
    assert (
        len(updates) >= 3 and updates[0].endswith("…</em></p>") and updates[1].endswith("<p>…</p>")
    )
    assert "<del>Wearing flat shoes" in updates[-1] and "<strong>Sources</strong>" in updates[-1]


def test_llm_settings_come_from_env_and_bad_ones_are_one_line_errors():
    settings = app.Settings.from_env(
        {"HINGECOACH_LLM_BASE_URL": "http://127.0.0.1:1/v1", "HINGECOACH_LLM_MODEL": "m",
         "HINGECOACH_LLM_TIMEOUT": "2.5", "HINGECOACH_LLM_UNSUPPORTED": "drop"}
    )  # fmt: skip
    assert (settings.llm_model, settings.llm_timeout, settings.llm_unsupported) == (
        "m",
        2.5,
        "drop",
    )
    app.check_llm_settings(settings)
    assert app.written_answer_options(app.Settings()) == {}  # off when unset
    for bad, message in [
        ({"llm_base_url": "http://x/v1"}, "set HINGECOACH_LLM_MODEL too"),
        ({"llm_model": "m"}, "HINGECOACH_LLM_BASE_URL is not"),
        ({"llm_base_url": "localhost:11434", "llm_model": "m"}, "must start with http"),
    ]:
        with pytest.raises(app.HingeCoachError, match=message):
            app.check_llm_settings(app.Settings(**bad))


def test_health_says_a_language_model_writes_the_answers(
    llm_server, real_index_dir, real_embedder, tmp_path
):
    assistant = Assistant(
        real_index_dir, real_embedder, llm=ChatModel(LLMConfig(llm_server.base_url, "good"))
    )
    settings = app.Settings.from_env({})
    site = create_site(assistant, settings, FeedbackStore(tmp_path / "fb.db"))
    health = TestClient(site, base_url="http://127.0.0.1").get("/api/health").json()
    assert health["answers"] == "llm" and health["llm_model"] == "good"
    assert llm_server.base_url not in json.dumps(health)  # the endpoint stays private
