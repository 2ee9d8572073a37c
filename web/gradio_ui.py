"""The Gradio UI: the Chat tab (responder, thumbs) and the coaches' Cue check tab.

Every handler makes one library call and only formats its result.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from gradio.components.chatbot import TextMessage  # noqa: E402

from retrieval.assistant import Assistant  # noqa: E402
from retrieval.cues.render import catalogue_rows, format_cue_html  # noqa: E402
from retrieval.errors import HingeCoachError  # noqa: E402
from retrieval.render import paragraphs, show_as_text  # noqa: E402
from web.chat import (  # noqa: E402
    ShownQuotes,
    linked_answer,
    reveal,
    stream_answer,
    typed_messages,
)
from web.colours import WHITE, ink_on, ramp, text_accent  # noqa: E402
from web.feedback import FeedbackStore, LogUnavailableError  # noqa: E402
from web.guard import RateLimiter, Refusal  # noqa: E402
from web.settings import SiteSettings  # noqa: E402

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
SHADES = ("50", "100", "200", "300", "400", "500", "600", "700", "800", "900", "950")
CUE_EXAMPLES = ["soft knees", "proud chest", "bring your chest to your thighs", "butt back"]
# The endpoints Gradio's API clients may call by name (/gradio_api/call/<name>): the rest of
# the app's events are the page's own, run by number (see web/gradio_gate.py).
API_ENDPOINTS = ("ask", "chat", "cue")


def client_host(request: Any) -> str | None:
    """The client's address as the server saw it (after trusted proxy headers)."""
    client = getattr(request, "client", None)
    return getattr(client, "host", None)


def refusal_text(refusal: Refusal, noun: str = "questions") -> str:
    """Why a question (or a cue check) was not answered: over the budget (429), or the
    shared limits could not be checked (503, rate_limit_fail = "closed")."""
    why = (
        f"too many {noun} from your address (limit {refusal.limit})"
        if refusal.status == 429
        else "the question limits cannot be checked right now"
    )
    return f"{why}; try again in {refusal.retry_after} second(s)"


def over_budget(limiter: RateLimiter | None, request: Any, noun: str) -> str | None:
    """The visitor's "Sorry, ..." when this one is over the question budget that the API,
    the widget, the chat and the cue check share; else None (and it is counted)."""
    refusal = limiter.hit("ask", client_host(request) or "unknown") if limiter else None
    return None if refusal is None else f"Sorry, {refusal_text(refusal, noun)}."


def make_responder(
    assistant: Assistant,
    settings: SiteSettings,
    store: FeedbackStore | None = None,
    limiter: RateLimiter | None = None,
) -> Callable[..., Iterator[str | dict[str, Any]]]:
    """The chat handler: one library call, then the reply streamed and its sources.

    With a store, each question is logged (with a pseudonym of the client's address) and
    the reply's last update carries the log's token for the answer (metadata "id"), so its
    thumbs rate exactly that answer; with a limiter, each question counts against the
    client's "ask" budget (shared with the API).
    """

    shown = ShownQuotes()

    def respond(
        message: str,
        history: list[Any],
        request: gr.Request = None,  # type: ignore[assignment]
    ) -> Iterator[str | dict[str, Any]]:
        refusal = over_budget(limiter, request, "questions")
        if refusal is not None:
            yield paragraphs(refusal)
            return
        try:
            cited = shown.before(history)
            result = yield from stream_answer(assistant, message, history, settings.k, cited)
        except HingeCoachError as exc:
            yield paragraphs(f"Sorry, {exc}")
            return
        token = store.log(result, "chat", client_host(request)) if store is not None else None
        *steps, final = reveal(result, settings.contact)
        yield from steps
        if token is None:
            yield final
            return
        shown.keep(token, result.citations)  # the next turn moves on from these quotes
        yield {"role": "assistant", "content": final, "metadata": {"id": token}}

    return respond


def rated_token(data: Any, history: Any) -> str | None:
    """The answer token of the message a thumbs event is on, or None for anything else
    (the page sends its index; a crafted event may send null, a list or a number past the
    end)."""
    index = getattr(data, "index", None)
    if isinstance(index, list) and len(index) == 1:
        index = index[0]
    if not isinstance(index, int) or isinstance(index, bool) or not isinstance(history, list):
        return None
    if not 0 <= index < len(history) or not isinstance(history[index], dict):
        return None
    message = history[index]
    metadata = message.get("metadata")
    token = metadata.get("id") if isinstance(metadata, dict) else None
    return token if message.get("role") == "assistant" and isinstance(token, str) else None


