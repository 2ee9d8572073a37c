"""The tree shows the architecture, and imports keep to it (see the README's diagram).

- app -> web, retrieval, ingest; ingest -> retrieval; web -> retrieval;
- retrieval never imports ingest, web or app, nor any web framework;
- fastapi, starlette, gradio, uvicorn, limits and pydantic appear only under web/;
- the retrieval core never imports cues/, written/ or evaluation/ (assistant.py composes them);
- nothing but tests imports tests.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

FRAMEWORKS = {"fastapi", "fastapi_offline", "starlette", "gradio", "uvicorn", "limits", "pydantic"}
# What `ask` and `cue` must not pay for at start-up.
HEAVY = {"fastapi", "starlette", "gradio", "uvicorn", "pydantic", "torch"}
FEATURES = {"retrieval.cues", "retrieval.written", "retrieval.evaluation"}


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def top(module: str) -> str:
    return module.split(".")[0]


def breaks(paths: list[Path], forbidden: set[str]) -> list[str]:
    return [
        f"{p.name} imports {m}"
        for p in paths
        for m in sorted(imports(p))
        if top(m) in forbidden or any(m == f or m.startswith(f + ".") for f in forbidden)
    ]


def test_the_library_imports_no_edge_and_no_web_framework():
    assert breaks(files("retrieval"), {"web", "ingest", "app", "tests", *FRAMEWORKS}) == []


def test_ingest_uses_only_the_library():
    assert breaks(files("ingest"), {"web", "app", "tests", *FRAMEWORKS}) == []


def test_the_site_uses_the_library_not_the_edges():
    assert breaks(files("web"), {"ingest", "app", "tests"}) == []


def test_web_frameworks_appear_only_under_web():
    outside = [ROOT / "app.py", *files("retrieval"), *files("ingest"), *files("bench")]
    assert breaks(outside, FRAMEWORKS) == []


def test_the_core_never_imports_the_features_but_the_assistant_composes_them():
    core = [p for p in (ROOT / "retrieval").glob("*.py") if p.name != "assistant.py"]
    assert breaks(core, FEATURES) == []
    assert FEATURES - {"retrieval.evaluation"} <= {
        ".".join(m.split(".")[:2]) for m in imports(ROOT / "retrieval" / "assistant.py")
    }


def test_the_checker_catches_a_framework_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from fastapi import FastAPI\n")
    assert breaks([bad], FRAMEWORKS) != []


@pytest.mark.parametrize("command", ["ask", "cue"])
def test_the_cli_answers_without_loading_a_web_framework_or_torch(real_index_dir, command):
    arg = "what is a hip hinge" if command == "ask" else "soft knees"
    script = (
        "import sys, app\n"
        f"code = app.run([{command!r}, {arg!r}, '--index', {str(real_index_dir)!r}])\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & "
        f"set({sorted(HEAVY)!r}))\n"
        "print('LOADED', loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "LOADED []"
