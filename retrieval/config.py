"""Configuration values read from text: a gym's settings file, HINGECOACH_* variables.

Each value is checked as it is read, so a setting that cannot work stops the program with
one clear sentence instead of failing later inside a request.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from retrieval.errors import HingeCoachError

# What a gym may set in its settings file (TOML) or as HINGECOACH_<KEY> variables.
SITE_KEYS: dict[str, type] = {
    "gym_name": str,
    "accent": str,
    "welcome": str,
    "examples": list,
    "allowed_origins": list,
    "rate_limit": str,
    "feedback_rate_limit": str,
    "max_body_bytes": int,
    "db": Path,
}
LLM_OPTIONS = {  # setting -> (variable, type)
    "llm_base_url": ("HINGECOACH_LLM_BASE_URL", str),
    "llm_model": ("HINGECOACH_LLM_MODEL", str),
    "llm_api_key": ("HINGECOACH_LLM_API_KEY", str),
    "llm_timeout": ("HINGECOACH_LLM_TIMEOUT", float),
    "llm_context": ("HINGECOACH_LLM_CONTEXT", int),
    "llm_unsupported": ("HINGECOACH_LLM_UNSUPPORTED", str),
}
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
    if key == "allowed_origins":
        return [o for o in re.split(r"[\s,]+", text) if o]
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
        if kind is Path and isinstance(value, str):
            value = values[key] = Path(value)
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if kind is list:
            ok = ok and all(isinstance(v, str) for v in value)
        if not ok:
            raise HingeCoachError(f"setting {key} must be a {kind.__name__}, not {value!r}.")
    return check_site({**current, **values})


def check_site(values: Mapping[str, Any]) -> dict[str, Any]:
    """One clear error for a setting the site cannot use; returns the settings with the
    allowed origins normalised."""
    from retrieval.guard import RateLimiter, normalise_origin

    if not is_colour(values["accent"]):
        raise HingeCoachError(f"accent must be a colour like #2f6f4f, not {values['accent']!r}.")
    if not values["gym_name"].strip() or len(values["gym_name"]) > 80:
        raise HingeCoachError("gym_name must be 1 to 80 characters.")
    if values["max_body_bytes"] < 1024:
        raise HingeCoachError("max_body_bytes must be at least 1024.")
    try:
        origins = [normalise_origin(o) for o in values["allowed_origins"]]
        RateLimiter({"ask": values["rate_limit"], "feedback": values["feedback_rate_limit"]})
    except ValueError as exc:
        raise HingeCoachError(str(exc) + ".") from exc
    return {**values, "allowed_origins": origins}


def llm_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The language-model settings given by HINGECOACH_LLM_* variables (empty ones ignored)."""
    out: dict[str, Any] = {}
    for name, (variable, kind) in LLM_OPTIONS.items():
        if env.get(variable, "").strip():
            try:
                out[name] = kind(env[variable].strip())
            except ValueError as exc:
                raise HingeCoachError(f"{variable} must be a number.") from exc
    return out


def check_llm(
    base_url: str | None, model: str | None, unsupported: str, timeout: float, context: int
) -> None:
    """One-line errors for a language-model configuration that cannot work."""
    if model and not base_url:
        raise HingeCoachError("HINGECOACH_LLM_MODEL is set but HINGECOACH_LLM_BASE_URL is not.")
    if not base_url:
        return
    if not base_url.startswith(("http://", "https://")):
        raise HingeCoachError("HINGECOACH_LLM_BASE_URL must start with http:// or https://.")
    if not model:
        raise HingeCoachError("HINGECOACH_LLM_BASE_URL is set: set HINGECOACH_LLM_MODEL too.")
    if unsupported not in ("flag", "drop"):
        raise HingeCoachError("HINGECOACH_LLM_UNSUPPORTED must be flag or drop.")
    if timeout <= 0 or context < 1024:
        raise HingeCoachError(
            "the LLM timeout must be positive and its context 1024 tokens or more."
        )
