"""Settings: defaults < config file < environment < arguments, validated once."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.config import Settings, default_ledger_path
from carbonledger.errors import ConfigError
from carbonledger.records import Scope


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tmp_path: Path) -> None:
    s = Settings.load(environ={}, config_path=tmp_path / "none.toml")
    assert s.zone is None and s.pue is None
    assert s.interval_s == 1.0 and s.scope is Scope.MACHINE and s.phase == "other"
    assert s.sysfs_root == Path("/sys")
    assert s.ledger_path == default_ledger_path()


def test_layering_file_then_environment_then_arguments(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[carbonledger]\nzone = "DE"\npue = 1.3\ninterval = 0.5\n')
    s = Settings.load(environ={}, config_path=cfg)
    assert (s.zone, s.pue, s.interval_s) == ("DE", 1.3, 0.5)
    s = Settings.load(
        environ={"CARBONLEDGER_ZONE": "FR", "CARBONLEDGER_PUE": "1.1"}, config_path=cfg
    )
    assert (s.zone, s.pue, s.interval_s) == ("FR", 1.1, 0.5)
    s = Settings.load(
        {"zone": "SE", "pue": None}, environ={"CARBONLEDGER_ZONE": "FR"}, config_path=cfg
    )
    assert (s.zone, s.pue) == ("SE", 1.3)


def test_top_level_keys_and_types(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "c.toml", 'scope = "process"\ndetect_cloud = true\nsensors = ["rapl", "nvml"]\n'
    )
    s = Settings.load(environ={}, config_path=cfg)
    assert s.scope is Scope.PROCESS and s.detect_cloud is True and s.sensors == ("rapl", "nvml")


@pytest.mark.parametrize(
    "env, needle",
    [
        ({"CARBONLEDGER_PUE": "lots"}, "pue"),
        ({"CARBONLEDGER_PUE": "0.5"}, "pue"),
        ({"CARBONLEDGER_PUE": "nan"}, "pue"),
        ({"CARBONLEDGER_INTERVAL": "0.01"}, "interval"),
        ({"CARBONLEDGER_SCOPE": "galaxy"}, "scope"),
        ({"CARBONLEDGER_PHASE": "party"}, "phase"),
        ({"CARBONLEDGER_DETECT_CLOUD": "maybe"}, "detect_cloud"),
        ({"CARBONLEDGER_CPU_TDP_W": "-5"}, "cpu_tdp_w"),
        ({"CARBONLEDGER_PROVIDER": "watttime"}, "zone"),
    ],
)
def test_bad_environment_values_name_the_setting(
    env: dict[str, str], needle: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load(environ=env, config_path=tmp_path / "none.toml")
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_config_files(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.toml", "zone = \n")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        Settings.load(environ={}, config_path=broken)
    unknown = write(tmp_path / "unknown.toml", "colour = 'green'\n")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        Settings.load(environ={}, config_path=unknown)


def test_empty_environment_values_are_ignored(tmp_path: Path) -> None:
    s = Settings.load(environ={"CARBONLEDGER_ZONE": ""}, config_path=tmp_path / "none.toml")
    assert s.zone is None


@given(st.floats(min_value=1.0, max_value=5.0), st.floats(min_value=0.05, max_value=3600))
def test_valid_numbers_round_trip_through_text(pue: float, interval: float) -> None:
    s = Settings.load(
        environ={"CARBONLEDGER_PUE": repr(pue), "CARBONLEDGER_INTERVAL": repr(interval)},
        config_path=Path("/nonexistent/config.toml"),
    )
    assert s.pue == pue and s.interval_s == interval


def test_replace_parses_like_arguments() -> None:
    s = Settings().replace(scope="process", interval_s="0.25", zone=None)
    assert s.scope is Scope.PROCESS and s.interval_s == 0.25 and s.zone is None


# -- issue 9, defect 7 (config part): types and the byte-order mark ---------------------
@pytest.mark.parametrize(
    "line, needle",
    [
        ("ledger = 5", "ledger"),
        ("ledger = true", "ledger"),
        ('ledger = ["a"]', "ledger"),
        ('ledger = ""', "ledger"),
        ("sysfs_root = 5", "sysfs_root"),
        ("intensity_series = 1.5", "intensity_series"),
        ("zone = 5", "zone"),
        ("phase = 3", "phase"),
        ('ledger = "foo://x"', "unknown ledger scheme 'foo'"),
        ('ledger = "sqlite://host/x"', "ledger"),
    ],
)
def test_wrong_types_in_the_config_file_name_the_setting(
    tmp_path: Path, line: str, needle: str
) -> None:
    cfg = write(tmp_path / "c.toml", line + "\n")
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={}, config_path=cfg)
    assert needle in str(info.value) and "c.toml" in str(info.value)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "5").exists()


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    cfg = tmp_path / "bom.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + b'zone = "DE"\nledger = "sqlite:///tmp/x.sqlite"\n')
    s = Settings.load(environ={}, config_path=cfg)
    assert s.zone == "DE" and s.ledger_url == "sqlite:///tmp/x.sqlite"
    assert s.ledger_path == Path("/tmp/x.sqlite")


@pytest.mark.parametrize("value", ["memory://shared", "sqlite:rel.sqlite", "~/x.sqlite"])
def test_ledger_urls_from_every_layer(tmp_path: Path, value: str) -> None:
    cfg = write(tmp_path / "c.toml", f'ledger = "{value}"\n')
    from_file = Settings.load(environ={}, config_path=cfg)
    from_env = Settings.load(environ={"CARBONLEDGER_LEDGER": value}, config_path=tmp_path / "n")
    assert from_file.ledger_url == from_env.ledger_url
    assert "~" not in from_file.ledger_url
