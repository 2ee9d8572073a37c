"""Answer quality on a labelled question set, side by side with the usual baselines.

A question set is JSONL, one object a line:
  {"question": "...", "kind": "answerable" | "unanswerable" | "followup",
   "gold": ["key phrase copied verbatim from an article", ...], "history": ["earlier question"],
   "health": true}
or a whole conversation, whose turns are asked in order, each with the earlier answers' quotes:
  {"kind": "conversation", "turns": [{"question": "...", "gold": [...], "health": false}, ...]}
"health" marks a question about pregnancy, pain, an injury, a condition or whether something is
safe for the body: its answer (or refusal) must carry the not-medical-advice note.

A citation is right when one of the question's gold phrases appears in its quote (case,
whitespace and curly quotes aside). Metrics, per system:
  Hit@1, Hit@3, MRR   answerable questions: a right quote first / in the first three
  chars@3             characters of the first three quotes a reader is handed, per question
  abstain / false     share of unanswerable questions refused / of answerable ones refused
  follow-up Hit@3     follow-ups (with history) with a right quote in the first three
  junk@1              unanswerable questions whose top passage is not article text (reviews...)
  note                health questions whose reply carries the not-medical-advice note
  turn@3              conversation turns (the first included) with a right quote in the first three
  repeat              follow-up turns that quote again what the turn before quoted
  >300                quotes longer than 300 characters
  AUC                 how well the confidence score tells answerable questions from the rest
Baselines never abstain on their own; their refusal figures use the cutoff on their top score
that best separates the two kinds on this very set (an optimistic, hindsight cutoff), and their
hit figures ignore that cutoff. Baselines see a follow-up question alone, as a pipeline without
a question-rewriting LLM does.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.answer import AnswerSettings, answer
from retrieval.embedder import Embedder
from retrieval.errors import QuestionSetError
from retrieval.evaluation.baselines import Baseline, default_baselines
from retrieval.index import Index
from retrieval.records import Citation

KINDS = ("answerable", "unanswerable", "followup")
MAX_QUOTE_CHARS = 300  # a quote a visitor reads at a glance
OURS = "hingecoach (hybrid, sentence quotes)"
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\xa0": " "})


@dataclass(frozen=True)
class LabelledQuestion:
    """One question of the set, with what a right citation contains."""

    question: str
    kind: str
    gold: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    health: bool = False
    conversation: int = -1  # which conversation of the set this turn belongs to (-1: none)

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


@dataclass(frozen=True)
class Outcome:
    """What one system did with one question."""

    question: LabelledQuestion
    quotes: list[str]
    score: float  # confidence: our evidence, or a baseline's top passage score
    abstained: bool
    junk: bool = False
    noted: bool = False  # the reply carries the not-medical-advice note
    repeated: bool = False  # a follow-up turn quoting again what the turn before quoted

    @property
    def rank(self) -> int | None:
        """1-based position of the first right quote, None when there is none."""
        if self.abstained:
            return None
        gold = [_normal(g) for g in self.question.gold]
        for n, quote in enumerate(self.quotes, start=1):
            text = _normal(quote)
            if any(g in text for g in gold):
                return n
        return None


@dataclass(frozen=True)
class SystemScores:
    """One row of the table."""

    name: str
    k: int
    hit1: float
    hit3: float
    mrr: float
    chars: float
    abstention: float
    false_abstention: float
    followup_hit3: float
    junk: float
    note: float  # health questions with the note (ours only; baselines give no note)
    turn_hit3: float
    repeated: float
    long_quotes: float  # share of quotes over 300 characters
    separation: float  # ROC AUC of the confidence score, answerable vs not (0.5 = chance)
    cutoff: float


@dataclass
class QualityReport:
    """The evaluation of our pipeline and the baselines on one question set."""

    counts: dict[str, int]
    systems: list[SystemScores]
    distributions: dict[str, dict[str, float]]
    misses: list[dict[str, Any]] = field(default_factory=list)
    operating_point: str = ""  # how ours decides to refuse

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "systems": [
                {k: round(v, 4) if isinstance(v, float) else v for k, v in s.__dict__.items()}
                for s in self.systems
            ],
            "evidence": self.distributions,
            "operating_point": self.operating_point,
            "misses": self.misses,
        }

    def lines(self) -> list[str]:
        """The table, the abstention operating point and the misses, for a terminal."""
        c = self.counts
        out = [
            f"{c['answerable']} answerable, {c['unanswerable']} unanswerable, "
            f"{c['followup']} follow-up questions, {c.get('turns', 0)} conversation turns, "
            f"{c.get('health', 0)} health questions",
            "",
            f"{'system':<36} {'k':>2} {'Hit@1':>6} {'Hit@3':>6} {'MRR':>5} {'chars@3':>7} "
            f"{'abstain':>7} {'false':>6} {'follow@3':>8} {'turn@3':>6} {'repeat':>6} "
            f"{'note':>5} {'>300':>5} {'junk@1':>6} {'AUC':>5}",
        ]
        for s in self.systems:
            out.append(
                f"{s.name:<36} {s.k:>2} {s.hit1:>6.2f} {s.hit3:>6.2f} {s.mrr:>5.2f} "
                f"{s.chars:>7.0f} {s.abstention:>7.2f} {s.false_abstention:>6.2f} "
                f"{s.followup_hit3:>8.2f} {s.turn_hit3:>6.2f} {s.repeated:>6.2f} "
                f"{s.note:>5.2f} {s.long_quotes:>5.2f} {s.junk:>6.2f} {s.separation:>5.2f}"
            )
        ours = self.systems[0]
        out += [
            "",
            f"abstention: ours {self.operating_point or f'refuses below {ours.cutoff:.3f}'}; "
            "baselines at their best cutoff on this set: "
            + ", ".join(f"{s.name.split(',')[0]} {s.cutoff:.3f}" for s in self.systems[1:]),
        ]
        for kind, dist in self.distributions.items():
            out.append(
                f"evidence, {kind:<12} min {dist['min']:.3f}  p10 {dist['p10']:.3f}  "
                f"median {dist['median']:.3f}  p90 {dist['p90']:.3f}  max {dist['max']:.3f}"
            )
        if self.misses:
            out += ["", "misses (ours):"]
            for miss in self.misses:
                context = f" (after {miss['history'][-1]!r})" if miss["history"] else ""
                out.append(
                    f"  [{miss['kind']}] {miss['question']!r}{context}: {miss['result']}, "
                    f"evidence {miss['evidence']:.3f}"
                    + (f"; top quote {miss['top'][:70]!r}" if miss["top"] else "")
                )
        return out


def _normal(text: str) -> str:
    return " ".join(text.translate(_QUOTES).lower().split())


def load_questions(path: Path) -> list[LabelledQuestion]:
    """Read a JSONL question set; any malformed line is a one-line error naming it."""
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionSetError(f"cannot read the question set {path} ({exc}).") from exc
    questions: list[LabelledQuestion] = []
    conversations = 0
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {n}"
        data = _json(line, where)
        if data.get("kind") != "conversation":
            questions.append(_parse(data, where))
            continue
        turns = data.get("turns")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, dict) for t in turns):
            raise QuestionSetError(f'{where}: a conversation needs a list of "turns" objects.')
        asked: list[str] = []
        for number, turn in enumerate(turns):
            kind = "followup" if number else "answerable"
            parsed = _parse({**turn, "kind": kind, "history": list(asked)}, where)
            questions.append(replace(parsed, conversation=conversations))
            asked.append(parsed.question)
        conversations += 1
    if not questions:
        raise QuestionSetError(f"the question set {path} has no questions.")
    return questions


def _json(line: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise QuestionSetError(f"{where}: invalid JSON ({exc.msg}).") from exc
    if not isinstance(data, dict):
        raise QuestionSetError(f"{where}: each line must be a JSON object.")
    return data


def _parse(data: dict[str, Any], where: str) -> LabelledQuestion:
    if not isinstance(data.get("question"), str):
        raise QuestionSetError(f'{where}: each line needs a "question" string.')
    kind = data.get("kind", "answerable" if data.get("gold") else "unanswerable")
    gold, history = data.get("gold") or [], data.get("history") or []
    if kind not in KINDS:
        raise QuestionSetError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}.")
    for name, value in (("gold", gold), ("history", history)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise QuestionSetError(f'{where}: "{name}" must be a list of strings.')
    if (kind != "unanswerable") != bool(gold):
        raise QuestionSetError(f"{where}: answerable questions need gold phrases, others none.")
    health = data.get("health", False)
    if not isinstance(health, bool):
        raise QuestionSetError(f'{where}: "health" must be true or false.')
    return LabelledQuestion(data["question"], kind, tuple(gold), tuple(history), health)


def run_ours(
    index: Index, embedder: Embedder, questions: list[LabelledQuestion], settings: AnswerSettings
) -> list[Outcome]:
    """Every question through the real answering pipeline, history included; a conversation's
    turns in order, each given what the turn before it quoted."""
    outcomes = []
    before: tuple[int, list[Citation]] = (-1, [])
    for q in questions:
        cited = before[1] if q.conversation >= 0 and before[0] == q.conversation else []
        result = answer(q.question, index, embedder, list(q.history), settings, cited)
        quotes = [c.quote for c in result.citations]
        earlier = {(c.source, c.start, c.end) for c in cited}
        repeated = any((c.source, c.start, c.end) in earlier for c in result.citations)
        noted = result.notice is not None
        evidence = float(result.debug["evidence"])
        outcomes.append(Outcome(q, quotes, evidence, result.abstained, False, noted, repeated))
        before = (q.conversation, result.citations)
    return outcomes


def run_baseline(
    baseline: Baseline, questions: list[LabelledQuestion], vectors: np.ndarray
) -> list[Outcome]:
    """Every question (alone) through a baseline; abstention is decided later by a cutoff."""
    outcomes: list[Outcome] = []
    for q, vector in zip(questions, vectors, strict=True):
        got = baseline.retrieve(q.question, vector)
        before = outcomes[-1] if outcomes else None
        same = (
            before is not None
            and q.conversation >= 0
            and before.question.conversation == q.conversation
        )
        repeated = bool(same and before and set(got.passages) & set(before.quotes))
        outcomes.append(Outcome(q, got.passages, got.score, False, got.junk, False, repeated))
    return outcomes


def best_cutoff(outcomes: list[Outcome]) -> float:
    """The score below which refusing best separates unanswerable from answerable questions."""
    scores = sorted({o.score for o in outcomes} | {float("inf")})
    return max(scores, key=lambda cut: (_refusals(outcomes, cut), -cut))


def _refusals(outcomes: list[Outcome], cut: float) -> float:
    right = _mean([o.score < cut for o in outcomes if not o.question.answerable])
    wrong = _mean([o.score < cut for o in outcomes if o.question.answerable])
    return right - wrong


def _mean(values: list[Any]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def score_system(
    name: str, k: int, outcomes: list[Outcome], cutoff: float = float("-inf")
) -> SystemScores:
    """The table row for one system's outcomes; a baseline refuses below `cutoff`."""
    answerable = [o for o in outcomes if o.question.kind == "answerable"]
    followups = [o for o in outcomes if o.question.kind == "followup"]
    unanswerable = [o for o in outcomes if o.question.kind == "unanswerable"]
    refused = [o.abstained or o.score < cutoff for o in outcomes]
    by_id = {id(o): r for o, r in zip(outcomes, refused, strict=True)}
    answered = [o for o in answerable + followups if not o.abstained]
    ranks = [o.rank for o in answerable]
    turns = [o for o in outcomes if o.question.conversation >= 0]
    quotes = [len(q) for o in answered for q in o.quotes]
    return SystemScores(
        name=name,
        k=k,
        hit1=_mean([r == 1 for r in ranks]),
        hit3=_mean([r is not None and r <= 3 for r in ranks]),
        mrr=_mean([1 / r if r else 0.0 for r in ranks]),
        chars=_mean([sum(len(q) for q in o.quotes[:3]) for o in answered]),
        abstention=_mean([by_id[id(o)] for o in unanswerable]),
        false_abstention=_mean([by_id[id(o)] for o in answerable + followups]),
        followup_hit3=_mean([o.rank is not None and o.rank <= 3 for o in followups]),
        junk=_mean([o.junk and not o.abstained for o in unanswerable]),
        note=_mean([o.noted for o in outcomes if o.question.health]),
        turn_hit3=_mean([o.rank is not None and o.rank <= 3 for o in turns]),
        repeated=_mean([o.repeated for o in turns if o.question.history]),
        long_quotes=_mean([n > MAX_QUOTE_CHARS for n in quotes]),
        separation=separation(outcomes),
        cutoff=cutoff,
    )


