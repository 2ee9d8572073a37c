"""The gym's accent colour, made readable wherever it is used.

An owner picks any colour. Text on it (the send button, the header, a visitor's bubble)
is white or near-black, whichever reads better; where the accent itself colours text on
white (links, [n] markers), it is darkened until it reaches WCAG AA contrast (4.5:1).
The Gradio theme gets a full 50-950 ramp built around it.
"""

from __future__ import annotations

from collections.abc import Sequence

WHITE, INK = "#ffffff", "#111827"
PANEL = "#f4f4f5"  # the lightest grey a bubble or panel behind accent-coloured text may have
AA = 4.5  # WCAG 2.1 AA contrast for normal text


def _rgb(colour: str) -> tuple[int, int, int]:
    hexa = colour.lstrip("#")
    if len(hexa) == 3:
        hexa = "".join(ch * 2 for ch in hexa)
    return int(hexa[0:2], 16), int(hexa[2:4], 16), int(hexa[4:6], 16)


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def luminance(colour: str) -> float:
    """WCAG relative luminance of a #rgb or #rrggbb colour."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours, 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def ink_on(accent: str) -> str:
    """White or near-black: whichever reads better on the accent."""
    return WHITE if contrast(WHITE, accent) >= contrast(INK, accent) else INK


def mix(colour: str, other: str, share: float) -> str:
    """`colour` with `share` (0-1) of `other` mixed in."""
    a, b = _rgb(colour), _rgb(other)
    return _hex([x + (y - x) * share for x, y in zip(a, b, strict=True)])


def text_accent(accent: str, background: str = PANEL) -> str:
    """The accent, darkened just enough to be read as text on `background`."""
    colour, share = _hex(_rgb(accent)), 0.0
    while contrast(colour, background) < AA and share < 1:
        share += 0.05
        colour = mix(accent, "#000000", share)
    return colour


def ramp(accent: str) -> dict[str, str]:
    """Eleven shades (50 to 950) with the accent at 500, for a Gradio colour."""
    lighter = {"50": 0.92, "100": 0.84, "200": 0.68, "300": 0.5, "400": 0.25}
    darker = {"600": 0.15, "700": 0.3, "800": 0.45, "900": 0.6, "950": 0.7}
    shades = {name: mix(accent, "#ffffff", share) for name, share in lighter.items()}
    shades["500"] = _hex(_rgb(accent))
    shades.update({name: mix(accent, "#000000", share) for name, share in darker.items()})
    return shades
