"""Container images without a container runtime: a ``docker save`` tar, or an OCI image
layout (a folder, or a tar of one).

Layers are read in order into one file table: a whiteout ``.wh.NAME`` removes ``NAME``
(and all below it) from the layers beneath, ``.wh..wh..opq`` empties its folder of them,
and a later file replaces an earlier one. Sizes are the bytes of regular files (what
``docker history`` counts): every layer's bytes add up to the image's; the files still
visible at the end add up, by owner, to the final filesystem: pip distributions (their
``*.dist-info/RECORD``), dpkg packages (``var/lib/dpkg/info/PKG.list``, with
``Installed-Size`` from ``var/lib/dpkg/status`` alongside) and files owned by neither.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from carbonledger.errors import DataError

__all__ = ["ImageAudit", "LayerSize", "PackageSize", "audit_image", "parse_dpkg_status"]

_MAX_META_BYTES = 64 * 1024 * 1024
_DIST_RECORD = re.compile(r"(^|/)(site|dist)-packages/[^/]+\.dist-info/RECORD$")
_DPKG_LIST = re.compile(r"^var/lib/dpkg/info/([^/]+)\.list$")
_DPKG_STATUS = "var/lib/dpkg/status"


@dataclass(frozen=True)
class LayerSize:
    index: int
    digest: str
    bytes_: int  # regular-file bytes in the layer
    files: int
    visible_bytes: int  # of those, still visible in the final filesystem
    compressed_bytes: int | None = None  # the blob as stored and pulled, when known

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "digest": self.digest,
            "bytes": self.bytes_,
            "files": self.files,
            "visible_bytes": self.visible_bytes,
            "compressed_bytes": self.compressed_bytes,
        }


@dataclass(frozen=True)
class PackageSize:
    manager: str  # pip | dpkg | other
    name: str
    version: str
    bytes_: int
    files: int
    declared_bytes: int | None = None  # dpkg Installed-Size (KiB × 1024)
    touched_bytes: int = 0
    touched_files: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "manager": self.manager,
            "name": self.name,
            "version": self.version,
            "bytes": self.bytes_,
            "files": self.files,
            "declared_bytes": self.declared_bytes,
            "touched_bytes": self.touched_bytes,
            "touched_files": self.touched_files,
        }


@dataclass(frozen=True)
class ImageAudit:
    source: str
    layers: tuple[LayerSize, ...]
    packages: tuple[PackageSize, ...]
    touched_known: bool  # whether any run's files were given
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total_bytes(self) -> int:
        return sum(layer.bytes_ for layer in self.layers)

    @property
    def final_bytes(self) -> int:
        return sum(layer.visible_bytes for layer in self.layers)

    @property
    def touched_bytes(self) -> int:
        return sum(p.touched_bytes for p in self.packages)

    @property
    def untouched_bytes(self) -> int:
        return self.final_bytes - self.touched_bytes

    @property
    def compressed_ratio(self) -> float | None:
        sizes = [layer.compressed_bytes for layer in self.layers]
        if not sizes or any(s is None for s in sizes) or self.total_bytes <= 0:
            return None
        return sum(s or 0 for s in sizes) / self.total_bytes

    def to_dict(self) -> dict[str, Any]:
        final = self.final_bytes
        return {
            "source": self.source,
            "total_bytes": self.total_bytes,
            "final_bytes": final,
            "hidden_bytes": self.total_bytes - final,
            "touched_known": self.touched_known,
            "touched_bytes": self.touched_bytes if self.touched_known else None,
            "untouched_share": (self.untouched_bytes / final)
            if self.touched_known and final > 0
            else None,
            "compressed_ratio": self.compressed_ratio,
            "layers": [layer.to_dict() for layer in self.layers],
            "packages": [p.to_dict() for p in self.packages],
            "warnings": list(self.warnings),
        }


# -- reading the image -------------------------------------------------------------------

Opener = Callable[[], IO[bytes]]


@dataclass(frozen=True)
class _Blob:
    digest: str
    open: Opener
    compressed_bytes: int | None


def _norm(name: str) -> str | None:
    path = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    return path or None


def _json(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise DataError(f"{where}: not JSON ({exc})") from None


def _pick_manifest(index: Any, where: str, read: Callable[[str], bytes]) -> dict[str, Any]:
    for _ in range(4):  # an index may point at another index
        manifests = index.get("manifests") if isinstance(index, dict) else None
        if not isinstance(manifests, list) or not manifests:
            raise DataError(f"{where}: field 'manifests' missing or empty")
        chosen = next(
            (
                m
                for m in manifests
                if isinstance(m, dict)
                and (m.get("platform") or {}).get("architecture") in ("amd64", None)
            ),
            manifests[0],
        )
        digest = chosen.get("digest") if isinstance(chosen, dict) else None
        if not isinstance(digest, str) or ":" not in digest:
            raise DataError(f"{where}: manifest without a digest")
        doc = _json(read(_blob_path(digest)), f"{where} → {digest}")
        if isinstance(doc, dict) and "layers" in doc:
            return doc
        index, where = doc, f"{where} → {digest}"
    raise DataError(f"{where}: index nesting too deep")


def _blob_path(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    if not re.fullmatch(r"[a-z0-9]+", algorithm) or not re.fullmatch(r"[A-Za-z0-9=_-]+", value):
        raise DataError(f"bad digest {digest!r}")
    return f"blobs/{algorithm}/{value}"


def _oci_layers(
    manifest: dict[str, Any], where: str, opener: Callable[[str], Opener]
) -> list[_Blob]:
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise DataError(f"{where}: field 'layers' is not a list")
    out = []
    for i, layer in enumerate(layers):
        digest = layer.get("digest") if isinstance(layer, dict) else None
        if not isinstance(digest, str):
            raise DataError(f"{where}: layers[{i}] has no digest")
        size = layer.get("size")
        out.append(
            _Blob(digest, opener(_blob_path(digest)), size if isinstance(size, int) else None)
        )
    return out


def _docker_layers(manifest: Any, where: str, opener: Callable[[str], Opener]) -> list[_Blob]:
    if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
        raise DataError(f"{where}: not a docker save manifest (a list of images)")
    names = manifest[0].get("Layers")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError(f"{where}: field 'Layers' is not a list of paths")
    return [_Blob(n, opener(n), None) for n in names]


@contextmanager
def _layers_of(path: str) -> Iterator[tuple[list[_Blob], list[str]]]:
    notes: list[str] = []
    if os.path.isdir(path):

        def read_dir(rel: str) -> bytes:
            full = os.path.join(path, *rel.split("/"))
            try:
                with open(full, "rb") as fh:
                    return fh.read(_MAX_META_BYTES)
            except OSError as exc:
                raise DataError(f"{path}: cannot read {rel} ({exc.strerror})") from None

        def open_dir(rel: str) -> Opener:
            return lambda: open(os.path.join(path, *rel.split("/")), "rb")

        if os.path.isfile(os.path.join(path, "index.json")):
            index = _json(read_dir("index.json"), f"{path}/index.json")
            manifest = _pick_manifest(index, f"{path}/index.json", read_dir)
            yield _oci_layers(manifest, f"{path}/index.json", open_dir), notes
        elif os.path.isfile(os.path.join(path, "manifest.json")):
            doc = _json(read_dir("manifest.json"), f"{path}/manifest.json")
            yield _docker_layers(doc, f"{path}/manifest.json", open_dir), notes
        else:
            raise DataError(f"{path}: neither an OCI layout (index.json) nor a docker save")
        return
    try:
        outer = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise DataError(f"{path}: not a readable tar ({exc})") from None
    with outer:
        members = {}
        for m in outer.getmembers():
            name = _norm(m.name)
            if name is not None and m.isfile():
                members[name] = m

        def read_tar(rel: str) -> bytes:
            member = members.get(rel)
            fh = outer.extractfile(member) if member is not None else None
            if fh is None:
                raise DataError(f"{path}: member {rel} missing")
            return fh.read(_MAX_META_BYTES)

        def open_tar(rel: str) -> Opener:
            def opener() -> IO[bytes]:
                member = members.get(_norm(rel) or "")
                fh = outer.extractfile(member) if member is not None else None
                if fh is None:
                    raise DataError(f"{path}: layer {rel} missing")
                return fh

            return opener

        if "manifest.json" in members:
            doc = _json(read_tar("manifest.json"), f"{path}:manifest.json")
            yield _docker_layers(doc, f"{path}:manifest.json", open_tar), notes
        elif "index.json" in members:
            index = _json(read_tar("index.json"), f"{path}:index.json")
            manifest = _pick_manifest(index, f"{path}:index.json", read_tar)
            yield _oci_layers(manifest, f"{path}:index.json", open_tar), notes
        else:
            raise DataError(f"{path}: no manifest.json or index.json inside")


# -- the union filesystem ----------------------------------------------------------------


def _wanted(path: str) -> bool:
    return bool(path == _DPKG_STATUS or _DIST_RECORD.search(path) or _DPKG_LIST.match(path))


def _read_layer(
    blob: _Blob,
    index: int,
    fs: dict[str, tuple[int, int]],
    meta: dict[str, bytes],
    where: str,
) -> tuple[int, int]:
    """Apply one layer to ``fs`` (path -> (layer, bytes)); returns (bytes, files)."""
    removed: list[str] = []
    opaque: list[str] = []
    added: dict[str, tuple[int, int]] = {}
    added_meta: dict[str, bytes] = {}
    total = count = 0
    try:
        with blob.open() as raw, tarfile.open(fileobj=raw, mode="r|*") as layer:
            for m in layer:
                path = _norm(m.name)
                if path is None or m.isdir():
                    continue
                base = posixpath.basename(path)
                parent = posixpath.dirname(path)
                if base == ".wh..wh..opq":
                    opaque.append(parent)
                    continue
                if base.startswith(".wh."):
                    removed.append(posixpath.join(parent, base[4:]))
                    continue
                size = m.size if m.isfile() else 0
                total += size
                count += 1
                added[path] = (index, size)
                if m.isfile() and _wanted(path) and size <= _MAX_META_BYTES:
                    fh = layer.extractfile(m)
                    if fh is not None:
                        added_meta[path] = fh.read()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise DataError(f"{where}: layer {blob.digest} unreadable ({exc})") from None
    gone = [(p, True) for p in removed] + [(p, False) for p in opaque]
    if gone:
        for path in list(fs):
            for target, itself in gone:
                if (itself and path == target) or path.startswith(target + "/"):
                    del fs[path]
                    meta.pop(path, None)
                    break
    fs.update(added)
    for path in added:  # a replaced metadata file that is not metadata any more
        meta.pop(path, None)
    meta.update(added_meta)
    return total, count


def parse_dpkg_status(text: str) -> list[tuple[str, str, int | None]]:
    """(package, version, Installed-Size bytes or None) of each installed package."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key is not None:
                continue
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        name = fields.get("package")
        if not name or "installed" not in fields.get("status", "installed").split()[-1:]:
            continue
        size = fields.get("installed-size")
        out.append(
            (name, fields.get("version", ""), int(size) * 1024 if size and size.isdigit() else None)
        )
    return out


