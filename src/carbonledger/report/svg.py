"""Charts written directly as SVG text: axes with ticks, step lines, bands, bars, points,
legends, and an accessible ``<title>``/``<desc>``.

Pure string building with no dependency, so a chart costs about a millisecond (the
matplotlib charts it replaced cost 0.1-0.2 s each). What it guarantees, whatever it is
given:

- every text (run names, span paths, zones, device names: anything a user or a host
  wrote) goes through :func:`text`: one line, control characters, bidirectional overrides
  and lone surrogates shown as visible escapes (:func:`carbonledger.safetext.term`), then
  XML-escaped, so the SVG is well-formed XML and no user text is markup;
- every number written into an attribute is finite (:func:`num`): a missing value
  (None) is a gap in a line, never a zero, and values too large for the axis are clamped
  to its edge;
- no script, no link, no external resource; ids are derived from a caller's salt with
  everything but ``[A-Za-z0-9_-]`` removed.

:class:`Plot` is one rectangular plot area with a linear x and y scale (and an optional
right-hand y scale); :func:`nice_ticks` and :func:`time_ticks` choose the ticks.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape

from carbonledger.safetext import term

__all__ = [
    "FONT",
    "LegendItem",
    "Plot",
    "Scale",
    "nice_ticks",
    "num",
    "text",
    "tick_label",
    "time_ticks",
]

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
INK = "#1d1d1f"
MUTED = "#5f6368"
GRID = "#e6e8eb"
FONT_PX = 12.0
SMALL_PX = 11.0
CHAR_PX = 0.58  # mean glyph width in ems, for laying out legends and labels

_NOT_XML = re.compile("[\ufffe\uffff]")
_MARKUP = re.compile("[&<>\"']")
_ID = re.compile(r"[^A-Za-z0-9_-]")


def text(value: object, limit: int | None = None) -> str:
    """Any text as SVG character data (or attribute value): one line, visible escapes for
    control and bidi characters, at most ``limit`` characters (an ellipsis marks a cut),
    XML-escaped."""
    line = str(value)
    if not (line.isascii() and line.isprintable()) or "  " in line or line[:1] == " ":
        line = term(" ".join(line.split()))
        line = _NOT_XML.sub(lambda m: f"\\u{ord(m.group(0)):04x}", line)
    elif line[-1:] == " ":
        line = line.rstrip()
    if limit is not None and len(line) > limit:
        line = line[: max(limit - 1, 0)] + "…"
    return escape(line, quote=True) if _MARKUP.search(line) else line


def num(value: float) -> str:
    """A coordinate with one decimal (trailing ``.0`` dropped); never NaN or infinite."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite coordinate: {value!r}")
    out = f"{value:.1f}"
    if out[-2:] == ".0":
        out = out[:-2]
        return "0" if out == "-0" else out
    return out


def safe_id(salt: str) -> str:
    """An XML id fragment from a caller's salt (only ``[A-Za-z0-9_-]``, never empty)."""
    return _ID.sub("", salt) or "c"


# -- scales and ticks --------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """Maps data ``[lo, hi]`` linearly onto pixels ``[a, b]``; values beyond are clamped
    just outside the range (so an overflowing value shows at the edge, not off-canvas)."""

    lo: float
    hi: float
    a: float
    b: float

    def __call__(self, value: float) -> float:
        # halves: hi - lo of two huge finite values of opposite sign would overflow
        denominator = self.hi / 2 - self.lo / 2
        if denominator == 0 or not math.isfinite(value):
            t = 0.5
        else:
            t = (value / 2 - self.lo / 2) / denominator
            t = min(max(t, -0.02), 1.02) if math.isfinite(t) else 0.5
        return self.a + (self.b - self.a) * t


def _finite(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def nice_ticks(lo: float, hi: float, target: int = 5) -> tuple[float, float, list[float]]:
    """A range covering ``[lo, hi]`` with round ends and about ``target`` round ticks
    (1, 2 or 5 times a power of ten apart). A flat or empty range is widened."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = max(lo - pad, -sys.float_info.max), min(hi + pad, sys.float_info.max)
    span = hi / 2 - lo / 2  # half the span: never overflows
    raw = span * 2 / max(target, 1) if span < 8e307 else span / max(target, 1) * 2
    if not math.isfinite(raw) or raw <= 0:
        return lo, hi, [lo, hi]
    power = 10.0 ** math.floor(math.log10(raw))
    step = power
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * power * 1.0000001:
            step = factor * power
            break
    if step <= 0 or not math.isfinite(step):
        return lo, hi, [lo, hi]
    first, last = math.floor(lo / step), math.ceil(hi / step)
    # an end within a rounding error of a tick could fall inside [lo, hi]: never narrower
    new_lo, new_hi = min(first * step, lo), max(last * step, hi)
    if not (math.isfinite(new_lo) and math.isfinite(new_hi)) or new_hi <= new_lo:
        return lo, hi, [lo, hi]
    count = int(last - first)
    if count > 4 * max(target, 1) + 2:  # rounding far from home: just the ends
        return new_lo, new_hi, [new_lo, new_hi]
    ticks = [(first + k) * step for k in range(count + 1)]
    ticks = [0.0 if abs(t) < step * 1e-9 else t for t in ticks if math.isfinite(t)]
    ticks = [t for t in ticks if new_lo <= t <= new_hi]
    return new_lo, new_hi, ticks if len(ticks) >= 2 else [new_lo, new_hi]