def separation(outcomes: list[Outcome]) -> float:
    """How well the confidence score ranks answerable questions above the others (ROC AUC)."""
    yes = [o.score for o in outcomes if o.question.answerable]
    no = [o.score for o in outcomes if not o.question.answerable]
    if not yes or not no:
        return 0.0
    wins = sum((a > b) + 0.5 * (a == b) for a in yes for b in no)
    return wins / (len(yes) * len(no))


def _distribution(scores: list[float]) -> dict[str, float]:
    if not scores:
        return {name: 0.0 for name in ("min", "p10", "median", "p90", "max")}
    p10, p90 = np.percentile(scores, [10, 90]).tolist()
    return {
        "min": round(min(scores), 4),
        "p10": round(p10, 4),
        "median": round(statistics.median(scores), 4),
        "p90": round(p90, 4),
        "max": round(max(scores), 4),
    }


def _misses(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    out = []
    for o in outcomes:
        q = o.question
        right = q.answerable and o.rank == 1 or not q.answerable and o.abstained
        if right and (o.noted or not q.health) and not o.repeated:
            continue
        if not q.answerable:
            result = "answered" if not o.abstained else "refused"
        elif o.abstained:
            result = "abstained"
        else:
            result = f"right quote at {o.rank}" if o.rank else "no right quote"
        if q.health and not o.noted:
            result += ", no health note"
        if o.repeated:
            result += ", repeats the turn before"
        out.append(
            {
                "question": q.question,
                "kind": q.kind,
                "history": list(q.history),
                "result": result,
                "evidence": round(o.score, 4),
                "top": o.quotes[0] if o.quotes else "",
            }
        )
    return out


def evaluate_answers(
    index: Index,
    embedder: Embedder,
    questions: list[LabelledQuestion],
    settings: AnswerSettings | None = None,
    baselines: list[Baseline] | None = None,
) -> QualityReport:
    """Run the question set through our pipeline and each baseline, and score them all."""
    settings = settings or AnswerSettings()
    ours = run_ours(index, embedder, questions, settings)
    # Ours refuses by itself; the row only records its operating point.
    rows = [replace(score_system(OURS, settings.k, ours), cutoff=settings.min_evidence)]
    vectors = embedder.encode([q.question for q in questions])
    for baseline in default_baselines(index, embedder) if baselines is None else baselines:
        outcomes = run_baseline(baseline, questions, vectors)
        rows.append(score_system(baseline.name, baseline.k, outcomes, best_cutoff(outcomes)))
    return QualityReport(
        counts={
            **{kind: sum(q.kind == kind for q in questions) for kind in KINDS},
            "turns": sum(q.conversation >= 0 for q in questions),
            "health": sum(q.health for q in questions),
        },
        systems=rows,
        distributions={
            "answerable": _distribution([o.score for o in ours if o.question.answerable]),
            "unanswerable": _distribution([o.score for o in ours if not o.question.answerable]),
        },
        misses=_misses(ours),
        operating_point=(
            f"refuses when evidence < {settings.min_evidence:.3f} (best sentence score "
            f"- {settings.off_topic:g} x off-topic cosine + {settings.topic_bonus:g} if it names "
            f"the topic) or best sentence < {settings.min_best:.2f}"
        ),
    )


def evaluate_file(
    path: Path, index: Index, embedder: Embedder, settings: AnswerSettings | None = None
) -> QualityReport:
    """Load a question set and evaluate it (what `hingecoach eval` runs)."""
    return evaluate_answers(index, embedder, load_questions(path), settings)
