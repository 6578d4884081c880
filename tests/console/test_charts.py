"""config.charts: the SVG line chart the admin and the console share."""

import re

from config.charts import Series, has_points, line_chart


def test_one_line_and_one_dot_per_point_with_the_top_value_printed():
    svg = line_chart(
        series=[
            Series("cluster", "#111111", [(0, 0.2), (1, 0.4)]),
            Series("region", "#222222", [(1, 0.3)]),
        ],
        x_labels=["#1", "#2"],
        label="NDCG",
    )

    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 3
    assert ">0.400<" in svg
    assert "<title>cluster #2: 0.400</title>" in svg


def test_names_and_labels_are_escaped():
    svg = line_chart(
        series=[Series("<b>x</b>", "#000000", [(0, 1.0)])], x_labels=["<i>"], label="a&b"
    )

    assert "<b>" not in svg
    assert "&lt;b&gt;x&lt;/b&gt;" in svg
    assert 'aria-label="a&amp;b"' in svg


def test_nothing_to_draw_is_said_before_drawing():
    assert not has_points([Series("a", "#000", []), Series("b", "#000", [])])
    assert has_points([Series("a", "#000", [(0, 0.0)])])


def _svg_width(svg: str) -> float:
    return float(re.search(r'<svg [^>]*width="([\d.]+)"', svg).group(1))


def test_a_long_series_name_fits_in_the_legend():
    # The artwork page's "plays per impression" was cut to "plays per impre".
    name = "plays per impression"
    svg = line_chart(
        series=[Series(name, "#000000", [(0, 0.04)])], x_labels=["#1"], label="Take rate"
    )

    x = float(re.search(rf'<text x="([\d.]+)"[^>]*>{name}</text>', svg).group(1))
    # An 11 px sans-serif letter is at most about 0.65 em wide on average.
    assert x + len(name) * 11 * 0.65 <= _svg_width(svg)


def test_the_top_value_is_printed_clear_of_the_highest_dot():
    # A chart whose largest value is its first point drew that dot over the printed top.
    svg = line_chart(
        series=[Series("in all", "#000000", [(0, 25258.0)])],
        x_labels=["#1"],
        label="Impressions",
        value_format="{:,.0f}",
    )

    top_label = re.search(r'<text x="[\d.]+" y="([\d.]+)" font-size="10">25,258</text>', svg)
    dot = re.search(r'<circle cx="[\d.]+" cy="([\d.]+)" r="(\d+)"', svg)
    assert float(top_label.group(1)) < float(dot.group(1)) - float(dot.group(2))
