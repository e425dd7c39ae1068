from __future__ import annotations

from carbonledger.envaudit.model import DistUsage, EnvAudit
from carbonledger.envaudit.render import format_bytes, html_section, render_text, safe

EVIL = "<script>alert(1)</script>"


def audit() -> EnvAudit:
    return EnvAudit(
        site_dirs=(f"/env/{EVIL}",),
        distributions=(
            DistUsage("used-one", "1", 1_000_000, True, ("imported",)),
            DistUsage(EVIL, "\x1b[31m1", 2_500_000, False),
            DistUsage("nvidia-cublas-cu12", "12", 400_000_000, False, cuda=True),
        ),
        mode="process-tree",
        import_time_s=0.25,
        import_time_method="measured",
        warnings=(f"warning {EVIL}",),
    )


def test_text_names_unused_and_totals() -> None:
    text = render_text(audit())
    assert "3 installed, 1 used" in text
    assert "CUDA wheels never loaded: 1 (400.0 MB)" in text
    assert "nvidia-cublas-cu12" in text and "\x1b" not in text
    assert "lower bound" in text
    assert "0.25 s" in text


def test_html_escapes_every_name() -> None:
    html = html_section(audit())
    assert EVIL not in html
    assert "&lt;script&gt;" in html
    assert "Environment audit" in html


def test_safe_and_bytes() -> None:
    assert safe("a\x07b") == "a?b"
    assert safe("=cmd()") == "'=cmd()"
    assert format_bytes(None) == "unknown"
    assert format_bytes(999) == "999 B"
    assert format_bytes(1_500_000) == "1.5 MB"