def tick_label(value: float, step: float) -> str:
    """A tick value with as many decimals as its step needs (thousands separated)."""
    magnitude = max(abs(value), abs(step))
    if magnitude >= 1e7 or (0 < magnitude < 1e-3):
        return f"{value:.3g}"
    decimals = 0 if step >= 1 else min(6, max(0, -math.floor(math.log10(step) + 1e-9)))
    return f"{value:,.{decimals}f}"


_TIME_STEPS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
    28 * 86400,
    91 * 86400,
    182 * 86400,
    364 * 86400,
)
_DAY = 86400.0


def time_ticks(t0: float, t1: float, target: int = 6) -> tuple[list[tuple[float, str]], str]:
    """Round UTC ticks in ``[t0, t1]`` (unix seconds) with their labels, and the axis
    label (``time (UTC)`` with the date when every tick is on one day)."""
    span = t1 - t0
    if not (math.isfinite(span) and span > 0):
        return [], "time (UTC)"
    if span < target:  # under a few seconds: seconds since the start
        _, _, rel = nice_ticks(0.0, span, target)
        step = rel[1] - rel[0] if len(rel) > 1 else span
        ticks = [(t0 + r, f"+{tick_label(r, step)} s") for r in rel if 0 <= r <= span]
        return ticks, f"time (UTC) from {_clock(t0, '%Y-%m-%d %H:%M:%S')}"
    found = next((float(s) for s in _TIME_STEPS if span / s <= target), None)
    if found is None:
        years = span / (365.25 * _DAY) / target
        found = max(1.0, math.ceil(years)) * 364 * _DAY
    step = found
    first = math.ceil(t0 / step) * step
    count = int((t1 - first) // step) + 1
    times = [first + k * step for k in range(max(count, 0))]
    one_day = _clock(t0, "%Y-%m-%d") == _clock(t1, "%Y-%m-%d")
    if step >= _DAY:
        fmt = "%Y-%m" if step >= 91 * _DAY else "%m-%d"
        return [(t, _clock(t, fmt)) for t in times], "date (UTC)"
    fmt = "%H:%M:%S" if step < 60 else "%H:%M"
    labels = []
    for t in times:
        midnight = t % _DAY == 0
        labels.append((t, _clock(t, "%m-%d") if midnight and not one_day else _clock(t, fmt)))
    axis = f"time (UTC, {_clock(t0, '%Y-%m-%d')})" if one_day else "time (UTC)"
    return labels, axis


def _clock(t: float, fmt: str) -> str:
    try:
        return datetime.fromtimestamp(t, tz=timezone.utc).strftime(fmt)
    except (OverflowError, OSError, ValueError):
        return "?"


# -- the plot ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LegendItem:
    """One legend entry: ``kind`` is line, dash, band, box, hatch, point or empty (a part
    that is unknown, shown as an outline only)."""

    label: str
    kind: str
    color: str
    opacity: float = 1.0


def _text_px(label: str, size: float = SMALL_PX) -> float:
    return len(label) * size * CHAR_PX


class Plot:
    """One chart: an SVG canvas with a plot area, scales, axes and a legend.

    Build it, set its scales (:meth:`set_x`, :meth:`set_y`, :meth:`set_y2`), add marks
    (each returns nothing and writes SVG text), then :meth:`render`.
    """

    def __init__(
        self,
        width: float,
        height: float,
        *,
        title: str,
        desc: str,
        salt: str,
        left: float = 64,
        right: float = 18,
        top: float = 12,
        bottom: float = 44,
        legend: Sequence[LegendItem] = (),
    ) -> None:
        self.width, self.title, self.desc = width, title, desc
        self.salt = safe_id(salt)
        self.legend_items = list(legend)
        self.legend_rows = self._legend_rows(width - 16)
        legend_h = 18.0 * len(self.legend_rows)
        self.height = height + legend_h
        self.px0, self.px1 = left, width - right
        self.py0, self.py1 = height - bottom, top  # bottom edge, top edge (pixels)
        self.defs: list[str] = []
        self.under: list[str] = []  # bands, grid
        self.marks: list[str] = []  # lines, bars, points
        self.over: list[str] = []  # axes, labels
        self.x = Scale(0.0, 1.0, self.px0, self.px1)
        self.y = Scale(0.0, 1.0, self.py0, self.py1)
        self.y2: Scale | None = None

    # scales and axes
    def set_x(self, lo: float, hi: float) -> None:
        self.x = Scale(lo, hi, self.px0, self.px1)

    def set_y(self, lo: float, hi: float) -> None:
        self.y = Scale(lo, hi, self.py0, self.py1)

    def set_y2(self, lo: float, hi: float) -> None:
        self.y2 = Scale(lo, hi, self.py0, self.py1)

    def x_axis(self, ticks: Sequence[tuple[float, str]], label: str, *, grid: bool = True) -> None:
        y = self.py0
        out = [self._line(self.px0, y, self.px1, y, INK, 1)]
        for value, name in ticks:
            x = self.x(value)
            if grid:
                self.under.append(self._line(x, self.py1, x, y, GRID, 1))
            out.append(self._line(x, y, x, y + 4, INK, 1))
            out.append(self._text(x, y + 16, name, anchor="middle", size=SMALL_PX))
        out.append(self._text((self.px0 + self.px1) / 2, y + 33, label, anchor="middle"))
        self.over.extend(out)

    def y_axis(
        self, ticks: Sequence[tuple[float, str]], label: str, *, right: bool = False
    ) -> None:
        scale = self.y2 if right and self.y2 is not None else self.y
        x = self.px1 if right else self.px0
        out = [self._line(x, self.py0, x, self.py1, INK, 1)]
        sign = 1 if right else -1
        for value, name in ticks:
            y = scale(value)
            if not right:
                self.under.append(self._line(self.px0, y, self.px1, y, GRID, 1))
            out.append(self._line(x, y, x + 4 * sign, y, INK, 1))
            anchor = "start" if right else "end"
            out.append(self._text(x + 7 * sign, y + 4, name, anchor=anchor, size=SMALL_PX))
        widest = max((_text_px(name) for _, name in ticks), default=0.0)
        lx = x + sign * (widest + 16)
        ly = (self.py0 + self.py1) / 2
        out.append(
            f'<text x="{num(lx)}" y="{num(ly)}" text-anchor="middle" '
            f'transform="rotate({-90 if not right else 90} {num(lx)} {num(ly)})">'
            f"{text(label)}</text>"
        )
        self.over.extend(out)

    def category_axis(self, labels: Sequence[tuple[float, str]]) -> None:
        """Names on the left of horizontal bars (``labels``: pixel y, name)."""
        for y, name in labels:
            self.over.append(self._text(self.px0 - 8, y + 4, name, anchor="end"))
        self.over.append(self._line(self.px0, self.py0, self.px0, self.py1, INK, 1))

    # marks
    def steps(
        self,
        edges: Sequence[float],
        values: Sequence[float | None],
        *,
        color: str,
        width: float = 1.4,
        dash: str | None = None,
        right: bool = False,
        cls: str = "line",
    ) -> None:
        """A step line: ``values[i]`` over ``[edges[i], edges[i+1])``; None is a gap."""
        scale = self.y2 if right and self.y2 is not None else self.y
        d: list[str] = []
        pen = False
        for i, value in enumerate(values):
            if value is None or not math.isfinite(value):
                pen = False
                continue
            xa, xb, y = num(self.x(edges[i])), num(self.x(edges[i + 1])), num(scale(value))
            d.append(f"L{xa} {y}H{xb}" if pen else f"M{xa} {y}H{xb}")
            pen = True
        if not d:
            return
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.marks.append(
            f'<path class="{cls}" d="{"".join(d)}" fill="none" stroke="{color}" '
            f'stroke-width="{width}" stroke-linejoin="round"{extra}/>'
        )

    def polyline(
        self, points: Sequence[tuple[float, float]], *, color: str, width: float = 1.0
    ) -> None:
        if len(points) < 2:
            return
        d = " ".join(f"{num(self.x(x))},{num(self.y(y))}" for x, y in points)
        self.marks.append(
            f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="{width}" '
            'stroke-opacity="0.6"/>'
        )

    def band(self, x_lo: float, x_hi: float, *, color: str, opacity: float) -> None:
        a, b = self.x(x_lo), self.x(x_hi)
        self.under.append(
            f'<rect class="band" x="{num(min(a, b))}" y="{num(self.py1)}" '
            f'width="{num(max(abs(b - a), 1.0))}" height="{num(self.py0 - self.py1)}" '
            f'fill="{color}" fill-opacity="{opacity}"/>'
        )

    def vline(self, x: float, *, color: str, width: float = 1.0, dash: str | None = None) -> None:
        px = self.x(x)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.marks.append(
            f'<line x1="{num(px)}" y1="{num(self.py0)}" x2="{num(px)}" y2="{num(self.py1)}" '
            f'stroke="{color}" stroke-width="{width}"{extra}/>'
        )

    def hline(self, y: float, *, color: str, width: float = 1.0, dash: str | None = None) -> None:
        py = self.y(y)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.marks.append(
            f'<line class="hline" x1="{num(self.px0)}" y1="{num(py)}" x2="{num(self.px1)}" '
            f'y2="{num(py)}" stroke="{color}" stroke-width="{width}"{extra}/>'
        )

    def point(self, x: float, y: float, *, color: str, r: float = 3.5, cls: str = "point") -> None:
        self.marks.append(
            f'<circle class="{cls}" cx="{num(self.x(x))}" cy="{num(self.y(y))}" r="{r}" '
            f'fill="{color}"/>'
        )

    def hbar(
        self,
        x_lo: float,
        x_hi: float,
        y_px: float,
        height_px: float,
        *,
        color: str,
        opacity: float = 0.9,
        hatch: bool = False,
        cls: str = "bar",
    ) -> None:
        """A horizontal bar from data ``x_lo`` to ``x_hi`` centred on pixel ``y_px``."""
        a, b = self.x(x_lo), self.x(x_hi)
        fill = f'fill="{color}" fill-opacity="{opacity}"'
        if hatch:
            pid = f"{self.salt}-hatch-{len(self.defs)}"
            self.defs.append(
                f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="6" height="6" '
                'patternTransform="rotate(45)">'
                f'<rect width="6" height="6" fill="{color}" fill-opacity="{opacity}"/>'
                '<line x1="0" y1="0" x2="0" y2="6" stroke="#333333" stroke-width="1.2"/>'
                "</pattern>"
            )
            fill = f'fill="url(#{pid})"'
        self.marks.append(
            f'<rect class="{cls}" x="{num(min(a, b))}" y="{num(y_px - height_px / 2)}" '
            f'width="{num(abs(b - a))}" height="{num(height_px)}" {fill} '
            'stroke="#333333" stroke-width="0.6"/>'
        )

    def error_bar(self, lo: float, hi: float, y_px: float, *, cap_px: float = 4.0) -> None:
        a, b = num(self.x(lo)), num(self.x(hi))
        y, y_lo, y_hi = num(y_px), num(y_px - cap_px), num(y_px + cap_px)
        self.marks.append(
            f'<path class="errorbar" d="M{a} {y}H{b}M{a} {y_lo}V{y_hi}M{b} {y_lo}V{y_hi}" '
            'fill="none" stroke="#222222" stroke-width="1"/>'
        )

    def label(
        self,
        x_px: float,
        y_px: float,
        value: str,
        *,
        anchor: str = "start",
        size: float = SMALL_PX,
        color: str = INK,
        limit: int | None = None,
        box: str | None = None,
    ) -> None:
        """Text at a pixel position (escaped here); ``box``: a framing colour."""
        if box is not None:
            width = _text_px(value[: limit or len(value)], size) + 8
            x = x_px - (width if anchor == "end" else width / 2 if anchor == "middle" else 0)
            self.over.append(
                f'<rect x="{num(x - 4)}" y="{num(y_px - size)}" width="{num(width)}" '
                f'height="{num(size + 6)}" rx="3" fill="#ffffff" stroke="{box}" '
                f'stroke-width="0.6"/>'
            )
        self.over.append(
            self._text(x_px, y_px, value, anchor=anchor, size=size, color=color, limit=limit)
        )

    # output
    def render(self) -> str:
        w, h = num(self.width), num(self.height)
        defs = f"<defs>{''.join(self.defs)}</defs>" if self.defs else ""
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{text(self.title)}" '
            f'width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}" '
            f'font-size="{num(FONT_PX)}" fill="{INK}">'
            f"<title>{text(self.title)}</title><desc>{text(self.desc)}</desc>{defs}"
            f'<rect width="{w}" height="{h}" fill="#ffffff"/>'
            + "".join(self.under)
            + "".join(self.marks)
            + "".join(self.over)
            + self._legend()
            + "</svg>"
        )

    def _legend_rows(self, room: float) -> list[list[tuple[LegendItem, float]]]:
        rows: list[list[tuple[LegendItem, float]]] = []
        used = room + 1
        for item in self.legend_items:
            w = 24 + _text_px(item.label[:60]) + 18
            if used + w > room or not rows:
                rows.append([])
                used = 0.0
            rows[-1].append((item, w))
            used += w
        return rows

    def _legend(self) -> str:
        out: list[str] = []
        base = self.height - 18.0 * len(self.legend_rows)
        for r, row in enumerate(self.legend_rows):
            y = base + 18.0 * r + 6
            x = (self.width - sum(w for _, w in row)) / 2
            for item, w in row:
                out.append(self._swatch(item, x, y))
                out.append(self._text(x + 24, y + 4, item.label, size=SMALL_PX, limit=60))
                x += w
        return f'<g class="legend">{"".join(out)}</g>' if out else ""

    def _swatch(self, item: LegendItem, x: float, y: float) -> str:
        c, o = item.color, item.opacity
        if item.kind in ("line", "dash"):
            dash = ' stroke-dasharray="5 3"' if item.kind == "dash" else ""
            return self._line(x, y, x + 18, y, c, 2, extra=dash)
        if item.kind == "point":
            return f'<circle cx="{num(x + 9)}" cy="{num(y)}" r="4" fill="{c}"/>'
        if item.kind == "errorbar":
            return (
                f'<path d="M{num(x)} {num(y)}H{num(x + 18)}M{num(x)} {num(y - 4)}V{num(y + 4)}'
                f'M{num(x + 18)} {num(y - 4)}V{num(y + 4)}" fill="none" stroke="{c}"/>'
            )
        fill = "none" if item.kind == "empty" else c
        dash = ' stroke-dasharray="2 2"' if item.kind == "empty" else ""
        return (
            f'<rect x="{num(x)}" y="{num(y - 6)}" width="18" height="12" fill="{fill}" '
            f'fill-opacity="{o}" stroke="{c if item.kind != "band" else "none"}"{dash}/>'
        )

    @staticmethod
    def _line(
        x1: float, y1: float, x2: float, y2: float, color: str, w: float, extra: str = ""
    ) -> str:
        return (
            f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
            f'stroke="{color}" stroke-width="{w}"{extra}/>'
        )

    @staticmethod
    def _text(
        x: float,
        y: float,
        value: str,
        *,
        anchor: str = "start",
        size: float = FONT_PX,
        color: str = INK,
        limit: int | None = None,
    ) -> str:
        attrs = f' text-anchor="{anchor}"' if anchor != "start" else ""
        if size != FONT_PX:
            attrs += f' font-size="{num(size)}"'
        if color != INK:
            attrs += f' fill="{color}"'
        return f'<text x="{num(x)}" y="{num(y)}"{attrs}>{text(value, limit)}</text>'


def value_range(
    values: Iterable[float | None], *, zero: bool = True, target: int = 5
) -> tuple[float, float, list[float]]:
    """:func:`nice_ticks` over the finite values (and 0 when ``zero``); [0, 1] when none."""
    finite = _finite(values)
    if not finite:
        return nice_ticks(0.0, 1.0, target)
    lo, hi = min(finite), max(finite)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    return nice_ticks(lo, hi, target)


def labelled(ticks: Sequence[float]) -> list[tuple[float, str]]:
    """Ticks with their labels (decimals from the spacing)."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(ticks[0]) if ticks else 1.0
    return [(t, tick_label(t, step or 1.0)) for t in ticks]
