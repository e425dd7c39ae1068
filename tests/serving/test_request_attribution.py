"""The split of one sample over the requests in flight: parts add up, rules hold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.serving.attribution import TIME_SHARE, TOKENS, Span, pieces, split_piece


def _charged(
    t0: float, t1: float, e: float, spans: list[Span], method: str
) -> tuple[dict[int, float], float]:
    out: dict[int, float] = {}
    idle = 0.0
    for p in pieces(t0, t1, e, spans):
        if p.idle:
            idle += p.energy_j
            continue
        for i, f in split_piece(p, spans, method).items():
            out[i] = out.get(i, 0.0) + p.energy_j * f
    return out, idle


def test_time_share_splits_evenly_by_overlap() -> None:
    # 10 J over [0, 10): request 1 all along, request 2 over [5, 10)
    spans = [Span(1, -1.0, None), Span(2, 5.0, 12.0)]
    charged, idle = _charged(0.0, 10.0, 10.0, spans, TIME_SHARE)
    assert idle == 0
    assert charged[1] == pytest.approx(5.0 + 2.5)
    assert charged[2] == pytest.approx(2.5)


def test_idle_piece_goes_to_the_bucket() -> None:
    charged, idle = _charged(0.0, 10.0, 10.0, [Span(1, 2.0, 4.0)], TIME_SHARE)
    assert charged[1] == pytest.approx(2.0)
    assert idle == pytest.approx(8.0)


def test_tokens_weight_by_token_rate() -> None:
    spans = [Span(1, 0.0, 10.0, tokens=30), Span(2, 0.0, 10.0, tokens=10), Span(3, 0.0, 10.0)]
    charged, _ = _charged(0.0, 10.0, 8.0, spans, TOKENS)
    assert charged[1] == pytest.approx(6.0)
    assert charged[2] == pytest.approx(2.0)
    assert charged.get(3, 0.0) == 0.0


def test_tokens_fall_back_to_even_without_tokens() -> None:
    spans = [Span(1, 0.0, 10.0), Span(2, 0.0, 10.0)]
    charged, _ = _charged(0.0, 10.0, 8.0, spans, TOKENS)
    assert charged == {1: pytest.approx(4.0), 2: pytest.approx(4.0)}


span_st = st.builds(
    lambda i, a, d, open_, tok: Span(i, a, None if open_ else a + d, tok),
    st.integers(0, 10_000),
    st.floats(-5, 15),
    st.floats(0, 10),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 1000)),
)


@given(
    st.floats(0, 10),
    st.floats(0, 10),
    st.floats(0, 1e4),
    st.lists(span_st, max_size=12, unique_by=lambda s: s.request_id),
    st.sampled_from([TIME_SHARE, TOKENS]),
)
def test_parts_always_add_up(t0: float, d: float, e: float, spans: list[Span], method: str) -> None:
    charged, idle = _charged(t0, t0 + d, e, spans, method)
    assert all(v >= 0 for v in charged.values())
    assert math.fsum(charged.values()) + idle == pytest.approx(e, rel=1e-9, abs=1e-9)
