"""Builders for tests: a real virtual environment holding tiny distributions written by
hand (dist-info folders with RECORD files), and small container images."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "FAKE_DISTS",
    "install_dist",
    "install_fake_dists",
    "make_oci_image",
    "make_venv",
    "site_packages",
]


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    assert found, f"no site-packages in {venv}"
    return found[0]


def make_venv(root: Path) -> Path:
    """A real, empty virtual environment (no pip: fast)."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv


def _record_line(rel: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}"


def install_dist(
    site: Path,
    name: str,
    version: str,
    files: Mapping[str, bytes],
    *,
    requires: tuple[str, ...] = (),
    top_level: tuple[str, ...] | None = None,
) -> int:
    """Write ``files`` and a dist-info folder; returns the bytes RECORD says were installed
    (the files, METADATA, top_level.txt and RECORD itself)."""
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    all_files = dict(files)
    all_files[f"{info}/METADATA"] = meta.encode()
    if top_level is not None:
        all_files[f"{info}/top_level.txt"] = "".join(t + "\n" for t in top_level).encode()
    lines = []
    for rel, data in all_files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        lines.append(_record_line(rel, data))
    lines.append(f"{info}/RECORD,,")
    record = ("\n".join(lines) + "\n").encode()
    (site / info / "RECORD").write_bytes(record)
    return sum(len(d) for d in all_files.values()) + len(record)


# name -> (version, files, requires, top_level)
FAKE_DISTS: dict[str, tuple[str, dict[str, bytes], tuple[str, ...], tuple[str, ...] | None]] = {
    "alpha": (
        "1.0",
        {
            "alpha/__init__.py": b"from alpha import core\nimport beta\n",
            "alpha/core.py": b"VALUE = 42\n",
        },
        ("beta>=1",),
        ("alpha",),
    ),
    "beta": ("2.0", {"beta.py": b"X = 1\n" + b"# padding\n" * 50}, (), None),
    "gamma": (
        "0.3",
        {"gamma/__init__.py": b"", "gamma/data.bin": b"\0" * 20_000},
        (),
        ("gamma",),
    ),
    "delta": (
        "1.1",
        {"delta.py": b"import gamma\n"},
        ('gamma; extra == "full"',),
        None,
    ),
    "nvidia-fake-cu12": (
        "12.1",
        {"nvidia/fakecu/lib/libfakecu.so.12": b"\x7fELF" + b"\0" * 30_000},
        (),
        ("nvidia",),
    ),
}


def install_fake_dists(site: Path, extra_so: Path | None = None) -> dict[str, int]:
    """The fake distributions; with ``extra_so``, a distribution ``sharedlib`` holding a
    copy of that shared object (for tests that map it with ctypes)."""
    sizes = {}
    for name, (version, files, requires, top) in FAKE_DISTS.items():
        sizes[name] = install_dist(site, name, version, files, requires=requires, top_level=top)
    if extra_so is not None:
        sizes["sharedlib"] = install_dist(
            site,
            "sharedlib",
            "0.1",
            {
                "sharedlib/__init__.py": b"",
                "sharedlib/libreal.so": extra_so.read_bytes(),
            },
        )
    return sizes


# -- images ------------------------------------------------------------------------------


def _tar_bytes(entries: Mapping[str, bytes | None], *, gzip: bool = False) -> bytes:
    """A layer: path -> content (None: a folder)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gzip else "w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _blob(out: dict[str, bytes], data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    out[f"blobs/sha256/{digest}"] = data
    return f"sha256:{digest}"


def make_oci_image(
    layers: list[Mapping[str, bytes | None]], dest: Path, *, as_tar: bool, gzip_first: bool = True
) -> Path:
    """An OCI image layout (a folder, or a tar of one, like ``docker save`` ≥ 25)."""
    files: dict[str, bytes] = {}
    layer_desc = []
    for i, entries in enumerate(layers):
        gz = gzip_first and i == 0
        data = _tar_bytes(entries, gzip=gz)
        media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else "")
        layer_desc.append({"mediaType": media, "digest": _blob(files, data), "size": len(data)})
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}})
    cfg = _blob(files, config.encode())
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg},
            "layers": layer_desc,
        }
    ).encode()
    man = _blob(files, manifest)
    files["index.json"] = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": man,
                    "size": len(manifest),
                }
            ],
        }
    ).encode()
    files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
    if as_tar:
        dest.write_bytes(_tar_bytes(files))
        return dest
    for rel, data in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return dest


def copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest)
