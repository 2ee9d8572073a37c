"""Capacity behind nginx: one replica against two, side by side in one run.

    PYTHONPATH=. python bench/scaling.py                      # 16 clients, 20 s each
    PYTHONPATH=. python bench/scaling.py --clients 8 --seconds 5 --replicas 1,2

For each size, starts bench/replicas.py's set (PostgreSQL for the question log, Redis for
the rate limits, the replicas, nginx in front), drives nginx with bench/load.py's API
client (every question from its own visitor, every answer rated), stops the set, and
prints: answers per second, p50 and p95, errors, the share of answers whose row the shared
log holds, the CPU seconds the replicas and the whole machine spent, and answers per
second per core. The load client runs on the same machine and takes its share of the
cores: the figures are a floor for a replica that has its cores to itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import Tally, drive  # noqa: E402
from bench.replicas import ReplicaSet  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds a process has used (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


def is_error(status: int | str) -> bool:
    """A 5xx, for a question or its rating, or no HTTP answer at all (a transport error)."""
    if isinstance(status, int):
        return status >= 500
    if status.startswith("feedback "):
        return int(status.split()[1]) >= 500
    return True


@dataclass
class Figures:
    """One size's run."""

    replicas: int
    seconds: float
    api: Tally
    written: int
    replica_cpu: float
    machine_cpu: float

    @property
    def rate(self) -> float:
        return self.api.answered / self.seconds

    def row(self, cores: int) -> list[str]:
        share = self.written / self.api.answered if self.api.answered else 0.0
        errors = sum(n for s, n in self.api.statuses.items() if is_error(s))
        return [
            f"{self.replicas}",
            f"{self.rate:.1f}",
            f"{self.api.percentile(0.5) * 1000:.0f}",
            f"{self.api.percentile(0.95) * 1000:.0f}",
            f"{errors}",
            f"{share:.1%}",
            f"{self.replica_cpu:.1f}",
            f"{self.machine_cpu:.1f}",
            f"{self.rate / cores:.1f}",
            f"{self.api.answered / self.replica_cpu if self.replica_cpu else 0:.1f}",
        ]


HEADER = [
    "replicas",
    "answers/s",
    "p50 ms",
    "p95 ms",
    "errors",
    "rows written",
    "replica CPU s",
    "machine CPU s",
    "answers/s/core",
    "answers/replica-CPU-s",
]


def measure(index: Path, replicas: int, clients: int, seconds: float) -> Figures:
    """Start a set of `replicas`, load its front, count what the shared log holds."""
    import psycopg

    env = {
        "HINGECOACH_RATE_LIMIT": "1000000/minute",
        "HINGECOACH_FEEDBACK_RATE_LIMIT": "1000000/minute",
    }
    with ReplicaSet(index, replicas, env) as running:
        pids = [r.process.proc.pid for r in running.replicas if r.process]
        asyncio.run(drive(running.url, clients=4, seconds=2, chat=False))  # warm up
        cpu_before = sum(process_cpu(p) for p in pids)
        machine_before = machine_busy()
        began = time.monotonic()
        api, _ = asyncio.run(
            drive(running.url, clients=clients, seconds=seconds, chat=False, fresh_addresses=True)
        )
        elapsed = time.monotonic() - began
        replica_cpu = sum(process_cpu(p) for p in pids) - cpu_before
        machine_cpu = machine_busy() - machine_before
        with psycopg.connect(running.postgres.url) as db:
            found = db.execute(
                "SELECT count(*) FROM questions WHERE token = ANY(%s)", (api.tokens,)
            ).fetchone()
    return Figures(replicas, elapsed, api, int(found[0]) if found else 0, replica_cpu, machine_cpu)


def table(results: list[Figures], cores: int) -> list[str]:
    rows = [HEADER, *(r.row(cores) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [" | ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--replicas", default="1,2", help="sizes to compare, e.g. 1,2")
    parser.add_argument("--index", type=Path, default=ROOT / "index", help="index directory")
    args = parser.parse_args()
    sizes = [int(n) for n in args.replicas.split(",")]
    if (
        not 1 <= args.clients <= 200
        or not 0 < args.seconds <= 600
        or not all(1 <= n <= 8 for n in sizes)
    ):
        parser.error("clients 1-200, seconds up to 600, replicas 1-8")
    if not (args.index / "meta.json").exists():
        parser.error(f"no index at {args.index}: run `hingecoach ingest` (or make serve) first")
    cores = os.cpu_count() or 1
    results = [measure(args.index, n, args.clients, args.seconds) for n in sizes]
    print(
        f"{args.clients} clients for {args.seconds:g} s through nginx on 127.0.0.1, "
        f"{cores} cores (load client included), load average {os.getloadavg()[0]:.1f}"
    )
    print("\n".join(table(results, cores)))
    statuses = {r.replicas: dict(r.api.statuses) for r in results}
    print(f"statuses: {statuses}")


if __name__ == "__main__":
    main()
