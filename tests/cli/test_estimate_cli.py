"""``carbonledger estimate``: text and JSON output, exit 3 on bad input."""

import json

import pytest

from carbonledger.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["estimate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_bloom_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "--power-w",
        "400",
        "--device-hours",
        "1082990",
        "--intensity",
        "57",
        "--embodied-kg",
        "462.5",
        "--lifetime-years",
        "6",
        "--lifetime-use",
        "0.85",
        "--json",
    )
    assert code == 0
    d = json.loads(out)
    assert d["schema"] == "carbonledger.footprint/1"
    assert d["status"] == "estimate" and d["run_id"] is None
    assert d["operational_kgco2e"] / 1000 == pytest.approx(24.7, abs=0.05)
    assert d["embodied_kgco2e"] / 1000 == pytest.approx(11.2, abs=0.05)
    low, high = d["uncertainty"]["total_kgco2e"]
    assert low < d["total_kgco2e"] < high


def test_text_summary_with_gpu_and_memory(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "--gpu",
        "V100",
        "--count",
        "64",
        "--hours",
        "79",
        "--utilization",
        "0.627",
        "--pue",
        "1.67",
        "--intensity",
        "475",
    )
    assert code == 0
    assert "754.407 kgCO2e" in out
    assert "modeled" in out


def test_zone(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("carbonledger.intensity.bundled")
    code, out, _ = run(
        capsys, "--power-w", "100", "--hours", "1", "--zone", "aws:us-east-1", "--json"
    )
    assert code == 0
    d = json.loads(out)
    assert d["pue"] == pytest.approx(1.135)
    assert d["intensity"]["zone"] == "aws:us-east-1"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--power-w", "400", "--hours", "-1", "--intensity", "1"], "hours"),
        (
            ["--power-w", "400", "--hours", "1", "--device-hours", "2", "--intensity", "1"],
            "exactly one of hours, device_hours",
        ),
        (["--power-w", "400", "--gpu", "A100", "--hours", "1"], "exactly one of power_w, gpu, cpu"),
        (["--gpu", "Mystery 9000", "--hours", "1", "--intensity", "1"], "unknown GPU"),
        (["--power-w", "400", "--hours", "1", "--intensity", "1", "--zone", "FR"], "not both"),
        (
            ["--power-w", "400", "--hours", "1", "--intensity", "1", "--utilization", "2"],
            "utilization",
        ),
        (["--power-w", "400", "--hours", "1", "--intensity", "1", "--pue", "0.5"], "pue"),
        (
            ["--power-w", "400", "--hours", "1", "--intensity", "1", "--lifetime-years", "3"],
            "lifetime_years needs embodied_kg",
        ),
    ],
)
def test_bad_input_exits_3_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 3
    assert out == ""
    assert err.count("\n") == 1 and message in err
    assert "Traceback" not in err


def test_unparsable_number_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["estimate", "--power-w", "lots", "--hours", "1"])
    assert exc.value.code == 2


def test_a100_json_has_embodied_and_says_what_it_leaves_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("carbonledger.intensity.bundled")
    argv = ["--gpu", "A100", "--count", "8", "--hours", "24", "--zone", "FR", "--json"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    d = json.loads(out)
    assert d["embodied_kgco2e"] > 0 and d["embodied"][0]["total_kgco2e"] == pytest.approx(1200)
    assert d["included"] and any("CPU" in x for x in d["excluded"])
    code, out, _ = run(capsys, *argv, "--no-embodied")
    assert json.loads(out)["embodied_kgco2e"] is None


def test_text_never_prints_none_and_lists_the_scope(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "--gpu",
        "A100",
        "--cpu-cores",
        "16",
        "--cpu-core-w",
        "10",
        "--memory-gb",
        "64",
        "--psf",
        "2",
        "--hours",
        "3",
        "--intensity",
        "100",
    )
    assert code == 0
    assert "None" not in out
    assert "includes" in out and "leaves out" in out
