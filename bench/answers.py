"""Answers to the end-to-end questions as JSON lines, to compare two versions of the code.

Runs whichever code is first on PYTHONPATH, so the same script answers for two checkouts:

    PYTHONPATH=/path/to/old python bench/answers.py > old.jsonl
    PYTHONPATH=. python bench/answers.py > new.jsonl
    diff old.jsonl new.jsonl     # same questions, same quotes, same offsets -> no output
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def main() -> None:
    import app
    from retrieval.evaluation import sample_questions

    settings = app.Settings.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        settings.index = Path(tmp) / "index"
        app.run_ingest(settings, progress=False)
        assistant = app.open_assistant(settings)
        for question in sample_questions():
            result = assistant.ask(question)
            record = {
                "question": question,
                "abstained": result.abstained,
                "citations": [[c.source, c.start, c.end, c.quote] for c in result.citations],
            }
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
