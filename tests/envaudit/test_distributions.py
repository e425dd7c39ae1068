from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.envaudit.fakeenv import FAKE_DISTS, install_dist

from carbonledger.envaudit.distributions import (
    current_site_dirs,
    find_site_dirs,
    normalize_name,
    scan,
)
from carbonledger.errors import DataError


def test_scan_reads_record_sizes(fake_venv: tuple[Path, Path, dict[str, int]]) -> None:
    venv, site, sizes = fake_venv
    dists = {d.name: d for d in scan(find_site_dirs(venv))}
    assert set(dists) == set(sizes)
    for name, size in sizes.items():
        assert dists[name].installed_bytes == size, name
    assert dists["alpha"].top_level == ("alpha",)
    assert dists["beta"].top_level == ("beta",)  # from RECORD: no top_level.txt
    assert dists["alpha"].requires == ("beta>=1",)
    cuda = dists["nvidia-fake-cu12"]
    assert [p for p, _ in cuda.shared_objects] == [str(site / "nvidia/fakecu/lib/libfakecu.so.12")]


def test_find_site_dirs_accepts_venv_or_site(fake_venv: tuple[Path, Path, dict[str, int]]) -> None:
    venv, site, _ = fake_venv
    assert find_site_dirs(venv) == [str(site.resolve())]
    assert find_site_dirs(site) == [str(site.resolve())]


def test_find_site_dirs_rejects_other_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no site-packages"):
        find_site_dirs(tmp_path)
    with pytest.raises(DataError, match="not a folder"):
        find_site_dirs(tmp_path / "missing")


def test_no_record_means_unknown_size(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    install_dist(site, "kept", "1", {"kept.py": b"x"})
    (site / "legacy-1.0.dist-info").mkdir()
    (site / "legacy-1.0.dist-info" / "METADATA").write_text("Name: legacy\nVersion: 1.0\n")
    dists = {d.name: d for d in scan([str(site)])}
    assert dists["legacy"].installed_bytes is None
    assert dists["kept"].installed_bytes is not None


def test_current_site_dirs_exist() -> None:
    assert all(Path(d).is_dir() for d in current_site_dirs())


def test_fake_dists_are_what_the_tests_expect() -> None:
    assert {"alpha", "beta", "gamma", "delta", "nvidia-fake-cu12"} <= set(FAKE_DISTS)


@given(st.text(alphabet="abcXYZ019-_.", min_size=1, max_size=20))
def test_normalize_name_is_idempotent(name: str) -> None:
    once = normalize_name(name)
    assert normalize_name(once) == once
    assert once == once.lower()
