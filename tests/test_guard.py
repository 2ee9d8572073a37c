"""Origin allowlist, rate limits and body limits, on a tiny ASGI app."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from web.guard import Guard, OriginPolicy, RateLimiter, normalise_origin


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"bytes": len(body)})


def guarded(allowed=(), limit="3/minute", max_body=100) -> TestClient:
    inner = Starlette(routes=[Route("/ask", echo, methods=["POST"]), Route("/free", echo)])
    app = Guard(
        inner,
        origins=OriginPolicy(allowed),
        limiter=RateLimiter({"ask": limit}),
        rule_for=lambda method, path: "ask" if path == "/ask" else None,
        max_body=lambda path: max_body,
        nouns={"ask": "questions"},
    )
    return TestClient(app, base_url="http://coach.test")


def test_normalise_origin():
    assert normalise_origin("https://Gym.Example/") == "https://gym.example"
    assert normalise_origin("http://localhost:8000") == "http://localhost:8000"
    for bad in ("gym.example", "https://gym.example/page", "ftp://gym.example", "null"):
        with pytest.raises(ValueError, match="not an origin"):
            normalise_origin(bad)


def test_same_origin_and_allowlist_pass_others_get_403():
    client = guarded(allowed=["https://gym.example"])
    assert client.get("/free", headers={"Origin": "http://coach.test"}).status_code == 200
    assert client.get("/free", headers={"Origin": "https://gym.example"}).status_code == 200
    assert client.get("/free").status_code == 200  # no Origin: not a browser cross-origin call
    for origin in ("https://evil.example", "null", "http://gym.example"):
        response = client.get("/free", headers={"Origin": origin})
        assert response.status_code == 403
        assert response.json() == {"error": f"the origin {origin} may not use this assistant."}


def test_frame_ancestors_header_follows_the_allowlist():
    open_to_gym = guarded(allowed=["https://gym.example"]).get("/free")
    assert open_to_gym.headers["content-security-policy"] == (
        "frame-ancestors 'self' https://gym.example"
    )
    assert "x-frame-options" not in open_to_gym.headers
    same_only = guarded().get("/free")
    assert same_only.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert same_only.headers["x-frame-options"] == "SAMEORIGIN"


def test_rate_limit_answers_429_with_retry_after():
    client = guarded(limit="3/minute")
    assert [client.post("/ask").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.post("/ask")
    assert refused.status_code == 429
    assert refused.json()["error"].startswith("too many questions from your address (limit 3")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert client.get("/free").status_code == 200  # other routes are not counted


def test_body_limit_with_and_without_content_length():
    client = guarded(max_body=100)
    assert client.post("/ask", content=b"x" * 100).json() == {"bytes": 100}
    declared = client.post("/ask", content=b"x" * 101)
    assert declared.status_code == 413
    assert declared.json() == {"error": "the request body is larger than 100 bytes."}
    streamed = client.post("/ask", content=iter([b"x" * 60, b"x" * 60]))  # chunked
    assert streamed.status_code == 413


def test_bad_rate_limit_text_is_a_clear_error():
    with pytest.raises(ValueError, match="write it like '20/minute;500/day'"):
        RateLimiter({"ask": "lots"})


def test_chat_requests_get_a_multiple_of_the_question_budget():
    from web.guard import scale_limits

    assert scale_limits("20/minute;300/day", 10) == "200 per 1 minute;3000 per 1 day"
    assert scale_limits("5 per 2 hours", 3) == "15 per 2 hour"
    from web.rates import rate_rule

    # A chat turn is several Gradio requests, so they do not spend the question budget:
    # the chat handler counts each question once instead (see test_api).
    assert rate_rule("POST", "/gradio_api/queue/join") == "chat"
    assert rate_rule("POST", "/gradio_api/run/predict") == "chat"
    assert rate_rule("POST", "/api/ask") == "ask"
    assert rate_rule("GET", "/gradio_api/queue/data") is None
