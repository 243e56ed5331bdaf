"""Estimated vs measured time of every experiment at ``book`` scale, one torch thread.

For each experiment the script makes the estimate ``luckbook run EXP --estimate`` prints
(with a fresh calibration: a temporary cache folder, so measured rates are timed now, under
whatever load the machine has), then runs it (``cache=False``, ``threads=1``, the book's
default development seeds) and records its wall time, its CPU time and the 1-minute load
average. Estimates count CPU time (``luckbook.costs``), so on a loaded machine the measured
wall time exceeds them by about the share of a core the run got; the CPU-time ratio is the
estimate's own error.

The table goes to ``benchmarks/results/estimates.md`` (``--out``) with the machine named by
its CPU model and core count and the condition given by ``--condition`` (``quiet`` or
``loaded``: say which; the load averages are recorded beside each run). Runs estimated
above ``--max-estimate`` seconds are skipped (listed as such) so the table can be made in a
few minutes on a busy machine. This is a benchmark, not a test.

    .venv/bin/python benchmarks/bench_estimates.py --condition loaded [--max-estimate 20]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from luckbook import costs  # noqa: E402
from luckbook.experiments import REGISTRY  # noqa: E402


def measure(name: str, max_estimate: float) -> dict[str, object]:
    exp = REGISTRY[name]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LUCKBOOK_CACHE_DIR"] = tmp  # a fresh calibration: timed under this load
        costs._REMEMBERED.clear()
        costs.timed_sgd_step.cache_clear()
        start = time.perf_counter()
        plan = exp.plan(scale="book")
        est_took = time.perf_counter() - start
        row: dict[str, object] = {
            "experiment": name,
            "estimate_s": plan.seconds,
            "estimate_took_s": est_took,
        }
        if plan.seconds > max_estimate:
            row["skipped"] = f"estimated {plan.seconds:.0f} s > --max-estimate {max_estimate:g} s"
            return row
        load0 = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        exp.run(scale="book", cache=False, threads=1)
        row["wall_s"] = time.perf_counter() - wall
        row["cpu_s"] = time.process_time() - cpu
        row["load"] = (load0 + os.getloadavg()[0]) / 2
    return row


def table(rows: list[dict[str, object]], condition: str) -> str:
    day = datetime.date.today().isoformat()
    lines = [
        "# Estimated vs measured run time, `book` scale, one torch thread",
        "",
        f"Made by `benchmarks/bench_estimates.py` on {day}: {costs.machine_name()}, "
        f"torch {torch.__version__}. Condition: **{condition}** "
        "(the load column is the 1-minute load average during the run). Each estimate was "
        "made with a fresh calibration under that condition. Estimates count CPU time, so "
        "`wall / estimate` grows with the load while `CPU / estimate` is the model's own "
        "error; both should lie within 0.5–2 on a quiet machine.",
        "",
        "| experiment | estimate (s) | estimating took (s) | wall (s) | CPU (s) | load "
        "| wall / estimate | CPU / estimate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(
                f"| {r['experiment']} | {r['estimate_s']:.1f} | {r['estimate_took_s']:.2f} "
                f"| not measured ({r['skipped']}) | | | | |"
            )
            continue
        est = float(r["estimate_s"])
        lines.append(
            f"| {r['experiment']} | {est:.1f} | {r['estimate_took_s']:.2f} | {r['wall_s']:.1f} "
            f"| {r['cpu_s']:.1f} | {r['load']:.1f} | {float(r['wall_s']) / est:.2f} "
            f"| {float(r['cpu_s']) / est:.2f} |"
        )
    other = "quiet" if condition == "loaded" else "loaded"
    lines += ["", f"The {other} condition was not measured in this run.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--condition", choices=("quiet", "loaded"), required=True)
    parser.add_argument("--max-estimate", type=float, default=20.0)
    parser.add_argument("--only", nargs="*", default=None, help="experiments to measure")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "estimates.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name in args.only or sorted(REGISTRY):
        row = measure(name, args.max_estimate)
        rows.append(row)
        print(row, flush=True)
    text = table(rows, args.condition)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
