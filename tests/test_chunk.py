"""The chunker: passages in order, exact offsets, all kept text covered, none over the window."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunk import chunk_blocks, embed_text
from ingest.clean import clean
from retrieval.tokens import count_tokens
from tests.conftest import CORPUS

WORDS = st.sampled_from(
    [
        "hinge",
        "hips",
        "back",
        "knees",
        "soft",
        "shins",
        "vertical",
        "glutes",
        "hamstrings",
        "brace",
        "core",
        "spine",
        "neutral",
        "ribs",
        "exhale.",
        "wall?",
        "squat!",
        "Deadlift:",
        "the",
        "a",
        "to",
        "and",
        "—",
        "“booty”",
        "1.",
        "•",
        "café",
    ]
)
paragraph = st.lists(WORDS, min_size=1, max_size=120).map(" ".join)
document = st.lists(
    st.one_of(
        paragraph,
        st.sampled_from(["Knee Position", "Previous", "Photo of a squat", "  • Keep going."]),
    ),
    min_size=1,
    max_size=25,
).map("\n\n".join)


def non_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


@settings(max_examples=150, deadline=None)
@given(document, st.integers(min_value=24, max_value=120))
def test_chunks_cover_kept_text_in_order_within_window(source, window):
    blocks = clean(source)
    pieces = chunk_blocks(blocks, source, "Title", window=window, target_tokens=window // 2)
    covered = []
    previous_end = 0
    for piece in pieces:
        for start, end in piece.spans:
            assert previous_end <= start < end <= len(source)
            covered.append(source[start:end])
            previous_end = end
        tokens = count_tokens(embed_text("Title", piece.heading, piece.text(source)))
        single_word = len(piece.spans) == 1 and " " not in source[piece.start : piece.end]
        assert tokens <= window or single_word
    kept = [b.text(source) for b in blocks if b.keep and b.kind in ("text", "item")]
    assert non_space("".join(covered)) == non_space("".join(kept))


def test_real_articles_chunk_under_their_headings():
    source = (CORPUS / "mastering-the-hip-hinge.txt").read_text("utf-8")
    pieces = chunk_blocks(clean(source), source, "Mastering The Hip Hinge")
    cues = [p for p in pieces if "Keep a vertical shin angle" in p.text(source)]
    assert cues and cues[0].heading == "Primary Coaching Cues"
    for piece in pieces:
        assert "read more" not in piece.text(source)
        assert count_tokens(piece.text(source)) <= 256


def test_lead_in_line_stays_with_its_list():
    source = (CORPUS / "5-tips-for-your-hip-hinge.txt").read_text("utf-8")
    pieces = chunk_blocks(clean(source), source, "5 Tips for Your Hip Hinge")
    lead = [p for p in pieces if "A few tips:" in p.text(source)][0]
    assert "Knees remain soft" in lead.text(source)
