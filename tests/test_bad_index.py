"""A missing, damaged or foreign index: one line with the rebuild command, and serve refuses."""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import sys

import pytest

import app
from ingest.build import build_index
from retrieval.errors import HingeCoachError, IndexCorruptError
from retrieval.index import FORMAT_VERSION, load_index
from tests.conftest import CORPUS, ROOT


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, fake_embedder):
    directory = tmp_path_factory.mktemp("pristine") / "index"
    build_index(CORPUS, directory, fake_embedder, ROOT, progress=False)
    return directory


@pytest.fixture()
def index_copy(pristine, tmp_path):
    directory = tmp_path / "index"
    shutil.copytree(pristine, directory)
    return directory


def index_files(directory):
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


def damage(path, how: str, seed: int = 7) -> None:
    data = path.read_bytes()
    rng = random.Random(f"{path.name}-{how}-{seed}")
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "emptied":
        path.write_bytes(b"")
    elif how == "random bytes":
        path.write_bytes(rng.randbytes(len(data)))
    elif how == "flipped bytes":  # bit rot in the middle: sizes and headers still look right
        flipped = bytearray(data)
        for _ in range(3):
            at = rng.randrange(len(data) // 2, len(data))
            flipped[at] ^= 0xFF
        path.write_bytes(bytes(flipped))
    elif how == "deleted":
        path.unlink()
    else:
        raise AssertionError(how)


DAMAGE = ["truncated", "emptied", "random bytes", "flipped bytes", "deleted"]
NAMES = [
    "bm25/data.csc.index.npy",
    "bm25/indices.csc.index.npy",
    "bm25/indptr.csc.index.npy",
    "bm25/params.index.json",
    "bm25/vocab.index.json",
    "chunk_vectors.npy",
    "chunks.faiss",
    "chunks.npy",
    "documents.bin",
    "documents.offsets.npy",
    "hashes.npy",
    "headings.bin",
    "headings.offsets.npy",
    "meta.json",
    "passages.bin",
    "passages.offsets.npy",
    "sentence_texts.bin",
    "sentence_texts.offsets.npy",
    "sentence_vectors.npy",
    "sentences.npy",
    "texts.bin",
    "texts.offsets.npy",
]


def test_the_damage_cases_cover_every_index_file(pristine):
    assert index_files(pristine) == sorted(NAMES)


def assert_one_line_with_rebuild_command(message: str, directory) -> None:
    assert "\n" not in message
    assert f"hingecoach ingest --index {directory}" in message


@pytest.mark.parametrize("how", DAMAGE)
@pytest.mark.parametrize("name", NAMES)
def test_any_damaged_file_is_a_one_line_error(index_copy, fake_embedder, name, how):
    damage(index_copy / name, how)
    with pytest.raises(HingeCoachError) as info:
        load_index(index_copy, fake_embedder.model_id, fake_embedder.dimension)
    assert_one_line_with_rebuild_command(str(info.value), index_copy)


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ([], "malformed meta.json"),
        (None, "malformed meta.json"),
        ({}, "has format None"),
        ({"format_version": 0}, "has format 0"),
        ({"format_version": FORMAT_VERSION, "model": "other"}, "was built with None"),
        (
            {"format_version": FORMAT_VERSION, "model": {"id": "other/model", "dimension": 64}},
            "other/model",
        ),
        (
            {
                "format_version": FORMAT_VERSION,
                "model": {"id": "test/fake-embedder", "dimension": 8},
            },
            "(8 dim",
        ),
        ("files", "no checksum table"),
    ],
)
def test_a_foreign_or_malformed_meta_is_refused(index_copy, fake_embedder, meta, expected):
    meta_path = index_copy / "meta.json"
    if meta == "files":  # a well-formed index whose checksum table is not a table
        meta = {**json.loads(meta_path.read_text()), "files": ["passages.bin"]}
    meta_path.write_text(json.dumps(meta), "utf-8")
    with pytest.raises(HingeCoachError, match=expected.replace("(", r"\(")) as info:
        load_index(index_copy, fake_embedder.model_id, fake_embedder.dimension)
    assert_one_line_with_rebuild_command(str(info.value), index_copy)


