"""Small inline SVG charts (no JavaScript, no external assets).

Every piece of text placed in the SVG goes through :func:`html.escape`, so run
names and labels coming from config files cannot inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["PALETTE", "Series", "histogram", "line_chart", "quantile"]

# Colour-blind-friendly qualitative palette (Okabe-Ito).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]


@dataclass
class Series:
    """One line of a line chart: y per x (None = no point there)."""

    label: str
    points: dict[int, float | None]
    color: str
    dashed: bool = False
    marker: str = "circle"


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def line_chart(series: Sequence[Series], title: str, x_label: str, y_label: str,
               width: int = 560, height: int = 280) -> str:
    """A line chart with y in [0, 1] and integer x, with a legend below the plot."""
    xs = sorted({x for s in series for x in s.points})
    legend_rows = len(series)
    ml, mr, mt, mb = 48, 16, 28, 40
    plot_h = height - mt - mb
    total_h = height + 18 * legend_rows + 8
    plot_w = width - ml - mr
    lo_x, hi_x = (xs[0], xs[-1]) if xs else (1, 1)

    def px(x: int) -> float:
        if hi_x == lo_x:
            return ml + plot_w / 2
        return ml + (x - lo_x) / (hi_x - lo_x) * plot_w

    def py(y: float) -> float:
        return mt + (1 - y) * plot_h

    out = [f'<svg class="chart" role="img" width="{width}" height="{total_h}" '
           f'viewBox="0 0 {width} {total_h}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{escape(title)}</title>",
           f'<text x="{ml}" y="16" class="ct">{escape(title)}</text>']
    for i in range(5):
        y = i / 4
        out.append(f'<line x1="{ml}" x2="{width - mr}" y1="{_fmt(py(y))}" y2="{_fmt(py(y))}" '
                   f'class="grid"/>')
        out.append(f'<text x="{ml - 6}" y="{_fmt(py(y) + 4)}" class="tick" '
                   f'text-anchor="end">{y:.2f}</text>')
    for x in xs:
        out.append(f'<text x="{_fmt(px(x))}" y="{mt + plot_h + 16}" class="tick" '
                   f'text-anchor="middle">{x}</text>')
    out.append(f'<text x="{ml + plot_w / 2:.1f}" y="{mt + plot_h + 32}" class="axis" '
               f'text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text x="12" y="{mt + plot_h / 2:.1f}" class="axis" text-anchor="middle" '
               f'transform="rotate(-90 12 {mt + plot_h / 2:.1f})">{escape(y_label)}</text>')
    for s in series:
        pts = [(x, y) for x, y in sorted(s.points.items()) if y is not None]
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        if len(pts) > 1:
            path = " ".join(f"{_fmt(px(x))},{_fmt(py(y))}" for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" '
                       f'stroke-width="2"{dash}/>')
        for x, y in pts:
            tip = escape(f"{s.label}: pass^{x} = {y:.3f}")
            out.append(_marker(s.marker, px(x), py(y), s.color, tip))
    for i, s in enumerate(series):
        ly = height + 6 + 18 * i
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<line x1="{ml}" x2="{ml + 28}" y1="{ly}" y2="{ly}" stroke="{s.color}" '
                   f'stroke-width="2"{dash}/>')
        out.append(_marker(s.marker, ml + 14, ly, s.color, None))
        out.append(f'<text x="{ml + 36}" y="{ly + 4}" class="legend">{escape(s.label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _marker(kind: str, x: float, y: float, color: str, tip: str | None) -> str:
    title = f"<title>{tip}</title>" if tip else ""
    if kind == "square":
        return (f'<rect x="{_fmt(x - 3.5)}" y="{_fmt(y - 3.5)}" width="7" height="7" '
                f'fill="{color}">{title}</rect>')
    return f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="3.5" fill="{color}">{title}</circle>'


def quantile(sorted_vals: Sequence[float], q: float) -> float:
    """Nearest-rank-with-interpolation quantile of sorted values, q in [0, 1]."""
    if not sorted_vals:
        return math.nan
    pos = q * (len(sorted_vals) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def histogram(values: Sequence[float], title: str, unit: str = "s", color: str = PALETTE[0],
              bins: int = 30, width: int = 420, height: int = 200) -> str:
    """A histogram over [0, p99]; values above p99 are gathered in a last "overflow" bar.

    The caption gives n, median, p90, p99 and max of the values as they are;
    when every value is 0 there is no bar, only ``n=..., all 0.00s``.
    """
    vals = sorted(v for v in values if v is not None and math.isfinite(v))
    ml, mr, mt, mb = 40, 12, 28, 52
    plot_w, plot_h = width - ml - mr, height - mt - mb
    out = [f'<svg class="chart" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{escape(title)}</title>",
           f'<text x="{ml}" y="16" class="ct">{escape(title)}</text>']
    if not vals:
        out.append(f'<text x="{ml}" y="{mt + 20}" class="tick">no data</text></svg>')
        return "".join(out)
    if vals[-1] <= 0:
        # Nothing to draw (e.g. scripted models take no time): say so rather
        # than invent an axis.
        out.append(f'<text x="{ml}" y="{mt + 20}" class="tick">'
                   f"{escape(f'n={len(vals)}, all {vals[-1]:.2f}{unit}')}</text></svg>")
        return "".join(out)
    p99 = quantile(vals, 0.99)
    # The axis ends at p99 (an outlier would squash every bar) unless p99 is 0.
    top = p99 if p99 > 0 else vals[-1]
    width_bin = top / bins
    counts = [0] * (bins + 1)  # the extra bin holds values above p99
    for v in vals:
        i = min(int(v / width_bin), bins - 1) if v <= top else bins
        counts[max(0, i)] += 1
    if counts[bins] == 0:
        counts.pop()
    peak = max(counts)
    bar_w = plot_w / len(counts)
    for i, c in enumerate(counts):
        if not c:
            continue
        h = c / peak * plot_h
        lo = i * width_bin
        label = (f"> {top:.2f}{unit}" if i == bins else f"{lo:.2f}-{lo + width_bin:.2f}{unit}")
        fill = "#888" if i == bins else color
        out.append(f'<rect x="{_fmt(ml + i * bar_w)}" y="{_fmt(mt + plot_h - h)}" '
                   f'width="{_fmt(max(bar_w - 1, 1))}" height="{_fmt(h)}" fill="{fill}">'
                   f"<title>{escape(label)}: {c}</title></rect>")
    out.append(f'<line x1="{ml}" x2="{width - mr}" y1="{mt + plot_h}" y2="{mt + plot_h}" '
               f'class="axisline"/>')
    out.append(f'<text x="{ml}" y="{mt + plot_h + 14}" class="tick">0</text>')
    out.append(f'<text x="{ml + bins * bar_w:.1f}" y="{mt + plot_h + 14}" class="tick" '
               f'text-anchor="end">{top:.2f}{escape(unit)}</text>')
    out.append(f'<text x="{ml - 4}" y="{mt + 8}" class="tick" text-anchor="end">{peak}</text>')
    stats = (f"n={len(vals)}  median={quantile(vals, 0.5):.2f}{unit}  "
             f"p90={quantile(vals, 0.9):.2f}{unit}  p99={p99:.2f}{unit}  max={vals[-1]:.2f}{unit}")
    out.append(f'<text x="{ml}" y="{height - 10}" class="tick">{escape(stats)}</text>')
    out.append("</svg>")
    return "".join(out)
