"""What the assistant is not for: topics people ask a gym's coaching chat that the articles skip.

A question closer to one of these topics than to any sentence of the articles is refused,
however many words it shares with them: "how much is a membership at Lift Chicago?" names the
gym that published an article, "how deep should I squat?" names a movement an article compares
the hinge with, and neither is answered by the articles. The topics are broad categories, not
questions; each is embedded once per model and compared with the question's one embedding.
"""

from __future__ import annotations

import weakref

import numpy as np

from retrieval.embedder import Embedder

OUT_OF_SCOPE = (
    # The gym as a business: what its visitors ask its chat.
    "gym membership prices, fees and costs",
    "how much personal training sessions cost",
    "gym opening hours and schedule",
    "where the gym is located, its address and parking",
    "the gym's personal trainers and coaches",
    "who a coach or staff member is: their name, bio and background",
    "gym reviews, ratings and testimonials",
    "group fitness classes and how to book them",
    # Training topics next to the hinge that the articles do not teach.
    "squat technique and squat depth",
    "squat programs and squat variations",
    "bench press technique",
    "overhead press and push-ups",
    "pull-ups and chin-ups",
    "sets, reps, rest periods and training frequency",
    "strength standards and how much weight to lift",
    "mobility drills and stretching routines",
    "other lower-body exercises: hip thrusts, glute bridges, lunges and leg presses",
    "yoga and pilates",
    "warm-up routines",
    "running, cycling and cardio",
    "nutrition, diet, protein and supplements",
    "losing weight and burning fat",
    "lifting gear: belts, shoes and straps",
    # Medicine: the articles coach movement, they do not diagnose or treat.
    "medical conditions and injuries: herniated or slipped discs, sciatica, torn muscles",
)

_CACHE: weakref.WeakKeyDictionary[Embedder, dict[tuple[str, ...], np.ndarray]] = (
    weakref.WeakKeyDictionary()
)


def topic_vectors(embedder: Embedder, topics: tuple[str, ...] = OUT_OF_SCOPE) -> np.ndarray:
    """The topics' embeddings, computed once per embedder."""
    known = _CACHE.setdefault(embedder, {})
    if topics not in known:
        known[topics] = embedder.encode(list(topics))
    return known[topics]


def off_topic(vector: np.ndarray, embedder: Embedder, topics: tuple[str, ...]) -> float:
    """Cosine of the question with the nearest out-of-scope topic (0 when there are none)."""
    if not topics:
        return 0.0
    return float(np.max(topic_vectors(embedder, topics) @ vector))
