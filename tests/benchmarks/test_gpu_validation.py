"""benchmarks/gpu_validation.py: its maths, and the whole script against the fake NVML.

The end-to-end run uses the fake ``pynvml`` of ``tests/sensors`` in this process (for the
script's own reads and for carbonledger's NVML sensor) and, through a ``pynvml.py`` shim on
``PYTHONPATH``, in the subprocesses it starts (``carbonledger devices --json``, the
overhead children). A thread plays the GPUs' physics: the energy counters grow at an idle
or a loaded power, and a fake load (a sleeping process, so that its pid is real) adds SM
utilisation samples for its pid. No assertion depends on timing.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.sensors.fake_pynvml import (  # noqa: E402
    NVML_ERROR_DRIVER_NOT_LOADED,
    FakeGpu,
    FakeNvml,
    gpu_uuid,
    install,
    mig_uuid,
)


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gpu_validation", REPO / "benchmarks" / "gpu_validation.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_validation"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gv = _load_script()

IDLE_MW, LOAD_MW = 60_000, 300_000


def two_gpus() -> list[FakeGpu]:
    """GPU 0 whole; GPU 1 in MIG mode with two instances."""
    return [
        FakeGpu(gpu_uuid(0), mig_uuids=[], power_mw=IDLE_MW),
        FakeGpu(gpu_uuid(1), mig_uuids=[mig_uuid(1, 0), mig_uuid(1, 1)], power_mw=IDLE_MW),
    ]


# -- fakes ------------------------------------------------------------------------------------
class Physics:
    """Every ``tick_s``: each GPU's counter grows at its power; loads add SM samples."""

    def __init__(self, gpus: list[FakeGpu], tick_s: float = 0.02) -> None:
        self.gpus, self.tick_s = gpus, tick_s
        self.active: dict[int, list[int]] = {i: [] for i in range(len(gpus))}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.tick_s):
            now = time.monotonic()
            for i, gpu in enumerate(self.gpus):
                pids = list(self.active[i])
                gpu.power_mw = LOAD_MW if pids else IDLE_MW
                assert gpu.energy_mj is not None
                gpu.energy_mj += int(gpu.power_mw * (now - last))
                ts = int(time.time() * 1e6)
                assert gpu.utilization is not None
                gpu.utilization.extend((pid, 100 // len(pids), ts) for pid in pids)
                gpu.utilization[:] = gpu.utilization[-200:]
            last = now

    def __enter__(self) -> Physics:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class FakeLoad:
    """A sleeping child process registered as a load on the GPU the target names."""

    def __init__(self, physics: Physics, gpu: int, uuid: str) -> None:
        self._proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        self.pid = self._proc.pid
        self.info: dict[str, Any] = {"backend": "fake", "cuda_uuid": gv.normalise_uuid(uuid)}
        self._physics, self._gpu = physics, gpu
        physics.active[gpu].append(self.pid)

    def stop(self) -> None:
        if self.pid in self._physics.active[self._gpu]:
            self._physics.active[self._gpu].remove(self.pid)
        self._proc.terminate()
        self._proc.wait()


def fake_load_starter(physics: Physics) -> Any:
    started: list[tuple[str, float, float]] = []

    def start(target: str, seconds: float, ready_timeout_s: float) -> FakeLoad:
        started.append((target, seconds, ready_timeout_s))
        for i, gpu in enumerate(physics.gpus):
            if target == str(i) or target in (gpu.mig_uuids or []) or target == gpu.uuid:
                return FakeLoad(physics, i, gpu.uuid)
        raise gv.LoadUnavailable(f"no GPU for {target}")

    start.started = started  # type: ignore[attr-defined]
    return start


@pytest.fixture
def shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Subprocesses import a fake pynvml with the same GPUs (static readings)."""
    folder = tmp_path / "shim"
    folder.mkdir()
    (folder / "pynvml.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(REPO)!r})
            from tests.sensors.fake_pynvml import FakeGpu, FakeNvml, gpu_uuid, mig_uuid
            _fake = FakeNvml([
                FakeGpu(gpu_uuid(0), mig_uuids=[]),
                FakeGpu(gpu_uuid(1), mig_uuids=[mig_uuid(1, 0), mig_uuid(1, 1)]),
            ])
            globals().update(
                {{k: getattr(_fake.module, k) for k in dir(_fake.module) if not k.startswith("__")}}
            )
            """
        )
    )
    # imported at start-up, as a real program that uses pynvml would have it loaded
    (folder / "sitecustomize.py").write_text("import pynvml  # noqa: F401\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), str(REPO)]))
    return folder


def small_config(out: Path, **changes: Any) -> Any:
    base = {
        "budget_s": 150.0,
        "period_s": 0.01,
        "idle_s": 0.6,
        "load_s": 0.6,
        "shared_s": 0.6,
        "overhead_s": 0.6,
        "tracker_interval_s": 0.1,
        "ready_timeout_s": 10.0,
        "out_dirs": (str(out),),
    }
    base.update(changes)
    return gv.Config(**base)


@pytest.fixture
def fake_gpus(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeNvml, Physics]]:
    gpus = two_gpus()
    fake = install(monkeypatch, gpus)
    with Physics(gpus) as physics:
        yield fake, physics


