"""Torch thread count vs run size, on a quiet machine and under load.

The package picks the torch thread count from a run's estimate (``luckbook.resources``): one
thread for a run estimated under 10 s, torch's default (one per core) above. This script
measures what that choice is worth: each run below is timed (no cache) with one thread and
with every core, first on a quiet machine, then under load — ``--load`` busy processes
(default: one per core) spinning on small matmuls beside it, as on a shared CI machine or a
laptop running a second notebook.

Runs (``lb.run(..., cache=False)``): the ``tiny`` two-layer run (a small run: the case of
most slider frames and tests), a ``book``-scale two-layer run shortened to 4 000 steps (a
larger one) and the ``tiny`` fanout run (projected matrix-gradient dynamics).

Reported per run and condition: seconds with 1 thread and with ``os.cpu_count()`` threads,
and their ratio (> 1: one thread is faster). This is a benchmark, not a test.

    .venv/bin/python benchmarks/bench_threads.py [--repeats 2] [--load N] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import luckbook as lb  # noqa: E402

RUNS: list[tuple[str, str, dict[str, Any]]] = [
    ("two-layer tiny", "two-layer", {"scale": "tiny"}),
    ("two-layer book, 4000 steps", "two-layer", {"scale": "book", "steps": 4000}),
    ("fanout tiny", "fanout", {"scale": "tiny"}),
]


def _spin(stop: Any) -> None:  # a busy neighbour: small matmuls, one thread
    torch.set_num_threads(1)
    a = torch.randn(96, 96)
    while not stop.is_set():
        for _ in range(200):
            a = torch.tanh(a @ a)


def _time(name: str, overrides: dict[str, Any], threads: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        lb.run(name, cache=False, threads=threads, **overrides)
        best = min(best, time.perf_counter() - start)
    return best


def measure(repeats: int) -> list[dict[str, Any]]:
    cores = os.cpu_count() or 1
    rows = []
    for label, name, overrides in RUNS:
        est = lb.get_experiment(name).plan(**overrides)
        one = _time(name, overrides, 1, repeats)
        many = _time(name, overrides, cores, repeats)
        rows.append(
            {
                "run": label,
                "estimate_s": est.seconds if est else None,
                "threads_1_s": one,
                f"threads_{cores}_s": many,
                "ratio_many_over_one": many / one,
            }
        )
        print(
            f"  {label:<30} 1 thread {one:7.2f} s   {cores} threads {many:7.2f} s   "
            f"ratio {many / one:5.2f}",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="best of this many per timing")
    parser.add_argument("--load", type=int, default=os.cpu_count() or 1, help="busy processes")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.load < 0:
        parser.error("--repeats must be >= 1 and --load >= 0")
    report: dict[str, Any] = {
        "benchmark": "torch threads vs run size, quiet and under load",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_before": os.getloadavg(),
    }
    lb.run("two-layer", scale="tiny", seeds=1, steps=50, n_snapshots=1, cache=False)  # warm-up
    print("quiet:", flush=True)
    report["quiet"] = measure(args.repeats)
    print(f"under load ({args.load} busy processes):", flush=True)
    stop = mp.Event()
    procs = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.load)]
    for p in procs:
        p.start()
    try:
        time.sleep(1.0)
        report["loaded"] = measure(args.repeats)
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=10)
    report["load_average_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
