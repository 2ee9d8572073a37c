"""Site settings (file, env) and the Gradio chat's question log and thumbs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import app
from retrieval.errors import HingeCoachError
from retrieval.records import Contact
from web import gradio_ui
from web.feedback import FeedbackStore


def test_site_settings_come_from_a_file_then_the_environment(tmp_path):
    path = tmp_path / "gym.toml"
    path.write_text(
        'gym_name = "Iron Oak"\naccent = "#c2410c"\nwelcome = "Hi!"\n'
        'examples = ["What is a hinge?"]\nallowed_origins = ["https://Iron-Oak.example/"]\n'
        'rate_limit = "5/minute"\nmax_body_bytes = 4096\ndb = "/tmp/x.sqlite3"\n'
    )
    settings = app.Settings.from_env(
        {"HINGECOACH_SETTINGS": str(path), "HINGECOACH_ACCENT": "#123456"}
    )
    assert settings.gym_name == "Iron Oak" and settings.accent == "#123456"  # env wins
    assert settings.examples == ["What is a hinge?"] and settings.welcome == "Hi!"
    assert settings.allowed_origins == ["https://iron-oak.example"]
    assert settings.rate_limit == "5/minute" and settings.max_body_bytes == 4096
    assert str(settings.db) == "/tmp/x.sqlite3"
    env = app.Settings.from_env(
        {
            "HINGECOACH_EXAMPLES": "a? | b?",
            "HINGECOACH_ALLOWED_ORIGINS": "https://a.example, http://b.example:8080",
        }
    )
    assert env.examples == ["a?", "b?"]
    assert env.allowed_origins == ["https://a.example", "http://b.example:8080"]
    assert app.Settings.from_env({}).allowed_origins == []  # same-origin only by default


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HINGECOACH_ACCENT": "red"}, "accent must be a colour like #2f6f4f"),
        ({"HINGECOACH_ALLOWED_ORIGINS": "iron-oak.example"}, "is not an origin"),
        ({"HINGECOACH_RATE_LIMIT": "lots"}, "rate limit 'lots' is not valid"),
        ({"HINGECOACH_MAX_BODY_BYTES": "big"}, "must be a whole number"),
        ({"HINGECOACH_SETTINGS": "/nonexistent/gym.toml"}, "cannot read the settings file"),
    ],
)
def test_bad_site_settings_are_one_clear_error(env, message):
    with pytest.raises(HingeCoachError, match=message):
        app.Settings.from_env(env)


def test_settings_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("gym_name = \n")
    with pytest.raises(HingeCoachError, match="not valid TOML"):
        app.Settings.from_env({"HINGECOACH_SETTINGS": str(bad)})
    bad.write_text('colour = "#fff"\n')
    with pytest.raises(HingeCoachError, match="unknown setting"):
        app.Settings.from_env({"HINGECOACH_SETTINGS": str(bad)})
    bad.write_text("examples = 3\n")
    with pytest.raises(HingeCoachError, match="examples must be a list"):
        app.Settings.from_env({"HINGECOACH_SETTINGS": str(bad)})


def test_serve_refuses_bad_settings_in_one_line(tmp_path):
    from tests.helpers import cli

    result = cli("serve", "--port", "1", env={"PATH": "/usr/bin:/bin", "HINGECOACH_ACCENT": "x"})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "hingecoach: error: accent must be a colour like #2f6f4f, not 'x'."
    )


def visitor(host):
    return SimpleNamespace(client=SimpleNamespace(host=host))


def test_chat_logs_questions_and_the_thumbs_rate_the_answer_they_are_on(assistant, tmp_path):
    store = FeedbackStore(tmp_path / "log.sqlite3")
    respond = gradio_ui.make_responder(assistant, app.Settings(), store)
    question = "how much should my knees bend"
    first = list(respond(question, [], visitor("192.0.2.1")))[-1]
    again = list(respond(question, [], visitor("192.0.2.1")))[-1]  # the same words, later
    list(respond("What should I eat before a workout?", [], visitor("192.0.2.1")))
    logged = store.questions()
    assert [(q.question, q.answered, q.channel) for q in logged] == [
        (question, True, "chat"),
        (question, True, "chat"),
        ("What should I eat before a workout?", False, "chat"),
    ]
    # The reply carries the token the log gave its answer, so the thumbs need no lookup.
    assert first["metadata"] == {"id": logged[0].token}
    assert again["metadata"] == {"id": logged[1].token}
    history = [{"role": "user", "content": question}, first, {"role": "user", "content": question}]
    history.append(again)
    rate = gradio_ui.make_rater(store)
    rate(SimpleNamespace(index=1, liked=False), history)  # a thumb on the first answer
    assert [q.rating for q in store.questions()] == ["down", None, None]
    rate(SimpleNamespace(index=3, liked=True), history)
    assert [q.rating for q in store.questions()] == ["down", "up", None]
    # Events the page never sends change nothing and raise nothing.
    for index in (None, 0, 2, 4, -1, 10**9, [None], ["1"], True, "1"):
        rate(SimpleNamespace(index=index, liked=True), history)
    rate(SimpleNamespace(index=1, liked="yes"), history)
    rate(SimpleNamespace(index=1, liked=True), "not a history")
    assert [q.rating for q in store.questions()] == ["down", "up", None]


def test_a_catalogue_click_names_a_row_or_nothing():
    rows = [["knees", "soft knees", "endorsed", "T", "x:1-2"]]
    assert gradio_ui.picked_cue(rows, SimpleNamespace(index=[0, 1])) == "soft knees"
    assert gradio_ui.picked_cue(rows, SimpleNamespace(index=0)) == "soft knees"
    for index in (None, [], [1, 0], [-1, 0], ["0"], [None], True, 10**9):
        assert gradio_ui.picked_cue(rows, SimpleNamespace(index=index)) == ""


def test_create_app_wires_thumbs_when_logging(assistant, tmp_path):
    demo = gradio_ui.create_ui(assistant, app.Settings(), FeedbackStore(tmp_path / "log.sqlite3"))
    assert any(d.targets and d.targets[0][1] == "like" for d in demo.fns.values())


def test_the_example_settings_file_is_valid():
    settings = app.Settings.from_env({"HINGECOACH_SETTINGS": str(app.ROOT / "gym.example.toml")})
    assert settings.gym_name == "Iron Oak Barbell Club" and settings.accent == "#c2410c"
    assert len(settings.allowed_origins) == 2 and len(settings.examples) == 3
    assert settings.allowed_hosts == ["coach.ironoak.example"]
    assert settings.coach_tools is False
    assert settings.contact == Contact(
        "the front desk, 12 Mill Lane", url="https://ironoak.example/book"
    )


def test_contact_and_coach_tools_come_from_the_file_or_the_environment(tmp_path):
    path = tmp_path / "gym.toml"
    path.write_text(
        'coach_tools = true\n[contact]\ntext = "the front desk, 12 Mill Lane"\n'
        'link = "https://ironoak.example/book"\n'
    )
    settings = app.Settings.from_env({"HINGECOACH_SETTINGS": str(path)})
    assert settings.coach_tools is True
    assert settings.contact == Contact(
        "the front desk, 12 Mill Lane", url="https://ironoak.example/book"
    )
    env = app.Settings.from_env(
        {"HINGECOACH_CONTACT": "Call us | +1 (555) 010-0100", "HINGECOACH_COACH_TOOLS": "no"}
    )
    assert env.contact == Contact("Call us", phone="+1 (555) 010-0100")
    assert env.coach_tools is False
    assert app.Settings.from_env({"HINGECOACH_CONTACT": "Ask at the desk"}).contact == Contact(
        "Ask at the desk"
    )
    defaults = app.Settings.from_env({})
    assert defaults.contact is None and defaults.coach_tools is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HINGECOACH_CONTACT": "desk | javascript:alert(1)"}, r"an http\(s\) address or a phone"),
        ({"HINGECOACH_CONTACT": " | https://ironoak.example"}, "needs a text"),
        ({"HINGECOACH_COACH_TOOLS": "sometimes"}, "must be true or false"),
    ],
)
def test_bad_contact_or_coach_tools_are_one_clear_error(env, message):
    with pytest.raises(HingeCoachError, match=message):
        app.Settings.from_env(env)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "HINGECOACH_PORT",
            "99999",
            "HINGECOACH_PORT (--port) must be a whole number from 1 to 65535, not 99999.",
        ),
        ("HINGECOACH_PORT", "http", "HINGECOACH_PORT must be a whole number, not 'http'."),
        (
            "HINGECOACH_CLIENT_TIMEOUT",
            "nan",
            "HINGECOACH_CLIENT_TIMEOUT must be a number of seconds from 0.5 to 3600, not nan.",
        ),
        (
            "HINGECOACH_CLIENT_TIMEOUT",
            "-1",
            "HINGECOACH_CLIENT_TIMEOUT must be a number of seconds from 0.5 to 3600, not -1.0.",
        ),
        (
            "HINGECOACH_CLIENT_TIMEOUT",
            "inf",
            "HINGECOACH_CLIENT_TIMEOUT must be a number of seconds from 0.5 to 3600, not inf.",
        ),
        ("HINGECOACH_K", "0", "HINGECOACH_K (--k) must be a whole number from 1 to 10, not 0."),
        (
            "HINGECOACH_THREADS",
            "0",
            "HINGECOACH_THREADS must be a whole number from 1 to 64, not 0.",
        ),
        (
            "HINGECOACH_LLM_TIMEOUT",
            "nan",
            "HINGECOACH_LLM_TIMEOUT (--llm-timeout) must be a number of seconds from 0.1 to "
            "3600, not nan.",
        ),
        (
            "HINGECOACH_LLM_CONTEXT",
            "12.5",
            "HINGECOACH_LLM_CONTEXT must be a whole number, not '12.5'.",
        ),
        (
            "HINGECOACH_REBUILD_BAD_INDEX",
            "maybe",
            "HINGECOACH_REBUILD_BAD_INDEX must be 1 or 0 (true/false), not 'maybe'.",
        ),
        ("HINGECOACH_HOST", " ", "HINGECOACH_HOST must be an address or a name, not ''."),
        (
            "HINGECOACH_MAX_BODY_BYTES",
            "99999999",
            "max_body_bytes must be from 1024 to 1048576, not 99999999.",
        ),
        (
            "HINGECOACH_MAX_CLIENT_CONNECTIONS",
            "500",
            "max_client_connections must be from 1 to 199, not 500.",
        ),
        (
            "HINGECOACH_ALLOWED_HOSTS",
            "https://coach.example",
            "allowed_hosts: 'https://coach.example' is not a host name",
        ),
    ],
)
def test_every_setting_is_checked_at_start_in_one_line_naming_it(
    variable, value, message, monkeypatch, capsys
):
    monkeypatch.setenv(variable, value)
    monkeypatch.setattr("app.open_assistant", lambda *a, **k: pytest.fail("went on to load"))
    with pytest.raises(SystemExit) as exit_info:
        app.main(["serve", "--db", "/nonexistent/never-written.sqlite3"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert err.startswith(f"hingecoach: error: {message}") and err.count("\n") == 1, err


def test_a_port_in_use_is_one_line_and_serving_is_never_announced(tmp_path):
    import socket

    from tests.helpers import cli

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port), "--db", str(tmp_path / "log.sqlite3"))
    assert result.returncode == 1
    assert result.stderr == (
        f"hingecoach: error: cannot listen on 127.0.0.1:{port}: address already in use; "
        "choose another with --port or HINGECOACH_PORT (--host or HINGECOACH_HOST for the "
        "address).\n"
    )


def test_allowed_hosts_default_to_loopback_names_and_the_listening_address():
    from web.settings import hosts_answered

    assert hosts_answered([], "127.0.0.1") == ["127.0.0.1", "localhost", "::1"]
    assert hosts_answered([], "0.0.0.0") == ["127.0.0.1", "localhost", "::1"]
    assert hosts_answered([], "192.0.2.7") == ["127.0.0.1", "localhost", "::1", "192.0.2.7"]
    env = {"HINGECOACH_ALLOWED_HOSTS": "Coach.Example-Gym.com., [::1]"}
    settings = app.Settings.from_env(env)
    assert settings.allowed_hosts == ["coach.example-gym.com", "::1"]
    assert hosts_answered(settings.allowed_hosts, "0.0.0.0") == settings.allowed_hosts
