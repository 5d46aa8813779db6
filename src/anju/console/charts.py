"""Inline SVG charts, rendered on the server: no script, no external library, prints well."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

Translate = Callable[..., str]

#: Colour-blind-safe palette (Okabe–Ito), one per rule or outcome in order.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#999999",
    "#000000",
    "#8C564B",
)


def _svg(width: int, height: int, body: list[str], *, label: str, css: str = "chart") -> Markup:
    return Markup(
        f'<svg class="{css}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def _no_data(t: Translate) -> Markup:
    return Markup('<p class="muted chart-empty">') + escape(t("chart.no_data")) + Markup("</p>")


def heat_colour(count: int, peak: int) -> str:
    """White for none, deepening teal with activity (square root, so quiet hours stay visible)."""
    if count <= 0 or peak <= 0:
        return "#f1f4f6"
    share = (count / peak) ** 0.5
    # From #c7e9e4 (light) to #00564b (dark).
    lo, hi = (0xC7, 0xE9, 0xE4), (0x00, 0x56, 0x4B)
    rgb = (round(a + (b - a) * share) for a, b in zip(lo, hi, strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


def heatmap(labels: Sequence[str], counts: Sequence[Sequence[int]], t: Translate) -> Markup:
    """Days down, the 24 local hours across; each cell's tooltip gives the count."""
    cell, gap, left, top = 22, 2, 52, 20
    width = left + 24 * (cell + gap) + 4
    height = top + len(labels) * (cell + gap) + 4
    peak = max((max(row) for row in counts), default=0)
    body = []
    for hour in range(0, 24, 3):
        x = left + hour * (cell + gap) + cell / 2
        body.append(f'<text x="{x:.0f}" y="14" class="axis" text-anchor="middle">{hour:02d}</text>')
    for day, (label, row) in enumerate(zip(labels, counts, strict=True)):
        y = top + day * (cell + gap)
        body.append(
            f'<text x="{left - 6}" y="{y + cell * 0.7:.0f}" class="axis" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        for hour, count in enumerate(row):
            x = left + hour * (cell + gap)
            tip = escape(t("heatmap.cell", date=label, hour=f"{hour:02d}", count=count))
            body.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" rx="3" '
                f'fill="{heat_colour(count, peak)}" '
                f'data-count="{count}"><title>{tip}</title></rect>'
            )
    return _svg(width, height, body, label=t("household.heatmap", days=len(labels)), css="chart heatmap")


@dataclass(frozen=True, slots=True)
class AckPoint:
    incident_id: int
    opened_at: datetime
    seconds: float | None  # None: never acknowledged


def ack_chart(points: Sequence[AckPoint], t: Translate, fmt: Callable[[datetime], str]) -> Markup:
    """One bar per critical incident (time order), with the 60 s and 180 s targets drawn across."""
    if not points:
        return _no_data(t)
    width, height, left, bottom, top = 1100, 260, 48, 24, 12
    plot_w, plot_h = width - left - 10, height - top - bottom
    acked = [p.seconds for p in points if p.seconds is not None]
    y_max = max(240.0, max(acked, default=0.0) * 1.1)

    def y(value: float) -> float:
        return top + plot_h * (1 - min(value, y_max) / y_max)

    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis-line"/>'
    ]
    for tick in (0, 60, 120, 180, 240, *([int(y_max)] if y_max > 300 else [])):
        if tick <= y_max:
            body.append(
                f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" class="axis" text-anchor="end">{tick}</text>'
            )
    step = plot_w / len(points)
    bar = max(1.0, min(18.0, step * 0.7))
    for i, p in enumerate(points):
        x = left + i * step + (step - bar) / 2
        if p.seconds is None:
            value_text = t("chart.not_acknowledged")
            top_y, cls = y(y_max), "bar bar-missing"
        else:
            value_text = f"{p.seconds:.0f} s"
            top_y = y(p.seconds)
            cls = "bar bar-ok" if p.seconds <= 60 else ("bar bar-late" if p.seconds <= 180 else "bar bar-bad")
        tip = escape(t("chart.bar_title", id=p.incident_id, time=fmt(p.opened_at), value=value_text))
        body.append(
            f'<rect x="{x:.1f}" y="{top_y:.1f}" width="{bar:.1f}" '
            f'height="{top + plot_h - top_y:.1f}" class="{cls}">'
            f"<title>{tip}</title></rect>"
        )
    for limit, key, cls in (
        (60, "chart.line_60", "target target-60"),
        (180, "chart.line_180", "target target-180"),
    ):
        body.append(
            f'<line x1="{left}" y1="{y(limit):.1f}" x2="{left + plot_w}" y2="{y(limit):.1f}" class="{cls}"/>'
        )
        body.append(
            f'<text x="{left + plot_w - 4}" y="{y(limit) - 4:.1f}" class="target-label" text-anchor="end">'
            f"{escape(t(key))}</text>"
        )
    body.append(f'<text x="{left + 6}" y="{top + 10}" class="axis">{escape(t("chart.seconds"))}</text>')
    return _svg(width, height, body, label=t("reports.ack_chart"), css="chart ack-chart")


