"""benchmarks/results_md.py: one benchmark rewrites its own section of RESULTS.md only."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from hypothesis import given
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "results_md", REPO / "benchmarks" / "results_md.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


results_md = _load()
TEXT = st.text(alphabet=st.sampled_from("ab #|\n-"), max_size=40)


@given(before=TEXT, old_body=TEXT, after=TEXT, new_body=TEXT)
def test_replacing_a_section_keeps_everything_around_it(
    before: str, old_body: str, after: str, new_body: str
) -> None:
    begin, end = results_md.markers("x")
    old = f"{before}{begin}\n{old_body}\n{end}{after}"
    new = results_md.replace_section(old, "x", new_body)
    assert new.startswith(before) and new.endswith(after)
    assert new == f"{before}{begin}\n{new_body.strip(chr(10))}\n{end}{after}"
    assert results_md.replace_section(new, "x", new_body) == new  # idempotent


def test_a_missing_section_is_appended_and_other_sections_are_untouched(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    results_md.write_section(path, "a", "## A\n1")
    results_md.write_section(path, "b", "## B\n2")
    results_md.write_section(path, "a", "## A\n3")
    assert path.read_text() == (
        "<!-- a:begin -->\n## A\n3\n<!-- a:end -->\n\n<!-- b:begin -->\n## B\n2\n<!-- b:end -->\n"
    )


def test_the_committed_results_keep_every_benchmark_section() -> None:
    text = (REPO / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    for name in ("run_all", "ledger_ingest"):
        begin, end = results_md.markers(name)
        assert text.count(begin) == 1 and text.count(end) == 1
        assert text.index(begin) < text.index(end)
