"""Speed benchmark of E4 (two-layer teacher–student): luckbook's batched trainer vs a naive
per-seed reference written the way the released code ran.

Setting: E4's largest cell — d = 100, m = 20, multi = 10 (n = 200), c = 50, batch 16,
lr 0.01, n_train = n_eval = 10 000, an evaluation every 1000 steps.

Measured, per dtype, in one process:

* ``peak``: dense ``torch.matmul`` of two ``N×N`` matrices (warmed up, best of several).
* ``loop``: luckbook's batched training loop alone — :func:`luckbook.train.train` on all seeds
  with FixedSet minibatches and no snapshots; seed-steps/s, GFLOP/s and fraction of ``peak``.
* ``eval``: one batched evaluation as E4 takes it (eval-set correlations, fan-out, train and
  eval losses, copied to the CPU).
* ``batched``: :func:`luckbook.experiments.two_layer.compute` end to end with one snapshot per
  1000 steps (plus the one at step 0); the rate counts training + evaluation, the one-off
  setup (teacher, data, teacher activations) is reported apart. ``compute`` evaluates each
  snapshot on a background thread while training goes on (its ``wall_time_s``, the time
  used here, runs until the last evaluation is done), so with ``--threads 1`` on a 2-core
  machine the wall-clock rate uses a second core for the evaluations; the CPU-time rate
  counts both threads.
* ``batched_inline``: the same, with every evaluation run in line on the training thread
  (the worker replaced by an in-line stand-in), as ``compute`` did before; measured in the
  same repeats, so the two compare under the same load. Both give the same result arrays
  (checked and reported).
* ``naive``: one seed at a time in a Python loop, plain 2-D torch matmuls, explicit backprop,
  SGD with minibatches drawn with replacement, and at step 0 and every 1000 steps the
  released code's evaluation: forward the student on the 10 000-sample train *and* eval sets,
  the teacher×student correlation matrix on both, both losses, fan-out norms, to the CPU.
  It uses the same teacher, data and minibatch indices as the batched run, so its final
  weights equal the batched run's for the same seed (float64: to rounding; float32: up to
  the odd ReLU gate flipped by rounding) — checked and reported.

FLOPs per seed-step (matmuls of forward + backward, B = batch):
``2·[2·B·(d+1)·n + 2·B·(n+1)·c] + 2·B·c·n`` ≈ 2.26 MFLOP here.

Usage::

    .venv/bin/python benchmarks/bench_two_layer.py                       # defaults, ~1.5 min quiet
    .venv/bin/python benchmarks/bench_two_layer.py --dtype float64 --steps 10000 --json out.json
    .venv/bin/python benchmarks/bench_two_layer.py --device cuda --seeds 256

This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import sys
import time
import unittest.mock
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from luckbook.config import resolve_device, resolve_dtype  # noqa: E402
from luckbook.experiments import two_layer  # noqa: E402
from luckbook.experiments.two_layer import TwoLayerSettings, build, compute  # noqa: E402
from luckbook.metrics import best_per_student, best_per_teacher  # noqa: E402
from luckbook.rng import generator  # noqa: E402
from luckbook.train import train  # noqa: E402

EVAL_EVERY = 1000
"""Steps per evaluation: the released code evaluated once per 1000-step epoch."""

RELEASED = {
    "end_to_end_seed_steps_per_s": 930.0,
    "loop_seed_steps_per_s": 4250.0,
    "fp64_peak_gflops": 79.0,
    "fp32_peak_gflops": 150.0,
    "end_to_end_fraction_of_fp64_peak": 0.03,
    "loop_fraction_of_fp64_peak": 0.13,
    "note": "released code ported off CUDA, timed on a 2-core CPU",
}


def flops_per_seed_step(d: int, n: int, c: int, batch: int) -> int:
    """Matmul FLOPs of one SGD step of one seed: forward, both weight gradients, backprop."""
    fwd1 = 2 * batch * (d + 1) * n
    fwd2 = 2 * batch * (n + 1) * c
    back = 2 * batch * c * n
    return 2 * (fwd1 + fwd2) + back


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def now(device: torch.device) -> float:
    sync(device)
    return time.perf_counter()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def cpu_pressure() -> str | None:
    """Linux PSI: share of time some runnable task waited for a CPU (avg10/avg60/avg300 %)."""
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None


# --------------------------------------------------------------------------- peak


def matmul_peak(
    size: int, dtype: torch.dtype, device: torch.device, repeats: int = 5
) -> dict[str, Any]:
    """Best-of-``repeats`` GFLOP/s of one ``size×size @ size×size`` matmul (after warm-up)."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=gen, dtype=dtype).to(device)
    b = torch.randn(size, size, generator=gen, dtype=dtype).to(device)
    out = torch.empty(size, size, dtype=dtype, device=device)
    for _ in range(2):
        torch.matmul(a, b, out=out)
    best = best_cpu = math.inf
    for _ in range(repeats):
        t0, c0 = now(device), time.process_time()
        torch.matmul(a, b, out=out)
        best = min(best, now(device) - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return {
        "size": size,
        "best_s": best,
        "gflops": 2 * size**3 / best / 1e9,
        "gflops_cpu": 2 * size**3 / best_cpu / 1e9,
    }


# --------------------------------------------------------------------------- batched


def matmul_ceiling(
    settings: TwoLayerSettings, n_seeds: int, dtype: torch.dtype, device: torch.device
) -> dict[str, float]:
    """The five batched matmuls of one SGD step alone (no gather, no elementwise work).

    This bounds what any batched trainer can reach on this machine for this shape.
    """
    gen = torch.Generator().manual_seed(0)
    s, b, d, n, c = n_seeds, settings.batch, settings.d, settings.n, settings.c

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=dtype).to(device)

    x, w1, gh = rand(s, b, d + 1), rand(s, d + 1, n), rand(s, b, n)
    h, w2, g = rand(s, b, n + 1), rand(s, n + 1, c), rand(s, b, c)

    def step() -> None:
        torch.bmm(x, w1)
        torch.bmm(h, w2)
        torch.bmm(g, w2[:, :-1].transpose(1, 2))
        w2.baddbmm_(h.transpose(1, 2), g, alpha=1e-30)
        w1.baddbmm_(x.transpose(1, 2), gh, alpha=1e-30)

    for _ in range(50):
        step()
    reps = 500
    t0, c0 = now(device), time.process_time()
    for _ in range(reps):
        step()
    seconds = (now(device) - t0) / reps
    cpu = (time.process_time() - c0) / reps
    fl = flops_per_seed_step(d, n, c, b)
    return {
        "seed_steps_per_s": s / seconds,
        "gflops": s * fl / seconds / 1e9,
        "seed_steps_per_s_cpu": s / cpu,
    }


