"""Hinge Coach's edge: settings, the `hingecoach` CLI and the Gradio chat.

Every handler makes one library call and only formats its result.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from retrieval.errors import HingeCoachError, IndexMissingError
from retrieval.records import Answer, Citation

if TYPE_CHECKING:
    import gradio as gr

    from retrieval.service import Assistant

ROOT = Path(__file__).resolve().parent
EXAMPLES = [
    "Why do I feel this in my quads?",
    "Is a hip hinge the same as a squat?",
    "How much should my knees bend?",
    "How do I stop my ribs flaring when I hinge?",
]


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
    examples: list[str] = field(default_factory=lambda: list(EXAMPLES))
    # An OpenAI-compatible chat endpoint writes the answers when set; off by default.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 20.0
    llm_context: int = 4096
    llm_unsupported: str = "flag"  # or "drop"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        base = cls()
        return cls(
            corpus=Path(env.get("HINGECOACH_CORPUS", base.corpus)),
            index=Path(env.get("HINGECOACH_INDEX", base.index)),
            k=int(env.get("HINGECOACH_K", base.k)),
            # One intra-op thread per request: on a shared 2-core server two
            # requests at once beat one request on two contended cores.
            threads=int(env.get("HINGECOACH_THREADS", base.threads)),
            host=env.get("HINGECOACH_HOST", base.host),
            port=int(env.get("HINGECOACH_PORT", base.port)),
            **llm_env(env),
        )


LLM_OPTIONS = {  # setting -> (variable, type)
    "llm_base_url": ("HINGECOACH_LLM_BASE_URL", str),
    "llm_model": ("HINGECOACH_LLM_MODEL", str),
    "llm_api_key": ("HINGECOACH_LLM_API_KEY", str),
    "llm_timeout": ("HINGECOACH_LLM_TIMEOUT", float),
    "llm_context": ("HINGECOACH_LLM_CONTEXT", int),
    "llm_unsupported": ("HINGECOACH_LLM_UNSUPPORTED", str),
}


def llm_env(env: dict[str, str]) -> dict[str, Any]:
    """The language-model settings given by HINGECOACH_LLM_* variables (empty ones ignored)."""
    out: dict[str, Any] = {}
    for name, (variable, kind) in LLM_OPTIONS.items():
        if env.get(variable, "").strip():
            try:
                out[name] = kind(env[variable].strip())
            except ValueError as exc:
                raise HingeCoachError(f"{variable} must be a number.") from exc
    return out


def check_llm_settings(settings: Settings) -> None:
    """One-line errors for a language-model configuration that cannot work."""
    if settings.llm_model and not settings.llm_base_url:
        raise HingeCoachError("HINGECOACH_LLM_MODEL is set but HINGECOACH_LLM_BASE_URL is not.")
    if not settings.llm_base_url:
        return
    if not settings.llm_base_url.startswith(("http://", "https://")):
        raise HingeCoachError("HINGECOACH_LLM_BASE_URL must start with http:// or https://.")
    if not settings.llm_model:
        raise HingeCoachError("HINGECOACH_LLM_BASE_URL is set: set HINGECOACH_LLM_MODEL too.")
    if settings.llm_unsupported not in ("flag", "drop"):
        raise HingeCoachError("HINGECOACH_LLM_UNSUPPORTED must be flag or drop.")
    if settings.llm_timeout <= 0 or settings.llm_context < 1024:
        raise HingeCoachError(
            "the LLM timeout must be positive and its context 1024 tokens or more."
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
    from retrieval.embedder import MiniLMEmbedder

    return MiniLMEmbedder(threads=settings.threads)


def run_ingest(settings: Settings, embedder: Any = None, progress: bool = True) -> list[str]:
    """Build the index from the corpus; returns the summary lines."""
    from ingest.build import build_index

    embedder = embedder or load_embedder(settings)
    summary = build_index(settings.corpus, settings.index, embedder, settings.root, progress)
    return summary.lines()


def open_assistant(settings: Settings, build_if_missing: bool = False) -> Assistant:
    """Load the index (building it first when asked and missing) with the model."""
    from retrieval.index import read_meta
    from retrieval.service import Assistant

    try:
        read_meta(settings.index)  # fail fast, before the model loads
    except IndexMissingError:
        if not build_if_missing:
            raise
    embedder = load_embedder(settings)
    try:
        return Assistant(settings.index, embedder, **llm_options(settings))
    except IndexMissingError:
        if not build_if_missing:
            raise
        print(
            f"no index at {settings.index}; building it from {settings.corpus} ...", file=sys.stderr
        )
        for line in run_ingest(settings, embedder):
            print(line, file=sys.stderr)
        return Assistant(settings.index, embedder, **llm_options(settings))


# ---------------------------------------------------------------- formatting


def format_text(result: Answer) -> str:
    """An answer for the terminal: the reply, then numbered sources."""
    lines = [result.fallback] if result.fallback else []
    lines.append(result.answer)
    lines += [
        f"(unsupported, left out: {s.text} — {s.reason})"
        for s in result.sentences
        if not s.supported
    ]
    for c in result.citations:
        lines.append(f"[{c.n}] {c.title} — {c.source}:{c.start}-{c.end}")
    return "\n".join(lines)


def quote_in_context(citation: Citation, context: int = 240) -> str:
    """HTML: the quote highlighted inside a window of its passage, everything escaped."""
    passage = citation.passage
    at = passage.find(citation.quote)
    if at < 0:
        return f"<mark>{html.escape(citation.quote)}</mark>"
    before = passage[max(0, at - context) : at]
    after = passage[at + len(citation.quote) : at + len(citation.quote) + context]
    lead = "…" if at > context else ""
    tail = "…" if at + len(citation.quote) + context < len(passage) else ""

    def flat(text: str) -> str:
        # Line breaks become <br> so the excerpt stays inside its one-line blockquote.
        return re.sub(r"[ \t]*\n\s*", "<br>", html.escape(text))

    return f"{lead}{flat(before)}<mark>{flat(citation.quote)}</mark>{flat(after)}{tail}"


def format_markdown(result: Answer) -> str:
    """An answer for the chat: the reply, then each source with its quote in context."""
    parts = [answer_html(result)]
    if result.citations:
        parts.append("**Sources**")
        for c in result.citations:
            heading = f" — *{html.escape(c.heading)}*" if c.heading and c.heading != c.title else ""
            parts.append(
                f"**[{c.n}] {html.escape(c.title)}**{heading}  \n"
                f"<small>{html.escape(c.source)}, characters {c.start}–{c.end}</small>\n\n"
                f"> {quote_in_context(c)}"
            )
    return "\n\n".join(parts)


def answer_html(result: Answer) -> str:
    """The reply itself: a model-written one sentence by sentence, unsupported ones flagged."""
    if result.mode != "llm":
        body = html.escape(result.answer, quote=False)
        return f"<em>{html.escape(result.fallback)}</em>\n\n{body}" if result.fallback else body
    out = []
    for s in result.sentences:
        text = html.escape(s.text, quote=False)
        if s.supported:
            out.append(text + "".join(f" [{n}]" for n in s.citations))
        else:
            why = html.escape(s.reason or "the cited passage does not say this")
            out.append(f"<del>{text}</del> <small>⚠ <em>Not in the articles: {why}.</em></small>")
    body = " ".join(out)
    return f"{body}\n\n{html.escape(result.notice, quote=False)}" if result.notice else body


def stream_answer(
    assistant: Assistant, message: str, history: list[Any], settings: Settings
) -> Generator[str, None, Answer]:
    """Yield the checked drafts of a model-written answer; return the final answer."""
    from retrieval.written import Draft

    final: Answer | None = None
    for item in assistant.ask_stream(message, user_turns(history), k=settings.k):
        if isinstance(item, Draft):
            written = answer_html(item.answer)
            yield f"{written} …" if written else "<em>Writing an answer from the articles…</em>"
        else:
            final = item
    assert final is not None
    return final


def user_turns(history: Sequence[Any]) -> list[str]:
    """The user's earlier questions from Gradio's messages history, oldest first."""
    turns = []
    for message in history or []:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        if isinstance(content, str) and content.strip():
            turns.append(content)
    return turns


# ---------------------------------------------------------------- Gradio UI


def make_responder(
    assistant: Assistant, settings: Settings
) -> Callable[[str, list[Any]], Iterator[str]]:
    """The chat handler: one library call, then the reply streamed and its sources."""

    def respond(message: str, history: list[Any]) -> Iterator[str]:
        try:
            result = yield from stream_answer(assistant, message, history, settings)
        except HingeCoachError as exc:
            yield f"Sorry, {html.escape(str(exc), quote=False)}"
            return
        if result.mode == "llm":
            yield format_markdown(result)
            return
        words = html.escape(result.answer, quote=False).split(" ")
        step = max(1, len(words) // 8)
        for end in range(step, len(words), step):
            yield " ".join(words[:end])
        yield format_markdown(result)

    return respond


def create_app(assistant: Assistant, settings: Settings | None = None) -> gr.Blocks:
    """The chat UI as a Gradio Blocks app (not launched)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    settings = settings or Settings()
    respond = make_responder(assistant, settings)

    with gr.Blocks(title="Hinge Coach", analytics_enabled=False) as demo:
        gr.Markdown(
            "# Hinge Coach\nAnswers about the hip hinge, only from the coaching articles, "
            "with the exact passages they come from."
        )
        gr.ChatInterface(
            fn=respond,
            chatbot=gr.Chatbot(
                height=560, sanitize_html=True, placeholder="Ask about the hip hinge.", label="Chat"
            ),
            examples=settings.examples,
            run_examples_on_click=True,
            cache_examples=False,
            analytics_enabled=False,
            api_name="chat",
        )
    return demo


