"""Tests that need a real engine (a browser, a database server, a scheduler, a framework)
skip on a developer's machine that lacks it, and fail in CI (``CI=true``), where
``.ci/run`` installs every engine: a green CI that skipped them would prove nothing."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

__all__ = ["in_ci", "require_command", "require_module", "unavailable"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip (developer machine) or fail (CI) because an engine is missing."""
    if in_ci():
        pytest.fail(f"{reason}, and CI must run this test (.ci/install/ installs it)")
    pytest.skip(reason)


def require_command(*names: str) -> None:
    """Every command in ``names`` is on PATH, or the test is skipped (failed in CI)."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        unavailable(f"needs {', '.join(missing)}")


def require_module(*names: str) -> None:
    """Every Python module in ``names`` imports, or the test is skipped (failed in CI)."""
    missing = [n for n in names if not _importable(n)]
    if missing:
        unavailable(f"needs the Python package(s) {', '.join(missing)}")


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return False