def make_rater(store: FeedbackStore) -> Callable[..., None]:
    """The chat's thumbs handler: rate the logged answer the thumb was on, named by the
    token its message carries (see make_responder)."""

    def rate(data: gr.LikeData, history: list[Any]) -> None:
        token = rated_token(data, history)
        liked = getattr(data, "liked", None)
        if token is None or liked not in (True, False):
            return
        try:
            store.rate(token[:64], "up" if liked else "down")
        except LogUnavailableError as exc:
            log.warning("rating not recorded: %s", exc)
            gr.Warning("Your rating could not be saved right now; please try again shortly.")

    return rate


def plain_user_chatbot(**kwargs: Any) -> gr.Chatbot:
    """A gr.Chatbot that shows visitors' messages as plain text, never as Markdown or HTML.

    Gradio renders every message as Markdown with HTML; a typed `![x](https://...)` would
    load an outside image. Visitors' messages go to the page through show_as_text and
    come back through typed_text, so the handler always sees exactly what was typed.
    (The methods are replaced on the instance: a Component subclass makes Gradio write
    a .pyi stub next to this file.)
    """
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


def create_ui(
    assistant: Assistant,
    settings: SiteSettings | None = None,
    store: FeedbackStore | None = None,
    limiter: RateLimiter | None = None,
) -> gr.Blocks:
    """The chat UI as a Gradio Blocks app (not launched); with a store, thumbs are recorded.

    The Cue check tab is there only with settings.coach_tools: visitors get the chat alone.
    """
    settings = settings or SiteSettings()
    respond = make_responder(assistant, settings, store, limiter)

    with gr.Blocks(title=settings.gym_name, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {html.escape(settings.gym_name)}\nAnswers about the hip hinge, only from the "
            "coaching articles, with the exact passages they come from."
        )
        with gr.Tab("Chat", visible=True) if settings.coach_tools else nullcontext():
            chat_area(respond, settings, store)
        if settings.coach_tools:
            cue_tab(assistant, limiter)
        gr.api(
            make_api_asker(assistant, settings, store, limiter),
            api_name="ask",
            api_description="Answer a question with verbatim citations: the same JSON object "
            "as POST /api/ask.",
        )
    return demo


def chat_area(respond: Callable[..., Iterator[Any]], settings: SiteSettings, store: Any) -> None:
    """The chat: conversation, question box, examples and thumbs."""
    chatbot = plain_user_chatbot(
        height="max(420px, 68vh)",  # on a phone, static/chat.css lets the page scroll instead
        autoscroll=False,  # static/chat.js keeps the question at the top instead
        show_label=False,  # the tab names it; a floating label covered the reply
        elem_id="hc-chat",
        sanitize_html=True,
        latex_delimiters=[],  # no math: "$$" in an article or a question stays text
        buttons=["copy", "copy_all"],  # no "share" to Hugging Face
        placeholder=settings.welcome,
        label="Conversation",
    )
    question = gr.Textbox(
        label="Your question",
        show_label=False,
        placeholder="Ask about the hip hinge…",
        elem_id="hc-question",
        scale=7,
        autofocus=True,
        submit_btn="Send",
        stop_btn=True,
    )
    gr.ChatInterface(
        fn=respond,
        chatbot=chatbot,
        textbox=question,
        examples=settings.examples,
        run_examples_on_click=True,
        cache_examples=False,
        analytics_enabled=False,
        # "Use via API" offers /ask (JSON, with history); the chat's HTML endpoint (/chat) is
        # left out of it, though the load benchmarks still drive the chat through it.
        api_visibility="undocumented",
        api_name="chat",
        # An empty question never reaches the conversation as an empty bubble.
        validator=lambda message: gr.validate(
            bool(str(message or "").strip()), "Type a question about the hip hinge first."
        ),
    )
    if store is not None:
        chatbot.like(make_rater(store), inputs=[chatbot], outputs=None, api_visibility="private")


