"""Slurm's own accounting of a job, to show beside carbonledger's figure.

``sacct -j ID -P --noconvert -o JobIDRaw,JobID,Elapsed,ElapsedRaw,ConsumedEnergyRaw,
AllocTRES,State``: ``ConsumedEnergyRaw`` is joules without unit prefixes (sacct.1).
What it covers (slurm.conf.5, sacct.1): node or CPU energy from RAPL/IPMI plugins only;
no NVIDIA GPU energy (the NVML plug-in's energy read is an empty stub); and it is the
node's energy, the job's only when the job had its nodes to itself (exclusive).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from carbonledger.errors import DataError

__all__ = [
    "CAVEAT",
    "NO_ENERGY",
    "SACCT_FIELDS",
    "SlurmAccounting",
    "parse_sacct",
    "read_sacct",
    "slurm_job_id",
]

SACCT_FIELDS = (
    "JobIDRaw",
    "JobID",
    "Elapsed",
    "ElapsedRaw",
    "ConsumedEnergyRaw",
    "AllocTRES",
    "State",
)
CAVEAT = (
    "Slurm's figure covers CPU/node energy only (RAPL or IPMI plug-ins), has no NVIDIA "
    "GPU energy, and is the nodes' energy, not the job's, unless the job was exclusive"
)
NO_ENERGY = (
    "Slurm recorded no energy (ConsumedEnergyRaw empty or 0: no energy plug-in, "
    "AcctGatherEnergyType, on its nodes)"
)


@dataclass(frozen=True)
class SlurmAccounting:
    job_id: str
    elapsed_s: float | None
    energy_j: float | None  # the allocation's ConsumedEnergyRaw (None: not recorded)
    state: str | None
    alloc_tres: str | None
    steps: int
    job_id_raw: str | None = None  # JobIDRaw: differs from job_id for array tasks

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "job_id_raw": self.job_id_raw,
            "elapsed_s": self.elapsed_s,
            "energy_kwh": None if self.energy_j is None else self.energy_j / 3.6e6,
            "state": self.state,
            "alloc_tres": self.alloc_tres,
            "steps": self.steps,
            "energy_note": NO_ENERGY if self.energy_j is None else None,
            "caveat": CAVEAT,
        }


def _number(text: str, field: str, line: int) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"sacct output line {line}: {field} {text!r} is not a number") from None
    return value


def parse_sacct(text: str, job_id: str) -> SlurmAccounting | None:
    """The allocation's row of ``sacct -P --noconvert`` output (with a header line).

    ConsumedEnergyRaw 0 or empty reads as None (no energy plug-in). None when the job is
    not listed. DataError names the line and field of a malformed row.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    header = lines[0].split("|")
    missing = [f for f in ("JobIDRaw", "JobID", "ConsumedEnergyRaw") if f not in header]
    if missing:
        raise DataError(f"sacct output line 1: no {', '.join(missing)} column")
    index = {name: i for i, name in enumerate(header)}
    main: dict[str, str] | None = None
    steps = 0
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split("|")
        if len(cells) < len(header):
            raise DataError(f"sacct output line {n}: {len(cells)} fields, expected {len(header)}")
        row = {name: cells[i] for name, i in index.items()}
        ident = row["JobID"].strip()
        if ident == job_id or (row["JobIDRaw"].strip() == job_id and "." not in ident):
            main = row
            main["_line"] = str(n)
        elif ident.startswith(job_id + "."):
            steps += 1
    if main is None:
        return None
    line_no = int(main["_line"])
    energy = _number(main.get("ConsumedEnergyRaw", ""), "ConsumedEnergyRaw", line_no)
    elapsed = _number(main.get("ElapsedRaw", ""), "ElapsedRaw", line_no)
    return SlurmAccounting(
        job_id=job_id,
        elapsed_s=elapsed,
        energy_j=energy if energy else None,
        state=(main.get("State") or "").strip() or None,
        alloc_tres=(main.get("AllocTRES") or "").strip() or None,
        steps=steps,
        job_id_raw=main["JobIDRaw"].strip() or None,
    )


def slurm_job_id(job_key: str) -> str | None:
    """The Slurm job id in a ``slurm:[cluster:]ID`` job key, else None."""
    if not job_key.startswith("slurm:"):
        return None
    ident = job_key.rsplit(":", 1)[-1]
    return ident or None


def read_sacct(job_id: str, *, timeout_s: float = 10.0) -> tuple[SlurmAccounting | None, str]:
    """Slurm's accounting of ``job_id`` and a note saying where it came from or why not."""
    exe = shutil.which("sacct")
    if exe is None:
        return None, "sacct is not installed here"
    try:
        done = subprocess.run(
            [exe, "-j", job_id, "-P", "--noconvert", "-o", ",".join(SACCT_FIELDS)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"sacct failed: {exc}"
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0][:200]
        return None, f"sacct failed: {first}"
    try:
        found = parse_sacct(done.stdout, job_id)
    except DataError as exc:
        return None, str(exc)
    if found is None:
        return None, f"Slurm's accounting has no job {job_id} (no accounting storage?)"
    return found, "sacct"
