"""Gradio's own routes, gated: the site answers only the ones its pages and Gradio's API
clients use, checks every event request before Gradio sees it, and answers errors as JSON.

Gradio mounts about ninety routes meant for many kinds of apps: a file route that fetches
any URL (for Hugging Face Spaces), uploads, screen recordings, a monitoring summary, login
and editor routes. This chat needs a dozen. The GradioGate wraps the mounted Gradio app:

- a route not in ROUTES is refused (404, or 405 for another method), so a Gradio upgrade
  that adds a route adds nothing reachable; uploads get 403, as the chat takes no files;
- `/gradio_api/file=` serves only Gradio's own assets of this app (its static paths):
  never a URL, a `//` path or anything outside them;
- an event request (queue/join, call, run) must name an event of this app, or one of the
  API endpoints it offers (`endpoints`), and carry as many values as it takes, none of them
  a file: Gradio would download a URL named in one and keep it;
- every error Gradio answers ({"detail": ...}, plain text) becomes {"error": "..."}, and an
  exception escaping a Gradio route is one line in the log, not a traceback and a 500 page.

contain_event_errors() does the same for the events themselves: malformed event data is
one log line and Gradio's own error event, never a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import gradio as gr
from gradio.data_classes import _StaticFiles

from web.guard import ASGIApp, BodyRefused, Message, Receive, Scope, Send, send_json
from web.models import validation_message

log = logging.getLogger(__name__)

# The Gradio routes this site answers: the chat page and the <gradio-app> component (every
# request Chromium makes chatting, rating and checking cues), and Gradio's API clients
# (gradio_client, the curl lines of the "Use via API" page). Patterns match the whole path.
ROUTES: dict[str, tuple[str, ...]] = {
    "GET": (
        r"/",
        r"/config/?",
        r"/(?:assets|static|svelte)/.+",
        r"/favicon\.ico",
        r"/robots\.txt",
        r"/(?:gradio_api/)?theme\.css",
        r"/gradio_api/info/?",
        r"/gradio_api/openapi\.json",
        r"/gradio_api/heartbeat/[^/]+",
        r"/gradio_api/queue/data",
        r"/gradio_api/call/(?:v2/)?[^/]+/[^/]+",
        r"/gradio_api/file=.*",
    ),
    "HEAD": (r"/",),
    "POST": (
        r"/gradio_api/queue/join",
        r"/gradio_api/cancel",
        r"/gradio_api/reset/?",
        r"/gradio_api/(?:run|api)/[^/]+/?",
        r"/gradio_api/call/(?:v2/)?[^/]+/?",
    ),
}
UPLOADS = re.compile(r"/gradio_api/(?:upload|upload_progress|process_recording|stream/.*)/?")
# Requests that run an event, and what names it: the body's fn_index, or the path's API name.
EVENTS = (
    ("join", re.compile(r"/gradio_api/queue/join")),
    ("run", re.compile(r"/gradio_api/(?:run|api)/(?P<api>[^/]+)/?")),
    ("call_v2", re.compile(r"/gradio_api/call/v2/(?P<api>[^/]+)/?")),
    ("call", re.compile(r"/gradio_api/call/(?P<api>[^/]+)/?")),
)
RESULTS = re.compile(r"/gradio_api/call/(?:v2/)?(?P<api>[^/]+)/(?P<event>[^/]+)")  # its result
FILE = re.compile(r"/gradio_api/file=(?P<path>.*)", re.DOTALL)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # http:, file:, C: ...
BAD_REQUEST = "Bad request"  # the title of a BadEventData error (see GradioGate._rewrite)
ERROR_BODY_LIMIT = 64 * 1024  # Gradio's error answers are a line or two


class BadEventData(gr.Error):
    """Event data that Gradio could not take in: answered as Gradio's error event (or a 422
    on the direct /run/ route), reported in one log line rather than a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(message, title=BAD_REQUEST, print_exception=False)


