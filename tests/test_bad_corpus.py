"""Odd corpus files are skipped or handled with a one-line reason; ingest never loses an index."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import app
from ingest.build import build_index
from ingest.load import MAX_BYTES
from retrieval.assistant import Assistant
from retrieval.errors import CorpusError
from retrieval.index import load_index
from tests.conftest import CORPUS, ROOT

LIFT = "mastering-the-hip-hinge.txt"
TIPS = "5-tips-for-your-hip-hinge.txt"

HOSTILE_PAGE = """<!doctype html><html><head><title>Hinge Drills</title>
<style>body { background: url(https://evil.example/bg.png) } .STYLETEXT { color: red }</style>
<script>var SCRIPTTEXT = "steal"; document.cookie;</script>
<script type="application/ld+json">{"JSONLDTEXT": true}</script>
</head><body onload="alert('BODYONLOAD')">
<nav><a href="/">Home</a> <a href="/blog">Blog</a></nav>
<article><h1>Hinge Drills</h1>
<p>Stand tall with soft knees, then push your hips back toward the wall behind you.
Keep the bar close to your thighs as it travels down.</p>
<noscript><img src="https://evil.example/pixel.png"></noscript>
<p onclick="alert('PONCLICK')">Stop when you feel a stretch in the hamstrings, then drive the
hips forward to stand up tall again.</p>
<iframe src="https://evil.example/frame"></iframe>
<template><p>TEMPLATETEXT hidden</p></template>
<!-- COMMENTTEXT -->
</article><footer>Copyright 2024</footer></body></html>
"""


def copy_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    return corpus


def reasons_of(summary) -> dict[str, str]:
    return {s.source.split("/")[-1]: s.reason for s in summary.skipped}


def test_every_bad_file_is_skipped_with_a_one_line_reason(tmp_path, fake_embedder):
    corpus = copy_corpus(tmp_path)
    lift = (corpus / LIFT).read_bytes()
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_bytes(b" \n\t\r\n  ")
    (corpus / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (corpus / "noise.md").write_bytes(bytes(range(1, 32)) * 40)  # binary without a NUL byte
    (corpus / "windows.txt").write_bytes("Caf\xe9 \u201chinge\u201d tips".encode("cp1252"))
    (corpus / "latin.md").write_bytes("Fa\xe7a o movimento de dobradi\xe7a.".encode("latin-1"))
    (corpus / "wide.txt").write_bytes("Hinge at the hips.".encode("utf-16"))
    with (corpus / "huge.txt").open("wb") as handle:  # 50 MB, sparse: nothing is really written
        handle.truncate(50 * 1024 * 1024)
    (corpus / "zz-copy.txt").write_bytes(lift)  # after the original in name order
    (corpus / "zz-crlf-bom.md").write_bytes(b"\xef\xbb\xbf" + lift.replace(b"\n", b"\r\n"))
    (corpus / "notes.pdf").write_bytes(b"%PDF-1.4")
    (corpus / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    os.mkfifo(corpus / "pipe.txt")  # reading it would block forever

    summary = build_index(corpus, tmp_path / "index", fake_embedder, tmp_path, progress=False)

    reasons = reasons_of(summary)
    assert summary.files == 2
    duplicate = "duplicate of corpus/mastering-the-hip-hinge.txt"
    legacy = "iconv -f cp1252 -t utf-8"
    assert reasons == {
        "blank.md": "empty file",
        "dangling.txt": "broken symbolic link",
        "empty.txt": "empty file",
        "huge.txt": f"larger than {MAX_BYTES // 2**20} MB (52428800 bytes)",
        "latin.md": reasons["latin.md"] if legacy in reasons["latin.md"] else "not UTF-8",
        "noise.md": "binary file (not text)",
        "notes.pdf": "unsupported file type '.pdf'",
        "photo.txt": "binary file (contains NUL bytes)",
        "pipe.txt": "not a regular file (pipe, socket or device)",
        "wide.txt": "UTF-16 text; convert it, e.g. iconv -f utf-16 -t utf-8",
        "windows.txt": reasons["windows.txt"] if legacy in reasons["windows.txt"] else "not UTF-8",
        "zz-copy.txt": duplicate,
        "zz-crlf-bom.md": duplicate,
    }
    assert reasons["windows.txt"].startswith("not UTF-8 (byte 3 ")
    lines = summary.lines()
    assert all("\n" not in line for line in lines)
    assert sum(line.startswith("skipped ") for line in lines) == len(reasons)


def test_html_scripts_styles_and_handlers_never_reach_the_index(tmp_path, fake_embedder):
    corpus = copy_corpus(tmp_path)
    (corpus / "drills.html").write_text(HOSTILE_PAGE, "utf-8")
    summary = build_index(corpus, tmp_path / "index", fake_embedder, tmp_path, progress=False)
    assert summary.files == 3, summary.lines()
    index = load_index(tmp_path / "index", fake_embedder.model_id, fake_embedder.dimension)
    page = next(d for d in index.documents if d.source.endswith("drills.html"))
    chunks = [c for c in index.chunks if c.doc_id == page.doc_id]
    indexed = " ".join(c.text for c in chunks)
    assert "push your hips back" in indexed and "drive the\nhips forward" in indexed
    for marker in (
        "SCRIPTTEXT",
        "STYLETEXT",
        "JSONLDTEXT",
        "BODYONLOAD",
        "PONCLICK",
        "TEMPLATETEXT",
        "COMMENTTEXT",
        "evil.example",
        "<",
        ">",
    ):
        assert marker not in indexed
    for chunk in chunks:  # still verbatim spans of the page
        assert index.texts[page.doc_id][chunk.start : chunk.end].startswith(chunk.text[:20])


def test_a_file_that_vanishes_mid_ingest_is_skipped(tmp_path, fake_embedder, monkeypatch):
    corpus = copy_corpus(tmp_path)
    doomed = corpus / "doomed.txt"
    doomed.write_text("Hinge drills for the hamstrings.\n\nPush the hips back.\n", "utf-8")
    import ingest.load

    real_read_source = ingest.load.read_source

    def vanish_then_read(path, source, meta):  # listed already; gone before it is read
        if path.name == doomed.name:
            path.unlink()
        return real_read_source(path, source, meta)

    monkeypatch.setattr(ingest.load, "read_source", vanish_then_read)
    summary = build_index(corpus, tmp_path / "index", fake_embedder, tmp_path, progress=False)
    assert summary.files == 2
    assert reasons_of(summary) == {"doomed.txt": "disappeared before it could be read"}


def test_a_file_the_cleaner_chokes_on_is_skipped_not_fatal(tmp_path, fake_embedder, monkeypatch):
    corpus = copy_corpus(tmp_path)
    import ingest.build

    real_clean = ingest.build.clean

    def choke_on_tips(text):
        if text.startswith("5 Tips"):
            raise RecursionError("maximum recursion depth exceeded")
        return real_clean(text)

    monkeypatch.setattr(ingest.build, "clean", choke_on_tips)
    summary = build_index(corpus, tmp_path / "index", fake_embedder, tmp_path, progress=False)
    assert summary.files == 1
    assert reasons_of(summary) == {
        TIPS: "could not be parsed (RecursionError: maximum recursion depth exceeded)"
    }


@pytest.fixture()
def good_index(tmp_path, fake_embedder):
    directory = tmp_path / "index"
    build_index(CORPUS, directory, fake_embedder, ROOT, progress=False)
    return directory


def snapshot(directory):
    return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_a_corpus_with_nothing_usable_keeps_the_previous_index(
    tmp_path, fake_embedder, good_index, monkeypatch, capsys
):
    before = snapshot(good_index)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "old.txt").write_bytes("Caf\xe9".encode("cp1252"))
    with pytest.raises(CorpusError, match="index unchanged"):
        build_index(bad, good_index, fake_embedder, tmp_path, progress=False)
    assert snapshot(good_index) == before

    monkeypatch.setattr(app, "embedder_for", lambda settings: fake_embedder)
    with pytest.raises(SystemExit) as exit_info:
        app.main(["ingest", "--corpus", str(bad), "--index", str(good_index)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert err.count("\n") == 1 and err.startswith("hingecoach: error: no usable articles")
    assert snapshot(good_index) == before


def test_a_failed_swap_puts_the_previous_index_back(good_index, fake_embedder, monkeypatch):
    before = snapshot(good_index)
    import retrieval.index

    real_replace = os.replace
    calls = []

    def fail_second_rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the old index is moved aside; moving the new one in fails
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(retrieval.index.os, "replace", fail_second_rename)
    with pytest.raises(OSError, match="No space left"):
        build_index(CORPUS, good_index, fake_embedder, ROOT, progress=False)
    monkeypatch.undo()
    assert snapshot(good_index) == before
    assert [p.name for p in good_index.parent.iterdir()] == ["index"]  # nothing left over
    load_index(good_index, fake_embedder.model_id, fake_embedder.dimension)


KILLED_INGEST = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {root!r})
    import retrieval.index
    from ingest.build import build_index
    from tests.conftest import FakeEmbedder

    real = retrieval.index.build_bm25

    def stall(*args, **kwargs):  # half the new index is on disk when the kill arrives
        Path({signal_file!r}).write_text("writing")
        time.sleep(120)
        return real(*args, **kwargs)

    retrieval.index.build_bm25 = stall
    build_index(Path({corpus!r}), Path({index!r}), FakeEmbedder(), Path({root!r}), progress=False)
    """
)


def test_an_ingest_killed_while_writing_leaves_the_previous_index(
    tmp_path, good_index, fake_embedder
):
    before = snapshot(good_index)
    signal_file = tmp_path / "writing"
    script = KILLED_INGEST.format(
        root=str(ROOT), signal_file=str(signal_file), corpus=str(CORPUS), index=str(good_index)
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not signal_file.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.time() < deadline, "the ingest never started writing"
        time.sleep(0.05)
    staging = [p for p in good_index.parent.iterdir() if p.name.startswith(".index-new-")]
    assert staging and (staging[0] / "chunks.faiss").exists()  # really half-written
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert snapshot(good_index) == before
    load_index(good_index, fake_embedder.model_id, fake_embedder.dimension)


def test_a_running_assistant_keeps_its_index_through_failed_rebuilds(
    tmp_path, good_index, fake_embedder
):
    assistant = Assistant(good_index, fake_embedder)
    question = "how should my knees bend in a hip hinge"
    expected = assistant.ask(question).to_json()
    empty = tmp_path / "empty-corpus"
    empty.mkdir()
    with pytest.raises(CorpusError):
        build_index(empty, good_index, fake_embedder, tmp_path, progress=False)
    assistant.reload()  # the failed ingest changed nothing on disk
    assert assistant.ask(question).to_json() == expected
    # Damaged on disk under it. Replaced, not rewritten in place: the running server maps
    # its files, and truncating a mapped file in place is outside what any writer of ours does.
    damaged = good_index / "passages.bin.new"
    damaged.write_text("{", "utf-8")
    damaged.replace(good_index / "passages.bin")
    with pytest.raises(Exception, match="hingecoach ingest"):
        assistant.reload()
    assert assistant.ask(question).to_json() == expected


def test_a_bad_articles_json_fails_in_one_line_and_keeps_the_index(
    tmp_path, fake_embedder, good_index
):
    before = snapshot(good_index)
    corpus = copy_corpus(tmp_path)
    (corpus / "articles.json").write_text("{not json", "utf-8")
    with pytest.raises(CorpusError, match="articles.json is not valid JSON") as info:
        build_index(corpus, good_index, fake_embedder, tmp_path, progress=False)
    assert "\n" not in str(info.value)
    assert snapshot(good_index) == before
    (corpus / "articles.json").write_text(json.dumps(["a", "list"]), "utf-8")
    with pytest.raises(CorpusError, match="must map file names"):
        build_index(corpus, good_index, fake_embedder, tmp_path, progress=False)


def test_control_characters_from_files_never_reach_the_terminal(
    tmp_path, fake_embedder, monkeypatch
):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "clear\x1b[2J.pdf").write_bytes(b"%PDF")  # its name is printed as skipped
    (corpus / "escapes.txt").write_text(
        "Escape Hinge\n\nHinge drills: push the hips back \x1b]0;pwned\x07 and keep the shins "
        "vertical \x1b[31mwhile the knees stay soft\x1b[0m during every hinge rep.\n\n"
        + "Brace the trunk, breathe out at the top and reset between reps. "
        * 10,
        "utf-8",
    )
    monkeypatch.setattr(app, "embedder_for", lambda settings: fake_embedder)
    index = str(tmp_path / "index")
    out = io.StringIO()
    assert app.run(["ingest", "--corpus", str(corpus), "--index", index], stdout=out) == 0
    assert "\x1b" not in out.getvalue() and "clear\\x1b[2J.pdf" in out.getvalue()
    out = io.StringIO()
    question = "push the hips back and keep the shins vertical while the knees stay soft"
    assert app.run(["ask", question, "--index", index], stdout=out) == 0
    assert "Escape Hinge" in out.getvalue()
    assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()
    assert "\\x1b[31m" in out.getvalue()  # shown, not obeyed
    out = io.StringIO()
    assert app.run(["ask", question, "--json", "--index", index], stdout=out) == 0
    quote = json.loads(out.getvalue())["citations"][0]["quote"]
    assert "\x1b[31m" in quote  # JSON keeps the verbatim quote, escaped by JSON itself
    for command in (["cue", "knees stay soft"], ["cues"]):  # the cue check quotes articles too
        out = io.StringIO()
        assert app.run([*command, "--index", index], stdout=out) == 0
        assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()


def test_a_visitors_escape_sequences_never_reach_the_operators_terminal(
    tmp_path, fake_embedder, monkeypatch
):
    from retrieval.records import Answer
    from web.feedback import FeedbackStore

    store = FeedbackStore(tmp_path / "log.sqlite3")
    question = "what are your prices\x1b]0;pwned\x07\x1b[2J\x1b[31m RED \u202eevil"
    store.log(Answer(question=question, answer="no", abstained=True), "api", "198.51.100.7")
    monkeypatch.setattr(app, "embedder_for", lambda settings: fake_embedder)
    out = io.StringIO()
    assert app.run(["report", "--db", str(store.path)], stdout=out) == 0
    printed = out.getvalue()
    assert "what are your prices" in printed
    assert not any(ch in printed for ch in "\x1b\x07\u202e")
    assert "\\x1b[2J" in printed and "\\u202e" in printed  # shown, not obeyed
