"""The embeddable chat's pages, filled in with a gym's branding when the site starts.

- /embed: the chat page a gym frames; its title and settings are written into the page
  (the settings as JSON that cannot end its <script> element);
- /widget.js: the script a gym's own page includes, with the gym's name and colour;
- /demo: the demo gym page, pointed at whichever address served it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from retrieval.records import Contact
from retrieval.render import script_json
from web.colours import ink_on, text_accent
from web.settings import is_colour

STATIC = Path(__file__).resolve().parent / "static"
DEMO_SERVER = "http://127.0.0.1:7860/"  # the coach address pasted in static/demo-gym.html
# The embeddable chat runs only its own script and talks only to this server.
EMBED_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'"
)
ASSETS = {"embed.js": "text/javascript", "embed.css": "text/css"}  # served as they are


@dataclass(frozen=True)
class Pages:
    """The pages' text for one gym: templates read once, filled in per request."""

    embed_html: str
    widget_js: str
    demo_html: str
    assets: dict[str, str]  # file name -> text, for each of ASSETS
    gym_name: str
    accent: str
    welcome: str
    examples: list[str]
    contact: Contact | None = None

    @classmethod
    def load(
        cls,
        static: Path,
        gym_name: str,
        accent: str,
        welcome: str,
        examples: list[str],
        origins: Sequence[str] = (),
        contact: Contact | None = None,
    ) -> Pages:
        """Read the templates from `static` and brand the widget script.

        `origins` are the sites allowed to frame the chat: the widget tells a page that is
        not one of them so, instead of opening a frame the browser will block.
        """

        def read(name: str) -> str:
            return (static / name).read_text(encoding="utf-8")

        brand = {"name": gym_name, "accent": accent, "origins": list(origins)}
        brand.update(accent_colours(accent))
        return cls(
            embed_html=read("embed.html"),
            widget_js=read("widget.js").replace(
                "/*CONFIG*/ {}", json.dumps(brand, ensure_ascii=False)
            ),
            demo_html=read("demo-gym.html"),
            assets={name: read(name) for name in ASSETS},
            gym_name=gym_name,
            accent=accent,
            welcome=welcome,
            examples=examples,
            contact=contact,
        )

    def embed(self, accent: str = "") -> str:
        """The chat page; `accent` (the page's ?accent=) replaces the gym's colour if it is one."""
        colour = accent if is_colour(accent) else self.accent
        config: dict[str, Any] = {
            "name": self.gym_name,
            "accent": colour,
            **accent_colours(colour),
            "welcome": self.welcome,
            "examples": self.examples,
            "contact": asdict(self.contact) if self.contact else None,
        }
        body = self.embed_html.replace("{{TITLE}}", html.escape(self.gym_name))
        return body.replace("{{CONFIG}}", script_json(config))

    def demo(self, base_url: str) -> str:
        """The demo gym page, its widget loaded from `base_url`."""
        return self.demo_html.replace(DEMO_SERVER, base_url)


def accent_colours(accent: str) -> dict[str, str]:
    """The text colours that go with an accent: on it ("ink"), and it as text ("text")."""
    return {"ink": ink_on(accent), "text": text_accent(accent)}


def add_pages(app: Any, pages: Pages) -> None:
    """The embeddable chat (/embed), the widget script (/widget.js), the demo gym page and
    the embed's own assets, served from `pages`."""
    cache = {"Cache-Control": "public, max-age=300"}

    def embed(request: Request) -> HTMLResponse:
        body = pages.embed(request.query_params.get("accent", ""))
        return HTMLResponse(body, headers={"Content-Security-Policy": EMBED_CSP})

    def demo(request: Request) -> HTMLResponse:
        return HTMLResponse(pages.demo(str(request.base_url)))

    def static(text: str, media_type: str) -> Callable[[], Response]:
        return lambda: Response(text, media_type=media_type, headers=cache)

    app.get("/embed", include_in_schema=False)(embed)
    app.get("/demo", include_in_schema=False)(demo)
    app.get("/widget.js", include_in_schema=False)(static(pages.widget_js, "text/javascript"))
    for name, kind in ASSETS.items():
        app.get(f"/{name}", include_in_schema=False)(static(pages.assets[name], kind))
