"""The whole served site: the API and embeddable pages, guarded, with the Gradio chat at /.

create_site() builds it (tests use it without a server); serve() runs it with uvicorn,
sized for a shared 2-core machine.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterable
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi_offline import FastAPIOffline  # Swagger UI served locally, not from a CDN
from starlette.routing import Mount

from retrieval.assistant import Assistant
from retrieval.errors import HingeCoachError
from web.api import add_error_handlers, router
from web.feedback import FeedbackStore
from web.gradio_gate import GradioGate, contain_event_errors
from web.gradio_ui import API_ENDPOINTS, create_ui, page_options
from web.guard import Guard, OriginPolicy, json_cors, timely_http
from web.pages import STATIC, Pages, add_pages
from web.rates import RATE_NOUNS, rate_rule, site_limiter
from web.settings import MAX_CONNECTIONS, SiteSettings, hosts_answered


def create_api(assistant: Assistant, settings: SiteSettings, store: FeedbackStore) -> FastAPI:
    """The HTTP API and the embeddable chat, without Gradio: /api/*, /embed, /widget.js, /demo."""
    app = FastAPIOffline(
        title=f"{settings.gym_name} API",
        description="Grounded answers about the hip hinge, quoted verbatim from the articles.",
        version="1",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        static_url="/docs-static",
    )
    app.state.assistant, app.state.settings, app.state.store = assistant, settings, store
    add_error_handlers(app)
    app.include_router(router)
    pages = Pages.load(
        STATIC,
        settings.gym_name,
        settings.accent,
        settings.welcome,
        settings.examples,
        OriginPolicy(settings.allowed_origins).allowed,
        settings.contact,
    )
    add_pages(app, pages)
    return app


def create_site(
    assistant: Assistant,
    settings: SiteSettings,
    store: FeedbackStore,
    private: Iterable[Path] = (),
) -> FastAPI:
    """Everything one server answers: the API and widget, guarded, with the Gradio chat at /.

    `private` are directories no URL may serve a file from (the repo, the index, the log's).
    """
    app = create_api(assistant, settings, store)
    limiter = app.state.limiter = site_limiter(
        settings.rate_limit,
        settings.feedback_rate_limit,
        settings.rate_limit_storage,
        settings.rate_limit_fail,
    )
    # Gradio's own loader for the <gradio-app> web component (see the README).
    component = Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js"
    app.get("/gradio.js", include_in_schema=False)(
        lambda: FileResponse(component, media_type="text/javascript")
    )
    policy = OriginPolicy(settings.allowed_origins)
    app.add_middleware(
        Guard,
        origins=policy,
        limiter=limiter,
        rule_for=rate_rule,
        max_body=lambda path: (
            settings.max_body_bytes if path.startswith("/api/") else settings.max_chat_body_bytes
        ),
        nouns=RATE_NOUNS,
        body_timeout=settings.client_timeout,
        hosts=hosts_answered(settings.allowed_hosts, settings.host),
    )
    # Added last, so outermost: the guard's 429 and 413 answers still carry CORS headers and
    # an allowed page can read them. Gradio sees this middleware and adds no CORS of its own.
    app.add_middleware(
        json_cors(),
        allow_origins=list(policy.allowed),
        allow_methods=["GET", "POST"],
        allow_headers=["*"],  # Gradio's client sends its own headers (web component)
        expose_headers=["X-Answer-Id", "Retry-After"],
        allow_credentials=True,
        max_age=600,
    )
    demo = create_ui(assistant, settings, store, limiter)
    # The Assistant's own limit (serve) keeps the CPU-bound part of answers, chat and API
    # together, to answer_slots at once. Most of a chat turn is not that part: it is Gradio
    # streaming the turn through the event loop that the API shares (or, with a language
    # model, waiting for the endpoint). With only answer_slots turns in flight, API traffic
    # left the chat waiting: 25 API + 25 chat clients (bench/load.py) got the chat 5.3
    # answers/s at p50 5.1 s; with four times as many, 12.3/s at p50 2.0 s (API 35 -> 22/s,
    # p95 0.7 -> 1.0 s).
    # api_open=False: events that go through the queue cannot be run past it on /run/.
    demo.queue(default_concurrency_limit=settings.answer_slots * 4, api_open=False)
    log_dir = [settings.db.parent] if isinstance(settings.db, Path) else []
    blocked = {str(Path(p).resolve()) for p in (*private, *log_dir)}
    site = gr.mount_gradio_app(
        app,
        demo,
        path="/",
        footer_links=["api"],
        show_error=False,
        allowed_paths=[],
        blocked_paths=sorted(blocked),  # no file of the repo, index or log via /gradio_api/file=
        max_file_size="1kb",  # the chat takes no uploads
        ssr_mode=False,
        mcp_server=False,
        run_history=False,
        pwa=False,
        **page_options(settings),  # the gym's colours, the page's style and script
    )
    # Gradio checks the files an event may copy to its cache (only uploads in, nothing from
    # blocked_paths out) only once it thinks it has launched, which mounting never records:
    # without this, a crafted chat history could have any readable file served back.
    demo.has_launched = True
    contain_event_errors(demo)
    for route in site.router.routes:  # only the Gradio routes this site uses (gradio_gate.py)
        if isinstance(route, Mount) and getattr(route.app, "get_blocks", None):
            route.app = GradioGate(route.app, demo, API_ENDPOINTS)  # type: ignore[arg-type,assignment]
    return site


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: a port in use is one clear error before anything loads."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:  # create_server adds "(while attempting to bind ...)": left out
        reason = (exc.strerror or str(exc)).split(" (while attempting")[0]
        raise HingeCoachError(
            f"cannot listen on {host}:{port}: {reason.lower()}; choose another with --port or "
            "HINGECOACH_PORT (--host or HINGECOACH_HOST for the address)."
        ) from None


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, saying where it serves once it does (and never before)."""

    announcement = ""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            port = sockets[0].getsockname()[1] if sockets else self.config.port
            print(f"{self.announcement}:{port}", file=sys.stderr, flush=True)


def server(site: FastAPI, settings: SiteSettings) -> uvicorn.Server:
    """A uvicorn server for a site built by create_site (run it with listen()'s socket)."""
    # Sizing for a 2-core server:
    # - one process (uvicorn's default): Gradio's queue and its event streams live in process
    #   memory, and the model is loaded once; a second worker would split chats across
    #   processes and double the memory without adding cores;
    # - answers run in threads (FastAPI's pool for the API, Gradio's for the chat), at most
    #   answer_slots (2) at once, each with one inference thread (HINGECOACH_THREADS=1): two
    #   answers on two cores; further requests wait their turn instead of slowing everyone;
    # - past MAX_CONNECTIONS (200) open connections (each chat page holds an event stream),
    #   or max_client_connections from one address, new ones get a JSON 503 at once rather
    #   than piling up (timely_http does it, instead of uvicorn's plain-text limit);
    # - proxy headers are trusted from the trusted_proxies only (default: a reverse proxy on
    #   this machine), so the rate limit keys on the visitor's address, not the proxy's;
    # - no access log: it would write client addresses in clear.
    config = uvicorn.Config(
        site,
        host=settings.host,
        port=settings.port,
        timeout_keep_alive=5,
        proxy_headers=True,
        forwarded_allow_ips=",".join(settings.trusted_proxies),
        server_header=False,
        access_log=False,
        log_level="warning",
        http=timely_http(
            settings.client_timeout,
            per_client=settings.max_client_connections,
            total=MAX_CONNECTIONS,
            exempt=settings.trusted_proxies,
        ),
    )
    announcing = _AnnouncingServer(config)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    announcing.announcement = f"serving {settings.gym_name} on http://{host}"
    return announcing


def serve(site: FastAPI, settings: SiteSettings, sock: socket.socket | None = None) -> None:
    """Serve a site built by create_site with uvicorn, on `sock` (default: bind it now)."""
    server(site, settings).run(sockets=[sock or listen(settings.host, settings.port)])