# -- the whole script -------------------------------------------------------------------------
@pytest.mark.slow
def test_end_to_end_against_fake_nvml(
    tmp_path: Path, shim: Path, fake_gpus: tuple[FakeNvml, Physics]
) -> None:
    fake, physics = fake_gpus
    out = tmp_path / "out"
    load = fake_load_starter(physics)
    results = gv.run(small_config(out), nvml=fake.module, load=load, log=lambda m: None)

    name = "results-nvidia-a100-sxm4-80gb-550.54.15.json"
    data = json.loads((out / name).read_text())
    assert data == json.loads(json.dumps(results, default=str))
    assert data["schema"] == "carbonledger.gpu-validation/1"
    inv = data["inventory"]
    assert inv["driver_version"] == "550.54.15"
    assert inv["nvml_version"] == "12.550.54.15"
    assert inv["cuda_driver_version"] == 12040
    assert [g["uuid"] for g in inv["gpus"]] == [gpu_uuid(0), gpu_uuid(1)]
    phases = data["phases"]
    assert {k: v["status"] for k, v in phases.items()} == {
        "mig": "ok",
        "idle": "ok",
        "load": "ok",
        "cuda_visible_devices": "ok",
        "overhead": "ok",
        "shared": "ok",
    }, {k: v.get("reason") for k, v in phases.items()}

    # idle and load windows: every figure is there, for both GPUs
    for label in ("idle", "load"):
        window = phases[label]
        assert [g["uuid"] for g in window["gpus"]] == [gpu_uuid(0), gpu_uuid(1)]
        for g in window["gpus"]:
            assert g["counter_j"] > 0 and g["carbonledger_j"] > 0 and g["power_integral_j"] > 0
            assert isinstance(g["carbonledger_vs_counter_pct"], float)
            assert isinstance(g["carbonledger_within_target"], bool)
            assert g["counter_update"]["changes"] > 0
            assert g["counter_update"]["step_min"] > 0
            assert g["poll_errors"] == {}
    # loads went to GPU 0 by index and to GPU 1's first MIG instance
    assert [t for t, _, _ in load.started[:2]] == ["0", mig_uuid(1, 0)]
    assert phases["load"]["cuda_index_order"] == [
        {
            "index": 0,
            "nvml_uuid": gpu_uuid(0),
            "cuda_uuid": gv.normalise_uuid(gpu_uuid(0)),
            "match": True,
        }
    ]

    # CUDA_VISIBLE_DEVICES through `carbonledger devices --json` in subprocesses
    cases = {c["case"]: c for c in phases["cuda_visible_devices"]["cases"]}
    assert all(c["match"] for c in cases.values()), cases
    assert cases["two uuids, reversed"]["got"] == [gpu_uuid(1), gpu_uuid(0)]
    assert cases["MIG instance uuid"]["got"] == [gpu_uuid(1)]
    assert cases["empty"]["got"] == [] and cases["empty"]["absent"]

    # MIG: parent readings only, and carbonledger says so
    mig = {g["index"]: g for g in phases["mig"]["gpus"]}
    assert mig[0]["mode"] == "disabled" and mig[0]["carbonledger_agrees"] is True
    assert mig[1]["mode"] == "enabled"
    assert mig[1]["instances"] == [mig_uuid(1, 0), mig_uuid(1, 1)]
    assert mig[1]["per_instance_readings"] is False
    assert mig[1]["carbonledger_agrees"] is True

    # two processes on GPU 0: each gets about half, never more than the GPU together
    shared = phases["shared"]
    assert len(shared["pids"]) == 2 and shared["shares_within_device"] is True
    assert shared["max_share_sum"] <= 1.0 + 1e-9
    assert shared["both_pids_listed_by_nvml"] is False  # the fake lists no compute process
    assert all(v is not None for v in shared["mean_sm_util_by_pid"].values())

    # the tracker's CPU, from three child processes
    overhead = phases["overhead"]
    assert [c["interval_s"] for c in overhead["cases"]] == [1.0, 0.1]
    for case in overhead["cases"]:
        assert case["child"]["devices"] == [f"nvml:{gpu_uuid(0)}", f"nvml:{gpu_uuid(1)}"]
        assert case["child"]["reads"] >= 1
        assert isinstance(case["overhead"]["extra_cpu_s"], float)

    # the markdown table
    md = (out / "RESULTS.md").read_text()
    assert "2 × NVIDIA A100-SXM4-80GB" in md and "driver 550.54.15" in md
    assert f"`{name}`" in md
    for check in (
        "load, GPU 0",
        "carbonledger vs NVML counter",
        "power integral vs counter",
        "energy counter update period",
        "CUDA_VISIBLE_DEVICES (carbonledger devices)",
        "CUDA index order = NVML index order",
        "two processes on one GPU",
        "GPU 1: MIG | mode enabled, 2 instances, per-instance readings: no",
        "tracker extra CPU, 0.1 s sampling",
    ):
        assert check in md, check
    assert fake.init_count == 0  # every nvmlInit had its nvmlShutdown


