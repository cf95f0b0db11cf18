"""Charts drawn on the server as SVG: horizontal bars, a line over time, and a histogram.

Every function is pure and returns :class:`markupsafe.Markup` ready to place in a
template. Geometry is integer arithmetic only (values are ints: counts or minor
units, never floats), every label is escaped, text is at least 14px, colours
reach WCAG AA contrast on white, and each chart is an ``role="img"`` with a
``<title>`` and a ``<desc>`` that lists the data for screen readers. At most
``ITEMS_MAX`` bars or points are drawn so that a page stays small; the
description says when some were left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

ITEMS_MAX = 60
FONT_PX = 14
LABEL_CHARS_MAX = 24
INK = "#1a1a1a"  # text: 17.4:1 on white
BAR = "#0b4f9c"  # bars and lines: 8.3:1 on white
AXIS = "#595959"  # axes and baselines: 7:1 on white
NEGATIVE = "#a4161a"  # points below zero: 7.8:1 on white
ROW_PX = 28
LABEL_PX = 4 * FONT_PX  # the room a histogram's bucket label (such as "0.9–1.0") needs
PAD = 8


def _check(labels: Sequence[str], values: Sequence[int]) -> None:
    if len(labels) != len(values):
        raise ValueError("labels and values differ in length")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("chart values are integers (counts or minor units)")


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS_MAX else label[: LABEL_CHARS_MAX - 1] + "…"


def _texts(values: Sequence[int], value_text: Sequence[str] | None) -> list[str]:
    if value_text is None:
        return [str(v) for v in values]
    if len(value_text) != len(values):
        raise ValueError("value_text and values differ in length")
    return [str(t) for t in value_text]


def _desc(labels: Sequence[str], texts: Sequence[str], total: int) -> str:
    listed = "; ".join(f"{label}: {text}" for label, text in zip(labels, texts, strict=True))
    if total > len(labels):
        listed += f" ({len(labels)} of {total} shown)"
    return listed


def _svg(kind: str, title: str, desc: str, width: int, height: int, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-size="{FONT_PX}" '
        f'fill="{INK}"><title>{escape(title)}</title><desc>{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text above is escaped


def _empty(kind: str, title: str, width: int) -> Markup:
    height = ROW_PX + 2 * PAD
    text = f'<text x="{PAD}" y="{PAD + FONT_PX + 4}">{escape("—")}</text>'
    return _svg(kind, title, "no data", width, height, [text])


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    *,
    value_text: Sequence[str] | None = None,
    width: int = 640,
    height: int | None = None,
) -> Markup:
    """Horizontal bars, one per label, each labelled on the left and with its value on the right.

    Negative values draw no bar (their value is still written); ``height`` defaults to what the
    rows need. At most ``ITEMS_MAX`` bars, the first ones.
    """
    _check(labels, values)
    texts = _texts(values, value_text)
    if not values:
        return _empty("bar", title, width)
    total = len(values)
    labels, values, texts = list(labels[:ITEMS_MAX]), list(values[:ITEMS_MAX]), texts[:ITEMS_MAX]
    row = ROW_PX if height is None else max(FONT_PX + 4, (height - 2 * PAD) // len(values))
    full_height = height if height is not None else 2 * PAD + row * len(values)
    label_w = width * 3 // 10
    text_w = width // 5
    bar_w = max(1, width - label_w - text_w - 2 * PAD)
    top = max(1, *values)
    axis_end = PAD + row * len(values)
    body = [f'<line x1="{label_w}" y1="{PAD}" x2="{label_w}" y2="{axis_end}" stroke="{AXIS}"/>']
    for index, (label, value, text) in enumerate(zip(labels, values, texts, strict=True)):
        y = PAD + index * row
        length = max(0, value) * bar_w // top
        baseline = y + (row + FONT_PX) // 2 - 2
        body.append(
            f'<g class="bar"><title>{escape(label)}: {escape(text)}</title>'
            f'<text x="{label_w - PAD}" y="{baseline}" text-anchor="end">{escape(_short(label))}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{length}" height="{max(1, row - 8)}" fill="{BAR}"/>'
            f'<text x="{label_w + length + PAD}" y="{baseline}">{escape(text)}</text></g>'
        )
    return _svg("bar", title, _desc(labels, texts, total), width, full_height, body)


def _line_geometry(values: Sequence[int], width: int, height: int) -> tuple[list[tuple[int, int]], int]:
    """Each point's (x, y) and the y of zero, in a plot area below a row for the maximum's text."""
    low, high = min(0, *values), max(0, *values)
    span = max(1, high - low)
    left, right = PAD, width - PAD
    top, bottom = PAD + FONT_PX + 8, height - PAD - FONT_PX - 8
    plot_h = max(1, bottom - top)
    step_count = max(1, len(values) - 1)
    points = [
        (left + index * (right - left) // step_count, bottom - (value - low) * plot_h // span)
        for index, value in enumerate(values)
    ]
    return points, bottom - (0 - low) * plot_h // span


def line_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    *,
    value_text: Sequence[str] | None = None,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """A line through the values in order (a balance over time, say), with a baseline at zero.

    The scale always includes zero, so negative values fall below the baseline and are marked
    in red. At most ``ITEMS_MAX`` points, the latest ones; the first and last labels are
    written under the line, and every point carries its label and value as a tooltip.
    """
    _check(labels, values)
    texts = _texts(values, value_text)
    if not values:
        return _empty("line", title, width)
    total = len(values)
    labels, values, texts = list(labels[-ITEMS_MAX:]), list(values[-ITEMS_MAX:]), texts[-ITEMS_MAX:]
    height = max(height, 4 * FONT_PX + 4 * PAD)
    points, zero_y = _line_geometry(values, width, height)
    path = " ".join(f"{x},{y}" for x, y in points)
    body = [
        f'<line class="baseline" x1="{PAD}" y1="{zero_y}" x2="{width - PAD}" y2="{zero_y}" stroke="{AXIS}"/>',
        f'<polyline points="{path}" fill="none" stroke="{BAR}" stroke-width="3"/>',
    ]
    for (x, y), label, value, text in zip(points, labels, values, texts, strict=True):
        colour = NEGATIVE if value < 0 else BAR
        body.append(
            f'<circle class="point" cx="{x}" cy="{y}" r="4" fill="{colour}">'
            f"<title>{escape(label)}: {escape(text)}</title></circle>"
        )
    high_index = max(range(len(values)), key=lambda i: values[i])
    body.append(f'<text x="{PAD}" y="{PAD + FONT_PX}">{escape(texts[high_index])}</text>')
    label_y = height - PAD
    body.append(f'<text x="{PAD}" y="{label_y}">{escape(_short(labels[0]))}</text>')
    if len(labels) > 1:
        body.append(
            f'<text x="{width - PAD}" y="{label_y}" text-anchor="end">{escape(_short(labels[-1]))}</text>'
        )
    return _svg("line", title, _desc(labels, texts, total), width, height, body)


def histogram(
    title: str,
    bucket_labels: Sequence[str],
    counts: Sequence[int],
    *,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """Adjacent vertical bars, one per bucket, with the count above each and the bucket below.

    Counts below zero are drawn as zero. At most ``ITEMS_MAX`` buckets; when the buckets are
    too narrow for every label, only every n-th bucket is labelled (all are in the tooltips).
    """
    _check(bucket_labels, counts)
    if not counts:
        return _empty("histogram", title, width)
    total = len(counts)
    labels, values = list(bucket_labels[:ITEMS_MAX]), list(counts[:ITEMS_MAX])
    texts = [str(v) for v in values]
    height = max(height, 4 * FONT_PX + 4 * PAD)
    top_y, bottom = PAD + FONT_PX + 8, height - PAD - FONT_PX - 8
    plot_h = max(1, bottom - top_y)
    bucket_w = max(1, (width - 2 * PAD) // len(values))
    label_every = max(1, -(-LABEL_PX // bucket_w))  # ceiling division: room for a label
    top = max(1, *values)
    body = [f'<line x1="{PAD}" y1="{bottom}" x2="{width - PAD}" y2="{bottom}" stroke="{AXIS}"/>']
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = PAD + index * bucket_w
        bar_h = max(0, value) * plot_h // top
        centre = x + bucket_w // 2
        parts = [
            f'<g class="bar"><title>{escape(label)}: {value}</title>',
            f'<rect x="{x + 1}" y="{bottom - bar_h}" width="{max(1, bucket_w - 2)}" height="{bar_h}" '
            f'fill="{BAR}"/>',
        ]
        if index % label_every == 0:
            parts.append(f'<text x="{centre}" y="{bottom - bar_h - 4}" text-anchor="middle">{value}</text>')
            parts.append(
                f'<text x="{centre}" y="{height - PAD}" text-anchor="middle">{escape(_short(label))}</text>'
            )
        body.append("".join(parts) + "</g>")
    return _svg("histogram", title, _desc(labels, texts, total), width, height, body)
