"""The coverage-gap report: unanswered questions grouped by meaning, and disliked answers."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import numpy as np

from retrieval.embedder import Embedder
from retrieval.errors import HingeCoachError
from retrieval.render import terminal
from web.feedback import FeedbackStore, LoggedQuestion

# all-MiniLM-L6-v2 puts paraphrases ("what to eat before lifting" / "what should I eat
# before a workout?") at cosine 0.64-0.92 and different topics that share a word
# ("how do I warm up before deadlifts") at 0.57 or less.
SIMILAR = 0.62


@dataclass
class Group:
    """Questions that ask the same thing, most frequent wording first."""

    label: str
    count: int
    visitors: int
    wordings: list[str] = field(default_factory=list)  # the other wordings, most asked first


@dataclass
class Disliked:
    """An answer that got a thumbs down, with how often."""

    question: str
    answer: str
    sources: list[str]
    count: int


@dataclass
class GapReport:
    """What a gym reads to decide which article to write next."""

    questions: int
    answered: int
    visitors: int
    up: int
    down: int
    gaps: list[Group]
    disliked: list[Disliked]

    def lines(self, examples: int = 3) -> list[str]:
        """The report as text lines for the terminal."""
        unanswered = self.questions - self.answered
        share = f" ({unanswered / self.questions:.0%})" if self.questions else ""
        out = [
            f"{self.questions} question(s) from {self.visitors} visitor(s): "
            f"{self.answered} answered, {unanswered} unanswered{share}; "
            f"thumbs up {self.up}, thumbs down {self.down}.",
            "",
            "Coverage gaps (unanswered questions, grouped by similarity):",
        ]
        if not self.gaps:
            out.append("  none")
        for group in self.gaps:
            out.append(f"  {group.count:>4}×  {group.label}  [{group.visitors} visitor(s)]")
            for wording in group.wordings[:examples]:
                out.append(f"         also: {wording}")
            if len(group.wordings) > examples:
                out.append(f"         ... and {len(group.wordings) - examples} more wording(s)")
        out += ["", "Answers that got a thumbs down:"]
        if not self.disliked:
            out.append("  none")
        for item in self.disliked:
            first = item.answer.split("\n")[0]
            first = first if len(first) <= 160 else first[:157] + "..."
            out.append(f"  {item.count:>4}×  {item.question}")
            out.append(f"         answered: {first}")
            if item.sources:
                out.append(f"         from: {', '.join(item.sources)}")
        return out


def question_key(question: str) -> str:
    """Case, spacing and end punctuation folded, so trivial variants count as one."""
    return re.sub(r"[\s?!.]+$", "", " ".join(question.split()).casefold())


def group_similar(
    asked: list[LoggedQuestion], embedder: Embedder, threshold: float = SIMILAR
) -> list[Group]:
    """Group questions whose embeddings are close, largest group first.

    Wordings are taken most-asked first; each joins the group whose centroid is most
    similar when that reaches the threshold, else starts its own group.
    """
    if not asked:
        return []
    counts = Counter(question_key(q.question) for q in asked)
    shown: dict[str, str] = {}
    clients: dict[str, set[str]] = {}
    for q in asked:
        key = question_key(q.question)
        shown.setdefault(key, " ".join(q.question.split()))
        clients.setdefault(key, set()).add(q.client or "")
    keys = sorted(counts, key=lambda k: (-counts[k], k))
    vectors = embedder.encode(keys)
    members: list[list[int]] = []
    centroids: list[np.ndarray] = []
    for i, vector in enumerate(vectors):
        sims = [float(c @ vector) for c in centroids]
        best = int(np.argmax(sims)) if sims else -1
        if best >= 0 and sims[best] >= threshold:
            members[best].append(i)
            mean = vectors[members[best]].mean(axis=0)
            centroids[best] = mean / (np.linalg.norm(mean) or 1.0)
        else:
            members.append([i])
            centroids.append(vector)
    groups = []
    for idx in members:
        wordings = [keys[i] for i in idx]
        groups.append(
            Group(
                label=shown[wordings[0]],
                count=sum(counts[w] for w in wordings),
                visitors=len(set().union(*(clients[w] for w in wordings))),
                wordings=[shown[w] for w in wordings[1:]],
            )
        )
    return sorted(groups, key=lambda g: (-g.count, g.label))


def disliked_answers(rated: list[LoggedQuestion]) -> list[Disliked]:
    """Thumbs-down answers, one line per distinct question and answer, most frequent first."""
    counts: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], LoggedQuestion] = {}
    for q in rated:
        key = (question_key(q.question), q.answer)
        counts[key] += 1
        first.setdefault(key, q)
    return [
        Disliked(first[key].question, key[1], first[key].sources, n)
        for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0]))
    ]


def build_report(
    store: FeedbackStore,
    embedder: Embedder,
    threshold: float = SIMILAR,
    since: datetime | None = None,
) -> GapReport:
    """Read the log (the questions asked at or after `since`, when given) and build the
    coverage-gap report."""
    after = since.astimezone(UTC).isoformat(timespec="seconds") if since else None
    totals = store.totals(since=after)
    return GapReport(
        questions=totals.questions,
        answered=totals.answered,
        visitors=totals.visitors,
        up=totals.up,
        down=totals.down,
        gaps=group_similar(store.questions(answered=False, since=after), embedder, threshold),
        disliked=disliked_answers(store.questions(rating="down", since=after)),
    )


_DURATION = re.compile(r"^(\d+)\s*([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A report's start: a date (2026-12-01, from its midnight UTC), a UTC time
    (2026-12-01T09:00) or a duration back from now (36h, 7d, 2w)."""
    now = now or datetime.now(UTC)
    text = text.strip().lower()
    if match := _DURATION.match(text):
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise HingeCoachError(
            f"--since takes a date (2026-12-01) or a duration (36h, 7d, 2w), not {text!r}."
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


CSV_COLUMNS = ["kind", "count", "visitors", "question", "also_asked", "answer", "sources"]


def write_csv(report: GapReport, out: TextIO) -> None:
    """The report as CSV for a spreadsheet: one row per gap ("unanswered", with its other
    wordings) and per disliked answer ("thumbs down", with the answer and its sources)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for group in report.gaps:
        wordings = " | ".join(group.wordings)
        writer.writerow(["unanswered", group.count, group.visitors, group.label, wordings, "", ""])
    for item in report.disliked:
        sources = " ".join(item.sources)
        writer.writerow(["thumbs down", item.count, "", item.question, "", item.answer, sources])


def print_report(
    db: Path | str,
    embedder: Embedder,
    out: TextIO,
    as_json: bool = False,
    since: datetime | None = None,
    as_csv: bool = False,
) -> None:
    """Print the coverage-gap report of the question log at `db` (a SQLite file or a
    postgresql:// URL), as text, JSON or CSV."""
    store = FeedbackStore(db, create=False)
    try:
        report = build_report(store, embedder, since=since)
    finally:
        store.close()
    if as_json:
        record = {**asdict(report), "since": since.isoformat(timespec="seconds") if since else None}
        print(json.dumps(record, ensure_ascii=False, indent=2), file=out)
    elif as_csv:
        write_csv(report, out)
    else:
        lines = report.lines()
        if since:
            lines.insert(0, f"Since {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC:")
        print(terminal("\n".join(lines)), file=out)
