"""GPU check: run every experiment on CUDA against the CPU, benchmark the batched trainer,
and time the E4 paper sweep.

Parts, in order of importance (each is time-boxed; the report is rewritten after every step,
so a run stopped by a timeout still leaves what finished):

1. ``agreement``: every registered experiment at ``tiny`` scale with ``--seeds`` seeds, on the
   CPU and on ``--device``, in float64 and float32. Every numeric field of the two results
   (recursively: dataclass fields, dicts, lists, NumPy arrays, tensors; timings and the
   device name left out) is compared: max absolute difference of the float fields, and the
   number of integer/bool entries that differ. float64 must agree to ``F64_TOL``; float32 is
   reported against ``F32_TOL`` (rounding can flip the odd ReLU gate, see README.md).
2. ``bench``: ``benchmarks/bench_two_layer.py --device DEVICE`` in a subprocess (its JSON is
   kept), both dtypes.
3. ``sweep``: ``two-layer-sweep`` at ``paper`` scale, one ``(m, multi)`` program at a time
   (the same code path as ``lb.run``; the inputs, which depend on the seeds alone, are drawn
   once). A short calibration of the largest program predicts each program's time; programs
   are started only while they fit before ``--deadline``, and the rest is extrapolated.
   When every program finished, the result is merged and the chapter's claims are printed.
4. ``graph`` (CUDA only): the sweep's largest program's SGD step, eager vs captured in a
   ``torch.cuda.CUDAGraph`` (same minibatch indices): speed and weight difference.

Usage::

    .venv/bin/python benchmarks/gpu_check.py --device cpu --quick     # code paths, ~1 min
    python benchmarks/gpu_check.py --device cuda --out $OUT            # on a GPU machine, ~7 min
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import luckbook as lb  # noqa: E402
from luckbook import costs  # noqa: E402
from luckbook.experiments import two_layer_sweep as sw  # noqa: E402
from luckbook.results.two_layer_sweep import TwoLayerSweepResult  # noqa: E402
from luckbook.train import sgd_step, train  # noqa: E402

F64_TOL = 1e-10
"""float64: max absolute difference allowed between the CPU and the device result."""
F32_TOL = 1e-2
"""float32: max absolute difference reported as agreement (rounding flips the odd ReLU gate)."""
SKIP_FIELDS = ("time", "device", "settings")
"""Fields whose name contains one of these are not compared (timings, device name)."""
QUICK = {
    "deep-specialization": {"epochs": 4, "lr_drop_epoch": 2, "snapshot_every": 2},
    "fanout": {"steps": 600, "retrain_steps": 150},
    "directional": {"max_steps": 2000},
}
"""``--quick``: overrides that shorten the slowest tiny runs (the code paths stay the same)."""


# --------------------------------------------------------------------------- helpers


_ABS = re.compile(r"(?<![\w.])/(?:[\w.+-]+/)+")


def no_paths(obj: Any) -> Any:
    """``obj`` with every absolute path cut to what lies inside the repository (or to its file
    name): recorded results carry no machine paths."""
    if isinstance(obj, str):
        return _ABS.sub("", obj.replace(str(ROOT) + "/", ""))
    if isinstance(obj, dict):
        return {k: no_paths(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [no_paths(v) for v in obj]
    return obj


class Report:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = no_paths(json.loads(json.dumps(self.data, default=_jsonable)))
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        tmp.replace(self.path)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def now(device: torch.device) -> float:
    sync(device)
    return time.perf_counter()


def leaves(obj: Any, path: str = "") -> dict[str, np.ndarray]:
    """Every numeric leaf of a result, by path, as a NumPy array (CPU)."""
    out: dict[str, np.ndarray] = {}

    def walk(o: Any, p: str) -> None:
        name = p.rsplit(".", 1)[-1].lower()
        if any(s in name for s in SKIP_FIELDS):
            return
        if isinstance(o, torch.Tensor):
            if o.device.type != "cpu":
                out[p + "#ON_DEVICE"] = np.asarray(1)
            out[p] = o.detach().cpu().numpy()
        elif isinstance(o, np.ndarray):
            if o.dtype == object:
                for i, v in enumerate(o.ravel()):
                    walk(v, f"{p}[{i}]")
            else:
                out[p] = o
        elif isinstance(o, (bool, int, float, np.number, np.bool_)):
            out[p] = np.asarray(o)
        elif isinstance(o, (str, bytes, type(None), torch.device, torch.dtype)):
            return
        elif dataclasses.is_dataclass(o):
            for f in dataclasses.fields(o):
                walk(getattr(o, f.name), f"{p}.{f.name}")
        elif isinstance(o, dict):
            for k, v in o.items():
                walk(v, f"{p}[{k!r}]")
        elif isinstance(o, (list, tuple)):
            if o and all(isinstance(v, (bool, int, float, np.number)) for v in o):
                out[p] = np.asarray(o)
            else:
                for i, v in enumerate(o):
                    walk(v, f"{p}[{i}]")
        elif hasattr(o, "__dict__"):
            for k, v in vars(o).items():
                walk(v, f"{p}.{k}")

    walk(obj, path)
    return out


def compare(ref: Any, other: Any) -> dict[str, Any]:
    """Max absolute (and |Δ|/max(1, |ref|)) difference of the float leaves; integer mismatches."""
    a, b = leaves(ref), leaves(other)
    res: dict[str, Any] = {
        "fields": len(a),
        "values": 0,
        "max_abs": 0.0,
        "max_abs_field": None,
        "max_scaled": 0.0,
        "int_mismatches": 0,
        "int_mismatch_fields": [],
        "nan_mismatches": 0,
        "problems": [],
    }
    for key in sorted(set(a) | set(b)):
        if key.endswith("#ON_DEVICE"):
            res["problems"].append(f"{key[:-10]}: tensor left on the device")
            continue
        if key not in a or key not in b:
            res["problems"].append(f"{key}: only in {'cpu' if key in a else 'device'} result")
            continue
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.shape != y.shape:
            res["problems"].append(f"{key}: shape {x.shape} vs {y.shape}")
            continue
        res["values"] += x.size
        if x.size == 0:
            continue
        if np.issubdtype(x.dtype, np.floating) or np.issubdtype(y.dtype, np.floating):
            x64, y64 = x.astype(np.float64), y.astype(np.float64)
            nx, ny = np.isnan(x64), np.isnan(y64)
            res["nan_mismatches"] += int((nx ^ ny).sum())
            with np.errstate(invalid="ignore"):
                diff = np.where((x64 == y64) | (nx & ny) | (nx ^ ny), 0.0, np.abs(x64 - y64))
            diff = np.nan_to_num(diff, nan=np.inf)
            worst = float(diff.max())
            if worst > res["max_abs"]:
                res["max_abs"], res["max_abs_field"] = worst, key
            scale = np.maximum(1.0, np.nan_to_num(np.abs(x64), nan=1.0, posinf=1.0))
            res["max_scaled"] = max(res["max_scaled"], float((diff / scale).max()))
        else:
            bad = int((x != y).sum())
            if bad:
                res["int_mismatches"] += bad
                res["int_mismatch_fields"].append(key)
    res["int_mismatch_fields"] = res["int_mismatch_fields"][:8]
    return res


def timed_run(name: str, device: str, dtype: str, seeds: int, quick: bool) -> tuple[Any, float]:
    over = dict(QUICK.get(name, {})) if quick else {}
    dev = torch.device(device)
    t0 = now(dev)
    result = lb.run(
        name, scale="tiny", seeds=seeds, device=device, cache=False, dtype=dtype, **over
    )
    return result, now(dev) - t0


def left(start: float, deadline: float) -> float:
    return deadline - (time.perf_counter() - start)


# --------------------------------------------------------------------------- part 1


def part_agreement(args: argparse.Namespace, rep: Report, start: float) -> None:
    rows: list[dict[str, Any]] = []
    rep.data["agreement"] = {
        "scale": "tiny",
        "seeds": args.seeds,
        "f64_tol": F64_TOL,
        "f32_tol": F32_TOL,
        "rows": rows,
    }
    # Warm up CUDA (context, cuBLAS handles) so the first experiment's time is fair.
    dev = torch.device(args.device)
    if dev.type == "cuda":
        t0 = time.perf_counter()
        a = torch.randn(64, 64, 64, device=dev, dtype=torch.float64)
        torch.bmm(a, a).sum().item()
        torch.bmm(a.float(), a.float()).sum().item()
        rep.data["agreement"]["cuda_warmup_s"] = time.perf_counter() - t0
    names = sorted(lb.REGISTRY) if not args.only else args.only
    for name in names:
        for dtype in ("float64", "float32"):
            if left(start, args.part1_deadline) < 0:
                rows.append({"experiment": name, "dtype": dtype, "skipped": "time box"})
                continue
            row: dict[str, Any] = {"experiment": name, "dtype": dtype}
            rows.append(row)
            try:
                ref, row["cpu_s"] = timed_run(name, "cpu", dtype, args.seeds, args.quick)
            except Exception as err:  # noqa: BLE001
                row["error_cpu"] = f"{type(err).__name__}: {err}"
                print(traceback.format_exc(), flush=True)
                rep.save()
                continue
            try:
                got, row["device_s"] = timed_run(name, args.device, dtype, args.seeds, args.quick)
            except Exception as err:  # noqa: BLE001
                row["error_device"] = f"{type(err).__name__}: {err}"
                row["traceback"] = traceback.format_exc()[-3000:]
                print(row["traceback"], flush=True)
                rep.save()
                continue
            cmp = compare(ref, got)
            row.update(cmp)
            tol = F64_TOL if dtype == "float64" else F32_TOL
            exact = dtype == "float64"
            row["ok"] = (
                cmp["max_abs"] <= tol
                and not cmp["problems"]
                and cmp["nan_mismatches"] == 0
                and (cmp["int_mismatches"] == 0 or not exact)
            )
            print(
                f"[1] {name:<20} {dtype}: max|Δ| {cmp['max_abs']:.2e} "
                f"(scaled {cmp['max_scaled']:.2e}, at {cmp['max_abs_field']}), "
                f"int mismatches {cmp['int_mismatches']}, nan mismatches {cmp['nan_mismatches']}, "
                f"problems {cmp['problems'][:3]}; cpu {row['cpu_s']:.2f} s, "
                f"{args.device} {row['device_s']:.2f} s -> {'OK' if row['ok'] else 'FAIL'}",
                flush=True,
            )
            rep.save()


# --------------------------------------------------------------------------- part 2


def part_bench(args: argparse.Namespace, rep: Report, start: float) -> None:
    budget = min(args.bench_timeout, left(start, args.deadline) - 60)
    if budget < 20:
        rep.data["bench"] = {"skipped": f"time box ({budget:.0f} s left for it)"}
        rep.save()
        return
    out = Path(args.out) / "bench_two_layer.json"
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "bench_two_layer.py"),
        "--device",
        args.device,
        "--json",
        str(out),
        *args.bench_args.split(),
    ]
    print("[2]", no_paths(" ".join(cmd)), flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget)
        print(proc.stdout[-6000:], proc.stderr[-3000:], flush=True)
        status = f"exit {proc.returncode}"
    except subprocess.TimeoutExpired as err:
        tail = err.stdout or b""
        print((tail.decode() if isinstance(tail, bytes) else tail)[-6000:], flush=True)
        status = f"timed out after {budget:.0f} s"
    entry: dict[str, Any] = {"command": cmd, "status": status, "s": time.perf_counter() - t0}
    if out.exists():
        bench = json.loads(out.read_text())
        entry["runs"] = [
            {
                k: r.get(k)
                for k in ("dtype", "peak", "loop", "eval", "batched", "naive", "check", "ceiling")
                if k in r
            }
            for r in bench.get("runs", [])
        ]
    rep.data["bench"] = entry
    rep.save()


# --------------------------------------------------------------------------- part 3


def sweep_settings(args: argparse.Namespace) -> Any:
    exp = lb.get_experiment("two-layer-sweep")
    if args.quick:
        return exp.settings(
            "tiny", ms=(5, 10), multis=(1, 5), steps=600, n_snapshots=6, n_train=500, n_eval=500
        )
    return exp.settings("paper")


def calibrate(settings: Any, seeds: list[int], dev: torch.device, data: Any, steps: int) -> dict:
    """Seconds per training step and per evaluation of the largest program."""
    m, multi = max(settings.ms), max(settings.multis)
    _, student, train_set, probe = sw.build_group(settings, m, multi, seeds, dev, data)
    ens = list(seeds) * len(settings.ps)
    train(student, train_set, ens, lr=settings.lr, steps=200, batch=settings.batch)
    t0 = now(dev)
    train(student, train_set, ens, lr=settings.lr, steps=steps, batch=settings.batch)
    step_s = (now(dev) - t0) / steps
    probe.evaluate(student)
    t0 = now(dev)
    for _ in range(3):
        ev = probe.evaluate(student)
        {k: v.cpu() for k, v in (("c", ev["corr"][0]), ("f", ev["fanout"][0]))}
    eval_s = (now(dev) - t0) / 3
    n_eval = len(lb.snapshot_steps(settings.steps, settings.n_snapshots, settings.spacing))
    per_group = settings.steps * step_s + n_eval * eval_s
    return {
        "program": [m, multi],
        "networks": student.n_seeds,
        "steps_timed": steps,
        "step_s": step_s,
        "eval_s": eval_s,
        "predicted_program_s": per_group,
        "predicted_sweep_s": per_group * len(settings.ms) * len(settings.multis),
    }


def part_sweep(args: argparse.Namespace, rep: Report, start: float) -> None:
    dev = torch.device(args.device)
    settings = sweep_settings(args)
    seeds = list(
        range(args.sweep_seeds or lb.get_experiment("two-layer-sweep").default_seeds["paper"])
    )
    if args.quick:
        seeds = seeds[:4]
    entry: dict[str, Any] = {
        "settings": dataclasses.asdict(settings),
        "seeds": len(seeds),
        "cpu_estimate": costs.two_layer_sweep(settings, len(seeds), torch.device("cpu")).describe(),
        "groups": {},
    }
    rep.data["sweep"] = entry
    t0 = time.perf_counter()
    data = sw.sweep_data(settings, seeds)
    entry["data_s"] = time.perf_counter() - t0
    original = sw.sweep_data
    sw.sweep_data = lambda s, sd: data  # the inputs depend on the seeds only: draw them once
    try:
        cal = calibrate(settings, seeds, dev, data, args.calib_steps)
        entry["calibration"] = cal
        print(f"[3] calibration: {cal}", flush=True)
        rep.save()
        order = sorted(
            [(m, k) for m in settings.ms for k in settings.multis],
            key=lambda g: (g[0] != 10, g[0], g[1]),  # m = 10 first: the claims use it
        )
        results: dict[tuple[int, int], Any] = {}
        predicted = cal["predicted_program_s"]
        for m, multi in order:
            margin = left(start, args.deadline) - args.graph_reserve
            if predicted * 1.15 > margin:
                print(
                    f"[3] skip m={m} multi={multi}: predicted {predicted:.0f} s, "
                    f"{margin:.0f} s left"
                )
                continue
            gs = dataclasses.replace(settings, ms=(m,), multis=(multi,))
            g0 = now(dev)
            res = sw.compute(gs, seeds, dev)
            took = now(dev) - g0
            results[(m, multi)] = res
            entry["groups"][f"m={m},multi={multi}"] = took
            predicted = max(
                entry["groups"].values()
            )  # the largest programs are not faster than the smaller ones
            print(f"[3] m={m} multi={multi}: {took:.1f} s", flush=True)
            rep.save()
        measured = sum(entry["groups"].values())
        missing = [g for g in order if g not in results]
        per = measured / len(results) if results else cal["predicted_program_s"]
        entry["measured_programs_s"] = measured
        entry["complete"] = not missing
        entry["missing"] = [list(g) for g in missing]
        entry["total_s"] = entry["data_s"] + measured
        entry["extrapolated_total_s"] = entry["data_s"] + measured + per * len(missing)
        # Upper bound: every missing program as slow as the calibrated largest one.
        upper = max(per, cal["predicted_program_s"])
        entry["extrapolated_total_upper_s"] = entry["data_s"] + measured + upper * len(missing)
        print(
            f"[3] sweep: {len(results)}/{len(order)} programs in {measured:.1f} s "
            f"(+ {entry['data_s']:.1f} s inputs); "
            + (
                "complete"
                if not missing
                else f"extrapolated total {entry['extrapolated_total_s']:.0f} s "
                f"(at most {entry['extrapolated_total_upper_s']:.0f} s)"
            ),
            flush=True,
        )
        rep.save()
        claims(settings, seeds, dev, results, entry, args, full=not missing)
        rep.save()
    finally:
        sw.sweep_data = original


def claims(settings, seeds, dev, results, entry, args, full: bool) -> None:
    m = 10 if 10 in settings.ms else max(settings.ms)
    ms = (
        settings.ms
        if full
        else tuple(x for x in settings.ms if all((x, k) in results for k in settings.multis))
    )
    if m not in ms:
        entry["claims"] = "not enough programs finished for the m = 10 claims"
        return
    cells: dict[Any, Any] = {}
    for (gm, _), r in results.items():
        if gm in ms:
            cells.update(r.cells)
    first = next(iter(results.values()))
    merged = TwoLayerSweepResult(
        settings=dataclasses.replace(settings, ms=ms),
        seeds=list(seeds),
        device=str(dev),
        wall_time_s=entry["data_s"] + sum(r.wall_time_s for g, r in results.items() if g[0] in ms),
        group_time_s={g: r.group_time_s[g] for g, r in results.items() if g[0] in ms},
        steps=first.steps,
        cells=cells,
    )
    gap = merged.strong_first(m, p=2.0)
    covered = merged.mean_covered(m, p=1.0)
    ratio = merged.l_shape_ratios(m)
    report = "(iii) L-shape ratio of medians (unspecialized / specialized fan-out): " + ", ".join(
        f"{k}: {v:.3g}" for k, v in ratio.items()
    )
    checks = {
        "(i) min strong-first gap >= 0.5": min(gap.values()) >= 0.5,
        "(ii) covered[multi>=5] > covered[1]": all(
            covered[k] > covered[min(covered)] for k in covered if k >= 5
        ),
        "(iii) over-realized < narrow": ratio.get("over-realized", math.nan)
        < ratio.get("narrow", math.nan),
    }
    text = "\n".join(
        [
            merged.summary(),
            f"(i) p = 2, m = {m}: strongest minus weakest quarter success rate: "
            + ", ".join(f"multi {k}: {v:.2f}" for k, v in gap.items()),
            f"(ii) p = 1, m = {m}: mean teachers covered: "
            + ", ".join(f"multi {k}: {v:.2f}" for k, v in covered.items()),
            report,
            "notebook asserts: "
            + ", ".join(f"{k}: {'pass' if v else 'FAIL'}" for k, v in checks.items()),
        ]
    )
    print(text, flush=True)
    (Path(args.out) / "sweep_summary.txt").write_text(text + "\n")
    summary = {
        "m": m,
        "ms_included": list(ms),
        "strong_first_p2": gap,
        "mean_covered_p1": covered,
        "l_shape_ratios": ratio,
        "notebook_asserts": checks,
        "cells": [
            {
                "m": cm,
                "multi": k,
                "p": p,
                "success_rate_early": merged.success_rate(cm, k, p, "early").round(4).tolist(),
                "success_rate_final": merged.success_rate(cm, k, p).round(4).tolist(),
                "mean_covered_final": float(merged.covered(cm, k, p).mean()),
                "mean_eval_loss_final": float(merged.cell(cm, k, p).eval_loss[-1].mean()),
            }
            for (cm, k, p) in merged.settings.cells
        ],
    }
    entry["claims"] = {k: v for k, v in summary.items() if k != "cells"}
    (Path(args.out) / "sweep_summary.json").write_text(
        json.dumps(no_paths(json.loads(json.dumps(summary, default=_jsonable))), indent=1) + "\n"
    )


# --------------------------------------------------------------------------- part 4


def part_graph(args: argparse.Namespace, rep: Report, start: float) -> None:
    dev = torch.device(args.device)
    if dev.type != "cuda":
        rep.data["graph"] = {"skipped": "CUDA graphs need a CUDA device"}
        rep.save()
        return
    if left(start, args.deadline) < 25:
        rep.data["graph"] = {"skipped": "time box"}
        rep.save()
        return
    settings = sweep_settings(args)
    seeds = list(range(args.sweep_seeds or 32))
    m, multi = max(settings.ms), max(settings.multis)
    _, student, train_set, _ = sw.build_group(settings, m, multi, seeds, dev)
    s_net = student.n_seeds
    flat_x = train_set.x1.reshape(-1, train_set.x1.shape[-1])
    flat_y = train_set.y.reshape(-1, train_set.y.shape[-1])
    n, b, steps, k = train_set.x1.shape[1], settings.batch, args.graph_steps, 50
    gen = torch.Generator(device=dev).manual_seed(0)
    offset = (torch.arange(s_net, device=dev) * n).repeat_interleave(b)
    idx = torch.randint(n, (steps, s_net * b), device=dev, generator=gen) + offset

    def step(net: Any, rows: torch.Tensor) -> torch.Tensor:
        x = flat_x.index_select(0, rows).view(s_net, b, -1)
        y = flat_y.index_select(0, rows).view(s_net, b, -1)
        return sgd_step(net, x, y, settings.lr)

    eager, graphed = student.clone(), student.clone()
    warm = student.clone()
    for t in range(20):
        step(warm, idx[t])
    t0 = now(dev)
    for t in range(steps):
        step(eager, idx[t])
    eager_s = now(dev) - t0

    static_idx = idx[:k].clone()
    losses = torch.empty(k, s_net, dtype=student.dtype, device=dev)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for t in range(3):
            step(warm, static_idx[t])
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for t in range(k):
            losses[t] = step(graphed, static_idx[t])
    t0 = now(dev)
    for j in range(steps // k):
        static_idx.copy_(idx[j * k : (j + 1) * k])
        graph.replay()
    graph_s = now(dev) - t0
    diff = max(
        float((a - c).abs().max()) for a, c in zip(eager.weights, graphed.weights, strict=True)
    )
    entry = {
        "program": [m, multi],
        "networks": s_net,
        "dtype": settings.dtype,
        "steps": steps,
        "steps_per_graph": k,
        "eager_step_us": eager_s / steps * 1e6,
        "graph_step_us": graph_s / steps * 1e6,
        "speedup": eager_s / graph_s,
        "max_abs_weight_diff": diff,
    }
    rep.data["graph"] = entry
    print(f"[4] CUDA graph: {entry}", flush=True)
    rep.save()


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="short settings: code paths only")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the tiny agreement runs")
    parser.add_argument("--only", nargs="*", default=None, help="experiments for part 1")
    parser.add_argument("--parts", default="1,2,3,4")
    parser.add_argument("--out", default="benchmarks/results/gpu_check")
    parser.add_argument("--deadline", type=float, default=440.0, help="seconds for everything")
    parser.add_argument("--part1-deadline", type=float, default=150.0)
    parser.add_argument("--bench-timeout", type=float, default=110.0)
    parser.add_argument(
        "--bench-args",
        default="--seeds 256 --steps 3000 --naive-seeds 2 --naive-steps 1000 --warmup 100",
    )
    parser.add_argument("--sweep-seeds", type=int, default=None)
    parser.add_argument("--calib-steps", type=int, default=2000)
    parser.add_argument("--graph-steps", type=int, default=2000)
    parser.add_argument("--graph-reserve", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.quick:
        args.bench_args = (
            "--seeds 4 --steps 200 --naive-seeds 1 --naive-steps 200 --warmup 10 --peak-size 256"
        )
        args.calib_steps, args.graph_steps = 100, 200
    start = time.perf_counter()
    dev = lb.resolve_device(args.device)
    rep = Report(Path(args.out) / "gpu_check.json")
    rep.data["meta"] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "quick": args.quick,
        "argv": sys.argv,
    }
    rep.save()
    parts = {"1": part_agreement, "2": part_bench, "3": part_sweep, "4": part_graph}
    for key in args.parts.split(","):
        t0 = time.perf_counter()
        try:
            parts[key](args, rep, start)
        except Exception as err:  # noqa: BLE001
            print(traceback.format_exc(), flush=True)
            rep.data.setdefault("errors", {})[key] = f"{type(err).__name__}: {err}"
        rep.data.setdefault("part_s", {})[key] = time.perf_counter() - t0
        rep.data["elapsed_s"] = time.perf_counter() - start
        rep.save()
    print(f"done in {time.perf_counter() - start:.0f} s; report {rep.path}", flush=True)


if __name__ == "__main__":
    main()
