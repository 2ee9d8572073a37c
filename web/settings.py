"""The site's settings: SiteSettings, read from a gym's settings file and HINGECOACH_*
variables.

Each value is checked as it is read, so a setting that cannot work stops the program with
one clear sentence instead of failing later inside a request.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import HingeCoachError
from retrieval.links import web_address
from retrieval.records import Contact

# What a gym may set in its settings file (TOML) or as HINGECOACH_<KEY> variables.
SITE_KEYS: dict[str, type] = {
    "gym_name": str,
    "accent": str,
    "welcome": str,
    "examples": list,
    "allowed_origins": list,
    "allowed_hosts": list,
    "rate_limit": str,
    "feedback_rate_limit": str,
    "max_body_bytes": int,
    "max_client_connections": int,
    "db": str,  # a SQLite file or a postgresql:// URL (see web/logdb.py: log_location)
    "contact": Contact,
    "coach_tools": bool,
    "log_queue": int,
    "rate_limit_storage": str,
    "rate_limit_fail": str,
    "trusted_proxies": list,
}
# Host names this server answers to when allowed_hosts is empty: its loopback names. A page
# on any other name (a DNS-rebinding attack points one at 127.0.0.1) is refused.
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1"]
MAX_CONNECTIONS = 200  # open connections the whole server keeps (see web/site.py)
EXAMPLES = [
    "Why do I feel this in my quads?",
    "Is a hip hinge the same as a squat?",
    "How much should my knees bend?",
    "How do I stop my ribs flaring when I hinge?",
]
WELCOME = (
    "Hi! I answer questions about the hip hinge by quoting our coaching articles, "
    "and I say so when they don't cover something. What would you like to know?"
)


@dataclass
class SiteSettings:
    """What the served site needs: address, branding, who may embed it, abuse limits, log."""

    k: int = 3
    host: str = "127.0.0.1"
    port: int = 7860
    examples: list[str] = field(default_factory=lambda: list(EXAMPLES))
    gym_name: str = "Hinge Coach"
    accent: str = "#2f6f4f"
    welcome: str = WELCOME
    allowed_origins: list[str] = field(default_factory=list)  # empty: same-origin only
    # Host names the site answers to (the Host header); empty: loopback names and `host`.
    allowed_hosts: list[str] = field(default_factory=list)
    rate_limit: str = "20/minute;300/day"  # questions per client address
    feedback_rate_limit: str = "60/minute"  # thumbs per client address
    max_body_bytes: int = 32 * 1024  # JSON API requests: a question and a short history
    max_chat_body_bytes: int = 1024 * 1024  # the Gradio chat posts the whole conversation
    # Open connections one client address may hold (an IPv6 client: its /64), well under
    # MAX_CONNECTIONS, so one visitor reconnecting hundreds of sockets cannot shut out others.
    max_client_connections: int = 32
    db: Path | str = Path("data") / "questions.sqlite3"  # question log: a file or a URL
    log_queue: int = 10_000  # question rows that may wait in memory while the log is away
    # Where the rate limits count: memory:// (this process) or redis://host:port/n (shared
    # by replicas); when Redis is away, "open" lets requests through, "closed" refuses them.
    rate_limit_storage: str = "memory://"
    rate_limit_fail: str = "open"
    # Proxies whose X-Forwarded-For names the visitor: addresses or networks (CIDR).
    trusted_proxies: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    # Answers computed at once across chat and API: one per core of a 2-core server, each
    # on one inference thread; more would only make every answer slower.
    answer_slots: int = 2
    # Seconds a client may take to send a request's line and headers, then its body: slower
    # ones (slowloris) are dropped instead of holding a connection for ever.
    client_timeout: float = 10.0
    # Where refusals of questions about the gym's business (prices, hours, booking) send
    # the visitor; None: they read as any other refusal.
    contact: Contact | None = None
    coach_tools: bool = False  # the Cue check tab beside the chat (coaches), off for visitors


_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def is_colour(text: str) -> bool:
    """True for a CSS hex colour such as #2f6f4f or #abc."""
    return _HEX_COLOUR.match(text) is not None


def read_site_file(path: Path) -> dict[str, Any]:
    """The settings a gym's TOML file sets; unknown keys are refused."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HingeCoachError(f"cannot read the settings file {path}: {exc.strerror}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise HingeCoachError(f"the settings file {path} is not valid TOML: {exc}.") from exc
    unknown = sorted(set(data) - set(SITE_KEYS))
    if unknown:
        raise HingeCoachError(
            f"unknown setting(s) {', '.join(unknown)} in {path}; known: {', '.join(SITE_KEYS)}."
        )
    return data


def site_value(key: str, text: str) -> Any:
    """A site setting from its HINGECOACH_<KEY> text: lists split on | (examples) or on
    commas and spaces (origins), whole numbers parsed."""
    if key == "examples":
        return [q.strip() for q in text.split("|") if q.strip()]
    if key in ("allowed_origins", "allowed_hosts", "trusted_proxies"):
        return [o for o in re.split(r"[\s,]+", text) if o]
    if key == "contact":  # "text" or "text | https://..." or "text | +1 555 0100"
        text, _, link = text.partition("|")
        return {"text": text.strip(), "link": link.strip()} if link.strip() else text.strip()
    if key == "coach_tools":
        if text.strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
            raise HingeCoachError("HINGECOACH_COACH_TOOLS must be true or false.")
        return text.strip().lower() in ("1", "true", "yes", "on")
    if SITE_KEYS[key] is int:
        try:
            return int(text)
        except ValueError:
            raise HingeCoachError(f"HINGECOACH_{key.upper()} must be a whole number.") from None
    return SITE_KEYS[key](text)


def site_settings(current: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The site settings: `current`, then the file named by HINGECOACH_SETTINGS, then
    HINGECOACH_<KEY> variables; each value type-checked, the whole checked by check_site."""
    values: dict[str, Any] = {}
    if env.get("HINGECOACH_SETTINGS"):
        values.update(read_site_file(Path(env["HINGECOACH_SETTINGS"])))
    for key in SITE_KEYS:
        if f"HINGECOACH_{key.upper()}" in env:
            values[key] = site_value(key, env[f"HINGECOACH_{key.upper()}"])
    for key, value in values.items():
        kind = SITE_KEYS[key]
        if kind is Contact:
            values[key] = read_contact(value)
            continue
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if kind is list:
            ok = ok and all(isinstance(v, str) for v in value)
        if not ok:
            raise HingeCoachError(f"setting {key} must be a {kind.__name__}, not {value!r}.")
    return check_site({**current, **values})


