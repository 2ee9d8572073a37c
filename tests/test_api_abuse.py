"""Bad questions and malformed requests through the HTTP API: a clear 4xx JSON, never a 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import app
from ingest.build import build_index
from retrieval.assistant import Assistant
from tests.conftest import CORPUS, ROOT, source_text
from tests.helpers import ATTACKER_TEXT, CASES, IDS
from web.feedback import FeedbackStore
from web.site import create_site


def site_client(assistant, tmp_path, **env) -> tuple[TestClient, FeedbackStore]:
    """The served site in-process; server errors come back as responses, not exceptions."""
    settings = app.Settings.from_env(
        {"HINGECOACH_RATE_LIMIT": "100000/minute", "HINGECOACH_ALLOWED_HOSTS": "coach.test", **env}
    )
    settings.db = tmp_path / "questions.sqlite3"
    store = FeedbackStore(settings.db)
    site = create_site(assistant, settings, store)
    return TestClient(site, base_url="http://coach.test", raise_server_exceptions=False), store


@pytest.fixture(scope="module")
def real_site(assistant, tmp_path_factory):
    return site_client(assistant, tmp_path_factory.mktemp("api-abuse"))


@pytest.fixture(scope="module")
def fake_site(fake_embedder, tmp_path_factory):
    root = tmp_path_factory.mktemp("api-fuzz")
    build_index(CORPUS, root / "index", fake_embedder, ROOT, progress=False)
    return site_client(Assistant(root / "index", fake_embedder), root)


@pytest.mark.parametrize(("question", "expected"), CASES, ids=IDS)
def test_bad_questions_get_an_answer_an_abstention_or_a_400(real_site, question, expected):
    client, _ = real_site
    response = client.post("/api/ask", json={"question": question})
    body = response.json()
    if expected.startswith("error:"):
        if len(question) > 30_000:  # over the request body limit before it is a question
            assert response.status_code == 413
            assert body == {"error": "the request body is larger than 32,768 bytes."}
        else:
            assert response.status_code == 400 and body == {"error": expected[6:]}
        return
    assert response.status_code == 200
    assert body["abstained"] is (expected == "abstain")
    for citation in body["citations"]:
        assert (
            source_text(citation["source"])[citation["start"] : citation["end"]]
            == (citation["quote"])
        )
    for marker in ATTACKER_TEXT:
        assert marker not in body["answer"]


MALFORMED = [
    (b"", 422, "invalid request: body: Field required."),
    (b"not json", 422, "invalid request: 0: JSON decode error."),
    (b"[]", 422, "invalid request: body: Input should be a valid dictionary"),
    (b"\xff\xfe\x00", 400, "There was an error parsing the body"),
    (b"[" * 20_000, 400, "There was an error parsing the body"),
    (b'{"question": NaN}', 422, "invalid request: question: Input should be a valid string."),
    (b'{"question": 5}', 422, "invalid request: question: Input should be a valid string."),
    (b'{"question": "hinge", "history": "x"}', 422, "history: Input should be a valid list."),
    (b'{"question": "hinge", "history": [1]}', 422, "history.0: Input should be a valid string"),
    (b'{"question": "hinge", "extra": 1}', 422, "extra: Extra inputs are not permitted."),
    (b'{"question": "' + b"x" * 40_000 + b'"}', 413, "the request body is larger than"),
]


@pytest.mark.parametrize(("body", "status", "message"), MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_requests_are_4xx_json(fake_site, body, status, message):
    client, _ = fake_site
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert message in response.json()["error"]


def test_bad_earlier_questions_do_not_sink_the_current_one(fake_site):
    client, _ = fake_site
    for history in (["\x00"], [" ", "\u200b"], ["x" * 5000], ["\udfff"]):
        body = json.dumps({"question": "how do I hinge?", "history": history})  # \\udfff escaped
        response = client.post(
            "/api/ask", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text


def test_a_lone_surrogate_is_answered_and_logged_not_a_500(fake_site):
    client, store = fake_site
    body = b'{"question": "\\ud800 how do I hinge?", "history": ["\\udfff"]}'
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json()["question"] == "\ufffd how do I hinge?"
    token = response.headers["x-answer-id"]
    assert [q.question for q in store.questions() if q.token == token] == ["\ufffd how do I hinge?"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
ASK_BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"question": st.text(max_size=200) | JSON_VALUES},
        optional={"history": st.lists(st.text(max_size=50), max_size=12) | JSON_VALUES},
    ).map(lambda v: json.dumps(v).encode()),
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(ASK_BODIES)
@example(b'{"question": "\\ud800"}')  # a lone surrogate once failed the log with a 500
@example(b'{"question": "ok", "history": ["\\u0000"]}')  # a blank earlier question: 400
@example(b'{"\\n": null}')  # a line break in a field name once made a two-line error
def test_no_request_body_makes_ask_fail_with_a_5xx(fake_site, body):
    client, _ = fake_site
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code < 500, (body, response.text)
    data = response.json()
    if response.status_code >= 400:
        assert set(data) == {"error"} and "\n" not in data["error"]
    else:
        assert set(data) >= {"question", "answer", "abstained", "citations"}


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200),
        st.fixed_dictionaries(
            {"id": st.text(max_size=80) | JSON_VALUES, "rating": st.text(max_size=5) | JSON_VALUES}
        ).map(lambda v: json.dumps(v).encode()),
    )
)
@example(b'{"id": "\\ud800", "rating": "up"}')
def test_no_feedback_body_fails_with_a_5xx(fake_site, body):
    client, _ = fake_site
    response = client.post(
        "/api/feedback", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code < 500, (body, response.text)
    assert response.status_code == 200 or set(response.json()) == {"error"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/ask", 405),
        ("PUT", "/api/feedback", 405),
        ("DELETE", "/api/ask", 405),
        ("GET", "/api/../api/nope", 404),
        ("POST", "/api/%00", 404),
    ],
)
def test_wrong_methods_and_routes_are_json(fake_site, method, path, status):
    client, _ = fake_site
    response = client.request(method, path)
    assert response.status_code == status and set(response.json()) == {"error"}
