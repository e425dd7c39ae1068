"""End to end: ``carbonledger run --audit-env``, ``show``, ``report``, ``env-audit``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.envaudit.fakeenv import make_oci_image
from tests.envaudit.test_image import LAYERS

from carbonledger.cli.main import main

pytestmark = pytest.mark.slow

WORKLOAD = """
import subprocess, sys
import alpha                      # alpha imports beta
subprocess.run([sys.executable, "-c", "import ctypes, sys; ctypes.CDLL(sys.argv[1])", sys.argv[1]])
"""


def record_run(
    venv: Path, site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> str:
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    so = site / "sharedlib" / "libreal.so"
    code = main(
        [
            "run", "--name", "audited", "--zone", "FR", "--interval", "0.2", "--audit-env",
            *extra, "--", str(venv / "bin" / "python"), str(script), str(so),
        ]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "environment audit stored" in err
    out = json.loads(_cli(capsys, "runs", "--json"))
    return str(out[0]["run_id"])


def _cli(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> str:
    assert main(list(argv)) == code
    return capsys.readouterr().out


def test_run_show_report_and_env_audit(
    fake_venv: tuple[Path, Path, dict[str, int]],
    attachment_ledger: dict[Any, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    venv, site, sizes = fake_venv
    if "sharedlib" not in sizes:
        pytest.skip("math is built in: no shared object to copy")
    json_out = tmp_path / "fp.json"
    run_id = record_run(venv, site, tmp_path, capsys, "--json-out", str(json_out))
    unused = {"gamma", "delta", "nvidia-fake-cu12"}

    # show --json: the footprint JSON with an env_audit key
    data = json.loads(_cli(capsys, "show", run_id, "--json"))
    assert data["schema"] == "carbonledger.footprint/1"
    audit = data["env_audit"]
    assert set(audit["unused"]) == unused
    assert audit["totals"]["unused_bytes"] == sum(sizes[n] for n in unused)
    assert audit["unused_cuda"] == ["nvidia-fake-cu12"]
    assert audit["lower_bound"] is True
    by = {d["name"]: d for d in audit["distributions"]}
    assert by["sharedlib"]["evidence"] == ["mapped"]  # loaded by a grandchild via ctypes
    assert by["beta"]["evidence"] == ["imported"]
    assert audit["capture"]["python_processes"] == 2
    assert audit["import_time"]["seconds"] is not None
    assert json.loads(json_out.read_text())["env_audit"]["unused"] == audit["unused"]

    # show (text)
    text = _cli(capsys, "show", run_id)
    assert "Environment audit" in text and "nvidia-fake-cu12" in text and "lower bound" in text

    # report --format html
    html_path = tmp_path / "r.html"
    _cli(capsys, "report", run_id, "--format", "html", "-o", str(html_path))
    html = html_path.read_text()
    assert "<h3>Environment audit</h3>" in html and "nvidia-fake-cu12" in html

    # env-audit against the run: exactly the unused distributions and their sizes
    report = json.loads(
        _cli(
            capsys,
            "env-audit",
            "--env",
            str(venv),
            "--against",
            run_id[:10],
            "--transfers",
            "100",
            "--json",
        )
    )
    env = report["environment"]
    assert {d["name"]: d["installed_bytes"] for d in env["distributions"] if not d["used"]} == {
        n: sizes[n] for n in unused
    }
    assert report["requirements"] == ["alpha==1.0", "beta==2.0", "sharedlib==0.1"]
    cost = report["cost"]["environment"]
    assert cost["bytes"] == sum(sizes[n] for n in unused)
    assert cost["method"] == "modeled" and cost["intensity"]["zone"] == "FR"
    assert cost["energy_interval_kwh"][0] < cost["energy_kwh"] < cost["energy_interval_kwh"][1]

    # env-audit with an image, text output
    image = make_oci_image(LAYERS, tmp_path / "img.tar", as_tar=True)
    text = _cli(
        capsys,
        "env-audit",
        "--env",
        str(venv),
        "--against",
        run_id,
        "--image",
        str(image),
        "--transfers",
        "3",
    )
    assert "Suggested minimal requirements" in text and "alpha==1.0" in text
    assert "Image " in text and "layer 0" in text and "Moving the unused image" in text


def test_env_audit_without_runs_lists_sizes(
    fake_venv: tuple[Path, Path, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    venv, _, sizes = fake_venv
    report = json.loads(_cli(capsys, "env-audit", "--env", str(venv), "--json"))
    env = report["environment"]
    assert env["compared"] is False and env["unused"] is None
    assert env["totals"]["installed_bytes"] == sum(sizes.values())
    assert report["requirements"] is None
    text = _cli(capsys, "env-audit", "--env", str(venv))
    assert "No runs given" in text


def test_env_audit_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], attachment_ledger: dict[Any, Any]
) -> None:
    assert main(["env-audit", "--env", str(tmp_path / "missing")]) == 3
    assert "not a folder" in capsys.readouterr().err
    assert main(["env-audit", "--env", str(tmp_path), "--against", "nope"]) == 3
    assert main(["run", "--quiet", "--", sys.executable, "-c", "pass"]) == 0
    run_id = json.loads(_cli(capsys, "runs", "--json"))[0]["run_id"]
    site = tmp_path / "site-packages"
    site.mkdir()
    assert main(["env-audit", "--env", str(site), "--against", run_id]) == 3
    assert "has no environment audit" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["env-audit", "--transfers", "0"])
    assert exc.value.code == 2
    bad_image = tmp_path / "x.tar"
    bad_image.write_bytes(b"x")
    assert main(["env-audit", "--env", str(site), "--image", str(bad_image)]) == 3


def test_nothing_is_imported_when_not_asked(tmp_path: Path) -> None:
    code = f"""
import sys
import carbonledger as cl
from carbonledger.cli.main import main
LEDGER = {str(tmp_path / "l.sqlite")!r}
with cl.track("plain", ledger=LEDGER, interval=0.1) as run:
    sum(range(1000))
assert main(["run", "--quiet", "--ledger", LEDGER, "--", sys.executable, "-c", "pass"]) == 0
main(["show", run.run_id, "--ledger", LEDGER])
leaked = sorted(m for m in sys.modules if m.startswith("carbonledger.envaudit"))
assert not leaked, leaked
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, capture_output=True)
