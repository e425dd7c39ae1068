"""Live Prometheus metrics of a toy training job.

    pip install 'carbonledger[prometheus]'
    python examples/prometheus_exporter.py            # serves http://127.0.0.1:9464/metrics
    python examples/prometheus_exporter.py --textfile /var/lib/node_exporter/textfile/job.prom

Point Prometheus at 127.0.0.1:9464 and plot ``rate(carbonledger_energy_joules_total[1m])``
(watts). Options: ``--port`` (0 picks a free one), ``--epochs``, ``--linger`` (seconds to
keep serving after the job, so a last scrape sees the final footprint).
"""

from __future__ import annotations

import argparse
import math
import time

import carbonledger as cl
from carbonledger.exporters.prometheus import PrometheusExporter


def epoch(n: int = 300_000) -> float:
    return sum(math.sin(i) * math.sqrt(i) for i in range(1, n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=9464)
    parser.add_argument("--textfile", help="write FILE.prom for node_exporter instead")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--linger", type=float, default=0.0)
    args = parser.parse_args()
    if args.textfile:
        exporter = PrometheusExporter(textfile=args.textfile, textfile_interval_s=5)
    else:
        exporter = PrometheusExporter(port=args.port)  # 127.0.0.1 unless addr= is given
    with cl.track("toy-training", phase="training", sinks=[exporter]) as run:
        if not args.textfile:
            print(f"metrics at {exporter.url}", flush=True)
        for k in range(args.epochs):
            with run.span(f"epoch-{k + 1}"):
                epoch()
    footprint = run.footprint()
    if footprint is not None:
        print(f"{footprint.energy_j} J, {footprint.total_g} gCO2e")
    time.sleep(args.linger)
    exporter.close()


if __name__ == "__main__":
    main()
