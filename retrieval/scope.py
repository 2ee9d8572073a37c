"""What the assistant is not for: topics people ask a gym's coaching chat that the articles skip.

A question closer to one of these topics than to any sentence of the articles is refused,
however many words it shares with them: "how much is a membership at Lift Chicago?" names the
gym that published an article, "how deep should I squat?" names a movement an article compares
the hinge with, and neither is answered by the articles. The topics are broad categories, not
questions; each is embedded once per model and compared with the question's one embedding.
"""

from __future__ import annotations

import re
import weakref

import numpy as np

from retrieval.embedder import Embedder

# The first eight: the gym as a business (a refusal of one points to the front desk).
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

BUSINESS = frozenset(OUT_OF_SCOPE[:8])

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


def nearest_topic(vector: np.ndarray, embedder: Embedder, topics: tuple[str, ...]) -> str:
    """The out-of-scope topic nearest the question ("" when there are none)."""
    if not topics:
        return ""
    return topics[int(np.argmax(topic_vectors(embedder, topics) @ vector))]


# Explicit out-of-scope intents, in general language (any gym's coaching articles skip these):
# a question that asks one of them is refused however many words it shares with an article.
INTENTS: dict[str, re.Pattern[str]] = {
    "gym business": re.compile(
        r"\b(?:price|prices|pricing|cost|costs|how much (?:is|does|do|are)(?! (?:my|the|your) "
        r"(?:knees?|hips?|back|spine|torso|chest|weight))|membership|fees?|subscription|"
        r"discount|opening hours|open(?:ing)? (?:on|at|times?)|what time do|do (?:u|you) "
        r"(?:guys )?open|close on|parking|address|located|location|book(?:ing)?|sign(?:ing)? up|"
        r"free trial|trial (?:class|session)|guest pass|bring a friend|personal trainer|"
        r"one month|per month|\$\d)\b",
        re.IGNORECASE,
    ),
    "nutrition": re.compile(
        r"\b(?:eat|eating|food|foods|diet|protein|calories?|creatine|supplements?|"
        r"pre-?workout|carbs?|meals?|snack|vitamins?|belly fat|lose (?:weight|fat)|"
        r"weight loss|fat loss|burn(?:s|ing)? fat|empty stomach|fasted|fasting|hydrat\w*|"
        r"water (?:should|do) i drink|caffeine|coffee|alcohol)\b",
        re.IGNORECASE,
    ),
    "programming": re.compile(
        r"\b(?:sets? (?:and|&|n) reps?|how many (?:sets|reps)|reps? (?:should|do)|"
        r"rest (?:between|in between)|how long (?:should i |do i )?rest|how heavy|"
        r"how much weight|what weight should|(?:days?|times) (?:a|per) week|"
        r"workout (?:plan|program|split)|training (?:plan|program|split)|one rep max|1rm|"
        r"how long (?:till|until|before) i see|see results|"
        r"how many (?:\w+ ){0,3}(?:should|do|can) (?:i|we|you) do|"
        r"add(?:ing)? (?:more )?weight|increase the weight|go(?:ing)? up in weight|every week|"
        r"each week|progressive overload|build(?:ing)? (?:more )?muscle|hypertrophy|bulk(?:ing)?|"
        r"(?:\w+ )?weight should (?:i|a|my|we)|(?:what|which) size (?:kettlebell|bell|weight)|"
        r"before or after (?:my |a |the )?(?:run|workout|cardio|training|lifting|gym)|"
        r"rest days?|recovery days?|still sore from|warm[- ]?ups?|cool[- ]?downs?)\b",
        re.IGNORECASE,
    ),
    "medication": re.compile(
        r"\b(?:ibuprofen|advil|tylenol|aspirin|paracetamol|acetaminophen|painkillers?|"
        r"pain killers?|medications?|meds|pills?|steroids?|injections?)\b",
        re.IGNORECASE,
    ),
    "gear": re.compile(
        r"\b(?:belts?|shoes|sneakers|footwear|straps|chalk|gloves|wraps|knee sleeves|"
        r"lifting gear|barefoot shoes|buy(?:ing)?|purchase|brands?|resistance bands?|"
        r"leggings|clothes|clothing|outfit|yoga mat|home gym)\b",
        re.IGNORECASE,
    ),
}
# Exercises people ask a gym chat about, by the words that name them; one the articles never
# name (searched in their text) is another exercise the articles don't teach.
EXERCISES = re.compile(
    r"\b(?:bench(?:ing| press(?:ing)?)?|pull[- ]?ups?|chin[- ]?ups?|push[- ]?ups?|"
    r"hip thrusts?|glute bridges?|lunges?|leg press(?:es)?|curls?|planks?|burpees?|"
    r"overhead press|shoulder press|lat pulldowns?|rows?|snatch(?:es)?|clean and jerk|"
    r"thrusters?|sit[- ]?ups?|crunches|box jumps?|step[- ]?ups?|dips|running|jogging|"
    r"cycling|swimming|yoga|pilates|zumba|spin class|stretch(?:es|ing routine)|"
    r"foam roll\w*|massage gun|lacrosse ball|"
    r"sumo(?: deadlifts?)?|(?:rdl|deadlift|squat|swing|hinge) variations?)\b",
    re.IGNORECASE,
)


# Lifts that are hinges themselves: named in a question, they say what it is about, like the
# articles' topic does. (A squat, a lunge or a hip thrust is another movement.)
LIFTS = re.compile(
    r"\b(?:(?:romanian |stiff[- ]legged |single[- ]leg |kettlebell |kb |trap bar |sumo )?"
    r"(?:deadlifts?|rdls?|swings?|good ?mornings?|snatch(?:es)?|turkish get[- ]?ups?))\b",
    re.IGNORECASE,
)


def named_lifts(question: str, corpus_text: str) -> list[str]:
    """The lifts the question names that the articles mention too ("an RDL", "a deadlift")."""
    return [m.group(0) for m in LIFTS.finditer(question) if _mentioned(m.group(0), corpus_text)]


def _mentioned(phrase: str, corpus_text: str) -> bool:
    return re.search(rf"\b{re.escape(phrase.lower())}\b", corpus_text) is not None


def asked_out_of_scope(question: str, corpus_text: str) -> str:
    """The out-of-scope intent the question asks ("nutrition", "other exercise"), else "".

    What the articles themselves mention (as a whole word) is left to the evidence.
    """
    for name, pattern in INTENTS.items():
        match = pattern.search(question)
        if match and not _mentioned(match.group(0), corpus_text):
            return name
    for match in EXERCISES.finditer(question):
        if not _mentioned(match.group(0), corpus_text):
            return "other exercise"
    return ""
