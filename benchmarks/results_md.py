"""Replace one benchmark's section of ``RESULTS.md``, keeping every other section.

Each benchmark that writes to ``RESULTS.md`` owns the text between its two markers,
``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``. A file without them gets the section
appended; a file that does not exist is created with it alone.
"""

from __future__ import annotations

from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    """The begin and end markers of section ``name``."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def replace_section(old: str, name: str, body: str) -> str:
    """``old`` with section ``name`` replaced by ``body`` (appended when absent)."""
    begin, end = markers(name)
    text = f"{begin}\n{body.strip(chr(10))}\n{end}"
    start = old.find(begin)
    stop = old.find(end, start + len(begin)) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        return old[:start] + text + old[stop + len(end) :]
    if not old.strip():
        return text + "\n"
    return old.rstrip("\n") + "\n\n" + text + "\n"


def write_section(path: Path, name: str, body: str) -> None:
    """Rewrite ``path`` with section ``name`` replaced by ``body``."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(replace_section(old, name, body), encoding="utf-8")
