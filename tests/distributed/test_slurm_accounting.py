"""Slurm's accounting (sacct -P --noconvert) parsed from recorded output."""

from __future__ import annotations

import pytest

from carbonledger.distributed.slurm import CAVEAT, parse_sacct, slurm_job_id
from carbonledger.errors import DataError

RECORDED = """JobIDRaw|JobID|Elapsed|ElapsedRaw|ConsumedEnergyRaw|AllocTRES|State
4242|4242|00:10:00|600|183000|billing=8,cpu=8,energy=183000,mem=32G,node=1|COMPLETED
4242.batch|4242.batch|00:10:00|600|90000|cpu=8,mem=32G,node=1|COMPLETED
4242.0|4242.0|00:09:58|598|93000|cpu=8,mem=32G,node=1|COMPLETED
"""


def test_the_allocation_row_and_its_raw_joules() -> None:
    acct = parse_sacct(RECORDED, "4242")
    assert acct is not None
    assert acct.energy_j == 183000 and acct.elapsed_s == 600 and acct.steps == 2
    assert acct.state == "COMPLETED"
    d = acct.to_dict()
    assert d["energy_kwh"] == pytest.approx(183000 / 3.6e6)
    assert "no NVIDIA GPU" in d["caveat"] and d["caveat"] == CAVEAT


def test_no_energy_plugin_reads_as_unknown_not_zero() -> None:
    text = RECORDED.replace("|183000|", "|0|")
    acct = parse_sacct(text, "4242")
    assert acct is not None and acct.energy_j is None


def test_array_task_and_missing_job() -> None:
    text = "JobIDRaw|JobID|ConsumedEnergyRaw\n4251|4240_2|500\n"
    acct = parse_sacct(text, "4240_2")
    assert acct is not None and acct.energy_j == 500
    assert parse_sacct(text, "9") is None


def test_malformed_rows_name_line_and_field() -> None:
    with pytest.raises(DataError, match="line 2: ConsumedEnergyRaw"):
        parse_sacct("JobIDRaw|JobID|ConsumedEnergyRaw\n7|7|12K\n", "7")
    with pytest.raises(DataError, match="line 1"):
        parse_sacct("JobID|Elapsed\n7|1\n", "7")


def test_job_id_from_key() -> None:
    assert slurm_job_id("slurm:hpc:4240_2") == "4240_2"
    assert slurm_job_id("slurm:7") == "7"
    assert slurm_job_id("torchrun:x") is None
