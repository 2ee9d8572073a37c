"""Protections for a public web endpoint, as plain ASGI middleware.

- an origin allowlist: cross-origin requests from elsewhere get 403, and every response
  says which pages may frame it (`Content-Security-Policy: frame-ancestors`);
- per-client rate limits (the `limits` library, moving window, in this process's memory or
  in Redis shared by replicas: see web/rates.py) answered with a 429 JSON body and
  `Retry-After`;
- request body limits, answered with 413 whether or not the client sent Content-Length;
- a deadline for a request's line and headers (timely_http, for uvicorn), as the Guard
  has one for its body: slow clients (slowloris) cannot hold connections for ever.

Plain ASGI rather than a framework's middleware base class so that streamed responses
(Gradio's server-sent events) pass through untouched. uvicorn is imported only by
timely_http, when a server starts.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage
from limits.strategies import MovingWindowRateLimiter

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]


def normalise_origin(origin: str) -> str:
    """'https://Gym.example/' -> 'https://gym.example'; ValueError when it is not an origin."""
    text = origin.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ValueError(
            f"{origin!r} is not an origin; write it as scheme://host[:port], "
            "e.g. https://www.example-gym.com"
        )
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class OriginPolicy:
    """Which web pages may call the API or frame the chat: same-origin plus an allowlist."""

    def __init__(self, allowed: Sequence[str] = ()) -> None:
        self.allowed = tuple(dict.fromkeys(normalise_origin(o) for o in allowed))

    def allows(self, origin: str, host: str | None) -> bool:
        """True for an allowlisted origin, or the server's own (Origin matches Host)."""
        try:
            clean = normalise_origin(origin)
        except ValueError:
            return False  # "null" (sandboxed frames, file://) and garbage
        if clean in self.allowed:
            return True
        return bool(host) and urlsplit(clean).netloc == str(host).lower()

    def frame_ancestors(self) -> str:
        """The CSP directive: this server's own pages plus the allowlist, nobody else."""
        return " ".join(["frame-ancestors 'self'", *self.allowed])


def scale_limits(text: str, factor: int) -> str:
    """The same windows with factor times the amounts: ('20/minute', 10) -> '200 per 1 minute'."""
    return ";".join(
        f"{item.amount * factor} per {item.multiples} {item.GRANULARITY.name}"
        for item in parse_many(text)
    )


@dataclass(frozen=True)
class Refusal:
    """A request over its rate limit (429), or refused because the limits cannot be checked
    (503): which limit, and when to try again."""

    limit: str
    retry_after: int
    status: int = 429


class RateLimiter:
    """Named rate limits per client, e.g. {"ask": "20/minute;500/day"}."""

    remote = False  # True when hit() may wait on the network (see web/rates.py)

    def __init__(self, rules: Mapping[str, str], storage: Storage | None = None) -> None:
        self._rules: dict[str, list[RateLimitItem]] = {}
        for name, text in rules.items():
            try:
                self._rules[name] = parse_many(text)
            except ValueError as exc:
                raise ValueError(
                    f"rate limit {text!r} is not valid; write it like '20/minute;500/day'"
                ) from exc
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())

    def hit(self, rule: str, client: str) -> Refusal | None:
        """Count one request; a Refusal when the client is over any limit of the rule."""
        for item in self._rules.get(rule, []):
            if not self._limiter.hit(item, rule, client):
                reset = self._limiter.get_window_stats(item, rule, client).reset_time
                return Refusal(str(item), max(1, math.ceil(reset - time.time())))
        return None


class _BodyTooLarge(Exception):
    pass


