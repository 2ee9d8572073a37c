"""Hinge Coach's entry: the `hingecoach` CLI, its Settings, and the library wiring.

`ask`, `cue`, `cues`, `eval` and `ingest` load only the library (no web framework);
`serve` and `report` import the site from `web/`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from retrieval.batch import answer_lines, check_lines, json_line
from retrieval.cues.render import format_catalogue_text, format_cue_text
from retrieval.errors import (
    HingeCoachError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
)
from retrieval.evaluation import QUESTIONS
from retrieval.links import with_links
from retrieval.render import format_text, terminal
from web.logdb import log_location
from web.settings import SITE_KEYS, SiteSettings, site_settings

if TYPE_CHECKING:
    from retrieval.assistant import Assistant
    from retrieval.embedder import Embedder

ROOT = Path(__file__).resolve().parent
LLM_OPTIONS = {  # setting -> (variable, type)
    "llm_base_url": ("HINGECOACH_LLM_BASE_URL", str),
    "llm_model": ("HINGECOACH_LLM_MODEL", str),
    "llm_api_key": ("HINGECOACH_LLM_API_KEY", str),
    "llm_timeout": ("HINGECOACH_LLM_TIMEOUT", float),
    "llm_context": ("HINGECOACH_LLM_CONTEXT", int),
    "llm_unsupported": ("HINGECOACH_LLM_UNSUPPORTED", str),
}
CUE_COMMANDS = ("cue", "cues")
DB_HELP = "question log: a SQLite file (default: data/questions.sqlite3) or a postgresql:// URL"
# Numeric settings: setting -> (variable, flag, type, lowest, highest). Each is checked once
# every source (default, variable, flag) is in, so a bad one is one line naming it.
NUMBERS: dict[str, tuple[str, str | None, type, float, float]] = {
    "k": ("HINGECOACH_K", "--k", int, 1, 10),
    "threads": ("HINGECOACH_THREADS", None, int, 1, 64),
    "port": ("HINGECOACH_PORT", "--port", int, 1, 65535),
    "client_timeout": ("HINGECOACH_CLIENT_TIMEOUT", None, float, 0.5, 3600),
    "llm_timeout": ("HINGECOACH_LLM_TIMEOUT", "--llm-timeout", float, 0.1, 3600),
    "llm_context": ("HINGECOACH_LLM_CONTEXT", "--llm-context", int, 1024, 10_000_000),
}
YES, NO = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


@dataclass
class Settings(SiteSettings):
    """Configuration, read once at the edge from flags and HINGECOACH_* variables: where the
    corpus and index are, the optional language model, and the site's own settings."""

    root: Path = ROOT
    corpus: Path = ROOT / "corpus"
    index: Path = ROOT / "index"
    db: Path | str = ROOT / "data" / "questions.sqlite3"  # question log: file or postgresql://
    threads: int = 1
    rebuild_bad_index: bool = False  # serve: rebuild a damaged or foreign index instead of refusing
    # An OpenAI-compatible chat endpoint writes the answers when set; off by default.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 20.0
    llm_context: int = 4096
    llm_unsupported: str = "flag"  # or "drop"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        rebuild = env.get("HINGECOACH_REBUILD_BAD_INDEX", "").strip().lower()
        if rebuild not in YES + NO:
            raise HingeCoachError(
                f"HINGECOACH_REBUILD_BAD_INDEX must be 1 or 0 (true/false), not {rebuild!r}."
            )
        host = env.get("HINGECOACH_HOST", cls.host).strip()
        if not host or any(c.isspace() or c in "/[]" for c in host):
            raise HingeCoachError(f"HINGECOACH_HOST must be an address or a name, not {host!r}.")
        settings = cls(
            corpus=Path(env.get("HINGECOACH_CORPUS", cls.corpus)),
            index=Path(env.get("HINGECOACH_INDEX", cls.index)),
            host=host,
            rebuild_bad_index=rebuild in YES,
            **number_env(env),
            **llm_env(env),
        )
        current = {key: getattr(settings, key) for key in SITE_KEYS}
        for key, value in site_settings(current, env).items():
            setattr(settings, key, value)
        return settings


