"""Hinge Coach's edge: settings, the `hingecoach` CLI and the Gradio chat.

Every handler makes one library call and only formats its result.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from retrieval.batch import ask_stream, cue_stream, json_line
from retrieval.chat import reveal, stream_answer, typed_messages, user_turns
from retrieval.config import LLM_OPTIONS, SITE_KEYS, check_llm, llm_env, site_settings
from retrieval.cue_render import (
    catalogue_rows,
    format_catalogue_text,
    format_cue_markdown,
    format_cue_text,
)
from retrieval.errors import (
    HingeCoachError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
)
from retrieval.pages import ASSETS, EMBED_CSP, Pages
from retrieval.rates import RATE_NOUNS, rate_rule, site_limiter
from retrieval.render import format_text, paragraphs, show_as_text, terminal

if TYPE_CHECKING:
    import gradio as gr
    from fastapi import FastAPI

    from retrieval.feedback import FeedbackStore
    from retrieval.guard import RateLimiter
    from retrieval.service import Assistant

ROOT = Path(__file__).resolve().parent
EXAMPLES = [
    "Why do I feel this in my quads?",
    "Is a hip hinge the same as a squat?",
    "How much should my knees bend?",
    "How do I stop my ribs flaring when I hinge?",
]
WELCOME = (
    "Hi! I answer questions about the hip hinge by quoting our coaching articles, "
    "and I say so when they don't cover something. What would you like to know?"
)


@dataclass
class Settings:
    """Configuration, read once at the edge from flags and HINGECOACH_* variables."""

    root: Path = ROOT
    corpus: Path = ROOT / "corpus"
    index: Path = ROOT / "index"
    k: int = 3
    threads: int = 1
    host: str = "127.0.0.1"
    port: int = 7860
    rebuild_bad_index: bool = False  # serve: rebuild a damaged or foreign index instead of refusing
    examples: list[str] = field(default_factory=lambda: list(EXAMPLES))
    # An OpenAI-compatible chat endpoint writes the answers when set; off by default.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 20.0
    llm_context: int = 4096
    llm_unsupported: str = "flag"  # or "drop"
    # The public site (settings file named by HINGECOACH_SETTINGS, then HINGECOACH_* env):
    # branding, who may embed it, and abuse limits. See SITE_KEYS (retrieval/config.py).
    gym_name: str = "Hinge Coach"
    accent: str = "#2f6f4f"
    welcome: str = WELCOME
    allowed_origins: list[str] = field(default_factory=list)  # empty: same-origin only
    rate_limit: str = "20/minute;300/day"  # questions per client address
    feedback_rate_limit: str = "60/minute"  # thumbs per client address
    max_body_bytes: int = 32 * 1024  # JSON API requests: a question and a short history
    max_chat_body_bytes: int = 1024 * 1024  # the Gradio chat posts the whole conversation
    db: Path = ROOT / "data" / "questions.sqlite3"  # question and feedback log
    # Answers computed at once across chat and API: one per core of a 2-core server, each
    # on one inference thread (see `threads`); more would only make every answer slower.
    answer_slots: int = 2
    # Seconds a client may take to send a request's line and headers, then its body: slower
    # ones (slowloris) are dropped instead of holding a connection for ever.
    client_timeout: float = 10.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        base = cls()
        settings = cls(
            corpus=Path(env.get("HINGECOACH_CORPUS", base.corpus)),
            index=Path(env.get("HINGECOACH_INDEX", base.index)),
            k=int(env.get("HINGECOACH_K", base.k)),
            # One intra-op thread per request: on a shared 2-core server two
            # requests at once beat one request on two contended cores.
            threads=int(env.get("HINGECOACH_THREADS", base.threads)),
            host=env.get("HINGECOACH_HOST", base.host),
            port=int(env.get("HINGECOACH_PORT", base.port)),
            rebuild_bad_index=env.get("HINGECOACH_REBUILD_BAD_INDEX", "").lower()
            in ("1", "true", "yes"),
            client_timeout=float(env.get("HINGECOACH_CLIENT_TIMEOUT", base.client_timeout)),
            **llm_env(env),
        )
        apply_site_settings(settings, env)
        return settings


def apply_site_settings(settings: Settings, env: dict[str, str]) -> None:
    """Branding and limits: defaults, then the settings file, then HINGECOACH_* variables."""
    current = {key: getattr(settings, key) for key in SITE_KEYS}
    for key, value in site_settings(current, env).items():
        setattr(settings, key, value)


def check_llm_settings(settings: Settings) -> None:
    """One-line errors for a language-model configuration that cannot work."""
    check_llm(
        settings.llm_base_url,
        settings.llm_model,
        settings.llm_unsupported,
        settings.llm_timeout,
        settings.llm_context,
    )


def llm_options(settings: Settings) -> dict[str, Any]:
    """Assistant keyword arguments for the configured language model (none when off)."""
    if not settings.llm_base_url or not settings.llm_model:
        return {}
    from retrieval.llm import ChatModel, LLMConfig
    from retrieval.written import WrittenSettings

    config = LLMConfig(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        context_tokens=settings.llm_context,
        timeout=settings.llm_timeout,
    )
    return {
        "llm": ChatModel(config),
        "written": WrittenSettings(unsupported=settings.llm_unsupported),
    }


# ---------------------------------------------------------------- library calls


def load_embedder(settings: Settings) -> Any:
    # ONNX Runtime, exported once from the bundled weights: no torch on the query path.
    from retrieval.embedder import load_embedder as make_embedder

    return make_embedder(threads=settings.threads)


def run_ingest(settings: Settings, embedder: Any = None, progress: bool = True) -> list[str]:
    """Build the index from the corpus; returns the summary lines."""
    from ingest.build import build_index

    embedder = embedder or load_embedder(settings)
    summary = build_index(settings.corpus, settings.index, embedder, settings.root, progress)
    return summary.lines()


def open_assistant(settings: Settings, build_if_missing: bool = False) -> Assistant:
    """Load the index with the model; build it first when missing (if asked) or bad (if configured).

    A damaged or foreign index is refused with a one-line error before the model loads,
    unless settings.rebuild_bad_index says to rebuild it from the corpus.
    """
    from retrieval.index import verify_files
    from retrieval.service import Assistant

    try:
        verify_files(settings.index)  # fail fast, before the model loads
    except IndexMissingError:
        if not build_if_missing:
            raise
    except (IndexCorruptError, IndexMismatchError):
        if not settings.rebuild_bad_index:
            raise
    embedder = load_embedder(settings)
    try:
        return Assistant(settings.index, embedder, **llm_options(settings))
    except IndexMissingError:
        if not build_if_missing:
            raise
        why = f"no index at {settings.index}"
    except (IndexCorruptError, IndexMismatchError) as exc:
        if not settings.rebuild_bad_index:
            raise
        why = str(exc).split("; rebuild it with")[0]
    print(terminal(f"{why}; building it from {settings.corpus} ..."), file=sys.stderr)
    for line in run_ingest(settings, embedder):
        print(terminal(line), file=sys.stderr)
    return Assistant(settings.index, embedder, **llm_options(settings))


# ---------------------------------------------------------------- Gradio UI


def make_responder(
    assistant: Assistant,
    settings: Settings,
    store: FeedbackStore | None = None,
    limiter: RateLimiter | None = None,
) -> Callable[..., Iterator[str]]:
    """The chat handler: one library call, then the reply streamed and its sources.

    With a store, each question is logged (with a pseudonym of the client's address); with
    a limiter, each question counts against the client's "ask" budget (shared with the API).
    """

    def respond(message: str, history: list[Any], request: Any = None) -> Iterator[str]:
        refusal = limiter.hit("ask", _client_host(request) or "unknown") if limiter else None
        if refusal is not None:
            yield paragraphs(
                f"Sorry, too many questions from your address (limit {refusal.limit}); "
                f"try again in {refusal.retry_after} second(s)."
            )
            return
        try:
            result = yield from stream_answer(assistant, message, history, settings.k)
        except HingeCoachError as exc:
            yield paragraphs(f"Sorry, {exc}")
            return
        if store is not None:
            store.log(result, "chat", _client_host(request))
        yield from reveal(result)

    return respond


def _client_host(request: Any) -> str | None:
    client = getattr(request, "client", None)
    return getattr(client, "host", None)


def _typed(fn: Callable[..., Any], **hints: Any) -> Callable[..., Any]:
    """Give a handler real types for the parameters a framework injects by annotation.

    app.py imports Gradio and FastAPI lazily (the CLI should not pay for them) and uses
    `from __future__ import annotations`, so its annotations are strings naming things that
    are not module globals; Gradio and FastAPI resolve them in module globals, and would
    miss gr.Request, gr.LikeData or fastapi.Request.
    """
    fn.__annotations__ = {**fn.__annotations__, **hints}
    return fn


def make_rater(store: FeedbackStore) -> Callable[..., None]:
    """The chat's thumbs handler: rate the logged answer the thumb was on."""

    def rate(data: Any, history: list[Any], request: Any = None) -> None:
        index = data.index if isinstance(data.index, int) else data.index[0]
        earlier = [m for m in (history or [])[:index] if isinstance(m, dict)]
        questions = user_turns([m for m in earlier if m.get("role") == "user"])
        if not questions or data.liked not in (True, False):
            return
        token = store.latest_token(questions[-1], "chat", _client_host(request))
        if token is not None:
            store.rate(token, "up" if data.liked else "down")

    return rate


def plain_user_chatbot(**kwargs: Any) -> gr.Chatbot:
    """A gr.Chatbot that shows visitors' messages as plain text, never as Markdown or HTML.

    Gradio renders every message as Markdown with HTML; a typed `![x](https://...)` would
    load an outside image. Visitors' messages go to the page through show_as_text and
    come back through typed_text, so the handler always sees exactly what was typed.
    (The methods are replaced on the instance: a Component subclass makes Gradio write
    a .pyi stub next to this file.)
    """
    import gradio as gr
    from gradio.components.chatbot import TextMessage

    chatbot = gr.Chatbot(**kwargs)
    to_page, from_page = chatbot.postprocess, chatbot.preprocess

    def postprocess(value: Any) -> Any:
        data = to_page(value)
        # Text only: a history sent by a client could name files (e.g. /etc/passwd) that
        # Gradio would copy to its cache and serve; this chat never shows files.
        for message in data.root:
            texts = [item for item in message.content if isinstance(item, TextMessage)]
            if message.role == "user":
                for item in texts:
                    item.text = show_as_text(item.text)
            message.content = list(texts)
        data.root = [message for message in data.root if message.content]
        return data

    def preprocess(payload: Any) -> Any:
        return typed_messages(from_page(payload))

    chatbot.postprocess = postprocess  # type: ignore[method-assign]
    chatbot.preprocess = preprocess  # type: ignore[method-assign]
    return chatbot


def create_app(
    assistant: Assistant,
    settings: Settings | None = None,
    store: FeedbackStore | None = None,
    limiter: RateLimiter | None = None,
) -> gr.Blocks:
    """The chat UI as a Gradio Blocks app (not launched); with a store, thumbs are recorded."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    settings = settings or Settings()
    respond = _typed(make_responder(assistant, settings, store, limiter), request=gr.Request)

    with gr.Blocks(title=settings.gym_name, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {html.escape(settings.gym_name)}\nAnswers about the hip hinge, only from the "
            "coaching articles, with the exact passages they come from."
        )
        with gr.Tab("Chat"):
            chatbot = plain_user_chatbot(
                height="max(420px, 68vh)",
                autoscroll=False,  # static/chat.js keeps the question at the top instead
                show_label=False,  # the tab names it; a floating label covered the reply
                elem_id="hc-chat",
                sanitize_html=True,
                latex_delimiters=[],  # no math: "$$" in an article or a question stays text
                buttons=["copy", "copy_all"],  # no "share" to Hugging Face
                placeholder=settings.welcome,
                label="Chat",
            )
            gr.ChatInterface(
                fn=respond,
                chatbot=chatbot,
                examples=settings.examples,
                run_examples_on_click=True,
                cache_examples=False,
                analytics_enabled=False,
                api_name="chat",
            )
            if store is not None:
                rate = _typed(make_rater(store), data=gr.LikeData, request=gr.Request)
                chatbot.like(rate, inputs=[chatbot], outputs=None, api_visibility="private")
        _cue_tab(assistant)
    return demo


# ---------------------------------------------------------------- HTTP API and embedding

STATIC = ROOT / "static"


def create_api(assistant: Assistant, settings: Settings, store: FeedbackStore) -> FastAPI:
    """The HTTP API and the embeddable chat, without Gradio: /api/*, /embed, /widget.js, /demo.

    Each route makes one library call. Every error is a JSON body {"error": "..."}: a 4xx
    for anything the caller sent, never a traceback.
    """
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from fastapi_offline import FastAPIOffline  # Swagger UI served locally, not from a CDN
    from starlette.exceptions import HTTPException

    from retrieval.api_models import (
        AnswerOut,
        AskIn,
        CueIn,
        ErrorOut,
        FeedbackIn,
        validation_message,
    )

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorOut} for code in (400, 403, 413, 422, 429)
    }
    app = FastAPIOffline(
        title=f"{settings.gym_name} API",
        description="Grounded answers about the hip hinge, quoted verbatim from the articles.",
        version="1",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        static_url="/docs-static",
    )

    async def domain_error(request: Any, exc: Exception) -> JSONResponse:
        unavailable = isinstance(exc, (IndexMissingError, IndexCorruptError, IndexMismatchError))
        return error(503 if unavailable else 400, str(exc))

    async def invalid(request: Any, exc: Exception) -> JSONResponse:
        return error(422, validation_message(getattr(exc, "errors", list)(), exc))

    async def http_error(request: Any, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 400)
        return error(status, str(getattr(exc, "detail", "")) or "bad request.")

    async def unexpected(request: Any, exc: Exception) -> JSONResponse:
        return error(500, "internal error; the server log has the details.")

    app.add_exception_handler(HingeCoachError, domain_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)

    def ask(body: AskIn, request: Request) -> JSONResponse:
        """Answer a question, with verbatim citations: the `hingecoach ask --json` object.

        The X-Answer-Id response header names the answer for POST /api/feedback.
        """
        result = assistant.ask(body.question, body.history, k=settings.k)
        token = store.log(result, "api", _client_host(request))
        return JSONResponse(result.to_json(), headers={"X-Answer-Id": token} if token else {})

    def cue(body: CueIn) -> JSONResponse:
        """The articles' exact wording for a cue, where it is said, and its stance."""
        return JSONResponse(assistant.check_cue(body.cue).to_json())

    def feedback(body: FeedbackIn) -> JSONResponse:
        """Thumbs up or down on an answer; a second rating replaces the first."""
        if not store.rate(body.id, body.rating):
            return error(404, "no answer has that id; use the X-Answer-Id of /api/ask.")
        return JSONResponse({"id": body.id, "rating": body.rating})

    def health() -> JSONResponse:
        """The server is up and its index loaded, and whether a language model writes answers."""
        index = assistant.index
        llm = assistant.llm
        return JSONResponse(
            {
                "status": "ok",
                "articles": len(index.documents),
                "passages": len(index.chunks),
                "model": assistant.embedder.model_id,
                # "llm": written, checked answers (quotes when the model fails); else quotes.
                "answers": "llm" if llm else "extractive",
                "llm_model": llm.config.model if llm else None,
            }
        )

    answer_doc = {200: {"model": AnswerOut}, **errors}
    app.post("/api/ask", response_model=None, responses=answer_doc, tags=["chat"])(
        _typed(ask, body=AskIn, request=Request)
    )
    app.post("/api/cue", response_model=None, responses=errors, tags=["cue check"])(
        _typed(cue, body=CueIn)
    )
    app.post("/api/feedback", response_model=None, responses=errors, tags=["chat"])(
        _typed(feedback, body=FeedbackIn)
    )
    app.get("/api/health", response_model=None, tags=["server"])(health)

    def elsewhere(rest: str, request: Request) -> JSONResponse:
        # Anything else under /api/ answers in the API's own words, not Gradio's (which
        # would otherwise get it through the mount at /).
        known = {"ask": "POST", "cue": "POST", "feedback": "POST", "health": "GET"}
        if rest in known:
            return error(405, f"use {known[rest]} for /api/{rest}.")
        return error(404, f"no API route /api/{rest}; see /docs.")

    app.api_route(
        "/api/{rest:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
        include_in_schema=False,
    )(_typed(elsewhere, rest=str, request=Request))
    _add_pages(app, settings, Request, Response, HTMLResponse)
    return app


def _add_pages(
    app: FastAPI, settings: Settings, request_type: Any, response: Any, page: Any
) -> None:
    """The embeddable chat (/embed), the widget script (/widget.js) and the demo gym page."""
    from retrieval.guard import OriginPolicy

    pages = Pages.load(
        STATIC,
        settings.gym_name,
        settings.accent,
        settings.welcome,
        settings.examples,
        OriginPolicy(settings.allowed_origins).allowed,
    )
    cache = {"Cache-Control": "public, max-age=300"}

    def embed(request: Any) -> Any:
        body = pages.embed(request.query_params.get("accent", ""))
        return page(body, headers={"Content-Security-Policy": EMBED_CSP})

    def demo(request: Any) -> Any:
        return page(pages.demo(str(request.base_url)))

    def static(text: str, media_type: str) -> Callable[[], Any]:
        return lambda: response(text, media_type=media_type, headers=cache)

    app.get("/embed", include_in_schema=False)(_typed(embed, request=request_type))
    app.get("/demo", include_in_schema=False)(_typed(demo, request=request_type))
    app.get("/widget.js", include_in_schema=False)(static(pages.widget_js, "text/javascript"))
    for name, kind in ASSETS.items():
        app.get(f"/{name}", include_in_schema=False)(static(pages.assets[name], kind))


def create_site(assistant: Assistant, settings: Settings, store: FeedbackStore) -> FastAPI:
    """Everything one server answers: the API and widget, guarded, with the Gradio chat at /."""
    import gradio as gr
    from fastapi.responses import FileResponse, JSONResponse

    from retrieval.guard import Guard, OriginPolicy, json_cors

    app = create_api(assistant, settings, store)
    limiter = app.state.limiter = site_limiter(settings.rate_limit, settings.feedback_rate_limit)
    # Gradio's own loader for the <gradio-app> web component (see the README).
    component = Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js"
    app.get("/gradio.js", include_in_schema=False)(
        lambda: FileResponse(component, media_type="text/javascript")
    )
    # The chat takes no files; Gradio would otherwise store anyone's uploads and serve them
    # back from this site under /gradio_api/file=.
    app.post("/gradio_api/upload", include_in_schema=False)(
        lambda: JSONResponse({"error": "this chat takes no uploads."}, status_code=403)
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
    demo = create_app(assistant, settings, store, limiter)
    # The Assistant's own limit (serve) keeps the CPU-bound part of answers, chat and API
    # together, to answer_slots at once. Most of a chat turn is not that part: it is Gradio
    # streaming the turn through the event loop that the API shares (or, with a language
    # model, waiting for the endpoint). With only answer_slots turns in flight, API traffic
    # left the chat waiting: 25 API + 25 chat clients (bench/load.py) got the chat 5.3
    # answers/s at p50 5.1 s; with four times as many, 12.3/s at p50 2.0 s (API 35 -> 22/s,
    # p95 0.7 -> 1.0 s).
    chats = settings.answer_slots * 4
    demo.queue(default_concurrency_limit=chats)
    private = {str(p.resolve()) for p in (settings.root, settings.index, settings.db.parent)}
    site = gr.mount_gradio_app(
        app,
        demo,
        path="/",
        footer_links=["api"],
        show_error=False,
        allowed_paths=[],
        blocked_paths=sorted(private),  # no file of the repo, index or log via /gradio_api/file=
        max_file_size="1kb",  # the chat takes no uploads
        ssr_mode=False,
        mcp_server=False,
        run_history=False,
        pwa=False,
        js=(STATIC / "chat.js").read_text("utf-8"),
    )
    # Gradio checks the files an event may copy to its cache (only uploads in, nothing from
    # blocked_paths out) only once it thinks it has launched, which mounting never records:
    # without this, a crafted chat history could have any readable file served back.
    demo.has_launched = True
    return site


def serve(settings: Settings) -> None:
    """Build the index if missing, then serve the chat, the widget and the API with uvicorn."""
    import uvicorn

    from retrieval.feedback import FeedbackStore
    from retrieval.guard import timely_http

    assistant = open_assistant(settings, build_if_missing=True)
    assistant.limit_concurrency(settings.answer_slots)
    site = create_site(assistant, settings, FeedbackStore(settings.db))
    print(f"serving {settings.gym_name} on http://{settings.host}:{settings.port}", file=sys.stderr)
    # Sizing for a 2-core server:
    # - one process (uvicorn's default): Gradio's queue and its event streams live in process
    #   memory, and the model is loaded once; a second worker would split chats across
    #   processes and double the memory without adding cores;
    # - answers run in threads (FastAPI's pool for the API, Gradio's for the chat), at most
    #   answer_slots (2) at once, each with one inference thread (HINGECOACH_THREADS=1): two
    #   answers on two cores; further requests wait their turn instead of slowing everyone;
    # - limit_concurrency: past 200 open connections (each chat page holds an event stream)
    #   new ones get 503 at once rather than piling up;
    # - proxy headers are trusted from a reverse proxy on this machine only, so the rate
    #   limit keys on the visitor's address, not the proxy's;
    # - no access log: it would write client addresses in clear.
    uvicorn.run(
        site,
        host=settings.host,
        port=settings.port,
        limit_concurrency=200,
        timeout_keep_alive=5,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        access_log=False,
        log_level="warning",
        http=timely_http(settings.client_timeout),
    )


def run_report(settings: Settings, out: TextIO, as_json: bool = False) -> int:
    """Print the coverage-gap report from the question log."""
    from dataclasses import asdict

    from retrieval.feedback import FeedbackStore
    from retrieval.gaps import build_report

    store = FeedbackStore(settings.db, create=False)
    report = build_report(store, load_embedder(settings))
    if as_json:
        print(json.dumps(asdict(report), ensure_ascii=False, indent=2), file=out)
    else:
        print(terminal("\n".join(report.lines())), file=out)
    return 0


# ---------------------------------------------------------------- cue check

CUE_EXAMPLES = ["soft knees", "proud chest", "bring your chest to your thighs", "butt back"]
CUE_COMMANDS = ("cue", "cues")


def make_cue_checker(assistant: Assistant) -> Callable[[str], str]:
    """The Cue check tab's handler: one library call, formatted."""

    def check(cue: str) -> str:
        try:
            return format_cue_markdown(assistant.check_cue(cue))
        except HingeCoachError as exc:
            return f"Sorry, {html.escape(str(exc), quote=False)}"

    return check


def _cue_tab(assistant: Assistant) -> None:
    """The "Cue check" tab: check a cue's wording and stance; browse the cue catalogue."""
    import gradio as gr

    check = make_cue_checker(assistant)
    rows = catalogue_rows(assistant.cues())
    with gr.Tab("Cue check"):
        gr.Markdown(
            "Type a coaching cue to see whether the articles use that wording, "
            "in what words, and whether they endorse it or warn against it."
        )
        with gr.Row():
            box = gr.Textbox(
                label="Cue", placeholder="e.g. soft knees", scale=4, max_length=200, submit_btn=True
            )
        gr.Examples(CUE_EXAMPLES, inputs=box)
        result = gr.Markdown(sanitize_html=True, elem_id="cue-result")
        box.submit(check, inputs=box, outputs=result, api_name="cue")
        gr.Markdown(f"#### Cue catalogue: {len(rows)} cues from the articles, by body part")
        table = gr.Dataframe(
            value=rows,
            headers=["Topic", "Cue", "Stance", "Article", "Where"],
            interactive=False,
            wrap=True,
            show_search="search",
            max_height=420,
            column_widths=["10%", "40%", "13%", "15%", "22%"],
            elem_id="cue-catalogue",
        )

        def pick(event: gr.SelectData) -> tuple[str, str]:
            cue = rows[event.index[0]][1] if event.index else ""
            return cue, check(cue) if cue else ""

        # Gradio finds the event argument by its annotation, which must be the class itself.
        pick.__annotations__["event"] = gr.SelectData

        table.select(pick, outputs=[box, result], api_visibility="private")


def run_cue_command(
    args: argparse.Namespace, settings: Settings, stdin: TextIO, stdout: TextIO
) -> int:
    """`hingecoach cue CUE|-` and `hingecoach cues`."""
    if args.command == "cue" and args.cue == "-" and not args.json:
        raise HingeCoachError("reading cues from stdin needs --json.")
    assistant = open_assistant(settings)
    if args.command == "cues":
        catalogue = assistant.cues()
        text = json.dumps(catalogue.to_json(), ensure_ascii=False)
        print(text if args.json else terminal(format_catalogue_text(catalogue)), file=stdout)
        return 0
    if args.cue == "-":
        return cue_stream(assistant, stdin, stdout)
    check = assistant.check_cue(args.cue)
    text = json.dumps(check.to_json(), ensure_ascii=False)
    print(text if args.json else terminal(format_cue_text(check)), file=stdout)
    return 0


def _add_cue_commands(sub: Any, index_help: str) -> None:
    cue = sub.add_parser("cue", help="check a coaching cue's wording ('-' reads cues from stdin)")
    cue.add_argument("cue", help="the cue, or - for one cue per stdin line")
    cue.add_argument("--json", action="store_true", help="print JSON (one object per line)")
    cue.add_argument("--index", type=Path, help=index_help)
    cues = sub.add_parser("cues", help="list the coaching cues the articles contain")
    cues.add_argument("--json", action="store_true", help="print JSON")
    cues.add_argument("--index", type=Path, help=index_help)


# ---------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hingecoach", description="Grounded answers about the hip hinge, with citations."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    index_help = "index directory (default: index/ at the repo root)"

    ingest = sub.add_parser("ingest", help="build the index from the corpus")
    ingest.add_argument("--corpus", type=Path, help="corpus folder (default: corpus/)")
    ingest.add_argument("--index", type=Path, help=index_help)

    ask = sub.add_parser("ask", help="answer a question ('-' reads questions from stdin)")
    ask.add_argument("question", help="the question, or - for one question per stdin line")
    ask.add_argument("--json", action="store_true", help="print JSON (one object per line)")
    ask.add_argument("--k", type=int, help="citations at most (default 3)")
    ask.add_argument("--index", type=Path, help=index_help)
    add_llm_flags(ask)

    add_eval_parser(sub, index_help)

    srv = sub.add_parser("serve", help="serve the chat in a browser")
    srv.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, help="port (default 7860)")
    srv.add_argument("--index", type=Path, help=index_help)
    srv.add_argument("--corpus", type=Path, help="corpus to build a missing index from")
    srv.add_argument(
        "--rebuild-bad-index",
        action="store_true",
        default=None,
        help="rebuild a damaged index, or one built with another model, instead of refusing",
    )
    add_llm_flags(srv)
    srv.add_argument("--settings", type=Path, help="site settings file (TOML): branding, limits")
    srv.add_argument("--db", type=Path, help="question log (default: data/questions.sqlite3)")

    rep = sub.add_parser(
        "report", help="coverage gaps: unanswered questions by similarity, disliked answers"
    )
    rep.add_argument("--db", type=Path, help="question log (default: data/questions.sqlite3)")
    rep.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_cue_commands(sub, index_help)
    return parser


def add_llm_flags(parser: argparse.ArgumentParser) -> None:
    """Flags for the optional language model (each matches a HINGECOACH_LLM_* variable)."""
    group = parser.add_argument_group(
        "language model (optional; answers stay extractive when unset)"
    )
    group.add_argument(
        "--llm-base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1"
    )
    group.add_argument("--llm-model", help="model name the endpoint serves")
    group.add_argument(
        "--llm-api-key", help="API key (prefer HINGECOACH_LLM_API_KEY: flags show in ps)"
    )
    group.add_argument(
        "--llm-timeout", type=float, help="seconds of silence before falling back (20)"
    )
    group.add_argument(
        "--llm-context", type=int, help="the model's context window in tokens (4096)"
    )
    group.add_argument(
        "--llm-unsupported", choices=["flag", "drop"], help="unsupported sentences: flag or drop"
    )


# ---------------------------------------------------------------- eval

DEFAULT_QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"


def add_eval_parser(sub: Any, index_help: str) -> None:
    """`hingecoach eval [--questions FILE] [--json] [--index DIR]`."""
    ev = sub.add_parser(
        "eval", help="measure answer quality on labelled questions, next to common baselines"
    )
    ev.add_argument(
        "--questions",
        type=Path,
        help="labelled questions, JSONL (default: tests/data/questions.jsonl)",
    )
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.add_argument("--index", type=Path, help=index_help)


def run_eval(settings: Settings, questions: Path | None, as_json: bool, stdout: TextIO) -> int:
    """One library call (the evaluation), then the table or its JSON."""
    from retrieval.evaluate import evaluate_file

    assistant = open_assistant(settings)
    report = evaluate_file(
        questions or DEFAULT_QUESTIONS, assistant.index, assistant.embedder, assistant.settings
    )
    text = (
        json.dumps(report.to_json(), ensure_ascii=False) if as_json else "\n".join(report.lines())
    )
    print(text, file=stdout)
    return 0


def settings_from_args(args: argparse.Namespace) -> Settings:
    env = dict(os.environ)
    if getattr(args, "settings", None):
        env["HINGECOACH_SETTINGS"] = str(args.settings)
    settings = Settings.from_env(env)
    for name in ("corpus", "index", "k", "host", "port", "db", "rebuild_bad_index", *LLM_OPTIONS):
        value = getattr(args, name, None)
        if value is not None:
            setattr(settings, name, value)
    if settings.k < 1 or settings.k > 10:
        raise HingeCoachError("--k must be between 1 and 10.")
    check_llm_settings(settings)
    return settings


def run(
    argv: Sequence[str] | None = None, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> int:
    args = _parser().parse_args(argv)
    settings = settings_from_args(args)
    if args.command == "ingest":
        for line in run_ingest(settings):
            print(terminal(line), file=stdout)
        return 0
    if args.command == "serve":
        serve(settings)
        return 0
    if args.command == "report":
        return run_report(settings, stdout, args.json)
    if args.command in CUE_COMMANDS:
        return run_cue_command(args, settings, stdin, stdout)
    if args.command == "eval":
        return run_eval(settings, args.questions, args.json, stdout)
    assistant = open_assistant(settings)
    if args.question == "-":
        if not args.json:
            raise HingeCoachError("reading questions from stdin needs --json.")
        if hasattr(stdin, "reconfigure"):  # one line that is not UTF-8 must not lose the rest
            stdin.reconfigure(errors="replace")
        return ask_stream(assistant, stdin, stdout, settings.k)
    result = assistant.ask(args.question, k=settings.k)
    print(json_line(result.to_json()) if args.json else terminal(format_text(result)), file=stdout)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: domain errors become one line on stderr and exit status 1."""
    try:
        code = run(argv)
    except HingeCoachError as exc:
        print(terminal(f"hingecoach: error: {exc}"), file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except OSError as exc:  # disk full, permission denied, port in use: still one line
        print(terminal(f"hingecoach: error: {exc}"), file=sys.stderr)
        code = 1
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("HINGECOACH_DEBUG"):
            raise
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        print(
            terminal(
                f"hingecoach: error: unexpected failure ({reason}); "
                "run again with HINGECOACH_DEBUG=1 for the details"
            ),
            file=sys.stderr,
        )
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    if len(sys.argv) == 1:
        sys.argv.append("serve")
    main()
