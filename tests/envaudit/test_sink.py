"""EnvAuditSink: in-process (track(..., audit_env=True)) and over a process tree."""

from __future__ import annotations

import importlib
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from carbonledger.envaudit.hook import prepare
from carbonledger.envaudit.model import EnvAudit
from carbonledger.envaudit.sink import EnvAuditSink
from carbonledger.events import RunEnded
from carbonledger.records import RunRecord, RunStatus, Scope


def record() -> RunRecord:
    return RunRecord(
        "run-1", "x", "other", RunStatus.RUNNING, 0.0, None, Scope.MACHINE, None, None, 1.0
    )


def test_in_process_audit_sees_this_interpreter(
    fake_venv: tuple[Path, Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, site, sizes = fake_venv
    monkeypatch.syspath_prepend(str(site))
    for name in ("alpha", "alpha.core", "beta"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    saved: list[tuple[str, EnvAudit]] = []
    sink = EnvAuditSink(site_dirs=[str(site)], save=lambda rid, a: saved.append((rid, a)))
    importlib.import_module("alpha")
    try:
        sink.on_samples("run-1", [])
        sink.on_end(RunEnded(record(), RunStatus.COMPLETED, 1.0, 0, None))
    finally:
        for name in ("alpha", "alpha.core", "beta"):
            sys.modules.pop(name, None)
    audit = sink.result
    assert audit is not None and saved == [("run-1", audit)]
    assert audit.mode == "in-process"
    unused = {d.name for d in audit.unused}
    expected_unused = {"gamma", "delta", "nvidia-fake-cu12"} | ({"sharedlib"} & set(sizes))
    assert unused == expected_unused
    assert audit.unused_bytes == sum(sizes[n] for n in expected_unused)
    assert audit.import_time_s is None


@pytest.mark.slow
def test_process_tree_maps_show_loaded_shared_objects(
    fake_venv: tuple[Path, Path, dict[str, int]],
) -> None:
    venv, site, _ = fake_venv
    if getattr(math, "__file__", None) is None:
        pytest.skip("math is built in: no shared object to copy")
    hook = prepare()
    code = (
        f"import ctypes, time; ctypes.CDLL({str(site / 'sharedlib' / 'libreal.so')!r}); "
        "time.sleep(1.5)"
    )
    child = subprocess.Popen(
        [str(venv / "bin" / "python"), "-c", code], env=hook.child_env(dict(os.environ))
    )
    sink = EnvAuditSink(
        root_pid=child.pid, in_process=False, hook=hook, poll_interval_s=0.1, own_thread=True
    )
    sink.begin()
    child.wait(timeout=60)
    audit = sink.finish("run-2")
    assert audit is not None, sink.error
    assert not os.path.exists(hook.path)
    by = {d.name: d for d in audit.distributions}
    assert by["sharedlib"].evidence == ("mapped",)
    assert by["sharedlib"].mapped_shared_object_bytes > 0
    assert not by["nvidia-fake-cu12"].used and by["nvidia-fake-cu12"].cuda
    assert audit.import_time_s is not None
    assert {d.name for d in audit.unused} == {"alpha", "beta", "gamma", "delta", "nvidia-fake-cu12"}


def test_a_failing_build_never_raises(tmp_path: Path) -> None:
    sink = EnvAuditSink(site_dirs=[str(tmp_path / "missing")], proc_root=str(tmp_path))
    sink.on_end(RunEnded(record(), RunStatus.COMPLETED, 1.0, 0, None))
    # a missing site folder holds no distributions: an empty audit, not an error
    assert sink.error is None and sink.result is not None
    assert sink.result.distributions == ()


def test_ledger_saver_stores_with_the_run(
    attachment_ledger: dict[object, object], tmp_path: Path
) -> None:
    from carbonledger.envaudit.storage import ledger_saver, load_audit
    from carbonledger.store import open_ledger
    from carbonledger.testing import contract_devices, contract_run

    path = tmp_path / "l.sqlite"
    ledger = open_ledger(path)
    run, other = contract_run("a" * 32), contract_run("b" * 32)
    for r in (run, other):
        ledger.create_run(r, contract_devices())
    ledger.close()
    audit = EnvAudit(site_dirs=("/x",), distributions=(), mode="in-process")
    ledger_saver(path)(run.run_id, audit)
    ledger = open_ledger(path)
    try:
        assert load_audit(ledger, run.run_id) == audit
        assert load_audit(ledger, other.run_id) is None
    finally:
        ledger.close()
