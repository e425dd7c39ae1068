"""Test helpers for users and plug-in authors. Dependency-free: pytest is not needed.

Sections:

* **Ledgers**: :func:`check_ledger_contract` runs the checks every ledger backend must
  pass (carbonledger's own SQLite and in-memory ledgers run them in its test suite). A
  plug-in author calls it from a test with a factory of fresh, empty ledgers::

      from carbonledger.testing import check_ledger_contract

      def test_my_ledger_meets_the_contract():
          check_ledger_contract(lambda: MyLedger.connect(fresh_url()))

  Each check is also available alone (:data:`LEDGER_CHECKS`), e.g. for pytest
  parametrisation. A failed check raises AssertionError naming it.

* **Sensors**: :class:`FakeSensor` reports the exact integral of a programmable power
  (constant, or a function of time), so tests of anything above the sensors get known
  energies; :func:`check_sensor_contract` checks a sensor (or its probe) against the
  contract every sensor keeps (what ``carbonledger.sensors`` plug-ins must pass)::

      from carbonledger.testing import check_sensor_contract
      from mypackage.sensor import probe

      def test_my_sensor_meets_the_contract():
          check_sensor_contract(probe)

* **Sinks**: :class:`RecordingSink` keeps every run event it receives, for tests of
  callbacks and exporters.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from carbonledger.sensors.fake import FakeSensor, fake_device

if TYPE_CHECKING:
    from carbonledger.records import DeviceInfo, RunRecord
    from carbonledger.store.base import Ledger

__all__ = [
    "LEDGER_CHECKS",
    "FakeSensor",
    "LedgerBackend",
    "LedgerFactory",
    "RecordingSink",
    "Tamper",
    "check_ledger_contract",
    "check_sensor_contract",
    "contract_devices",
    "contract_run",
    "fake_device",
]

# =======================================================================================
# Ledgers
# =======================================================================================

LedgerFactory = Callable[[], "Ledger"]
"""Returns a fresh, empty ledger each call."""

Tamper = Callable[["Ledger", str, str, Any], None]
"""``tamper(ledger, run_id, column, raw_value)`` writes a raw value past the checks.

