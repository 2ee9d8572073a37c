"""Two replicas behind nginx, with the real servers (bench/replicas.py): PostgreSQL holds the
shared question log, Redis the shared rate limits. One visitor's budget is shared; an answer
from one replica is rated on the other; the chat survives the death of the replica it is not
stuck to; a replica killed under load costs no visitor a 5xx; PostgreSQL stopped under load
costs no answer, and every row it cannot keep is counted."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx
import psycopg
import pytest

from bench.load import Tally, drive
from bench.replicas import ReplicaSet
from tests.browser import ARTIFACTS, browser_page, require_chromium
from tests.conftest import require_server
from tests.helpers import run

pytestmark = pytest.mark.slow  # real PostgreSQL, Redis, nginx, replicas and a browser

# (question, follow-up): the test takes the first pair whose follow-up is answered
# differently alone and after its question, so the reply shows whether the context was used.
FOLLOW_UPS = [
    ("Why do I feel this in my quads?", "how do I fix that?"),
    ("how do I stop my ribs flaring", "and my head?"),
    ("how much should my knees bend", "and my feet?"),
]


@pytest.fixture(scope="module")
def cluster(real_index_dir):
    for program, package in (
        ("postgres", "postgresql"),
        ("redis-server", "redis-server"),
        ("nginx", "nginx-light"),
    ):
        require_server(program, package)
    env = {
        "HINGECOACH_RATE_LIMIT": "6/minute",  # per visitor, across both replicas
        "HINGECOACH_FEEDBACK_RATE_LIMIT": "10000/minute",
        "HINGECOACH_LOG_QUEUE": "40",  # small: a 10 s outage under load overflows it
        # nginx is 127.0.0.1; the network form proves the setting is what is trusted
        # (the default trusts 127.0.0.1 only).
        "HINGECOACH_TRUSTED_PROXIES": "127.0.0.0/30",
    }
    with ReplicaSet(real_index_dir, replicas=2, env=env) as running:
        yield running


def ask(url: str, question: str, address: str, **kw) -> httpx.Response:
    return httpx.post(
        f"{url}/api/ask",
        json={"question": question, **kw},
        headers={"X-Forwarded-For": address},
        timeout=30,
    )


def rows(cluster: ReplicaSet, tokens: list[str]) -> set[str]:
    """Which of these answer ids the shared log holds."""
    with psycopg.connect(cluster.postgres.url) as db:
        found = db.execute("SELECT token FROM questions WHERE token = ANY(%s)", (tokens,))
        return {row[0] for row in found.fetchall()}


def lost(cluster: ReplicaSet) -> int:
    """Rows the replicas counted lost, added up (from their /api/health)."""
    return sum(httpx.get(f"{r.url}/api/health").json()["log"]["lost"] for r in cluster.replicas)


def settle(cluster: ReplicaSet, seconds: float = 30) -> None:
    """Wait until every replica's log writes and has nothing queued."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        logs = [httpx.get(f"{r.url}/api/health").json()["log"] for r in cluster.replicas]
        if all(log["status"] == "ok" and log["queued"] == 0 for log in logs):
            return
        time.sleep(0.3)
    raise AssertionError(f"the replicas' logs did not settle: {logs}")


def test_one_visitors_budget_is_shared_by_the_replicas(cluster):
    one, two = (r.url for r in cluster.replicas)
    statuses = [
        ask(url, "what is a hip hinge", "198.51.100.77").status_code for url in [one, two] * 4
    ]
    assert statuses == [200] * 6 + [429] * 2  # per replica in memory: eight 200s
    # The visitor is who a trusted proxy says: from 127.0.0.2 (trusted through the setting's
    # network, not by default) the same visitor is over budget; from 127.0.0.5 (not trusted)
    # the header is ignored, and the budget is 127.0.0.5's own.
    assert from_address("127.0.0.2", one, "198.51.100.77") == 429
    assert from_address("127.0.0.5", one, "198.51.100.77") == 200


def from_address(source: str, url: str, forwarded_for: str) -> int:
    """A question sent from another loopback address, naming a visitor in X-Forwarded-For."""
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source)) as client:
        return client.post(
            f"{url}/api/ask",
            json={"question": "what is a hip hinge"},
            headers={"X-Forwarded-For": forwarded_for},
        ).status_code


def test_an_answer_from_one_replica_is_rated_on_the_other_and_counted(cluster):
    one, two = (r.url for r in cluster.replicas)
    token = ask(one, "how do I stop my ribs flaring", "198.51.100.78").headers["x-answer-id"]
    rated = httpx.post(
        f"{two}/api/feedback",
        json={"id": token, "rating": "down"},
        headers={"X-Forwarded-For": "198.51.100.78"},
    )
    assert rated.status_code == 200, rated.text
    with psycopg.connect(cluster.postgres.url) as db:
        found = db.execute(
            "SELECT f.rating FROM feedback f JOIN questions q ON q.id = f.question_id"
            " WHERE q.token = %s",
            (token,),
        ).fetchall()
    assert found == [("down",)]


def test_report_shows_both_replicas_questions(cluster):
    for n, replica in enumerate(cluster.replicas, start=1):
        question = f"Is creatine safe for replica {n}?"
        assert ask(replica.url, question, f"198.51.100.{80 + n}").json()["abstained"]
    code, out = run(["report", "--db", cluster.postgres.url])
    assert code == 0
    assert "Is creatine safe for replica 1?" in out and "Is creatine safe for replica 2?" in out