def legend(items: Sequence[tuple[str, str]]) -> Markup:
    parts = [
        Markup('<span class="legend-item"><i style="background:{}"></i>{}</span>').format(colour, label)
        for label, colour in items
    ]
    return Markup('<div class="legend">') + Markup("").join(parts) + Markup("</div>")


def stacked_weeks(weeks: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], t: Translate) -> Markup:
    """Stacked bars, one per week; ``series`` is (label, count per week) in a fixed order."""
    totals = [sum(s[1][i] for s in series) for i in range(len(weeks))]
    if not weeks or not any(totals):
        return _no_data(t)
    width, height, left, bottom, top = 380, 220, 32, 34, 10
    plot_w, plot_h = width - left - 8, height - top - bottom
    peak = max(totals)
    step = plot_w / len(weeks)
    bar = max(4.0, min(40.0, step * 0.7))
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis-line"/>'
    ]
    body.append(f'<text x="{left - 4}" y="{top + 8}" class="axis" text-anchor="end">{peak}</text>')
    for i, week in enumerate(weeks):
        x = left + i * step + (step - bar) / 2
        base = float(top + plot_h)
        for j, (label, counts) in enumerate(series):
            count = counts[i]
            if not count:
                continue
            h = plot_h * count / peak
            base -= h
            tip = escape(t("chart.count_title", label=f"{t('chart.week', date=week)} · {label}", count=count))
            body.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{tip}</title></rect>'
            )
        body.append(
            f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 14}" class="axis" text-anchor="middle">'
            f"{escape(week)}</text>"
        )
    svg = _svg(width, height, body, label=t("reports.rule_chart"), css="chart week-chart")
    used = [(label, PALETTE[j % len(PALETTE)]) for j, (label, counts) in enumerate(series) if any(counts)]
    return svg + legend(used)


def horizontal_bars(items: Sequence[tuple[str, int]], t: Translate, *, label: str) -> Markup:
    """Labelled horizontal bars (outcomes)."""
    if not items or not any(c for _, c in items):
        return _no_data(t)
    row, left, width = 26, 130, 380
    height = row * len(items) + 8
    peak = max(c for _, c in items)
    body = []
    for i, (name, count) in enumerate(items):
        y = 4 + i * row
        w = (width - left - 40) * count / peak if peak else 0
        body.append(f'<text x="{left - 6}" y="{y + 16}" class="axis" text-anchor="end">{escape(name)}</text>')
        body.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{PALETTE[i % len(PALETTE)]}">'
            f"<title>{escape(t('chart.count_title', label=name, count=count))}</title></rect>"
        )
        body.append(f'<text x="{left + w + 6:.1f}" y="{y + 16}" class="axis">{count}</text>')
    return _svg(width, height, body, label=label, css="chart outcome-chart")
