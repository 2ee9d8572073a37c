"""Score the cue check on a labelled set of cues: accuracy per verdict and per stance."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.cues.check import CueCheck


@dataclass(frozen=True)
class CueLabel:
    """What the articles should say about a cue: the verdict, and for the best match its
    stance and a phrase its quote contains (None: not checked)."""

    cue: str
    verdict: str
    stance: str | None = None
    quote: str | None = None


@dataclass
class Tally:
    right: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 1.0

    def add(self, ok: bool) -> None:
        self.right += ok
        self.total += 1


@dataclass
class CueEvalReport:
    """Accuracy per expected verdict and per expected stance, and what went wrong."""

    verdicts: dict[str, Tally] = field(default_factory=dict)
    stances: dict[str, Tally] = field(default_factory=dict)
    quotes: Tally = field(default_factory=Tally)
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"verdict {name:10} {t.right:3}/{t.total:<3} {t.accuracy:6.1%}"
            for name, t in self.verdicts.items()
        ]
        out += [
            f"stance  {name:10} {t.right:3}/{t.total:<3} {t.accuracy:6.1%}"
            for name, t in self.stances.items()
        ]
        out.append(f"quote   best match {self.quotes.right:3}/{self.quotes.total:<3}")
        return out


def load_labels(path: Path) -> list[CueLabel]:
    """The labelled cues of a JSON file (a list of {cue, verdict, stance, quote})."""
    return [CueLabel(**item) for item in json.loads(path.read_text("utf-8"))]


def evaluate_cues(labels: list[CueLabel], check: Callable[[str], CueCheck]) -> CueEvalReport:
    """Run every labelled cue through `check` and tally what came out right.

    The stance and quote are those of the best match, scored only when the verdict
    is right (a stance of the wrong passage means nothing).
    """
    report = CueEvalReport()
    for label in labels:
        result = check(label.cue)
        verdict_ok = result.verdict == label.verdict
        report.verdicts.setdefault(label.verdict, Tally()).add(verdict_ok)
        best = result.matches[0] if result.matches else None
        problems = [] if verdict_ok else [f"verdict {result.verdict}"]
        if label.stance is not None and verdict_ok:
            stance_ok = best is not None and best.stance == label.stance
            report.stances.setdefault(label.stance, Tally()).add(stance_ok)
            if not stance_ok:
                problems.append(f"stance {best.stance if best else None}")
        if label.quote is not None and verdict_ok:
            quote_ok = best is not None and label.quote.lower() in best.quote.lower()
            report.quotes.add(quote_ok)
            if not quote_ok:
                problems.append(f"best quote {best.quote if best else None!r}")
        if problems:
            report.failures.append(
                f"{label.cue!r}: expected {label.verdict}/{label.stance}, got "
                + ", ".join(problems)
            )
    return report