def stuck_to(cluster: ReplicaSet, since: int) -> set[str]:
    """The upstreams nginx sent the chat's queue to, in access-log lines from `since`."""
    lines = cluster.nginx.access_log()[since:]
    return {line.split()[4] for line in lines if "/gradio_api/queue/join" in line}


def in_context(assistant) -> tuple[str, str, str]:
    """A question, a follow-up, and the start of the follow-up's answer in context (which
    differs from its answer alone)."""
    for first, follow_up in FOLLOW_UPS:
        alone = assistant.ask(follow_up).answer.split("\n")[0][:60]
        with_context = assistant.ask(follow_up, [first]).answer.split("\n")[0][:60]
        if alone != with_context:
            return first, follow_up, with_context
    raise AssertionError("no follow-up whose answer depends on its question")


def test_the_chat_keeps_its_conversation_when_the_other_replica_dies(cluster, assistant):
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    first, follow_up, expected = in_context(assistant)
    since = len(cluster.nginx.access_log())
    with browser_page() as page:
        page.goto(cluster.url, wait_until="load")
        box = page.get_by_role("textbox").first
        box.wait_for(timeout=60_000)
        box.fill(first)
        box.press("Enter")
        page.get_by_text("Sources").first.wait_for(timeout=60_000)
        upstreams = stuck_to(cluster, since)
        assert len(upstreams) == 1, upstreams
        mine = upstreams.pop()
        other = next(r for r in cluster.replicas if not mine.endswith(f":{r.port}"))
        other.kill(signal.SIGKILL)
        box.fill(follow_up)
        box.press("Enter")
        page.get_by_text("Sources").nth(1).wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "chat-through-nginx.png"), full_page=True)
        replies = page.locator("#hc-chat .bot-row, #hc-chat .message.bot").all_inner_texts()
        body = page.inner_text("body")
        cookies = {c["name"] for c in page.context.cookies()}
    assert stuck_to(cluster, since) == {mine}  # the follow-up went where the chat lives
    assert "hc_route" in cookies
    follow_up_reply = body.split(follow_up)[-1]
    assert expected in follow_up_reply, (expected, replies[-1:] or body[-600:])
    cluster.restart(other)


def load_while(cluster: ReplicaSet, seconds: float, at: float, action) -> Tally:
    """API load through nginx for `seconds` (every question from a new visitor), running
    `action()` in a thread `at` seconds in; returns what the clients saw."""
    timer = threading.Timer(at, action)
    timer.start()
    try:
        api, _ = asyncio.run(
            drive(
                cluster.url,
                clients=6,
                seconds=seconds,
                chat=False,
                rate=False,
                fresh_addresses=True,
            )
        )
    finally:
        timer.join()
    return api


def test_postgresql_stopped_under_load_costs_no_answer_and_every_lost_row_is_counted(cluster):
    settle(cluster)
    lost_before = lost(cluster)
    marks: dict[str, float] = {}

    def outage() -> None:
        marks["down"] = time.monotonic()
        cluster.postgres.stop()
        time.sleep(10)
        cluster.postgres.start()
        marks["up"] = time.monotonic()

    api = load_while(cluster, seconds=17, at=2, action=outage)
    settle(cluster)
    assert api.errors_5xx == 0 and set(api.statuses) <= {200, 400}, api.statuses
    during = [s for t, s in api.done if marks["down"] + 1 < t < marks["up"] - 1]
    assert during.count(200) > 50  # answers kept flowing while the log was away
    # Every answer that came with an id has its row; the rest were counted lost, one by one.
    assert rows(cluster, api.tokens) == set(api.tokens)
    assert api.unlogged == lost(cluster) - lost_before > 0
    after = [s for t, s in api.done if t > marks["up"] + 3]
    assert after.count(200) > 10  # and writing resumed: those rows are in (checked above)


def test_a_replica_killed_under_load_costs_no_visitor_a_5xx_and_no_answered_row(cluster):
    settle(cluster)
    since = len(cluster.nginx.access_log())
    victim = cluster.replicas[1]
    api = load_while(cluster, seconds=8, at=2.5, action=lambda: victim.kill(signal.SIGKILL))
    assert victim.process is not None and victim.process.proc.returncode == -signal.SIGKILL
    assert api.errors_5xx == 0 and set(api.statuses) <= {200, 400}, api.statuses
    assert api.statuses[200] > 50 and api.unlogged == 0
    assert rows(cluster, api.tokens) == set(api.tokens)  # every answer a visitor got
    retried = [line for line in cluster.nginx.access_log()[since:] if ", " in line.split('"')[1]]
    assert retried, "nginx passed no request on: the replica died outside the load"


def test_make_replicas_starts_the_set_and_ctrl_c_stops_every_process(real_index_dir):
    # `make replicas` runs bench/replicas.py; one replica keeps this short.
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.Popen(
        [sys.executable, "bench/replicas.py", "--replicas", "1", "--index", str(real_index_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = [proc.stdout.readline() for _ in range(6)]
        assert printed[-1].strip() == "Ctrl-C stops everything.", printed
        front = printed[0].split()[-1]
        assert httpx.get(f"{front}/api/health").json()["rate_limits"]["storage"] == "redis"
        children = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(children) >= 4  # postgres, redis, the replica, nginx
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "stopped nginx, the replicas, Redis and PostgreSQL." in out
    for pid in children:
        assert not os.path.exists(f"/proc/{pid}"), f"process {pid} outlived the set"
