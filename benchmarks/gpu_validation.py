"""Validate carbonledger's GPU paths on real NVIDIA GPUs (issue 15), in one bounded run.

On every GPU NVML lists, within ``--budget-s`` (default 240 s):

1. inventory: GPU models, UUIDs, driver, NVML and CUDA driver versions, MIG mode;
2. MIG: mode of each GPU, its instances, whether an instance has readings of its own, and
   what carbonledger reports for it;
3. idle and load windows: NVML's total-energy counter (mJ) and power (mW) polled every
   ``--period-ms`` (10-100 ms) by a thread, while a carbonledger ``Tracker`` whose only
   sensor is carbonledger's own NVML sensor runs over the same window; its energy is
   compared with the counter's difference (target: within 1 %) and with the trapezoid
   integral of the power readings; the load is a steady matmul (torch or cupy, whichever
   imports) in one child process per GPU;
4. the counter's update period (time between observed changes) and resolution (smallest
   step), and the same for the power reading;
5. ``CUDA_VISIBLE_DEVICES`` by index, UUID, UUID prefix, empty and invalid values:
   ``carbonledger devices --json`` in a subprocess must list exactly the expected GPUs; the
   load children report the CUDA device they got, which checks NVML's index order against
   CUDA's;
6. the tracker's extra CPU: three idle child processes side by side (no tracker, a tracker
   sampling every 1 s, every 0.1 s), CPU time compared;
7. two load processes sharing GPU 0: NVML's per-process utilisation and carbonledger's
   ``process_share`` for each; the two shares must not add up to more than 1.

Every phase has a time limit; a phase that cannot run (no torch or cupy, MIG off, budget
spent) is recorded as skipped with the reason. Results are written after every phase to
``<out-dir>/results-<gpu>-<driver>.json`` and ``<out-dir>/RESULTS.md``.

    python benchmarks/gpu_validation.py [--budget-s 240] [--out-dir DIR ...]
    benchmarks/gpu/run.sh         # on a fresh GPU machine: venv, install, run, copy to $OUT

The comparisons are pure functions (``trapezoid_energy_j``, ``agreement_pct``,
``update_period``, ``cpu_overhead``, ``summarise``, ``render_markdown``); the NVML module
and the load are injectable (``run(cfg, nvml=..., load=...)``), so the tests run the whole
script against a fake NVML without CUDA.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import importlib
import importlib.util
import json
import math
import os
import platform
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

HERE = Path(__file__).resolve().parent
SCRIPT = Path(__file__).resolve()
SCHEMA = "carbonledger.gpu-validation/1"
TARGET_AGREEMENT_PCT = 1.0  # carbonledger against NVML's own counter, same window
SHARE_TOLERANCE = 1e-6
PHASES = ("mig", "idle", "load", "cuda_visible_devices", "overhead", "shared")


# -- pure maths ----------------------------------------------------------------------------
def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def trapezoid_energy_j(points: Sequence[tuple[float, float]]) -> float | None:
    """The integral of power over time, ``Σ (P₁ + P₂)/2 × Δt``, from (t_s, power_w) points
    in time order; ``None`` with fewer than two points."""
    if len(points) < 2:
        return None
    return sum((p0 + p1) / 2.0 * (t1 - t0) for (t0, p0), (t1, p1) in pairwise(points))


def agreement_pct(value: float | None, reference: float | None) -> float | None:
    """How far ``value`` is from ``reference``, in per cent of the reference (signed);
    ``None`` when either is missing or the reference is not positive."""
    if not (_finite(value) and _finite(reference)) or reference is None or reference <= 0:
        return None
    assert value is not None
    return 100.0 * (value - reference) / reference


def within_target(pct: float | None, target_pct: float = TARGET_AGREEMENT_PCT) -> bool | None:
    """``abs(pct) <= target``; ``None`` when there is nothing to compare."""
    return None if pct is None else abs(pct) <= target_pct


def update_period(points: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """How often a polled reading changes, from (t_s, value) pairs in time order.

    ``period_min_s`` is the smallest nonzero time between two observed changes,
    ``period_median_s`` the median; ``step_min`` is the smallest nonzero change of the
    value; ``poll_median_s`` is the polling step. When the value changed at (nearly) every
    poll, the true period may be shorter than the polling step: ``poll_limited`` says so.
    """
    changes = [t1 for (_, v0), (t1, v1) in pairwise(points) if v1 != v0]
    steps = [abs(v1 - v0) for (_, v0), (_, v1) in pairwise(points) if v1 != v0]
    polls = [t1 - t0 for (t0, _), (t1, _) in pairwise(points) if t1 > t0]
    gaps = [b - a for a, b in pairwise(changes) if b > a]
    poll = statistics.median(polls) if polls else None
    median = statistics.median(gaps) if gaps else None
    return {
        "polls": len(points),
        "changes": len(changes),
        "period_min_s": min(gaps) if gaps else None,
        "period_median_s": median,
        "step_min": min(steps) if steps else None,
        "poll_median_s": poll,
        "poll_limited": (None if median is None or poll is None else bool(median <= 1.5 * poll)),
    }


def cpu_overhead(
    baseline_cpu_s: float | None,
    tracked_cpu_s: float | None,
    duration_s: float,
    reads: int | None = None,
) -> dict[str, float | None]:
    """A tracker's extra CPU over the same idle span without one: seconds, milliseconds of
    CPU per second of run, per cent of one core, per sensor read, and the ratio."""
    if not (_finite(baseline_cpu_s) and _finite(tracked_cpu_s)) or duration_s <= 0:
        return {
            "extra_cpu_s": None,
            "extra_ms_per_s": None,
            "extra_pct_of_core": None,
            "extra_ms_per_read": None,
            "ratio": None,
        }
    assert baseline_cpu_s is not None and tracked_cpu_s is not None
    extra = tracked_cpu_s - baseline_cpu_s
    return {
        "extra_cpu_s": extra,
        "extra_ms_per_s": 1000.0 * extra / duration_s,
        "extra_pct_of_core": 100.0 * extra / duration_s,
        "extra_ms_per_read": 1000.0 * extra / reads if reads else None,
        "ratio": tracked_cpu_s / baseline_cpu_s if baseline_cpu_s > 0 else None,
    }


def slug(text: str) -> str:
    """Lower-case letters, digits, dots and dashes only (for file names)."""
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.") or "unknown"


def normalise_uuid(value: Any) -> str | None:
    """A GPU UUID as 32 lower-case hex digits, from NVML's ``GPU-xxxxxxxx-...``, torch's
    text or CUDA's 16 raw bytes; ``None`` when it is none of these."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)) and len(value) == 16:
        return bytes(value).hex()
    text = value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
    hexits = re.sub(r"[^0-9a-f]", "", text.lower().removeprefix("gpu-"))
    return hexits if len(hexits) == 32 else None


