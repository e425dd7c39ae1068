from __future__ import annotations

from carbonledger.envaudit.analyse import analyse, is_cuda_wheel
from carbonledger.envaudit.distributions import InstalledDist
from carbonledger.envaudit.observe import Snapshot

SITE = "/env/lib/python3.11/site-packages"


def dist(
    name: str, size: int | None, files: list[str], top: tuple[str, ...] = (), **kw: object
) -> InstalledDist:
    paths = frozenset(f"{SITE}/{f}" for f in files)
    so = tuple((p, 100) for p in sorted(paths) if ".so" in p)
    return InstalledDist(name, "1", SITE, size, paths, so, top, **kw)  # type: ignore[arg-type]


def snap(modules: dict[str, set[str]], mapped: set[str] = frozenset()) -> Snapshot:  # type: ignore[assignment]
    return Snapshot(
        modules={k: frozenset(v) for k, v in modules.items()},
        mapped=frozenset(mapped),
        python_processes=1,
        mapped_processes=1,
        import_time_s=0.5,
        site_dirs=(SITE,),
    )


DISTS = [
    dist("torch", 1000, ["torch/__init__.py", "torch/lib/libtorch.so"], ("torch",)),
    dist("nvidia-cublas-cu12", 5000, ["nvidia/cublas/lib/libcublas.so.12"], ("nvidia",)),
    dist("nvidia-cudnn-cu12", 3000, ["nvidia/cudnn/lib/libcudnn.so.9"], ("nvidia",)),
    dist("unused", 200, ["unused.py"], ("unused",)),
    dist("nosize", None, [], ("nosize",)),
    dist("editable", 10, ["__editable__.editable.pth"], ("mypkg",)),
]


def identity(path: str) -> str:
    return path


def test_imported_and_mapped_distributions_are_used() -> None:
    s = snap(
        {
            f"{SITE}/torch/__init__.py": {"torch"},
            "/src/mypkg/__init__.py": {"mypkg", "mypkg.sub"},
            "/usr/lib/python3.11/json/__init__.py": {"json"},
        },
        {
            f"{SITE}/nvidia/cublas/lib/libcublas.so.12",
            f"{SITE}/torch/lib/libtorch.so",
            "/lib/libc.so.6",
        },
    )
    audit = analyse(s, DISTS, mode="in-process", realpath=identity)
    by = {d.name: d for d in audit.distributions}
    assert by["torch"].used and set(by["torch"].evidence) == {"imported", "mapped"}
    assert by["torch"].mapped_shared_object_bytes == 100
    assert by["nvidia-cublas-cu12"].evidence == ("mapped",)
    assert by["editable"].evidence == ("imported-by-name",)
    assert by["editable"].modules == 2
    assert [d.name for d in audit.unused] == ["nvidia-cudnn-cu12", "unused", "nosize"]
    assert [d.name for d in audit.unused_cuda] == ["nvidia-cudnn-cu12"]
    assert audit.installed_bytes == 1000 + 5000 + 3000 + 200 + 10
    assert audit.unused_bytes == 3200
    assert audit.unused_share == 3200 / 9210
    assert audit.modules_outside == 1  # json
    assert "/lib/libc.so.6" in audit.files


def test_namespace_and_foreign_site_modules_prove_nothing() -> None:
    s = snap({"/other/venv/lib/python3.11/site-packages/unused.py": {"unused"}})
    audit = analyse(s, DISTS, mode="in-process", realpath=identity)
    assert not any(d.used for d in audit.distributions)
    assert audit.modules_outside == 1


def test_no_interpreter_report_is_a_warning() -> None:
    s = Snapshot({}, frozenset(), 0, 1, None, ())
    audit = analyse(s, DISTS, mode="process-tree", realpath=identity)
    assert audit.import_time_s is None and audit.import_time_method == "unavailable"
    assert any("no Python interpreter" in w for w in audit.warnings)


def test_cuda_names() -> None:
    assert is_cuda_wheel("nvidia-cublas-cu12")
    assert is_cuda_wheel("cupy-cuda12x")
    assert not is_cuda_wheel("numpy")
