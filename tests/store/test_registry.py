"""Ledgers by URL: built-in schemes, entry-point plug-ins, unknown schemes, settings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from carbonledger.config import Settings
from carbonledger.errors import ConfigError, LedgerError
from carbonledger.store import MemoryLedger, SqliteLedger, open_ledger
from carbonledger.store.registry import local_path, split_scheme, sqlite_path_from_url
from carbonledger.testing import contract_run


@pytest.mark.parametrize(
    "target, path",
    [
        ("sqlite:///tmp/x.sqlite", "/tmp/x.sqlite"),
        ("sqlite://localhost/tmp/x.sqlite", "/tmp/x.sqlite"),
        ("sqlite:rel/x.sqlite", "rel/x.sqlite"),
        ("sqlite:///tmp/my%20ledger.sqlite", "/tmp/my ledger.sqlite"),
        ("SQLITE:///tmp/x.sqlite", "/tmp/x.sqlite"),
        ("/tmp/x.sqlite", "/tmp/x.sqlite"),
        ("rel/x.sqlite", "rel/x.sqlite"),
        ("notes:2024.sqlite", "notes:2024.sqlite"),  # not a known scheme, no //: a path
        ("C:ledger.sqlite", "C:ledger.sqlite"),
    ],
)
def test_paths_and_sqlite_urls_name_a_file(target: str, path: str) -> None:
    assert local_path(target) == Path(path)


@pytest.mark.parametrize(
    "url", ["sqlite://otherhost/x.sqlite", "sqlite:", "sqlite:///x?mode=ro", "sqlite:///x#y"]
)
def test_bad_sqlite_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="ledger URL"):
        sqlite_path_from_url(url)


def test_memory_urls_have_no_file() -> None:
    assert split_scheme("memory://x") == "memory"
    assert local_path("memory://x") is None


def test_open_by_url_path_and_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_ledger(f"sqlite://{tmp_path}/a.sqlite") as led:
        assert isinstance(led, SqliteLedger) and led.path == tmp_path / "a.sqlite"
    monkeypatch.chdir(tmp_path)
    with open_ledger("sqlite:sub/b.sqlite") as led:
        assert isinstance(led, SqliteLedger)
    assert (tmp_path / "sub" / "b.sqlite").is_file()
    with open_ledger(str(tmp_path / "c.sqlite")) as led:
        assert isinstance(led, SqliteLedger)
    with open_ledger(tmp_path / "d.sqlite") as led:
        assert isinstance(led, SqliteLedger)


def test_memory_names_share_data_and_blank_is_private() -> None:
    writer = open_ledger("memory://registry-shared")
    reader = open_ledger("memory://registry-shared")
    run = contract_run()
    writer.create_run(run, [])
    writer.close()  # a named ledger outlives its handles
    assert reader.get_run(run.run_id) == run
    private_a, private_b = open_ledger("memory://"), open_ledger("memory://")
    private_a.create_run(contract_run(), [])
    assert private_b.list_runs() == []
    assert isinstance(private_a, MemoryLedger)


def test_unknown_scheme_names_it_and_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        open_ledger("cassandra://db/ledger")
    message = str(info.value)
    assert "'cassandra'" in message and "sqlite" in message and "memory" in message


def _install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: str) -> None:
    """A real installed distribution declaring entry points (a .dist-info on sys.path)."""
    dist = tmp_path / "site" / "fake_ledger_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-ledger-plugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(f"[carbonledger.ledgers]\n{lines}\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def test_a_plugin_scheme_is_found_through_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_plugin(
        tmp_path,
        monkeypatch,
        "fakedb = fake_ledger_plugin:open_url\nbroken = fake_ledger_plugin:not_a_ledger\n"
        "missing = fake_ledger_plugin_absent:open_url",
    )
    import fake_ledger_plugin

    with open_ledger("fakedb://team/ledger") as led:
        assert isinstance(led, MemoryLedger)
    assert fake_ledger_plugin.opened[-1] == "fakedb://team/ledger"
    with pytest.raises(LedgerError, match="not a Ledger"):
        open_ledger("broken://x")
    with pytest.raises(LedgerError, match="cannot be imported"):
        open_ledger("missing://x")
    # the settings accept the plug-in's scheme, and name it among the known ones
    s = Settings.load({"ledger": "fakedb://team/ledger"}, environ={}, config_path=tmp_path / "n")
    assert s.ledger_url == "fakedb://team/ledger" and s.ledger_file is None
    with pytest.raises(ConfigError, match="fakedb"):
        open_ledger("nosuch://x")


def test_settings_take_urls_and_keep_ledger_path(tmp_path: Path) -> None:
    none = tmp_path / "none.toml"
    s = Settings.load({"ledger": "sqlite:///tmp/x.sqlite"}, environ={}, config_path=none)
    assert s.ledger_url == "sqlite:///tmp/x.sqlite" and s.ledger_path == Path("/tmp/x.sqlite")
    s = Settings.load(environ={"CARBONLEDGER_LEDGER": "~/l.sqlite"}, config_path=none)
    assert s.ledger_path == Path(os.path.expanduser("~/l.sqlite"))
    s = Settings.load({"ledger_path": tmp_path / "p.sqlite"}, environ={}, config_path=none)
    assert s.ledger_path == tmp_path / "p.sqlite"
    s = Settings().replace(ledger_path="memory://m")
    assert s.ledger_url == "memory://m" and s.ledger_file is None
    with pytest.raises(ConfigError, match="not a file"):
        _ = s.ledger_path
    with pytest.raises(ConfigError, match=r"ledger.*unknown ledger scheme 'foo'"):
        Settings.load({"ledger": "foo://x"}, environ={}, config_path=none)


def test_cli_run_with_a_sqlite_url(tmp_path: Path) -> None:
    import subprocess

    target = tmp_path / "x.sqlite"
    env = dict(os.environ, CARBONLEDGER_SYSFS_ROOT=str(tmp_path / "nosys"))
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "carbonledger.cli.main",
            "run",
            "--ledger",
            f"sqlite://{target}",
            "--interval",
            "0.1",
            "--",
            "true",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    with open_ledger(target) as led:
        assert len(led.list_runs()) == 1
    p = subprocess.run(
        [sys.executable, "-m", "carbonledger.cli.main", "runs", "--ledger", f"sqlite://{target}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0 and "completed" in p.stdout, p.stderr
