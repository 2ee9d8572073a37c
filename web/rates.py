"""The public site's rate rules: which requests spend which per-client budget.

A question costs the same budget whether it comes through the JSON API or the Gradio
chat; the chat's own traffic (a chat turn is several requests) has a wider budget of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from web.guard import RateLimiter

# Requests that compute an answer, through the API or through Gradio's chat endpoints.
ANSWER_PATHS = (
    "/api/ask",
    "/api/cue",
    "/gradio_api/queue/join",
    "/gradio_api/call/",
    "/gradio_api/run/",
    "/gradio_api/api/",
)
# One chat turn is about eight requests to Gradio (textbox, history, queue, ...): the chat's
# requests get this many times the question budget, and the chat handler itself counts
# each question against the budget it shares with the API.
CHAT_REQUESTS_PER_QUESTION = 10
# What each rule counts, for the 429 message ("too many questions").
RATE_NOUNS = {"ask": "questions", "chat": "chat requests", "feedback": "ratings"}


def rate_rule(method: str, path: str) -> str | None:
    """The rate limit a request counts against: "ask", "chat" (Gradio), "feedback" or none."""
    if method != "POST":
        return None
    if path == "/api/feedback":
        return "feedback"
    if not path.startswith(ANSWER_PATHS):
        return None
    return "ask" if path.startswith("/api/") else "chat"


def site_limiter(rate_limit: str, feedback_rate_limit: str) -> RateLimiter:
    """The per-client limits of a site: questions (API and chat alike), chat requests, thumbs.

    Args:
        rate_limit: questions per client, e.g. "20/minute;300/day".
        feedback_rate_limit: thumbs per client, e.g. "60/minute".
    """
    from web.guard import RateLimiter, scale_limits

    chat = scale_limits(rate_limit, CHAT_REQUESTS_PER_QUESTION)
    return RateLimiter({"ask": rate_limit, "chat": chat, "feedback": feedback_rate_limit})
