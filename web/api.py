"""The HTTP API: /api/ask, /api/cue, /api/feedback, /api/health, with JSON errors.

Each route makes one library call on the objects the site keeps in `app.state`
(assistant, settings, store). Every error is a JSON body {"error": "..."}: a 4xx for
anything the caller sent, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from retrieval.errors import (
    HingeCoachError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
)
from retrieval.records import Citation
from web.chat import linked_answer
from web.feedback import LogUnavailableError
from web.gradio_ui import client_host
from web.models import AnswerOut, AskIn, CueIn, ErrorOut, FeedbackIn, validation_message
from web.rates import limiter_status

log = logging.getLogger(__name__)

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 403, 413, 422, 429)
}
RATING_RETRY_AFTER = 5  # seconds, when the question log cannot take a rating
KNOWN = {"ask": "POST", "cue": "POST", "feedback": "POST", "health": "GET"}

router = APIRouter(prefix="/api")


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The API's one error shape."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


@router.post(
    "/ask", response_model=None, responses={200: {"model": AnswerOut}, **ERRORS}, tags=["chat"]
)
def ask(body: AskIn, request: Request) -> JSONResponse:
    """Answer a question, with verbatim citations: the `hingecoach ask --json` object.

    The X-Answer-Id response header names the answer for POST /api/feedback. Send the
    answer before's `citations` back as `cited` and a follow-up quotes something new.
    """
    state = request.app.state
    cited = [Citation(0, "", c.source, "", c.start, c.end, "", 0.0) for c in body.cited]
    result = linked_answer(state.assistant, body.question, body.history, state.settings.k, cited)
    token = state.store.log(result, "api", client_host(request))
    return JSONResponse(result.to_json(), headers={"X-Answer-Id": token} if token else {})


@router.post("/cue", response_model=None, responses=ERRORS, tags=["cue check"])
def cue(body: CueIn, request: Request) -> JSONResponse:
    """The articles' exact wording for a cue, where it is said, and its stance."""
    return JSONResponse(request.app.state.assistant.check_cue(body.cue).to_json())


@router.post(
    "/feedback", response_model=None, responses={**ERRORS, 503: {"model": ErrorOut}}, tags=["chat"]
)
def feedback(body: FeedbackIn, request: Request) -> JSONResponse:
    """Thumbs up or down on an answer; a second rating replaces the first.

    503 with Retry-After when the question log cannot take it now (the rating is not kept).
    """
    try:
        found = request.app.state.store.rate(body.id, body.rating)
    except LogUnavailableError as exc:
        log.warning("rating not recorded: %s", exc)
        return error(
            503,
            "the rating could not be recorded right now; try again in a few seconds.",
            {"Retry-After": str(RATING_RETRY_AFTER)},
        )
    if not found:
        return error(404, "no answer has that id; use the X-Answer-Id of /api/ask.")
    return JSONResponse({"id": body.id, "rating": body.rating})


@router.get("/health", response_model=None, tags=["server"])
def health(request: Request) -> JSONResponse:
    """The server is up and its index loaded, and whether a language model writes answers."""
    assistant = request.app.state.assistant
    index, llm = assistant.index, assistant.llm
    return JSONResponse(
        {
            "status": "ok",
            "articles": len(index.documents),
            "passages": len(index.chunks),
            "model": assistant.embedder.model_id,
            # "llm": written, checked answers (quotes when the model fails); else quotes.
            "answers": "llm" if llm else "extractive",
            "llm_model": llm.config.model if llm else None,
            # Whether questions are logged, and where rate limits count (see docs/scaling.md).
            "log": request.app.state.store.status(),
            "rate_limits": limiter_status(request.app.state.limiter),
        }
    )


# HEAD, as GET without a body (monitors use it); one operation in the OpenAPI schema.
router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "HEAD", "OPTIONS"],  # the Guard answers any other method
    include_in_schema=False,
)
def elsewhere(rest: str) -> JSONResponse:
    """Anything else under /api/ answers in the API's own words, not Gradio's (which would
    otherwise get it through the mount at /)."""
    if rest in KNOWN:
        return error(405, f"use {KNOWN[rest]} for /api/{rest}.")
    return error(404, f"no API route /api/{rest}; see /docs.")


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


def add_error_handlers(app: FastAPI) -> None:
    """Every error the app raises becomes the API's JSON shape."""
    app.add_exception_handler(HingeCoachError, domain_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
