"""``carbonledger job``'s text: Slurm's accounting beside carbonledger's figure."""

from __future__ import annotations

from typing import Any

from carbonledger.cli.job import render_text
from carbonledger.distributed.slurm import CAVEAT, parse_sacct

HEADER = "JobIDRaw|JobID|Elapsed|ElapsedRaw|ConsumedEnergyRaw|AllocTRES|State\n"


def _job(scheduler: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "key": "slurm:cltest:7",
        "nodes": [],
        "ranks": [],
        "energy_kwh": 0.001,
        "total_kgco2e": None,
        "operational_kgco2e": None,
        "embodied_kgco2e": None,
        "uncertainty": {"energy_kwh": None, "total_kgco2e": None, "energy_kwh_linear": None},
        "warnings": [],
        "scheduler": scheduler,
    }


def _slurm_lines(scheduler: dict[str, Any] | None) -> str:
    text = render_text(_job(scheduler))
    return "\n".join(ln for ln in text.splitlines() if "Slurm" in ln)


def test_no_energy_plugin_is_said_never_shown_as_zero() -> None:
    acct = parse_sacct(HEADER + "7|7|00:00:05|5|0|cpu=1|COMPLETED\n", "7")
    assert acct is not None
    text = _slurm_lines({"source": "sacct", **acct.to_dict()})
    assert "Slurm job 7 (sacct): COMPLETED, elapsed 5 s" in text
    assert "Slurm recorded no energy" in text and CAVEAT in text
    assert " 0 J" not in text and " 0 Wh" not in text


def test_slurm_energy_beside_carbonledgers() -> None:
    acct = parse_sacct(HEADER + "7|7|00:00:05|5|3600|cpu=1|COMPLETED\n", "7")
    assert acct is not None
    text = _slurm_lines({"source": "sacct", **acct.to_dict()})
    assert "ConsumedEnergyRaw" in text and "beside carbonledger's" in text and CAVEAT in text
    assert "recorded no energy" not in text


def test_no_accounting_says_why() -> None:
    text = _slurm_lines({"source": "sacct failed: Slurm accounting storage is disabled"})
    assert "none read (sacct failed: Slurm accounting storage is disabled)" in text
