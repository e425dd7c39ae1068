"""Headless Chromium renders the HTML report: the screenshot is not blank, and every
inline SVG chart is laid out (non-empty boxes for its plot marks, axes and legend) with no
console error."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from factories import report_input

from carbonledger.report import html

CHROMIUM = "/usr/bin/chromium"

pytestmark = [pytest.mark.chromium, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if not Path(CHROMIUM).exists():
        from tests.engines import unavailable

        unavailable("needs Debian's chromium")


def png_rows(data: bytes) -> tuple[int, int, list[bytes], int]:
    """(width, height, unfiltered rows, bytes per pixel) of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6), (depth, color)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def screenshot(page: Path, out: Path, tmp: Path, size: str = "1200,2000") -> Path:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}",
        f"--screenshot={out}",
        f"--window-size={size}",
        "--hide-scrollbars",
        page.as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert out.exists(), "chromium wrote no screenshot"
    return out


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(html.render(report_input()), encoding="utf-8")
    png = screenshot(page, tmp_path / "shot.png", tmp_path, size="800,1000")
    width, height, rows, bpp = png_rows(png.read_bytes())
    assert (width, height) == (800, 1000)
    # sample every 4th row and pixel: the page is neither blank nor a single colour
    grey = [sum(row[x : x + 3]) / 3 for row in rows[::4] for x in range(0, len(row), 4 * bpp)]
    mean = sum(grey) / len(grey)
    variance = sum((g - mean) ** 2 for g in grey) / len(grey)
    assert variance > 100, variance
    dark = sum(1 for g in grey if g < 100) / len(grey)
    assert 0.005 < dark < 0.5, dark  # some ink (text, charts), mostly paper
    colours = {row[x : x + 3] for row in rows[::8] for x in range(0, len(row), 8 * bpp)}
    assert len(colours) > 20  # charts and badges add colour


# Test harness only (the report itself has no script): records errors from the first
# moment, then measures every chart once the page is laid out.
_CATCH = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message)));
const realError = console.error;
console.error = (...a) => { window.__errors.push(a.join(" ")); realError(...a); };
</script>"""
_MEASURE = """<script>
const out = [...document.querySelectorAll("figure > svg")].map(svg => {
  const box = svg.getBoundingClientRect();
  const parts = [...svg.querySelectorAll("path, rect, line, circle, polyline, text")];
  const empty = parts.filter(el => {
    const b = el.getBBox();
    return el.tagName !== "line" && el.tagName !== "path" && b.width <= 0 && b.height <= 0;
  }).length;
  const marks = [...svg.querySelectorAll(".line, .bar, .point, .errorbar")].map(el => {
    const b = el.getBBox(); return [b.width, b.height];
  });
  const texts = [...svg.querySelectorAll("text")].map(el => el.getBBox().width);
  return {label: svg.getAttribute("aria-label"), width: box.width, height: box.height,
          marks, texts, empty, title: svg.querySelector("title") !== null};
});
const pre = document.createElement("pre");
pre.id = "chart-result";
pre.textContent = JSON.stringify({charts: out, errors: window.__errors});
document.body.appendChild(pre);
</script>"""


def test_svg_charts_lay_out_without_errors(tmp_path: Path) -> None:
    text = html.render(report_input())
    assert "<script" not in text.lower()  # the report has none; the harness adds its own
    page = tmp_path / "harness.html"
    page.write_text(
        text.replace("<head>", "<head>" + _CATCH, 1).replace("</body>", _MEASURE + "</body>", 1),
        encoding="utf-8",
    )
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,2000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="chart-result">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    from html import unescape

    result = json.loads(unescape(found.group(1)))
    assert result["errors"] == [], result["errors"]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "rror" in line or "Uncaught" in line], console
    charts = result["charts"]
    labels = {c["label"] for c in charts}
    assert {
        "Power over time per component",
        "IT energy by component",
        "Grid carbon intensity over time with the run",
        "Operational and embodied emissions",
    } <= labels, labels
    for chart in charts:
        assert chart["title"], chart
        assert chart["width"] > 200 and chart["height"] > 60, chart
        assert chart["empty"] == 0, chart  # every text, bar, point and band has a size
        assert chart["marks"], chart  # something was drawn in the plot area
        assert all(w > 0 or h > 0 for w, h in chart["marks"]), chart
        assert all(w > 0 for w in chart["texts"]), chart  # ticks, labels, legend are set


def test_chromium_is_found() -> None:
    assert shutil.which("chromium") or Path(CHROMIUM).exists()
