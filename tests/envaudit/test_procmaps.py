from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from carbonledger.envaudit.procmaps import (
    descendants,
    is_shared_object,
    mapped_by_tree,
    mapped_files,
    parse_maps,
)

MAPS = """\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234  /usr/bin/python3.11
7f0000000000-7f0000001000 r-xp 00000000 08:01 99    /venv/site-packages/torch/lib/libtorch_cpu.so
7f0000002000-7f0000003000 r--p 00000000 08:01 98    /opt/libold.so.1 (deleted)
7f0000004000-7f0000005000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00001000 rw-p 00000000 00:00 0     [stack]
7ffd00002000-7ffd00003000 r-xp 00000000 00:00 0     [vdso]
7f0000006000-7f0000007000 r--p 00000000 08:01 97    /data/with space/lib x.so
"""


def test_parse_maps_keeps_files_only() -> None:
    assert parse_maps(MAPS) == {
        "/usr/bin/python3.11",
        "/venv/site-packages/torch/lib/libtorch_cpu.so",
        "/opt/libold.so.1",
        "/data/with space/lib x.so",
    }


def test_shared_object_names() -> None:
    assert is_shared_object("/a/libcudart.so.12")
    assert is_shared_object("/a/_C.cpython-311-x86_64-linux-gnu.so")
    assert not is_shared_object("/a/sonnet.py")
    assert not is_shared_object("/a.so.d/x.py")


def test_own_maps_hold_the_interpreter() -> None:
    mapped = mapped_files(os.getpid())
    assert any(is_shared_object(p) or p.endswith(("python", "python3.11")) for p in mapped)
    assert mapped_files(2**22 + 12345) == set()  # no such process


def test_descendants_include_children(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in descendants(os.getpid())
        assert mapped_by_tree({child.pid})
    finally:
        child.kill()
        child.wait()


def test_descendants_from_a_fake_proc_without_children_files(tmp_path: Path) -> None:
    for pid, ppid in ((1, 0), (10, 1), (11, 10), (12, 1), (20, 99)):
        d = tmp_path / str(pid)
        (d / "task" / str(pid)).mkdir(parents=True)  # a thread, no children file
        (d / "stat").write_text(f"{pid} (a (weird) name) S {ppid} 0 0")
    assert descendants(10, str(tmp_path)) == {10, 11}
    assert descendants(1, str(tmp_path)) == {1, 10, 11, 12}
