"""The cleaner: boilerplate goes, article text stays, offsets stay exact."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.clean import clean, clean_html, segment
from tests.conftest import CORPUS

LIFT = (CORPUS / "mastering-the-hip-hinge.txt").read_text("utf-8")
TIPS = (CORPUS / "5-tips-for-your-hip-hinge.txt").read_text("utf-8")


def kept_text(source: str) -> str:
    return "\n".join(b.text(source) for b in clean(source) if b.keep)


def test_reviews_are_removed_but_the_article_is_kept():
    kept = kept_text(LIFT)
    for review_words in (
        "read more",
        "Avatar",
        "Positive: Communication",
        "Lauren Dicken",
        "What People Are Saying",
        "best gym in Chicago",
    ):
        assert review_words not in kept
    assert "Keep a vertical shin angle" in kept
    assert "Pin your shoulders back" in kept


def test_navigation_and_sign_off_are_removed():
    kept = kept_text(TIPS)
    for nav in (
        "Previous",
        "Next",
        "Squats after Baby",
        "Hamstrings and Building Core Strength",
        "xoxo",
        "I got you",
    ):
        assert nav not in kept
    assert "Knees remain soft and weight stays in the mid-foot." in kept


def test_image_captions_and_dates_are_removed():
    kept = kept_text(LIFT)
    assert "Posterior Chain Photo" not in kept
    assert "Showing muscles of the posterior chain" not in kept
    assert "Male showing the difference" not in kept
    assert "April 24, 2020" not in kept


def test_headings_are_found_by_shape():
    headings = [b.text(TIPS) for b in clean(TIPS) if b.kind == "heading" and b.keep]
    assert "Keep hip flexors relaxed" in headings
    assert "Check your ribcage" in headings
    lift_headings = [b.text(LIFT) for b in clean(LIFT) if b.kind == "heading" and b.keep]
    assert "Primary Coaching Cues" in lift_headings
    assert "Squat VS Hip Hinge – What’s the difference?" in lift_headings


def test_rules_are_general_not_written_for_these_files():
    article = (
        "Deadlift Basics\n\nPush the hips back and keep the bar close.\n\n"
        "Photo of a barbell deadlift\n\nTestimonials\n\nGreat coach!... read more\n\n"
        "Jane Doe Avatar Jane Doe\n"
    )
    kept = kept_text(article)
    assert "Push the hips back and keep the bar close." in kept
    assert "Photo of" not in kept and "Great coach" not in kept and "Jane" not in kept


def test_html_main_content_is_located_verbatim():
    page = (
        "<html><head><title>Hinge 101</title><style>p{color:red}</style>"
        "<script>alert('x')</script></head><body><nav><a href='/'>Home</a></nav>"
        "<article><h1>Hinge 101</h1><p>Push your hips back toward the wall behind you. "
        "Keep your shins vertical as you lower.</p><p>Brace your core before each rep so "
        "the spine stays neutral.</p></article><footer>Copyright</footer></body></html>"
    )
    blocks = [b for b in clean_html(page) if b.keep]
    texts = [b.text(page) for b in blocks]
    assert any("Push your hips back" in t for t in texts)
    assert all("alert" not in t and "color:red" not in t for t in texts)
    for block in blocks:
        assert "<" not in page[block.start : block.end]


lines = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80),
        st.sampled_from(["", "  • Keep a soft knee.", "1. Hinge", "# Title", "Previous", "xoxo,"]),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(lines)
def test_blocks_are_ordered_trimmed_verbatim_spans(parts):
    source = "\n".join(parts)
    blocks = clean(source)
    previous_end = 0
    for block in blocks:
        assert previous_end <= block.start < block.end <= len(source)
        text = source[block.start : block.end]
        assert text == text.strip() and text
        previous_end = block.end
    assert len(segment(source)) == len(blocks)
