"""The public site's rate rules: which requests spend which per-client budget, and where
the budgets are counted.

A question costs the same budget whether it comes through the JSON API or the Gradio
chat; the chat's own traffic (a chat turn is several requests) has a wider budget of its own.

The counts live in this process's memory (`memory://`, the default) or in Redis
(`redis://host:port/n`), through the `limits` library's own storage, so that replicas
share one budget per visitor. If Redis cannot be reached, `rate_limit_fail` decides:
"open" lets requests through unchecked (logged, and counted in `unchecked`), "closed"
refuses them with a 503 until Redis answers again.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from limits.errors import StorageError
from limits.storage import storage_from_string

from web.guard import RateLimiter, Refusal, scale_limits
from web.logdb import redact

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)

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
STORAGE_SCHEMES = ("memory", "redis", "rediss")
# Redis is on the request's path: a slow or gone Redis must cost a request little, and
# once it has failed it is left alone for a moment instead of being asked by every request.
REDIS_TIMEOUT = 0.5  # seconds to connect or to answer
PAUSE = 1.0  # seconds without asking Redis after a failure
RETRY_AFTER = 5  # seconds a refused (fail-closed) visitor is told to wait


def rate_rule(method: str, path: str) -> str | None:
    """The rate limit a request counts against: "ask", "chat" (Gradio), "feedback" or none."""
    if method != "POST":
        return None
    if path == "/api/feedback":
        return "feedback"
    if not path.startswith(ANSWER_PATHS):
        return None
    return "ask" if path.startswith("/api/") else "chat"


def check_storage(uri: str) -> str:
    """memory:// or redis://host:port/n (rediss:// for TLS); ValueError for anything else."""
    parts = urlsplit(uri)
    if parts.scheme not in STORAGE_SCHEMES or not uri.startswith(f"{parts.scheme}://"):
        raise ValueError(
            f"rate_limit_storage {redact(uri)!r} is not memory:// or redis://host:port/n"
        )
    if parts.scheme != "memory" and not parts.hostname:
        raise ValueError(f"rate_limit_storage {redact(uri)!r} names no Redis host")
    if parts.scheme != "memory" and not re.fullmatch(r"/?\d*", parts.path):
        raise ValueError(f"rate_limit_storage {redact(uri)!r}: the database is a number, /0")
    return uri


def storage_problem(uri: str, fail: str) -> str | None:
    """Why the rate limits cannot be counted now (an unreachable Redis), for the start-up
    message; None when they can."""
    if check_storage(uri).startswith("memory://"):
        return None
    limiter = SharedRateLimiter({}, uri, fail_open=fail != "closed")
    if limiter.reachable():
        return None
    choice = "let through unchecked" if limiter.fail_open else "refused (503)"
    return (
        f"cannot reach the rate-limit storage {limiter.name}: requests are {choice} "
        "until it answers"
    )


class SharedRateLimiter(RateLimiter):
    """A RateLimiter counting in Redis, with a choice for when Redis cannot be reached.

    Args:
        rules: named limits, e.g. {"ask": "20/minute;300/day"}.
        uri: redis://host:port/n.
        fail_open: when Redis is away, let requests through (True) or refuse them (False).
    """

    remote = True

    def __init__(self, rules: Mapping[str, str], uri: str, fail_open: bool = True) -> None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options: dict[str, Any] = {
            "wrap_exceptions": True,  # every Redis failure arrives as limits' StorageError
            "key_prefix": "hingecoach",
            "socket_timeout": REDIS_TIMEOUT,
            "socket_connect_timeout": REDIS_TIMEOUT,
            "retry": Retry(NoBackoff(), 0),  # the pause below, not redis-py's retries
        }
        storage: Any = storage_from_string(uri, **options)
        super().__init__(rules, storage)
        self.name = redact(uri)
        self.fail_open = fail_open
        self.unchecked = 0  # requests let through without a check (fail-open)
        self.refused = 0  # requests refused because no check was possible (fail-closed)
        self.available = True
        self._storage = storage
        self._pause_until = 0.0
        self._lock = threading.Lock()

    def reachable(self) -> bool:
        """Whether Redis answers now (for the start-up message)."""
        try:
            return bool(self._storage.check())
        except Exception:
            return False

    def hit(self, rule: str, client: str) -> Refusal | None:
        if time.monotonic() < self._pause_until:
            return self._unchecked(None)
        try:
            refusal = super().hit(rule, client)
        except StorageError as exc:
            self._pause_until = time.monotonic() + PAUSE
            return self._unchecked(exc.storage_error)
        if not self.available:
            self.available = True
            log.warning(
                "rate limits: Redis %s answers again (%d request(s) let through unchecked,"
                " %d refused since start)",
                self.name,
                self.unchecked,
                self.refused,
            )
        return refusal

    def _unchecked(self, error: BaseException | None) -> Refusal | None:
        with self._lock:
            if self.fail_open:
                self.unchecked += 1
            else:
                self.refused += 1
        if error is not None and self.available:
            self.available = False
            choice = "letting requests through unchecked" if self.fail_open else "refusing them"
            log.warning(
                "rate limits: cannot reach Redis %s (%s); %s until it answers (rate_limit_fail=%s)",
                self.name,
                " ".join(str(error).split()),
                choice,
                "open" if self.fail_open else "closed",
            )
        return None if self.fail_open else Refusal("", RETRY_AFTER, status=503)

    def status(self) -> dict[str, Any]:
        return {
            "storage": "redis",
            "status": "ok" if self.available else "unavailable",
            "unchecked": self.unchecked,
            "refused": self.refused,
        }


def limiter_status(limiter: RateLimiter) -> dict[str, Any]:
    """For /api/health: where the limits count and, with Redis, whether it answers."""
    if isinstance(limiter, SharedRateLimiter):
        return limiter.status()
    return {"storage": "memory", "status": "ok"}


def site_limiter(
    rate_limit: str,
    feedback_rate_limit: str,
    storage: str = "memory://",
    fail: str = "open",
) -> RateLimiter:
    """The per-client limits of a site: questions (API and chat alike), chat requests, thumbs.

    Args:
        rate_limit: questions per client, e.g. "20/minute;300/day".
        feedback_rate_limit: thumbs per client, e.g. "60/minute".
        storage: memory:// (this process) or redis://host:port/n (shared by replicas).
        fail: "open" or "closed", when Redis cannot be reached.
    """
    chat = scale_limits(rate_limit, CHAT_REQUESTS_PER_QUESTION)
    rules = {"ask": rate_limit, "chat": chat, "feedback": feedback_rate_limit}
    if check_storage(storage).startswith("memory://"):
        return RateLimiter(rules)
    return SharedRateLimiter(rules, storage, fail_open=fail != "closed")