def test_no_load_library_skips_the_load_phases(
    tmp_path: Path,
    shim: Path,
    fake_gpus: tuple[FakeNvml, Physics],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, _ = fake_gpus
    monkeypatch.setattr(gv, "find_backend", lambda requested: None)
    cfg = small_config(tmp_path, skip=("cuda_visible_devices", "overhead"))
    results = gv.run(cfg, nvml=fake.module, log=lambda m: None)
    phases = results["phases"]
    for name in ("load", "shared"):
        assert phases[name]["status"] == "skipped"
        assert "no CUDA load library" in phases[name]["reason"]
    assert phases["idle"]["status"] == "ok"
    md = (tmp_path / "RESULTS.md").read_text()
    assert "skipped: no CUDA load library" in md


def test_nvml_failing_to_start_still_writes_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = install(monkeypatch, [], init_error=NVML_ERROR_DRIVER_NOT_LOADED)
    results = gv.run(small_config(tmp_path), nvml=fake.module, log=lambda m: None)
    assert "nvmlInit failed" in results["inventory"]["error"]
    assert (tmp_path / "results-no-gpu-unknown.json").exists()
    md = (tmp_path / "RESULTS.md").read_text()
    assert "no NVIDIA GPU found" in md and "nvmlInit failed" in md


def test_no_gpu_skips_every_phase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install(monkeypatch, [])
    results = gv.run(small_config(tmp_path), nvml=fake.module, log=lambda m: None)
    assert {p["status"] for p in results["phases"].values()} == {"skipped"}
    assert fake.init_count == 0


def test_a_spent_budget_skips_phases(tmp_path: Path, fake_gpus: tuple[FakeNvml, Physics]) -> None:
    fake, physics = fake_gpus
    cfg = small_config(tmp_path, budget_s=2.0, idle_s=10.0)
    results = gv.run(cfg, nvml=fake.module, load=fake_load_starter(physics), log=lambda m: None)
    phases = results["phases"]
    assert phases["idle"]["status"] == "skipped"
    assert phases["idle"]["reason"].startswith("budget")
    assert phases["overhead"]["status"] == "skipped"


def test_a_failing_load_is_recorded_not_raised(
    tmp_path: Path, fake_gpus: tuple[FakeNvml, Physics]
) -> None:
    fake, _ = fake_gpus

    def broken(target: str, seconds: float, ready_timeout_s: float) -> Any:
        raise gv.LoadUnavailable("CUDA out of memory")

    cfg = small_config(tmp_path, skip=("cuda_visible_devices", "overhead"))
    results = gv.run(cfg, nvml=fake.module, load=broken, log=lambda m: None)
    assert results["phases"]["load"] == {
        "status": "skipped",
        "reason": "CUDA out of memory",
        "elapsed_s": pytest.approx(results["phases"]["load"]["elapsed_s"]),
    }


def test_a_lost_gpu_is_an_error_in_its_phase_only(
    tmp_path: Path, fake_gpus: tuple[FakeNvml, Physics], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, physics = fake_gpus

    def boom(ctx: Any) -> dict[str, Any]:
        raise RuntimeError("GPU is lost")

    monkeypatch.setattr(gv, "phase_mig", boom)
    cfg = small_config(tmp_path, skip=("cuda_visible_devices", "overhead", "shared"))
    results = gv.run(cfg, nvml=fake.module, load=fake_load_starter(physics), log=lambda m: None)
    assert results["phases"]["overhead"] == {"status": "skipped", "reason": "--skip"}
    assert results["phases"]["mig"]["status"] == "error"
    assert "GPU is lost" in results["phases"]["mig"]["reason"]
    assert results["phases"]["idle"]["status"] == "ok"


def test_options_are_checked() -> None:
    with pytest.raises(SystemExit):
        gv._parse(["--period-ms", "5"])
    with pytest.raises(SystemExit):
        gv._parse(["--skip", "nonsense"])
    assert gv._parse(["--skip", "shared", "--skip", "mig"]).skip == ["shared", "mig"]


# -- pure maths -------------------------------------------------------------------------------
times = st.lists(
    st.floats(min_value=0.001, max_value=10.0, allow_nan=False), min_size=1, max_size=30
)
powers = st.floats(min_value=0.0, max_value=2000.0, allow_nan=False)


def _timeline(steps: list[float], t0: float = 0.0) -> list[float]:
    out = [t0]
    for s in steps:
        out.append(out[-1] + s)
    return out


@given(times, powers)
def test_trapezoid_of_constant_power(steps: list[float], power: float) -> None:
    ts = _timeline(steps)
    energy = gv.trapezoid_energy_j([(t, power) for t in ts])
    assert energy == pytest.approx(power * (ts[-1] - ts[0]), rel=1e-9, abs=1e-9)


@given(times.filter(lambda s: len(s) >= 2), st.data())
def test_trapezoid_is_additive(steps: list[float], data: st.DataObject) -> None:
    ts = _timeline(steps)
    ps = data.draw(st.lists(powers, min_size=len(ts), max_size=len(ts)))
    points = list(zip(ts, ps, strict=True))
    k = data.draw(st.integers(min_value=1, max_value=len(points) - 2))
    whole = gv.trapezoid_energy_j(points)
    left, right = gv.trapezoid_energy_j(points[: k + 1]), gv.trapezoid_energy_j(points[k:])
    assert whole == pytest.approx(left + right, rel=1e-9, abs=1e-6)
    assert whole >= 0


def test_trapezoid_needs_two_points() -> None:
    assert gv.trapezoid_energy_j([]) is None
    assert gv.trapezoid_energy_j([(0.0, 100.0)]) is None
    assert gv.trapezoid_energy_j([(0.0, 100.0), (2.0, 200.0)]) == pytest.approx(300.0)


@given(
    st.floats(min_value=1e-3, max_value=1e7),
    st.floats(min_value=1e-3, max_value=1e7),
    st.floats(min_value=1e-3, max_value=1e3),
)
def test_agreement_pct(value: float, reference: float, scale: float) -> None:
    pct = gv.agreement_pct(value, reference)
    assert pct is not None
    assert math.copysign(1, pct) == math.copysign(1, value - reference) or pct == 0
    assert gv.agreement_pct(value * scale, reference * scale) == pytest.approx(
        pct, rel=1e-9, abs=1e-6
    )
    assert gv.agreement_pct(reference, reference) == 0.0
    assert gv.within_target(pct) == (abs(pct) <= 1.0)


def test_agreement_pct_missing() -> None:
    assert gv.agreement_pct(None, 10.0) is None
    assert gv.agreement_pct(10.0, None) is None
    assert gv.agreement_pct(10.0, 0.0) is None
    assert gv.agreement_pct(math.nan, 10.0) is None
    assert gv.within_target(None) is None
    assert gv.agreement_pct(101.0, 100.0) == pytest.approx(1.0)


@settings(max_examples=200)
@given(
    period=st.floats(min_value=0.01, max_value=1.0),
    ratio=st.floats(min_value=2.0, max_value=20.0),
    phase=st.floats(min_value=0.0, max_value=1.0),
    step=st.integers(min_value=1, max_value=100_000),
)
def test_update_period_of_a_regular_counter(
    period: float, ratio: float, phase: float, step: int
) -> None:
    """A counter that steps by ``step`` every ``period``, polled every period/ratio: the
    changes are seen one poll late at most, so the period is found within one poll."""
    poll = period / ratio
    n = int(12 * ratio)  # about 12 updates
    points = [(k * poll, float(step * math.floor(k * poll / period + phase))) for k in range(n)]
    found = gv.update_period(points)
    assert found["changes"] >= 10
    assert found["step_min"] == step
    assert found["poll_median_s"] == pytest.approx(poll)
    assert abs(found["period_median_s"] - period) <= poll * (1 + 1e-6)
    assert found["period_min_s"] >= period - poll * (1 + 1e-6)
    assert found["poll_limited"] is False


def test_update_period_edge_cases() -> None:
    assert gv.update_period([])["period_min_s"] is None
    flat = gv.update_period([(0.0, 5.0), (0.1, 5.0), (0.2, 5.0)])
    assert flat["changes"] == 0 and flat["period_median_s"] is None and flat["step_min"] is None
    every_poll = gv.update_period([(0.01 * k, float(k)) for k in range(50)])
    assert every_poll["poll_limited"] is True


@given(
    st.floats(min_value=0.0, max_value=100.0),
    st.floats(min_value=0.0, max_value=100.0),
    st.floats(min_value=0.1, max_value=1000.0),
    st.integers(min_value=1, max_value=10_000),
)
def test_cpu_overhead(base: float, tracked: float, duration: float, reads: int) -> None:
    o = gv.cpu_overhead(base, tracked, duration, reads)
    assert o["extra_cpu_s"] == pytest.approx(tracked - base)
    assert o["extra_ms_per_s"] == pytest.approx(1000 * (tracked - base) / duration)
    assert o["extra_pct_of_core"] == pytest.approx(o["extra_ms_per_s"] / 10)
    assert o["extra_ms_per_read"] == pytest.approx(1000 * (tracked - base) / reads)
    if base > 0:
        assert o["ratio"] == pytest.approx(tracked / base)
    else:
        assert o["ratio"] is None


def test_cpu_overhead_missing() -> None:
    o = gv.cpu_overhead(None, 1.0, 10.0)
    assert set(o.values()) == {None}
    assert gv.cpu_overhead(1.0, 2.0, 10.0)["extra_ms_per_read"] is None


@given(st.binary(min_size=16, max_size=16))
def test_normalise_uuid_forms_agree(raw: bytes) -> None:
    h = raw.hex()
    text = f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    assert gv.normalise_uuid(raw) == h
    assert gv.normalise_uuid(text) == h
    assert gv.normalise_uuid(text.upper()[4:]) == h
    assert gv.normalise_uuid("GPU-123") is None
    assert gv.normalise_uuid(None) is None


def test_results_filename() -> None:
    assert gv.results_filename("NVIDIA H200", "550.54.15") == "results-nvidia-h200-550.54.15.json"
    assert gv.results_filename(None, None) == "results-no-gpu-unknown.json"
    assert gv.results_filename("../../x|y", "1/2") == "results-x-y-1-2.json"


@given(st.text(max_size=40))
def test_markdown_escapes_names(name: str) -> None:
    results = {
        "inventory": {"gpus": [{"name": name}], "driver_version": "1"},
        "phases": {"mig": {"status": "skipped", "reason": name}},
    }
    md = gv.render_markdown(results)
    table = [line for line in md.splitlines() if line.startswith("| ")]
    for line in table:
        cells = line.replace("\\|", "").strip("|").split("|")
        assert len(cells) == 4, line
    assert md.endswith("\n")


def test_markdown_of_partial_results() -> None:
    md = gv.render_markdown({"phases": {}})
    assert "no NVIDIA GPU found" in md
    assert "| idle: carbonledger vs NVML counter | not run |" in md