``column`` is a ``runs`` column (``status``, ``tags_json``, ``started_at`` …, the names
in :data:`carbonledger.store._rows.RUN_FIELDS`) or ``samples.energy_j`` (every sample of
the run). Only needed for the damaged-row checks; a backend that cannot be tampered
with skips them.
"""


@dataclass(frozen=True)
class LedgerBackend:
    """A backend under test: its name, a factory of fresh ledgers, and its tamper hook."""

    name: str
    factory: LedgerFactory
    tamper: Tamper | None = None


def contract_run(
    run_id: str | None = None,
    *,
    started_at: float | None = None,
    hostname: str = "carbonledger-contract-elsewhere",
    heartbeat_at: float | None = None,
    name: str = "job",
    **changes: Any,
) -> RunRecord:
    """A running run on another host (liveness by heartbeat only: no pid to check)."""
    from carbonledger.records import RunRecord, RunStatus, Scope

    started = time.time() if started_at is None else started_at
    run = RunRecord(
        run_id=run_id or uuid.uuid4().hex,
        name=name,
        phase="training",
        status=RunStatus.RUNNING,
        started_at=started,
        ended_at=None,
        scope=Scope.MACHINE,
        zone="FR",
        pue=1.2,
        interval_s=1.0,
        host={"hostname": hostname, "pid": 4242},
        tags={"team": "vision"},
        pid=4242,
        heartbeat_at=started if heartbeat_at is None else heartbeat_at,
        settings={"interval_s": 1.0, "argv": ["train.py"]},
    )
    return replace(run, **changes) if changes else run


def contract_devices() -> list[DeviceInfo]:
    from carbonledger.records import Component, DeviceInfo, Method

    return [
        DeviceInfo("rapl:package-0", Component.CPU, "Xeon", Method.MEASURED, "rapl", 0.05),
        DeviceInfo(
            "nvml:GPU-1", Component.GPU, "H100", Method.MEASURED, "nvml", 0.05, {"tdp_w": 700}
        ),
        DeviceInfo("model:ram", Component.RAM, "RAM 64 GB", Method.MODELED, "ram-model", 0.3),
    ]


def _expect(ok: bool, message: str) -> None:
    if not ok:
        raise AssertionError(message)


def _raises(kind: type[BaseException], fn: Callable[[], object], what: str) -> BaseException:
    try:
        fn()
    except kind as exc:
        return exc
    except BaseException as exc:
        raise AssertionError(
            f"{what}: expected {kind.__name__}, got {type(exc).__name__}: {exc}"
        ) from exc
    raise AssertionError(f"{what}: expected {kind.__name__}, nothing was raised")


class _Opened:
    """``with _Opened(factory) as ledger``: a fresh ledger, closed afterwards."""

    def __init__(self, factory: LedgerFactory) -> None:
        self.ledger = factory()

    def __enter__(self) -> Ledger:
        return self.ledger

    def __exit__(self, *exc: object) -> None:
        self.ledger.close()


# -- the checks -------------------------------------------------------------------------
def check_create_and_read(factory: LedgerFactory) -> None:
    from carbonledger.errors import LedgerError

    with _Opened(factory) as led:
        _expect(led.list_runs() == [], "a fresh ledger lists no runs")
        run = contract_run()
        led.create_run(run, contract_devices())
        _expect(led.get_run(run.run_id) == run, "get_run returns the stored run unchanged")
        _expect(led.devices(run.run_id) == contract_devices(), "devices keep order and fields")
        _expect(led.list_runs() == [run], "list_runs lists the run")
        _expect(led.samples(run.run_id) == [], "a new run has no samples")
        _raises(LedgerError, lambda: led.create_run(run, []), "creating a run id twice")
        nulls = contract_run(zone=None, pue=None, heartbeat_at=None)
        nulls = replace(nulls, heartbeat_at=None)
        led.create_run(nulls, [])
        _expect(led.get_run(nulls.run_id) == nulls, "None fields stay None")


def check_newest_first(factory: LedgerFactory) -> None:
    with _Opened(factory) as led:
        now = time.time()
        old, new = contract_run(started_at=now - 10), contract_run(started_at=now)
        led.create_run(old, [])
        led.create_run(new, [])
        ids = [r.run_id for r in led.list_runs()]
        _expect(ids == [new.run_id, old.run_id], f"list_runs is newest first, got {ids}")


def check_samples(factory: LedgerFactory) -> None:
    from carbonledger.errors import RunNotFoundError
    from carbonledger.records import Sample

    with _Opened(factory) as led:
        run = contract_run()
        led.create_run(run, contract_devices())
        batch = [
            Sample("rapl:package-0", 10.0, 11.0, 50.5, 25.25),
            Sample("nvml:GPU-1", 10.0, 11.0, None, None),
            Sample("model:ram", 10.0, 11.0, 3.0, None),
        ]
        led.append_samples(run.run_id, batch, heartbeat_at=run.started_at + 2)
        more = [Sample("rapl:package-0", 11.0, 12.0, 0.0, 0.0)]
        led.append_samples(run.run_id, more, heartbeat_at=run.started_at + 3)
        led.append_samples(run.run_id, [], heartbeat_at=run.started_at + 1)
        _expect(led.samples(run.run_id) == batch + more, "samples keep order, None stays None")
        heartbeat = led.get_run(run.run_id).heartbeat_at
        _expect(heartbeat == run.started_at + 3, f"the heartbeat never goes back ({heartbeat})")
        _raises(
            RunNotFoundError,
            lambda: led.append_samples("no-such-run", more, time.time()),
            "samples for an unknown run",
        )
        _raises(RunNotFoundError, lambda: led.samples("no-such-run"), "samples of an unknown run")


def check_aggregates(factory: LedgerFactory) -> None:
    """Sums over samples (``store.aggregates``: the ledger's own, or the generic fallback)
    equal the same sums taken over ``samples()``: per device, per run, per series step."""
    from carbonledger.records import Sample
    from carbonledger.store.aggregates import (
        energy_by_step,
        many_run_totals,
        run_totals,
        steps_from_samples,
        totals_from_samples,
    )

    with _Opened(factory) as led:
        run, other, empty = contract_run(), contract_run(), contract_run()
        for r in (run, other, empty):
            led.create_run(r, contract_devices())
        rows = []
        for i in range(40):
            a, b = 100.0 + 7 * i, 107.0 + 7 * i
            rows.append(Sample("rapl:package-0", a, b, 7.0 * i, 3.5 * i))
            rows.append(
                Sample("nvml:GPU-1", a, b if i % 9 else a, 2.0, None if i % 5 == 0 else 1.0)
            )
            rows.append(
                Sample("model:ram", a, b, None if i % 7 == 0 else 0.5, 0.0 if i % 4 else 0.25)
            )
        led.append_samples(run.run_id, rows[:50], heartbeat_at=200.0)
        led.append_samples(run.run_id, rows[50:], heartbeat_at=300.0)
        led.append_samples(other.run_id, rows[:9], heartbeat_at=200.0)
        stored = led.samples(run.run_id)
        expected = totals_from_samples(stored)
        got = run_totals(led, run.run_id)
        _expect(set(got) == set(expected), f"run_totals has every device: {sorted(got)}")
        for device_id, want in expected.items():
            have = got[device_id]
            for name in ("samples", "missing"):
                x, y = getattr(have, name), getattr(want, name)
                _expect(x == y, f"run_totals {device_id} {name}: {x} != {y}")
            for name in ("host_energy_j", "energy_j", "covered_s", "t_end"):
                x, y = getattr(have, name), getattr(want, name)
                _expect(
                    (x is None) == (y is None)
                    and (x is None or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)),
                    f"run_totals {device_id} {name}: {x} != {y}",
                )
        many = many_run_totals(led, [run.run_id, other.run_id, empty.run_id])
        _expect(many[empty.run_id] == {}, "a run without samples has no totals")
        _expect(set(many[run.run_id]) == set(expected), "many_run_totals matches run_totals")
        _expect(
            set(many[other.run_id]) == set(totals_from_samples(led.samples(other.run_id))),
            "many_run_totals keeps runs apart",
        )
        for bounds in ((90.0, 150.0, 200.0, 260.0), (205.0, 380.0), (1000.0, 2000.0)):
            want_steps = steps_from_samples(stored, bounds)
            have_steps = energy_by_step(led, run.run_id, bounds)
            _expect(
                set(have_steps.steps) == set(want_steps.steps),
                f"energy_by_step {bounds}: steps {sorted(have_steps.steps)}",
            )
            for k, (energy, nonzero) in want_steps.steps.items():
                got_energy, got_nonzero = have_steps.steps[k]
                _expect(
                    math.isclose(energy, got_energy, rel_tol=1e-9, abs_tol=1e-9)
                    and nonzero == got_nonzero,
                    f"energy_by_step {bounds} step {k}: {have_steps.steps[k]}",
                )
            _expect(
                sorted(have_steps.rest, key=repr) == sorted(want_steps.rest, key=repr),
                f"energy_by_step {bounds}: the samples across boundaries come back as they are",
            )
        from carbonledger.records import SpanRecord
        from carbonledger.store.run_facts import facts_from_reads, many_run_facts

        led.add_span(run.run_id, SpanRecord("epoch-1", 100.0, 150.0, {"rapl:package-0": 2.0}))
        led.log_metrics(run.run_id, {"accuracy": 0.5, "epochs": 3})
        led.set_functional_unit(run.run_id, "images", 10.0)
        facts = many_run_facts(led, [run.run_id, other.run_id, "no-such-run"])
        _expect(set(facts) == {run.run_id, other.run_id}, "many_run_facts: known runs only")
        for r in (run, other):
            _expect(
                facts[r.run_id] == facts_from_reads(led, r.run_id),
                "many_run_facts equals the per-run reads",
            )


def check_spans_metrics_functional_unit(factory: LedgerFactory) -> None:
    from carbonledger.errors import DataError, RunNotFoundError
    from carbonledger.records import SpanRecord

    with _Opened(factory) as led:
        run = contract_run()
        led.create_run(run, contract_devices())
        spans = [
            SpanRecord("epoch-1", 1.0, 2.0, {"rapl:package-0": 3.0, "nvml:GPU-1": None}),
            SpanRecord("epoch-1/eval", 1.5, None, {}, {"rapl:package-0": 4.0}),
            SpanRecord("epoch-1", 3.0, 4.0, {"rapl:package-0": 1.0}),
        ]
        for span in spans:
            led.add_span(run.run_id, span)
        _expect(led.spans(run.run_id) == spans, "spans keep order; a path may repeat")
        led.log_metrics(run.run_id, {"accuracy": 0.5, "epochs": 3, "ok": True, "note": "x"})
        led.log_metrics(run.run_id, {"accuracy": 0.9, "loss": math.nan, "big": 2**70})
        metrics = led.metrics(run.run_id)
        _expect(metrics["accuracy"] == 0.9, "a metric logged again keeps its last value")
        _expect(
            metrics["epochs"] == 3 and type(metrics["epochs"]) is int,
            "an int metric stays an int",
        )
        _expect(metrics["ok"] is True and metrics["note"] == "x", "bool and str metrics")
        _expect(math.isnan(float(metrics["loss"])), "NaN stays NaN")
        _expect(metrics["big"] == 2**70, "an int beyond 64 bits is kept")
        _raises(
            DataError,
            lambda: led.log_metrics(run.run_id, {"bad": [1, 2]}),  # type: ignore[dict-item]
            "a metric of an unsupported type",
        )
        _raises(RunNotFoundError, lambda: led.metrics("no-such-run"), "metrics of an unknown run")
        _expect(led.functional_unit(run.run_id) is None, "no functional unit by default")
        led.set_functional_unit(run.run_id, "images", 1.2e6)
        _expect(led.functional_unit(run.run_id) == ("images", 1.2e6), "the functional unit")
        _raises(
            RunNotFoundError,
            lambda: led.set_functional_unit("no-such-run", "images", 1.0),
            "a functional unit for an unknown run",
        )


def check_finish(factory: LedgerFactory) -> None:
    from carbonledger.errors import RunNotFoundError
    from carbonledger.records import RunStatus

    with _Opened(factory) as led:
        run = contract_run()
        led.create_run(run, [])
        led.finish_run(run.run_id, RunStatus.FAILED, run.started_at + 5, exit_code=2)
        back = led.get_run(run.run_id)
        _expect(
            (back.status, back.ended_at, back.exit_code)
            == (RunStatus.FAILED, run.started_at + 5, 2),
            f"finish_run stores status, end and exit code, got {back}",
        )
        _raises(
            RunNotFoundError,
            lambda: led.finish_run("no-such-run", RunStatus.COMPLETED, time.time()),
            "finishing an unknown run",
        )


def check_prefix_lookup(factory: LedgerFactory) -> None:
    from carbonledger.errors import RunNotFoundError

    with _Opened(factory) as led:
        a, b = contract_run("abc111"), contract_run("abc222")
        led.create_run(a, [])
        led.create_run(b, [])
        _expect(led.get_run("abc1").run_id == "abc111", "a unique prefix finds its run")
        _expect(led.get_run(" abc222 ").run_id == "abc222", "surrounding blanks are ignored")
        error = _raises(RunNotFoundError, lambda: led.get_run("abc"), "an ambiguous prefix")
        _expect("abc111" in str(error) and "abc222" in str(error), "ambiguity names candidates")
        _raises(RunNotFoundError, lambda: led.get_run("zzz"), "a prefix matching nothing")
        _raises(RunNotFoundError, lambda: led.get_run(""), "an empty run id")


def check_attachments(factory: LedgerFactory) -> None:
    from carbonledger.errors import DataError, RunNotFoundError

    with _Opened(factory) as led:
        run = contract_run()
        led.create_run(run, [])
        _expect(led.attachments(run.run_id) == {}, "no attachments by default")
        led.put_attachment(run.run_id, "env", {"python": "3.12", "packages": ["a", "b"]})
        led.put_attachment(run.run_id, "job", {"id": 1})
        led.put_attachment(run.run_id, "job", {"id": 2, "nested": {"x": None}})
        got = led.attachments(run.run_id)
        expected = {
            "env": {"python": "3.12", "packages": ["a", "b"]},
            "job": {"id": 2, "nested": {"x": None}},
        }
        _expect(got == expected, f"attachments round trip; a key put again is replaced: {got}")
        _raises(
            DataError,
            lambda: led.put_attachment(run.run_id, "bad", {"x": object()}),
            "an attachment that is not JSON",
        )
        _raises(
            RunNotFoundError,
            lambda: led.put_attachment("no-such-run", "k", {}),
            "an attachment for an unknown run",
        )
        _raises(RunNotFoundError, lambda: led.attachments("no-such-run"), "unknown run")


def check_series(factory: LedgerFactory) -> None:
    from carbonledger.errors import RunNotFoundError
    from carbonledger.intensity.series import IntensitySeries

    with _Opened(factory) as led:
        run = contract_run()
        led.create_run(run, [])
        _expect(led.series(run.run_id) is None, "no series by default")
        series = IntensitySeries(
            times=(1000.0, 4600.0, 8200.0),
            values_g_per_kwh=(50.5, 61.0, 40.25),
            zone="FR",
            signal="average",
            basis="lifecycle",
            source="contract",
            estimated=(False, True, False),
            last_step_s=3600.0,
            uncertainty_rel=0.15,
        )
        led.put_series(run.run_id, series)
        _expect(led.series(run.run_id) == series, "a series round trips exactly")
        other = replace(series, values_g_per_kwh=(1.0, 2.0, 3.0), estimated=None)
        led.put_series(run.run_id, other)
        _expect(led.series(run.run_id) == other, "put_series replaces the earlier series")
        _raises(
            RunNotFoundError, lambda: led.put_series("no-such-run", series), "unknown run series"
        )


def check_typed_pricing_fields(factory: LedgerFactory) -> None:
    with _Opened(factory) as led:
        typed = contract_run(embodied="cloud", intensity_provider="watttime")
        typed = replace(typed, intensity_series="recorded:watttime")
        led.create_run(typed, [])
        back = led.get_run(typed.run_id)
        _expect(
            (back.embodied, back.intensity_provider, back.intensity_series)
            == ("cloud", "watttime", "recorded:watttime"),
            f"typed pricing fields round trip, got {back}",
        )
        _expect(back.settings.get("embodied") == "cloud", "typed fields mirror into settings")
        blob = contract_run(settings={"embodied": "laptop", "intensity_series": "/x.csv"})
        led.create_run(blob, [])
        back = led.get_run(blob.run_id)
        _expect(
            (back.embodied, back.intensity_series) == ("laptop", "/x.csv"),
            "typed fields are filled from the settings blob when not given",
        )


def check_liveness(factory: LedgerFactory) -> None:
    from carbonledger.records import RunStatus, Sample

    with _Opened(factory) as led:
        now = time.time()
        alive = contract_run(started_at=now - 5, heartbeat_at=now)
        gone = contract_run(started_at=now - 7200, heartbeat_at=now - 3600)
        led.create_run(alive, [])
        led.create_run(gone, contract_devices())
        led.append_samples(
            gone.run_id, [Sample("rapl:package-0", now - 3700, now - 3650, 1.0, 1.0)], now - 3600
        )
        _expect(led.get_run(alive.run_id).status is RunStatus.RUNNING, "a live run is running")
        back = led.get_run(gone.run_id)
        _expect(
            back.status is RunStatus.INTERRUPTED,
            f"a run whose heartbeat stopped an hour ago reads as interrupted, got {back.status}",
        )
        _expect(
            back.ended_at is not None and abs(back.ended_at - (now - 3600)) < 1e-6,
            f"an interrupted run ends at its last sign of life, got {back.ended_at}",
        )
        listed = {r.run_id: r.status for r in led.list_runs()}
        _expect(listed[gone.run_id] is RunStatus.INTERRUPTED, "list_runs agrees with get_run")
        _expect(listed[alive.run_id] is RunStatus.RUNNING, "list_runs keeps a live run running")
        led.finish_run(gone.run_id, RunStatus.COMPLETED, now)
        _expect(
            led.get_run(gone.run_id).status is RunStatus.COMPLETED,
            "the tracker's own word overrides an inferred interruption",
        )


def check_non_utf8_text(factory: LedgerFactory) -> None:
    from carbonledger.records import SpanRecord

    with _Opened(factory) as led:
        bad = b"\xff\xfe".decode("utf-8", "surrogateescape")  # as argv gives it
        run = contract_run(name=f"run-{bad}", tags={f"k{bad}": f"v{bad}"})
        led.create_run(run, [])
        back = led.get_run(run.run_id)
        _expect(back.name == "run-\\xff\\xfe", f"a non-UTF-8 name is kept escaped: {back.name!r}")
        _expect(back.tags == {"k\\xff\\xfe": "v\\xff\\xfe"}, f"tags escaped: {back.tags}")
        led.log_metrics(run.run_id, {f"m{bad}": 1, "s": f"x{bad}"})
        _expect(
            led.metrics(run.run_id) == {"m\\xff\\xfe": 1, "s": "x\\xff\\xfe"},
            "metric names and text values are kept escaped",
        )
        led.add_span(run.run_id, SpanRecord(f"p{bad}", 1.0, 2.0, {}))
        _expect(led.spans(run.run_id)[0].path == "p\\xff\\xfe", "span paths are kept escaped")
        _expect([r.run_id for r in led.list_runs()] == [run.run_id], "the run is listed")


def check_closed(factory: LedgerFactory) -> None:
    from carbonledger.errors import LedgerError

    led = factory()
    led.close()
    led.close()  # idempotent
    _raises(LedgerError, led.list_runs, "reading a closed ledger")


def check_concurrent_appends(factory: LedgerFactory) -> None:
    from carbonledger.records import Sample

    threads_n, batches, per_batch = 4, 25, 4
    with _Opened(factory) as led:
        shared = contract_run()
        led.create_run(shared, contract_devices())
        own = [contract_run() for _ in range(threads_n)]
        for run in own:
            led.create_run(run, contract_devices())
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                for b in range(batches):
                    samples = [
                        Sample("rapl:package-0", float(b), float(b + 1), 1.0, float(i))
                        for _ in range(per_batch)
                    ]
                    led.append_samples(shared.run_id, samples, time.time())
                    led.append_samples(own[i].run_id, samples, time.time())
                    led.log_metrics(own[i].run_id, {"step": b})
            except BaseException as exc:  # reported below
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        _expect(not errors, f"concurrent appends raised {errors[:1]}")
        total = len(led.samples(shared.run_id))
        _expect(total == threads_n * batches * per_batch, f"no sample lost ({total})")
        for i, run in enumerate(own):
            samples = led.samples(run.run_id)
            _expect(len(samples) == batches * per_batch, "each run keeps its samples")
            _expect(all(s.energy_j == float(i) for s in samples), "no sample crossed runs")
            _expect(led.metrics(run.run_id) == {"step": batches - 1}, "last metric kept")


def check_bad_rows(factory: LedgerFactory, tamper: Tamper) -> None:
    """One damaged row never breaks the others; asking for it names run and field."""
    from carbonledger.errors import CorruptRunError
    from carbonledger.records import Sample

    cases: list[tuple[str, Any]] = [
        ("status", "exploded"),
        ("tags_json", "{not json"),
        ("settings_json", "[1, 2]"),
        ("started_at", "yesterday"),
        ("interval_s", "fast"),
        ("scope", 7),
    ]
    for column, raw in cases:
        with _Opened(factory) as led:
            good, bad = contract_run(), contract_run()
            led.create_run(good, [])
            led.create_run(bad, [])
            tamper(led, bad.run_id, column, raw)
            error = _raises(
                CorruptRunError, partial(led.get_run, bad.run_id), f"get_run of a bad {column}"
            )
            _expect(
                bad.run_id in str(error) and column in str(error) and "\n" not in str(error),
                f"the error names the run and {column} on one line: {error}",
            )
            skipped: list[CorruptRunError] = []
            listed = led.list_runs(on_bad_row=skipped.append)
            _expect([r.run_id for r in listed] == [good.run_id], f"bad {column}: others listed")
            _expect([e.run_id for e in skipped] == [bad.run_id], f"bad {column}: skip is reported")
    for raw in (-5.0, math.inf, "lots"):
        with _Opened(factory) as led:
            run = contract_run()
            led.create_run(run, contract_devices())
            led.append_samples(run.run_id, [Sample("rapl:package-0", 1.0, 2.0, 3.0, 3.0)], 2.0)
            tamper(led, run.run_id, "samples.energy_j", raw)
            error = _raises(
                CorruptRunError, partial(led.samples, run.run_id), f"a sample energy of {raw!r}"
            )
            from carbonledger.store.aggregates import run_totals

            _raises(
                CorruptRunError,
                partial(run_totals, led, run.run_id),
                f"totals over a sample energy of {raw!r}",
            )
            _expect(
                run.run_id in str(error) and "sample 0" in str(error),
                f"the error names the run and the sample: {error}",
            )


LEDGER_CHECKS: Mapping[str, Callable[[LedgerFactory], None]] = {
    "create_and_read": check_create_and_read,
    "newest_first": check_newest_first,
    "samples": check_samples,
    "aggregates": check_aggregates,
    "spans_metrics_functional_unit": check_spans_metrics_functional_unit,
    "finish": check_finish,
    "prefix_lookup": check_prefix_lookup,
    "attachments": check_attachments,
    "series": check_series,
    "typed_pricing_fields": check_typed_pricing_fields,
    "liveness": check_liveness,
    "non_utf8_text": check_non_utf8_text,
    "closed": check_closed,
    "concurrent_appends": check_concurrent_appends,
}
"""Every check that needs only a factory, by name."""


def check_ledger_contract(factory: LedgerFactory, *, tamper: Tamper | None = None) -> None:
    """Run every ledger check against ``factory`` (and the bad-row ones given ``tamper``).

    Raises AssertionError naming the first check that failed.
    """
    checks: dict[str, Callable[[LedgerFactory], None]] = dict(LEDGER_CHECKS)
    if tamper is not None:
        checks["bad_rows"] = lambda f: check_bad_rows(f, tamper)
    for name, check in checks.items():
        try:
            check(factory)
        except AssertionError as exc:
            raise AssertionError(f"ledger contract, {name}: {exc}") from exc
        except Exception as exc:  # an unexpected error fails the check that met it
            raise AssertionError(f"ledger contract, {name}: {type(exc).__name__}: {exc}") from exc


# =======================================================================================
# Sensors
# =======================================================================================


def check_sensor_contract(sensor_or_probe: Any, *, reads: int = 3) -> None:
    """Raise AssertionError listing every way ``sensor_or_probe`` (a sensor, or a probe
    ``(ProbeContext) -> Sensor | Absent``) breaks the sensor contract."""
    from carbonledger.sensors.contract import sensor_contract_problems

    problems = sensor_contract_problems(sensor_or_probe, reads=reads)
    if problems:
        raise AssertionError("sensor contract broken: " + "; ".join(problems))


# =======================================================================================
# Sinks
# =======================================================================================


class RecordingSink:
    """A sink that keeps every event: ``events`` is a list of ``(method name, args)``."""

    name = "recording"

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self._lock = threading.Lock()

    def _keep(self, method: str, *args: Any) -> None:
        with self._lock:
            self.events.append((method, args))

    def on_start(self, event: Any) -> None:
        self._keep("on_start", event)

    def on_samples(self, run_id: str, samples: Any) -> None:
        self._keep("on_samples", run_id, list(samples))

    def on_span(self, run_id: str, span: Any) -> None:
        self._keep("on_span", run_id, span)

    def on_metrics(self, run_id: str, metrics: Mapping[str, Any]) -> None:
        self._keep("on_metrics", run_id, dict(metrics))

    def on_stopping(self, event: Any) -> None:
        self._keep("on_stopping", event)

    def on_end(self, event: Any) -> None:
        self._keep("on_end", event)

    def names(self) -> list[str]:
        """The event names in the order they arrived."""
        with self._lock:
            return [name for name, _ in self.events]
