"""Container images built in the test: sizes by layer and by package add up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.envaudit.fakeenv import _tar_bytes, make_oci_image

from carbonledger.envaudit.image import audit_image, parse_dpkg_status
from carbonledger.errors import DataError

SP = "usr/local/lib/python3.11/site-packages"

STATUS = b"""Package: tool
Status: install ok installed
Installed-Size: 2
Version: 1.2-3
Description: a tool
 with a long description
 Installed-Size: 999

Package: libfoo
Status: install ok installed
Version: 0.9
Installed-Size: 10

Package: gone
Status: deinstall ok config-files
Version: 0.1
Installed-Size: 50
"""


def record(files: dict[str, bytes], info: str) -> bytes:
    lines = [f"{rel},,{len(data)}" for rel, data in files.items()] + [f"{info}/RECORD,,"]
    return ("\n".join(lines) + "\n").encode()


def pip_files(name: str, version: str, files: dict[str, bytes]) -> dict[str, bytes | None]:
    info = f"{name}-{version}.dist-info"
    allf = {**files, f"{info}/METADATA": f"Name: {name}\nVersion: {version}\n".encode()}
    out: dict[str, bytes | None] = {f"{SP}/{rel}": data for rel, data in allf.items()}
    out[f"{SP}/{info}/RECORD"] = record(allf, info)
    return out


LAYERS: list[dict[str, bytes | None]] = [
    {
        "usr": None,
        "usr/bin/tool": b"t" * 1000,
        "usr/share/doc/tool/README": b"r" * 500,
        "var/lib/dpkg/status": STATUS,
        "var/lib/dpkg/info/tool.list": b"/.\n/usr\n/usr/bin/tool\n/usr/share/doc/tool/README\n",
        "etc/config": b"c" * 300,
        "tmp/big.bin": b"b" * 5000,
    },
    {
        **pip_files("alpha", "1.0", {"alpha/__init__.py": b"a" * 200, "alpha/core.py": b"k" * 100}),
        **pip_files("gamma", "0.3", {"gamma/data.bin": b"g" * 4000}),
        "etc/config": b"C" * 350,
        "cache/a": b"1" * 100,
        "cache/b": b"2" * 200,
    },
    {
        "tmp/.wh.big.bin": b"",
        "cache/.wh..wh..opq": b"",
        "cache/c": b"3" * 50,
        "app/main.py": b"m" * 80,
    },
]

TOUCHED = [f"/{SP}/alpha/__init__.py", "/usr/bin/tool", "/not/in/image.py"]


def layer_bytes(entries: dict[str, bytes | None]) -> int:
    return sum(len(v) for k, v in entries.items() if v is not None and "/.wh." not in "/" + k)


def check(image_path: Path) -> None:
    img = audit_image(str(image_path), TOUCHED, touched_known=True)
    total = sum(layer_bytes(layer) for layer in LAYERS)
    assert [layer.bytes_ for layer in img.layers] == [layer_bytes(x) for x in LAYERS]
    assert img.total_bytes == total
    hidden = 5000 + 300 + 100 + 200  # whiteout, overwritten config, opaque folder
    assert img.final_bytes == total - hidden
    # every visible byte belongs to exactly one package row (or "no package")
    assert sum(p.bytes_ for p in img.packages) == img.final_bytes
    assert sum(layer.visible_bytes for layer in img.layers) == img.final_bytes
    by = {(p.manager, p.name): p for p in img.packages}
    assert by[("dpkg", "tool")].bytes_ == 1500
    assert by[("dpkg", "tool")].declared_bytes == 2048
    assert by[("dpkg", "libfoo")].bytes_ == 0 and by[("dpkg", "libfoo")].declared_bytes == 10240
    assert ("dpkg", "gone") not in by
    alpha = pip_files(
        "alpha", "1.0", {"alpha/__init__.py": b"a" * 200, "alpha/core.py": b"k" * 100}
    )
    assert by[("pip", "alpha")].bytes_ == sum(len(v or b"") for v in alpha.values())
    assert by[("pip", "gamma")].version == "0.3"
    assert by[("pip", "alpha")].touched_bytes == 200
    assert by[("dpkg", "tool")].touched_bytes == 1000
    assert img.touched_bytes == 1200
    assert img.untouched_bytes == img.final_bytes - 1200
    data = img.to_dict()
    assert data["hidden_bytes"] == hidden
    assert data["untouched_share"] == pytest.approx(img.untouched_bytes / img.final_bytes)


def test_oci_layout_tar(tmp_path: Path) -> None:
    path = make_oci_image(LAYERS, tmp_path / "image.tar", as_tar=True)
    check(path)
    img = audit_image(str(path))
    assert img.compressed_ratio is not None and img.compressed_ratio > 0
    assert img.to_dict()["touched_bytes"] is None


def test_oci_layout_folder(tmp_path: Path) -> None:
    check(make_oci_image(LAYERS, tmp_path / "oci", as_tar=False))


def test_docker_save_tar(tmp_path: Path) -> None:
    files: dict[str, bytes | None] = {
        f"layer{i}/layer.tar": _tar_bytes(layer) for i, layer in enumerate(LAYERS)
    }
    files["cfg.json"] = b"{}"
    files["manifest.json"] = json.dumps(
        [
            {
                "Config": "cfg.json",
                "RepoTags": ["x:1"],
                "Layers": [f"layer{i}/layer.tar" for i in range(3)],
            }
        ]
    ).encode()
    path = tmp_path / "docker.tar"
    path.write_bytes(_tar_bytes(files))
    check(path)
    assert audit_image(str(path)).compressed_ratio is None


def test_bad_images_are_data_errors(tmp_path: Path) -> None:
    not_tar = tmp_path / "x.tar"
    not_tar.write_bytes(b"hello")
    with pytest.raises(DataError, match="not a readable tar"):
        audit_image(str(not_tar))
    empty = tmp_path / "empty.tar"
    empty.write_bytes(_tar_bytes({"readme": b"x"}))
    with pytest.raises(DataError, match=r"no manifest\.json or index\.json"):
        audit_image(str(empty))
    broken = tmp_path / "broken.tar"
    broken.write_bytes(_tar_bytes({"index.json": b"{nope"}))
    with pytest.raises(DataError, match=r"index\.json: not JSON"):
        audit_image(str(broken))
    missing = tmp_path / "missing.tar"
    missing.write_bytes(_tar_bytes({"manifest.json": b'[{"Layers": ["nope.tar"]}]'}))
    with pytest.raises(DataError, match=r"nope\.tar missing"):
        audit_image(str(missing))
    with pytest.raises(DataError, match="neither an OCI layout"):
        audit_image(str(tmp_path))


def test_parse_dpkg_status() -> None:
    assert parse_dpkg_status(STATUS.decode()) == [("tool", "1.2-3", 2048), ("libfoo", "0.9", 10240)]


def test_tar_member_names_cannot_escape(tmp_path: Path) -> None:
    layer = {"../../etc/passwd": b"x" * 10, "/abs/file": b"y" * 5}
    path = make_oci_image([layer], tmp_path / "img.tar", as_tar=True, gzip_first=False)
    img = audit_image(str(path), ["/etc/passwd"], touched_known=True)
    assert img.final_bytes == 15 and img.touched_bytes == 10
    assert not (tmp_path / "etc").exists()
