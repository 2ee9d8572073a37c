"""Gradio's "Use via API", called with gradio_client against a live loopback server: /ask gives
the same JSON as POST /api/ask; /cue's output has a name."""

from __future__ import annotations

import httpx
import pytest

from tests.browser import running_server
from tests.helpers import check_contract

pytestmark = pytest.mark.slow  # a real server: see the README's inner loop


@pytest.fixture(scope="module")
def url(real_index_dir):
    with running_server("--index", str(real_index_dir), env={"HINGECOACH_COACH_TOOLS": "1"}) as u:
        yield u


@pytest.fixture(scope="module")
def client(url):
    from gradio_client import Client

    # analytics_enabled=False: otherwise gradio_client reports each call to Hugging Face.
    client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    assert client.analytics_enabled is False  # nothing but the loopback server is contacted
    return client


def test_ask_returns_the_same_json_as_the_http_api(url, client):
    question, history = "and my feet?", ["how much should my knees bend"]
    answer = client.predict(question=question, history=history, api_name="/ask")
    expected = httpx.post(
        f"{url}/api/ask", json={"question": question, "history": history}, timeout=60
    ).json()
    assert answer == expected
    check_contract(answer)
    assert any("mid-foot" in c["passage"] for c in answer["citations"])  # history was used
    alone = client.predict(question="how much should my knees bend", api_name="/ask")
    assert alone["question"] == "how much should my knees bend" and not alone["abstained"]


def test_ask_refuses_bad_input_in_one_sentence(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="the question is empty"):
        client.predict(question="   ", history=[], api_name="/ask")
    with pytest.raises(AppError, match="history must be a list of earlier questions"):
        client.predict(question="what is a hinge?", history="not a list", api_name="/ask")
    with pytest.raises(AppError, match="at most 10 earlier questions"):
        client.predict(question="what is a hinge?", history=["q"] * 11, api_name="/ask")


def test_use_via_api_lists_ask_and_a_named_cue_output_and_no_html_chat(client):
    described = client.view_api(return_format="dict", print_info=False)
    endpoints = described["named_endpoints"]
    assert set(endpoints) == {"/ask", "/cue"}  # the chat's HTML endpoint stays internal
    assert [p["parameter_name"] for p in endpoints["/ask"]["parameters"]] == [
        "question",
        "history",
    ]
    assert [r["label"] for r in endpoints["/cue"]["returns"]] == ["Cue check result"]
    shown = client.predict("soft knees", api_name="/cue")
    assert "Found: an article uses this wording." in shown