def number_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The numeric settings given by HINGECOACH_* variables (see NUMBERS), parsed."""
    out: dict[str, Any] = {}
    for name, (variable, _, kind, _, _) in NUMBERS.items():
        text = env.get(variable, "").strip()
        if not text:
            continue
        try:
            out[name] = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise HingeCoachError(f"{variable} must be {what}, not {text!r}.") from None
    return out


def check_numbers(settings: Settings) -> None:
    """One line naming the setting (variable and flag) that is out of range, NaN or infinite.

    (HINGECOACH_PORT=99999 once gave two tracebacks; HINGECOACH_CLIENT_TIMEOUT=nan made every
    POST a 408, and -1 dropped every connection.)
    """
    for name, (variable, flag, kind, low, high) in NUMBERS.items():
        value = getattr(settings, name)
        if not low <= value <= high:  # NaN compares false: refused too
            where = f"{variable} ({flag})" if flag else variable
            what = "a whole number" if kind is int else "a number of seconds"
            raise HingeCoachError(f"{where} must be {what} from {low:g} to {high:g}, not {value}.")


def llm_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The language-model settings given by HINGECOACH_LLM_* variables (empty ones ignored)."""
    out: dict[str, Any] = {}
    for name, (variable, kind) in LLM_OPTIONS.items():
        if name in NUMBERS:
            continue  # number_env reads these
        if env.get(variable, "").strip():
            try:
                out[name] = kind(env[variable].strip())
            except ValueError as exc:
                raise HingeCoachError(f"{variable} must be a number.") from exc
    return out


def check_llm_settings(settings: Settings) -> None:
    """One-line errors for a language-model configuration that cannot work."""
    base_url, model = settings.llm_base_url, settings.llm_model
    if model and not base_url:
        raise HingeCoachError("HINGECOACH_LLM_MODEL is set but HINGECOACH_LLM_BASE_URL is not.")
    if not base_url:
        return
    if not base_url.startswith(("http://", "https://")):
        raise HingeCoachError("HINGECOACH_LLM_BASE_URL must start with http:// or https://.")
    if not model:
        raise HingeCoachError("HINGECOACH_LLM_BASE_URL is set: set HINGECOACH_LLM_MODEL too.")
    if settings.llm_unsupported not in ("flag", "drop"):
        raise HingeCoachError("HINGECOACH_LLM_UNSUPPORTED must be flag or drop.")


def written_answer_options(settings: Settings) -> dict[str, Any]:
    """Assistant keyword arguments for the configured language model (none when off)."""
    if not settings.llm_base_url or not settings.llm_model:
        return {}
    from retrieval.written.compose import WrittenSettings
    from retrieval.written.llm import ChatModel, LLMConfig

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


def embedder_for(settings: Settings) -> Embedder:
    """The bundled model through ONNX Runtime: no torch on the query path."""
    from retrieval.embedder import load_embedder

    return load_embedder(threads=settings.threads)


def run_ingest(settings: Settings, embedder: Any = None, progress: bool = True) -> list[str]:
    """Build the index from the corpus; returns the summary lines."""
    from ingest.build import build_index

    embedder = embedder or embedder_for(settings)
    summary = build_index(settings.corpus, settings.index, embedder, settings.root, progress)
    return summary.lines()


