"""The SVG writer: whatever numbers (finite or missing) and text (hostile included) it is
given, it writes well-formed XML with finite coordinates and no user text as markup."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import pytest
from factories import HOSTILE, T0, footprint
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.records import Component, DeviceInfo, Method, Sample, SpanRecord
from carbonledger.report import charts, svg
from carbonledger.safetext import term

SVG = "{http://www.w3.org/2000/svg}"
NUMERIC = {"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"}

values = st.one_of(
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(-1e6, 1e6),
)
hostile = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            HOSTILE,
            "]]><x/>",
            "&amp;&#0;\x00\x1b[31m",
            "\u202eevil\u202c",
            "\ud800lone",
            "\ufffe\uffff",
            '"><svg onload=alert(1)>',
            "a\nb\tc\rd",
        ]
    ),
)


def well_formed(text: str) -> ET.Element:
    root = ET.fromstring(text)
    for element in root.iter():
        assert element.tag not in (f"{SVG}script", f"{SVG}foreignObject", f"{SVG}a")
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            if name in (*NUMERIC, "d", "points", "transform", "viewBox", "font-size"):
                assert not re.search(r"nan|inf", value, re.I), (name, value)
            if name in NUMERIC:
                assert math.isfinite(float(value)), (name, value)
        if element.tag in (f"{SVG}path", f"{SVG}polyline"):
            coords = re.findall(r"-?\d+(?:\.\d+)?", element.get("d") or element.get("points", ""))
            assert all(math.isfinite(float(c)) for c in coords)
    return root


def texts(root: ET.Element) -> list[str]:
    return [t for el in root.iter() for t in (el.text, el.get("aria-label")) if t]


@settings(max_examples=200, deadline=None)
@given(hostile, st.one_of(st.none(), st.integers(0, 30)))
def test_text_is_one_escaped_line(value: str, limit: int | None) -> None:
    out = svg.text(value, limit)
    assert "<" not in out and ">" not in out and '"' not in out
    assert re.fullmatch(r"(?:[^&]|&(?:lt|gt|amp|quot|#x27);)*", out)
    element = ET.fromstring(f"<t>{out}</t>")  # characters XML accepts, nothing else
    shown = element.text or ""
    assert "\n" not in shown and "\x1b" not in shown and "\u202e" not in shown
    if limit is None:
        assert shown == term(" ".join(value.split())).replace("\ufffe", "\\ufffe").replace(
            "\uffff", "\\uffff"
        )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(values, min_size=1, max_size=40),
    st.lists(hostile, min_size=1, max_size=4),
    hostile,
    st.text(max_size=20),
)
def test_a_plot_is_well_formed_whatever_it_is_given(
    ys: list[float | None], labels: list[str], title: str, salt: str
) -> None:
    legend = [
        svg.LegendItem(label, kind, "#123456") for label, kind in zip(labels, _KINDS, strict=False)
    ]
    plot = svg.Plot(600, 300, title=title, desc=title, salt=salt, legend=legend)
    lo, hi, ticks = svg.value_range(ys)
    plot.set_x(0.0, float(len(ys)))
    plot.set_y(lo, hi)
    plot.set_y2(lo, hi)
    plot.x_axis(svg.labelled(ticks), labels[0])
    plot.y_axis(svg.labelled(ticks), labels[-1])
    plot.y_axis(svg.labelled(ticks), labels[-1], right=True)
    plot.steps([float(i) for i in range(len(ys) + 1)], ys, color="#000000")
    plot.steps([float(i) for i in range(len(ys) + 1)], ys, color="#000000", right=True)
    known = [(float(i), y) for i, y in enumerate(ys) if y is not None]
    plot.polyline(known, color="#ff0000")
    for i, y in known[:5]:
        plot.point(i, y, color="#ff0000")
        plot.hbar(0.0, y, 100.0, 10.0, color="#00ff00", hatch=i % 2 == 0)
        plot.error_bar(y - 1, y + 1, 100.0)
        plot.label(plot.x(i), plot.y(y), labels[0], limit=24, box="#000000")
    plot.band(0.0, 1.0, color="#0000ff", opacity=0.1)
    plot.hline(ys[0] if ys[0] is not None else 0.0, color="#000000", dash="4 2")
    plot.vline(0.5, color="#000000")
    out = plot.render()
    root = well_formed(out)
    for label in (*labels, title):
        if re.search(r"<[A-Za-z/!?]", label):  # text that would open markup
            assert label not in out  # never as markup
    shown = texts(root)
    for label in labels:
        expected = svg.text(label, 60)
        assert (
            any(ET.fromstring(f"<t>{expected}</t>").text == t for t in shown) or not label.strip()
        )
    lines = [p for p in root.iter(f"{SVG}path") if p.get("class") == "line"]
    if any(y is not None for y in ys):
        # one sub-path per run of known values: a missing value is a gap, never a zero
        runs = sum(1 for i, y in enumerate(ys) if y is not None and (i == 0 or ys[i - 1] is None))
        assert (lines[0].get("d") or "").count("M") == runs
    else:
        assert not lines


_KINDS = ("line", "dash", "band", "box", "hatch", "point", "empty", "errorbar")


@settings(max_examples=300, deadline=None)
@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_nice_ticks_cover_the_range(a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    new_lo, new_hi, ticks = svg.nice_ticks(lo, hi)
    assert new_lo <= lo and new_hi >= hi and new_lo < new_hi
    assert 2 <= len(ticks) <= 22
    assert all(math.isfinite(t) for t in ticks) and ticks == sorted(ticks)
    assert all(new_lo <= t <= new_hi for t in ticks)
    step = ticks[1] - ticks[0]
    labels = [svg.tick_label(t, step) for t in ticks]
    assert all(label and "nan" not in label for label in labels)


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 4e9), st.floats(0.001, 3e8))
def test_time_ticks_lie_in_the_window(t0: float, span: float) -> None:
    ticks, axis = svg.time_ticks(t0, t0 + span)
    assert axis.startswith(("time (UTC", "date (UTC"))
    assert len(ticks) <= 12
    assert all(t0 - 1e-6 <= t <= t0 + span + 1e-6 and label for t, label in ticks)


def test_num_refuses_non_finite_coordinates() -> None:
    assert svg.num(1.25) == "1.2" or svg.num(1.25) == "1.3"
    assert svg.num(-0.01) == "0" and svg.num(3.0) == "3"
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            svg.num(bad)


def test_scale_clamps_huge_values_to_the_edge() -> None:
    scale = svg.Scale(-1.7e308, 1.7e308, 0.0, 100.0)
    assert scale(0.0) == pytest.approx(50.0)
    assert math.isfinite(scale(1.7e308))
    clamped = svg.Scale(0.0, 1.0, 0.0, 100.0)
    assert clamped(1e300) == pytest.approx(102.0) and clamped(-1e300) == pytest.approx(-2.0)
    assert svg.Scale(0.0, 5e-324, 0.0, 100.0)(0.0) == pytest.approx(50.0)


def test_ids_keep_only_safe_characters() -> None:
    assert svg.safe_id('a"><b c') == "abc" and svg.safe_id("") == "c"


# -- the charts, on generated data -------------------------------------------------------

DEVICE_NAMES = st.lists(hostile, min_size=1, max_size=3)


def _devices(names: Sequence[str]) -> list[DeviceInfo]:
    kinds = (Component.GPU, Component.CPU, Component.RAM)
    return [
        DeviceInfo(f"dev{i}{name}", kinds[i % 3], name, Method.MEASURED, "src", 0.05)
        for i, name in enumerate(names)
    ]


@settings(max_examples=100, deadline=None)
@given(
    DEVICE_NAMES,
    st.lists(
        st.one_of(st.none(), st.floats(0, 1e12), st.floats(-1e3, 1e3)), min_size=1, max_size=30
    ),
    st.lists(hostile, max_size=4),
)
def test_power_chart_is_well_formed(
    names: list[str], energies: list[float | None], span_names: list[str]
) -> None:
    devs = _devices(names)
    data = [
        Sample(d.device_id, T0 + 10 * i, T0 + 10 * (i + 1), e, e)
        for d in devs
        for i, e in enumerate(energies)
    ]
    end = T0 + 10 * len(energies)
    spans = [
        SpanRecord(n.replace("/", "|"), T0 + k, end if k % 2 else None, {})
        for k, n in enumerate(span_names)
    ]
    out = charts.power_chart(footprint(), data, devs, spans, salt=names[0])
    assert out is not None
    well_formed(out)
    for name in span_names:
        if "<" in name:
            assert name not in out


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            hostile,
            st.one_of(values, st.just(math.nan), st.just(math.inf), st.booleans()),
            st.one_of(values, st.just(-math.inf)),
            st.one_of(st.none(), st.booleans()),
        ),
        max_size=25,
    ),
    hostile,
    hostile,
)
def test_pareto_chart_is_well_formed(
    rows: list[tuple[str, object, object, bool | None]], x_name: str, y_name: str
) -> None:
    board = [
        {"run_id": f"r{i}", "name": name, "objectives": {x_name: x, y_name + "_": y}, "pareto": p}
        for i, (name, x, y, p) in enumerate(rows)
    ]
    out = charts.pareto_chart(board, [(x_name, "max"), (y_name + "_", "min")])
    if out is None:
        return
    well_formed(out)
    for name, *_ in rows:
        if "<" in name:
            assert name not in out
