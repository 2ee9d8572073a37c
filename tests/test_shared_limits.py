"""Rate limits counted in Redis (shared by replicas), with a real Redis that goes away:
fail-open lets visitors through (logged and counted), fail-closed refuses them with a 503."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import app
from retrieval.errors import HingeCoachError
from tests.conftest import require_server
from web.feedback import FeedbackStore
from web.rates import PAUSE, storage_problem
from web.site import create_site


@pytest.fixture
def redis():
    from bench.replicas import Redis, service_user

    require_server("redis-server", "redis-server")
    work = Path(tempfile.mkdtemp(prefix="hingecoach-redis-"))
    work.chmod(0o755)
    server = Redis(work / "redis", service_user())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def replica(assistant, tmp_path, redis, fail: str) -> TestClient:
    """One replica of the site, in-process, counting its limits in `redis`."""
    settings = app.Settings.from_env(
        {
            "HINGECOACH_RATE_LIMIT": "3/minute",
            "HINGECOACH_RATE_LIMIT_STORAGE": redis.url,
            "HINGECOACH_RATE_LIMIT_FAIL": fail,
        }
    )
    settings.db = tmp_path / f"{fail}.sqlite3"
    site = create_site(assistant, settings, FeedbackStore(settings.db))
    return TestClient(site, base_url="http://127.0.0.1", raise_server_exceptions=False)


def ask(client: TestClient) -> int:
    return client.post("/api/ask", json={"question": "what is a hip hinge"}).status_code


@pytest.mark.slow
def test_two_replicas_share_one_budget_and_fail_open_when_redis_goes_away(
    assistant, tmp_path, redis, caplog
):
    one, other = (
        replica(assistant, tmp_path, redis, "open"),
        replica(assistant, tmp_path, redis, "open"),
    )
    assert [ask(one), ask(other), ask(one), ask(other)] == [200, 200, 200, 429]
    redis.stop()
    caplog.clear()
    assert [ask(one) for _ in range(3)] == [200, 200, 200]  # let through, not a 500
    health = one.get("/api/health").json()["rate_limits"]
    assert health == {"storage": "redis", "status": "unavailable", "unchecked": 3, "refused": 0}
    lines = [r.getMessage() for r in caplog.records if r.name == "web.rates"]
    assert len(lines) == 1 and "cannot reach Redis redis://127.0.0.1" in lines[0]
    assert "letting requests through unchecked until it answers (rate_limit_fail=open)" in lines[0]
    assert not any(r.exc_info for r in caplog.records)
    redis.start()  # empty: it keeps nothing on disk
    time.sleep(PAUSE)
    assert [ask(one) for _ in range(4)] == [200, 200, 200, 429]  # counted again
    assert one.get("/api/health").json()["rate_limits"]["status"] == "ok"


@pytest.mark.slow
def test_fail_closed_refuses_with_503_until_redis_is_back(assistant, tmp_path, redis, caplog):
    client = replica(assistant, tmp_path, redis, "closed")
    assert ask(client) == 200
    redis.stop()
    refused = client.post("/api/ask", json={"question": "what is a hip hinge"})
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
    assert refused.json() == {
        "error": "the server cannot check its rate limits right now; try again in 5 second(s)."
    }
    assert client.get("/api/health").status_code == 200  # not rate-limited: still answers
    assert client.get("/api/health").json()["rate_limits"]["refused"] == 1
    assert any("refusing them" in r.getMessage() for r in caplog.records if r.name == "web.rates")
    redis.start()
    time.sleep(PAUSE)
    assert ask(client) == 200


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RATE_LIMIT_STORAGE", "memcached://127.0.0.1:11211", "is not memory:// or redis://"),
        ("RATE_LIMIT_STORAGE", "redis://", "names no Redis host"),
        ("RATE_LIMIT_STORAGE", "redis://:s3cret@h:6379/0x", "'redis://:***@h:6379/0x'"),
        ("RATE_LIMIT_FAIL", "maybe", "rate_limit_fail must be open or closed"),
        ("TRUSTED_PROXIES", "127.0.0.1, gateway", "'gateway' is not an address or a network"),
        ("TRUSTED_PROXIES", "10.0.0.0/33", "'10.0.0.0/33' is not an address"),
        ("LOG_QUEUE", "0", "log_queue must be at least 1"),
    ],
)
def test_scale_settings_are_checked_at_start(variable, value, message):
    with pytest.raises(HingeCoachError) as caught:
        app.Settings.from_env({f"HINGECOACH_{variable}": value})
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_trusted_proxies_take_addresses_and_networks():
    settings = app.Settings.from_env({"HINGECOACH_TRUSTED_PROXIES": "10.1.2.3, 10.0.0.7/8 ::1"})
    assert settings.trusted_proxies == ["10.1.2.3", "10.0.0.0/8", "::1"]
    assert app.Settings.from_env({}).trusted_proxies == ["127.0.0.1"]
    assert app.Settings.from_env({}).rate_limit_storage == "memory://"


def test_redis_unreachable_at_start_is_said_at_start():
    from tests.browser import free_port

    gone = f"redis://:pw@127.0.0.1:{free_port()}/0"
    for fail, choice in (("open", "let through unchecked"), ("closed", "refused (503)")):
        problem = storage_problem(gone, fail)
        assert problem is not None and problem.startswith("cannot reach the rate-limit storage")
        assert f"requests are {choice} until it answers" in problem and ":***@" in problem
    assert storage_problem("memory://", "open") is None