CHECKSUM_TABLES = {
    "removed": lambda meta: meta.pop("files"),
    "emptied": lambda meta: meta.update(files={}),
    "key damaged": lambda meta: meta.update(filez=meta.pop("files")),
    "one file unlisted": lambda meta: meta["files"].pop("texts.bin"),
}


@pytest.mark.parametrize("how", sorted(CHECKSUM_TABLES))
def test_an_index_without_its_checksum_table_is_refused_not_served_unchecked(
    index_copy, fake_embedder, cli, how
):
    meta_path = index_copy / "meta.json"
    meta = json.loads(meta_path.read_text())
    CHECKSUM_TABLES[how](meta)
    meta_path.write_text(json.dumps(meta), "utf-8")
    texts = index_copy / "texts.bin"  # zeroed, same size: only a checksum can tell
    texts.write_bytes(bytes(texts.stat().st_size))
    with pytest.raises(IndexCorruptError) as info:
        load_index(index_copy, fake_embedder.model_id, fake_embedder.dimension)
    assert_one_line_with_rebuild_command(str(info.value), index_copy)
    assert "checksum" in str(info.value)
    code, err = cli("ask", "how do I hinge?", "--json", "--index", str(index_copy))
    assert code == 1 and err.count("\n") == 1 and "checksum" in err and "\x00" not in err


def test_bit_rot_that_still_parses_is_caught_by_the_checksums(index_copy, fake_embedder):
    vectors = index_copy / "sentences.npy"
    damage(vectors, "flipped bytes")
    with pytest.raises(IndexCorruptError, match="sentences.npy does not match its checksum"):
        load_index(index_copy, fake_embedder.model_id, fake_embedder.dimension)


def test_rebuilding_a_damaged_index_re_embeds_instead_of_reusing_its_vectors(
    index_copy, pristine, fake_embedder
):
    import numpy as np

    damage(index_copy / "sentence_vectors.npy", "flipped bytes")
    summary = build_index(CORPUS, index_copy, fake_embedder, ROOT, progress=False)
    assert summary.embedded > 0  # nothing was taken from the damaged files
    rebuilt = np.load(index_copy / "sentence_vectors.npy")
    assert np.array_equal(rebuilt, np.load(pristine / "sentence_vectors.npy"))
    load_index(index_copy, fake_embedder.model_id, fake_embedder.dimension)


# ---------------------------------------------------------------- through the CLI


@pytest.fixture()
def cli(monkeypatch, capsys, fake_embedder):
    """app.main in-process with the fake model; returns (exit code, stderr). serve listens
    on no port (an unbound socket stands in)."""
    monkeypatch.setattr(app, "embedder_for", lambda settings: fake_embedder)
    monkeypatch.setattr("web.site.listen", lambda host, port: socket.socket())

    def run(*argv):
        with pytest.raises(SystemExit) as exit_info:
            app.main(list(argv))
        return exit_info.value.code, capsys.readouterr().err

    return run


BAD = ["truncated", "random bytes", "flipped bytes", "other model", "other format"]


@pytest.mark.parametrize(
    ("command", "how"),
    [("ask", "missing")] + [(command, how) for command in ("ask", "serve") for how in BAD],
)  # serve builds a missing index: see test_serve_builds_a_missing_index
def test_ask_and_serve_refuse_a_bad_index_in_one_line(index_copy, cli, monkeypatch, command, how):
    if how == "missing":
        shutil.rmtree(index_copy)
    elif how in ("other model", "other format"):
        meta = json.loads((index_copy / "meta.json").read_text())
        if how == "other model":
            meta["model"] = {"id": "sentence-transformers/all-mpnet-base-v2", "dimension": 768}
        else:
            meta["format_version"] = FORMAT_VERSION + 1
        (index_copy / "meta.json").write_text(json.dumps(meta))
    else:
        damage(index_copy / "chunks.faiss", how)
    monkeypatch.setattr("web.site.create_site", lambda *a, **k: pytest.fail("served a bad index"))
    args = ["ask", "how do I hinge?"] if command == "ask" else ["serve"]
    code, err = cli(*args, "--index", str(index_copy))
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("hingecoach: error: ")
    assert f"hingecoach ingest --index {index_copy}" in err


