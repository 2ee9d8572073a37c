"""How far can the first quote get with what the bundled model and the articles' words give?

The everyday misses are mostly the right passage with the wrong sentence first. This bench
asks whether any weighting of the available evidence could fix that. Every candidate unit
(one to three consecutive sentences of a searched passage, at most 300 characters: every quote
the product could show) is described by the reranker's features (retrieval/rerank.py: the
bundled model's cosines of the unit, its sentences and its passage, BM25, word overlap, role
fit, shape, follow-up context, the pipeline's own score) plus one more signal from the same
model, late interaction: each question token's best match among the unit's contextual token
embeddings (ColBERT-style MaxSim), which lets "butt" meet "glutes" word by word.

Then, on the answerable questions and conversation turns of the everyday sets:
  reachable   a unit holding a gold phrase is among the candidates at all
  model       the unit the bundled model's cosine ranks first holds a gold phrase
  maxsim      ... the unit late interaction ranks first
  pipeline    ... the product's first quote (reranker off)
  linear fit  a listwise linear model over all features, fitted on the very questions it is
              scored on (in sample: an upper bound on any weighting), and 5-fold
              cross-validated by question (what a fit does on questions it has not seen)
  trees       gradient-boosted trees over the same features (sklearn), in sample and 5-fold

    PYTHONPATH=. .venv/bin/python bench/ceiling.py
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import app  # noqa: E402
from bench.fit_rerank import fit  # noqa: E402
from bench.misses import replay  # noqa: E402
from retrieval import rerank  # noqa: E402
from retrieval.answer import AnswerSettings, _embeddable  # noqa: E402
from retrieval.embedder import bundled_model_path  # noqa: E402
from retrieval.evaluation import DATA  # noqa: E402
from retrieval.evaluation.answers import _normal, load_questions  # noqa: E402
from retrieval.vocabulary import lexicon  # noqa: E402

SETS = {
    "everyday tuning": DATA / "everyday.jsonl",
    "everyday held out": DATA / "everyday-heldout-2026-12-06.jsonl",
    "everyday fresh": DATA / "everyday-fresh-2026-12-06.jsonl",
}
SECOND = DATA / "second-corpus"
FOLDS = 5
REFUSAL_FEATURES = (
    "evidence",
    "best_sentence",
    "max_cosine",
    "max_overlap",
    "top_overlap",
    "top_cosine",
    "best_passage",
    "off_topic",
)


class LateInteraction:
    """Token embeddings of the bundled model, normalised, special tokens dropped."""

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(bundled_model_path()), device="cpu")
        self.cache: dict[str, np.ndarray] = {}

    def tokens(self, texts: list[str]) -> list[np.ndarray]:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            out = self.model.encode(todo, output_value="token_embeddings", batch_size=32)
            for text, t in zip(todo, out, strict=True):
                t = t.numpy()[1:-1] if len(t) > 2 else t.numpy()
                self.cache[text] = t / np.linalg.norm(t, axis=1, keepdims=True)
        return [self.cache[t] for t in texts]

    def maxsim(self, question: np.ndarray, unit: np.ndarray) -> float:
        return float((question @ unit.T).max(axis=1).mean())


def collect(assistant, path: Path, late: LateInteraction):
    """Per answerable item: feature rows of its candidate units, their gold labels, and
    whether the product's own first quote was right."""
    index, embedder = assistant.index, assistant.embedder
    lex = lexicon(index)
    settings = dataclasses.replace(AnswerSettings(), rerank=False)
    items, refusals = [], []
    for q, found, result in replay(index, embedder, settings, load_questions(path)):
        if not q.history:  # refusal evidence, single questions
            refusals.append(
                (
                    [float(result.debug[k]) for k in REFUSAL_FEATURES],
                    q.answerable,
                    result.abstained,
                )
            )
        if not q.answerable or not found.hits:
            continue
        gold = [_normal(g) for g in q.gold]
        pipeline = {x.sentence_id: x.score for x in found.scored}
        units, matrix = rerank.features(
            index, lex, embedder, found.hits, found.query, found.before, pipeline
        )
        if not units:
            continue
        texts = []
        for unit in units:
            doc = index.chunks[unit.chunk_id].doc_id
            start, end = index.sentences[unit.first].start, index.sentences[unit.last].end
            texts.append(index.quote(doc, start, end))
        asked = late.tokens([_embeddable(found.resolved.question, lex)])[0]
        sims = np.array([late.maxsim(asked, t) for t in late.tokens(texts)])
        labels = np.array([any(g in _normal(t) for g in gold) for t in texts], dtype=float)
        first = _normal(result.citations[0].quote) if result.citations else ""
        shown = [_normal(c.quote) for c in result.citations[:3]]
        items.append(
            {
                "x": np.column_stack([matrix, sims]),
                "y": labels,
                "units": units,
                "product": any(g in first for g in gold),
                "product3": any(g in t for t in shown for g in gold),
                "turn": bool(q.history),
            }
        )
    return items, refusals


