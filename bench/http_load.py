"""HTTP load against a running Hinge Coach server: sequential latency and N concurrent clients.

It talks to `POST /api/ask` when the server has it, else to the Gradio chat
endpoint (`POST /gradio_api/call/chat`, then the event stream until `complete`).
Traffic goes only to the address given (a server this machine runs); every loop is
bounded in time.

    python bench/http_load.py http://127.0.0.1:7860 --clients 32 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field

import httpx

QUESTIONS = [
    "why do I feel this in my quads?",
    "what is a hip hinge",
    "how much should my knees bend",
    "where should my weight be on my feet",
    "how do I stop my ribs flaring",
    "What should I eat before a workout?",
]


@dataclass
class LoadResult:
    """Latencies (seconds) of completed requests, and what went wrong."""

    endpoint: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


async def detect(client: httpx.AsyncClient, base: str) -> str:
    """'api' when the server answers POST /api/ask, else 'gradio'."""
    try:
        response = await client.post(f"{base}/api/ask", json={"question": QUESTIONS[0]})
    except httpx.HTTPError:
        return "gradio"
    return "api" if response.status_code == 200 else "gradio"


async def ask_once(client: httpx.AsyncClient, base: str, endpoint: str, question: str) -> None:
    """One question answered over HTTP; raises on any failure."""
    if endpoint == "api":
        response = await client.post(f"{base}/api/ask", json={"question": question})
        response.raise_for_status()
        if "answer" not in response.json():
            raise RuntimeError("no answer in the response")
        return
    # The chat's endpoint is left out of "Use via API" (which offers /ask), so it is called by
    # position (data), not by its documented parameter names (Gradio's /call/v2/).
    response = await client.post(f"{base}/gradio_api/call/chat", json={"data": [question, []]})
    response.raise_for_status()
    event_id = response.json()["event_id"]
    async with client.stream("GET", f"{base}/gradio_api/call/chat/{event_id}") as stream:
        stream.raise_for_status()
        event = ""
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(f"server error event: {line[5:].strip()[:200]}")
                if not json.loads(line[5:])[0]:
                    raise RuntimeError("empty answer")
                return
    raise RuntimeError("stream ended without a complete event")


async def _client_loop(
    client: httpx.AsyncClient,
    base: str,
    endpoint: str,
    offset: int,
    deadline: float,
    out: LoadResult,
) -> None:
    n = offset
    while time.perf_counter() < deadline:
        question = QUESTIONS[n % len(QUESTIONS)]
        n += 1
        began = time.perf_counter()
        try:
            await ask_once(client, base, endpoint, question)
        except Exception as exc:  # every failure is counted, none stops the run
            out.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        out.latencies.append(time.perf_counter() - began)


async def run_load(
    base: str, clients: int, seconds: float, endpoint: str | None = None
) -> LoadResult:
    """`clients` concurrent clients asking in a loop for `seconds`."""
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        endpoint = endpoint or await detect(client, base)
        result = LoadResult(endpoint)
        began = time.perf_counter()
        deadline = began + seconds
        await asyncio.gather(
            *(_client_loop(client, base, endpoint, i, deadline, result) for i in range(clients))
        )
        result.seconds = time.perf_counter() - began
    return result


async def run_sequential(
    base: str, questions: list[str], rounds: int, endpoint: str | None = None
) -> LoadResult:
    """One client, one question at a time (warm latency over HTTP)."""
    async with httpx.AsyncClient(timeout=60.0) as client:
        endpoint = endpoint or await detect(client, base)
        result = LoadResult(endpoint)
        for question in questions:  # one pass first: the connection, the index pages
            await ask_once(client, base, endpoint, question)
        began = time.perf_counter()
        for _ in range(rounds):
            for question in questions:
                start = time.perf_counter()
                try:
                    await ask_once(client, base, endpoint, question)
                except Exception as exc:
                    result.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    continue
                result.latencies.append(time.perf_counter() - start)
        result.seconds = time.perf_counter() - began
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="server address, e.g. http://127.0.0.1:7860")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    result = asyncio.run(run_load(args.base.rstrip("/"), args.clients, args.seconds))
    ms = [x * 1000 for x in result.latencies]
    print(
        f"{args.clients} clients x {result.seconds:.0f}s via {result.endpoint}: "
        f"{len(ms)} answers, {result.throughput:.1f}/s, p50 {percentile(ms, 50):.0f} ms, "
        f"p95 {percentile(ms, 95):.0f} ms, errors {len(result.errors)}"
    )
    if result.errors:
        print("first error:", result.errors[0])
    print("mean", f"{statistics.fmean(ms):.0f} ms" if ms else "-")


if __name__ == "__main__":
    main()
