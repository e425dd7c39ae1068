"""The sitecustomize hook, in real child interpreters of a real virtual environment."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from carbonledger.envaudit.hook import ENV_VAR, prepare

pytestmark = pytest.mark.slow


def run_py(venv: Path, code: str, env: dict[str, str]) -> None:
    subprocess.run([str(venv / "bin" / "python"), "-c", code], env=env, check=True, timeout=60)


def test_folder_is_private_and_removed() -> None:
    hook = prepare()
    mode = stat.S_IMODE(os.stat(hook.path).st_mode)
    assert mode == 0o700
    assert stat.S_IMODE(os.stat(Path(hook.path) / "sitecustomize.py").st_mode) == 0o600
    hook.cleanup()
    assert not os.path.exists(hook.path)


def test_children_and_grandchildren_report(fake_venv: tuple[Path, Path, dict[str, int]]) -> None:
    venv, site, _ = fake_venv
    hook = prepare()
    try:
        env = hook.child_env({"PATH": os.environ.get("PATH", ""), "PYTHONPATH": "/nonexistent"})
        assert env["PYTHONPATH"] == hook.path + os.pathsep + "/nonexistent"
        assert env[ENV_VAR] == hook.path
        grandchild = (
            "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import gamma'])"
        )
        run_py(venv, "import alpha; " + grandchild, env)
        reports, problems = hook.reports()
        assert problems == []
        assert len(reports) == 2
        imported = [set(r["modules"]) for r in reports]
        assert any({"alpha", "alpha.core", "beta"} <= m for m in imported)
        assert any("gamma" in m and "alpha" not in m for m in imported)
        for r in reports:
            assert r["import_time_s"] >= 0
            assert str(site) in r["site_dirs"]
            assert r["maps"]
    finally:
        hook.cleanup()


def test_existing_sitecustomize_still_runs(
    fake_venv: tuple[Path, Path, dict[str, int]], tmp_path: Path
) -> None:
    venv, _, _ = fake_venv
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    marker = tmp_path / "marker.txt"
    (theirs / "sitecustomize.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nVALUE = 7\n"
    )
    hook = prepare()
    try:
        env = hook.child_env({"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(theirs)})
        run_py(venv, "import sitecustomize; assert sitecustomize.VALUE == 7", env)
        assert marker.read_text() == "ran"
        reports, _ = hook.reports()
        assert len(reports) == 1
    finally:
        hook.cleanup()


def test_hook_in_another_folder_does_nothing(
    fake_venv: tuple[Path, Path, dict[str, int]], tmp_path: Path
) -> None:
    venv, _, _ = fake_venv
    hook = prepare()
    try:
        env = hook.child_env({"PATH": os.environ.get("PATH", "")})
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        env[ENV_VAR] = str(elsewhere)  # a leftover or forged variable: not our folder
        run_py(venv, "import alpha", env)
        assert hook.reports() == ([], [])
        assert list(elsewhere.iterdir()) == []
    finally:
        hook.cleanup()


def test_broken_report_is_skipped_with_a_warning() -> None:
    hook = prepare()
    try:
        (Path(hook.path) / "report-1-1.json").write_text("{not json")
        (Path(hook.path) / "report-2-2.json").write_text('{"pid": 2, "modules": {}}')
        reports, problems = hook.reports()
        assert [r["pid"] for r in reports] == [2]
        assert len(problems) == 1 and "report-1-1.json" in problems[0]
    finally:
        hook.cleanup()


def test_importing_the_template_as_a_module_does_nothing() -> None:
    import sys

    before = sys.modules.get("sitecustomize")
    meta_path = list(sys.meta_path)
    import carbonledger.envaudit._sitecustomize  # noqa: F401

    assert sys.modules.get("sitecustomize") is before
    assert sys.meta_path == meta_path
