"""Cheap checks for GPU drivers, made before any vendor module is imported."""

from __future__ import annotations

import os
import sys

__all__ = [
    "AMD_DRIVER_PATH",
    "AMD_NO_DRIVER",
    "AMD_NO_DRIVER_FIX",
    "NVIDIA_DRIVER_PATHS",
    "NVIDIA_NO_DRIVER",
    "NVIDIA_NO_DRIVER_FIX",
    "amd_driver_present",
    "nvidia_driver_present",
]

NVIDIA_DRIVER_PATHS = ("/dev/nvidiactl", "/proc/driver/nvidia/version", "/dev/dxg")
NVIDIA_NO_DRIVER = "no NVIDIA driver (none of " + ", ".join(NVIDIA_DRIVER_PATHS) + ")"
NVIDIA_NO_DRIVER_FIX = (
    "install the NVIDIA driver; in a container, run it with GPUs (NVIDIA Container Toolkit, --gpus)"
)
AMD_DRIVER_PATH = "/dev/kfd"
AMD_NO_DRIVER = f"no AMD GPU driver ({AMD_DRIVER_PATH} is absent)"
AMD_NO_DRIVER_FIX = "install ROCm and the amdgpu driver; in a container, pass /dev/kfd and /dev/dri"


def nvidia_driver_present() -> bool:
    """An NVIDIA driver is visible (native, in a container, or WSL's /dev/dxg), or the
    program already loaded pynvml."""
    return "pynvml" in sys.modules or any(os.path.exists(p) for p in NVIDIA_DRIVER_PATHS)


def amd_driver_present() -> bool:
    """ROCm's /dev/kfd is visible, or the program already loaded amdsmi."""
    return "amdsmi" in sys.modules or os.path.exists(AMD_DRIVER_PATH)
