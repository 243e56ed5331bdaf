"""The overhead of ``lb.sweep`` (Dask) against plain ``lb.run`` calls, at two scales.

For each scale, the same grid of two-layer runs is computed three ways, each into its own
empty results cache: one ``lb.run`` per grid point in this process (the reference), then
``lb.sweep`` on a local Dask cluster of one worker (the sweep's own overhead: cluster start,
task shipping, the cache round trip and the gather) and of one worker per core (what a user
gets). Reported: wall seconds, and each sweep's time over the reference's (1 worker: the
overhead; every core: the speed-up, < 1 is faster). This is a benchmark, not a test.

    .venv/bin/python benchmarks/bench_sweep.py [--scales tiny book] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import luckbook as lb  # noqa: E402

GRIDS: dict[str, dict[str, Any]] = {
    "tiny": {"grid": {"p": [0.0, 1.0, 2.0], "multi": [1, 2]}, "seeds": 4, "fixed": {}},
    "book": {"grid": {"p": [0.0, 2.0]}, "seeds": 4, "fixed": {"steps": 4000}},
}


def _fresh_cache() -> str:
    path = tempfile.mkdtemp(prefix="luckbook-bench-sweep-")
    os.environ["LUCKBOOK_CACHE_DIR"] = path
    return path


def measure(scale: str) -> dict[str, Any]:
    spec = GRIDS[scale]
    grid, seeds, fixed = spec["grid"], spec["seeds"], spec["fixed"]
    points = [dict(zip(grid, values, strict=True)) for values in _product(grid)]
    _fresh_cache()
    start = time.perf_counter()
    for point in points:
        lb.run("two-layer", scale=scale, seeds=seeds, **fixed, **point)
    reference = time.perf_counter() - start
    row: dict[str, Any] = {
        "scale": scale,
        "points": len(points),
        "seeds": seeds,
        "lb_run_s": reference,
    }
    for workers in (1, os.cpu_count() or 1):
        _fresh_cache()
        start = time.perf_counter()
        lb.sweep(
            "two-layer", grid, scale=scale, seeds=seeds, workers=workers, progress=False, **fixed
        )
        wall = time.perf_counter() - start
        row[f"sweep_{workers}_workers_s"] = wall
        row[f"sweep_{workers}_workers_over_lb_run"] = wall / reference
    return row


def _product(grid: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
    import itertools

    return list(itertools.product(*grid.values()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", default=list(GRIDS), choices=list(GRIDS))
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "benchmark": "lb.sweep (Dask local cluster) vs lb.run, two-layer",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "rows": [],
    }
    for scale in args.scales:
        row = measure(scale)
        report["rows"].append(row)
        print(json.dumps(row), flush=True)
    report["load_average_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
