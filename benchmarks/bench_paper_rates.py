"""Paper-preset rates of E6 (deep-specialization) and the E4 sweep, as fractions of the matmul peak.

Neither run fits a benchmark (hours on 2 cores), so each is measured on its real shapes for a
few hundred steps and one evaluation, then extrapolated to the preset's step and snapshot
counts:

* ``peak``: one ``N×N @ N×N`` ``torch.matmul`` in float64 and float32, best of 3 (wall and
  CPU time).
* ``sweep``: per ``(m, multi)`` program of ``two-layer-sweep`` at ``paper`` scale
  (192 networks), :func:`~luckbook.experiments.two_layer_sweep.build_group` then
  :func:`~luckbook.train.train` for ``--steps`` steps (the per-chunk minibatch-index draw is
  timed apart and amortised over its 8 192 steps, as in the real run) and one evaluation
  (``Probe.evaluate`` on the eval set, as every snapshot takes it).
* ``e6``: the ``paper`` preset's student (4 seeds, float32), ``--steps`` SGD steps, and one
  snapshot's evaluation (correlations, live flags and the eval loss on 10 240 inputs; β on
  ``--beta-inputs`` inputs, scaled to ``n_beta``).

Rates are reported per wall second and per CPU second (``time.process_time``: all threads of
this process), so that a run on a loaded machine can still be read; the fraction of peak
compares each with the peak measured the same way in the same run.

Usage::

    .venv/bin/python benchmarks/bench_paper_rates.py --threads 1 --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_two_layer import cpu_model  # noqa: E402  one copy

from luckbook.config import resolve_dtype  # noqa: E402
from luckbook.data import CHUNK_VALUES, gaussian  # noqa: E402
from luckbook.experiments import deep_specialization as e6  # noqa: E402
from luckbook.experiments import two_layer_sweep as sweep  # noqa: E402
from luckbook.student import make_student  # noqa: E402
from luckbook.train import sgd_step, train  # noqa: E402


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0


def peak(dtype: torch.dtype, size: int) -> dict[str, float]:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen, dtype=dtype)
    b = torch.randn(size, size, generator=gen, dtype=dtype)
    out = torch.empty(size, size, dtype=dtype)
    torch.matmul(a, b, out=out)
    wall = cpu = float("inf")
    for _ in range(3):
        with Clock() as c:
            torch.matmul(a, b, out=out)
        wall, cpu = min(wall, c.wall), min(cpu, c.cpu)
    fl = 2 * size**3
    return {"gflops_wall": fl / wall / 1e9, "gflops_cpu": fl / cpu / 1e9}


def two_layer_flops(d: int, n: int, c: int, batch: int) -> int:
    return 2 * (2 * batch * (d + 1) * n + 2 * batch * (n + 1) * c) + 2 * batch * c * n


def bench_sweep(args: argparse.Namespace) -> dict[str, Any]:
    settings = sweep.TwoLayerSweepSettings()  # paper
    seeds = list(range(sweep.SEEDS["paper"]))
    n_p = len(settings.ps)
    data = sweep.sweep_data(settings, seeds)
    n_snap = len(sweep.snapshot_steps(settings.steps, settings.n_snapshots, settings.spacing))
    chunk = max(1, CHUNK_VALUES // settings.batch)
    programs = []
    for m in settings.ms:
        for multi in settings.multis:
            if args.programs and f"{m}x{multi}" not in args.programs:
                continue
            _, student, train_set, probe = sweep.build_group(
                settings, m, multi, seeds, torch.device("cpu"), data
            )
            order = seeds * n_p
            if args.trainer == "train":  # one batched program (the sweep before 2026-12-07)
                train(student, train_set, order, lr=settings.lr, steps=20, batch=settings.batch)
                with Clock() as draw:  # the first chunk's index draw and one gather
                    next(iter(train_set.batches(order, 1, settings.batch)))
                with Clock() as loop:
                    train(
                        student, train_set, order, lr=settings.lr, steps=args.steps,
                        batch=settings.batch,
                    )  # fmt: skip
            else:  # what the sweep runs on a CPU: cache-blocked, one worker per torch thread
                draw, loop = _time_blocked(student, train_set, order, settings, args.steps)
            with Clock() as ev:
                probe.evaluate(student)
            n = m * multi
            per_step = {
                k: (getattr(loop, k) - getattr(draw, k)) / args.steps + getattr(draw, k) / chunk
                for k in ("wall", "cpu")
            }
            train_fl = len(order) * two_layer_flops(settings.d, n, settings.c, settings.batch)
            eval_fl = (
                len(order)
                * settings.n_eval
                * (2 * (settings.d + 1) * n + 2 * (n + 1) * settings.c + 2 * m * n)
            )
            # the training-set correlations at step 0 and at the end: two more evaluations
            n_evals = n_snap + 2 * settings.n_train / settings.n_eval
            prog: dict[str, Any] = {"m": m, "multi": multi, "networks": len(order)}
            for k in ("wall", "cpu"):
                t_train = settings.steps * per_step[k]
                t_eval = n_evals * getattr(ev, k)
                prog[f"step_ms_{k}"] = per_step[k] * 1e3
                prog[f"eval_s_{k}"] = getattr(ev, k)
                prog[f"program_s_{k}"] = t_train + t_eval
                prog[f"train_share_{k}"] = t_train / (t_train + t_eval)
            prog["flops"] = settings.steps * train_fl + n_evals * eval_fl
            programs.append(prog)
            print(
                f"sweep m={m} multi={multi}: {prog['step_ms_wall']:.2f} ms/step wall, "
                f"{prog['step_ms_cpu']:.2f} cpu; eval {prog['eval_s_wall']:.2f} s wall, "
                f"{prog['eval_s_cpu']:.2f} cpu; program {prog['program_s_wall']:.0f} s wall",
                flush=True,
            )
            del student, train_set, probe
    out: dict[str, Any] = {"programs": programs}
    for k in ("wall", "cpu"):
        total = sum(p[f"program_s_{k}"] for p in programs)
        out[f"hours_{k}"] = total / 3600
        out[f"gflops_{k}"] = sum(p["flops"] for p in programs) / total / 1e9
    return out


def _time_blocked(
    student: Any, train_set: Any, order: list[int], settings: Any, steps: int
) -> tuple[Clock, Clock]:
    """(the first chunk's index draw, ``steps`` steps after it) of the sweep's CPU trainer
    (``two_layer_sweep._train_program``: :func:`~luckbook.batched_sgd.train_blocked`),
    read at a snapshot after 20 steps (a run's first steps pay its chunk's index draw)."""
    marks: list[tuple[float, float]] = []

    def mark(step: int, net: Any) -> None:
        marks.append((time.perf_counter(), time.process_time()))

    run = dataclasses.replace(settings, steps=20 + steps)
    sweep._train_program(student, train_set, order, run, snapshots=[0, 20], on_snapshot=mark)
    end = (time.perf_counter(), time.process_time())
    draw, loop = Clock(), Clock()
    loop.wall, loop.cpu = end[0] - marks[1][0], end[1] - marks[1][1]
    first = (marks[1][0] - marks[0][0], marks[1][1] - marks[0][1])
    draw.wall = max(0.0, first[0] - 20 * loop.wall / steps)
    draw.cpu = max(0.0, first[1] - 20 * loop.cpu / steps)
    return draw, loop


def bench_e6(args: argparse.Namespace) -> dict[str, Any]:
    settings = e6.DeepSpecializationSettings()  # paper
    seeds = list(range(e6.SEEDS["paper"]))
    dtype = resolve_dtype(settings.dtype)
    x_eval = gaussian(
        settings.n_eval, settings.d, seeds, data_std=settings.data_std, stream="eval_data"
    )
    teacher = e6.build_teacher(settings, seeds, x_eval).to("cpu", dtype)
    student = make_student(teacher, settings.multi, seeds, init="torch_default")
    x_train = gaussian(args.steps * settings.batch, settings.d, seeds, data_std=settings.data_std)
    train_set = e6.FixedSet(x_train.to(dtype), teacher(x_train.to(dtype)))
    probe = e6.Probe(teacher, x_eval)
    scale = 2.0 / settings.d_output

    def step_fn(net: Any, x1: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        return sgd_step(net, x1, y, lr * scale)

    train(student, train_set, seeds, lr=settings.lr, steps=5, batch=settings.batch, step_fn=step_fn)
    with Clock() as loop:
        train(
            student, train_set, seeds, lr=settings.lr, steps=args.steps, batch=settings.batch,
            step_fn=step_fn,
        )  # fmt: skip
    has_live = "live" in inspect.signature(probe.evaluate).parameters
    with Clock() as ev:  # as a snapshot takes it
        if has_live:
            probe.evaluate(student, live=True)
        else:
            probe.evaluate(student)
            student.forward(probe.x)
    k_beta = min(args.beta_inputs, settings.n_beta)
    with Clock() as beta:
        e6.mean_beta(student, probe.x[:, :k_beta])
    w = settings.student_widths
    per_sample = sum(2 * (a + 1) * b for a, b in zip(w[:-1], w[1:], strict=True))
    hidden = w[1:-1]
    beta_fl = (
        2
        * settings.d_output
        * sum((a + 1) * (b + 1) for a, b in zip(hidden[:-1], hidden[1:], strict=True))
    )
    n_snap = len(e6.snapshot_schedule(settings))
    s = len(seeds)
    train_fl = 3 * per_sample * settings.batch * settings.steps * s
    eval_fl = n_snap * s * (settings.n_eval * per_sample + settings.n_beta * beta_fl)
    out: dict[str, Any] = {
        "steps": settings.steps,
        "snapshots": n_snap,
        "train_tflop": train_fl / 1e12,
        "eval_tflop": eval_fl / 1e12,
    }
    for k in ("wall", "cpu"):
        step = getattr(loop, k) / args.steps
        snap = getattr(ev, k) + getattr(beta, k) * settings.n_beta / k_beta
        total = settings.steps * step + n_snap * snap
        out[f"step_ms_{k}"] = step * 1e3
        out[f"step_gflops_{k}"] = 3 * per_sample * settings.batch * s / step / 1e9
        out[f"snapshot_s_{k}"] = snap
        out[f"hours_{k}"] = total / 3600
        out[f"gflops_{k}"] = (train_fl + eval_fl) / total / 1e9
    print(
        f"e6: {out['step_ms_wall']:.1f} ms/step wall ({out['step_ms_cpu']:.1f} cpu), snapshot "
        f"{out['snapshot_s_wall']:.1f} s wall; preset {out['hours_wall']:.2f} h wall, "
        f"{out['hours_cpu']:.2f} h cpu",
        flush=True,
    )
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="SGD steps timed per program")
    parser.add_argument("--beta-inputs", type=int, default=64, help="β inputs timed (E6)")
    parser.add_argument("--which", default="e6,sweep", help="comma list: e6, sweep")
    parser.add_argument("--programs", default="", help="sweep programs, e.g. 5x1,20x10")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument(
        "--trainer",
        choices=("both", "blocked", "train"),
        default="both",
        help="the sweep's trainer: blocked (what it runs on a CPU), train (the one batched "
        "program it ran before 2026-12-07, reported as sweep_before) or both, one after the other",
    )
    parser.add_argument("--peak-size", type=int, default=2048)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.beta_inputs < 1:
        parser.error("--steps and --beta-inputs must be >= 1")
    args.programs = [p for p in args.programs.split(",") if p]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    report: dict[str, Any] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_before": [round(v, 2) for v in os.getloadavg()],
        "steps_timed": args.steps,
    }
    report["peak"] = {
        "float64": peak(torch.float64, args.peak_size),
        "float32": peak(torch.float32, args.peak_size),
    }
    print(f"peak: {report['peak']}", flush=True)
    which = set(args.which.split(","))
    if "sweep" in which:
        for trainer, key in (("train", "sweep_before"), ("blocked", "sweep")):
            if args.trainer in (trainer, "both"):
                report[key] = bench_sweep(argparse.Namespace(**{**vars(args), "trainer": trainer}))
    if "e6" in which:
        report["e6"] = bench_e6(args)
    report["load_after"] = [round(v, 2) for v in os.getloadavg()]
    p64 = report["peak"]["float64"]
    for name in ("sweep_before", "sweep", "e6"):
        if name in report:
            r = report[name]
            for k in ("wall", "cpu"):
                r[f"fraction_of_fp64_peak_{k}"] = r[f"gflops_{k}"] / p64[f"gflops_{k}"]
            print(
                f"{name}: {r['hours_wall']:.2f} h extrapolated (wall), {r['hours_cpu']:.2f} h "
                f"(cpu); {r['fraction_of_fp64_peak_wall']:.1%} of the fp64 peak (wall), "
                f"{r['fraction_of_fp64_peak_cpu']:.1%} (cpu)"
            )
    print(f"load average {report['load_before']} -> {report['load_after']}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