def serve(settings: Settings) -> None:
    """Build the index if missing, then serve the chat."""
    assistant = open_assistant(settings, build_if_missing=True)
    demo = create_app(assistant, settings)
    demo.queue(default_concurrency_limit=2)
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=False,
        show_error=False,
        footer_links=["api"],
    )


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

    srv = sub.add_parser("serve", help="serve the chat in a browser")
    srv.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, help="port (default 7860)")
    srv.add_argument("--index", type=Path, help=index_help)
    add_llm_flags(srv)
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


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    for name in ("corpus", "index", "k", "host", "port", *LLM_OPTIONS):
        value = getattr(args, name, None)
        if value is not None:
            setattr(settings, name, value)
    if settings.k < 1 or settings.k > 10:
        raise HingeCoachError("--k must be between 1 and 10.")
    check_llm_settings(settings)
    return settings


def _parse_line(line: str) -> tuple[str, list[str]]:
    if not line.lstrip().startswith("{"):
        return line, []
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise HingeCoachError(f"invalid JSON line ({exc.msg}).") from exc
    if not isinstance(data, dict) or not isinstance(data.get("question"), str):
        raise HingeCoachError('a JSON line needs a "question" string.')
    history = data.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise HingeCoachError('"history" must be a list of earlier questions (strings).')
    return data["question"], history


