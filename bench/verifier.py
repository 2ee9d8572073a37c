"""How well the sentence verifier flags unsupported sentences, on the labelled pairs.

    python bench/verifier.py [--index DIR] [--calibrate]

Each pair in bench/support_pairs.jsonl is a sentence a model might write and
the corpus span it cites (source, start, end; the file's text[start:end] == quote),
labelled supported or not, with the kind of error (invented, contradiction,
wrong-passage, off-topic...). The verifier checks the sentence against the index's
sentences inside that span, exactly as it checks a live answer against a passage.
A flag is a positive: precision = flagged pairs that are unsupported / flagged,
recall = unsupported pairs that are flagged / unsupported. --calibrate searches
the thresholds on the "calibrate" split and reports them on both splits.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.embedder import Embedder  # noqa: E402
from retrieval.index import Index  # noqa: E402
from retrieval.written.verify import Evidence, VerifierSettings, check, sentence_evidence  # noqa: E402

PAIRS = ROOT / "bench" / "support_pairs.jsonl"


@dataclass(frozen=True)
class Pair:
    """A sentence and the span it cites, labelled."""

    sentence: str
    supported: bool
    kind: str
    split: str
    source: str
    start: int
    end: int
    quote: str


@dataclass(frozen=True)
class Figures:
    """Confusion counts for flagging unsupported sentences."""

    tp: int  # unsupported, flagged
    fp: int  # supported, flagged
    fn: int  # unsupported, passed
    tn: int  # supported, passed

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self, label: str) -> str:
        return (
            f"{label:<10} n={self.tp + self.fp + self.fn + self.tn:<4} "
            f"precision={self.precision:.3f} recall={self.recall:.3f} f1={self.f1:.3f} "
            f"(flagged {self.tp} of {self.tp + self.fn} unsupported, "
            f"{self.fp} of {self.fp + self.tn} supported)"
        )


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    return [Pair(**json.loads(line)) for line in path.read_text("utf-8").splitlines() if line]


def pair_evidence(index: Index, pair: Pair) -> list[Evidence]:
    """The index's sentences inside the pair's span, as the verifier sees a cited passage."""
    doc_id = next(d.doc_id for d in index.documents if d.source == pair.source)
    inside = [
        sid
        for sid, s in enumerate(index.sentences)
        if index.chunks[s.chunk_id].doc_id == doc_id and pair.start <= s.start < s.end <= pair.end
    ]
    return sentence_evidence(index, 1, inside)


class Bench:
    """The pairs with their embeddings and evidence, computed once."""

    def __init__(self, index: Index, embedder: Embedder, pairs: list[Pair] | None = None) -> None:
        self.pairs = pairs if pairs is not None else load_pairs()
        self.vectors = embedder.encode([p.sentence for p in self.pairs])
        self.evidence = [pair_evidence(index, p) for p in self.pairs]

    def flags(self, settings: VerifierSettings) -> list[bool]:
        return [
            not check(p.sentence, v, e, settings).supported
            for p, v, e in zip(self.pairs, self.vectors, self.evidence, strict=True)
        ]

    def figures(self, settings: VerifierSettings, split: str | None = None) -> Figures:
        counts: Counter[tuple[bool, bool]] = Counter()
        for pair, flagged in zip(self.pairs, self.flags(settings), strict=True):
            if split is None or pair.split == split:
                counts[(not pair.supported, flagged)] += 1
        return Figures(
            counts[(True, True)],
            counts[(False, True)],
            counts[(True, False)],
            counts[(False, False)],
        )

    def by_kind(self, settings: VerifierSettings) -> dict[str, tuple[int, int]]:
        """kind -> (pairs judged correctly, pairs)."""
        out: dict[str, list[int]] = {}
        for pair, flagged in zip(self.pairs, self.flags(settings), strict=True):
            right = flagged != pair.supported
            out.setdefault(pair.kind, [0, 0])
            out[pair.kind][0] += right
            out[pair.kind][1] += 1
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}

    def calibrate(self, base: VerifierSettings) -> VerifierSettings:
        """The grid point with the best F1 on the calibrate split (ties: higher precision).

        `base` stays unless a point does strictly better, so a flat optimum does not move it.
        """
        start = self.figures(base, "calibrate")
        best = (round(start.f1, 4), start.precision, base)
        for w in np.arange(0.2, 0.81, 0.1):
            for t in np.arange(0.40, 0.951, 0.01):
                settings = replace(base, w_cosine=round(float(w), 2), min_score=round(float(t), 2))
                figures = self.figures(settings, "calibrate")
                key = (round(figures.f1, 4), figures.precision, settings)
                if key[:2] > best[:2]:
                    best = key
        return best[2]


def report(bench: Bench, settings: VerifierSettings) -> list[str]:
    lines = [f"settings: w_cosine={settings.w_cosine} min_score={settings.min_score}"]
    for split in ("calibrate", "holdout", None):
        lines.append(bench.figures(settings, split).line(split or "all"))
    kinds = ", ".join(f"{k} {r}/{n}" for k, (r, n) in bench.by_kind(settings).items())
    lines.append(f"judged right by kind: {kinds}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="index directory (default: built in a temp dir)")
    parser.add_argument("--calibrate", action="store_true", help="search the thresholds too")
    args = parser.parse_args()

    from retrieval.embedder import MiniLMEmbedder
    from retrieval.index import load_index

    embedder = MiniLMEmbedder(threads=2)
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.index
        if directory is None:
            from ingest.build import build_index

            directory = Path(tmp) / "index"
            build_index(ROOT / "corpus", directory, embedder, ROOT, progress=False)
        index = load_index(directory, embedder.model_id, embedder.dimension)
    bench = Bench(index, embedder)
    counts = Counter((p.supported, p.split) for p in bench.pairs)
    print(
        f"{len(bench.pairs)} labelled pairs: {counts[(True, 'calibrate')]}+"
        f"{counts[(True, 'holdout')]} supported, {counts[(False, 'calibrate')]}+"
        f"{counts[(False, 'holdout')]} unsupported (calibrate+holdout)"
    )
    print("\n".join(report(bench, VerifierSettings())))
    if args.calibrate:
        print("\ncalibrated on the calibrate split:")
        print("\n".join(report(bench, bench.calibrate(VerifierSettings()))))


if __name__ == "__main__":
    main()
