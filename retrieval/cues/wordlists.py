"""Word lists the cue check reasons with: body parts by topic, instruction verbs, qualifiers.

These are general coaching vocabulary, not cues: the cues themselves are found
in the articles' text by the rules in retrieval/cues/stance.py and retrieval/cues/units.py.
"""

from __future__ import annotations


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Topics in display order, each with the words (lower case) that name it.
# The first words double as the topic's description for the embedder.
TOPICS: dict[str, tuple[str, ...]] = {
    "hips": (
        "hips",
        "hip",
        "butt",
        "booty",
        "glutes",
        "glute",
        "pelvis",
        "hip flexors",
        "flexors",
        "femurs",
        "femur",
    ),
    "knees": ("knees", "knee", "legs", "leg", "quads", "quad", "quadriceps"),
    "shins": ("shins", "shin", "ankles", "ankle"),
    "feet": ("feet", "foot", "midfoot", "mid-foot", "heels", "heel", "toes", "toe"),
    "spine": (
        "spine",
        "back",
        "torso",
        "chest",
        "neck",
        "head",
        "chin",
        "spinal",
        "trunk",
        "posture",
    ),
    "ribs/breathing": (
        "ribs",
        "rib",
        "ribcage",
        "breath",
        "breathe",
        "breathing",
        "exhale",
        "exhaling",
        "exhalation",
        "inhale",
        "core",
        "braced",
        "brace",
        "abdominals",
        "abs",
        "obliques",
        "pelvic floor",
    ),
    "thighs": ("thighs", "thigh", "hamstrings", "hamstring"),
    "shoulders/arms": (
        "shoulders",
        "shoulder",
        "lats",
        "arms",
        "arm",
        "elbows",
        "grip",
        "traps",
    ),
}
GENERAL_TOPIC = "whole movement"
# Words of the lift itself: a cue about them belongs to the whole movement.
MOVEMENT_WORDS = _wordset(
    """
    hinge hinging movement bar barbell kettlebell dumbbell weight deadlift rdl lift floor ground
    """
)
# Topic words that are actions, not body parts: they name the topic but count as words
# of action when two texts are compared ("exhale as you hinge" ~ "think about exhaling").
ACTION_TOPIC_WORDS = frozenset(
    {
        "breath",
        "breathe",
        "breathing",
        "exhale",
        "exhaling",
        "exhalation",
        "inhale",
        "brace",
        "braced",
    }
)

# "back" names the spine only after one of these (otherwise it is a direction: "butt back").
BACK_AS_BODY = frozenset(
    {"low", "lower", "upper", "mid", "your", "my", "our", "flat", "neutral", "round", "rounded"}
)
# "hip" in "hip hinge" names the movement ("hip-width" a distance), not the body part.
NOT_BODY_AFTER = {"hip": frozenset({"hinge", "hinges", "hinging", "hinged", "width"})}

# Verbs that open an instruction ("Keep a vertical shin angle", "Pin your shoulders back").
IMPERATIVE_VERBS = _wordset(
    """
    keep maintain pin start focus think sit place reach get push pull drive send hinge bring
    brace initiate exhale inhale breathe check move hold stand squeeze engage lead let allow
    try practice feel lower stay pause guide look lean set grip root press lift load shift
    stack tuck tighten relax lengthen hold hug imagine picture aim make remember avoid keep
    hinge bend fold reset sink sweep unlock lock squat roll rotate open close tilt point
    slide push drop raise rise extend flex finish stop go use learn master work take pause
    control lower
    """
)
# Verbs (and state words) that may follow a body part in a verbless instruction:
# "Knees remain soft", "Shins stay vertical", "Weight in the mid-foot", "Knees forward".
STATE_WORDS = _wordset(
    """
    remain remains stay stays lean leans bend bends point points track tracks move moves go goes
    sit sits hang hangs rise rises drop drops come comes travel travels shift shifts float
    floats reach reaches line lines push pushes pull pulls slightly forward back backward
    backwards behind down up over out in into under straight vertical neutral soft locked
    stacked relaxed tall
    """
)
# Verbs too generic to be part of a cue's wording ("keep", "stay", "maintain"...).
LIGHT_VERBS = _wordset(
    """
    keep keeps keeping kept stay stays staying stayed remain remains remaining remained maintain
    maintains maintaining maintained make makes making try trying think thinking focus focusing
    get gets getting let lets allow allowing be is are was were being been use using want
    """
)
# Prepositions whose two sides may not swap ("chest to thighs" is not "thighs to chest").
RELATIONAL = frozenset(
    {"to", "toward", "towards", "into", "onto", "over", "behind", "under", "from", "above"}
)
# Words stemmed irregularly that should match their base form.
IRREGULAR = {"feet": "foot", "bent": "bend", "held": "hold", "sat": "sit", "stood": "stand"}
# Direction words kept as content in cues ("hips down" is not "hips").
DIRECTIONS = frozenset({"up", "down", "over", "under", "out", "off", "above", "below"})

# Qualifier words about amount or direction, folded to one label each; differences
# between articles are told by these ("soft" knees vs "little to no" knee flexion).
QUALIFIERS: dict[str, str] = {
    "soft": "slight",
    "slight": "slight",
    "slightly": "slight",
    "small": "slight",
    "unlocked": "slight",
    "little": "little to none",
    "minimal": "little to none",
    "none": "little to none",
    "no": "little to none",
    "locked": "locked out",
    "straight": "straight",
    "vertical": "vertical",
    "horizontal": "horizontal",
    "forward": "forward",
    "back": "back",
    "backward": "back",
    "backwards": "back",
    "behind": "back",
    "down": "down",
    "up": "up",
    "neutral": "neutral",
    "flat": "flat",
    "rounded": "rounded",
    "rounding": "rounded",
    "relaxed": "relaxed",
    "tight": "tight",
    "braced": "braced",
    "stacked": "stacked",
    "much": "a lot",
    "deep": "a lot",
    "lot": "a lot",
    "heels": "heels",
    "heel": "heels",
    "mid": "mid-foot",
    "midfoot": "mid-foot",
    "toes": "toes",
    "toe": "toes",
}
# Qualifiers that contradict each other when said of the same body part.
OPPOSED = frozenset(
    frozenset(pair)
    for pair in [
        ("slight", "a lot"),
        ("slight", "straight"),
        ("slight", "locked out"),
        ("slight", "little to none"),
        ("little to none", "a lot"),
        ("straight", "a lot"),
        ("rounded", "neutral"),
        ("rounded", "flat"),
        ("forward", "back"),
        ("up", "down"),
        ("relaxed", "tight"),
        ("heels", "mid-foot"),
        ("heels", "toes"),
        ("toes", "mid-foot"),
    ]
)


def topic_words() -> dict[str, str]:
    """Each body-part word (single words only) -> its topic."""
    return {word: topic for topic, names in TOPICS.items() for word in names if " " not in word}


def topic_phrases() -> dict[tuple[str, ...], str]:
    """Multi-word body-part names ("hip flexors") -> topic."""
    pairs = [(name, topic) for topic, names in TOPICS.items() for name in names]
    return {tuple(name.split()): topic for name, topic in pairs if " " in name}