class _BodyTooSlow(Exception):
    pass


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: Sequence[tuple[str, str]] = ()
) -> None:
    """A complete JSON response on a raw ASGI send."""
    data = json.dumps(body, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class Guard:
    """ASGI middleware applying an OriginPolicy, a RateLimiter and body limits.

    Args:
        app: the wrapped ASGI app.
        origins: who may call cross-origin and frame the pages.
        limiter: rate limits; `rule_for(method, path)` names the rule for a request (None: free).
        max_body: the largest request body in bytes for a path.
        nouns: how a 429 message names what a rule counts ("questions", "ratings").
        body_timeout: seconds a client may take to send a request body (408 after that),
            so a client trickling its body does not hold a connection for ever.
    """

    def __init__(
        self,
        app: ASGIApp,
        origins: OriginPolicy,
        limiter: RateLimiter,
        rule_for: Callable[[str, str], str | None],
        max_body: Callable[[str], int],
        nouns: Mapping[str, str] | None = None,
        body_timeout: float | None = None,
    ) -> None:
        self.app = app
        self.body_timeout = body_timeout
        self.origins = origins
        self.limiter = limiter
        self.rule_for = rule_for
        self.max_body = max_body
        self.nouns = dict(nouns or {})
        extra = [("content-security-policy", origins.frame_ancestors())]
        if not origins.allowed:  # for browsers without CSP level 2
            extra.append(("x-frame-options", "SAMEORIGIN"))
        extra += [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "strict-origin-when-cross-origin"),
        ]
        self._headers = [(k.encode(), v.encode()) for k, v in extra]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if origin is not None and not self.origins.allows(origin, headers.get("host")):
            await self._refuse(scope, send, 403, f"the origin {origin} may not use this assistant.")
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        rule = self.rule_for(scope["method"], scope["path"])
        client = (scope.get("client") or ("unknown", 0))[0]
        refusal = await self._hit(rule, client) if rule else None
        if refusal is not None and rule is not None:
            noun = self.nouns.get(rule, "requests")
            message = (
                f"too many {noun} from your address (limit {refusal.limit}); "
                f"try again in {refusal.retry_after} second(s)."
            )
            if refusal.status != 429:
                message = (
                    "the server cannot check its rate limits right now; "
                    f"try again in {refusal.retry_after} second(s)."
                )
            await self._refuse(
                scope, send, refusal.status, message, [("retry-after", str(refusal.retry_after))]
            )
            return
        await self._call_limited(scope, receive, send, headers)

    async def _hit(self, rule: str, client: str) -> Refusal | None:
        if self.limiter.remote:  # a network round trip: off the event loop
            return await asyncio.to_thread(self.limiter.hit, rule, client)
        return self.limiter.hit(rule, client)

    async def _call_limited(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]
    ) -> None:
        limit = self.max_body(scope["path"])
        too_large = f"the request body is larger than {limit:,} bytes."
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, send, 413, too_large)
            return
        too_slow = f"the request body took longer than {self.body_timeout or 0:g} seconds."
        state: dict[str, Any] = {"read": 0, "refusal": None, "started": False, "complete": False}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.body_timeout or 0)

        async def counting_receive() -> Message:
            if self.body_timeout and not state["complete"]:
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    state["refusal"] = (408, too_slow)
                    raise _BodyTooSlow from None
            else:  # once the body is in, waiting (e.g. for a disconnect) is not limited
                message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                state["complete"] = not message.get("more_body", False)
                if state["read"] > limit:
                    state["refusal"] = (413, too_large)
                    raise _BodyTooLarge
            return message

        async def refuse_once() -> None:
            if not state["started"]:
                state["started"] = True
                status, text = state["refusal"]
                await send_json(send, status, {"error": text}, self._plain())

        async def guarded_send(message: Message) -> None:
            if state["refusal"]:  # the app answered a body we cut off: answer the refusal
                if message["type"] == "http.response.start":
                    await refuse_once()
                return
            if message["type"] == "http.response.start":
                state["started"] = True
                message = {**message, "headers": [*message.get("headers", []), *self._headers]}
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except (_BodyTooLarge, _BodyTooSlow):
            await refuse_once()

    def _plain(self) -> list[tuple[str, str]]:
        return [(k.decode(), v.decode()) for k, v in self._headers]

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        status: int,
        message: str,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        await send_json(send, status, {"error": message}, [*headers, *self._plain()])


def timely_http(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol, dropping a connection whose request line and headers are
    not in after `seconds` (slowloris).

    uvicorn waits for headers for ever, and every such connection counts toward
    limit_concurrency: a few hundred of them would turn every visitor away. (Slow bodies
    are the Guard's: see its body_timeout.)
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimelyH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request on a kept-alive connection gets the same time

        def _arm(self) -> None:
            self.loop.call_later(seconds, self._drop_if_no_request, self.cycle)

        def _drop_if_no_request(self, cycle: Any) -> None:
            idle = self.cycle is cycle and (cycle is None or cycle.response_complete)
            if idle and not self.transport.is_closing():
                self.transport.close()

    return TimelyH11Protocol


def json_cors() -> Any:
    """Starlette's CORS middleware, whose refused preflights answer like the Guard does.

    Out of the box a preflight from an origin not on the list gets `400 Disallowed CORS
    origin` as plain text; the API promises a 403 with a JSON `{"error": ...}` body.
    """
    from starlette.datastructures import Headers
    from starlette.middleware.cors import CORSMiddleware
    from starlette.responses import JSONResponse, Response

    class JsonCORSMiddleware(CORSMiddleware):
        def preflight_response(self, request_headers: Headers) -> Response:
            response = super().preflight_response(request_headers)
            if response.status_code != 400:
                return response
            origin = request_headers["origin"]
            if not self.is_allowed_origin(origin=origin):
                message = f"the origin {origin} may not use this assistant."
                return JSONResponse({"error": message}, status_code=403)
            reason = bytes(response.body).decode("utf-8", "replace")
            return JSONResponse({"error": f"{reason}."}, status_code=400)

    return JsonCORSMiddleware
