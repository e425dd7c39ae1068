from __future__ import annotations

import json

import pytest

from carbonledger.envaudit.model import SCHEMA, DistUsage, EnvAudit
from carbonledger.errors import DataError


def sample() -> EnvAudit:
    return EnvAudit(
        site_dirs=("/env/site-packages",),
        distributions=(
            DistUsage("torch", "2.3", 900, True, ("imported", "mapped"), 40, 3, 800, 2, 700),
            DistUsage("nvidia-cudnn-cu12", "9", 500, False, cuda=True),
            DistUsage("legacy", "1", None, False),
        ),
        mode="process-tree",
        python_processes=2,
        import_time_s=1.5,
        import_time_method="measured",
        files=("/env/site-packages/torch/__init__.py",),
        warnings=("w",),
    )


def test_round_trip_through_json() -> None:
    audit = sample()
    data = json.loads(json.dumps(audit.to_dict()))
    assert data["schema"] == SCHEMA and data["lower_bound"] is True
    assert data["totals"]["unused_bytes"] == 500
    assert data["totals"]["unknown_size"] == ["legacy"]
    assert data["unused_cuda"] == ["nvidia-cudnn-cu12"]
    assert EnvAudit.from_dict(data) == audit


def test_share_is_none_without_sizes() -> None:
    audit = EnvAudit((), (DistUsage("x", "1", None, False),), mode="runs")
    assert audit.unused_share is None


@pytest.mark.parametrize(
    "broken",
    [
        {"schema": "other"},
        {"schema": SCHEMA, "distributions": "nope"},
        {"schema": SCHEMA, "distributions": [{"name": ""}]},
        {"schema": SCHEMA, "distributions": [{"name": "x", "installed_bytes": -1}]},
        {"schema": SCHEMA, "distributions": [], "capture": {"python_processes": "many"}},
    ],
)
def test_malformed_is_a_data_error(broken: dict[str, object]) -> None:
    with pytest.raises(DataError, match="env_audit"):
        EnvAudit.from_dict(broken)
