"""The take-rate chart of a variant, drawn the same way in the admin and the staff console."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .models import DeviceClass
from .selectors import VariantDeviceStats


def take_rate_chart(
    stats: list[VariantDeviceStats], width: int = 420, height: int = 170
) -> SafeString:
    """Bars of take rate per device class with their 95% intervals as whiskers (inline SVG).

    The interval is drawn, not only printed: a variant with 3 plays in 20
    impressions and one with 300 in 2,000 have the same rate and must not look alike.
    Under each bar: the variant's observed share of its title's impressions over the
    last ``SHARE_DAYS`` days (what was shown, not the current policy's probability).
    """
    pad, bar = 34, 46
    top = max((s.high or 0.0) for s in stats) or 0.01
    slot = (width - pad) / len(stats)

    def y(value: float) -> str:
        return f"{height - pad - value / top * (height - 2 * pad):.1f}"

    parts = []
    for i, s in enumerate(stats):
        x = pad + i * slot + (slot - bar) / 2
        centre = f"{x + bar / 2:.1f}"
        label = DeviceClass(s.device).label
        share = f"{s.share:.0%} of shows" if s.share is not None else "not shown"
        if s.take_rate is not None:
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="#1f77b4">'
                    "<title>{}: {} ({} of {})</title></rect>"
                    '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#333"/>',
                    f"{x:.1f}",
                    y(s.take_rate),
                    bar,
                    f"{s.take_rate / top * (height - 2 * pad):.1f}",
                    label,
                    f"{s.take_rate:.2%}",
                    s.plays,
                    s.impressions,
                    centre,
                    centre,
                    y(s.low or 0.0),
                    y(s.high or 0.0),
                )
            )
        parts.append(
            format_html(
                '<text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>'
                '<text x="{}" y="{}" font-size="9" text-anchor="middle" fill="#666">{}</text>',
                centre,
                height - pad + 13,
                label,
                centre,
                height - pad + 25,
                share,
            )
        )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" '
        'aria-label="Take rate by device class">'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#999"/>'
        '<text x="2" y="{}" font-size="10">{}</text>{}</svg>',
        width,
        height,
        pad,
        width,
        height - pad,
        height - pad,
        pad,
        f"{top:.1%}",
        format_html_join("", "{}", ((p,) for p in parts)),
    )
