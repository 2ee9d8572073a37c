"""The HTTP API and embedding routes of the served site, through the real app (no server)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

import app
from retrieval.links import with_links
from tests.helpers import check_contract, run
from web import gradio_ui
from web.feedback import FeedbackStore
from web.settings import EXAMPLES
from web.site import create_site

GYM = "https://www.irongym.example"


def make_site(assistant, tmp_path, **env):
    settings = app.Settings.from_env(
        {
            "HINGECOACH_ALLOWED_ORIGINS": GYM,
            "HINGECOACH_GYM_NAME": "Iron <Oak> Barbell",
            "HINGECOACH_ACCENT": "#c2410c",
            "HINGECOACH_RATE_LIMIT": "1000/minute",
            "HINGECOACH_ALLOWED_HOSTS": "coach.test",
            **env,
        }
    )
    settings.db = tmp_path / "questions.sqlite3"
    store = FeedbackStore(settings.db)
    return TestClient(create_site(assistant, settings, store), base_url="http://coach.test"), store


@pytest.fixture(scope="module")
def site(assistant, tmp_path_factory):
    return make_site(assistant, tmp_path_factory.mktemp("site"))


def test_ask_returns_exactly_the_cli_json(site, assistant, real_index_dir):
    client, store = site
    question = "why do I feel this in my quads?"
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200
    # The same object as the library's answer, its citations linked to their articles.
    assert response.json() == with_links(assistant.ask(question, k=3), assistant.index).to_json()
    _, out = run(["ask", question, "--json", "--index", str(real_index_dir)])
    assert response.json() == json.loads(out)
    check_contract(response.json())
    token = response.headers["x-answer-id"]
    logged = [q for q in store.questions() if q.token == token]
    assert logged and logged[0].answered and logged[0].channel == "api"


def test_follow_up_uses_history_and_abstains_off_topic(site):
    client, _ = site
    follow = client.post(
        "/api/ask", json={"question": "and my feet?", "history": ["how much should my knees bend"]}
    ).json()
    assert any("mid-foot" in c["passage"] for c in follow["citations"])
    off = client.post("/api/ask", json={"question": "What should I eat before a workout?"})
    assert off.status_code == 200 and off.json()["abstained"] is True


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"json": {}}, 422, "invalid request: question: Field required."),
        ({"json": {"question": "  "}}, 400, "the question is empty"),
        ({"json": {"question": "x" * 1001}}, 400, "the question is too long"),
        (
            {"json": {"question": "hi", "history": "hi"}},
            422,
            "history: Input should be a valid list",
        ),
        ({"json": {"question": "hi", "history": ["a"] * 11}}, 422, "history: List should have"),
        ({"json": {"question": "hi", "k": 9}}, 422, "k: Extra inputs are not permitted"),
        ({"json": {"question": 5}}, 422, "question: Input should be a valid string"),
        ({"json": ["hi"]}, 422, "invalid request"),
        ({"content": b"{oops", "headers": {"content-type": "application/json"}}, 422, "JSON"),
        ({"content": b"question=hi", "headers": {"content-type": "text/plain"}}, 422, "invalid"),
        ({"json": {"question": "x" * 40_000}}, 413, "larger than 32,768 bytes"),
    ],
)
def test_bad_requests_get_a_4xx_json_error(site, kwargs, status, message):
    client, _ = site
    response = client.post("/api/ask", **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"]


def test_unknown_api_routes_and_methods_are_json_errors(site):
    client, _ = site
    assert client.get("/api/ask").json() == {"error": "use POST for /api/ask."}
    assert client.get("/api/ask").status_code == 405
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and "see /docs" in missing.json()["error"]


def test_every_wrong_route_or_method_answers_in_the_api_shape(site):
    client, _ = site
    options = client.options("/api/ask")  # not a CORS preflight: no Access-Control-Request-*
    assert options.status_code == 405 and options.json() == {"error": "use POST for /api/ask."}
    for path in ("/api/health", "/", "/gradio_api/queue/join"):
        webdav = client.request("PROPFIND", path)
        assert webdav.status_code == 405
        assert webdav.json() == {"error": "this site does not answer PROPFIND requests."}
    doubled = client.get("http://coach.test//api/health")  # the path as sent: //api/health
    assert doubled.status_code == 404 and doubled.json() == {"error": "no page at //api/health."}
    head = client.head("/api/health")
    assert head.status_code == 200 and head.content == b""
    for path in ("/gradio_api/nothing", "/gradio_api/login_check", "/manifest.json"):
        response = client.get(path)
        assert response.status_code == 404 and set(response.json()) == {"error"}, path


def test_gradio_routes_the_chat_does_not_use_are_refused(site):
    client, _ = site
    recording = client.post(
        "/gradio_api/process_recording", files={"video": ("x.mp4", b"\0" * 900, "video/mp4")}
    )
    assert recording.status_code == 403
    assert recording.json() == {"error": "this chat takes no uploads."}
    for path in ("/monitoring", "/monitoring/summary", "/monitoring/anykey"):
        response = client.get(path)
        assert response.status_code == 404 and response.json() == {"error": f"no page at {path}."}
    upload = client.post("/gradio_api/upload", files={"files": ("x.html", b"<script>")})
    assert upload.status_code == 403 and upload.json() == {"error": "this chat takes no uploads."}


def test_a_host_name_not_served_is_refused_so_dns_rebinding_gets_nothing(assistant, tmp_path):
    """A page on evil:7902 whose name resolves to this server passes the same-origin test
    (its Origin matches its Host) unless the Host itself is checked."""
    client, _ = site_with_default_hosts(assistant, tmp_path)
    rebinding = {"Host": "evil:7902", "Origin": "http://evil:7902"}
    for method, path in (("GET", "/api/health"), ("POST", "/api/ask"), ("GET", "/config")):
        response = client.request(method, path, headers=rebinding, json={"question": "hinge"})
        assert response.status_code == 400, path
        assert response.json() == {"error": "this server does not answer for evil:7902."}
    for host in ("127.0.0.1:7860", "localhost:7860", "[::1]:7860", "LOCALHOST"):
        response = client.get("/api/health", headers={"Host": host})
        assert response.status_code == 200, host


def site_with_default_hosts(assistant, tmp_path):
    settings = app.Settings.from_env({})
    settings.db = tmp_path / "questions.sqlite3"
    site = create_site(assistant, settings, FeedbackStore(settings.db))
    return TestClient(site, base_url="http://127.0.0.1:7860"), settings


def test_health_and_openapi(site):
    client, _ = site
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["articles"] == 2 and health["passages"] > 2
    assert health["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert health["answers"] == "extractive" and health["llm_model"] is None
    schema = client.get("/openapi.json").json()
    ask = schema["paths"]["/api/ask"]["post"]
    assert set(schema["paths"]) == {"/api/ask", "/api/cue", "/api/feedback", "/api/health"}
    assert "429" in ask["responses"] and "200" in ask["responses"]
    docs = client.get("/docs").text
    assert "/docs-static/swagger-ui-bundle.js" in docs and "cdn." not in docs
    assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200


def test_origins_cors_and_frame_ancestors(site):
    client, _ = site
    ok = client.post("/api/ask", json={"question": "what is a hip hinge"}, headers={"Origin": GYM})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == GYM
    assert "X-Answer-Id" in ok.headers["access-control-expose-headers"]
    evil = client.post(
        "/api/ask", json={"question": "hi"}, headers={"Origin": "https://evil.example"}
    )
    assert evil.status_code == 403
    assert evil.json() == {"error": "the origin https://evil.example may not use this assistant."}
    assert [h for h in evil.headers if h.startswith("access-control-")] == []  # no CORS at all
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    refused = client.options("/api/ask", headers=preflight)
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    assert refused.json() == evil.json()  # the same one-line JSON error as the request itself
    allowed = client.options("/api/ask", headers={**preflight, "Origin": GYM})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == GYM
    same = client.post(
        "/api/ask",
        json={"question": "what is a hip hinge"},
        headers={"Origin": "http://coach.test"},
    )
    assert same.status_code == 200
    for path in ("/", "/embed", "/api/health"):
        policies = client.get(path).headers.get_list("content-security-policy")
        assert f"frame-ancestors 'self' {GYM}" in policies


def test_rate_limit_answers_429_json(assistant, tmp_path):
    client, _ = make_site(assistant, tmp_path, HINGECOACH_RATE_LIMIT="2/minute")
    codes = [client.post("/api/ask", json={"question": "what is a hip hinge"}).status_code]
    codes.append(client.post("/api/ask", json={"question": "and my knees?"}).status_code)
    refused = client.post("/api/ask", json={"question": "and my back?"}, headers={"Origin": GYM})
    assert codes == [200, 200] and refused.status_code == 429
    assert refused.json()["error"].startswith("too many questions from your address (limit 2")
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["access-control-allow-origin"] == GYM  # an allowed page can read it
    # The chat spends the same budget, one question per question (not per Gradio request),
    # and says so in the conversation rather than leaving the page waiting.
    respond = gradio_ui.make_responder(assistant, app.Settings(), limiter=client.app.state.limiter)
    visitor = SimpleNamespace(client=SimpleNamespace(host="testclient"))
    reply = list(respond("and my feet?", [], visitor))
    assert len(reply) == 1
    assert reply[0].startswith("<p>Sorry, too many questions from your address (limit 2 per")
    assert client.get("/api/health").status_code == 200  # reads are not counted


def test_feedback_rates_a_logged_answer(site):
    client, store = site
    token = client.post("/api/ask", json={"question": "how should my knees be"}).headers[
        "x-answer-id"
    ]
    rated = client.post("/api/feedback", json={"id": token, "rating": "down"})
    assert rated.status_code == 200 and rated.json() == {"id": token, "rating": "down"}
    assert [q.rating for q in store.questions() if q.token == token] == ["down"]
    unknown = client.post("/api/feedback", json={"id": "nope", "rating": "up"})
    assert unknown.status_code == 404 and "no answer has that id" in unknown.json()["error"]
    bad = client.post("/api/feedback", json={"id": token, "rating": "meh"})
    assert bad.status_code == 422


def test_embed_page_is_branded_escaped_and_locked_down(site):
    client, _ = site
    page = client.get("/embed?accent=%23123abc")
    assert page.status_code == 200
    assert "Iron &lt;Oak&gt; Barbell" in page.text and "Iron <Oak>" not in page.text
    config = json.loads(page.text.split('id="hc-config">')[1].split("</script>")[0])
    assert config["name"] == "Iron <Oak> Barbell" and config["accent"] == "#123abc"
    assert config["examples"] == EXAMPLES
    policies = " ".join(page.headers.get_list("content-security-policy"))
    assert "script-src 'self'" in policies and "default-src 'none'" in policies
    injected = client.get("/embed?accent=red;}body{display:none")
    assert '"accent": "#c2410c"' in injected.text  # not a colour: the site's own accent
    assert client.get("/embed.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/embed.css").headers["content-type"].startswith("text/css")


def test_widget_script_carries_the_branding(site):
    client, _ = site
    script = client.get("/widget.js")
    assert script.status_code == 200
    assert (
        '{"name": "Iron <Oak> Barbell", "accent": "#c2410c", "origins": ["' + GYM + '"], '
        '"ink": "#ffffff", "text": "#c2410c"}'
    ) in script.text  # the widget tells pages not on the list, instead of a blocked frame
    assert "/*CONFIG*/" not in script.text


def test_demo_page_points_its_snippet_at_this_server(site):
    client, _ = site
    page = client.get("/demo").text
    # No hard-coded colour: the widget takes the accent from this server's settings.
    assert '<script src="http://coach.test/widget.js" async></script>' in page
    assert "data-accent" not in page


def test_gradio_chat_and_its_component_script_are_served(site):
    client, _ = site
    assert client.get("/").status_code == 200
    assert client.get("/gradio.js").text.startswith('import("./assets/')
    private = client.get(f"/gradio_api/file={app.ROOT / 'pyproject.toml'}")
    assert private.status_code in (403, 404)


def test_report_after_a_session_groups_the_gaps(assistant, tmp_path):
    client, store = make_site(assistant, tmp_path)
    session = [
        ("What should I eat before a workout?", "198.51.100.1"),
        ("what should i eat before a workout", "198.51.100.2"),
        ("pre-workout meal ideas", "198.51.100.3"),
        ("Is creatine safe?", "198.51.100.1"),
        ("should I take creatine", "198.51.100.4"),
        ("why do I feel this in my quads?", "198.51.100.2"),
    ]
    for question, address in session:
        result = assistant.ask(question)
        assert result.abstained == ("quads" not in question)  # the gaps are real gaps
        store.log(result, "api", address)
    disliked = client.post("/api/ask", json={"question": "how much should my knees bend"})
    client.post("/api/feedback", json={"id": disliked.headers["x-answer-id"], "rating": "down"})
    code, out = run(["report", "--db", str(store.path)])
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "7 question(s) from 5 visitor(s): 2 answered, 5 unanswered (71%); "
        "thumbs up 0, thumbs down 1."
    )
    gaps = lines[lines.index("Coverage gaps (unanswered questions, grouped by similarity):") + 1 :]
    assert gaps[0] == "     3×  What should I eat before a workout?  [3 visitor(s)]"
    assert gaps[1] == "         also: pre-workout meal ideas"
    assert "     2×  Is creatine safe?  [2 visitor(s)]" in gaps
    assert "     1×  how much should my knees bend" in lines
    as_json = json.loads(run(["report", "--db", str(store.path), "--json"])[1])
    assert [g["count"] for g in as_json["gaps"]] == [3, 2]


def test_report_without_a_log_is_one_clear_line(tmp_path):
    from tests.helpers import cli

    result = cli("report", "--db", str(tmp_path / "none.sqlite3"))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"hingecoach: error: no question log at {tmp_path / 'none.sqlite3'}; "
        "it is written while `hingecoach serve` runs."
    )


def test_cue_endpoint_returns_the_cue_check_json(site):
    from tests.conftest import source_text

    api_client, _ = site
    response = api_client.post("/api/cue", json={"cue": "soft knees"})
    assert response.status_code == 200
    body = response.json()
    assert body["cue"] == "soft knees" and body["verdict"] == "found"
    for match in body["matches"]:
        assert source_text(match["source"])[match["start"] : match["end"]] == match["quote"]
    assert api_client.post("/api/cue", json={"cue": "  "}).status_code == 400
    assert api_client.get("/api/cue").status_code == 405


def test_a_corpus_outside_the_repo_is_named_relative_to_its_folder(fake_embedder, tmp_path):
    """No absolute server path in answers, the cue catalogue or /config."""
    import shutil

    from ingest.build import build_index
    from retrieval.assistant import Assistant
    from retrieval.cues.render import catalogue_rows
    from tests.conftest import CORPUS, ROOT

    corpus = tmp_path / "gym-articles"
    shutil.copytree(CORPUS, corpus / "hinge")
    build_index(corpus, tmp_path / "index", fake_embedder, ROOT, progress=False)
    assistant = Assistant(tmp_path / "index", fake_embedder)
    sources = {d.source for d in assistant.index.documents}
    assert sources == {"hinge/5-tips-for-your-hip-hinge.txt", "hinge/mastering-the-hip-hinge.txt"}
    answer = assistant.ask("how much should my knees bend").to_json()
    assert answer["citations"] and all(c["source"] in sources for c in answer["citations"])
    assert all(row[4].startswith("hinge/") for row in catalogue_rows(assistant.cues()))
    client, _ = site_with_default_hosts(assistant, tmp_path)
    assert str(tmp_path) not in client.get("/config").text
    assert str(tmp_path) not in client.post("/api/ask", json={"question": "knees?"}).text


def test_a_follow_up_sent_with_the_answer_befores_citations_quotes_something_new(site):
    client, _ = site
    question = "why do I feel this in my quads?"
    first = client.post("/api/ask", json={"question": question}).json()
    body = {"question": "how do I fix that?", "history": [question], "cited": first["citations"]}
    follow = client.post("/api/ask", json=body)
    assert follow.status_code == 200, follow.text
    before = {(c["source"], c["start"], c["end"]) for c in first["citations"]}
    after = {(c["source"], c["start"], c["end"]) for c in follow.json()["citations"]}
    assert after and not before & after
    bad = client.post("/api/ask", json={**body, "cited": [{"source": "x", "start": -1}]})
    assert bad.status_code == 422 and "error" in bad.json()