def results_filename(gpu_model: str | None, driver: str | None) -> str:
    return f"results-{slug(gpu_model or 'no-gpu')}-{slug(driver or 'unknown')}.json"


# -- summary and markdown (pure) -------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.3f} %"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{1000.0 * x:.1f} ms"


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("pass" if ok else "**FAIL**")


def _skipped(phase: dict[str, Any] | None) -> str | None:
    if phase is None:
        return "not run"
    if phase.get("status") != "ok":
        return f"{phase.get('status')}: {phase.get('reason', '')}"
    return None


def summarise(results: dict[str, Any]) -> list[dict[str, str]]:
    """The rows of the results table: check, value, target, verdict."""
    rows: list[dict[str, str]] = []
    phases: dict[str, Any] = results.get("phases", {})

    def row(check: str, value: str, target: str = "", verdict: str = "") -> None:
        rows.append({"check": check, "value": value, "target": target, "verdict": verdict})

    for label in ("idle", "load"):
        phase = phases.get(label)
        why = _skipped(phase)
        if why is not None:
            row(f"{label}: carbonledger vs NVML counter", why)
            continue
        assert phase is not None
        for gpu in phase["gpus"]:
            name = f"{label}, GPU {gpu['index']} ({phase['seconds']:.0f} s"
            power = gpu.get("mean_power_w")
            name += f", {power:.0f} W)" if _finite(power) else ")"
            row(
                f"{name}: carbonledger vs NVML counter",
                _pct(gpu["carbonledger_vs_counter_pct"]),
                f"±{TARGET_AGREEMENT_PCT:g} %",
                _verdict(gpu["carbonledger_within_target"]),
            )
            row(f"{name}: power integral vs counter", _pct(gpu["power_integral_vs_counter_pct"]))
    load = phases.get("load")
    if _skipped(load) is None and load is not None:
        for gpu in load["gpus"]:
            c, p = gpu["counter_update"], gpu["power_update"]
            step = "n/a" if c["step_min"] is None else f"{c['step_min']:g} mJ"
            limited = " (poll-limited)" if c["poll_limited"] else ""
            row(
                f"GPU {gpu['index']}: energy counter update period",
                f"median {_ms(c['period_median_s'])}, min {_ms(c['period_min_s'])}{limited}; "
                f"smallest step {step}; polled every {_ms(c['poll_median_s'])}",
            )
            limited = " (poll-limited)" if p["poll_limited"] else ""
            row(
                f"GPU {gpu['index']}: power reading update period",
                f"median {_ms(p['period_median_s'])}, min {_ms(p['period_min_s'])}{limited}",
            )
    cvd = phases.get("cuda_visible_devices")
    why = _skipped(cvd)
    if why is not None:
        row("CUDA_VISIBLE_DEVICES", why)
    else:
        assert cvd is not None
        cases = cvd["cases"]
        ok = sum(1 for c in cases if c["match"])
        failed = ", ".join(c["case"] for c in cases if not c["match"])
        row(
            "CUDA_VISIBLE_DEVICES (carbonledger devices)",
            f"{ok}/{len(cases)} cases match" + (f"; failed: {failed}" if failed else ""),
            "all",
            _verdict(ok == len(cases)),
        )
    order = (load or {}).get("cuda_index_order") if _skipped(load) is None else None
    if order:
        matched = sum(1 for o in order if o["match"])
        row(
            "CUDA index order = NVML index order",
            f"{matched}/{len(order)} GPUs",
            "all",
            _verdict(matched == len(order)),
        )
    shared = phases.get("shared")
    why = _skipped(shared)
    if why is not None:
        row("two processes on one GPU: shares", why)
    else:
        assert shared is not None
        means = ", ".join(
            "n/a" if m is None else f"{m:.2f}" for m in shared["mean_share_by_process"]
        )
        total = shared["max_share_sum"]
        row(
            "two processes on one GPU: carbonledger shares",
            f"mean {means}; largest sum {'n/a' if total is None else f'{total:.3f}'}",
            "sum ≤ 1",
            _verdict(shared["shares_within_device"]),
        )
    mig = phases.get("mig")
    why = _skipped(mig)
    if why is not None:
        row("MIG", why)
    else:
        assert mig is not None
        for gpu in mig["gpus"]:
            per = gpu.get("per_instance_readings")
            value = f"mode {gpu['mode']}"
            if gpu.get("instances"):
                value += f", {len(gpu['instances'])} instances, per-instance readings: " + (
                    "yes" if per else "no"
                )
            row(f"GPU {gpu['index']}: MIG", value)
    overhead = phases.get("overhead")
    why = _skipped(overhead)
    if why is not None:
        row("tracker extra CPU", why)
    else:
        assert overhead is not None
        for case in overhead["cases"]:
            o = case["overhead"]
            value = (
                "n/a"
                if o["extra_ms_per_s"] is None
                else f"{o['extra_ms_per_s']:.2f} ms/s ({o['extra_pct_of_core']:.3f} % of a core)"
            )
            if o.get("extra_ms_per_read") is not None:
                value += f", {o['extra_ms_per_read']:.2f} ms per read"
            row(f"tracker extra CPU, {case['interval_s']:g} s sampling", value)
    return rows


def _cell(text: str) -> str:
    """One table cell: no control characters or line breaks, pipes escaped."""
    return _CONTROL.sub(" ", text).replace("|", "\\|")


