"""``carbonledger decide breakeven|indifference``."""

import json

import pytest

from carbonledger.cli.main import main


def test_breakeven(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "decide",
            "breakeven",
            "--embodied-new-kg",
            "150",
            "--power-old-w",
            "300",
            "--power-new-w",
            "200",
            "--intensity",
            "400",
            "--pue",
            "1.2",
            "--json",
        ]
    )
    assert code == 0
    d = json.loads(capsys.readouterr().out)
    assert d["hours"] == pytest.approx(3125.0)
    assert d["pays_back"] is True


def test_breakeven_text_when_it_never_pays_back(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "decide",
            "breakeven",
            "--embodied-new-kg",
            "150",
            "--power-old-w",
            "200",
            "--power-new-w",
            "250",
            "--intensity",
            "400",
        ]
    )
    assert code == 0
    assert "never paid back" in capsys.readouterr().out


def test_indifference(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "decide",
        "indifference",
        "--a-name",
        "edge",
        "--a-power-w",
        "10",
        "--a-idle-w",
        "1",
        "--a-embodied-kg",
        "20",
        "--b-name",
        "cloud",
        "--b-power-w",
        "30",
        "--b-embodied-kg",
        "5",
        "--b-pue",
        "1.1",
        "--intensity",
        "400",
        "--service-life-years",
        "4",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "energy: equal at 1,461 active hours" in out
    assert "cheaper below: cloud, above: edge" in out
    assert main([*argv, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["energy_point_in_life"] is True


def test_bad_values_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "decide",
            "breakeven",
            "--embodied-new-kg",
            "-1",
            "--power-old-w",
            "2",
            "--power-new-w",
            "1",
            "--intensity",
            "1",
        ]
    )
    assert code == 3
    assert "--embodied-new-kg must be" in capsys.readouterr().err


def test_no_decision_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide"]) == 2


def _breakeven(*options: str) -> list[str]:
    return ["decide", "breakeven", *options]


def test_breakeven_more_power_shows_the_real_negative_saving(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = _breakeven(
        "--embodied-new-kg=100", "--power-old-w=200", "--power-new-w=300", "--intensity=300"
    )
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "power saved: -100 W → -30 gCO2e per hour of use" in out
    assert "never paid back" in out
    assert main([*argv, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["saved_g_per_hour"] == pytest.approx(-30.0)
    assert d["hours"] is None and d["pays_back"] is False


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (
            ("--embodied-new-kg=1e308", "--power-old-w=300", "--power-new-w=200"),
            "--embodied-new-kg",
        ),
        (("--embodied-new-kg=nan", "--power-old-w=300", "--power-new-w=200"), "--embodied-new-kg"),
        (("--embodied-new-kg=1", "--power-old-w=inf", "--power-new-w=200"), "--power-old-w"),
        (("--embodied-new-kg=1", "--power-old-w=1e308", "--power-new-w=0"), "--power-old-w"),
    ],
)
def test_breakeven_non_finite_is_a_config_error(
    capsys: pytest.CaptureFixture[str], options: tuple[str, ...], named: str
) -> None:
    assert main(_breakeven(*options, "--intensity=1e10")) == 3
    captured = capsys.readouterr()
    assert named in captured.err and captured.out == ""


def _indifference(*options: str) -> list[str]:
    return ["decide", "indifference", *options, "--intensity=300", "--service-life-years=4"]


def test_indifference_crossing_at_zero_is_not_minus_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(_indifference("--a-power-w=0", "--b-power-w=10")) == 0
    out = capsys.readouterr().out
    assert "-0" not in out
    assert "energy: equal only at no use; option-a is cheaper at any use" in out
    assert main(_indifference("--a-power-w=0", "--b-power-w=10", "--json")) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["energy_hours"] == 0.0 and str(d["energy_hours"]) == "0.0"


def test_indifference_equal_options_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_indifference("--a-power-w=0", "--b-power-w=0")) == 0
    out = capsys.readouterr().out
    assert "option-a and option-b cost the same at every usage" in out
    assert "neither" not in out


def test_indifference_crossing_at_full_use(capsys: pytest.CaptureFixture[str]) -> None:
    # a: 10 W idle, 0 W active; b: 0 W always → equal only when a is never idle
    assert main(_indifference("--a-power-w=0", "--a-idle-w=10", "--b-power-w=0")) == 0
    out = capsys.readouterr().out
    assert "energy: equal only at full use; option-b is cheaper at any lower use" in out


def test_indifference_overflow_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_indifference("--a-power-w=10", "--b-power-w=5", "--a-embodied-kg=1e308")) == 3
    assert "--a-embodied-kg is out of range" in capsys.readouterr().err
