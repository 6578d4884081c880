"""config.charts: the SVG line chart the admin and the console share."""

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