def render_markdown(results: dict[str, Any]) -> str:
    """A short markdown page: the machine, then one table of checks."""
    inv = results.get("inventory") or {}
    gpus = inv.get("gpus") or []
    models = ", ".join(sorted({g["name"] for g in gpus})) or "no NVIDIA GPU found"
    lines = [
        "# GPU validation",
        "",
        f"Run {results.get('started_at', '?')} in {results.get('elapsed_s', 0):.0f} s "
        f"(budget {results.get('budget_s', 0):.0f} s), raw figures in "
        f"`{results.get('json_name', '?')}`.",
        "",
        f"- GPUs: {len(gpus)} × {_cell(models)}",
        f"- driver {inv.get('driver_version') or 'n/a'}, NVML {inv.get('nvml_version') or 'n/a'}, "
        f"CUDA driver API {inv.get('cuda_driver_version') or 'n/a'}, "
        f"nvidia-ml-py {inv.get('nvidia_ml_py') or 'n/a'}",
        f"- load: {results.get('load_backend') or 'none'}; carbonledger "
        f"{results.get('carbonledger_version') or 'n/a'}; Python {results.get('python', '?')}",
    ]
    if inv.get("error"):
        lines.append(f"- NVML: {_cell(str(inv['error']))}")
    lines += ["", "| check | value | target | verdict |", "|---|---|---|---|"]
    for r in summarise(results):
        cells = (r["check"], r["value"], r["target"], r["verdict"])
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


# -- NVML ------------------------------------------------------------------------------------
@dataclass
class Gpu:
    index: int
    handle: Any
    uuid: str
    name: str
    mig_enabled: bool
    mig_uuids: list[str]

    @property
    def load_target(self) -> str:
        """What to put in CUDA_VISIBLE_DEVICES for a load on this GPU."""
        return self.mig_uuids[0] if self.mig_enabled and self.mig_uuids else str(self.index)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _try(fn: Callable[..., Any], *args: Any) -> tuple[Any, str | None]:
    """(``fn(*args)``, None), or (None, the error as text)."""
    try:
        return fn(*args), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _just(pid: int) -> set[int]:
    return {pid}


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def inventory(nv: Any) -> tuple[list[Gpu], dict[str, Any]]:
    """The GPUs NVML lists, and the versions; NVML must be initialised."""
    info: dict[str, Any] = {
        "driver_version": _text(_try(nv.nvmlSystemGetDriverVersion)[0] or "") or None,
        "nvml_version": _text(_try(nv.nvmlSystemGetNVMLVersion)[0] or "") or None,
        "cuda_driver_version": _try(nv.nvmlSystemGetCudaDriverVersion)[0],
        "nvidia_ml_py": _version("nvidia-ml-py"),
    }
    gpus: list[Gpu] = []
    rows: list[dict[str, Any]] = []
    for index in range(int(nv.nvmlDeviceGetCount())):
        handle, error = _try(nv.nvmlDeviceGetHandleByIndex, index)
        if handle is None:
            rows.append({"index": index, "error": error})
            continue
        mode, mode_error = _try(nv.nvmlDeviceGetMigMode, handle)
        enabled = bool(mode) and int(mode[0]) == 1
        migs: list[str] = []
        if enabled:
            count = _try(nv.nvmlDeviceGetMaxMigDeviceCount, handle)[0] or 0
            for slot in range(int(count)):
                mig = _try(nv.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)[0]
                if mig is not None:
                    migs.append(_text(nv.nvmlDeviceGetUUID(mig)))
        gpu = Gpu(
            index,
            handle,
            _text(nv.nvmlDeviceGetUUID(handle)),
            _text(nv.nvmlDeviceGetName(handle)),
            enabled,
            migs,
        )
        gpus.append(gpu)
        limit = _try(nv.nvmlDeviceGetEnforcedPowerLimit, handle)[0]
        counter, counter_error = _try(nv.nvmlDeviceGetTotalEnergyConsumption, handle)
        rows.append(
            {
                "index": index,
                "uuid": gpu.uuid,
                "name": gpu.name,
                "power_limit_w": None if limit is None else int(limit) / 1000.0,
                "energy_counter": counter is not None,
                "energy_counter_error": counter_error,
                "mig_mode": None if mode is None else [int(m) for m in mode],
                "mig_mode_error": mode_error,
                "mig_instances": migs,
            }
        )
    info["gpus"] = rows
    return gpus, info


