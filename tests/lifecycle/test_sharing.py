"""Runs overlapping on one host share its energy: the split, its edge cases and its bound."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.lifecycle.footprint import EmbodiedItem
from carbonledger.lifecycle.pricing import PUEChoice, footprint_for_run, price_run
from carbonledger.lifecycle.sharing import (
    Claim,
    OtherRun,
    find_overlapping_runs,
    host_key,
    share_samples,
    split_interval,
)
from carbonledger.records import RunRecord, RunStatus, Sample, Scope, SpanRecord
from carbonledger.sensors.fake import fake_device
from carbonledger.store import open_ledger
from carbonledger.store.base import Ledger

T0 = 1_700_000_000.0
CPU = "rapl:package-0"
GPU = "nvml:GPU-0"


def samples(
    start: float,
    end: float,
    step: float,
    power_w: float = 100.0,
    *,
    device: str = CPU,
    share: float = 1.0,
) -> list[Sample]:
    """Back-to-back samples of a device at constant power from T0+start to T0+end."""
    out = []
    t = start
    while t < end - 1e-12:
        u = min(end, t + step)
        host = power_w * (u - t)
        out.append(Sample(device, T0 + t, T0 + u, host, host * share))
        t = u
    return out


def energy(rows: Sequence[Sample], device: str | None = None) -> float:
    return math.fsum(
        s.energy_j
        for s in rows
        if s.energy_j is not None and (device is None or s.device_id == device)
    )


# -- split_interval ------------------------------------------------------------------------
def test_machine_scope_runs_split_evenly() -> None:
    parts = split_interval({"a": Claim(), "b": Claim(), "c": Claim()})
    assert parts == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})


def test_process_share_is_kept_and_machine_runs_take_the_rest() -> None:
    parts = split_interval({"p": Claim(share=0.3), "m1": Claim(), "m2": Claim()})
    assert parts == pytest.approx({"p": 0.3, "m1": 0.35, "m2": 0.35})


def test_oversubscribed_measured_shares_are_scaled_to_fit() -> None:
    parts = split_interval({"p": Claim(share=0.8), "q": Claim(share=0.7), "m": Claim()})
    assert parts["p"] + parts["q"] == pytest.approx(1.0)
    assert parts["p"] / parts["q"] == pytest.approx(0.8 / 0.7)
    assert parts["m"] == 0.0


def test_weights_split_the_rest_in_proportion() -> None:
    parts = split_interval({"a": Claim(weight=3.0), "b": Claim(weight=1.0)})
    assert parts == pytest.approx({"a": 0.75, "b": 0.25})


claims = st.dictionaries(
    st.text(min_size=1, max_size=4),
    st.builds(
        Claim,
        share=st.none() | st.floats(-0.5, 1.5, allow_nan=False),
        weight=st.floats(0.0, 10.0, allow_nan=False),
    ),
    min_size=1,
    max_size=6,
)


@given(claims)
def test_split_never_gives_out_more_than_the_device(cs: dict[str, Claim]) -> None:
    parts = split_interval(cs)
    assert set(parts) == set(cs)
    assert all(v >= 0.0 for v in parts.values())
    assert math.fsum(parts.values()) <= 1.0 + 1e-9
    if any(c.share is None for c in cs.values()):
        assert math.fsum(parts.values()) == pytest.approx(1.0)  # the open claims take the rest


# -- share_samples -------------------------------------------------------------------------
def test_a_run_alone_is_unchanged() -> None:
    own = samples(0, 10, 1.0)
    result = share_samples("a", Scope.MACHINE, own, [])
    assert result.alone and result.method == "alone" and result.shared_with == ()
    assert all(x is y for x, y in zip(result.samples, own, strict=True))
    # another run on other devices or at other times changes nothing either
    later = OtherRun("b", Scope.MACHINE, samples(20, 30, 1.0))
    gpu_only = OtherRun("c", Scope.MACHINE, samples(0, 10, 1.0, device=GPU))
    result = share_samples("a", Scope.MACHINE, own, [later, gpu_only])
    assert result.alone and all(x is y for x, y in zip(result.samples, own, strict=True))


def test_two_machine_runs_fully_overlapping_each_take_half() -> None:
    a, b = samples(0, 10, 1.0), samples(0, 10, 1.0)
    ra = share_samples("a", Scope.MACHINE, a, [OtherRun("b", Scope.MACHINE, b)], duration_s=10)
    assert energy(ra.samples) == pytest.approx(500.0)
    assert ra.shared_with == ("b",) and ra.method == "even"
    assert ra.shared_s == pytest.approx(10.0)
    assert ra.energy_alone_j == pytest.approx(1000.0)
    assert ra.embodied_factor == pytest.approx(0.5)
    assert any("shared this host" in w and "b" in w for w in ra.warnings)


def test_partial_overlap_inside_one_sample_is_pro_rated() -> None:
    a = samples(0, 10, 1.0)  # 100 J per 1 s sample
    b = samples(2.5, 7.5, 0.5)
    ra = share_samples("a", Scope.MACHINE, a, [OtherRun("b", Scope.MACHINE, b)])
    rb = share_samples("b", Scope.MACHINE, b, [OtherRun("a", Scope.MACHINE, a)])
    by_start = {round(s.t_start - T0, 3): s.energy_j for s in ra.samples}
    assert by_start[2.0] == pytest.approx(50.0 + 25.0)  # half alone, half shared
    assert by_start[5.0] == pytest.approx(50.0)
    assert by_start[0.0] == pytest.approx(100.0)
    assert energy(ra.samples) == pytest.approx(1000.0 - 250.0)
    assert energy(rb.samples) == pytest.approx(250.0)
    assert energy(ra.samples) + energy(rb.samples) == pytest.approx(1000.0)


def test_different_cadences_add_up_to_the_host() -> None:
    a, b, c = samples(0, 10, 1.0), samples(1.1, 9.0, 0.3), samples(3.05, 12.0, 0.7)
    runs = {"a": a, "b": b, "c": c}
    total = 0.0
    for rid, own in runs.items():
        others = [OtherRun(o, Scope.MACHINE, s) for o, s in runs.items() if o != rid]
        result = share_samples(rid, Scope.MACHINE, own, others)
        assert set(result.shared_with) == set(runs) - {rid}
        total += energy(result.samples)
    assert total == pytest.approx(100.0 * 12.0)


def test_a_gap_claims_nothing_and_stays_unknown() -> None:
    a = samples(0, 10, 1.0)
    b = samples(0, 10, 1.0)
    b[3] = Sample(CPU, b[3].t_start, b[3].t_end, None, None)  # b's read failed
    a_gap = list(a)
    a_gap[6] = Sample(CPU, a[6].t_start, a[6].t_end, None, None)
    ra = share_samples("a", Scope.MACHINE, a_gap, [OtherRun("b", Scope.MACHINE, b)])
    rb = share_samples("b", Scope.MACHINE, b, [OtherRun("a", Scope.MACHINE, a_gap)])
    assert ra.samples[3].energy_j == pytest.approx(100.0)  # b claimed nothing there
    assert ra.samples[6].energy_j is None  # still unknown, never 0
    assert rb.samples[3].energy_j is None
    assert rb.samples[6].energy_j == pytest.approx(100.0)
    assert energy(ra.samples) + energy(rb.samples) == pytest.approx(1000.0)  # the host


def test_devices_are_matched_by_id() -> None:
    a = samples(0, 10, 1.0) + samples(0, 10, 1.0, 300.0, device=GPU)
    b = samples(0, 10, 1.0)  # b has no GPU sensor
    ra = share_samples("a", Scope.MACHINE, a, [OtherRun("b", Scope.MACHINE, b)])
    assert energy(ra.samples, CPU) == pytest.approx(500.0)
    assert energy(ra.samples, GPU) == pytest.approx(3000.0)


def test_process_scope_run_keeps_its_share_and_machine_run_gets_the_rest() -> None:
    m = samples(0, 10, 1.0)
    p = samples(0, 10, 1.0, share=0.3)
    rm = share_samples("m", Scope.MACHINE, m, [OtherRun("p", Scope.PROCESS, p)])
    rp = share_samples("p", Scope.PROCESS, p, [OtherRun("m", Scope.MACHINE, m)])
    assert energy(rm.samples) == pytest.approx(700.0)
    assert rm.method == "remainder"
    assert energy(rp.samples) == pytest.approx(300.0)
    assert rp.method == "process-share" and rp.shared_with == ("m",)


def test_oversubscribed_process_shares_are_scaled_and_warned() -> None:
    p = samples(0, 10, 1.0, share=0.8)
    q = samples(0, 10, 1.0, share=0.6)
    rp = share_samples("p", Scope.PROCESS, p, [OtherRun("q", Scope.PROCESS, q)])
    rq = share_samples("q", Scope.PROCESS, q, [OtherRun("p", Scope.PROCESS, p)])
    assert energy(rp.samples) + energy(rq.samples) == pytest.approx(1000.0)
    assert any("scaled down" in w for w in rp.warnings)


def test_two_process_runs_that_fit_are_unchanged() -> None:
    p = samples(0, 10, 1.0, share=0.2)
    q = samples(0, 10, 1.0, share=0.5)
    rp = share_samples("p", Scope.PROCESS, p, [OtherRun("q", Scope.PROCESS, q)])
    assert energy(rp.samples) == pytest.approx(200.0)
    assert rp.shared_with == ("q",)


def test_embodied_is_split_evenly_in_time() -> None:
    a = samples(0, 10, 1.0)
    b = samples(5, 10, 1.0)
    c = samples(7.5, 10, 0.5)
    others = [OtherRun("b", Scope.MACHINE, b), OtherRun("c", Scope.PROCESS, c)]
    ra = share_samples("a", Scope.MACHINE, a, others, duration_s=10.0)
    # 0-5 alone, 5-7.5 with b (1/2), 7.5-10 with b and c (1/3)
    assert ra.shared_s == pytest.approx(5.0)
    assert ra.embodied_factor == pytest.approx((5 + 2.5 / 2 + 2.5 / 3) / 10)
    item = EmbodiedItem("server", 1000.0, 10.0, 4.0, 1.0, 1.0, "t")
    (scaled,) = ra.scale_embodied([item])
    assert scaled.g == pytest.approx(10.0 * ra.embodied_factor)
    assert scaled.share == pytest.approx(ra.embodied_factor)


def test_spans_are_split_like_the_samples() -> None:
    a = samples(0, 10, 1.0)
    b = samples(5, 10, 1.0)
    ra = share_samples("a", Scope.MACHINE, a, [OtherRun("b", Scope.MACHINE, b)])
    early = SpanRecord("early", T0, T0 + 5, {CPU: 500.0})
    late = SpanRecord("late", T0 + 5, T0 + 10, {CPU: 500.0, GPU: None})
    assert ra.scale_span(early).energy_j[CPU] == pytest.approx(500.0)
    scaled = ra.scale_span(late)
    assert scaled.energy_j[CPU] == pytest.approx(250.0)
    assert scaled.energy_j[GPU] is None


# -- the bound, as a property ---------------------------------------------------------------
run_strategy = st.tuples(
    st.floats(0.0, 20.0),  # start
    st.floats(0.5, 20.0),  # length
    st.sampled_from([0.1, 0.25, 0.3, 0.5, 0.7, 1.0, 2.0]),  # cadence
    st.sampled_from([Scope.MACHINE, Scope.PROCESS]),
    st.floats(0.0, 1.0),  # process share
    st.sets(st.integers(0, 9), max_size=3),  # indices of samples that failed
    st.booleans(),  # has a GPU
)


def _union_s(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


@settings(max_examples=150, deadline=None)
@given(st.lists(run_strategy, min_size=1, max_size=4))
def test_overlapping_parts_never_exceed_what_the_host_saw(
    spec: list[tuple[float, float, float, Scope, float, set[int], bool]],
) -> None:
    power = {CPU: 100.0, GPU: 250.0}
    runs: dict[str, tuple[Scope, list[Sample]]] = {}
    for i, (start, length, step, scope, share, failed, gpu) in enumerate(spec):
        share = share if scope is Scope.PROCESS else 1.0
        rows: list[Sample] = []
        for device in (CPU, GPU) if gpu else (CPU,):
            part = samples(start, start + length, step, power[device], device=device, share=share)
            rows += [
                Sample(s.device_id, s.t_start, s.t_end, None, None) if k in failed else s
                for k, s in enumerate(part)
            ]
        runs[f"r{i}"] = (scope, rows)
    adjusted: dict[str, list[Sample]] = {}
    for rid, (scope, rows) in runs.items():
        others = [OtherRun(o, sc, r) for o, (sc, r) in runs.items() if o != rid]
        result = share_samples(rid, scope, rows, others)
        adjusted[rid] = list(result.samples)
        assert energy(result.samples) <= energy(rows) + 1e-6  # never more than alone
        if len(runs) == 1:
            assert result.alone
    for device, watts in power.items():
        seen = [
            (s.t_start, s.t_end)
            for _, rows in runs.values()
            for s in rows
            if s.device_id == device and s.energy_j is not None
        ]
        host_j = watts * _union_s(seen)
        parts_j = math.fsum(energy(rows, device) for rows in adjusted.values())
        assert parts_j <= host_j * (1 + 1e-9) + 1e-3  # absolute times round at ~1e-7 s
        if all(scope is Scope.MACHINE for scope, _ in runs.values()):
            assert parts_j == pytest.approx(host_j, rel=1e-9, abs=1e-3)


# -- finding the others in a ledger --------------------------------------------------------
def make_run(run_id: str, start: float, end: float | None, **kw: object) -> RunRecord:
    base: dict[str, object] = dict(
        run_id=run_id,
        name=run_id,
        phase="training",
        status=RunStatus.COMPLETED if end is not None else RunStatus.RUNNING,
        started_at=T0 + start,
        ended_at=None if end is None else T0 + end,
        scope=Scope.MACHINE,
        zone="FR",
        pue=None,
        interval_s=1.0,
        host={"hostname": "box"},
    )
    base.update(kw)
    return RunRecord(**base)  # type: ignore[arg-type]


def test_host_key_prefers_the_machine_id() -> None:
    assert host_key({"hostname": "box", "machine_id": "abc"}) == "abc"
    assert host_key({"hostname": "box"}) == "box"
    assert host_key({}) is None


def test_sqlite_finds_overlapping_runs_on_the_same_host(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.sqlite") as led:
        a = make_run("a", 0, 10)
        led.create_run(a, [])
        led.create_run(make_run("b", 5, 15), [])
        led.create_run(make_run("before", -10, 0), [])  # touches, does not overlap
        led.create_run(make_run("other-host", 2, 8, host={"hostname": "elsewhere"}), [])
        led.create_run(make_run("later", 20, 30), [])
        led.create_run(
            make_run("live", 9, None, heartbeat_at=T0 + 9, host={"hostname": "box", "pid": -1}),
            [],
        )
        found = [r.run_id for r in led.overlapping_runs(a)]
        assert found == ["b", "live"]
        assert [r.run_id for r in find_overlapping_runs(led, a)] == found


def test_machine_id_decides_over_hostname(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.sqlite") as led:
        a = make_run("a", 0, 10, host={"hostname": "box", "machine_id": "m1"})
        led.create_run(a, [])
        led.create_run(make_run("same", 1, 9, host={"hostname": "x", "machine_id": "m1"}), [])
        led.create_run(make_run("clone", 1, 9, host={"hostname": "box", "machine_id": "m2"}), [])
        assert [r.run_id for r in led.overlapping_runs(a)] == ["same"]


class ListOnlyLedger:
    """A ledger without ``overlapping_runs``: the fallback filters ``list_runs``."""

    def __init__(self, inner: Ledger) -> None:
        self.inner = inner

    def list_runs(self) -> list[RunRecord]:
        return self.inner.list_runs()

    def samples(self, run_id: str) -> list[Sample]:
        return self.inner.samples(run_id)


def test_fallback_without_the_ledger_method(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.sqlite") as led:
        a = make_run("a", 0, 10)
        for r in (a, make_run("b", 5, 15), make_run("c", 11, 12), make_run("d", 1, 2, host={})):
            led.create_run(r, [])
        found = find_overlapping_runs(ListOnlyLedger(led), a)  # type: ignore[arg-type]
        assert sorted(r.run_id for r in found) == ["b"]


def _store(led: Ledger, run: RunRecord, rows: list[Sample]) -> None:
    led.create_run(run, [fake_device(CPU)])
    led.append_samples(run.run_id, rows, run.started_at)


def test_footprint_of_a_lone_run_only_gains_the_new_fields(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.sqlite") as led:
        run = make_run("a", 0, 10)
        _store(led, run, samples(0, 10, 1.0))
        led.add_span("a", SpanRecord("s", T0 + 1, T0 + 4, {CPU: 300.0}))
        fp = footprint_for_run(led, "a").to_dict()
        before = price_run(
            led.get_run("a"),
            led.devices("a"),
            led.samples("a"),
            led.spans("a"),
            led.metrics("a"),
            led.functional_unit("a"),
            pue=PUEChoice(1.0, "default: none set, IT energy only"),
        ).to_dict()
    assert fp["shared_with"] == [] and fp["attribution"] == {"method": "alone"}
    before["embodied"] = fp["embodied"]  # price_run alone has no embodied items
    for key in ("embodied_kgco2e", "total_kgco2e", "uncertainty", "warnings", "spans"):
        before[key] = fp[key]
    assert {k: v for k, v in fp.items() if k not in ("shared_with", "attribution")} == {
        k: v for k, v in before.items() if k not in ("shared_with", "attribution")
    }
    assert fp["energy_kwh"] * 3.6e6 == pytest.approx(1000.0)


def test_footprints_of_overlapping_runs_add_up_to_the_host(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.sqlite") as led:
        _store(led, make_run("a", 0, 10), samples(0, 10, 1.0))
        _store(led, make_run("b", 4, 14), samples(4, 14, 0.5))
        led.add_span("b", SpanRecord("first", T0 + 4, T0 + 10, {CPU: 600.0}))
        fa, fb = footprint_for_run(led, "a"), footprint_for_run(led, "b")
    da, db = fa.to_dict(), fb.to_dict()
    assert da["shared_with"] == ["b"] and db["shared_with"] == ["a"]
    assert da["attribution"]["method"] == "even"
    assert da["attribution"]["shared_s"] == pytest.approx(6.0)
    assert da["attribution"]["energy_alone_kwh"] * 3.6e6 == pytest.approx(1000.0)
    assert (fa.energy_j or 0) + (fb.energy_j or 0) == pytest.approx(100.0 * 14)
    assert fb.spans[0].energy_j == pytest.approx(300.0)
    embodied_a, embodied_b = fa.embodied_g or 0.0, fb.embodied_g or 0.0
    assert da["attribution"]["embodied_factor"] == pytest.approx(0.7)
    # the two runs' embodied shares add up to the host's over the 14 s union
    assert embodied_a + embodied_b == pytest.approx(embodied_a / 0.7 * 14 / 10)
