"""What a question asks, and what each sentence of the articles does, matched in ranking.

A question's intent (why, fix, where to feel, compare, how much, is it safe, what is, what
next, how to) is read from its wording; a sentence's role (cause or effect, instruction,
sensation, comparison, amount, definition, example or anecdote, announcement, question) from
its own. Both use general English cues, not words of any one article, so a gym's own articles
get the same behaviour. A sentence whose role fits the intent ranks higher; one that only
announces or restates ("There are two major differences.", "Yes, butt blooming.", "Why?")
never leads: it is quoted with what it announces, or not at all.
"""

from __future__ import annotations

import re

import numpy as np

from retrieval.index import Index, per_index

ROLES = (
    "cause",
    "instruction",
    "sensation",
    "comparison",
    "amount",
    "definition",
    "example",
    "announcement",
    "question",
)
INTENTS = ("why", "fix", "feel", "compare", "amount", "safe", "what", "next", "how")

_R = re.IGNORECASE
ROLE_CUES: dict[str, re.Pattern[str]] = {
    "cause": re.compile(
        r"\b(?:because|due to|leads? to|lead(?:s|ing)? to|caus\w+|result(?:s|ed|ing)? in|"
        r"so that|which means|that'?s why|this is why|otherwise|as a result|reason|"
        r"take over|downgraded|overtime|tight(?:er|ness)?|weak\w*|shorten\w*|compensat\w*|"
        r"makes? (?:it|you|us)|helps?|allows?|ensures?|prevents?|important)\b",
        _R,
    ),
    "instruction": re.compile(
        r"^(?:\W*\d+[.)]\s*|\W*[-*•–]\s*)?(?:keep|think|start|try|place|put|pin|maintain|let|"
        r"allow|avoid|don[’']t|do not|make|push|pull|send|bring|drive|hold|squeeze|brace|"
        r"breathe|exhale|inhale|check|sit|stand|reach|hinge|focus|imagine|picture|stay|use|"
        r"practi[cs]e|shift|lower|raise|lift|drop|grab|see|take|go|aim|relax|engage|tuck|set|"
        r"move|stop|remember|watch|begin|lead|guide|work|find|get|give|slide|hike|float|"
        r"snap|plank|grip|swing)\b|\b(?:you (?:should|want to|need to|will want)|we want|"
        r"should (?:be|stay|remain)|make sure|the goal is|cue)\b",
        _R,
    ),
    "sensation": re.compile(
        r"\b(?:feel\w*|felt|burn\w*|stretch\w*|tension|kick in|fire|firing|activat\w*|"
        r"sore\w*|tight\w*|work(?:ing)? (?:in|the)|should feel|notice)\b",
        _R,
    ),
    "comparison": re.compile(
        r"\b(?:differ\w*|than|versus|vs\.?|whereas|compared|unlike|similar|same as|"
        r"instead of|rather than|while a|on the other hand)\b",
        _R,
    ),
    "amount": re.compile(
        r"\b(?:slight\w*|little|much|degrees?|angle|bit|fully|completely|half|inch\w*|"
        r"few|as far as|depth|range|more|less|vertical|horizontal|parallel|soft|straight|"
        r"\d+)\b",
        _R,
    ),
    "definition": re.compile(
        r"\b(?:is|are) (?:a|an|the|when|simply|essentially|basically|what)\b|\brefers? to\b|"
        r"\bmeans?\b|\bis called\b|\bknown as\b|\binvolves?\b|\bthink of (?:a|an|the|it)\b|"
        r"^\w[\w ’'-]{0,40} = ",
        _R,
    ),
    "example": re.compile(
        r"\b(?:for example|for instance|such as|like when|a client|my clients?|"
        r"i love|i[’']ve|i have|i was|i am|i[’']m|i, for|i remember|story|imagine you)\b",
        _R,
    ),
    "announcement": re.compile(
        r"(?::\s*$)|^(?:yes|yep|so|now|okay|ok|alright|here(?:[’']s| is| are)|let[’']s|"
        r"now that|before we|first,? let)\b|\bthere are (?:\w+ )?(?:major |main |key |few )?"
        r"(?:differences|ways|reasons|things|tips|steps|cues|mistakes|parts)\b|"
        r"\b(?:read on|below|as follows|the following|check out|this video|in this post)\b",
        _R,
    ),
}
# How well a sentence of each role answers each intent (missing pairs: 0).
FIT: dict[str, dict[str, float]] = {
    "why": {"cause": 1.0, "sensation": 0.3},
    "fix": {"instruction": 1.0, "cause": 0.2},
    "feel": {"sensation": 1.0, "instruction": 0.2},
    "compare": {"comparison": 1.0, "definition": 0.3},
    "amount": {"amount": 1.0, "instruction": 0.4},
    "safe": {"cause": 0.5, "sensation": 0.4},
    "what": {"definition": 1.0, "cause": 0.2},
    "next": {"instruction": 0.6, "example": 0.3},
    "how": {"instruction": 1.0, "amount": 0.3},
}
ALWAYS = {"announcement": -1.0, "question": -1.0, "example": -0.3}