@dataclass
class Trace:
    """What one GPU's poller saw: (t, energy mJ) and (t, power W)."""

    counter: list[tuple[float, float]] = field(default_factory=list)
    power: list[tuple[float, float]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


class Poller:
    """Reads every GPU's energy counter and power every ``period_s`` in a thread."""

    def __init__(self, nv: Any, gpus: Sequence[Gpu], period_s: float) -> None:
        self._nv, self._gpus, self._period = nv, list(gpus), period_s
        self.traces = {g.index: Trace() for g in self._gpus}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gpu-poller", daemon=True)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _loop(self) -> None:
        nv = self._nv
        next_t = time.monotonic()
        while not self._stop.is_set():
            for gpu in self._gpus:
                trace = self.traces[gpu.index]
                for kind, fn, scale, into in (
                    ("counter", nv.nvmlDeviceGetTotalEnergyConsumption, 1.0, trace.counter),
                    ("power", nv.nvmlDeviceGetPowerUsage, 1e-3, trace.power),
                ):
                    if kind in trace.errors:
                        continue
                    try:
                        value = float(fn(gpu.handle)) * scale
                    except Exception as exc:
                        trace.errors[kind] = f"{type(exc).__name__}: {exc}"
                        continue
                    into.append((time.monotonic(), value))
            next_t += self._period
            self._stop.wait(max(0.0, next_t - time.monotonic()))


def read_counters(nv: Any, gpus: Sequence[Gpu]) -> dict[int, tuple[float, float | None]]:
    """index -> (time, energy mJ or None), read now."""
    out: dict[int, tuple[float, float | None]] = {}
    for gpu in gpus:
        value = _try(nv.nvmlDeviceGetTotalEnergyConsumption, gpu.handle)[0]
        out[gpu.index] = (time.monotonic(), None if value is None else float(value))
    return out


# -- loads ------------------------------------------------------------------------------------
class LoadUnavailable(Exception):
    """A load could not start (no CUDA library, no device, out of memory...)."""


class LoadHandle(Protocol):
    pid: int
    info: dict[str, Any]

    def stop(self) -> None: ...


# (CUDA_VISIBLE_DEVICES value, seconds, ready timeout) -> a running load
LoadStarter = Callable[[str, float, float], LoadHandle]


def find_backend(requested: str) -> str | None:
    """``torch`` or ``cupy`` (the requested one, or the first importable for ``auto``)."""
    names = ("torch", "cupy") if requested == "auto" else (requested,)
    for name in names:
        if importlib.util.find_spec(name) is not None:
            return name
    return None


class _ChildLoad:
    def __init__(self, proc: subprocess.Popen[str], info: dict[str, Any], errlog: Path) -> None:
        self.pid = proc.pid
        self.info = info
        self._proc, self._errlog = proc, errlog

    def stop(self) -> None:
        """End the load (terminate, then kill); its log is removed once it succeeded."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        if self.info:
            with contextlib.suppress(OSError):
                self._errlog.unlink()


def _tail(path: Path, chars: int = 400) -> str:
    try:
        return path.read_text(errors="replace").strip()[-chars:]
    except OSError:
        return ""


def subprocess_load(python: str, backend: str, matrix_n: int) -> LoadStarter:
    """Loads as child processes of this script (``--load-child``), one per call."""

    def start(target: str, seconds: float, ready_timeout_s: float) -> LoadHandle:
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=target)
        fd, errname = tempfile.mkstemp(prefix="gpu-load-", suffix=".log")
        errlog = Path(errname)
        with os.fdopen(fd, "w") as err:
            cmd = [python, str(SCRIPT), "--load-child", "--backend", backend]
            cmd += ["--seconds", f"{seconds:.1f}", "--matrix-n", str(matrix_n)]
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        handle = _ChildLoad(proc, {}, errlog)
        deadline = time.monotonic() + ready_timeout_s
        while True:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
                why = f"not ready after {ready_timeout_s:.0f} s"
            else:
                why = "exited before it was ready"
            if line is not None and line.startswith("ready "):
                handle.info = json.loads(line[len("ready ") :])
                return handle
            if line is None or time.monotonic() > deadline:
                handle.stop()  # before reading its log, so that the log is complete
                tail = _tail(errlog) or "(no output)"
                with contextlib.suppress(OSError):
                    errlog.unlink()
                raise LoadUnavailable(f"load on CUDA_VISIBLE_DEVICES={target} {why}: {tail}")

    return start


def load_child(backend: str, seconds: float, matrix_n: int) -> int:
    """A steady matmul on CUDA device 0 for ``seconds``; prints ``ready {json}`` when warm."""
    parent, deadline = os.getppid(), time.monotonic() + seconds
    try:
        if backend == "torch":
            import torch

            if not torch.cuda.is_available():
                print("error: torch.cuda.is_available() is False", file=sys.stderr)
                return 3
            a = torch.randn(matrix_n, matrix_n, device="cuda", dtype=torch.float16)
            b = torch.randn(matrix_n, matrix_n, device="cuda", dtype=torch.float16)
            props = torch.cuda.get_device_properties(0)
            info = {
                "backend": f"torch {torch.__version__}",
                "cuda_uuid": normalise_uuid(str(getattr(props, "uuid", ""))),
                "cuda_name": props.name,
            }

            def step() -> None:
                torch.matmul(a, b)
                torch.cuda.synchronize()
        else:
            import cupy as cp

            a = cp.random.random((matrix_n, matrix_n), dtype=cp.float32)
            b = cp.random.random((matrix_n, matrix_n), dtype=cp.float32)
            props = cp.cuda.runtime.getDeviceProperties(0)
            info = {
                "backend": f"cupy {cp.__version__}",
                "cuda_uuid": normalise_uuid(props.get("uuid")),
                "cuda_name": _text(props.get("name", b"")),
            }

            def step() -> None:
                cp.matmul(a, b)
                cp.cuda.Device().synchronize()

        for _ in range(3):
            step()
        t0, iterations = time.monotonic(), 0
        print("ready " + json.dumps(info), flush=True)
        while time.monotonic() < deadline and os.getppid() == parent:
            step()
            iterations += 1
        elapsed = time.monotonic() - t0
        flops = 2.0 * matrix_n**3 * iterations / elapsed if elapsed > 0 else 0.0
        print("done " + json.dumps({"iterations": iterations, "tflops": flops / 1e12}), flush=True)
        return 0
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3


# -- the tracker's CPU (child) ----------------------------------------------------------------
def overhead_child(interval_s: float, seconds: float, ledger: str) -> int:
    """Sleep ``seconds`` with a tracker sampling every ``interval_s`` (0: no tracker); print
    the CPU times as one JSON line."""
    import resource

    import carbonledger as cl

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    c0 = cpu()
    tracker = None
    reads = None
    if interval_s > 0:
        tracker = cl.Tracker(
            "gpu-validation-overhead", zone="FR", interval=interval_s, ledger=ledger
        )
        tracker.start()
    c1, t1 = cpu(), time.monotonic()
    time.sleep(seconds)
    c2, t2 = cpu(), time.monotonic()
    devices: list[str] = []
    if tracker is not None:
        devices = [d.device_id for d in tracker.devices]
        sampler = tracker._sampler
        reads = sampler.reads if sampler is not None else None
        tracker.stop()
    c3 = cpu()
    print(
        json.dumps(
            {
                "interval_s": interval_s,
                "start_cpu_s": c1 - c0,
                "steady_cpu_s": c2 - c1,
                "steady_s": t2 - t1,
                "stop_cpu_s": c3 - c2,
                "total_cpu_s": c3 - c0,
                "reads": reads,
                "devices": devices,
            }
        ),
        flush=True,
    )
    return 0


# -- the run ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    budget_s: float = 240.0
    period_s: float = 0.010
    idle_s: float = 10.0
    load_s: float = 20.0
    shared_s: float = 10.0
    overhead_s: float = 20.0
    tracker_interval_s: float = 1.0
    ready_timeout_s: float = 90.0
    backend: str = "auto"
    matrix_n: int = 8192
    max_gpus: int = 8
    skip: tuple[str, ...] = ()  # phase names not to run (recorded as skipped)
    out_dirs: tuple[str, ...] = (str(HERE / "gpu"),)


class BudgetSpent(Exception):
    pass


@dataclass
class Context:
    cfg: Config
    nv: Any
    gpus: list[Gpu]
    load: LoadStarter | None
    load_why: str | None
    python: str
    deadline: float
    tmp: Path
    log: Callable[[str], None]

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def window(self, planned_s: float, reserve_s: float, minimum_s: float = 1.0) -> float:
        """``planned_s`` or what the budget still allows after ``reserve_s``."""
        seconds = min(planned_s, self.left() - reserve_s)
        if seconds < min(minimum_s, planned_s):
            raise BudgetSpent(
                f"budget: {self.left():.0f} s left, needs {planned_s + reserve_s:.0f} s"
            )
        return seconds

    def child_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
        env.update(HOME=str(self.tmp), CARBONLEDGER_SENSORS="nvml", CARBONLEDGER_ZONE="FR")
        env.update(extra)
        return env


def _probe_environ() -> dict[str, str]:
    """carbonledger's sensor sees what NVML sees: every GPU."""
    return {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}


@contextlib.contextmanager
def _loads(ctx: Context, targets: Sequence[str], seconds: float) -> Iterator[list[LoadHandle]]:
    if ctx.load is None:
        raise LoadUnavailable(ctx.load_why or "no load")
    started: list[LoadHandle] = []
    try:
        for target in targets:
            timeout = min(ctx.cfg.ready_timeout_s, max(5.0, ctx.left() / 3))
            started.append(ctx.load(target, seconds + 30.0, timeout))
        yield started
    finally:
        for handle in started:
            with contextlib.suppress(Exception):
                handle.stop()


def phase_mig(ctx: Context) -> dict[str, Any]:
    from carbonledger.sensors import nvml
    from carbonledger.sensors.base import ProbeContext

    nv = ctx.nv
    sensor = nvml.probe(ProbeContext(environ=_probe_environ()))
    reported = {}
    if isinstance(sensor, nvml.NvmlSensor):
        reported = {d.device_id: dict(d.details) for d in sensor.devices()}
        sensor.close()
    gpus = []
    for gpu in ctx.gpus:
        mode, error = _try(nv.nvmlDeviceGetMigMode, gpu.handle)
        row: dict[str, Any] = {
            "index": gpu.index,
            "mode": (
                "not supported"
                if mode is None
                else ("enabled" if int(mode[0]) == 1 else "disabled")
                + ("" if int(mode[0]) == int(mode[1]) else f" (pending {int(mode[1])})")
            ),
            "mode_error": error,
            "instances": gpu.mig_uuids,
        }
        if gpu.mig_uuids:
            readings = []
            for slot in range(len(gpu.mig_uuids)):
                handle = _try(nv.nvmlDeviceGetMigDeviceHandleByIndex, gpu.handle, slot)[0]
                if handle is None:
                    continue
                energy, energy_error = _try(nv.nvmlDeviceGetTotalEnergyConsumption, handle)
                power, power_error = _try(nv.nvmlDeviceGetPowerUsage, handle)
                readings.append(
                    {
                        "uuid": _text(nv.nvmlDeviceGetUUID(handle)),
                        "energy_mj": energy,
                        "energy_error": energy_error,
                        "power_mw": power,
                        "power_error": power_error,
                    }
                )
            row["instance_readings"] = readings
            row["per_instance_readings"] = any(
                r["energy_mj"] is not None or r["power_mw"] is not None for r in readings
            )
        details = reported.get(f"nvml:{gpu.uuid}")
        row["carbonledger"] = details
        row["carbonledger_agrees"] = (
            None
            if details is None
            else bool(details.get("mig")) == gpu.mig_enabled
            and (not gpu.mig_enabled or details.get("mig_instances") == gpu.mig_uuids)
        )
        gpus.append(row)
    return {"status": "ok", "gpus": gpus}


def _footprint_energy(fp: Any) -> dict[str, float | None]:
    if fp is None:
        return {}
    return {c.device: c.host_energy_j for c in fp.components}


class RecordingSensor:
    """carbonledger's NVML sensor, unchanged, and NVML's counter read right after each of
    its reads: the reference for exactly the span the tracker measured (its first read is
    its baseline, its last read is in ``stop()``)."""

    kind = "nvml"

    def __init__(self, inner: Any, nv: Any, gpus: Sequence[Gpu]) -> None:
        self._inner, self._nv, self._gpus = inner, nv, list(gpus)
        self.reads: list[dict[int, tuple[float, float | None]]] = []

    def devices(self) -> Any:
        return self._inner.devices()

    def read(self) -> Any:
        readings = self._inner.read()
        self.reads.append(read_counters(self._nv, self._gpus))
        return readings

    def close(self) -> None:
        self._inner.close()


def _span_energy(
    first: tuple[float, float | None], last: tuple[float, float | None]
) -> tuple[float | None, float]:
    """(counter difference in J or None, seconds) between two counter reads."""
    (t0, c0), (t1, c1) = first, last
    return (None if c0 is None or c1 is None else (c1 - c0) / 1000.0), t1 - t0


def _power_integral(trace: Trace, t0: float, t1: float) -> float | None:
    """Trapezoid over the power readings in [t0, t1], stretched to the whole span."""
    inside = [(t, p) for t, p in trace.power if t0 <= t <= t1]
    energy = trapezoid_energy_j(inside)
    if energy is None:
        return None
    covered = inside[-1][0] - inside[0][0]
    return energy * (t1 - t0) / covered if covered > 0 else None


def measure_window(ctx: Context, label: str, planned_s: float, loaded: bool) -> dict[str, Any]:
    """One window: the poller, carbonledger's tracker and NVML's counter over the same span."""
    import carbonledger as cl
    from carbonledger.sensors import nvml
    from carbonledger.sensors.base import ProbeContext

    if loaded and ctx.load is None:
        raise LoadUnavailable(ctx.load_why or "no load")
    reserve = 5.0
    seconds = ctx.window(planned_s, reserve + (ctx.cfg.ready_timeout_s / 3 if loaded else 0.0))
    targets = [g.load_target for g in ctx.gpus] if loaded else []
    with contextlib.ExitStack() as stack:
        loads = stack.enter_context(_loads(ctx, targets, seconds)) if loaded else []
        seconds = ctx.window(seconds, reserve)
        poller = stack.enter_context(Poller(ctx.nv, ctx.gpus, ctx.cfg.period_s))
        time.sleep(min(0.5, 5 * ctx.cfg.period_s))
        before = read_counters(ctx.nv, ctx.gpus)
        inner = nvml.probe(ProbeContext(environ=_probe_environ()))
        if not isinstance(inner, nvml.NvmlSensor):
            return {"status": "error", "reason": f"carbonledger's NVML sensor: {inner.reason}"}
        sensor = RecordingSensor(inner, ctx.nv, ctx.gpus)
        tracker = cl.Tracker(
            f"gpu-validation-{label}",
            zone="FR",
            interval=ctx.cfg.tracker_interval_s,
            ledger=ctx.tmp / f"{label}.sqlite",
            sensors=[sensor],
        )
        tracker.start()
        t_start = time.monotonic()
        time.sleep(seconds)
        fp = tracker.stop()
        t_stop = time.monotonic()
        after = read_counters(ctx.nv, ctx.gpus)
        time.sleep(min(0.5, 5 * ctx.cfg.period_s))
        stack.close()  # stops the poller, then the loads
        load_info = [dict(h.info) for h in loads]
    if len(sensor.reads) < 2:
        return {"status": "error", "reason": f"the tracker read {len(sensor.reads)} time(s)"}
    energies = _footprint_energy(fp)
    gpus = []
    for gpu in ctx.gpus:
        trace = poller.traces[gpu.index]
        first, last = sensor.reads[0][gpu.index], sensor.reads[-1][gpu.index]
        counter_j, span_s = _span_energy(first, last)
        outer_j, outer_s = _span_energy(before[gpu.index], after[gpu.index])
        power_j = _power_integral(trace, first[0], last[0])
        cl_j = energies.get(f"nvml:{gpu.uuid}")
        pct = agreement_pct(cl_j, counter_j)
        gpus.append(
            {
                "index": gpu.index,
                "uuid": gpu.uuid,
                "span_s": span_s,
                "counter_j": counter_j,
                "carbonledger_j": cl_j,
                "power_integral_j": power_j,
                "mean_power_w": counter_j / span_s
                if counter_j is not None and span_s > 0
                else None,
                "carbonledger_vs_counter_pct": pct,
                "carbonledger_within_target": within_target(pct),
                "power_integral_vs_counter_pct": agreement_pct(power_j, counter_j),
                # from before the sensor opened to after stop() returned: what start-up and
                # shut-down leave out of the run
                "outer_span_s": outer_s,
                "outer_counter_j": outer_j,
                "counter_update": update_period(trace.counter),
                "power_update": update_period(trace.power),
                "poll_errors": trace.errors,
            }
        )
    order = []
    for gpu, info in zip(ctx.gpus, load_info, strict=False):
        if not gpu.mig_enabled and info.get("cuda_uuid"):
            expected = normalise_uuid(gpu.uuid)
            order.append(
                {
                    "index": gpu.index,
                    "nvml_uuid": gpu.uuid,
                    "cuda_uuid": info["cuda_uuid"],
                    "match": info["cuda_uuid"] == expected,
                }
            )
    return {
        "status": "ok",
        "seconds": seconds,
        "tracker_s": t_stop - t_start,
        "tracker_reads": len(sensor.reads),
        "tracker_interval_s": ctx.cfg.tracker_interval_s,
        "period_s": ctx.cfg.period_s,
        "warnings": list(fp.warnings) if fp is not None else ["tracker returned no footprint"],
        "gpus": gpus,
        "loads": load_info,
        "cuda_index_order": order,
    }


def _devices_json(ctx: Context, value: str) -> tuple[list[str] | None, str | None, list[str]]:
    code = "from carbonledger.cli.main import main; raise SystemExit(main(['devices', '--json']))"
    timeout = max(5.0, min(60.0, ctx.left() - 2))
    try:
        proc = subprocess.run(
            [ctx.python, "-c", code],
            env=ctx.child_env(CUDA_VISIBLE_DEVICES=value),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s", []
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}", []
    data = json.loads(proc.stdout)
    uuids = [
        d["details"].get("uuid") for d in data["devices"] if str(d["device_id"]).startswith("nvml:")
    ]
    absent = [a["reason"] for a in data["absent"] if a["kind"] == "nvml"]
    return uuids, None, absent


def phase_cuda_visible_devices(ctx: Context) -> dict[str, Any]:
    gpus = ctx.gpus
    first = gpus[0]
    cases: list[tuple[str, str, list[str]]] = [
        ("index 0", "0", [first.uuid]),
        ("uuid of GPU 0", first.uuid, [first.uuid]),
        ("empty", "", []),
        ("invalid (-1)", "-1", []),
    ]
    prefix = first.uuid[:12]
    if sum(g.uuid.startswith(prefix) for g in gpus) == 1:
        cases.insert(2, ("uuid prefix of GPU 0", prefix, [first.uuid]))
    if len(gpus) > 1:
        last = gpus[-1]
        cases.append((f"index {last.index}", str(last.index), [last.uuid]))
        cases.append(("two uuids, reversed", f"{last.uuid},{first.uuid}", [last.uuid, first.uuid]))
        cases.append(("index then invalid", f"{last.index},-1,0", [last.uuid]))
    migged = [g for g in gpus if g.mig_uuids]
    if migged:
        cases.append(("MIG instance uuid", migged[0].mig_uuids[0], [migged[0].uuid]))
    results = []
    for name, value, expected in cases:
        if ctx.left() < 5:
            results.append({"case": name, "value": value, "match": False, "error": "budget spent"})
            continue
        got, error, absent = _devices_json(ctx, value)
        results.append(
            {
                "case": name,
                "value": value,
                "expected": expected,
                "got": got,
                "absent": absent,
                "error": error,
                "match": got == expected,
            }
        )
    return {"status": "ok", "cases": results}


def phase_overhead(ctx: Context) -> dict[str, Any]:
    seconds = ctx.window(ctx.cfg.overhead_s, 15.0)
    procs = {}
    for interval in (0.0, 1.0, 0.1):
        cmd = [ctx.python, str(SCRIPT), "--overhead-child", "--interval", str(interval)]
        cmd += [
            "--seconds",
            f"{seconds:.2f}",
            "--ledger",
            str(ctx.tmp / f"overhead-{interval}.sqlite"),
        ]
        procs[interval] = subprocess.Popen(
            cmd, env=ctx.child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(0.2)  # staggered, so the starts do not overlap
    outputs: dict[float, dict[str, Any]] = {}
    for interval, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=max(5.0, min(seconds + 60, ctx.left())))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            outputs[interval] = {"error": f"exit {proc.returncode}: {err.strip()[-300:]}"}
        else:
            outputs[interval] = json.loads(lines[-1])
    base = outputs[0.0]
    cases = []
    for interval in (1.0, 0.1):
        got = outputs[interval]
        steady = cpu_overhead(
            base.get("steady_cpu_s"),
            got.get("steady_cpu_s"),
            float(got.get("steady_s") or seconds),
            got.get("reads"),
        )
        cases.append(
            {
                "interval_s": interval,
                "child": got,
                "overhead": steady,
                "total_extra_cpu_s": (
                    got["total_cpu_s"] - base["total_cpu_s"]
                    if "total_cpu_s" in got and "total_cpu_s" in base
                    else None
                ),
            }
        )
    return {"status": "ok", "seconds": seconds, "baseline": base, "cases": cases}


def phase_shared(ctx: Context) -> dict[str, Any]:
    from carbonledger.sensors import nvml
    from carbonledger.sensors.base import ProbeContext

    if ctx.load is None:
        raise LoadUnavailable(ctx.load_why or "no load")
    gpu = ctx.gpus[0]
    seconds = ctx.window(ctx.cfg.shared_s, 5.0 + ctx.cfg.ready_timeout_s / 3)
    with _loads(ctx, [gpu.load_target, gpu.load_target], seconds) as loads:
        seconds = ctx.window(seconds, 3.0)
        pids = [h.pid for h in loads]
        sensors = []
        for pid in pids:
            s = nvml.probe(
                ProbeContext(environ=_probe_environ(), tracked_pids=functools.partial(_just, pid))
            )
            if not isinstance(s, nvml.NvmlSensor):
                return {"status": "error", "reason": f"carbonledger's NVML sensor: {s.reason}"}
            sensors.append(s)
        device = f"nvml:{gpu.uuid}"
        step = max(0.2, min(1.0, seconds / 5))
        reads: list[dict[str, Any]] = []
        util_by_pid: dict[int, list[float]] = {p: [] for p in pids}
        last_us = int(time.time() * 1e6)
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                time.sleep(min(step, max(0.0, end - time.monotonic())))
                shares = []
                for s in sensors:
                    reading = next((r for r in s.read() if r.device_id == device), None)
                    shares.append(None if reading is None else reading.process_share)
                samples, error = _try(ctx.nv.nvmlDeviceGetProcessUtilization, gpu.handle, last_us)
                sm: dict[int, float] = {}
                for sample in samples or []:
                    sm[int(sample.pid)] = sm.get(int(sample.pid), 0.0) + float(sample.smUtil)
                    last_us = max(last_us, int(sample.timeStamp))
                for p in pids:
                    if p in sm:
                        util_by_pid[p].append(sm[p])
                procs = _try(ctx.nv.nvmlDeviceGetComputeRunningProcesses, gpu.handle)[0] or []
                known = [s for s in shares if s is not None]
                reads.append(
                    {
                        "shares": shares,
                        "share_sum": sum(known) if len(known) == len(shares) else None,
                        "sm_util_by_pid": {str(k): v for k, v in sm.items()},
                        "util_error": error,
                        "compute_pids": [int(p.pid) for p in procs],
                    }
                )
        finally:
            for s in sensors:
                s.close()
    sums = [r["share_sum"] for r in reads if r["share_sum"] is not None]
    means = []
    for i in range(len(pids)):
        values = [r["shares"][i] for r in reads if r["shares"][i] is not None]
        means.append(statistics.fmean(values) if values else None)
    seen = {p for r in reads for p in r["compute_pids"]}
    return {
        "status": "ok",
        "seconds": seconds,
        "gpu_index": gpu.index,
        "pids": pids,
        "reads": reads,
        "mean_share_by_process": means,
        "max_share_sum": max(sums) if sums else None,
        "shares_within_device": (
            None if not sums else all(s <= 1.0 + SHARE_TOLERANCE for s in sums)
        ),
        "both_pids_listed_by_nvml": all(p in seen for p in pids),
        "mean_sm_util_by_pid": {
            str(p): (statistics.fmean(v) if v else None) for p, v in util_by_pid.items()
        },
    }


Phase = Callable[[Context], dict[str, Any]]


def _run_phase(ctx: Context, name: str, fn: Phase, results: dict[str, Any]) -> None:
    t0 = time.monotonic()
    ctx.log(f"{name} ... ({ctx.left():.0f} s of budget left)")
    try:
        if ctx.left() < 3:
            raise BudgetSpent(f"budget: {ctx.left():.0f} s left")
        out = fn(ctx)
    except BudgetSpent as exc:
        out = {"status": "skipped", "reason": str(exc)}
    except LoadUnavailable as exc:
        out = {"status": "skipped", "reason": str(exc)}
    except Exception as exc:
        out = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    out["elapsed_s"] = time.monotonic() - t0
    results["phases"][name] = out
    ctx.log(f"{name}: {out['status']}" + (f" ({out['reason']})" if "reason" in out else ""))


def output_name(results: dict[str, Any]) -> str:
    """``results-<gpu model>-<driver>.json`` (``mixed`` for several models)."""
    inv = results.get("inventory") or {}
    gpus = inv.get("gpus") or []
    names = sorted({g.get("name") for g in gpus if g.get("name")})
    model = names[0] if len(names) == 1 else ("mixed" if names else None)
    return results_filename(model, inv.get("driver_version"))


def write_outputs(results: dict[str, Any], out_dirs: Sequence[str]) -> list[Path]:
    """The JSON and RESULTS.md in each folder; returns the paths written."""
    results = dict(results, json_name=output_name(results))
    text = json.dumps(results, indent=2, default=str, allow_nan=False)
    markdown = render_markdown(results)
    written = []
    for folder in out_dirs:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        (path / results["json_name"]).write_text(text + "\n")
        (path / "RESULTS.md").write_text(markdown)
        written += [path / results["json_name"], path / "RESULTS.md"]
    return written


def _clean(value: Any) -> Any:
    """NaN and infinities as None, so the JSON stays valid."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def run(
    cfg: Config,
    *,
    nvml: Any = None,
    load: LoadStarter | None = None,
    python: str = sys.executable,
    log: Callable[[str], None] = lambda m: print(
        f"gpu_validation: {m}", file=sys.stderr, flush=True
    ),
) -> dict[str, Any]:
    """Every phase within ``cfg.budget_s``; writes the outputs after each; returns them."""
    started = time.monotonic()
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "started_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "budget_s": cfg.budget_s,
        "config": asdict(cfg),
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "carbonledger_version": _version("carbonledger"),
        "load_backend": None,
        "inventory": None,
        "phases": {},
        "elapsed_s": 0.0,
    }

    def save() -> None:
        results["elapsed_s"] = time.monotonic() - started
        results["json_name"] = output_name(results)
        write_outputs(_clean(results), cfg.out_dirs)

    nv = nvml
    if nv is None:
        try:
            nv = importlib.import_module("pynvml")
        except ImportError as exc:
            results["inventory"] = {
                "error": f"pynvml cannot be imported ({exc}): pip install nvidia-ml-py"
            }
            save()
            return results
    try:
        nv.nvmlInit()
    except Exception as exc:
        results["inventory"] = {"error": f"nvmlInit failed: {exc}"}
        save()
        return results
    with tempfile.TemporaryDirectory(prefix="gpu-validation-") as tmp:
        try:
            gpus, info = inventory(nv)
            results["inventory"] = info
            gpus = gpus[: cfg.max_gpus]
            why = None
            if load is None:
                backend = find_backend(cfg.backend)
                if backend is None:
                    why = f"no CUDA load library ({cfg.backend}): pip install cupy-cuda12x or torch"
                else:
                    results["load_backend"] = backend
                    load = subprocess_load(python, backend, cfg.matrix_n)
            else:
                results["load_backend"] = "injected"
            ctx = Context(cfg, nv, gpus, load, why, python, started + cfg.budget_s, Path(tmp), log)
            save()
            if not gpus:
                for name in PHASES:
                    results["phases"][name] = {"status": "skipped", "reason": "NVML lists no GPU"}
            else:
                phases: list[tuple[str, Phase]] = [
                    ("mig", phase_mig),
                    ("idle", lambda c: measure_window(c, "idle", c.cfg.idle_s, loaded=False)),
                    ("load", lambda c: measure_window(c, "load", c.cfg.load_s, loaded=True)),
                    ("cuda_visible_devices", phase_cuda_visible_devices),
                    ("overhead", phase_overhead),
                    ("shared", phase_shared),
                ]
                for name, fn in phases:
                    if name in cfg.skip:
                        results["phases"][name] = {"status": "skipped", "reason": "--skip"}
                        continue
                    _run_phase(ctx, name, fn, results)
                    save()
        finally:
            with contextlib.suppress(Exception):
                nv.nvmlShutdown()
    save()
    return results


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    d = Config()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--budget-s", type=float, default=d.budget_s, help="whole run (default %(default)s)"
    )
    p.add_argument(
        "--period-ms", type=float, default=d.period_s * 1000, help="NVML polling, 10-100"
    )
    p.add_argument("--idle-s", type=float, default=d.idle_s)
    p.add_argument("--load-s", type=float, default=d.load_s)
    p.add_argument("--shared-s", type=float, default=d.shared_s)
    p.add_argument("--overhead-s", type=float, default=d.overhead_s)
    p.add_argument("--tracker-interval-s", type=float, default=d.tracker_interval_s)
    p.add_argument("--ready-timeout-s", type=float, default=d.ready_timeout_s)
    p.add_argument("--backend", choices=("auto", "torch", "cupy"), default=d.backend)
    p.add_argument("--matrix-n", type=int, default=d.matrix_n)
    p.add_argument("--max-gpus", type=int, default=d.max_gpus)
    p.add_argument("--out-dir", action="append", help="repeatable; default benchmarks/gpu")
    p.add_argument("--skip", action="append", choices=PHASES, default=[], help="repeatable")
    # internal: the child processes
    p.add_argument("--load-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--overhead-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    p.add_argument("--interval", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument("--ledger", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not 10 <= args.period_ms <= 100:
        p.error("--period-ms must be between 10 and 100")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.load_child:
        backend = find_backend(args.backend)
        if backend is None:
            print(f"error: no {args.backend} CUDA library", file=sys.stderr)
            return 3
        return load_child(backend, args.seconds, args.matrix_n)
    if args.overhead_child:
        return overhead_child(args.interval, args.seconds, args.ledger)
    cfg = Config(
        budget_s=args.budget_s,
        period_s=args.period_ms / 1000.0,
        idle_s=args.idle_s,
        load_s=args.load_s,
        shared_s=args.shared_s,
        overhead_s=args.overhead_s,
        tracker_interval_s=args.tracker_interval_s,
        ready_timeout_s=args.ready_timeout_s,
        backend=args.backend,
        matrix_n=args.matrix_n,
        max_gpus=args.max_gpus,
        skip=tuple(args.skip),
        out_dirs=tuple(args.out_dir or Config().out_dirs),
    )
    results = run(cfg)
    sys.stdout.write(render_markdown(results))
    failed = [r for r in summarise(results) if r["verdict"] == "**FAIL**"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
