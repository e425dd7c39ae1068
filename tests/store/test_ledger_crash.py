"""A tracker killed with SIGKILL loses only what it had not committed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from carbonledger.records import RunStatus
from carbonledger.store import open_ledger

HERE = Path(__file__).parent
BATCH = 200

CHILD = f"""
import sys, time
sys.path.insert(0, {str(HERE)!r})
from pathlib import Path
from ledger_factories import DEVICES, make_run
from carbonledger.records import Sample
from carbonledger.store import open_ledger

led = open_ledger(Path(sys.argv[1]))
run = make_run("crash" + "0" * 27)
led.create_run(run, DEVICES)
led.log_metrics(run.run_id, {{"started": True}})
n = 0
while True:
    t = run.started_at + n
    batch = [Sample("rapl:package-0", t + i / {BATCH}, t + (i + 1) / {BATCH}, 1.0, None)
             for i in range({BATCH})]
    led.append_samples(run.run_id, batch, heartbeat_at=t + 1)
    n += 1
    print(n, flush=True)
"""


@pytest.mark.slow
def test_sigkill_keeps_committed_batches_and_reads_as_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    committed = 0
    try:
        for line in child.stdout:
            committed = int(line)
            if committed >= 10:
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        _, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err
    assert committed >= 10, err

    with open_ledger(path) as led:
        run = led.get_run("crash")
        assert run.status is RunStatus.INTERRUPTED
        samples = led.samples(run.run_id)
        # every batch the child saw committed is there, and batches are all-or-nothing
        assert len(samples) >= committed * BATCH
        assert len(samples) % BATCH == 0
        assert all(s.energy_j is None and s.host_energy_j == 1.0 for s in samples)
        assert run.ended_at == pytest.approx(max(s.t_end for s in samples))
        assert led.metrics(run.run_id) == {"started": True}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
