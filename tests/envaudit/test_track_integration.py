"""``track(..., sinks=[EnvAuditSink()])`` and ``track(..., audit_env=True)``: these need the
tracker to accept sinks (being added to tracking.py); until it does they skip."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import carbonledger as cl
from carbonledger.cli.main import main
from carbonledger.envaudit.sink import EnvAuditSink


def _accepts(option: str) -> bool:
    return option in inspect.signature(cl.Tracker.__init__).parameters


@pytest.mark.skipif(not _accepts("sinks"), reason="Tracker does not take sinks yet")
def test_sink_given_to_track_audits_this_process(
    fake_venv: tuple[Path, Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, site, _ = fake_venv
    monkeypatch.syspath_prepend(str(site))
    sink = EnvAuditSink(site_dirs=[str(site)])
    try:
        with cl.track("audited", interval=0.1, sinks=[sink]):
            import beta  # noqa: F401
    finally:
        sys.modules.pop("beta", None)
    assert sink.result is not None, sink.error
    used = {d.name for d in sink.result.distributions if d.used}
    assert used == {"beta"}


@pytest.mark.skipif(not _accepts("audit_env"), reason="track() has no audit_env yet")
def test_audit_env_true_is_stored_and_shown(
    attachment_ledger: dict[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with cl.track("audited", interval=0.1, audit_env=True) as run:
        pass
    assert main(["show", run.run_id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["env_audit"]["mode"] == "in-process"
    assert data["env_audit"]["lower_bound"] is True
