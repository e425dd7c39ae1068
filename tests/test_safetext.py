"""Hostile text cannot act on a terminal or a spreadsheet (issue 9, defect 8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.safetext import FORMULA_PREFIXES, csv_cell, term


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),  # retitle the terminal
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear the screen
        ("a\nb\r\tc", "a\\nb\\r\\tc"),  # new lines and tabs break tables
        ("x\x9b31m", "x\\x9b31m"),  # C1 control sequence introducer
        ("abc\u202edcba", "abc\\u202edcba"),  # bidi override (Trojan Source)
        ("\udcff name", "\\xff name"),  # a byte that was not UTF-8
        ("plain name-1 é ü 中文", "plain name-1 é ü 中文"),
    ],
)
def test_term_escapes_what_acts_on_a_terminal(raw: str, shown: str) -> None:
    assert term(raw) == shown


@given(st.text())
def test_term_output_is_one_printable_line(text: str) -> None:
    out = term(text)
    assert "\n" not in out and "\r" not in out and "\x1b" not in out
    assert all(not (0xD800 <= ord(c) <= 0xDFFF) for c in out)
    out.encode("utf-8")  # always printable on a UTF-8 terminal


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_csv_cell_neutralises_formula_prefixes(prefix: str) -> None:
    assert csv_cell(prefix + "SUM(A1)") == "'" + prefix + "SUM(A1)"


@pytest.mark.parametrize("value", ["name", "", "a=b", 1.5, -2.0, 0, None, True])
def test_csv_cell_keeps_other_values(value: object) -> None:
    assert csv_cell(value) == value
