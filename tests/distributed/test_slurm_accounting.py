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


# Slurm 22.05.8 (Debian 12) with slurmdbd, recorded: no AcctGatherEnergyType and
# acct_gather_energy/none both give "0"; acct_gather_energy/rapl without /dev/cpu/*/msr
# gives an empty field. None of them is a measurement.
REAL_2205 = """JobIDRaw|JobID|Elapsed|ElapsedRaw|ConsumedEnergyRaw|AllocTRES|State
2|2|00:00:01|1|0|billing=1,cpu=1,node=1|COMPLETED
2.batch|2.batch|00:00:01|1|0|cpu=1,mem=0,node=1|COMPLETED
2.0|2.0|00:00:01|1|0|cpu=1,mem=0,node=1|COMPLETED
4|4|00:00:02|2||billing=1,cpu=1,node=1|COMPLETED
4.0|4.0|00:00:02|2||cpu=1,mem=0,node=1|COMPLETED
"""


@pytest.mark.parametrize(("job", "elapsed_s"), [("2", 1.0), ("4", 2.0)])
def test_real_sacct_without_energy_plugin_says_no_energy(job: str, elapsed_s: float) -> None:
    acct = parse_sacct(REAL_2205, job)
    assert acct is not None and acct.energy_j is None and acct.elapsed_s == elapsed_s
    assert acct.job_id_raw == job and acct.state == "COMPLETED"
    d = acct.to_dict()
    assert d["energy_kwh"] is None and "recorded no energy" in d["energy_note"]


def test_array_task_keeps_its_raw_id() -> None:
    acct = parse_sacct("JobIDRaw|JobID|ConsumedEnergyRaw\n4251|4240_2|500\n", "4240_2")
    assert acct is not None and acct.job_id_raw == "4251"
    assert acct.to_dict()["energy_note"] is None
