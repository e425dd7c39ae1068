"""A rank that tracks itself: ``python worker.py SECONDS [torch]``.

Every process of a job runs this; each calls ``cl.track()`` and records one span. With
``torch`` it first joins a gloo process group (torchrun's environment) and all-reduces a
tensor inside the span, so the job is a real torch.distributed job.
"""

from __future__ import annotations

import os
import sys
import time

import carbonledger as cl


def main() -> None:
    seconds = float(sys.argv[1])
    use_torch = len(sys.argv) > 2 and sys.argv[2] == "torch"
    if use_torch:
        import torch
        import torch.distributed as dist

        dist.init_process_group("gloo")
    with cl.track("worker", interval=0.2) as run:
        with run.span("train"):
            if use_torch:
                t = torch.ones(4)
                dist.all_reduce(t)
                assert float(t[0]) == dist.get_world_size()
            time.sleep(seconds)
        run.log(pid=os.getpid())
    if use_torch:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
