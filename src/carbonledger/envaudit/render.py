"""Views of an audit: terminal text and an HTML section (``to_dict`` is on the model).

Every name and path is shown through :func:`safe` (terminal) or the HTML kit's escaping.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from carbonledger.envaudit.model import LOWER_BOUND_NOTE, EnvAudit

__all__ = ["format_bytes", "html_section", "render_text", "safe"]

TOP_N = 15


def safe(text: Any) -> str:
    """Text for a terminal: control characters as ``?``; a leading formula sign quoted."""
    shown = "".join("?" if unicodedata.category(ch).startswith("C") else ch for ch in str(text))
    return "'" + shown if shown[:1] in ("=", "+", "@") else shown


def format_bytes(size: int | float | None) -> str:
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover


def _share(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0%}"


def render_text(audit: EnvAudit, *, top: int = TOP_N) -> str:
    """A few lines for ``carbonledger show``: totals, the heaviest unused distributions."""
    used = [d for d in audit.distributions if d.used]
    lines = [
        "Environment audit (lower bound of what is unused)",
        f"  distributions: {len(audit.distributions)} installed, {len(used)} used "
        f"({format_bytes(audit.installed_bytes)} installed, "
        f"{format_bytes(audit.unused_bytes)} never used = {_share(audit.unused_share)})",
    ]
    so_total = sum(d.shared_object_bytes for d in audit.distributions)
    so_mapped = sum(d.mapped_shared_object_bytes for d in audit.distributions)
    if so_total:
        lines.append(
            f"  shared objects: {format_bytes(so_mapped)} of {format_bytes(so_total)} mapped"
        )
    if audit.unused_cuda:
        cuda_bytes = sum(d.installed_bytes or 0 for d in audit.unused_cuda)
        lines.append(
            f"  CUDA wheels never loaded: {len(audit.unused_cuda)} ({format_bytes(cuda_bytes)})"
        )
    if audit.import_time_s is not None:
        lines.append(f"  time spent importing: {audit.import_time_s:.2f} s (measured)")
    unused = list(audit.unused)
    if unused:
        lines.append("  never used (largest first):")
        width = max(len(safe(d.name)) for d in unused[:top])
        for d in unused[:top]:
            lines.append(
                f"    {safe(d.name):<{width}}  {safe(d.version):<12} "
                f"{format_bytes(d.installed_bytes):>10}"
            )
        if len(unused) > top:
            rest = sum(d.installed_bytes or 0 for d in unused[top:])
            lines.append(f"    ... and {len(unused) - top} more ({format_bytes(rest)})")
    if audit.unknown_size:
        names = ", ".join(safe(d.name) for d in audit.unknown_size[:5])
        lines.append(f"  size unknown (no RECORD): {names}")
    lines.append(
        f"  seen: {audit.python_processes} Python interpreter(s), "
        f"{audit.mapped_processes} process map(s); {audit.modules_seen} modules"
    )
    for w in audit.warnings:
        lines.append(f"  note: {safe(w)}")
    lines.append(f"  note: {LOWER_BOUND_NOTE}")
    return "\n".join(lines)


def _rows(audit: EnvAudit, top: int) -> list[list[str]]:
    from carbonledger.report import htmlkit as kit

    rows = []
    for d in audit.distributions[:top]:
        so = (
            f"{format_bytes(d.mapped_shared_object_bytes)} of {format_bytes(d.shared_object_bytes)}"
            if d.shared_objects
            else "—"
        )
        rows.append(
            [
                kit.e(d.name) + (" <span class='tag'>CUDA</span>" if d.cuda else ""),
                kit.e(d.version),
                kit.e(format_bytes(d.installed_bytes)),
                "yes" if d.used else "<strong>no</strong>",
                kit.e(", ".join(d.evidence) or "—"),
                kit.e(so),
            ]
        )
    return rows


def html_section(audit: EnvAudit, *, top: int = 40, extra: Sequence[str] = ()) -> str:
    """An HTML ``<h3>`` section; every name, version, path and warning is escaped."""
    from carbonledger.report import htmlkit as kit

    cards = [
        (
            "installed",
            format_bytes(audit.installed_bytes),
            f"{len(audit.distributions)} distributions",
        ),
        (
            "never used",
            format_bytes(audit.unused_bytes),
            f"{_share(audit.unused_share)} of installed; {len(audit.unused)} distributions",
        ),
        (
            "import time",
            "—" if audit.import_time_s is None else f"{audit.import_time_s:.2f} s",
            audit.import_time_method,
        ),
    ]
    card_html = "".join(
        f'<div class="card"><div class="label">{kit.e(label)}</div>'
        f'<div class="value">{kit.e(value)}</div><div class="detail">{kit.e(detail)}</div></div>'
        for label, value, detail in cards
    )
    head = ["distribution", "version", "installed", "used", "evidence", "shared objects mapped"]
    more = len(audit.distributions) - top
    notes = [*audit.warnings, LOWER_BOUND_NOTE, *extra]
    folders = ", ".join(f"<code>{kit.e(s)}</code>" for s in audit.site_dirs) or "—"
    return (
        "<h3>Environment audit</h3>"
        f"<p class='muted'>Site folders: {folders}. "
        f"Sizes from each distribution's RECORD. {kit.badge('measured')} lower bound.</p>"
        f'<div class="cards">{card_html}</div>'
        + kit.table(head, _rows(audit, top), numeric=(2,))
        + (f"<p class='muted'>… and {more} smaller distributions.</p>" if more > 0 else "")
        + '<div class="notes"><strong>Caveats</strong><ul>'
        + "".join(f"<li>{kit.e(n)}</li>" for n in notes)
        + "</ul></div>"
    )
