"""Inline SVG charts for staff pages: the admin and the console draw figures the same way.

Server-rendered SVG needs no script, no build step and no chart library, prints,
and reads on a phone; staff look at a few dozen points, not thousands. Every
value is escaped by ``format_html``, so series names and labels may come from
the database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

#: Colours for successive series (matplotlib's defaults: distinguishable and familiar).
PALETTE: tuple[str, ...] = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
#: Room a legend letter takes at its 11 px: no font metrics on the server, so a generous
#: average (0.65 em) keeps a long name ("plays per impression") inside the drawing.
LEGEND_LETTER_WIDTH = 11 * 0.65


@dataclass(frozen=True, slots=True)
class Series:
    """One line: ``points`` are ``(x position, value)`` with positions indexing the x labels."""

    name: str
    colour: str
    points: Sequence[tuple[int, float]]


def has_points(series: Sequence[Series]) -> bool:
    """Whether there is anything to draw (callers say "no data yet" instead of an empty chart)."""
    return any(s.points for s in series)


def line_chart(
    *,
    series: Sequence[Series],
    x_labels: Sequence[str],
    label: str,
    width: int = 480,
    height: int = 180,
    value_format: str = "{:.3f}",
) -> SafeString:
    """A line chart with a zero baseline, one legend entry per series and a label per x.

    The y axis runs from 0 to the largest value, which is printed at the top:
    the figures charted here (NDCG, recall, seconds, counts) are non-negative and
    compared by their size, so a zero baseline keeps small differences small.
    Each point is a dot with a tooltip (``<title>``), so a single run still shows.
    """
    pad = 30
    values = [value for s in series for _, value in s.points]
    top = max(values, default=0.0) or 1.0
    step = (width - 2 * pad) / max(len(x_labels) - 1, 1)

    def x_of(position: int) -> float:
        return pad + position * step

    def y_of(value: float) -> float:
        return height - pad - (value / top) * (height - 2 * pad)

    drawn = [s for s in series if s.points]
    legend_x = width - pad + 4
    longest = max((len(s.name) for s in drawn), default=0)
    svg_width = max(width + 60, math.ceil(legend_x + longest * LEGEND_LETTER_WIDTH) + 4)
    lines = format_html_join(
        "",
        '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'
        '<text x="{}" y="{}" fill="{}" font-size="11">{}</text>',
        (
            (
                s.colour,
                " ".join(f"{x_of(p):.1f},{y_of(v):.1f}" for p, v in s.points),
                legend_x,
                pad + 14 * index,
                s.colour,
                s.name,
            )
            for index, s in enumerate(drawn)
        ),
    )
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" fill="{}"><title>{} {}: {}</title></circle>',
        (
            (
                f"{x_of(p):.1f}",
                f"{y_of(v):.1f}",
                s.colour,
                s.name,
                x_labels[p] if 0 <= p < len(x_labels) else p,
                value_format.format(v),
            )
            for s in drawn
            for p, v in s.points
        ),
    )
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
        ((f"{x_of(i):.1f}", height - 8, text) for i, text in enumerate(x_labels)),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" '
        'role="img" aria-label="{}" class="chart">'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<text x="2" y="{}" font-size="10">{}</text>{}{}{}</svg>',
        svg_width,
        height,
        svg_width,
        height,
        label,
        pad,
        height - pad,
        width - pad,
        height - pad,
        pad - 8,  # above the dot of a point at the top, which sits at y = pad
        value_format.format(top),
        lines,
        dots,
        labels,
    )
