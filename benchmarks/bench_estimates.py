"""Estimated vs measured time of every experiment at ``book`` scale, one torch thread,
quiet and under load, in one run.

For each experiment and condition the script makes the estimate ``luckbook run EXP
--estimate`` prints (with a fresh calibration: a temporary cache folder, so every measured
rate is timed now, under that condition), then runs it (``cache=False``, ``threads=1``, the
book's default development seeds) and records its wall time, its CPU time and the 1-minute
load average. Conditions:

* ``quiet``: the machine as it is (its load average is recorded: say whether it was quiet);
* ``loaded``: the same, with ``--load-procs`` background processes (default 3) each spinning
  a one-thread float64 matmul loop, so every core is busy.

Estimates count CPU time (``luckbook.costs``) and are quiet-machine figures by design, so
the loaded estimate should stay within 2× of the quiet one; the load-adjusted figure that
``--estimate`` adds on a busy machine (:attr:`luckbook.costs.Estimate.busy_factor`) is the
one to hold against the loaded wall time. The table goes to
``benchmarks/results/estimates.md`` (``--out``) and the rows to a JSON beside it. This is a
benchmark, not a test.

    .venv/bin/python benchmarks/bench_estimates.py [--max-estimate 120] [--load-procs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from luckbook import costs  # noqa: E402
from luckbook.experiments import REGISTRY  # noqa: E402


def _spin(stop) -> None:  # a background process keeping one core busy
    torch.set_num_threads(1)
    a = torch.randn(256, 256, dtype=torch.float64)
    while not stop.is_set():
        a = torch.tanh(a @ a)


@contextlib.contextmanager
def background_load(procs: int) -> Iterator[None]:
    """``procs`` processes spinning a one-thread matmul loop (none for 0)."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    workers = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(procs)]
    for w in workers:
        w.start()
    try:
        if procs:
            time.sleep(20)  # let the 1-minute load average see them
        yield
    finally:
        stop.set()
        for w in workers:
            w.join(10)


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
            "estimate_at_load_s": plan.seconds * plan.busy_factor,
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


def _f(x: object, fmt: str = ".1f") -> str:
    return "" if x is None else format(float(x), fmt)  # type: ignore[arg-type]


def table(quiet: list[dict[str, object]], loaded: list[dict[str, object]], procs: int) -> str:
    day = datetime.date.today().isoformat()
    q_load = [float(r["load"]) for r in quiet if "load" in r]
    lines = [
        "# Estimated vs measured run time, `book` scale, one torch thread",
        "",
        f"Made by `benchmarks/bench_estimates.py` on {day}: {costs.machine_name()}, "
        f"torch {torch.__version__}, in one run: every experiment **quiet** (the machine as it "
        f"was: load average {min(q_load, default=0):.1f}–{max(q_load, default=0):.1f} during "
        f"those runs), then **loaded** ({procs} background processes each spinning a one-thread "
        "matmul loop). Each estimate was made with a fresh calibration under its condition. "
        "Estimates count CPU time and are quiet-machine figures, so `loaded est / quiet est` "
        "shows how far the load moves them; the load-adjusted figure that `--estimate` adds "
        "on a busy machine (`Estimate.busy_factor`: a thread gets cores / (load + 1) of a "
        "core) is held against the loaded wall time.",
        "",
        "| experiment | condition | estimate (s) | load | at-load estimate (s) | wall (s) "
        "| CPU (s) | **wall / at-load est** | CPU / est | **loaded est / quiet est** |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    worst: list[float] = []
    for q, b in zip(quiet, loaded, strict=True):
        qe = float(q["estimate_s"])
        for condition, r in (("quiet", q), ("loaded", b)):
            e = float(r["estimate_s"])
            cells = [str(r["experiment"]) if condition == "quiet" else "", condition, _f(e)]
            if "skipped" in r:
                cells += ["", _f(r["estimate_at_load_s"]), f"not run ({r['skipped']})", "", "", ""]
            else:
                ratio = float(r["wall_s"]) / float(r["estimate_at_load_s"])
                worst.append(ratio)
                cells += [
                    _f(r["load"]),
                    _f(r["estimate_at_load_s"]),
                    _f(r["wall_s"]),
                    _f(r["cpu_s"]),
                    _f(ratio, ".2f"),
                    _f(float(r["cpu_s"]) / e, ".2f"),
                ]
            if condition == "loaded":
                worst.append(e / qe)
                cells.append(_f(e / qe, ".2f"))
            else:
                cells.append("")
            lines.append("| " + " | ".join(cells) + " |")
    outside = [w for w in worst if not 0.5 <= w <= 2.0]
    lines += [
        "",
        f"Ratios in bold: {len(worst)}, of which {len(outside)} outside [0.5, 2] "
        f"(range {min(worst, default=float('nan')):.2f}–{max(worst, default=float('nan')):.2f}).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-estimate", type=float, default=120.0)
    parser.add_argument("--load-procs", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=None, help="experiments to measure")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "estimates.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.only or sorted(REGISTRY)
    rows: dict[str, list[dict[str, object]]] = {}
    for condition, procs in (("quiet", 0), ("loaded", args.load_procs)):
        with background_load(procs):
            rows[condition] = []
            for name in names:
                row = measure(name, args.max_estimate)
                rows[condition].append(row)
                print(condition, row, flush=True)
    text = table(rows["quiet"], rows["loaded"], args.load_procs)
    Path(args.out).write_text(text)
    meta = {
        "machine": costs.machine_name(),
        "torch": torch.__version__,
        "date": str(datetime.date.today()),
        "load_procs": args.load_procs,
        **rows,
    }
    Path(args.out).with_suffix(".json").write_text(json.dumps(meta, indent=1))
    print(text)


if __name__ == "__main__":
    main()
