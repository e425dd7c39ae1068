"""The HTML report: escaped everywhere, self-contained, with inline SVG charts."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from factories import (
    HOSTILE,
    devices,
    footprint,
    hostile_input,
    report_input,
    samples,
    series,
)

from carbonledger.report import charts, html
from carbonledger.report.base import ReportInput, render
from carbonledger.report.pareto import leaderboard


class Collector(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Collector:
    collector = Collector()
    collector.feed(page)
    collector.close()
    return collector


def assert_self_contained(page: str) -> None:
    doc = parse(page)
    for tag, attrs in doc.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed", "img"), tag
        for name in ("src", "href", "xlink:href", "action", "data"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "javascript:")), (tag, value)
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", page, re.I)
    assert not re.search(r"url\(\s*[\"']?(?:https?:)?//", page, re.I)
    assert "@import" not in page
    assert not re.search(r"<link[^>]+stylesheet", page, re.I)


def test_hostile_strings_are_escaped_everywhere() -> None:
    page = html.render(hostile_input())
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    doc = parse(page)
    assert all(tag != "script" for tag, _ in doc.tags)
    text = "".join(doc.text)
    # each hostile string is shown, as text: name, tag, metric, span, host, settings, notes
    for shown in (
        f"net{HOSTILE}",
        f"k{HOSTILE}=v{HOSTILE}",
        f"acc{HOSTILE}",
        f"epoch{HOSTILE}/eval",
        "python '<script>alert(\"x\")</script>'",
        f"NVIDIA A100-SXM4-80GB{HOSTILE}",
        f"table{HOSTILE}",
        f"server chassis{HOSTILE}",
    ):
        assert shown in text, shown
    assert_self_contained(page)


def test_report_is_self_contained_and_complete() -> None:
    data = report_input()
    page = render("html", data)
    assert page.startswith("<!DOCTYPE html>")
    assert_self_contained(page)
    for heading in (
        "Summary",
        "Methods and sources",
        "Spans",
        "Metrics",
        "Embodied emissions",
        "Environment",
        "How to reproduce",
    ):
        assert f"<h3>{heading}</h3>" in page
    assert "@media print" in page
    assert "rapl:package-0" in page and "measured" in page and "modeled" in page
    assert "python train.py --epochs 2" in page
    assert "carbonledger report r0001abcd --format html" in page
    assert "torch" in page  # package versions from the host facts


def test_charts_are_inline_svg() -> None:
    page = html.render(report_input())
    assert page.count("<svg") >= 4  # power, energy, intensity, carbon
    without_series = html.render(replace(report_input(), series=None))
    assert without_series.count("<svg") >= 3
    assert "Charts are not drawn" not in page


def test_charts_need_no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # importing it would fail
    page = html.render(report_input())
    assert page.count("<svg") >= 4
    assert "Chart could not be drawn" not in page and "matplotlib" not in page


def test_every_chart_is_well_formed_xml_with_unique_ids() -> None:
    import xml.etree.ElementTree as ET

    a, b = footprint(run_id="aaaa1111"), footprint(run_id="bbbb2222", name=f"vit{HOSTILE}")
    data = replace(
        report_input(),
        footprints=[a, b],
        samples={"aaaa1111": samples(devices(2)), "bbbb2222": samples(devices(2))},
    )
    page = html.render(data)
    svgs = re.findall(r"<svg\b.*?</svg>", page, re.S)
    assert len(svgs) >= 6
    ids: list[str] = []
    for svg in svgs:
        root = ET.fromstring(svg)
        ids += [el.get("id") or "" for el in root.iter() if el.get("id")]
    assert ids and len(ids) == len(set(ids))  # hatch patterns of two runs do not collide


def test_a_failing_chart_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("<b>bad</b>")

    monkeypatch.setattr(charts, "power_chart", boom)
    page = html.render(report_input())
    assert "Chart could not be drawn: &lt;b&gt;bad&lt;/b&gt;" in page


def test_missing_numbers_show_as_unknown_not_zero() -> None:
    fp = footprint(
        energy_j=None, operational_g=None, embodied_g=None, zone=None, intensity_method="default"
    )
    page = html.render(ReportInput(footprints=[fp]))
    assert "unknown" in page
    assert "0.000 kWh" not in page
    assert "world-average default" in page


def test_several_runs_get_an_overview() -> None:
    a, b = footprint(run_id="aaaa1111"), footprint(run_id="bbbb2222", name="vit")
    page = html.render(ReportInput(footprints=[a, b]))
    assert "<h2>Overview</h2>" in page and 'href="#run-1"' in page
    assert page.count("<section") == 2


def test_leaderboard_page() -> None:
    runs = [
        {"run_id": "r1", "name": f"one{HOSTILE}", "total_kgco2e": 1.0, "metrics": {"acc": 0.9}},
        {"run_id": "r2", "name": "two", "total_kgco2e": 2.0, "metrics": {"acc": 0.8}},
        {"run_id": "r3", "name": "three", "total_kgco2e": 0.5, "metrics": {}},
    ]
    objectives = [("acc", "max"), ("total_kgco2e", "min")]
    rows = leaderboard(runs, objectives)
    page = html.render_leaderboard(rows, objectives, skipped=[{"run_id": "x", "error": HOSTILE}])
    assert "<script" not in page.lower()
    assert_self_contained(page)
    assert "missing acc" in page and "Runs left out" in page
    assert page.count("<svg") == 1


# -- units and intervals -----------------------------------------------------------------

# an interval as the page shows it: two numbers, then one unit (en dash between them)
INTERVAL = re.compile(r"(-?[\d,]+\.\d+)–(-?[\d,]+\.\d+) ([A-Za-z0-9]+)")
MIXED = re.compile(r"\d (?:J|Wh|kWh|mgCO2e|gCO2e|kgCO2e) ?[–-] ?[\d,.]+ (?:J|Wh|kWh|\w*CO2e)")


def _text(page: str) -> str:
    return "\n".join(parse(page).text)


def test_intervals_use_one_unit_for_both_ends() -> None:
    # 3,500 J ± 7 % straddles 1 Wh (3,600 J): each end on its own would take another unit
    fp = footprint(energy_j=3500.0, duration_s=60.0)
    fp = replace(fp, total_interval_g=(0.9, 1.2))  # straddles 1 g the same way
    text = _text(html.render(ReportInput(footprints=[fp])))
    assert "interval 0.904–1.040 Wh" in text
    assert "interval 0.900–1.200 gCO2e" in text
    assert not MIXED.search(text), MIXED.search(text)
    units = {m.group(3) for m in INTERVAL.finditer(text)}
    assert units and units <= {"J", "Wh", "kWh", "MWh", "mgCO2e", "gCO2e", "kgCO2e", "tCO2e"}


def test_span_and_sci_intervals_are_shown() -> None:
    fp = footprint()
    spans = tuple(
        replace(s, energy_interval_j=(3.0e6, 4.0e6), total_interval_g=(0.5, 2.5)) for s in fp.spans
    )
    assert fp.functional_unit is not None
    unit = replace(fp.functional_unit, interval_g_per_unit=(4.0e-5, 6.0e-5))
    page = html.render(ReportInput(footprints=[replace(fp, spans=spans, functional_unit=unit)]))
    text = _text(page)
    assert text.count("0.833–1.111 kWh") == 2  # both spans, in one unit
    assert text.count("0.500–2.500 gCO2e") == 2
    assert "SCI per images" in text
    assert "interval 0.040–0.060 mgCO2e" in text
    assert not MIXED.search(text)


def test_unknown_intervals_are_not_zero() -> None:
    fp = footprint(energy_j=None, operational_g=None, embodied_g=None, zone=None)
    text = _text(html.render(ReportInput(footprints=[fp])))
    assert "interval" not in text.split("Methods and sources")[0]
    assert "0.000–0.000" not in text


def test_a_tiny_run_is_not_shown_in_kwh() -> None:
    # a run of seconds: 11.7 J, a few milligrams
    fp = footprint(energy_j=11.7, duration_s=20.0, embodied_g=0.001)
    data = report_input(fp)
    data = replace(data, samples={"r0001abcd": samples(devices(2), duration_s=20.0)})
    page = html.render(data)
    assert not re.search(r"\b0\.0\d* k?Wh", page), re.search(r"\b0\.0\d* k?Wh", page)
    assert not re.search(r"\b0\.0\d* k?g?CO2e", page)
    assert "11.700 J" in _text(page)
    assert "IT energy (J)" in page  # the energy chart's axis
    assert ">mgCO2e<" in page or "mgCO2e</text>" in page  # the carbon chart's axis


def test_notes_list_every_warning_escaped() -> None:
    fp = replace(footprint(), warnings=("first <b>note</b>", "second & last"))
    page = html.render(ReportInput(footprints=[fp]))
    assert "<strong>Notes</strong>" in page
    assert "<li>first &lt;b&gt;note&lt;/b&gt;</li>" in page
    assert "<li>second &amp; last</li>" in page


def test_a_short_run_is_marked_on_the_intensity_chart() -> None:
    fp = footprint(energy_j=11.7, duration_s=20.0)
    svg = charts.intensity_chart(series(), fp)
    assert svg is not None
    assert "the run: " in svg and "UTC (20 s), one step: " in svg and "g/kWh" in svg
    long_svg = charts.intensity_chart(series(), footprint())
    assert long_svg is not None and "one step:" not in long_svg
