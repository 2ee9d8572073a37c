"""Protections for a public web endpoint, as plain ASGI middleware.

- a host allowlist: a request naming another host (a DNS-rebinding attack) gets 400;
- an origin allowlist: cross-origin requests from elsewhere get 403, and every response
  says which pages may frame it (`Content-Security-Policy: frame-ancestors`);
- only the methods the site uses (GET, HEAD, POST, OPTIONS); others get 405;
- per-client rate limits (the `limits` library, moving window, in this process's memory or
  in Redis shared by replicas: see web/rates.py) answered with a 429 JSON body and
  `Retry-After`;
- request body limits, answered with 413 whether or not the client sent Content-Length;
- for uvicorn (timely_http): a deadline for a request's line and headers, as the Guard has
  one for its body, so slow clients (slowloris) cannot hold connections for ever; and a cap
  on open connections per client address and in all, answered with a JSON 503.

Plain ASGI rather than a framework's middleware base class so that streamed responses
(Gradio's server-sent events) pass through untouched. uvicorn is imported only by
timely_http, when a server starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
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


class BodyRefused(Exception):  # noqa: N818 (a refusal, not an error of the server's)
    """Raised from the Guard's receive when a body is too large or too slow; the Guard
    answers it. Code between the Guard and the app must let it through."""


class _BodyTooLarge(BodyRefused):
    pass


class _BodyTooSlow(BodyRefused):
    pass


METHODS = ("GET", "HEAD", "POST", "OPTIONS")  # all the site answers; WebDAV & co get 405


def request_host(header: str) -> str:
    """The host name of a Host header: 'Coach.test:7860' -> 'coach.test', '[::1]:80' -> '::1'."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0].rstrip(".") if text.count(":") == 1 else text.rstrip(".")


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
        hosts: the host names requests may name in their Host header (None: any). A page
            served under another name, as a DNS-rebinding attack does, is refused: its
            Origin would otherwise match its Host and pass for this site's own.
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
        hosts: Collection[str] | None = None,
    ) -> None:
        self.app = app
        self.hosts = None if hosts is None else {h.lower() for h in hosts}
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
        host = headers.get("host")
        if self.hosts is not None and host is not None and request_host(host) not in self.hosts:
            await self._refuse(scope, send, 400, f"this server does not answer for {host}.")
            return
        if scope["type"] == "http" and scope["method"] not in METHODS:
            allow = [("allow", ", ".join(METHODS))]
            message = f"this site does not answer {scope['method'][:20]} requests."
            await self._refuse(scope, send, 405, message, allow)
            return
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


def client_key(address: str) -> str:
    """What a per-client connection cap counts by: an IPv4 address, or an IPv6 client's /64
    (one subscriber's network: anyone holding one has all of it)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def busy_response(message: str, retry_after: int = 5) -> bytes:
    """A complete HTTP/1.1 503 with the site's JSON body, for a connection turned away."""
    body = json.dumps({"error": message}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nretry-after: {retry_after}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


def timely_http(
    seconds: float,
    per_client: int | None = None,
    total: int | None = None,
    exempt: Collection[str] = (),
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol, dropping a connection whose request line and headers are
    not in after `seconds` (slowloris), and turning away connections past `per_client` open
    ones from one client address or `total` in all, with a JSON 503.

    uvicorn waits for headers for ever, and every such connection counts toward
    limit_concurrency: a few hundred of them would turn every visitor away. A deadline
    alone is not enough: a client that reopens its sockets as they are dropped held the
    whole server's connections, so each address also gets only its share. (Slow bodies are
    the Guard's: see its body_timeout.) Addresses or networks in `exempt` (the trusted
    reverse proxies, which carry every visitor's connections) count toward `total` only.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    open_by_client: Counter[str] = Counter()
    proxies = [ipaddress.ip_network(p, strict=False) for p in exempt]

    def is_proxy(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in proxies)

    class TimelyH11Protocol(H11Protocol):
        _counted: str | None = None
        _turned_away = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            address = self.client[0] if self.client else ""
            if not is_proxy(address):
                self._counted = client_key(address)
                open_by_client[self._counted] += 1
            if total is not None and len(self.connections) > total:
                self._turn_away("the server is busy; try again in a few seconds.")
            elif (
                per_client is not None
                and self._counted is not None
                and (open_by_client[self._counted] > per_client)
            ):
                self._turn_away(
                    f"too many open connections from your address (limit {per_client}); "
                    "try again in a few seconds."
                )
            else:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._uncount()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not self._turned_away:
                super().data_received(data)

        def _uncount(self) -> None:
            if self._counted is not None:
                open_by_client[self._counted] -= 1
                if open_by_client[self._counted] <= 0:
                    del open_by_client[self._counted]
                self._counted = None

        def _turn_away(self, message: str) -> None:
            """Answer 503 at once and let go; the connection counts toward no cap."""
            self._turned_away = True
            self.connections.discard(self)
            self._uncount()
            self.transport.write(busy_response(message))
            if self.transport.can_write_eof():
                with contextlib.suppress(OSError):  # the client may be gone already
                    self.transport.write_eof()
            # Closed a moment later rather than at once: closing a socket with a request
            # still unread makes the kernel reset it, and the client may lose the answer.
            self.loop.call_later(1.0, self.transport.close)

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
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            # A response to an origin not on the list carries no CORS header at all (out of
            # the box it would still say allow-credentials and expose-headers).
            headers = Headers(scope=scope) if scope["type"] == "http" else None
            origin = headers.get("origin") if headers is not None else None
            preflight = (
                scope.get("method") == "OPTIONS"
                and headers is not None
                and ("access-control-request-method" in headers)
            )
            if origin is not None and not preflight and not self.is_allowed_origin(origin):
                await self.app(scope, receive, send)
                return
            await super().__call__(scope, receive, send)

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
