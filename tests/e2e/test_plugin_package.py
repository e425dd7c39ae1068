"""A third-party package that declares a sensor through the ``carbonledger.sensors`` entry
point, pip-installed into a fresh virtual environment, is listed by ``carbonledger
devices`` and measured by ``carbonledger run``, with no change to carbonledger."""

from __future__ import annotations

import base64
import hashlib
import json
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SENSOR_MODULE = '''
import time
from carbonledger.records import Component, DeviceInfo, Method, Reading

class BoardSensor:
    """A pretend board power meter: 25 W."""
    kind = "boardmeter"

    def __init__(self):
        self._t0 = time.time()

    def devices(self):
        return [DeviceInfo("boardmeter:0", Component.OTHER, "board meter", Method.MEASURED,
                           "boardmeter:0", 0.02)]

    def read(self):
        return [Reading("boardmeter:0", 25.0 * (time.time() - self._t0), 25.0)]

    def close(self):
        pass

def probe(ctx):
    return BoardSensor()
'''


def _build_wheel(out_dir: Path) -> Path:
    """A minimal wheel, written by hand: what any build backend would produce."""
    name, version = "boardmeter_sensor", "0.1.0"
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "",
        f"{name}/sensor.py": SENSOR_MODULE,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": "[carbonledger.sensors]\n"
        f"boardmeter = {name}.sensor:probe\n",
    }
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    wheel = out_dir / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@pytest.mark.slow
def test_third_party_sensor_in_a_fresh_venv(tmp_path: Path) -> None:
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # carbonledger itself, unchanged, from this checkout (and psutil from the test's env)
    deps = [p for p in site.getsitepackages() if Path(p, "psutil").is_dir()]
    (Path(purelib) / "carbonledger-dev.pth").write_text(
        "\n".join([str(REPO / "src"), *deps]) + "\n"
    )
    wheel = _build_wheel(tmp_path)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-index", "--no-deps", "-q", str(wheel)],
        check=True,
        timeout=300,
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CARBONLEDGER_SYSFS_ROOT": str(tmp_path / "no-sysfs"),
    }
    devices = subprocess.run(
        [str(python), "-m", "carbonledger", "devices", "--json"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    listed = {d["device_id"]: d for d in json.loads(devices.stdout)["devices"]}
    assert listed["boardmeter:0"]["method"] == "measured"
    ledger = tmp_path / "ledger.sqlite"
    footprint = tmp_path / "fp.json"
    subprocess.run(
        [
            str(python),
            "-m",
            "carbonledger",
            "run",
            "--quiet",
            "--ledger",
            str(ledger),
            "--interval",
            "0.1",
            "--json-out",
            str(footprint),
            "--",
            str(python),
            "-c",
            "import time; time.sleep(1)",
        ],
        check=True,
        env=env,
        timeout=120,
    )
    fp = json.loads(footprint.read_text())
    board = next(c for c in fp["components"] if c["device"] == "boardmeter:0")
    assert board["method"] == "measured"
    assert board["mean_power_w"] == pytest.approx(25.0, rel=0.05)
