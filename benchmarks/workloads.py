"""Child side of the overhead benchmark: one measurement per fresh process.

Run by ``bench_overhead.py`` as ``python workloads.py MODE TOOL [--seconds S] [--units N]``
and prints exactly one JSON object on its last stdout line. Stdlib only: nothing here may
pre-import what the measured tools import, or it would hide part of their cost.

Modes
    start     import TOOL, build a tracker, time ``start()`` until its first sample exists,
              then ``stop()``.
    idle      import TOOL, start it, ``time.sleep(seconds)``, stop it.
    busy      import TOOL, start it, do ``units`` units of pure-Python arithmetic in the main
              thread (a fixed amount of work), stop it.
    calibrate no tracker; how many busy units one CPU second of this machine does.
    profile   import TOOL, build a tracker, run ``start()`` under cProfile, report the top
              entries (the tool's functions and every module import) by cumulative time.

TOOL is ``none`` (the baseline: the same script, no tracker), ``carbonledger`` or
``codecarbon``. Every run records the process's CPU time (user+sys of all its threads,
finished ones included, from ``getrusage(RUSAGE_SELF)``), the main thread's own CPU time,
the CPU time of the subprocesses it waited for (``RUSAGE_CHILDREN``), peak RSS
(``ru_maxrss``), and any network or subprocess attempt (seen by an audit hook,
which blocks network connections: the benchmark runs offline on purpose).

The import-time measurement does not use this file: ``bench_overhead.py`` times it with a
minimal ``python -c`` so that nothing is imported before the measured package.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import threading
import time
from typing import Any

# one busy unit: a fixed number of pure-Python integer operations (an LCG), about 1-3 ms
UNIT_ITERATIONS = 20_000
INTERVAL_S = 1.0
ZONE_CARBONLEDGER = "FR"
ZONE_CODECARBON = "FRA"

_network: list[str] = []
_subprocesses: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event.startswith("socket."):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.sendto", "socket.sendmsg"):
            if len(_network) < 20:
                _network.append(f"{event} {str(args)[:120]}")
            raise OSError("network access blocked by the carbonledger benchmark (offline run)")
    elif event in ("subprocess.Popen", "os.posix_spawn", "os.exec") and len(_subprocesses) < 20:
        _subprocesses.append(f"{event} {str(args)[:160]}")


def _process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def busy_units(units: int) -> int:
    """Do ``units`` units of pure-Python arithmetic; returns a checksum (so it is not idle)."""
    x = 12345
    for _ in range(units):
        for _ in range(UNIT_ITERATIONS):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


class _CarbonLedger:
    name = "carbonledger"

    def __init__(self, ledger_dir: str) -> None:
        self.ledger_path = os.path.join(ledger_dir, "ledger.sqlite")
        self.tracker: Any = None

    def import_tool(self) -> None:
        import carbonledger as cl

        self.cl = cl
        self.file = cl.__file__
        _ = cl.Tracker  # what tracking needs (the package resolves names lazily)

    def make(self) -> None:
        self.tracker = self.cl.Tracker(
            "bench", zone=ZONE_CARBONLEDGER, interval=INTERVAL_S, ledger=self.ledger_path
        )

    def start(self) -> None:
        self.tracker.start()

    def samples_taken(self) -> int:
        sampler = self.tracker._sampler
        return 0 if sampler is None else int(sampler.reads)

    def stop(self) -> dict[str, Any]:
        sampler = self.tracker._sampler
        reads = None if sampler is None else int(sampler.reads)
        footprint = self.tracker.stop()
        out: dict[str, Any] = {
            "reads_before_stop": reads,
            "devices": [
                f"{d.device_id} ({getattr(d.method, 'value', d.method)})"
                for d in self.tracker.devices
            ],
            "warnings": list(self.tracker.warnings),
        }
        if footprint is not None:
            out["energy_kwh"] = footprint.energy_kwh
        return out


class _CodeCarbon:
    name = "codecarbon"

    def __init__(self, ledger_dir: str) -> None:
        self.tracker: Any = None
        self.ledger_dir = ledger_dir

    def import_tool(self) -> None:
        import logging

        import codecarbon  # type: ignore[import-not-found,unused-ignore]
        from codecarbon import OfflineEmissionsTracker  # type: ignore[import-not-found,unused-ignore]

        self.file = codecarbon.__file__

        # quiet: its INFO lines are printed before log_level is applied
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        self.cls = OfflineEmissionsTracker

    def make(self) -> None:
        self.tracker = self.cls(
            project_name="bench",
            country_iso_code=ZONE_CODECARBON,
            measure_power_secs=INTERVAL_S,
            tracking_mode="machine",
            output_methods=[],  # no CSV, API, Prometheus, ...: nothing written anywhere
            output_dir=self.ledger_dir,
            log_level="error",
        )

    def start(self) -> None:
        self.tracker.start()

    def samples_taken(self) -> int:
        # incremented at the end of each measurement of every hardware item
        return int(getattr(self.tracker, "_power_measurement_count", 0))

    def stop(self) -> dict[str, Any]:
        reads = self.samples_taken()
        self.tracker.stop()
        data = getattr(self.tracker, "final_emissions_data", None)
        out: dict[str, Any] = {
            "reads_before_stop": reads,
            "devices": [h.description() for h in getattr(self.tracker, "_hardware", [])],
            "warnings": [],
        }
        if data is not None:
            out["energy_kwh"] = data.energy_consumed
        return out


def _tool(name: str, ledger_dir: str) -> _CarbonLedger | _CodeCarbon | None:
    if name == "none":
        return None
    if name == "carbonledger":
        return _CarbonLedger(ledger_dir)
    if name == "codecarbon":
        return _CodeCarbon(ledger_dir)
    raise SystemExit(f"workloads.py: unknown tool {name!r}")


def _wait_first_sample(
    tool: _CarbonLedger | _CodeCarbon, t_call: float, timeout_s: float
) -> float | None:
    """Seconds from the start() call until the tool has taken a sample (None: never)."""
    while tool.samples_taken() < 1:
        if time.perf_counter() - t_call > timeout_s:
            return None
        time.sleep(0.0005)
    return time.perf_counter() - t_call


def _profile_start(tool: _CarbonLedger | _CodeCarbon, top: int = 16) -> dict[str, Any]:
    """cProfile of ``start()`` (main thread only): the tool's own functions and imports by
    cumulative time, to show where a slow start goes. Profiling inflates the times."""
    import cProfile
    import pstats

    tool.import_tool()
    tool.make()
    profiler = cProfile.Profile()
    profiler.enable()
    tool.start()
    profiler.disable()
    tool.stop()
    stats: Any = pstats.Stats(profiler)
    total = max((ct for (_, _, _, ct, _) in stats.stats.values()), default=0.0)
    rows = []
    for (filename, line, func), (_, _, _, ct, _) in stats.stats.items():
        short = filename.replace("\\", "/")
        for marker in ("/site-packages/", "/src/", "/lib/python3."):
            if marker in short:
                short = short.split(marker, 1)[1]
                if marker == "/lib/python3.":
                    short = "stdlib/" + short.split("/", 1)[1]
                break
        if func == "<module>":
            label = f"import {short.removesuffix('.py').replace('/', '.')}"
        else:
            label = f"{short}:{line}({func})"
        if short.startswith(f"{tool.name}/") or func == "<module>":
            rows.append((ct, label))
    rows.sort(reverse=True)
    return {
        "profile_total_s": total,
        "profile_top": [[round(ct, 6), label] for ct, label in rows[:top]],
    }


def main(argv: list[str]) -> int:
    mode, tool_name = argv[0], argv[1]
    seconds = float(argv[argv.index("--seconds") + 1]) if "--seconds" in argv else 15.0
    units = int(argv[argv.index("--units") + 1]) if "--units" in argv else 0
    sys.addaudithook(_audit)
    result: dict[str, Any] = {"mode": mode, "tool": tool_name}
    with tempfile.TemporaryDirectory(prefix="clbench-") as ledger_dir:
        tool = _tool(tool_name, ledger_dir)
        if mode == "profile" and tool is not None:
            result.update(_profile_start(tool))
            print(json.dumps(result))
            return 0
        if mode == "calibrate":
            # per CPU second of this thread: steadier than per wall second on a busy machine
            t0 = time.thread_time()
            n = 0
            while time.thread_time() - t0 < seconds:
                busy_units(10)
                n += 10
            result["units_per_s"] = n / (time.thread_time() - t0)
            print(json.dumps(result))
            return 0
        if tool is not None:
            c0, t0 = time.process_time(), time.perf_counter()
            tool.import_tool()
            result["import_s"] = time.perf_counter() - t0
            result["import_cpu_s"] = time.process_time() - c0
            result["tool_file"] = tool.file
            t0 = time.perf_counter()
            tool.make()
            result["init_s"] = time.perf_counter() - t0
            c_call, t_call = time.process_time(), time.perf_counter()
            tool.start()
            result["start_s"] = time.perf_counter() - t_call
            result["start_cpu_s"] = time.process_time() - c_call
            result["samples_after_start"] = tool.samples_taken()
            result["first_sample_s"] = _wait_first_sample(tool, t_call, timeout_s=10.0)
        result["threads_after_start"] = threading.active_count()
        cpu0, main0 = _process_cpu_s(), time.thread_time()
        t0 = time.perf_counter()
        if mode == "idle":
            time.sleep(seconds)
        elif mode == "busy":
            result["checksum"] = busy_units(units)
            result["units"] = units
        elif mode != "start":
            raise SystemExit(f"workloads.py: unknown mode {mode!r}")
        result["workload_wall_s"] = time.perf_counter() - t0
        # the main thread's CPU for the work itself, and that of every other thread meanwhile
        main_cpu_s = time.thread_time() - main0
        result["workload_main_cpu_s"] = main_cpu_s
        result["workload_other_threads_cpu_s"] = (_process_cpu_s() - cpu0) - main_cpu_s
        result["threads_during"] = (
            len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None
        )
        if tool is not None:
            t0 = time.perf_counter()
            result.update(tool.stop())
            result["stop_s"] = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_total_s"] = usage.ru_utime + usage.ru_stime
    result["cpu_main_s"] = time.thread_time()
    result["maxrss_kib"] = usage.ru_maxrss
    # subprocesses the tool ran and waited for (CodeCarbon runs lscpu, nvidia-smi, ...)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu_children_s"] = children.ru_utime + children.ru_stime
    result["children_maxrss_kib"] = children.ru_maxrss
    result["network"] = list(_network)
    result["subprocesses"] = list(_subprocesses)
    result["modules"] = len(sys.modules)
    result["heavy_modules"] = sorted(
        m for m in ("numpy", "pandas", "matplotlib", "requests") if m in sys.modules
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
