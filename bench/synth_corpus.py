"""Synthetic corpora for the benchmark, made deterministically from the real articles.

Each synthetic article is a short coaching note: a title, one section heading and
a paragraph of two or three sentences, all taken verbatim from the kept
(non-boilerplate) text of the real articles in corpus/. Notes are short because
embedding is the cost of ingest (about 2,500 tokens/s on this 2-core machine):
10,000 notes of one passage each take minutes, 10,000 full-length articles an hour.
The same seed and count always give byte-identical files, so benchmark runs
compare like with like.

    python bench/synth_corpus.py 1000 /tmp/corpus-1000
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.clean import clean  # noqa: E402
from ingest.load import load_corpus  # noqa: E402
from retrieval.text import sentence_spans  # noqa: E402

TERMINAL = (".", "!", "?")


def real_material(corpus: Path = ROOT / "corpus") -> tuple[list[str], list[str]]:
    """The kept sentences and section headings of the real articles, in corpus order."""
    files, _ = load_corpus(corpus, ROOT)
    sentences: list[str] = []
    headings: list[str] = []
    for file in files:
        for block in clean(file.text):
            if not block.keep:
                continue
            text = block.text(file.text)
            if block.kind == "heading":
                headings.append(" ".join(text.split()).rstrip("?.!:").strip())
            elif block.kind in ("text", "item"):
                for start, end in sentence_spans(file.text, block.start, block.end):
                    sentence = " ".join(file.text[start:end].split())
                    if sentence.endswith(TERMINAL) and 30 <= len(sentence) <= 300:
                        sentences.append(sentence)
    return sentences, [h for h in headings if 2 <= len(h.split()) <= 12]


def article(number: int, sentences: list[str], headings: list[str], seed: int) -> str:
    """One synthetic article's text (plain text, the way the real articles are written)."""
    rng = random.Random(f"{seed}:{number}")
    title = f"{rng.choice(headings)} Notes {number}"
    heading = rng.choice(headings)
    paragraph = " ".join(rng.sample(sentences, rng.randint(2, 3)))
    return "\n\n".join([title, heading, paragraph]) + "\n"


def generate(count: int, out: Path, seed: int = 0) -> Path:
    """Write `count` articles to `out` (replacing it); returns `out`."""
    sentences, headings = real_material()
    if not sentences or not headings:
        raise SystemExit("the real corpus has no usable sentences or headings")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    width = len(str(count))
    for number in range(count):
        text = article(number, sentences, headings, seed)
        (out / f"note-{number:0{width}d}.txt").write_text(text, "utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="articles to write")
    parser.add_argument("out", type=Path, help="output folder (replaced)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generate(args.count, args.out, args.seed)
    print(f"wrote {args.count} articles to {args.out}")


if __name__ == "__main__":
    main()
