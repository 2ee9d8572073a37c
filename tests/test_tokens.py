"""tiktoken works offline from the shipped BPE files."""

from __future__ import annotations

import hashlib
import importlib

import pytest


def test_encodings_are_written_to_the_cache_and_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    from retrieval import tokens

    importlib.reload(tokens)
    enc = tokens.get_encoding("cl100k_base")
    assert enc.encode("hello world") == [15339, 1917]
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    assert (tmp_path / hashlib.sha1(url.encode()).hexdigest()).exists()
    assert tokens.encoding_for_model("gpt-4o").name == "o200k_base"
    assert tokens.encoding_for_model("some-local-llama").name == "cl100k_base"


def test_count_tokens_counts(monkeypatch):
    from retrieval.tokens import count_tokens

    assert count_tokens("") == 0
    assert count_tokens("Keep a vertical shin angle") == pytest.approx(6, abs=2)


def test_models_whose_encoding_is_not_shipped_fall_back_offline():
    from retrieval.tokens import encoding_for_model

    # p50k_base is not bundled; asking for it must not reach for the network.
    assert encoding_for_model("text-davinci-003").name == "cl100k_base"