def one_line(exc: BaseException) -> str:
    """'KeyError: 999 (gradio/route_utils.py:299)': an exception and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        path = Path(frames[-1].filename)
        where = f" ({path.parent.name}/{path.name}:{frames[-1].lineno})"
    text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300] if str(exc) else type(exc).__name__
    return text + where


def contain_event_errors(demo: gr.Blocks) -> None:
    """Make every failure of an event one log line and Gradio's error event, no traceback.

    Gradio prints a traceback for any exception while it takes in an event's data (a null
    index in a thumbs event, a history that is not a list) or runs it. The methods are
    replaced on this instance only.
    """
    preprocess, process = demo.preprocess_data, demo.process_api

    def event(block_fn: Any) -> Any:
        return demo.fns.get(block_fn) if isinstance(block_fn, int) else block_fn

    async def preprocess_data(block_fn: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await preprocess(block_fn, inputs, *args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            name = getattr(event(block_fn), "name", block_fn)
            log.warning("malformed data for the %s event: %s", name, one_line(exc))
            raise BadEventData("the request's data does not fit this event.") from None

    async def process_api(block_fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await process(block_fn, *args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            fn = event(block_fn)
            log.warning("the %s event failed: %s", getattr(fn, "name", fn), one_line(exc))
            if not getattr(fn, "queue", True):
                # Events outside the queue are Gradio's own helpers (the chat's box, its
                # examples): they fail only on data the page never sends.
                raise BadEventData("the request's data does not fit this event.") from None
            raise gr.Error("Sorry, something went wrong.", print_exception=False) from None

    demo.preprocess_data = preprocess_data  # type: ignore[method-assign]
    demo.process_api = process_api  # type: ignore[method-assign]


def contains_file(value: Any, depth: int = 0) -> bool:
    """True when a JSON value holds a file reference Gradio would fetch or copy."""
    if depth > 64:
        return True  # nothing this chat sends is nested this deep
    if isinstance(value, dict):
        meta = value.get("meta")
        if isinstance(meta, dict) and meta.get("_type") == "gradio.FileData":
            return True
        if "path" in value or "url" in value:  # a FileData without its "meta" marker
            return True
        return any(contains_file(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(contains_file(v, depth + 1) for v in value)
    return False


class Events:
    """What an event request may name: this app's events (by number, as the page does) and
    the API endpoints it offers clients (by name); Gradio would run any event by its name."""

    def __init__(self, demo: gr.Blocks, endpoints: Collection[str]) -> None:
        self.fns = dict(demo.fns)
        self.public: dict[str, Any] = {
            str(fn.api_name): fn
            for fn in self.fns.values()
            if fn.fn and fn.api_name in endpoints and fn.api_visibility != "private"
        }
        info = demo.get_api_info(all_endpoints=True)["named_endpoints"]
        self.parameters = {
            name: {
                p["parameter_name"]: not p["parameter_has_default"] for p in endpoint["parameters"]
            }
            for name, endpoint in ((k.lstrip("/"), v) for k, v in info.items())
        }

    def sizes(self, fn: Any) -> set[int]:
        """How many values an event's data may hold: one per input, or one per input the API
        shows (the simple format leaves out inputs such as the chat's history state)."""
        return {len(fn.inputs), len([b for b in fn.inputs if not getattr(b, "skip_api", False)])}

    def endpoint(self, api: str, documented: bool = False) -> tuple[Any, str | None]:
        """The endpoint an API name names, or why there is none. `documented`: only those
        "Use via API" lists (Gradio's /call/v2/ routes know no others)."""
        offered = {
            name: fn
            for name, fn in self.public.items()
            if not documented or fn.api_visibility == "public"
        }
        fn = offered.get(api)
        if fn is None:
            names = ", ".join(sorted(offered))
            return None, f"no API endpoint named {api[:80]!r}; this app has {names}."
        return fn, None

    def check(self, kind: str, api: str | None, body: Any) -> tuple[int, str] | None:
        """None for an event request this app can run, else its status and message."""
        if not isinstance(body, dict):
            return 422, "the request body must be a JSON object."
        if contains_file(body):
            return 403, "this chat takes no files."
        if kind == "call_v2":
            return self._check_named(str(api), body)
        if kind == "call" or (kind == "run" and body.get("fn_index") is None):
            fn, problem = self.endpoint(str(api))
            return (404, problem) if problem else self._check_data(fn, body, self.sizes(fn))
        index = body.get("fn_index")
        if not isinstance(index, int) or isinstance(index, bool) or index not in self.fns:
            return 404, f"no event {str(index)[:40]} in this app."
        if kind == "join" and not (
            isinstance(body.get("session_hash"), str) and body["session_hash"]
        ):
            return 422, "invalid request: session_hash: a string is required."
        fn = self.fns[index]
        return self._check_data(fn, body, {len(fn.inputs)})

    def _check_data(self, fn: Any, body: dict[str, Any], sizes: set[int]) -> tuple[int, str] | None:
        data = body.get("data")
        if not isinstance(data, list):
            return 422, "invalid request: data: a list is required."
        if len(data) not in sizes:
            wanted = " or ".join(str(n) for n in sorted(sizes))
            return 422, f"invalid request: data: {wanted} value(s) expected, not {len(data)}."
        if body.get("batched") and not fn.batch:
            return 422, "invalid request: batched: this event takes one input at a time."
        return None

    def _check_named(self, api: str, body: dict[str, Any]) -> tuple[int, str] | None:
        fn, problem = self.endpoint(api, documented=True)
        if problem:
            return 404, problem
        parameters = self.parameters.get(api, {})
        unknown = sorted(set(body) - set(parameters))
        missing = sorted(
            name for name, required in parameters.items() if required and name not in body
        )
        if unknown or missing:
            takes = ", ".join(parameters) or "nothing"
            what = (
                f"unknown {', '.join(unknown)[:120]}"
                if unknown
                else f"missing {', '.join(missing)}"
            )
            return 422, f"invalid request: {what}; /{api} takes {takes}."
        return None


def static_asset(path: str) -> bool:
    """True for a file among this app's static paths (a local path, never a URL)."""
    if not path.startswith("/") or path.startswith("//") or SCHEME.match(path):
        return False
    if "\\" in path or "\x00" in path or ".." in path.split("/"):
        return False
    try:
        target = Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return any(target == root or root in target.parents for root in _StaticFiles.all_paths)


class GradioGate:
    """ASGI middleware in front of the mounted Gradio app; see the module docstring."""

    def __init__(self, app: ASGIApp, demo: gr.Blocks, endpoints: Collection[str]) -> None:
        self.app = app
        self.demo = demo
        self.events = Events(demo, endpoints)
        self.routes = {
            method: [re.compile(pattern, re.DOTALL) for pattern in patterns]
            for method, patterns in ROUTES.items()
        }

    def refusal(self, method: str, path: str) -> tuple[int, str] | None:
        """Why a request is refused before Gradio sees it, or None."""
        if UPLOADS.fullmatch(path):
            return 403, "this chat takes no uploads."
        if not any(p.fullmatch(path) for p in self.routes.get(method, [])):
            allowed = [
                m for m, patterns in self.routes.items() if any(p.fullmatch(path) for p in patterns)
            ]
            if allowed:
                return 405, f"use {' or '.join(allowed)} for {path[:100]}."
            return 404, f"no page at {path[:100]}."
        file = FILE.fullmatch(path)
        if file:
            target = file["path"]
            if target.startswith("//") or SCHEME.match(target):
                return 403, "this site serves no files from elsewhere."
            if not static_asset(target):
                return 404, "no such file."
        results = RESULTS.fullmatch(path) if method == "GET" else None
        if results:
            _, problem = self.events.endpoint(results["api"])
            if problem:
                return 404, problem
        return None

    def streams(self, method: str, path: str, query: bytes) -> bool:
        """Whether an event stream a GET asks for exists. Gradio opens the stream first and
        fails inside it for an unknown session or event (a cut stream, an error logged)."""
        queue = self.demo._queue
        if method == "GET" and path == "/gradio_api/queue/data":
            asked = parse_qs(query.decode("latin-1")).get("session_hash", [""])[0]
            return asked in queue.pending_messages_per_session
        results = RESULTS.fullmatch(path) if method == "GET" else None
        if results is None:
            return True
        event_id = results["event"]
        event = queue.event_ids_to_events.get(event_id)
        session: str | None = event.session_hash if event is not None else None
        if session is None:  # as Gradio finds it (routes.py, simple_predict_get)
            pending = queue.pending_event_ids_session.items()
            session = next((s for s, ids in pending if event_id in ids), event_id)
        return session in queue.pending_messages_per_session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # Gradio's page opens no WebSocket
            await send({"type": "websocket.close", "code": 1008})
            return
        method, path = scope["method"], scope["path"]
        refusal = self.refusal(method, path)
        if refusal is None and not self.streams(method, path, scope.get("query_string", b"")):
            refusal = 404, "no event stream here: join the queue first, then read its events."
        if refusal is None and method == "POST":
            event = next(((kind, m) for kind, rx in EVENTS if (m := rx.fullmatch(path))), None)
            if event is not None:
                kind, match = event
                body = await read_body(receive)
                try:
                    parsed = json.loads(body)
                except (ValueError, RecursionError):
                    parsed = None
                    refusal = 422, "invalid request: the body is not JSON."
                if refusal is None:
                    refusal = self.events.check(kind, match.groupdict().get("api"), parsed)
                receive = replay(body, receive)
        if refusal is not None:
            await send_json(send, refusal[0], {"error": refusal[1]})
            return
        await self._answer(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        held: dict[str, Any] = {"start": None, "body": b"", "sent": False, "ended": False}

        async def rewriting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                held["start"] = message  # an error: answered in the site's shape below
                return
            if held["start"] is None or message["type"] != "http.response.body":
                held["sent"] = held["sent"] or message["type"] == "http.response.start"
                held["ended"] = message["type"] == "http.response.body" and not message.get(
                    "more_body", False
                )
                await send(message)
                return
            held["body"] = (held["body"] + message.get("body", b""))[:ERROR_BODY_LIMIT]
            if not message.get("more_body", False):
                status, text = self._rewrite(scope, held["start"], held["body"])
                held["sent"] = True
                await send_json(send, status, {"error": text})

        try:
            await self.app(scope, receive, rewriting_send)
        except BodyRefused:
            raise  # the Guard answers it
        except Exception as exc:
            log.warning("%s %s failed: %s", scope["method"], scope["path"][:100], one_line(exc))
            if not held["sent"]:
                message = "internal error; the server log has the details."
                await send_json(send, 500, {"error": message})
            elif not held["ended"]:  # a stream already under way: end it cleanly
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _rewrite(self, scope: Scope, start: Message, body: bytes) -> tuple[int, str]:
        """Gradio's error answer as the site's: its status and one sentence."""
        status = start["status"]
        headers = dict(start.get("headers", []))
        text = ""
        if headers.get(b"content-type", b"").startswith(b"application/json"):
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if isinstance(data, dict):
                detail = data.get("detail", data.get("error"))
                if isinstance(detail, list):
                    text = validation_message(detail, "malformed request")
                elif detail:
                    text = str(detail)
                if status == 500 and data.get("title") == BAD_REQUEST:
                    status = 422  # malformed data on /run/: the client's, not the server's
        elif status < 500:
            text = body.decode("utf-8", "replace").strip()
        if status >= 500 and not text:
            text = "internal error; the server log has the details."
        text = " ".join((text or "bad request").split())[:300]
        return status, text if text.endswith((".", "?", "!")) else text + "."


async def read_body(receive: Receive) -> bytes:
    """The whole request body (the Guard has already bounded its size and time)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A receive that hands out the body already read, then whatever comes next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def again() -> Message:
        if pending:
            return pending.pop()
        message: Message = await receive()
        return message

    return again
