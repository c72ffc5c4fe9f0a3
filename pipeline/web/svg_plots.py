"""Small charts drawn on the server as inline SVG: no script, no external file, nothing for the
page's Content-Security-Policy to allow. Every text (titles, labels, values) is escaped, a
Markup too (as text); the width follows the page (``viewBox`` with ``width="100%"``).

``bar_chart`` draws horizontal bars, one per (label, value); ``line_chart`` one line per
series over shared x labels (days), with a gap where a value is None. Each bar and point
carries ``data-label`` and ``data-value`` and a ``<title>`` (the browser's tooltip).

>>> svg = bar_chart([("hate", 3), ("<b>", 1)], title="Open items")
>>> svg.count('class="bar"'), "&lt;b&gt;" in svg, "<b>" in svg
(2, True, False)
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 600
BAR_HEIGHT, BAR_GAP = 18, 6
LABEL_SHARE = 0.3  # of the width, for the bars' labels
# Colour-blind-safe (Okabe-Ito), one per series, repeated past eight.
COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
           "#000000")


def _esc(value) -> Markup:
    """``value`` escaped as text. A Markup too: a template's ``_()`` marks its translation
    safe without escaping it, and a quote in a title must not end an attribute."""
    return escape(str(value))


def number(value: float) -> str:
    """A value as shown: whole numbers without decimals, others with two.

    >>> number(3), number(2.0), number(0.456)
    ('3', '2', '0.46')
    """
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{_esc(title)}" '
        f'style="max-width:{width}px;font:12px system-ui,sans-serif">'
        f"<title>{_esc(title)}</title>{''.join(body)}</svg>"
    )


def bar_chart(
    bars: Sequence[tuple[str, float]], *, title: str, unit: str = "", width: int = WIDTH
) -> Markup:
    """Horizontal bars, one per ``(label, value)`` in the given order, scaled to the
    largest value (values below 0 draw no bar; their number is still shown)."""
    label_width = int(width * LABEL_SHARE)
    room = width - label_width - 60  # space for the value after the longest bar
    top = max([0.0, *(float(v) for _, v in bars)])
    height = max(len(bars), 1) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    body = []
    for i, (label, value) in enumerate(bars):
        y = BAR_GAP + i * (BAR_HEIGHT + BAR_GAP)
        length = 0.0 if top <= 0 or value <= 0 else room * float(value) / top
        shown = f"{number(value)}{(' ' + unit) if unit else ''}"
        middle = y + BAR_HEIGHT / 2
        body.append(
            f'<text x="{label_width - 6}" y="{middle:.1f}" text-anchor="end" '
            f'dominant-baseline="middle">{_esc(label)}</text>'
            f'<rect class="bar" x="{label_width}" y="{y}" width="{length:.1f}" '
            f'height="{BAR_HEIGHT}" fill="{COLOURS[0]}" data-label="{_esc(label)}" '
            f'data-value="{_esc(number(value))}"><title>{_esc(label)}: {_esc(shown)}'
            f"</title></rect>"
            f'<text x="{label_width + length + 4:.1f}" y="{middle:.1f}" '
            f'dominant-baseline="middle">{_esc(shown)}</text>'
        )
    return _svg(width, height, title, body)


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    unit: str = "",
    width: int = WIDTH,
    height: int = 220,
) -> Markup:
    """One line per ``(name, values)``, the values at ``x_labels`` (None: no value, a gap),
    from 0 to the largest value; a legend below when there is more than one series."""
    left, right, top_margin, bottom = 44, 12, 12, 28
    legend = 18 * len(series) if len(series) > 1 else 0
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    values = [float(v) for _, vs in series for v in vs if v is not None]
    top = max([*values, 0.0]) or 1.0
    n = len(x_labels)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n <= 1 else plot_w * i / (n - 1))

    def y(v: float) -> float:
        return top_margin + plot_h * (1 - max(float(v), 0.0) / top)

    base = top_margin + plot_h
    body = [
        f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top_margin}" x2="{left}" y2="{base}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top_margin}" text-anchor="end" dominant-baseline="middle">'
        f"{_esc(number(top))}</text>",
        f'<text x="{left - 4}" y="{base}" text-anchor="end" dominant-baseline="middle">0</text>',
    ]
    if unit:
        body.append(f'<text x="{left + 4}" y="{top_margin}" dominant-baseline="middle" '
                    f'fill="#666">{_esc(unit)}</text>')
    step = max(1, -(-n // 8))  # at most about eight labels on the x axis
    for i, label in enumerate(x_labels):
        if i % step == 0 or i == n - 1:
            body.append(f'<text x="{x(i):.1f}" y="{base + 16}" text-anchor="middle">'
                        f"{_esc(label)}</text>")
    for s, (name, points) in enumerate(series):
        colour = COLOURS[s % len(COLOURS)]
        run: list[str] = []
        runs = [run]
        for i, v in enumerate(points):
            if v is None:
                run = []
                runs.append(run)
                continue
            run.append(f"{x(i):.1f},{y(v):.1f}")
            shown = f"{number(v)}{(' ' + unit) if unit else ''}"
            body.append(
                f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}" '
                f'data-series="{_esc(name)}" data-label="{_esc(x_labels[i])}" '
                f'data-value="{_esc(number(v))}"><title>{_esc(name)}, '
                f"{_esc(x_labels[i])}: {_esc(shown)}</title></circle>"
            )
        body += [
            f'<polyline class="line" points="{" ".join(r)}" fill="none" stroke="{colour}" '
            f'stroke-width="2" data-series="{_esc(name)}"/>'
            for r in runs if len(r) > 1
        ]
        if legend:
            ly = height + 18 * s + 6
            body.append(
                f'<rect x="{left}" y="{ly}" width="12" height="12" fill="{colour}"/>'
                f'<text x="{left + 18}" y="{ly + 6}" dominant-baseline="middle">'
                f"{_esc(name)}</text>"
            )
    return _svg(width, height + legend, title, body)
