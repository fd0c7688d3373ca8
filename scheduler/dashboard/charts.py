"""Charts as inline SVG, drawn on the server: the same markup on the report page and in the exported file
(which runs no script). Colours come with words: every chart has a title, a legend in text and its numbers
in a table beside it (the templates), so colour is never the only signal."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Sequence

from markupsafe import Markup

# One colour per platform, dark enough on white for text and bars (WCAG AA against #fff).
PLATFORM_COLOURS = {"x": "#1b1f24", "mastodon": "#5b3cc4", "bluesky": "#0b57a4"}
OTHER_COLOURS = ("#17692b", "#8a5200", "#b00020")
BAR_COLOUR = "#0b57a4"
WIDTH, HEIGHT = 640, 240
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 40, 10, 16, 52


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[int, ...]
    colour: str


def platform_colour(platform: str, index: int = 0) -> str:
    return PLATFORM_COLOURS.get(platform, OTHER_COLOURS[index % len(OTHER_COLOURS)])


def bar_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *,
              label_every: int = 1) -> Markup:
    """Stacked bars, one per label, the series stacked in order; the y axis counts posts."""
    total = [sum(values) for values in zip(*(s.values for s in series), strict=True)] or [0] * len(labels)
    top = max(max(total, default=0), 1)
    plot_w, plot_h = WIDTH - MARGIN_LEFT - MARGIN_RIGHT, HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    step = plot_w / max(len(labels), 1)
    bar_w = max(step * 0.8, 1.0)
    parts = [f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-labelledby="{escape(chart_id)}-title" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{escape(chart_id)}-title">{escape(title)}</title>']
    for tick in _ticks(top):
        y = MARGIN_TOP + plot_h - plot_h * tick / top
        parts.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#c9ced4" stroke-width="1"/>')
        parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="#555e68">{tick}</text>')
    for index, label in enumerate(labels):
        x = MARGIN_LEFT + step * index + (step - bar_w) / 2
        base = 0
        for one in series:
            value = one.values[index]
            if value:
                height = plot_h * value / top
                y = MARGIN_TOP + plot_h - plot_h * (base + value) / top
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
                             f'fill="{one.colour}"><title>{escape(label)}: {value} {escape(one.label)}</title></rect>')
            base += value
        if total[index] and len(labels) <= 20:
            y = MARGIN_TOP + plot_h - plot_h * total[index] / top - 3
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y:.1f}" text-anchor="middle" font-size="11" '
                         f'fill="#1b1f24">{total[index]}</text>')
        if index % label_every == 0:
            lx, ly = x + bar_w / 2, HEIGHT - MARGIN_BOTTOM + 14
            parts.append(f'<text x="{lx:.1f}" y="{ly}" text-anchor="end" font-size="10" fill="#1b1f24" '
                         f'transform="rotate(-35 {lx:.1f} {ly})">{escape(label)}</text>')
    parts.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{MARGIN_TOP + plot_h}" '
                 f'y2="{MARGIN_TOP + plot_h}" stroke="#1b1f24" stroke-width="1"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _ticks(top: int) -> list[int]:
    """Round y-axis ticks from 0 to ``top``, at most six: steps of 1, 2, 5, 10, 20, 50..."""
    scale = 1
    while True:
        for step in (scale, 2 * scale, 5 * scale):
            if top / step <= 5:
                return list(range(0, top + 1, step))
        scale *= 10
