"""The SQLite ledger: round trips, lookups, metrics, totals, liveness and errors."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_factories import DEVICES, make_run, this_host

from carbonledger.errors import DataError, LedgerError, RunNotFoundError
from carbonledger.records import RunStatus, Sample, SpanRecord
from carbonledger.store import SqliteLedger, open_ledger, tracker_gone
from carbonledger.store.base import Ledger


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    with open_ledger(tmp_path / "ledger.sqlite") as led:
        yield led


def test_satisfies_the_protocol(ledger: SqliteLedger) -> None:
    as_protocol: Ledger = ledger
    assert as_protocol is ledger


def test_open_ledger_creates_parent_folders_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "ledger.sqlite"
    with open_ledger(path) as led:
        assert led.list_runs() == []
    assert path.is_file()
    import sqlite3

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


# -- round trips ------------------------------------------------------------------------
def test_run_and_devices_round_trip(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, DEVICES)
    assert ledger.get_run(run.run_id) == run
    assert ledger.devices(run.run_id) == DEVICES
    assert ledger.list_runs() == [run]


def test_run_with_nulls_round_trips(ledger: SqliteLedger) -> None:
    base = make_run()
    run = type(base)(**{**base.__dict__, "zone": None, "pue": None, "heartbeat_at": None})
    ledger.create_run(run, [])
    back = ledger.get_run(run.run_id)
    assert back.zone is None and back.pue is None and back.heartbeat_at is None
    assert back == run
    assert ledger.devices(run.run_id) == []


def test_samples_keep_nulls_as_nulls(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, DEVICES)
    samples = [
        Sample("rapl:package-0", 10.0, 11.0, 50.5, 25.25),
        Sample("nvml:GPU-1", 10.0, 11.0, None, None),
        Sample("model:ram", 10.0, 11.0, 3.0, None),
        Sample("rapl:package-0", 11.0, 12.0, 0.0, 0.0),
    ]
    ledger.append_samples(run.run_id, samples, heartbeat_at=run.started_at + 2)
    back = ledger.samples(run.run_id)
    assert back == samples
    assert back[1].host_energy_j is None and back[1].energy_j is None
    assert back[3].energy_j == 0.0
    assert ledger.get_run(run.run_id).heartbeat_at == run.started_at + 2


def test_heartbeat_never_goes_backwards(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, [])
    ledger.append_samples(run.run_id, [], heartbeat_at=run.started_at + 10)
    ledger.append_samples(run.run_id, [], heartbeat_at=run.started_at + 5)
    assert ledger.get_run(run.run_id).heartbeat_at == run.started_at + 10


def test_spans_round_trip(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, DEVICES)
    spans = [
        SpanRecord("epoch-1", 1.0, 2.0, {"rapl:package-0": 10.0, "nvml:GPU-1": None}),
        SpanRecord(
            "epoch-1/eval",
            1.5,
            None,
            {"rapl:package-0": 1.0},
            {"rapl:package-0": 4.0, "nvml:GPU-1": None},
        ),
    ]
    for span in spans:
        ledger.add_span(run.run_id, span)
    assert ledger.spans(run.run_id) == spans


def test_metrics_keep_their_types_and_last_value_wins(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, [])
    ledger.log_metrics(run.run_id, {"acc": 0.5, "epochs": 3, "model": "resnet", "ok": True})
    ledger.log_metrics(run.run_id, {"acc": 0.91, "big": 2**70, "flag": False, "one": 1.0})
    got = ledger.metrics(run.run_id)
    assert got == {
        "acc": 0.91,
        "epochs": 3,
        "model": "resnet",
        "ok": True,
        "big": 2**70,
        "flag": False,
        "one": 1.0,
    }
    assert type(got["epochs"]) is int and type(got["ok"]) is bool
    assert type(got["one"]) is float and type(got["flag"]) is bool
    import sqlite3

    conn = sqlite3.connect(ledger.path)
    step = conn.execute("SELECT step FROM metrics WHERE name = 'acc'").fetchone()[0]
    conn.close()
    assert step == 2


def test_metric_nan_and_infinity(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, [])
    ledger.log_metrics(run.run_id, {"loss": math.nan, "ppl": math.inf})
    got = ledger.metrics(run.run_id)
    assert math.isnan(got["loss"]) and got["ppl"] == math.inf  # type: ignore[arg-type]


def test_unsupported_metric_type_is_a_data_error(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, [])
    with pytest.raises(DataError, match="metric 'hist'"):
        ledger.log_metrics(run.run_id, {"hist": [1, 2]})  # type: ignore[dict-item]
    assert ledger.metrics(run.run_id) == {}


def test_functional_unit(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, [])
    assert ledger.functional_unit(run.run_id) is None
    ledger.set_functional_unit(run.run_id, "images", 1.2e6)
    assert ledger.functional_unit(run.run_id) == ("images", 1.2e6)


def test_finish_run(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, [])
    ledger.finish_run(run.run_id, RunStatus.FAILED, run.started_at + 7, exit_code=2)
    back = ledger.get_run(run.run_id)
    assert back.status is RunStatus.FAILED
    assert back.ended_at == run.started_at + 7 and back.exit_code == 2
    assert back.duration_s == pytest.approx(7)


def test_duplicate_run_id_is_refused(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, DEVICES)
    with pytest.raises(LedgerError, match="already exists"):
        ledger.create_run(run, DEVICES)


def test_writes_to_an_unknown_run_raise(ledger: SqliteLedger) -> None:
    with pytest.raises(RunNotFoundError):
        ledger.append_samples("nope", [Sample("d", 0, 1, 1.0, 1.0)], heartbeat_at=1.0)
    with pytest.raises(RunNotFoundError):
        ledger.add_span("nope", SpanRecord("s", 0.0, 1.0, {}))
    with pytest.raises(RunNotFoundError):
        ledger.log_metrics("nope", {"a": 1})
    with pytest.raises(RunNotFoundError):
        ledger.finish_run("nope", RunStatus.COMPLETED, 1.0)
    with pytest.raises(RunNotFoundError):
        ledger.samples("nope")


def test_a_failed_batch_writes_nothing(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, [])
    bad = [Sample("d", 0.0, 1.0, 1.0, 1.0), Sample("d", math.nan, 2.0, 1.0, 1.0)]
    with pytest.raises(LedgerError):
        ledger.append_samples(run.run_id, bad, heartbeat_at=run.started_at + 50)
    assert ledger.samples(run.run_id) == []
    assert ledger.get_run(run.run_id).heartbeat_at == run.heartbeat_at


# -- lookup -------------------------------------------------------------------------------
def test_prefix_lookup_and_ambiguity(ledger: SqliteLedger) -> None:
    ids = ["abc123" + "0" * 26, "abd456" + "0" * 26, "abd789" + "0" * 26]
    for i, run_id in enumerate(ids):
        ledger.create_run(make_run(run_id, started_at=1000.0 + i, name=f"n{i}"), [])
    assert ledger.get_run("abc").run_id == ids[0]
    assert ledger.get_run(ids[1]).run_id == ids[1]
    with pytest.raises(RunNotFoundError, match="ambiguous") as info:
        ledger.get_run("abd")
    assert ids[1] in str(info.value) and ids[2] in str(info.value)
    with pytest.raises(RunNotFoundError, match="no run matches 'zzz'"):
        ledger.get_run("zzz")
    with pytest.raises(RunNotFoundError):
        ledger.get_run("")
    with pytest.raises(RunNotFoundError):
        ledger.get_run("ABC")  # ids are case-sensitive


def test_an_exact_id_wins_over_a_longer_one_it_prefixes(ledger: SqliteLedger) -> None:
    ledger.create_run(make_run("abc"), [])
    ledger.create_run(make_run("abcdef"), [])
    assert ledger.get_run("abc").run_id == "abc"


def test_ambiguity_names_at_most_five_candidates(ledger: SqliteLedger) -> None:
    ids = [f"ff{i:02d}" + "0" * 28 for i in range(8)]
    for i, run_id in enumerate(ids):
        ledger.create_run(make_run(run_id, started_at=float(i)), [])
    with pytest.raises(RunNotFoundError) as info:
        ledger.get_run("ff")
    assert sum(run_id in str(info.value) for run_id in ids) == 5


def test_list_runs_newest_first(ledger: SqliteLedger) -> None:
    starts = [300.0, 100.0, 200.0]
    runs = [make_run(started_at=s) for s in starts]
    for run in runs:
        ledger.create_run(run, [])
        ledger.finish_run(run.run_id, RunStatus.COMPLETED, run.started_at + 1)
    assert [r.started_at for r in ledger.list_runs()] == [300.0, 200.0, 100.0]


# -- totals ---------------------------------------------------------------------------------
def test_totals_sum_known_samples_and_count_missing_ones(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, DEVICES)
    ledger.append_samples(
        run.run_id,
        [
            Sample("rapl:package-0", 0.0, 1.0, 10.0, 5.0),
            Sample("rapl:package-0", 1.0, 2.0, 12.0, None),
            Sample("rapl:package-0", 2.0, 4.0, None, None),
            Sample("nvml:GPU-1", 0.0, 1.0, None, None),
            Sample("extra:dev", 0.0, 1.0, 1.0, 1.0),
        ],
        heartbeat_at=run.started_at,
    )
    totals = ledger.totals(run.run_id)
    assert list(totals) == ["rapl:package-0", "nvml:GPU-1", "model:ram", "extra:dev"]
    assert totals["rapl:package-0"] == (22.0, 5.0)
    assert totals["nvml:GPU-1"] == (None, None)
    assert totals["model:ram"] == (None, None)  # no samples at all
    detail = ledger.energy_totals(run.run_id)
    cpu = detail["rapl:package-0"]
    assert (cpu.samples, cpu.missing_host_samples, cpu.missing_samples) == (3, 1, 2)
    assert cpu.missing_s == pytest.approx(3.0)
    assert detail["model:ram"].samples == 0
    assert detail["nvml:GPU-1"].missing_samples == 1


# -- liveness ---------------------------------------------------------------------------------
def test_a_live_local_run_stays_running_however_old_its_heartbeat(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.sqlite", stale_after_s=1.0) as led:
        run = make_run(heartbeat_at=time.time() - 3600)
        led.create_run(run, [])
        assert led.get_run(run.run_id).status is RunStatus.RUNNING
        assert led.list_runs()[0].status is RunStatus.RUNNING


def test_a_dead_local_pid_reads_as_interrupted_and_stays_so(ledger: SqliteLedger) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    host = this_host(child.pid)
    child.wait()
    run = make_run(host=host, pid=child.pid)
    ledger.create_run(run, [])
    ledger.append_samples(
        run.run_id, [Sample("d", run.started_at, run.started_at + 5, 1.0, 1.0)], run.started_at + 2
    )
    back = ledger.get_run(run.run_id)
    assert back.status is RunStatus.INTERRUPTED
    assert back.ended_at == run.started_at + 5  # last evidence of life
    assert [r.status for r in ledger.list_runs()] == [RunStatus.INTERRUPTED]
    with open_ledger(ledger.path) as again:
        assert again.get_run(run.run_id).status is RunStatus.INTERRUPTED


def test_a_reused_pid_reads_as_interrupted(ledger: SqliteLedger) -> None:
    host = this_host()
    host["pid_create_time"] -= 1000  # same pid, another process
    run = make_run(host=host)
    ledger.create_run(run, [])
    assert ledger.get_run(run.run_id).status is RunStatus.INTERRUPTED


def test_a_stale_heartbeat_on_another_host_reads_as_interrupted(tmp_path: Path) -> None:
    remote = {"hostname": "not-" + socket.gethostname(), "pid": 1}
    with open_ledger(tmp_path / "l.sqlite", stale_after_s=60.0) as led:
        fresh = make_run(host=remote, pid=1)
        stale = make_run(
            host=remote, pid=1, started_at=time.time() - 100, heartbeat_at=time.time() - 61
        )
        led.create_run(fresh, [])
        led.create_run(stale, [])
        assert led.get_run(fresh.run_id).status is RunStatus.RUNNING
        back = led.get_run(stale.run_id)
        assert back.status is RunStatus.INTERRUPTED
        assert back.ended_at == stale.heartbeat_at
        # the tracker comes back: it is alive after all
        led.append_samples(stale.run_id, [], heartbeat_at=time.time())
        back = led.get_run(stale.run_id)
        assert back.status is RunStatus.RUNNING and back.ended_at is None
        # and its own final word overrides any inference
        led.finish_run(stale.run_id, RunStatus.COMPLETED, time.time())
        assert led.get_run(stale.run_id).status is RunStatus.COMPLETED


def test_a_finished_run_is_never_reinterpreted(ledger: SqliteLedger) -> None:
    remote = {"hostname": "elsewhere"}
    run = make_run(host=remote, heartbeat_at=0.0, started_at=0.0)
    ledger.create_run(run, [])
    ledger.finish_run(run.run_id, RunStatus.COMPLETED, 10.0)
    assert ledger.get_run(run.run_id).status is RunStatus.COMPLETED


def test_tracker_gone_rules() -> None:
    now = 10_000.0
    remote = make_run(host={"hostname": "elsewhere"}, started_at=now - 500, heartbeat_at=None)
    no_beat = type(remote)(**{**remote.__dict__, "heartbeat_at": None})
    assert tracker_gone(no_beat, now=now, stale_after_s=120, hostname="here")
    assert not tracker_gone(no_beat, now=now, stale_after_s=600, hostname="here")
    done = type(remote)(**{**remote.__dict__, "status": RunStatus.COMPLETED})
    assert not tracker_gone(done, now=now, stale_after_s=1, hostname="here")
    # live local pid with no start time to check: falls back to the heartbeat
    local = make_run(host={"hostname": "here"}, started_at=now - 500)
    assert tracker_gone(local, now=now, stale_after_s=120, hostname="here")
    assert not tracker_gone(local, now=now, stale_after_s=600, hostname="here")


# -- threads ----------------------------------------------------------------------------------
def test_two_threads_share_one_ledger(ledger: SqliteLedger) -> None:
    run = make_run()
    ledger.create_run(run, [])
    errors: list[BaseException] = []

    def writer(device: str) -> None:
        try:
            for i in range(50):
                ledger.append_samples(
                    run.run_id, [Sample(device, float(i), i + 1.0, 1.0, 1.0)] * 3, time.time()
                )
                ledger.log_metrics(run.run_id, {device: i})
                ledger.samples(run.run_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(d,)) for d in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ledger.samples(run.run_id)) == 300
    assert ledger.metrics(run.run_id) == {"a": 49, "b": 49}


def test_closed_ledger_raises(tmp_path: Path) -> None:
    led = open_ledger(tmp_path / "l.sqlite")
    led.close()
    led.close()
    with pytest.raises(LedgerError, match="closed"):
        led.list_runs()


# -- hypothesis ----------------------------------------------------------------------------------
energies = st.one_of(st.none(), st.floats(0, 1e12))
sample_lists = st.lists(
    st.builds(
        Sample,
        device_id=st.sampled_from(["rapl:package-0", "nvml:GPU-1", "model:ram", "x/ü"]),
        t_start=st.floats(0, 2e9),
        t_end=st.floats(0, 2e9),
        host_energy_j=energies,
        energy_j=energies,
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(sample_lists, max_size=4))
def test_samples_round_trip(tmp_path_factory: pytest.TempPathFactory, batches: list) -> None:
    path = tmp_path_factory.mktemp("h") / "ledger.sqlite"
    with open_ledger(path) as led:
        run = make_run()
        led.create_run(run, DEVICES)
        for batch in batches:
            led.append_samples(run.run_id, batch, heartbeat_at=run.started_at)
        flat = [s for batch in batches for s in batch]
        assert led.samples(run.run_id) == flat
        totals = led.energy_totals(run.run_id)
        for device_id, total in totals.items():
            mine = [s for s in flat if s.device_id == device_id]
            known = [s.energy_j for s in mine if s.energy_j is not None]
            assert total.samples == len(mine)
            assert total.missing_samples == len(mine) - len(known)
            if known:
                assert total.energy_j is not None
                assert total.energy_j == pytest.approx(math.fsum(known), rel=1e-9, abs=1e-6)
            else:
                assert total.energy_j is None


def test_long_sampling_intervals_stretch_the_staleness_limit() -> None:
    from dataclasses import replace

    from carbonledger.records import RunStatus
    from carbonledger.store.liveness import tracker_gone

    run = make_run()
    slow = replace(
        run,
        status=RunStatus.RUNNING,
        interval_s=300.0,
        heartbeat_at=1000.0,
        host={"hostname": "elsewhere"},
        pid=None,
    )
    assert not tracker_gone(slow, now=1000.0 + 600.0, hostname="here")
    assert tracker_gone(slow, now=1000.0 + 901.0, hostname="here")