def batched_loop(
    settings: TwoLayerSettings, seeds: list[int], device: torch.device, warmup: int
) -> dict[str, Any]:
    """luckbook's training loop alone: ``train`` with FixedSet minibatches, no snapshots."""
    _, student, train_set, _, _ = build(settings, seeds, device)
    warm = student.clone()
    train(warm, train_set, seeds, lr=settings.lr, steps=warmup, batch=settings.batch)
    del warm
    t0, c0 = now(device), time.process_time()
    train(student, train_set, seeds, lr=settings.lr, steps=settings.steps, batch=settings.batch)
    seconds, cpu = now(device) - t0, time.process_time() - c0
    return {
        "seconds": seconds,
        "seed_steps_per_s": len(seeds) * settings.steps / seconds,
        "seed_steps_per_s_cpu": len(seeds) * settings.steps / cpu,
    }


def batched_eval(
    settings: TwoLayerSettings, seeds: list[int], device: torch.device, repeats: int = 2
) -> dict[str, Any]:
    """One E4 evaluation, as ``compute``'s snapshot takes it: best of ``repeats``."""
    _, student, _, eval_probe, train_probe = build(settings, seeds, device)
    best = best_cpu = math.inf
    for _ in range(repeats + 1):  # the first one warms up
        t0, c0 = now(device), time.process_time()
        ev = eval_probe.evaluate(student)
        corr = ev["corr"][0]
        best_s, match_s = best_per_student(corr)
        rec = {
            "teacher_best": best_per_teacher(corr),
            "student_best": best_s,
            "student_match": match_s,
            "fanout": ev["fanout"][0],
            "eval_loss": ev["loss"],
            "train_loss": train_probe.loss(student),
            "corr": corr,
        }
        _ = {k: v.detach().cpu() for k, v in rec.items()}
        best = min(best, now(device) - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return {
        "seconds_per_eval": best,
        "seconds_per_eval_per_seed": best / len(seeds),
        "cpu_seconds_per_eval": best_cpu,
    }


class InlineWorker:
    """Stand-in for :class:`luckbook.evaluate.SnapshotWorker` that evaluates on the calling
    thread at once (``compute`` as it ran before snapshots moved to a background thread)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def submit(self, fn: Any, *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_result(fn(*args))
        return future

    def __enter__(self) -> InlineWorker:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


def batched_end_to_end(
    settings: TwoLayerSettings, seeds: list[int], device: torch.device, inline: bool = False
) -> dict[str, Any]:
    """``two_layer.compute`` as the experiment runs it (with ``inline``, evaluating every
    snapshot on the training thread); returns timings and the result.

    The CPU-time rate subtracts the CPU time of :func:`build` (the setup), timed apart."""
    c0 = time.process_time()
    build(settings, seeds, device)
    setup_cpu = time.process_time() - c0
    patch = (
        unittest.mock.patch.object(two_layer, "SnapshotWorker", InlineWorker)
        if inline
        else contextlib.nullcontext()
    )
    t0, c0 = now(device), time.process_time()
    with patch:
        result = compute(settings, seeds, device)
    total = now(device) - t0
    cpu = time.process_time() - c0 - setup_cpu
    loop = result.wall_time_s  # training + snapshots, measured inside luckbook.train.train
    return {
        "seconds_total": total,
        "seconds_train_and_eval": loop,
        "seconds_setup_and_final": total - loop,
        "n_evaluations": len(result.steps),
        "seed_steps_per_s": len(seeds) * settings.steps / loop,
        "seed_steps_per_s_incl_setup": len(seeds) * settings.steps / total,
        "seed_steps_per_s_cpu": len(seeds) * settings.steps / cpu,
        "_result": result,
    }


# --------------------------------------------------------------------------- naive


def _ones(rows: int, like: torch.Tensor) -> torch.Tensor:
    return torch.ones(rows, 1, dtype=like.dtype, device=like.device)


def naive_evaluate(
    w1: torch.Tensor,
    w2: torch.Tensor,
    sets: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
) -> dict[str, Any]:
    """The released code's per-epoch evaluation of one seed, on every set in ``sets``.

    ``sets``: ``(x1 [N, d+1], teacher hidden [N, m], teacher output [N, c])`` each; the
    teacher's activations are computed once up front (cheaper than recomputing them).
    """
    out: dict[str, Any] = {"fanout": w2[:-1].norm(dim=1).cpu()}
    for i, (x1, h_t, y_t) in enumerate(sets):
        z = x1 @ w1
        h_s = z.clamp_min(0)
        y_s = torch.cat([h_s, _ones(len(h_s), h_s)], 1) @ w2
        loss = 0.5 * (y_t - y_s).square().sum(1).mean()
        ct = h_t - h_t.mean(0)
        cs = h_s - h_s.mean(0)
        corr = (ct.T @ cs) / ((ct.norm(dim=0)[:, None] + 1e-10) * (cs.norm(dim=0)[None] + 1e-10))
        out[f"loss_{i}"] = float(loss)
        out[f"corr_{i}"] = corr.cpu()
        out[f"teacher_best_{i}"] = corr.amax(1).cpu()
        out[f"student_best_{i}"] = corr.amax(0).cpu()
    return out


def naive_seed(
    settings: TwoLayerSettings, seed: int, device: torch.device
) -> tuple[dict[str, float], list[torch.Tensor], list[dict[str, Any]]]:
    """Train and evaluate one seed the released code's way: timings, final weights, metrics."""
    t0 = now(device)
    teacher, student, train_set, eval_probe, _ = build(settings, [seed], device)
    w1 = student.weights[0][0].clone()  # [d + 1, n]
    w2 = student.weights[1][0].clone()  # [n + 1, c]
    x1, y = train_set.x1[0].contiguous(), train_set.y[0].contiguous()
    t_train = teacher.forward(x1)
    sets = [
        (x1, t_train.hidden[0][0], t_train.out[0]),
        (eval_probe.t.inputs[0][0], eval_probe.t.hidden[0][0], eval_probe.t.out[0]),
    ]
    gen = generator(seed, "batches")  # the same minibatch stream as luckbook's FixedSet
    n_train, batch, alpha = len(x1), settings.batch, settings.lr / settings.batch
    one = _ones(batch, w1)
    history = []
    setup = now(device) - t0

    t_eval = 0.0
    t0 = now(device)
    for step in range(settings.steps + 1):
        if step % EVAL_EVERY == 0 or step == settings.steps:
            te = now(device)
            history.append(naive_evaluate(w1, w2, sets))
            t_eval += now(device) - te
        if step == settings.steps:
            break
        idx = torch.randint(n_train, (batch,), generator=gen).to(device)
        xb, yb = x1[idx], y[idx]
        z = xb @ w1  # [B, n]
        h1 = torch.cat([z.clamp_min(0), one], 1)  # [B, n + 1]
        g = yb - h1 @ w2  # [B, c]: minus the gradient of ½‖y − ŷ‖² wrt ŷ
        loss = 0.5 * g.square().sum() / batch
        g_hidden = (g @ w2[:-1].T).mul_(z > 0)  # backprop through the old w2
        w2.addmm_(h1.T, g, alpha=alpha)
        w1.addmm_(xb.T, g_hidden, alpha=alpha)
        if step % 100 == 99 and not math.isfinite(float(loss)):
            raise FloatingPointError(f"naive reference diverged at step {step} (seed {seed})")
    total = now(device) - t0
    timing = {"setup": setup, "train_and_eval": total, "eval": t_eval, "n_eval": len(history)}
    return timing, [w1.cpu(), w2.cpu()], history


def naive(settings: TwoLayerSettings, seeds: list[int], device: torch.device) -> dict[str, Any]:
    times, finals, histories = [], [], []
    for seed in seeds:
        timing, weights, history = naive_seed(settings, seed, device)
        times.append(timing)
        finals.append(weights)
        histories.append(history)
    total = sum(t["train_and_eval"] for t in times)
    t_eval = sum(t["eval"] for t in times)
    n_eval = sum(t["n_eval"] for t in times)
    seed_steps = len(seeds) * settings.steps
    return {
        "seconds_train_and_eval": total,
        "seconds_setup": sum(t["setup"] for t in times),
        "seconds_eval": t_eval,
        "seconds_per_eval_per_seed": t_eval / n_eval,
        "seed_steps_per_s": seed_steps / total,
        "train_only_seed_steps_per_s": seed_steps / (total - t_eval),
        "_finals": finals,
        "_histories": histories,
    }


# --------------------------------------------------------------------------- driver


def _best(old: dict[str, Any] | None, new: dict[str, Any], key: str) -> dict[str, Any]:
    """The faster of two measurements of the same phase (``key``: a rate, higher is better)."""
    return new if old is None or new[key] > old[key] else old


def run_dtype(args: argparse.Namespace, dtype: str, device: torch.device) -> dict[str, Any]:
    torch_dtype = resolve_dtype(dtype)
    base = TwoLayerSettings(d=100, m=20, multi=10, c=50, p=1.0, lr=0.01, batch=16, dtype=dtype)
    settings = dataclasses.replace(
        base, steps=args.steps, n_snapshots=max(1, args.steps // EVAL_EVERY)
    )
    naive_settings = dataclasses.replace(
        base, steps=args.naive_steps, n_snapshots=max(1, args.naive_steps // EVAL_EVERY)
    )
    seeds = list(range(args.seeds))
    naive_seeds = list(range(args.naive_seeds))
    fl = flops_per_seed_step(settings.d, settings.n, settings.c, settings.batch)
    say = print if args.verbose else (lambda *a, **k: None)

    # Every phase is measured ``repeats`` times, the repeats interleaved so that a burst of
    # load from other processes hits one sample of a phase rather than all; best one kept.
    peak = ceiling = loop = ev = e2e = inl = ref = None
    for rep in range(args.repeats):
        tag = f"[{dtype} {rep + 1}/{args.repeats}]"
        say(f"{tag} matmul peak {args.peak_size}x{args.peak_size} ...", end=" ", flush=True)
        new = matmul_peak(args.peak_size, torch_dtype, device)
        peak = _best(peak, new, "gflops")
        say(f"{new['gflops']:.1f} GFLOP/s", flush=True)

        say(f"{tag} matmul ceiling (the step's five bmm alone) ...", end=" ", flush=True)
        new = matmul_ceiling(settings, len(seeds), torch_dtype, device)
        ceiling = _best(ceiling, new, "seed_steps_per_s")
        say(f"{new['seed_steps_per_s']:.0f} seed-steps/s", flush=True)

        say(
            f"{tag} batched training loop, {len(seeds)} seeds x {settings.steps} steps ...", end=" "
        )
        new = batched_loop(settings, seeds, device, args.warmup)
        loop = _best(loop, new, "seed_steps_per_s")
        say(f"{new['seed_steps_per_s']:.0f} seed-steps/s", flush=True)

        say(f"{tag} one batched evaluation ...", end=" ", flush=True)
        new = batched_eval(settings, seeds, device)
        new["rate"] = 1 / new["seconds_per_eval"]
        ev = _best(ev, new, "rate")
        say(f"{new['seconds_per_eval']:.3f} s", flush=True)

        say(f"{tag} batched end to end (two_layer.compute) ...", end=" ", flush=True)
        new = batched_end_to_end(settings, seeds, device)
        e2e = _best(e2e, new, "seed_steps_per_s")
        say(f"{new['seed_steps_per_s']:.0f} seed-steps/s", flush=True)

        say(f"{tag} batched end to end, evaluation in line ...", end=" ", flush=True)
        new = batched_end_to_end(settings, seeds, device, inline=True)
        inl = _best(inl, new, "seed_steps_per_s")
        say(f"{new['seed_steps_per_s']:.0f} seed-steps/s", flush=True)

        say(f"{tag} naive, {len(naive_seeds)} seeds x {naive_settings.steps} steps ...", end=" ")
        new = naive(naive_settings, naive_seeds, device)
        ref = _best(ref, new, "seed_steps_per_s")
        say(f"{new['seed_steps_per_s']:.0f} seed-steps/s", flush=True)
    assert peak and ceiling and loop and ev and e2e and inl and ref
    for part in (loop, e2e, inl):
        part["fraction_of_ceiling"] = part["seed_steps_per_s"] / ceiling["seed_steps_per_s"]
        part["fraction_of_ceiling_cpu"] = (
            part["seed_steps_per_s_cpu"] / ceiling["seed_steps_per_s_cpu"]
        )
    for part in (loop, e2e, inl, ref):
        part["gflops"] = part["seed_steps_per_s"] * fl / 1e9
        part["fraction_of_peak"] = part["gflops"] / peak["gflops"]

    # Same teacher, data and minibatch indices: the naive run must reproduce the batched one.
    # float64 agrees to rounding; in float32 rounding differences flip the odd ReLU gate of a
    # near-zero pre-activation, so the weights drift apart a little (the losses agree).
    result = e2e.pop("_result")
    result_inline = inl.pop("_result")
    same_as_inline = all(
        np.array_equal(getattr(result, f.name), getattr(result_inline, f.name))
        for f in dataclasses.fields(result)
        if isinstance(getattr(result, f.name), np.ndarray)
    )
    finals = ref.pop("_finals")
    histories = ref.pop("_histories")
    check: dict[str, Any] = {}
    common = min(len(naive_seeds), len(seeds))
    if naive_settings.steps == settings.steps and common:
        w_diff = 0.0
        for s in range(common):
            for l in range(2):
                w_b = torch.as_tensor(result.student[l][s], dtype=torch.float64)
                w_n = finals[s][l].double()
                w_diff = max(w_diff, float((w_b - w_n).abs().max() / w_b.abs().max()))
        loss_b = [float(result.eval_loss[-1, s]) for s in range(common)]
        loss_n = [histories[s][-1]["loss_1"] for s in range(common)]
        check = {
            "max_rel_weight_diff": w_diff,
            "max_rel_final_eval_loss_diff": max(
                abs(a - b) / abs(a) for a, b in zip(loss_b, loss_n, strict=True)
            ),
        }

    return {
        "dtype": dtype,
        "settings": dataclasses.asdict(settings),
        "flops_per_seed_step": fl,
        "repeats": args.repeats,
        "peak": peak,
        "matmul_ceiling": ceiling,
        "ceiling_vs_naive_end_to_end": ceiling["seed_steps_per_s"] / ref["seed_steps_per_s"],
        "loop": loop,
        "batched_eval": ev,
        "batched": e2e,
        "batched_inline": inl,
        "background_same_arrays_as_inline": same_as_inline,
        "naive": ref,
        "naive_seeds": len(naive_seeds),
        "naive_steps": naive_settings.steps,
        "speedup_end_to_end": e2e["seed_steps_per_s"] / ref["seed_steps_per_s"],
        "speedup_loop_vs_naive_train_only": loop["seed_steps_per_s"]
        / ref["train_only_seed_steps_per_s"],
        "speedup_end_to_end_vs_released_figure": e2e["seed_steps_per_s"]
        / RELEASED["end_to_end_seed_steps_per_s"],
        "naive_vs_batched_check": check,
    }


def table(report: dict[str, Any]) -> str:
    rows = [
        "| quantity | " + " | ".join(r["dtype"] for r in report["runs"]) + " |",
        "|---|" + "---:|" * len(report["runs"]),
    ]

    def row(name: str, fmt: str, get) -> None:
        vals = []
        for r in report["runs"]:
            v = get(r)
            vals.append("—" if v is None else format(v, fmt))
        rows.append(f"| {name} | " + " | ".join(vals) + " |")

    row("matmul peak, GFLOP/s", ".1f", lambda r: r["peak"]["gflops"])
    row(
        "matmul ceiling (five bmm alone), seed-steps/s",
        ",.0f",
        lambda r: r["matmul_ceiling"]["seed_steps_per_s"],
    )
    row("matmul ceiling / naive end to end", ".1f", lambda r: r["ceiling_vs_naive_end_to_end"])
    row("batched training loop, seed-steps/s", ",.0f", lambda r: r["loop"]["seed_steps_per_s"])
    row("batched training loop, GFLOP/s", ".1f", lambda r: r["loop"]["gflops"])
    row("batched training loop, % of peak", ".1%", lambda r: r["loop"]["fraction_of_peak"])
    row("batched eval, s per evaluation (all seeds)", ".3f",
        lambda r: r["batched_eval"]["seconds_per_eval"])  # fmt: skip
    row("batched end to end, seed-steps/s", ",.0f", lambda r: r["batched"]["seed_steps_per_s"])
    row(
        "batched end to end, GFLOP/s (training FLOPs only)", ".1f", lambda r: r["batched"]["gflops"]
    )
    row("batched end to end, % of peak", ".1%", lambda r: r["batched"]["fraction_of_peak"])
    row("**batched end to end / matmul ceiling** (wall)", ".1%",
        lambda r: r["batched"]["fraction_of_ceiling"])  # fmt: skip
    row("batched end to end / matmul ceiling (CPU time)", ".1%",
        lambda r: r["batched"]["fraction_of_ceiling_cpu"])  # fmt: skip
    row("batched end to end, evaluation in line / matmul ceiling (wall)", ".1%",
        lambda r: r["batched_inline"]["fraction_of_ceiling"])  # fmt: skip
    row("batched end to end, evaluation in line / matmul ceiling (CPU time)", ".1%",
        lambda r: r["batched_inline"]["fraction_of_ceiling_cpu"])  # fmt: skip
    row("background / in-line evaluation, same result arrays", "",
        lambda r: str(r["background_same_arrays_as_inline"]))  # fmt: skip
    row("batched training loop / matmul ceiling (wall)", ".1%",
        lambda r: r["loop"]["fraction_of_ceiling"])  # fmt: skip
    row("batched training loop / matmul ceiling (CPU time)", ".1%",
        lambda r: r["loop"]["fraction_of_ceiling_cpu"])  # fmt: skip
    row("batched eval, CPU s per evaluation (all seeds)", ".3f",
        lambda r: r["batched_eval"]["cpu_seconds_per_eval"])  # fmt: skip
    row("matmul peak, GFLOP/s per CPU second", ".1f", lambda r: r["peak"]["gflops_cpu"])
    row("batched setup (build + final metrics), s", ".2f",
        lambda r: r["batched"]["seconds_setup_and_final"])  # fmt: skip
    row("naive end to end, seed-steps/s", ",.0f", lambda r: r["naive"]["seed_steps_per_s"])
    row("naive training only, seed-steps/s", ",.0f",
        lambda r: r["naive"]["train_only_seed_steps_per_s"])  # fmt: skip
    row("naive eval, s per evaluation per seed", ".3f",
        lambda r: r["naive"]["seconds_per_eval_per_seed"])  # fmt: skip
    row("naive end to end, % of peak", ".1%", lambda r: r["naive"]["fraction_of_peak"])
    row("**speed-up end to end (batched / naive)**", ".1f", lambda r: r["speedup_end_to_end"])
    row("speed-up training loop (batched / naive train only)", ".1f",
        lambda r: r["speedup_loop_vs_naive_train_only"])  # fmt: skip
    row("batched end to end / released code's 930", ".1f",
        lambda r: r["speedup_end_to_end_vs_released_figure"])  # fmt: skip
    row("check: max rel. weight diff, naive vs batched (same seeds)", ".1e",
        lambda r: r["naive_vs_batched_check"].get("max_rel_weight_diff"))  # fmt: skip
    row("check: max rel. diff of final eval loss", ".1e",
        lambda r: r["naive_vs_batched_check"].get("max_rel_final_eval_loss_diff"))  # fmt: skip
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5000, help="SGD steps of the batched runs")
    parser.add_argument("--seeds", type=int, default=32, help="seeds of the batched runs")
    parser.add_argument("--naive-seeds", type=int, default=4, help="seeds of the naive run")
    parser.add_argument(
        "--naive-steps", type=int, default=None, help="steps of the naive run (default: --steps)"
    )
    parser.add_argument("--dtype", choices=("float64", "float32", "both"), default="both")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--peak-size", type=int, default=4096, help="matmul size for the peak")
    parser.add_argument("--warmup", type=int, default=300, help="warm-up steps before the loop")
    parser.add_argument(
        "--repeats", type=int, default=1, help="measure every phase this often, keep the best"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--quiet", dest="verbose", action="store_false", help="table only")
    args = parser.parse_args(argv)
    if args.naive_steps is None:
        args.naive_steps = args.steps
    for name in ("steps", "seeds", "naive_seeds", "naive_steps", "peak_size", "warmup", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    device = resolve_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dtypes = ["float64", "float32"] if args.dtype == "both" else [args.dtype]

    report: dict[str, Any] = {
        "benchmark": "two-layer (E4 largest cell: d=100, m=20, multi=10, c=50, batch 16)",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_before": load(),
        "cpu_pressure_before": cpu_pressure(),
        "released_code": RELEASED,
        "runs": [],
    }
    start = time.perf_counter()
    for dtype in dtypes:
        report["runs"].append(run_dtype(args, dtype, device))
    report["seconds"] = time.perf_counter() - start
    report["load_after"] = load()
    report["cpu_pressure_after"] = cpu_pressure()

    print()
    print(
        f"{report['device_name']} ({report['device']}), torch {report['torch']}, "
        f"{report['torch_threads']} threads; load average {report['load_before']} -> "
        f"{report['load_after']}"
    )
    print(f"CPU pressure before: {report['cpu_pressure_before']}")
    print(f"CPU pressure after:  {report['cpu_pressure_after']}")
    print(
        f"batched: {args.seeds} seeds x {args.steps} steps; naive: {args.naive_seeds} seeds x "
        f"{args.naive_steps} steps; evaluation every {EVAL_EVERY} steps; "
        f"{report['runs'][0]['flops_per_seed_step'] / 1e6:.3f} MFLOP per seed-step; "
        f"{report['seconds']:.0f} s in all"
    )
    print()
    print(table(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return report


if __name__ == "__main__":
    main()
