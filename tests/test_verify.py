"""The sentence verifier, the reply splitter and the prompt budget."""

from __future__ import annotations

import pytest

from bench.verifier import Bench, load_pairs
from retrieval.errors import LLMError
from retrieval.tokens import encoding_for_model
from retrieval.written.compose import Claim, split_reply
from retrieval.written.llm import MESSAGE_OVERHEAD, REPLY_PRIMING, LLMConfig, Passage, build_prompt
from retrieval.written.verify import VerifierSettings, numbers
from tests.conftest import source_text


def test_labelled_pairs_are_verbatim_and_balanced():
    pairs = load_pairs()
    assert len(pairs) >= 100
    for pair in pairs:
        assert source_text(pair.source)[pair.start : pair.end] == pair.quote
    supported = sum(p.supported for p in pairs)
    assert 0.3 < supported / len(pairs) < 0.7
    assert {p.split for p in pairs} == {"calibrate", "holdout"}


def test_verifier_flags_unsupported_sentences_on_the_labelled_pairs(assistant, real_embedder):
    bench = Bench(assistant.index, real_embedder)
    assert all(bench.evidence), "a labelled span holds no indexed sentence"
    settings = VerifierSettings()
    for split in ("calibrate", "holdout", None):
        print(bench.figures(settings, split).line(split or "all"))
    overall = bench.figures(settings)
    assert overall.precision >= 0.9 and overall.recall >= 0.85
    kinds = bench.by_kind(settings)
    # invented facts and citations of the wrong passage are the failures that matter most
    for kind in ("invented", "wrong-passage", "off-topic"):
        right, total = kinds[kind]
        assert right / total >= 0.9, kind


def test_numbers_the_passage_does_not_state_are_caught():
    assert numbers("Do three sets of 12 reps, one at a time.") == {"3", "12"}


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Hips back [1]. Knees soft [2][3].", [("Hips back.", (1,)), ("Knees soft.", (2, 3))]),
        ("Hips back. [1] Knees soft. [2, 4]", [("Hips back.", (1,)), ("Knees soft.", (2, 4))]),
        ("- Hips back [1]\n- Knees soft [1-3]", [("Hips back", (1,)), ("Knees soft", (1, 2, 3))]),
        ("Hips [2] back [passage 1].", [("Hips back.", (2, 1))]),
        ("No citation here. [7]", [("No citation here.", (7,))]),
        ("[1]", []),
    ],
)
def test_reply_splits_into_sentences_with_their_markers(reply, expected):
    assert split_reply(reply) == [Claim(text, cited) for text, cited in expected]


def test_a_sentence_is_complete_only_once_the_next_one_starts():
    # While streaming, everything but the last claim is final: a marker written after
    # the full stop must still reach its sentence.
    assert [c.cited for c in split_reply("Hips back. [1]")[:-1]] == []
    assert split_reply("Hips back. [1] Kn")[0] == Claim("Hips back.", (1,))


PASSAGES = [Passage(i + 1, i, "Title", f"Heading {i}", "word " * 300) for i in range(6)]


def expected_tokens(prompt, model):
    encoding = encoding_for_model(model)
    body = sum(len(encoding.encode(m["content"])) + MESSAGE_OVERHEAD for m in prompt.messages)
    return body + REPLY_PRIMING


def test_prompt_fits_the_context_with_the_models_encoding():
    history = [f"earlier question number {i} about hinging" for i in range(40)]
    for model in ("gpt-4o", "llama3.1:8b"):
        config = LLMConfig("http://127.0.0.1:1/v1", model, context_tokens=1500, answer_tokens=300)
        prompt = build_prompt("why quads?", PASSAGES, history, config)
        assert prompt.tokens == expected_tokens(prompt, model)
        assert prompt.tokens <= config.context_tokens - config.answer_tokens
        assert 1 <= len(prompt.passages) < len(PASSAGES)  # passages were dropped to fit
        assert [p.n for p in prompt.passages] == list(range(1, len(prompt.passages) + 1))
        assert 0 < len(prompt.history) < len(history)  # history trimmed: newest kept
        assert prompt.history[-1] == history[-1]


def test_a_context_too_small_for_one_passage_is_an_error():
    config = LLMConfig("http://127.0.0.1:1/v1", "m", context_tokens=600, answer_tokens=400)
    with pytest.raises(LLMError, match="too small"):
        build_prompt("why quads?", PASSAGES, [], config)
