"""The cue check on its labelled set: accuracy per verdict and stance, and a threshold sweep.

    PYTHONPATH=. python bench/cue_set.py [--index DIR] [--sweep]

Builds a fresh index from corpus/ when --index is not given.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.assistant import Assistant  # noqa: E402
from retrieval.cues.check import CueCheck, CueSettings, check_cue  # noqa: E402
from retrieval.cues.units import CueBook  # noqa: E402
from retrieval.evaluation import CUES  # noqa: E402
from retrieval.evaluation.cues import CueLabel, evaluate_cues, load_labels  # noqa: E402

LABELS = CUES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="index directory (default: build one)")
    parser.add_argument("--sweep", action="store_true", help="also sweep the close thresholds")
    args = parser.parse_args()

    from ingest.build import build_index
    from retrieval.embedder import MiniLMEmbedder

    embedder = MiniLMEmbedder(threads=1)
    index = args.index
    if index is None:
        index = Path(tempfile.mkdtemp()) / "index"
        build_index(ROOT / "corpus", index, embedder, ROOT, progress=False)
    for line in report_lines(Assistant(index, embedder), args.sweep):
        print(line)


def report_lines(assistant: Assistant, with_sweep: bool = False) -> list[str]:
    """The figures: accuracy per verdict and stance, the misses, and optionally the sweep."""
    labels = load_labels(LABELS)
    began = time.perf_counter()
    report = evaluate_cues(labels, assistant.check_cue)
    seconds = time.perf_counter() - began
    lines = [f"{len(labels)} labelled cues, {seconds / len(labels) * 1000:.0f} ms per cue"]
    lines += report.lines()
    lines += [f"  miss: {failure}" for failure in report.failures]
    if with_sweep:
        lines += sweep(assistant, labels)
    return lines


def sweep(assistant: Assistant, labels: list[CueLabel]) -> list[str]:
    """Verdict accuracy (found / close / not_found) for a grid of close thresholds."""
    book = assistant._cue_data()[0]
    base = CueSettings()
    lines = ["", "close_cosine close_cosine_two   found  close  not_found  overall"]
    for one, two in itertools.product((0.40, 0.45, 0.50, 0.55, 0.60), (0.30, 0.35, 0.40, 0.45)):
        settings = replace(base, close_cosine=one, close_cosine_two=two)
        report = evaluate_cues(
            labels, partial(_check, book=book, assistant=assistant, settings=settings)
        )
        v = report.verdicts
        right = sum(t.right for t in v.values())
        total = sum(t.total for t in v.values())
        mark = " <- default" if (one, two) == (base.close_cosine, base.close_cosine_two) else ""
        lines.append(
            f"{one:12.2f} {two:16.2f} {v['found'].accuracy:7.1%} {v['close'].accuracy:6.1%}"
            f" {v['not_found'].accuracy:10.1%} {right / total:8.1%}{mark}"
        )
    return lines


def _check(cue: str, book: CueBook, assistant: Assistant, settings: CueSettings) -> CueCheck:
    return check_cue(cue, book, assistant.embedder, settings)


if __name__ == "__main__":
    main()
