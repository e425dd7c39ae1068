"""The public API is pinned: adding a name is a decision, removing one breaks users."""

import subprocess
import sys

import carbonledger as cl

EXPECTED = {
    "BaseSink",
    "Budget",
    "BudgetExceeded",
    "CarbonAwarePause",
    "CarbonLedgerError",
    "ConfigError",
    "DataError",
    "Footprint",
    "IntensitySeries",
    "LedgerError",
    "ProviderError",
    "Run",
    "RunEnded",
    "RunNotFoundError",
    "RunSink",
    "RunStarted",
    "RunStopping",
    "SensorError",
    "Settings",
    "SpanToken",
    "Tracker",
    "UnknownZoneError",
    "__version__",
    "breakeven",
    "estimate",
    "expands_front",
    "fl",
    "footprint_for_run",
    "indifference",
    "job_footprint",
    "load_series",
    "open_ledger",
    "pareto_front",
    "plan",
    "runs_frame",
    "track",
}


def test_all_is_pinned() -> None:
    assert set(cl.__all__) == EXPECTED


def test_every_public_name_resolves() -> None:
    for name in cl.__all__:
        assert getattr(cl, name) is not None, name


def test_import_is_light() -> None:
    code = (
        "import sys, carbonledger;"
        "heavy = [m for m in ('numpy', 'pandas', 'matplotlib', 'httpx', 'pynvml', 'psutil')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_tracking_path_imports_no_heavy_libraries() -> None:
    code = (
        "import sys, carbonledger as cl; cl.track; cl.Tracker;"
        "import carbonledger.tracking, carbonledger.sampling.sampler;"
        "import carbonledger.lifecycle.pricing;"
        "heavy = [m for m in ('numpy', 'pandas', 'matplotlib', 'httpx') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_procfs_agrees_with_psutil() -> None:
    import os

    import psutil

    from carbonledger import procfs

    ours = procfs.cpu_times()
    theirs = psutil.cpu_times()._asdict()
    assert set(ours) <= set(theirs)
    for name, value in ours.items():
        assert abs(value - theirs[name]) < 1.0, name
    assert procfs.memory_total_bytes() == psutil.virtual_memory().total
    assert abs(procfs.process_create_time(os.getpid()) - psutil.Process().create_time()) < 0.05
    assert procfs.pid_exists(os.getpid())


def test_modelled_tracking_start_imports_no_psutil_on_linux() -> None:
    code = (
        "import sys, tempfile, os, carbonledger as cl;"
        "t = cl.Tracker('x', ledger=os.path.join(tempfile.mkdtemp(), 'l.sqlite'));"
        "t.start(); t.stop(); print('psutil' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
