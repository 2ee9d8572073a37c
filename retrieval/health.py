"""Questions about health: they get the not-medical-advice note, answered or refused.

Pregnancy, postpartum, a c-section, diastasis, a named condition or injury, medication, pain,
and any "is it safe / ok / normal" question about the body. Detected by words and by meaning:
the question's embedding is compared with a few prototypes of such questions, so a paraphrase
that shares no listed word ("since I had my little one...") still counts.
"""

from __future__ import annotations

import re
import weakref

import numpy as np

from retrieval.embedder import Embedder

# Pain, injuries and feeling unwell.
PAIN = re.compile(
    r"\b(?:pain\w*|hurts?|hurting|hurt|injur\w*|aches?|aching|achy|sore(?:ness)?|"
    r"numb\w*|tingl\w*|sprain\w*|strain(?:ed)?|pulled|tweak\w*|pinch\w*|sick|ill|fever|"
    r"flu|dizz\w*|swell\w*|swollen|ripped|bleed\w*|blisters?|callus\w*|bruis\w*|cramp\w*|"
    r"faint\w*|light-?headed|pass(?:ed)? out)\b",
    re.IGNORECASE,
)
# Diagnoses, injuries, surgery: a question naming one that no article mentions is refused.
CONDITION = re.compile(
    r"\b(?:sciatica|herniat\w*|bulging|discs?|disks?|arthritis|osteo\w*|scoliosis|"
    r"stenosis|spondyl\w*|tendinitis|tendonitis|bursitis|fractur\w*|surgery|surgeries|"
    r"torn|tears?|ruptur\w*|hernias?|diastasis|prolapse|labral|meniscus|acl|mcl|"
    r"replacements?|osteoporosis|diabet\w*|asthma|blood pressure|hypertension|"
    r"heart condition|concussion|incontinence|endometriosis|sick|ill|fever|flu|"
    r"c[- ]?sections?|cesarean|caesarean|trimester|leak(?:s|ing)?|peeing)\b",
    re.IGNORECASE,
)
# Expecting, or the body after birth.
_EXPECTING = (
    r"pregnan\w*|preggo|preg|trimester|postpartum|post-partum|pp|postnatal|prenatal|"
    r"c[- ]?sections?|cesarean|caesarean|gave birth|giving birth|breastfeed\w*"
)
# Pregnancy and the body after birth, medication.
BODY = re.compile(
    rf"\b(?:{_EXPECTING}|birth|baby|babies|newborn|nursing|pelvic floor|medications?|meds|"
    r"medicine|ibuprofen|painkillers?|pills?|doctor|physio\w*|therapist)\b",
    re.IGNORECASE,
)
# "Is it safe / ok / normal / bad for me", "should I worry", "will it hurt".
SAFETY = re.compile(
    r"\b(?:safe|safely|unsafe|dangerous|risky|harmful|normal|worry|worried|"
    r"(?:is|are|was) (?:it|this|that|these|those) (?:ok|okay|alright|bad|fine)|"
    r"(?:it'?s|that'?s|this is) (?:ok|okay|alright|bad|fine)|(?:ok|okay) for me|"
    r"bad for (?:my|me|you)|good for (?:my|me))\b",
    re.IGNORECASE,
)
# With a "safe / ok to" question, it asks for a clearance.
PREGNANCY = re.compile(
    rf"\b(?:{_EXPECTING}|after (?:the |my |a )?(?:baby|birth|delivery))\b", re.IGNORECASE
)
# "Is it safe / ok / fine to ...", "ok for me": asking for permission, not for an explanation
# ("is that normal?" asks what the articles may well explain).
CLEARANCE = re.compile(
    r"\b(?:safe|safely|unsafe|dangerous|risky|harmful|(?:ok|okay|alright|fine) (?:to|for me)|"
    r"(?:is|are|was) (?:it|this|that|hinging|\w+ing) (?:ok|okay|alright|fine|bad)|"
    r"(?:can|should) (?:i|we) (?:still |even )?(?:do|lift|train|hinge|deadlift|exercise))\b",
    re.IGNORECASE,
)
PROTOTYPES = (
    "is it safe to do this while pregnant",
    "can I exercise after having a baby or a c-section",
    "I have an injury or a medical condition, can I still train",
    "my back hurts when I lift, is that normal",
    "is this exercise safe for my body",
    "I take medication, is it ok to work out",
    "is it normal to feel pain or soreness after exercise",
    "my body changed after giving birth",
    "should I ice or heat a sore or injured body part",
)
MIN_COSINE = 0.55  # a question this close to a prototype is about health (calibrated)
NOTE = (
    "This is general coaching information from the articles, not medical advice: "
    "for pain, pregnancy, an injury or a condition, see a doctor or physical therapist."
)
REFUSAL_NOTE = (
    "The articles give no medical advice: for pain, pregnancy, an injury or a condition, "
    "see a doctor or physical therapist."
)

_VECTORS: weakref.WeakKeyDictionary[Embedder, np.ndarray] = weakref.WeakKeyDictionary()


def prototype_vectors(embedder: Embedder) -> np.ndarray:
    """The prototypes' embeddings, computed once per embedder."""
    if embedder not in _VECTORS:
        _VECTORS[embedder] = embedder.encode(list(PROTOTYPES))
    return _VECTORS[embedder]


def health_words(question: str) -> bool:
    """The question names pain, a condition, pregnancy, medication or asks if it is safe."""
    return any(p.search(question) for p in (PAIN, CONDITION, BODY, SAFETY))


# A sentence that sends its reader to a professional: the articles' own word on clearance.
ADVICE = re.compile(
    r"\b(?:doctors?|physicians?|physio\w*|physical therap\w*|midwi\w*|obgyn|ob-gyn|"
    r"cleared|clearance|medical (?:advice|professional)|health ?care (?:provider|professional))\b",
    re.IGNORECASE,
)


def asks_clearance(question: str, sentences: list[str]) -> bool:
    """Is it safe or ok, while pregnant, after a birth or with a condition, and no sentence of
    the articles speaks of that with a doctor, physio or midwife? A question for a doctor: an
    article that coaches movement clears nobody, unless it says who should."""
    if not CLEARANCE.search(question):
        return False
    for kind in (PREGNANCY, CONDITION):
        if kind.search(question) and not any(
            kind.search(s) and ADVICE.search(s) for s in sentences
        ):
            return True
    return False


def is_health(question: str, vector: np.ndarray | None, embedder: Embedder) -> bool:
    """Words first; else the question's embedding close to a health prototype."""
    if health_words(question):
        return True
    if vector is None:
        return False
    return float(np.max(prototype_vectors(embedder) @ vector)) >= MIN_COSINE