def make_api_asker(
    assistant: Assistant,
    settings: SiteSettings,
    store: FeedbackStore | None = None,
    limiter: RateLimiter | None = None,
) -> Callable[..., dict[str, Any]]:
    """The /ask endpoint of Gradio's API: the same JSON as POST /api/ask, for gradio_client."""

    def ask(question: str, history: list[str] | None = None, request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Answer a question from the articles, quoting them verbatim.

        Args:
            question: the question, at most 1,000 characters.
            history: earlier questions of the conversation, oldest first (at most 10).
        Returns:
            the answer, its citations and whether the articles cover the question.
        """
        refusal = limiter.hit("ask", client_host(request) or "unknown") if limiter else None
        if refusal is not None:
            raise gr.Error(f"{refusal_text(refusal)}.", print_exception=False)
        try:
            result = linked_answer(assistant, question, history, settings.k)
        except HingeCoachError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        if store is not None:
            store.log(result, "api", client_host(request))
        return result.to_json()

    return ask


def accent_theme(accent: str) -> gr.themes.Base:
    """Gradio's default theme in the gym's colour: the accent at 500, with readable text."""
    shades = ramp(accent)
    hue = gr.themes.Color(**{f"c{name}": shades[name] for name in SHADES}, name="gym")
    ink, text = ink_on(accent), text_accent(accent)
    return gr.themes.Default(primary_hue=hue).set(
        button_primary_background_fill="*primary_500",
        button_primary_background_fill_dark="*primary_500",
        button_primary_background_fill_hover="*primary_600" if ink == WHITE else "*primary_400",
        button_primary_background_fill_hover_dark="*primary_600",
        button_primary_text_color=ink,
        button_primary_text_color_dark=ink,
        button_primary_text_color_hover=ink,
        color_accent=text,  # the selected tab's name, among others: text on white
        link_text_color=text,
        link_text_color_hover=text,
        link_text_color_visited=text,
        link_text_color_active=text,
    )


def page_options(settings: SiteSettings) -> dict[str, Any]:
    """What mounting the chat needs besides the app: the gym's theme, the page's style
    (static/chat.css) and script (static/chat.js: focus, announcements, scrolling)."""
    return {
        "theme": accent_theme(settings.accent),
        "css": (STATIC / "chat.css").read_text("utf-8"),
        "js": (STATIC / "chat.js").read_text("utf-8"),
    }


def make_cue_checker(
    assistant: Assistant, limiter: RateLimiter | None = None
) -> Callable[..., str]:
    """The Cue check tab's handler: one library call, formatted as escaped HTML.

    With a limiter, each check counts against the client's question budget, as /api/cue does.
    """

    def check(cue: str, request: gr.Request = None) -> str:  # type: ignore[assignment]
        refusal = over_budget(limiter, request, "cue checks")
        if refusal is not None:
            return paragraphs(refusal)
        try:
            return format_cue_html(assistant.check_cue(cue))
        except HingeCoachError as exc:
            return paragraphs(f"Sorry, {exc}")

    return check


def picked_cue(rows: list[list[str]], event: Any) -> str:
    """The cue of the catalogue row a select event names ("" for anything else)."""
    index = getattr(event, "index", None)
    row = index[0] if isinstance(index, list) and index else index
    if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < len(rows):
        return ""
    return rows[row][1]


def cue_tab(assistant: Assistant, limiter: RateLimiter | None = None) -> None:
    """The "Cue check" tab: check a cue's wording and stance; browse the cue catalogue."""
    check = make_cue_checker(assistant, limiter)
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
        # HTML we escape ourselves (format_cue_html), never Markdown: a cue or an article
        # holding a Markdown image, link or $$math$$ must show those characters, not load them.
        result = gr.HTML(label="Cue check result", elem_id="cue-result", elem_classes=["prose"])
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
            datatype="str",  # cells are text: never Markdown or HTML
            latex_delimiters=[],  # no math: "$$" in an article stays text
            elem_id="cue-catalogue",
        )

        def pick(event: gr.SelectData, request: gr.Request = None) -> tuple[str, str]:  # type: ignore[assignment]
            cue = picked_cue(rows, event)
            return cue, check(cue, request) if cue else ""

        table.select(pick, outputs=[box, result], api_visibility="private")
