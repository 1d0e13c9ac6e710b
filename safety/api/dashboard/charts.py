"""Charts as server-side SVG: no script, no external library, readable without JavaScript.

Each function returns markup that is safe to embed: every label is escaped here, and colours are
presentation attributes (not `style`), so the dashboard's Content-Security-Policy holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#2f6fdf", "#d9480f", "#2b8a3e", "#ae3ec9", "#e67700", "#0b7285", "#c2255c", "#5c940d",
           "#364fc7", "#862e9c", "#a61e4d", "#495057")
ACTION_COLOURS = {"allow": "#69a85c", "review": "#e8a317", "block": "#c92a2a",
                  "block rate": "#c92a2a", "review rate": "#e8a317", "overturn rate": "#2f6fdf"}
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 34


def colour_for(name: str, names: Sequence[str]) -> str:
    if name in ACTION_COLOURS:
        return ACTION_COLOURS[name]
    return PALETTE[list(names).index(name) % len(PALETTE)] if name in names else PALETTE[-1]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step * 4:
            return float(step * 4)
    return float(value)


def _frame(title: str, y_max: float, percent: bool, days: Sequence[str]) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i in range(5):
        v = y_max * i / 4
        y = TOP + plot_h - plot_h * i / 4
        label = f"{v:.0f}%" if percent else f"{v:.0f}"
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d4da" '
                     f'stroke-width="1"/><text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'class="axis">{label}</text>')
    step = max(1, len(days) // 7)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(days))
    for i, day in enumerate(days):
        if i % step == 0 or i == len(days) - 1:
            x = LEFT + slot * (i + 0.5)
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 12}" text-anchor="middle" class="axis">'
                         f'{escape(day[5:])}</text>')
    return parts


def stacked_bars(title: str, days: Sequence[str], series: Mapping[str, Sequence[int]],
                 names: Sequence[str]) -> Markup:
    """One bar per day, one coloured segment per series (series in `names` order)."""
    totals = [sum(s[i] for s in series.values()) for i in range(len(days))]
    y_max = _nice_max(max(totals, default=0))
    parts = _frame(title, y_max, False, days)
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(days))
    bar = slot * 0.7
    for i, day in enumerate(days):
        y: float = TOP + plot_h
        for name in names:
            n = series.get(name, [0] * len(days))[i]
            if n <= 0:
                continue
            h = plot_h * n / y_max
            y -= h
            x = LEFT + slot * i + (slot - bar) / 2
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour_for(name, names)}"><title>{escape(day)} · {escape(name)}: {n}</title>'
                         f'</rect>')
    parts.append("</svg>")
    return Markup("".join(parts))


def lines(title: str, days: Sequence[str], series: Mapping[str, Sequence[float | None]],
          names: Sequence[str]) -> Markup:
    """Percentages per day; a day without data (None) breaks the line instead of drawing a zero."""
    y_max = 100.0
    parts = _frame(title, y_max, True, days)
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(days))
    for name in names:
        colour = colour_for(name, names)
        segment: list[str] = []
        points: list[str] = []
        for i, value in enumerate(series.get(name, [])):
            if value is None:
                if len(segment) > 1:
                    points.append(" ".join(segment))
                segment = []
                continue
            x = LEFT + slot * (i + 0.5)
            y = TOP + plot_h - plot_h * min(value, 100.0) / y_max
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(days[i])} · '
                         f'{escape(name)}: {value:.1f}%</title></circle>')
        if len(segment) > 1:
            points.append(" ".join(segment))
        for p in points:
            parts.append(f'<polyline points="{p}" fill="none" stroke="{colour}" stroke-width="2"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def swatch(colour: str) -> Markup:
    """A legend swatch (an inline SVG square, so no inline style is needed)."""
    return Markup(f'<svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" '
                  f'fill="{escape(colour)}"/></svg>')