def top_right(items, scorer, k: int = 1) -> float:
    """Share of items with a gold unit among the k best non-overlapping units."""
    return float(np.mean([_right(it, scorer(it), k) for it in items]))


def _right(it, values: np.ndarray, k: int) -> bool:
    best = rerank.best_units(it["units"], values, k)
    return any(it["y"][it["units"].index(unit)] > 0 for unit, _ in best)


def linear(train) -> np.ndarray:
    x = np.vstack([it["x"] for it in train])
    y = np.concatenate([it["y"] for it in train])
    groups = np.concatenate([np.full(len(it["y"]), n) for n, it in enumerate(train)])
    return fit(x, y, groups)


def trees(train):
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.vstack([it["x"] for it in train])
    y = np.concatenate([it["y"] for it in train])
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0)
    return model.fit(x, y)


def cross_validated(items, learn, score, k: int = 1) -> float:
    order = np.random.default_rng(0).permutation(len(items))
    right = 0
    for fold in range(FOLDS):
        test = set(order[fold::FOLDS].tolist())
        model = learn([it for n, it in enumerate(items) if n not in test])
        right += sum(_right(it, score(model, it), k) for n, it in enumerate(items) if n in test)
    return right / len(items)


def row(name: str, items, k: int = 1) -> str:
    lin_score = lambda w, it: it["x"] @ w[:-1]  # noqa: E731
    tree_score = lambda m, it: m.predict_proba(it["x"])[:, 1]  # noqa: E731
    w = linear(items)
    model = trees(items)
    figures = [
        np.mean([it["y"].any() for it in items]),
        top_right(items, lambda it: it["x"][:, 0], k),  # the unit's cosine
        top_right(items, lambda it: it["x"][:, -1], k),  # late interaction
        np.mean([it["product" if k == 1 else "product3"] for it in items]),
        top_right(items, lambda it: lin_score(w, it), k),
        cross_validated(items, linear, lin_score, k),
        top_right(items, lambda it: tree_score(model, it), k),
        cross_validated(items, trees, tree_score, k),
    ]
    return f"{name:<26}{len(items):>4}  " + "  ".join(f"{f:>6.2f}" for f in figures)


def main() -> None:
    late = LateInteraction()
    hinge = app.open_assistant(app.Settings.from_env(), build_if_missing=True)
    second = app.Settings.from_env()
    second.corpus, second.index = SECOND / "corpus", ROOT / ".bench" / "second-index"
    other = app.open_assistant(second, build_if_missing=True)
    collected = {name: collect(hinge, path, late) for name, path in SETS.items()}
    collected["second corpus"] = collect(other, SECOND / "questions.jsonl", late)
    tuning, held = collected["everyday tuning"][0], collected["everyday held out"][0]
    sets = {
        "everyday tuning": tuning,
        "everyday held out": held,
        "everyday, both halves": tuning + held,
        "everyday turns, both": [it for it in tuning + held if it["turn"]],
        "everyday fresh (unseen)": collected["everyday fresh"][0],
        "second corpus": collected["second corpus"][0],
    }
    header = f"{'set':<26}{'n':>4}  reach.   model  maxsim  pipel.  lin-in  lin-cv  tree-in tree-cv"
    for k in (1, 3):
        print(f"\nHit@{k} (answerable questions and turns; refusals aside)")
        print(header)
        for name, items in sets.items():
            print(row(name, items, k))
    refusal(collected["everyday tuning"][1] + collected["everyday held out"][1])
    refusal(collected["everyday fresh"][1], "everyday fresh (unseen)")


def refusal(rows, name: str = "everyday, both halves") -> None:
    """Can any threshold, or a learned classifier over the refusal evidence, refuse 90% of the
    uncovered questions while refusing at most 5% of the covered ones?"""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.preprocessing import StandardScaler

    x = np.array([r[0] for r in rows])
    covered = np.array([r[1] for r in rows])
    refused = np.array([r[2] for r in rows])
    print(f"\nRefusal, single questions, {name}:")
    print(
        f"  {'product':<20} uncovered refused {refused[~covered].mean():.2f}, "
        f"covered refused {refused[covered].mean():.2f}"
    )
    evidence = x[:, REFUSAL_FEATURES.index("evidence")]
    z = StandardScaler().fit_transform(x)
    model = LogisticRegression(C=1.0, max_iter=1000)
    learned_cv = cross_val_predict(model, z, covered, cv=FOLDS, method="predict_proba")[:, 1]
    learned_in = model.fit(z, covered).predict_proba(z)[:, 1]
    for name, score in (
        ("evidence threshold", evidence),
        ("logistic, in sample", learned_in),
        ("logistic, 5-fold", learned_cv),
    ):
        cut = np.quantile(score[~covered], 0.90)  # refuses 90% of the uncovered
        print(
            f"  {name:<20} at 90% uncovered refused, covered refused "
            f"{np.mean(score[covered] <= cut):.2f}"
        )


if __name__ == "__main__":
    main()
