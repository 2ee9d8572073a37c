"""A scripted day of visitor questions against a running server, for `hingecoach report`.

    hingecoach serve --db /tmp/session.sqlite3 &
    python bench/gym_session.py http://127.0.0.1:7860
    hingecoach report --db /tmp/session.sqlite3

Each visitor comes through X-Forwarded-For, which the server trusts from this machine only
(as from a local reverse proxy), so the visitors count separately. Loopback only; bounded.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

# (visitor, question, thumbs) — thumbs "down" or "up" rates the answer, None leaves it.
SESSION: list[tuple[int, str, str | None]] = [
    (1, "What is a hip hinge?", "up"),
    (1, "How much should my knees bend?", None),
    (1, "What should I eat before a workout?", None),
    (2, "what should I eat before a workout", None),
    (2, "pre-workout meal ideas", None),
    (2, "Why do I feel this in my quads?", "up"),
    (3, "Is creatine safe?", None),
    (3, "should I take creatine", None),
    (3, "How do I stop my ribs flaring when I hinge?", "down"),
    (4, "how many sets and reps should I do for RDLs?", None),
    (4, "How many sets should I do?", None),
    (4, "Is a hip hinge the same as a squat?", None),
    (5, "what shoes should I wear to deadlift", None),
    (5, "best shoes for deadlifting?", "down"),
    (5, "Can I train if my back hurts?", None),
]


def post(base: str, path: str, body: dict[str, object], visitor: int) -> tuple[int, dict, str]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": f"203.0.113.{visitor}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response), response.headers.get("X-Answer-Id", "")
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc), ""


def main(base: str) -> None:
    base = base.rstrip("/")
    for visitor, question, thumbs in SESSION:
        status, answer, answer_id = post(base, "/api/ask", {"question": question}, visitor)
        outcome = "abstained" if answer.get("abstained") else f"{len(answer['citations'])} cited"
        if status != 200:
            outcome = f"HTTP {status}: {answer.get('error')}"
        if thumbs and answer_id:
            post(base, "/api/feedback", {"id": answer_id, "rating": thumbs}, visitor)
            outcome += f", thumbs {thumbs}"
        print(f"visitor {visitor}: {question!r} -> {outcome}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860")