def open_assistant(settings: Settings, build_if_missing: bool = False) -> Assistant:
    """Load the index with the model; build it first when missing (if asked) or bad (if configured).

    A damaged or foreign index is refused with a one-line error before the model loads,
    unless settings.rebuild_bad_index says to rebuild it from the corpus.
    """
    from retrieval.assistant import Assistant
    from retrieval.index import recover_index, verify_files

    for line in recover_index(settings.index):  # a build killed mid-swap left no index here
        print(terminal(line), file=sys.stderr)
    try:
        verify_files(settings.index)  # fail fast, before the model loads
    except IndexMissingError:
        if not build_if_missing:
            raise
    except (IndexCorruptError, IndexMismatchError):
        if not settings.rebuild_bad_index:
            raise
    embedder = embedder_for(settings)
    try:
        return Assistant(settings.index, embedder, **written_answer_options(settings))
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
    return Assistant(settings.index, embedder, **written_answer_options(settings))


def serve(settings: Settings) -> None:
    """Build the index if missing, then serve the chat, the widget and the API."""
    from web.feedback import FeedbackStore
    from web.rates import storage_problem
    from web.site import create_site, listen
    from web.site import serve as run_site

    sock = listen(settings.host, settings.port)  # a port in use is an error before the model loads
    with sock:
        assistant = open_assistant(settings, build_if_missing=True)
        assistant.limit_concurrency(settings.answer_slots)
        private = (settings.root, settings.index)
        store = FeedbackStore(settings.db, queue_size=settings.log_queue)
        # What this server cannot do from the start (a log it cannot write, an unreachable
        # Redis): said now, while it goes on answering.
        storage = storage_problem(settings.rate_limit_storage, settings.rate_limit_fail)
        for problem in filter(None, (store.problem, storage)):
            print(terminal(f"hingecoach: warning: {problem}"), file=sys.stderr)
        try:
            run_site(create_site(assistant, settings, store, private), settings, sock)
        finally:
            store.close()  # write the rows still queued before the process ends


def run_report(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Print the coverage-gap report from the question log (the settings' db)."""
    from web.gaps import parse_since, print_report

    since = parse_since(args.since) if args.since else None
    print_report(settings.db, embedder_for(settings), out, args.json, since, args.csv)
    return 0


# ---------------------------------------------------------------- CLI


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
        return check_lines(assistant, stdin, stdout)
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
    srv.add_argument("--db", help=DB_HELP)

    rep = sub.add_parser(
        "report", help="coverage gaps: unanswered questions by similarity, disliked answers"
    )
    rep.add_argument("--db", help="SQLite file or postgresql:// URL (default: the settings' db)")
    rep.add_argument("--settings", type=Path, help="site settings file (TOML) whose db to read")
    rep.add_argument(
        "--since", help="only questions asked since a date (2026-12-01) or for a duration (7d)"
    )
    form = rep.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print the report as JSON")
    form.add_argument("--csv", action="store_true", help="print the report as CSV")
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


def add_eval_parser(sub: Any, index_help: str) -> None:
    """`hingecoach eval [--questions FILE] [--json] [--index DIR]`."""
    ev = sub.add_parser(
        "eval", help="measure answer quality on labelled questions, next to common baselines"
    )
    ev.add_argument(
        "--questions",
        type=Path,
        help="labelled questions, JSONL (default: retrieval/evaluation/data/questions.jsonl)",
    )
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.add_argument("--index", type=Path, help=index_help)


def run_eval(settings: Settings, questions: Path | None, as_json: bool, stdout: TextIO) -> int:
    """One library call (the evaluation), then the table or its JSON."""
    from retrieval.evaluation.answers import evaluate_file

    assistant = open_assistant(settings)
    report = evaluate_file(
        questions or QUESTIONS, assistant.index, assistant.embedder, assistant.settings
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
    settings.db = log_location(settings.db)  # a --db flag: a path or a postgresql:// URL
    check_numbers(settings)
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
        return run_report(args, settings, stdout)
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
        return answer_lines(assistant, stdin, stdout, settings.k)
    result = with_links(assistant.ask(args.question, k=settings.k), assistant.index)
    text = json_line(result.to_json()) if args.json else format_text(result, settings.contact)
    print(text if args.json else terminal(text), file=stdout)
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
