"""The live-intensity recorder as a consumer of run events: it polls the provider while
the run lasts and, when the run stops, keeps the series the run is priced with."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from carbonledger.events import BaseSink, RunStarted, RunStopping

if TYPE_CHECKING:
    from carbonledger.intensity.live import LiveIntensityRecorder
    from carbonledger.intensity.series import IntensitySeries

__all__ = ["RecorderSink"]


class RecorderSink(BaseSink):
    """Starts ``recorder`` with the run; on stopping, takes the provider's history and hands
    the recorded series to ``keep_series`` (the ledger)."""

    name = "live-intensity"

    def __init__(
        self,
        recorder: LiveIntensityRecorder,
        *,
        keep_series: Callable[[str, IntensitySeries], None],
        note: Callable[[str], None],
    ) -> None:
        self.recorder = recorder
        self._keep_series = keep_series
        self._note = note
        self._started_at: float | None = None

    def on_start(self, event: RunStarted) -> None:
        self._started_at = event.record.started_at
        self.recorder.start()

    def on_stopping(self, event: RunStopping) -> None:
        started_at = self._started_at if self._started_at is not None else event.ended_at
        self.recorder.stop(started_at, event.ended_at)
        for message in self.recorder.errors:
            self._note(message)  # the recorder logged it already
        series = self.recorded_series()
        if series is not None:
            self._keep_series(event.run_id, series)

    def recorded_series(self) -> IntensitySeries | None:
        """What the recorder kept (None when nothing was recorded)."""
        recorder = self.recorder
        getter = getattr(recorder, "series", None)
        if callable(getter):
            found: IntensitySeries | None = getter()
            return found
        if not recorder.path.is_file():
            return None
        from carbonledger.intensity.live import load_recorded_series

        try:
            return load_recorded_series(recorder.path, recorder.zone)
        except Exception as exc:
            self._note(f"the recorded intensity series cannot be read back ({exc})")
            return None
