"""A fake ``amdsmi`` module for tests, mimicking the ROCm Python interface.

Functions return dicts as the real ones do (``amdsmi_get_energy_count`` →
``{"energy_accumulator", "counter_resolution", "timestamp"}``, or the pre-6.1 key
``"power"`` with ``legacy_key=True``); errors are ``AmdSmiLibraryException`` with
``err_code`` (``AMDSMI_STATUS_NOT_SUPPORTED`` = 2); unsupported power fields are "N/A".
"""

from __future__ import annotations

import enum
import sys
import types
from dataclasses import dataclass

import pytest

AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_INIT_ERROR = 34
AMDSMI_STATUS_DRIVER_NOT_LOADED = 48


class AmdSmiException(Exception):
    """Base of the amdsmi exceptions."""


class AmdSmiLibraryException(AmdSmiException):
    def __init__(self, err_code: int) -> None:
        self.err_code = err_code
        self.err_info = f"AMDSMI_STATUS {err_code}"
        super().__init__(f"An error occurred with code: {err_code} ({self.err_info})")


class AmdSmiMemoryType(enum.IntEnum):
    VRAM = 0
    VIS_VRAM = 1
    GTT = 2


@dataclass
class FakeAmdGpu:
    uuid: str
    market_name: str = "AMD Instinct MI250X"
    vram_bytes: int = 64 * 1024**3
    accumulator: int | None = 1_000_000  # ticks; None: energy count NOT_SUPPORTED
    resolution_uj: float = 15.3
    power_w: int | str = 300  # "N/A" when unsupported
    fail: bool = False


@dataclass(frozen=True)
class _Handle:
    gpu: FakeAmdGpu


class FakeAmdSmi:
    def __init__(
        self, gpus: list[FakeAmdGpu], *, init_error: int | None = None, legacy_key: bool = False
    ) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.legacy_key = legacy_key
        self.initialised = False
        self.shutdown_calls = 0
        self.module = self._build()

    def _gpu(self, handle: _Handle) -> FakeAmdGpu:
        if not self.initialised:
            raise AmdSmiLibraryException(AMDSMI_STATUS_INIT_ERROR)
        if handle.gpu.fail:
            raise AmdSmiLibraryException(AMDSMI_STATUS_DRIVER_NOT_LOADED)
        return handle.gpu

    def amdsmi_init(self, flags: int = 0) -> None:
        if self.init_error is not None:
            raise AmdSmiLibraryException(self.init_error)
        self.initialised = True

    def amdsmi_shut_down(self) -> None:
        self.shutdown_calls += 1
        self.initialised = False

    def amdsmi_get_processor_handles(self) -> list[_Handle]:
        if not self.initialised:
            raise AmdSmiLibraryException(AMDSMI_STATUS_INIT_ERROR)
        return [_Handle(g) for g in self.gpus]

    def amdsmi_get_gpu_device_uuid(self, handle: _Handle) -> str:
        return self._gpu(handle).uuid

    def amdsmi_get_gpu_asic_info(self, handle: _Handle) -> dict[str, object]:
        gpu = self._gpu(handle)
        return {"market_name": gpu.market_name, "vendor_id": "0x1002", "device_id": "0x740c"}

    def amdsmi_get_gpu_board_info(self, handle: _Handle) -> dict[str, object]:
        return {"product_name": self._gpu(handle).market_name}

    def amdsmi_get_gpu_memory_total(self, handle: _Handle, mem_type: AmdSmiMemoryType) -> int:
        if mem_type != AmdSmiMemoryType.VRAM:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        return self._gpu(handle).vram_bytes

    def amdsmi_get_energy_count(self, handle: _Handle) -> dict[str, object]:
        gpu = self._gpu(handle)
        if gpu.accumulator is None:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        key = "power" if self.legacy_key else "energy_accumulator"
        return {key: gpu.accumulator, "counter_resolution": gpu.resolution_uj, "timestamp": 0}

    def amdsmi_get_power_info(self, handle: _Handle) -> dict[str, object]:
        gpu = self._gpu(handle)
        return {
            "current_socket_power": "N/A",
            "average_socket_power": gpu.power_w,
            "gfx_voltage": 800,
            "soc_voltage": 800,
            "mem_voltage": 1200,
            "power_limit": 500,
        }

    def _build(self) -> types.ModuleType:
        module = types.ModuleType("amdsmi")
        for name in dir(self):
            if name.startswith("amdsmi_"):
                setattr(module, name, getattr(self, name))
        module.AmdSmiException = AmdSmiException  # type: ignore[attr-defined]
        module.AmdSmiLibraryException = AmdSmiLibraryException  # type: ignore[attr-defined]
        module.AmdSmiMemoryType = AmdSmiMemoryType  # type: ignore[attr-defined]
        return module


def install(
    monkeypatch: pytest.MonkeyPatch,
    gpus: list[FakeAmdGpu],
    *,
    init_error: int | None = None,
    legacy_key: bool = False,
) -> FakeAmdSmi:
    fake = FakeAmdSmi(gpus, init_error=init_error, legacy_key=legacy_key)
    monkeypatch.setitem(sys.modules, "amdsmi", fake.module)
    return fake


def uninstall(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "amdsmi", None)