def ask_stream(assistant: Assistant, lines: TextIO, out: TextIO, k: int) -> int:
    """Batch mode: one question (or JSON object) per input line, one JSON object per output line."""
    failures = 0
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        try:
            question, history = _parse_line(line)
            record = assistant.ask(question, history, k=k).to_json()
        except HingeCoachError as exc:
            failures += 1
            record = {"question": line, "error": str(exc)}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return 1 if failures else 0


def run(
    argv: Sequence[str] | None = None, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> int:
    args = _parser().parse_args(argv)
    settings = settings_from_args(args)
    if args.command == "ingest":
        for line in run_ingest(settings):
            print(line, file=stdout)
        return 0
    if args.command == "serve":
        serve(settings)
        return 0
    assistant = open_assistant(settings)
    if args.question == "-":
        if not args.json:
            raise HingeCoachError("reading questions from stdin needs --json.")
        return ask_stream(assistant, stdin, stdout, settings.k)
    result = assistant.ask(args.question, k=settings.k)
    print(
        json.dumps(result.to_json(), ensure_ascii=False) if args.json else format_text(result),
        file=stdout,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: domain errors become one line on stderr and exit status 1."""
    try:
        code = run(argv)
    except HingeCoachError as exc:
        print(f"hingecoach: error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    if len(sys.argv) == 1:
        sys.argv.append("serve")
    main()