def read_contact(value: Any) -> Contact | None:
    """The contact setting: text, or a table {text, link} whose link is an http(s) address
    or a phone number; an empty text means none."""
    if isinstance(value, str):
        value = {"text": value}
    if not isinstance(value, dict) or set(value) - {"text", "link"}:
        raise HingeCoachError('contact must be text, or a table {text = "...", link = "..."}.')
    text, link = str(value.get("text", "")).strip(), str(value.get("link", "")).strip()
    if len(text) > 200 or len(link) > 200:
        raise HingeCoachError("contact text and link must be 200 characters at most.")
    if not text:
        if link:
            raise HingeCoachError("contact needs a text to go with its link.")
        return None
    if not link:
        return Contact(text)
    if web_address(link):
        return Contact(text, url=link)
    if re.fullmatch(r"\+?[0-9][0-9 ().-]{3,}[0-9]", link):
        return Contact(text, phone=link)
    raise HingeCoachError(
        f"contact link must be an http(s) address or a phone number, not {link!r}."
    )


def check_site(values: Mapping[str, Any]) -> dict[str, Any]:
    """One clear error for a setting the site cannot use; returns the settings with the
    allowed origins normalised."""
    from web.guard import RateLimiter, normalise_origin

    if not is_colour(values["accent"]):
        raise HingeCoachError(f"accent must be a colour like #2f6f4f, not {values['accent']!r}.")
    if not values["gym_name"].strip() or len(values["gym_name"]) > 80:
        raise HingeCoachError("gym_name must be 1 to 80 characters.")
    if not 1024 <= values["max_body_bytes"] <= 1 << 20:
        raise HingeCoachError(
            f"max_body_bytes must be from 1024 to 1048576, not {values['max_body_bytes']}."
        )
    if not 1 <= values["max_client_connections"] < MAX_CONNECTIONS:
        raise HingeCoachError(
            f"max_client_connections must be from 1 to {MAX_CONNECTIONS - 1}, "
            f"not {values['max_client_connections']}."
        )
    hosts = [normalise_host(h) for h in values["allowed_hosts"]]
    try:
        origins = [normalise_origin(o) for o in values["allowed_origins"]]
        RateLimiter({"ask": values["rate_limit"], "feedback": values["feedback_rate_limit"]})
    except ValueError as exc:
        raise HingeCoachError(str(exc) + ".") from exc
    return {**values, "allowed_origins": origins, "allowed_hosts": hosts, **check_scale(values)}


def check_scale(values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings for running replicas (question log, shared rate limits, proxies),
    checked; returns them normalised."""
    from web.logdb import log_location
    from web.rates import check_storage

    if values["log_queue"] < 1:
        raise HingeCoachError("log_queue must be at least 1.")
    if values["rate_limit_fail"] not in ("open", "closed"):
        raise HingeCoachError(
            f"rate_limit_fail must be open or closed, not {values['rate_limit_fail']!r}."
        )
    try:
        check_storage(values["rate_limit_storage"])
        proxies = [trusted_proxy(p) for p in values["trusted_proxies"]]
    except ValueError as exc:
        raise HingeCoachError(str(exc) + ".") from exc
    return {"db": log_location(values["db"]), "trusted_proxies": proxies}


def trusted_proxy(text: str) -> str:
    """'10.0.0.7' or '10.0.0.0/8' (or IPv6) normalised; ValueError for anything else."""
    try:
        if "/" in text:
            return str(ipaddress.ip_network(text.strip(), strict=False))
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError(
            f"trusted_proxies: {text!r} is not an address or a network like 10.0.0.0/8"
        ) from None


_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")  # one part of a host name


def normalise_host(text: str) -> str:
    """'Coach.Example-Gym.com.' -> 'coach.example-gym.com'; an IP address as it is written
    ('[::1]' -> '::1'); a one-line error for anything that is not a host name."""
    host = text.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        raise HingeCoachError(
            f"allowed_hosts: {text!r} is not a host name; write names such as "
            "coach.example-gym.com (no scheme, port or path)."
        )
    return host


def hosts_answered(allowed_hosts: list[str], host: str) -> list[str]:
    """The host names a site answers to: the configured ones, else its loopback names and the
    address it listens on (unless that is every address, 0.0.0.0 or ::)."""
    if allowed_hosts:
        return list(allowed_hosts)
    names = list(LOOPBACK_HOSTS)
    if host not in ("", "0.0.0.0", "::"):
        names.append(normalise_host(host))
    return list(dict.fromkeys(names))
