"""Server-side SVG charts: integer geometry, escaping, accessibility, empty data and caps."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from netfin.web.charts import ITEMS_MAX, bar_chart, histogram, line_chart

NS = {"svg": "http://www.w3.org/2000/svg"}
_NUMBER_ATTRIBUTES = ("x", "y", "x1", "y1", "x2", "y2", "width", "height", "cx", "cy", "r")


def _parse(svg: Markup) -> ET.Element:
    assert isinstance(svg, Markup)
    root = ET.fromstring(str(svg))  # noqa: S314 - our own output, not untrusted input
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("role") == "img"
    assert root.find("svg:title", NS) is not None and root.find("svg:desc", NS) is not None
    assert int(root.get("font-size", "0")) >= 14
    for element in root.iter():
        for name in _NUMBER_ATTRIBUTES:
            value = element.get(name)
            if value is not None:
                assert re.fullmatch(r"-?[0-9]+", value), f"{name}={value!r} is not an integer"
        points = element.get("points")
        if points is not None:
            assert re.fullmatch(r"-?[0-9]+,-?[0-9]+( -?[0-9]+,-?[0-9]+)*", points)
    return root


def _groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == cls]


def test_bar_chart_draws_one_labelled_bar_per_value_with_its_display_text() -> None:
    svg = bar_chart(
        "Spending", ["Food", "Rent", "Travel"], [1200, 90_000, 0], value_text=["¥12", "¥900", "¥0"]
    )
    root = _parse(svg)
    bars = _groups(root, "bar")
    assert len(bars) == 3
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "Food" in texts and "¥900" in texts
    widths = [int(bar.find("svg:rect", NS).get("width", "-1")) for bar in bars]  # type: ignore[union-attr]
    assert widths[1] > widths[0] > widths[2] == 0
    assert root.findtext("svg:title", namespaces=NS) == "Spending"
    assert "Rent: ¥900" in (root.findtext("svg:desc", namespaces=NS) or "")


def test_labels_and_titles_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    for svg in (
        bar_chart(hostile, [hostile], [5]),
        line_chart(hostile, [hostile, "b"], [1, 2], value_text=[hostile, "2"]),
        histogram(hostile, [hostile], [3]),
    ):
        assert "<script>" not in svg and "&lt;script&gt;" in svg
        root = _parse(svg)
        assert root.findtext("svg:title", namespaces=NS) == hostile


def test_empty_data_gives_a_short_no_data_chart() -> None:
    for svg in (bar_chart("None", [], []), line_chart("None", [], []), histogram("None", [], [])):
        root = _parse(svg)
        assert root.findtext("svg:desc", namespaces=NS) == "no data"
        assert not _groups(root, "bar") and not _groups(root, "point")
        assert len(svg) < 600


def test_bars_points_and_buckets_are_capped() -> None:
    many = 500
    labels = [f"item {i}" for i in range(many)]
    values = list(range(many))
    bars = _parse(bar_chart("Many", labels, values))
    assert len(_groups(bars, "bar")) == ITEMS_MAX
    assert f"({ITEMS_MAX} of {many} shown)" in (bars.findtext("svg:desc", namespaces=NS) or "")
    line = line_chart("Many", labels, values)
    points = _groups(_parse(line), "point")
    assert len(points) == ITEMS_MAX
    assert points[-1].findtext("svg:title", namespaces=NS) == f"item {many - 1}: {many - 1}"  # the latest
    assert len(_groups(_parse(histogram("Many", labels, values)), "bar")) == ITEMS_MAX
    assert len(line) < 20_000


def test_line_chart_puts_negative_values_below_the_zero_baseline() -> None:
    root = _parse(line_chart("Balance", ["1 May", "2 May", "3 May"], [500, -250, 1000]))
    points = _groups(root, "point")
    assert len(points) == 3
    baseline = next(e for e in root.iter() if e.get("class") == "baseline")
    zero_y = int(baseline.get("y1", "0"))
    ys = [int(p.get("cy", "0")) for p in points]
    assert ys[0] < zero_y < ys[1] and ys[2] < ys[0]
    assert points[1].get("fill") != points[0].get("fill")
    polyline = root.find("svg:polyline", NS)
    assert polyline is not None and len(polyline.get("points", "").split()) == 3


def test_line_chart_with_one_point_and_all_zero_values() -> None:
    assert len(_groups(_parse(line_chart("One", ["today"], [42])), "point")) == 1
    assert len(_groups(_parse(line_chart("Flat", ["a", "b"], [0, 0])), "point")) == 2


def test_histogram_heights_follow_the_counts() -> None:
    labels = [f"0.{i}–{'1.0' if i == 9 else f'0.{i + 1}'}" for i in range(10)]
    counts = [0, 1, 2, 3, 4, 5, 6, 7, 8, 20]
    root = _parse(histogram("Scores", labels, counts))
    bars = _groups(root, "bar")
    assert len(bars) == 10
    heights = [int(b.find("svg:rect", NS).get("height", "-1")) for b in bars]  # type: ignore[union-attr]
    assert heights[0] == 0 and heights == sorted(heights) and heights[9] > heights[8]
    assert "0.9–1.0" in [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_values_must_be_integers_and_match_the_labels() -> None:
    with pytest.raises(TypeError):
        bar_chart("Floats", ["a"], [1.5])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        histogram("Mismatch", ["a", "b"], [1])
    with pytest.raises(ValueError):
        bar_chart("Texts", ["a"], [1], value_text=["1", "2"])
