"""A fake ``pynvml`` module for tests: the real function names, return types and errors.

Mimics nvidia-ml-py: ``NVMLError(code)`` returns the matching subclass
(``NVMLError_NotSupported`` for ``NVML_ERROR_NOT_SUPPORTED``...) with ``.value``; calls
before ``nvmlInit`` or after ``nvmlShutdown`` raise ``NVML_ERROR_UNINITIALIZED``; string
getters return ``str``; ``nvmlInit``/``nvmlShutdown`` are reference-counted as in NVML (the
library shuts down when every ``nvmlInit`` has had its ``nvmlShutdown``);
``nvmlDeviceGetProcessUtilization`` raises ``NVML_ERROR_NOT_FOUND``
when there is no sample newer than the timestamp; ``usedGpuMemory`` is ``None`` when not
available. Install with :func:`install` (``monkeypatch.setitem(sys.modules, "pynvml", ...)``).
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999
NVML_DEVICE_MIG_DISABLE = 0
NVML_DEVICE_MIG_ENABLE = 1

_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """Like pynvml's: ``NVMLError(code)`` is an instance of the code's subclass."""

    _valClassMapping: ClassVar[dict[int, type[NVMLError]]] = {}
    value: int

    def __new__(cls, value: int) -> NVMLError:
        if cls is NVMLError:
            cls = NVMLError._valClassMapping.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, value: int) -> None:
        super().__init__(value)

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML Error with code {self.value}")


def _make_error_classes() -> dict[str, type[NVMLError]]:
    classes = {}
    for name, code in list(globals().items()):
        if name.startswith("NVML_ERROR_"):
            class_name = "NVMLError_" + "".join(
                part.capitalize() for part in name[len("NVML_ERROR_") :].split("_")
            )
            cls = type(class_name, (NVMLError,), {})
            NVMLError._valClassMapping[code] = cls
            classes[class_name] = cls
    return classes


_ERROR_CLASSES = _make_error_classes()


@dataclass
class FakeProcess:
    pid: int
    used_memory: int | None = None  # bytes; None: not available (MIG, WDDM)


@dataclass
class FakeGpu:
    """One GPU as the fake NVML reports it. Mutate the fields during a test."""

    uuid: str
    name: str = "NVIDIA A100-SXM4-80GB"
    memory_total: int = 80 * 1024**3
    power_limit_mw: int | None = 400_000
    energy_mj: int | None = 1_000_000  # None: no energy counter (NOT_SUPPORTED)
    power_mw: int | None = 250_000  # None: NOT_SUPPORTED
    mig_uuids: list[str] | None = None  # None: MIG not supported; []: disabled
    processes: list[FakeProcess] = field(default_factory=list)
    # (pid, smUtil, timeStamp µs); None: process utilisation NOT_SUPPORTED
    utilization: list[tuple[int, int, int]] | None = field(default_factory=list)
    lost: bool = False  # every read raises NVML_ERROR_GPU_IS_LOST
    # GPU-instance slices per MIG instance (same order as mig_uuids); None: 1 each
    mig_slices: list[int] | None = None
    max_mig_devices: int = 7  # compute slices of the board (7 on A100/H100, 4 on A30)
    minor: int | None = None  # /dev/nvidia<minor>; None: NOT_SUPPORTED
    hidden: bool = False  # outside this process's device cgroup: NO_PERMISSION


@dataclass(frozen=True)
class _Handle:
    gpu: FakeGpu
    mig_uuid: str | None = None


class _Sample:
    def __init__(self, pid: int, sm: int, ts: int) -> None:
        self.pid = pid
        self.timeStamp = ts
        self.smUtil = sm
        self.memUtil = 0
        self.encUtil = 0
        self.decUtil = 0


class _Proc:
    def __init__(self, pid: int, used: int | None) -> None:
        self.pid = pid
        self.usedGpuMemory = used
        self.gpuInstanceId = 0xFFFFFFFF
        self.computeInstanceId = 0xFFFFFFFF


class _Attributes:
    def __init__(self, slices: int, multiprocessors: int, memory_mb: int) -> None:
        self.gpuInstanceSliceCount = slices
        self.computeInstanceSliceCount = slices
        self.multiprocessorCount = multiprocessors
        self.memorySizeMB = memory_mb
        self.sharedCopyEngineCount = 1
        self.sharedDecoderCount = 0
        self.sharedEncoderCount = 0
        self.sharedJpegCount = 0
        self.sharedOfaCount = 0


class _Memory:
    def __init__(self, total: int) -> None:
        self.total = total
        self.free = total
        self.used = 0


class FakeNvml:
    """The state behind the fake module; ``module`` is what ``import pynvml`` returns."""

    def __init__(
        self,
        gpus: list[FakeGpu],
        *,
        init_error: int | None = None,
        driver_version: str = "550.54.15",
        nvml_version: str = "12.550.54.15",
        cuda_driver_version: int = 12040,
    ) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.driver_version = driver_version
        self.nvml_version = nvml_version
        self.cuda_driver_version = cuda_driver_version
        self.initialised = False
        self.init_count = 0  # nvmlInit calls not yet matched by nvmlShutdown
        self.init_calls = 0
        self.shutdown_calls = 0
        self.module = self._build_module()

    # -- helpers ---------------------------------------------------------------------
    def _check(self) -> None:
        if not self.initialised:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _gpu(self, handle: _Handle, *, whole_gpu_only: bool = False) -> FakeGpu:
        self._check()
        if not isinstance(handle, _Handle):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if handle.gpu.lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        if whole_gpu_only and handle.mig_uuid is not None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return handle.gpu

    # -- the API ---------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.init_count += 1
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self._check()
        self.shutdown_calls += 1
        self.init_count = max(0, self.init_count - 1)
        self.initialised = self.init_count > 0

    def nvmlSystemGetDriverVersion(self) -> str:
        self._check()
        return self.driver_version

    def nvmlSystemGetNVMLVersion(self) -> str:
        self._check()
        return self.nvml_version

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._check()
        return self.cuda_driver_version

    def nvmlDeviceGetCount(self) -> int:
        self._check()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        self._check()
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if self.gpus[index].hidden:
            raise NVMLError(NVML_ERROR_NO_PERMISSION)
        return _Handle(self.gpus[index])

    def nvmlDeviceGetMinorNumber(self, handle: _Handle) -> int:
        gpu = self._gpu(handle, whole_gpu_only=True)
        if gpu.minor is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu.minor

    def nvmlDeviceGetUUID(self, handle: _Handle) -> str:
        gpu = self._gpu(handle)
        return handle.mig_uuid or gpu.uuid

    def nvmlDeviceGetName(self, handle: _Handle) -> str:
        return self._gpu(handle).name

    def nvmlDeviceGetMemoryInfo(self, handle: _Handle) -> _Memory:
        return _Memory(self._gpu(handle).memory_total)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: _Handle) -> int:
        gpu = self._gpu(handle, whole_gpu_only=True)
        if gpu.power_limit_mw is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu.power_limit_mw

    def nvmlDeviceGetPowerManagementLimit(self, handle: _Handle) -> int:
        return self.nvmlDeviceGetEnforcedPowerLimit(handle)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: _Handle) -> int:
        gpu = self._gpu(handle, whole_gpu_only=True)
        if gpu.energy_mj is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu.energy_mj

    def nvmlDeviceGetPowerUsage(self, handle: _Handle) -> int:
        gpu = self._gpu(handle, whole_gpu_only=True)
        if gpu.power_mw is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu.power_mw

    def nvmlDeviceGetMigMode(self, handle: _Handle) -> list[int]:
        gpu = self._gpu(handle, whole_gpu_only=True)
        if gpu.mig_uuids is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        mode = NVML_DEVICE_MIG_ENABLE if gpu.mig_uuids else NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: _Handle) -> int:
        gpu = self._gpu(handle, whole_gpu_only=True)
        if gpu.mig_uuids is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return gpu.max_mig_devices

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: _Handle, index: int) -> _Handle:
        gpu = self._gpu(handle, whole_gpu_only=True)
        if not gpu.mig_uuids or index >= len(gpu.mig_uuids):
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return _Handle(gpu, gpu.mig_uuids[index])

    def _mig_index(self, handle: _Handle) -> int:
        gpu = self._gpu(handle)
        if handle.mig_uuid is None or not gpu.mig_uuids:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)  # not a MIG device handle
        return gpu.mig_uuids.index(handle.mig_uuid)

    def nvmlDeviceGetAttributes(self, handle: _Handle) -> _Attributes:
        gpu = self._gpu(handle)
        if handle.mig_uuid is None:
            return _Attributes(gpu.max_mig_devices, 108, gpu.memory_total // 2**20)
        i = self._mig_index(handle)
        slices = gpu.mig_slices[i] if gpu.mig_slices else 1
        share = slices / gpu.max_mig_devices
        return _Attributes(slices, int(98 * share), int(gpu.memory_total * share) // 2**20)

    def nvmlDeviceGetGpuInstanceId(self, handle: _Handle) -> int:
        return self._mig_index(handle) + 1  # GPU instance ids as nvidia-smi shows them

    def nvmlDeviceGetComputeRunningProcesses(self, handle: _Handle) -> list[_Proc]:
        gpu = self._gpu(handle)
        return [_Proc(p.pid, p.used_memory) for p in gpu.processes]

    def nvmlDeviceGetProcessUtilization(self, handle: _Handle, timeStamp: int) -> list[_Sample]:
        gpu = self._gpu(handle)
        if gpu.utilization is None or gpu.mig_uuids:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        samples = [_Sample(pid, sm, ts) for pid, sm, ts in gpu.utilization if ts > timeStamp]
        if not samples:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return samples

    def _build_module(self) -> types.ModuleType:
        module = types.ModuleType("pynvml")
        for name, value in globals().items():
            if name.startswith("NVML_"):
                setattr(module, name, value)
        module.NVMLError = NVMLError  # type: ignore[attr-defined]
        for name, cls in _ERROR_CLASSES.items():
            setattr(module, name, cls)
        for name in dir(self):
            if name.startswith("nvml"):
                setattr(module, name, getattr(self, name))
        return module


def install(
    monkeypatch: pytest.MonkeyPatch, gpus: list[FakeGpu], *, init_error: int | None = None
) -> FakeNvml:
    """Make ``import pynvml`` return a fake NVML with ``gpus``."""
    fake = FakeNvml(gpus, init_error=init_error)
    monkeypatch.setitem(sys.modules, "pynvml", fake.module)
    return fake


def uninstall(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import pynvml`` fail, as when nvidia-ml-py is not installed."""
    monkeypatch.setitem(sys.modules, "pynvml", None)


def gpu_uuid(n: int) -> str:
    return f"GPU-{n:08x}-1111-2222-3333-444455556666"


def mig_uuid(n: int, k: int) -> str:
    return f"MIG-{n:04x}{k:04x}-aaaa-bbbb-cccc-ddddeeeeffff"


__all__ = [
    "FakeGpu",
    "FakeNvml",
    "FakeProcess",
    "NVMLError",
    "gpu_uuid",
    "install",
    "mig_uuid",
    "uninstall",
]
