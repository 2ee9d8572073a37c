"""The cue check and the cue catalogue on an article they have never seen (fake embedder)."""

from __future__ import annotations

import pytest

from ingest.build import build_index
from retrieval.cues.catalogue import build_catalogue
from retrieval.cues.check import check_cue
from retrieval.cues.units import build_cuebook
from retrieval.errors import BadCueError
from retrieval.index import load_index

ARTICLE = """# Deadlift Setup Basics

Set up the same way every time and the hinge takes care of itself.

## Set your feet

Feet stay hip-width apart. Keep your heels planted and your toes pointing forward.

## Grip and lats

Grip the bar just outside your legs. Pin your elbows to your sides and squeeze your lats.
Rather than yanking the bar off the floor, take the slack out of the bar first.

## Common mistakes

Too much weight on your toes can turn this into a squat. Don't let your hips shoot up first.
The barbell is a tool that many people find intimidating at first.
If you struggle with tight hamstrings, elevate the bar on blocks.
"""

MATCH_KEYS = {"kind", "title", "source", "heading", "quote", "start", "end", "score", "stance"}


@pytest.fixture(scope="module")
def book(tmp_path_factory, fake_embedder):
    root = tmp_path_factory.mktemp("cues")
    (root / "corpus").mkdir()
    (root / "corpus" / "deadlift-setup.md").write_text(ARTICLE, "utf-8")
    build_index(root / "corpus", root / "index", fake_embedder, root, progress=False)
    index = load_index(root / "index", fake_embedder.model_id, fake_embedder.dimension)
    return build_cuebook(index, fake_embedder)


def verbatim(book, source: str, start: int, end: int) -> str:
    doc = next(d for d in book.index.documents if d.source == source)
    return book.index.texts[doc.doc_id][start:end]


def test_catalogue_finds_a_new_articles_cues_by_body_part(book):
    catalogue = build_catalogue(book)
    listed = {c.cue: c for cues in catalogue.topics.values() for c in cues}
    for cue, topic, stance in [
        ("Feet stay hip-width apart", "feet", "endorsed"),
        ("Keep your heels planted", "feet", "endorsed"),
        ("Pin your elbows to your sides", "shoulders/arms", "endorsed"),
        ("Rather than yanking the bar off the floor", None, "discouraged"),
    ]:
        assert cue in listed, sorted(listed)
        assert listed[cue].stance == stance
        assert topic is None or listed[cue].topic == topic
    assert not any("intimidating" in c for c in listed)  # a remark, not a cue
    assert not any(c.startswith("If you struggle") for c in listed)  # the reader's situation
    for c in listed.values():
        assert verbatim(book, c.source, c.start, c.end) == c.cue
    assert catalogue.to_json()["count"] == len(listed)


@pytest.mark.parametrize(
    ("cue", "verdict", "stance", "phrase"),
    [
        ("heels planted", "found", "endorsed", "Keep your heels planted"),
        ("yank the bar off the floor", "found", "discouraged", "yanking the bar"),
        ("hips shoot up", "found", "discouraged", "hips shoot up"),
        ("weight on your toes", "found", "discouraged", "Too much weight"),
    ],
)
def test_check_cue_on_a_new_article(book, fake_embedder, cue, verdict, stance, phrase):
    result = check_cue(cue, book, fake_embedder)
    assert result.verdict == verdict
    best = result.matches[0]
    assert best.stance == stance and phrase in best.quote
    record = result.to_json()
    assert set(record) == {"cue", "verdict", "matches", "differences"}
    for match in record["matches"]:
        assert set(match) == MATCH_KEYS
        assert verbatim(book, match["source"], match["start"], match["end"]) == match["quote"]


def test_nothing_like_it_is_not_found_but_lists_the_nearest(book, fake_embedder):
    result = check_cue("snatch grip high pull", book, fake_embedder)
    assert result.verdict == "not_found"
    assert all(m.kind == "related" for m in result.matches)


@pytest.mark.parametrize(
    ("cue", "message"),
    [("   ", "the cue is empty"), ("x" * 201, "too long"), ("the and of", "no words to look for")],
)
def test_unusable_cues_are_refused_plainly(book, fake_embedder, cue, message):
    with pytest.raises(BadCueError, match=message):
        check_cue(cue, book, fake_embedder)