def _owners(
    fs: dict[str, tuple[int, int]], meta: dict[str, bytes]
) -> tuple[dict[str, tuple[str, str, str]], dict[tuple[str, str], int | None]]:
    owner: dict[str, tuple[str, str, str]] = {}
    declared: dict[tuple[str, str], int | None] = {}
    status = meta.get(_DPKG_STATUS)
    if status is not None:
        for name, version, size in parse_dpkg_status(status.decode("utf-8", "replace")):
            declared[("dpkg", name)] = size
            prefix = f"var/lib/dpkg/info/{name}:"
            multiarch = sorted(p for p in meta if p.startswith(prefix) and p.endswith(".list"))
            lists = [f"var/lib/dpkg/info/{name}.list", *multiarch]
            for list_path in lists:
                raw = meta.get(list_path)
                if raw is None:
                    continue
                for line in raw.decode("utf-8", "replace").splitlines():
                    path = _norm(line.strip())
                    if path is not None and path in fs and path not in owner:
                        owner[path] = ("dpkg", name, version)
    for path, raw in sorted(meta.items()):
        if not _DIST_RECORD.search(path):
            continue
        info_dir = posixpath.dirname(path)
        site = posixpath.dirname(info_dir)
        stem = posixpath.basename(info_dir)[: -len(".dist-info")]
        name, _, version = stem.partition("-")
        for row in raw.decode("utf-8", "replace").splitlines():
            rel = row.rsplit(",", 2)[0] if row.count(",") >= 2 else row
            rel = rel.strip().strip('"')
            if not rel:
                continue
            target = _norm(posixpath.join(site, rel))
            if target in fs and target not in owner:
                owner[target] = ("pip", name, version)
    return owner, declared


