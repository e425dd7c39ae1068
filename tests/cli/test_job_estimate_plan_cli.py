"""A whole distributed job: ``estimate``/``plan`` with ``--nodes N --gpus-per-node G``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.test_plan_cli import VALUES, write_series

from carbonledger.cli.main import main
from carbonledger.lifecycle.estimate import estimate
from carbonledger.schedule.job_plan import plan_job
from carbonledger.schedule.planner import plan


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_a_job_estimate_counts_every_device_of_every_node(
    capsys: pytest.CaptureFixture[str],
) -> None:
    job = _json(
        capsys,
        "estimate",
        "--gpu", "A100", "--nodes", "4", "--gpus-per-node", "8", "--hours", "10",
        "--memory-gb", "512", "--cpu-cores", "64", "--cpu-core-w", "4", "--intensity", "100",
        "--json",
    )  # fmt: skip
    same = _json(
        capsys,
        "estimate",
        "--gpu", "A100", "--count", "32", "--hours", "10",
        "--memory-gb", "2048", "--cpu-cores", "256", "--cpu-core-w", "4", "--intensity", "100",
        "--json",
    )  # fmt: skip
    assert job["energy_kwh"] == pytest.approx(same["energy_kwh"])
    assert job["total_kgco2e"] == pytest.approx(same["total_kgco2e"])
    for k in ("energy_kwh", "total_kgco2e"):
        assert job["uncertainty"][k] == pytest.approx(same["uncertainty"][k])
    assert job["embodied_kgco2e"] == pytest.approx(same["embodied_kgco2e"]) and job["embodied"]
    assert job["host"]["nodes"] == 4 and job["host"]["gpus_per_node"] == 8
    assert job["host"]["memory_gb_per_node"] == 512 and job["host"]["cpu_cores_per_node"] == 64
    assert any("a whole job: 4 node(s) × 8 device(s)" in i for i in job["included"])


def test_the_api_matches_the_command() -> None:
    fp = estimate(gpu="H100", nodes=2, gpus_per_node=4, hours=3.0, zone="FR")
    alone = estimate(gpu="H100", count=8, hours=3.0, zone="FR")
    assert fp.energy_j == pytest.approx(alone.energy_j)
    assert fp.host["nodes"] == 2
    cpu_only = estimate(nodes=3, cpu_cores=32, cpu_core_w=5.0, hours=1.0, intensity_g_per_kwh=1)
    assert cpu_only.energy_j == pytest.approx(3 * 32 * 5.0 * 3600)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--gpu", "A100", "--nodes", "2", "--hours", "1"], "needs gpus_per_node"),
        (["--gpu", "A100", "--nodes", "0", "--gpus-per-node", "8", "--hours", "1"], "nodes"),
        (["--gpu", "A100", "--gpus-per-node", "8", "--hours", "1"], "needs nodes"),
        (
            ["--gpu", "A100", "--nodes", "2", "--gpus-per-node", "8", "--device-hours", "9"],
            "needs hours",
        ),
        (
            [
                "--gpu",
                "A100",
                "--nodes",
                "2",
                "--gpus-per-node",
                "8",
                "--count",
                "3",
                "--hours",
                "1",
            ],
            "not both",
        ),
        (["--cpu", "EPYC 7763", "--nodes", "2", "--hours", "1"], "cpu_cores"),
        (
            [
                "--cpu-cores",
                "8",
                "--cpu-core-w",
                "4",
                "--nodes",
                "2",
                "--gpus-per-node",
                "8",
                "--hours",
                "1",
            ],
            "gpus_per_node needs gpu",
        ),
    ],
)
def test_bad_job_input_exits_3_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(["estimate", *argv, "--intensity", "1"])
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_an_unparsable_node_count_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["estimate", "--gpu", "A100", "--nodes", "many", "--hours", "1"])
    assert exc.value.code == 2


def test_plan_a_whole_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    de = write_series(tmp_path / "DE.csv", VALUES)
    argv = [
        "plan", "--series", str(de), "--duration", "2h", "--earliest", "2024-03-01T00:00Z",
        "--deadline", "2024-03-01T08:00Z", "--nodes", "16", "--gpus-per-node", "8",
        "--gpu", "H100", "--pue", "1.2",
    ]  # fmt: skip
    data = _json(capsys, *argv, "--json")
    job = data["job"]
    planned, now = job["planned"], job["start_now"]
    assert data["mean_g_per_kwh"] == pytest.approx(65.0)  # 50, 80 from 03:00
    assert planned["intensity"]["g_per_kwh"] == pytest.approx(data["mean_g_per_kwh"])
    assert now["intensity"]["g_per_kwh"] == pytest.approx(data["baseline_mean_g_per_kwh"])
    assert planned["host"]["nodes"] == 16 and planned["host"]["gpus_per_node"] == 8
    assert planned["energy_kwh"] == pytest.approx(now["energy_kwh"])
    assert planned["embodied_kgco2e"] == pytest.approx(now["embodied_kgco2e"])
    assert planned["embodied_kgco2e"] > 0
    lo, hi = planned["uncertainty"]["total_kgco2e"]
    assert lo < planned["total_kgco2e"] < hi
    assert job["saved_kgco2e"] == pytest.approx(now["total_kgco2e"] - planned["total_kgco2e"])
    assert job["saved_kgco2e"] > 0
    # the text says the same
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Job: 16 node(s) × 8 GPU(s)" in text and "saved" in text
    # and the API
    from carbonledger.intensity.series_csv import load_series

    result = plan(
        load_series(de),
        duration_s=7200,
        earliest=1709251200.0,
        deadline=1709251200.0 + 8 * 3600,
    )
    api = plan_job(result, nodes=16, gpus_per_node=8, gpu="H100", pue=1.2)
    assert api.saved_g == pytest.approx(job["saved_kgco2e"] * 1000)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--gpu", "H100"], "need --nodes"),
        (["--nodes", "2", "--gpu", "H100"], "needs gpus_per_node"),
        (["--nodes", "2", "--gpus-per-node", "4", "--gpu", "H100", "--pue", "9"], "pue"),
    ],
)
def test_plan_bad_job_input_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    de = write_series(tmp_path / "DE.csv", VALUES)
    code = main(["plan", "--series", str(de), "--duration", "2h", "--earliest",
                 "2024-03-01T00:00Z", *extra])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_plan_job_refuses_its_own_time() -> None:
    from carbonledger.errors import ConfigError

    with pytest.raises(ConfigError, match="come from the plan"):
        plan_job(None, hours=3, nodes=1)  # type: ignore[arg-type]