INTENT_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("safe", re.compile(r"\b(?:safe|ok|okay|normal|bad for|dangerous|worry|risky)\b", _R)),
    (
        "compare",
        re.compile(
            r"\b(?:vs\.?|versus|difference|differ|same as|same thing|compared?|or (?:a |an )?"
            r"(?:squat|deadlift|lunge)|just a|better than|instead of|like a)\b",
            _R,
        ),
    ),
    (
        "feel",
        re.compile(
            r"\b(?:where .*feel|feel (?:it|this|that)|what (?:should|do|will) i feel|"
            r"which muscles? .*feel|supposed to feel|feel\w* (?:it )?(?:in|where)|"
            r"burn\w*|what muscles?|which muscles?|(?:does|will) (?:it|this) work)\b",
            _R,
        ),
    ),
    (
        "fix",
        re.compile(
            r"\b(?:fix|stop|avoid|prevent|correct|anything else|what (?:can|do|should) i do|"
            r"how (?:do|can) i (?:not|get|make|keep)|help with|get rid|improve|still feels?)\b",
            _R,
        ),
    ),
    ("why", re.compile(r"\b(?:why|how come|what causes|reason|what(?:[’']?s| is) going on)\b", _R)),
    (
        "amount",
        re.compile(
            r"\b(?:how (?:much|far|low|deep|bent|wide|often|many|high|long)|"
            r"(?:bent|straight) or|or (?:bent|straight)|degrees?|angle)\b",
            _R,
        ),
    ),
    (
        "next",
        re.compile(
            r"\b(?:next|progress\w*|after that|then what|once .* easy|first exercise|"
            r"start with|beginner|begin|learn it|practi[cs]e (?:it|first|with))\b",
            _R,
        ),
    ),
    (
        "what",
        re.compile(r"^\W*(?:what(?:[’']?s| is| are| does .* mean)|meaning|define|explain)\b", _R),
    ),
    (
        "how",
        re.compile(r"\b(?:how (?:do|should|can|to)|what (?:do|should) i do with|should my)\b", _R),
    ),
)


def intent(question: str) -> str:
    """What the question asks, from its wording; "" when nothing tells."""
    for name, pattern in INTENT_CUES:
        if pattern.search(question):
            return name
    return ""


def sentence_roles(text: str) -> frozenset[str]:
    """The roles a sentence plays, from its wording."""
    roles = {name for name, pattern in ROLE_CUES.items() if pattern.search(text)}
    if text.rstrip(")”\"' ").endswith("?"):
        roles.add("question")
    return frozenset(roles)


@per_index
def role_table(index: Index) -> list[frozenset[str]]:
    """Every sentence's roles, computed once per loaded index."""
    return [sentence_roles(s.text) for s in index.sentences]


def fit(wanted: str, roles: frozenset[str]) -> float:
    """How well a sentence with these roles answers a question with this intent."""
    gain = max((FIT.get(wanted, {}).get(r, 0.0) for r in roles), default=0.0)
    loss = min((ALWAYS.get(r, 0.0) for r in roles), default=0.0)
    return gain + loss


def fits(index: Index, wanted: str, sentence_ids: np.ndarray) -> np.ndarray:
    """fit() for each of the sentences."""
    table = role_table(index)
    return np.array([fit(wanted, table[i]) for i in sentence_ids.tolist()], dtype=float)
