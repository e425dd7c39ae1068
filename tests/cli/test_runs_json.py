"""``runs --json`` writes each row with the json module's C scalar encoders: the bytes
are those of ``carbonledger.jsonutil.dumps`` (indent 2, non-finite numbers as null)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.cli.runs import _indented
from carbonledger.jsonutil import dumps

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(), inner, max_size=4),
        st.dictionaries(st.integers(), inner, max_size=2),  # keys the general encoder converts
    ),
    max_leaves=20,
)


@settings(max_examples=500)
@given(st.dictionaries(st.text(), values, max_size=8))
def test_rows_are_written_as_the_general_encoder_writes_them(row: dict[str, Any]) -> None:
    expected = "\n".join("  " + line for line in dumps(row).split("\n"))
    assert "  " + _indented(row, "  ") == expected