def audit_image(
    path: str, touched: Iterable[str] = (), *, touched_known: bool = False
) -> ImageAudit:
    """Sizes of the image at ``path`` by layer and by package, and which bytes of it the
    files in ``touched`` (absolute paths recorded by runs in that image) cover."""
    fs: dict[str, tuple[int, int]] = {}
    meta: dict[str, bytes] = {}
    layer_rows: list[tuple[_Blob, int, int]] = []
    with _layers_of(path) as (blobs, notes):
        for i, blob in enumerate(blobs):
            total, count = _read_layer(blob, i, fs, meta, path)
            layer_rows.append((blob, total, count))
    visible = [0] * len(layer_rows)
    for layer_index, size in fs.values():
        visible[layer_index] += size
    layers = tuple(
        LayerSize(i, blob.digest, total, count, visible[i], blob.compressed_bytes)
        for i, (blob, total, count) in enumerate(layer_rows)
    )
    owner, declared = _owners(fs, meta)
    touched_set = {p.lstrip("/") for p in touched}
    sums: dict[tuple[str, str, str], list[int]] = {}
    for fpath, (_, size) in fs.items():
        key = owner.get(fpath, ("other", "(no package)", ""))
        row = sums.setdefault(key, [0, 0, 0, 0])
        row[0] += size
        row[1] += 1
        if fpath in touched_set:
            row[2] += size
            row[3] += 1
    listed = {(k[0], k[1]) for k in sums}
    for manager, name in declared:  # dpkg packages without files listed
        if (manager, name) not in listed:
            sums[(manager, name, "")] = [0, 0, 0, 0]
    packages = tuple(
        sorted(
            (
                PackageSize(
                    manager,
                    name,
                    version,
                    row[0],
                    row[1],
                    declared.get((manager, name)),
                    row[2],
                    row[3],
                )
                for (manager, name, version), row in sums.items()
            ),
            key=lambda p: (-p.bytes_, p.manager, p.name),
        )
    )
    return ImageAudit(
        source=path,
        layers=layers,
        packages=packages,
        touched_known=touched_known,
        warnings=tuple(notes),
    )
