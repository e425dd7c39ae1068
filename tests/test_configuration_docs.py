"""docs/configuration.md names every CARBONLEDGER_ variable the code reads or sets, and
examples/config.toml is a valid config file."""

from __future__ import annotations

import re
from pathlib import Path

from carbonledger.config import _ENV_NAMES, ENV_PREFIX, Settings

REPO = Path(__file__).resolve().parents[1]


def test_every_environment_variable_is_documented() -> None:
    found: set[str] = set()
    for path in (REPO / "src" / "carbonledger").rglob("*.py"):
        found.update(re.findall(r"CARBONLEDGER_[A-Z0-9_]+", path.read_text()))
    found.update(ENV_PREFIX + suffix for suffix in _ENV_NAMES)
    found = {name for name in found if not name.endswith("_")}  # prefixes of a family
    found.update(
        f"CARBONLEDGER_PROVIDER_{s}"
        for s in ("CONNECT_TIMEOUT", "TIMEOUT", "RETRIES", "CACHE", "CACHE_DIR")
    )
    table = (REPO / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `(CARBONLEDGER_[A-Z0-9_]+)`", table, re.MULTILINE))
    assert sorted(found - documented) == []
    assert sorted(documented - found) == []


def test_example_config_file_loads(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, config_path=REPO / "examples" / "config.toml")
    assert settings.zone == "FR"
    assert settings.interval_s == 1.0 and settings.provider is None
    assert str(settings.ledger_url).endswith("carbonledger/ledger.sqlite")
    assert "~" not in str(settings.ledger_url)