@pytest.fixture()
def served(monkeypatch, tmp_path):
    """serve() up to the point of listening: the sites it would have served."""
    sites: list = []
    monkeypatch.setattr("web.site.create_site", lambda assistant, *rest: assistant)
    monkeypatch.setattr("web.site.serve", lambda site, settings, sock: sites.append(site))
    monkeypatch.setenv("HINGECOACH_DB", str(tmp_path / "log.sqlite3"))
    return sites


@pytest.mark.parametrize("switch", ["flag", "environment"])
def test_serve_rebuilds_a_bad_index_when_configured(index_copy, cli, served, monkeypatch, switch):
    damage(index_copy / "passages.bin", "random bytes")
    args = ["serve", "--index", str(index_copy), "--corpus", str(CORPUS)]
    if switch == "flag":
        args.append("--rebuild-bad-index")
    else:
        monkeypatch.setenv("HINGECOACH_REBUILD_BAD_INDEX", "1")
        monkeypatch.setenv("HINGECOACH_CORPUS", str(CORPUS))
        args = args[:3]
    code, err = cli(*args)
    assert code == 0 and len(served) == 1
    assert len(served[0].index.documents) == 2  # the rebuilt index is the one served
    assert err.splitlines()[0].startswith(f"index at {index_copy} is damaged")
    assert "building it from" in err.splitlines()[0] and "indexed 2 file(s)" in err


def test_serve_builds_a_missing_index(tmp_path, cli, served):
    code, err = cli("serve", "--index", str(tmp_path / "new"), "--corpus", str(CORPUS))
    assert code == 0 and len(served) == 1
    assert err.startswith(f"no index at {tmp_path / 'new'}; building it from")


def test_a_failed_rebuild_is_still_one_line_and_serves_nothing(index_copy, cli, served):
    damage(index_copy / "passages.bin", "truncated")
    code, err = cli(
        "serve", "--index", str(index_copy), "--corpus", "/nonexistent", "--rebuild-bad-index"
    )
    assert code == 1
    assert err.splitlines()[-1] == "hingecoach: error: corpus folder /nonexistent does not exist."
    assert served == []


def test_the_real_entry_point_refuses_before_loading_the_model(index_copy):
    damage(index_copy / "chunks.faiss", "random bytes")
    from tests.browser import free_port

    for command in (["serve", "--port", str(free_port())], ["ask", "how do I hinge?"]):
        result = subprocess.run(
            [sys.executable, str(ROOT / "app.py"), *command, "--index", str(index_copy)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert result.stderr == (
            f"hingecoach: error: index at {index_copy} is damaged (chunks.faiss does not match "
            f"its checksum); rebuild it with: hingecoach ingest --index {index_copy}\n"
        )


def test_ingest_into_an_unwritable_place_is_one_line(tmp_path, cli):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err = cli("ingest", "--corpus", str(CORPUS), "--index", str(blocker / "index"))
    assert code == 1
    last = err.splitlines()[-1]  # after the progress bar
    assert last == f"hingecoach: error: [Errno 17] File exists: '{blocker}'"
    assert "Traceback" not in err


def test_an_unexpected_failure_is_one_line_unless_debugging(tmp_path, cli, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("something nobody expected\nwith a second line")

    monkeypatch.setattr("ingest.build.load_corpus", broken)
    code, err = cli("ingest", "--corpus", str(CORPUS), "--index", str(tmp_path / "ix"))
    assert code == 1
    assert err == (
        "hingecoach: error: unexpected failure (ValueError: something nobody expected); "
        "run again with HINGECOACH_DEBUG=1 for the details\n"
    )
    monkeypatch.setenv("HINGECOACH_DEBUG", "1")
    with pytest.raises(ValueError):
        app.main(["ingest", "--corpus", str(CORPUS), "--index", str(tmp_path / "ix")])
