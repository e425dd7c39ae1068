"""Splitting one sample interval's energy over the requests in flight (pure maths).

A sample says a device used ``energy_j`` between ``t0`` and ``t1``; power is taken as even
inside the sample (the sampler's resolution). The interval is cut at every request start
and end inside it; each piece's energy goes to the requests in flight during it:

- ``time-share``: split evenly among them (so over the whole interval each request is
  charged in proportion to its overlap with it, divided by the concurrency it ran at);
- ``tokens``: split by each request's token rate (its tokens over its duration), so a
  request is charged in proportion to the tokens it produced, as ML.ENERGY charges
  energy per output token; requests without tokens get nothing while another request
  in the piece has tokens, and an even split when none has;

and a piece with no request in flight is *idle*: it goes to its own bucket, never to a
request. The parts always add up to ``energy_j``. See docs/methodology/serving.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "METHODS",
    "TIME_SHARE",
    "TOKENS",
    "Piece",
    "Span",
    "pieces",
    "split_piece",
]

TIME_SHARE = "time-share"
TOKENS = "tokens"
METHODS = (TIME_SHARE, TOKENS)


@dataclass(frozen=True)
class Span:
    """One request's time in flight; ``t_end`` None: still in flight (beyond the interval)."""

    request_id: int
    t_start: float
    t_end: float | None
    tokens: int | None = None

    def rate(self) -> float | None:
        """Tokens per second over the request's life; None when unknown."""
        if self.tokens is None or self.t_end is None:
            return None
        duration = self.t_end - self.t_start
        if duration <= 0:
            return float(self.tokens) if self.tokens > 0 else 0.0
        return self.tokens / duration


@dataclass(frozen=True)
class Piece:
    """A stretch of one sample with a constant set of requests in flight."""

    t0: float
    t1: float
    energy_j: float
    request_ids: tuple[int, ...] = field(default=())

    @property
    def idle(self) -> bool:
        return not self.request_ids


def pieces(t0: float, t1: float, energy_j: float, spans: Sequence[Span]) -> list[Piece]:
    """The sample [t0, t1) cut where requests start or end; energy pro-rated by time.

    A zero-length sample is one piece holding the requests in flight at ``t0``.
    """
    if t1 <= t0:
        ids = tuple(
            s.request_id for s in spans if s.t_start <= t0 and (s.t_end is None or s.t_end > t0)
        )
        return [Piece(t0, t1, energy_j, ids)]
    cuts = {t0, t1}
    for s in spans:
        if t0 < s.t_start < t1:
            cuts.add(s.t_start)
        if s.t_end is not None and t0 < s.t_end < t1:
            cuts.add(s.t_end)
    ordered = sorted(cuts)
    length = t1 - t0
    out: list[Piece] = []
    for u, v in itertools.pairwise(ordered):
        mid = (u + v) / 2
        ids = tuple(
            s.request_id for s in spans if s.t_start <= mid and (s.t_end is None or s.t_end > mid)
        )
        out.append(Piece(u, v, energy_j * (v - u) / length, ids))
    # fsum of the parts may differ from energy_j by rounding: put the residue on the last
    residue = energy_j - math.fsum(p.energy_j for p in out)
    if out and residue:
        last = out[-1]
        out[-1] = Piece(last.t0, last.t1, last.energy_j + residue, last.request_ids)
    return out


def split_piece(piece: Piece, spans: Sequence[Span], method: str) -> dict[int, float]:
    """Fractions of ``piece`` for each request in it (they sum to 1; empty when idle)."""
    ids = piece.request_ids
    if not ids:
        return {}
    if method == TOKENS:
        by_id = {s.request_id: s for s in spans}
        rates = {i: (by_id[i].rate() if i in by_id else None) for i in ids}
        weights = {i: max(0.0, r) for i, r in rates.items() if r is not None}
        total = math.fsum(weights.values())
        if total > 0:
            return {i: weights.get(i, 0.0) / total for i in ids}
    return {i: 1.0 / len(ids) for i in ids}
