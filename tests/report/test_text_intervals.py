"""The text summary: one unit per interval, span and SCI intervals, no rounded-away zero."""

from __future__ import annotations

import re
import time

import carbonledger as cl
from carbonledger.report.text import summary
from carbonledger.sensors.fake import FakeSensor, fake_device


def test_text_summary_intervals_use_one_unit_and_cover_spans_and_sci() -> None:
    sensors = [FakeSensor([fake_device()], {"fake:cpu-0": 40.0})]
    with cl.track("t", zone="FR", interval=0.05, sensors=sensors) as run:
        with run.span("epoch-0"):
            time.sleep(0.2)
        run.set_functional_unit("image", 10)
    text = summary(run.footprint())
    brackets = re.findall(r"\[([^\]]*–[^\]]*)\]", text)
    assert len(brackets) >= 4  # energy, carbon, SCI, span (energy and carbon)
    for inside in brackets:
        assert len(re.findall(r"(?:kWh|Wh|J|CO2e)\b", inside)) == 1, inside  # one unit
    sci = next(line for line in text.splitlines() if line.lstrip().startswith("SCI"))
    assert "[" in sci and " 0.0 " not in sci
    span = next(line for line in text.splitlines() if line.lstrip().startswith("span"))
    assert span.count("[") == 2
