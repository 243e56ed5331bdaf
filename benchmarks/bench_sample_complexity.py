"""E5 (``sample-complexity``) training: fraction of the fp64 matmul peak, before/after.

Setting: the ``paper`` preset's students and grid (d = 100, n = 25 hidden nodes, c = 50, batch
16 drawn with replacement, lr 0.01; the 20 training-set sizes of ``E5_GRIDS["paper"]`` × 2 data
kinds × ``--seeds`` seeds, Gaussian stand-in data) and ``--steps`` SGD steps, no snapshots.
In one process it measures:

* ``peak``: one ``4096 × 4096`` float64 matmul with ``--threads`` torch threads, best of 3.
* ``reference``: :func:`luckbook.train.train` on
  :class:`~luckbook.experiments.sample_complexity.StackedSets` with one thread (every member
  one step, then the next step), only to check that the weights are the same numbers.
* ``before``: the previous E5 trainer, :func:`luckbook.batched_sgd.train_blocked` as at commit
  970a4da: ``reference=True`` (:func:`luckbook.train.sgd_step` on freshly gathered
  minibatches every step) with that commit's drawing of the minibatch indices (int64, stacked
  and offset into new tensors each chunk), restored here by :func:`old_draw`.
* ``after``: :func:`luckbook.batched_sgd.train_blocked` as it is (the preallocated step and
  index table per block).

``before`` and ``after`` run ``--repeats`` times each, interleaved (before, after, before, …),
each from the same weights and minibatch streams; the fastest run of each (CPU time) is
reported, and every run must end with weights identical to the reference's (checked). Blocks
are shared among ``--threads`` worker threads. FLOPs are the matmuls of forward,
back-propagation and both weight gradients (``2·B·[(d+1)n + (n+1)c]`` twice plus ``2·B·c·n``
per member-step); wall time and CPU time (``time.process_time``, all threads) are both
reported, since the book's machine is often loaded by background runs (then the wall-time
fractions understate the code and the CPU-time rates are the fairer comparison).

Usage::

    .venv/bin/python benchmarks/bench_sample_complexity.py               # ~1-2 min quiet
    .venv/bin/python benchmarks/bench_sample_complexity.py --seeds 32 --steps 8192

Writes ``benchmarks/results/sample_complexity.md`` and a JSON beside it (or ``--out PATH``).
A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
from pathlib import Path

import numpy as np
import torch
from bench_gradient_relation import cpu_model, load, peak, timed  # one copy of each

from luckbook import batched_sgd
from luckbook.batched_sgd import train_blocked
from luckbook.claims import E5_GRIDS
from luckbook.ensemble import Net
from luckbook.experiments.sample_complexity import StackedSets
from luckbook.train import train

ROOT = Path(__file__).resolve().parents[1]
D, N_HIDDEN, C, BATCH, LR = 100, 25, 50, 16, 0.01
PAPER_SEEDS, PAPER_STEPS = 32, 100_000


def member_step_flops() -> int:
    fwd = 2 * BATCH * ((D + 1) * N_HIDDEN + (N_HIDDEN + 1) * C)
    return 2 * fwd + 2 * BATCH * C * N_HIDDEN


def old_draw(self: batched_sgd._Block, device: torch.device) -> None:
    """``_Block``'s drawing of the next chunk of minibatch indices as at commit 970a4da."""
    draws = [
        torch.randint(n, (self.chunk, self.batch), generator=g)
        for n, g in zip(self.sizes, self.gens, strict=True)
    ]
    idx = torch.stack(draws, dim=1) + self.offset  # [chunk, K, B]
    self.idx = idx.reshape(self.chunk, -1).to(device)


def tiny_run_arrays(old: bool, threads: int) -> dict[str, np.ndarray]:
    """Every array of ``lb.run("sample-complexity", scale="tiny", seeds=[0, 1, 2])`` (not from
    the cache), the students' final weights and the minibatch losses, trained by the
    ``before`` trainer (``old``) or the ``after`` one, with ``threads`` torch threads."""
    import luckbook as lb
    import luckbook.experiments.sample_complexity as sc

    got: dict[str, np.ndarray] = {}
    new_draw, trainer = batched_sgd._Block.draw, sc.train_blocked

    def spy(student: Net, *args: object, **kwargs: object) -> object:
        traj = trainer(student, *args, reference=old, **kwargs)  # type: ignore[arg-type]
        got.update(
            {f"student weights {i}": w.numpy().copy() for i, w in enumerate(student.weights)}
        )
        got["batch_loss"] = traj.batch_loss.numpy().copy()
        return traj

    sc.train_blocked, batched_sgd._Block.draw = spy, old_draw if old else new_draw  # type: ignore[assignment,method-assign]
    try:
        result = lb.run(
            "sample-complexity", scale="tiny", seeds=[0, 1, 2], cache=False, threads=threads
        )
    finally:
        sc.train_blocked, batched_sgd._Block.draw = trainer, new_draw  # type: ignore[method-assign]
    assert "batch_loss" in got, "the tiny run was not trained (replayed?)"
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if isinstance(value, np.ndarray):
            got[f.name] = value
        elif isinstance(value, dict):
            got.update({f"{f.name}[{k}]": np.asarray(v) for k, v in value.items()})
        elif isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            got.update({f"{f.name}[{i}]": v for i, v in enumerate(value)})
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--peak-size", type=int, default=4096)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/sample_complexity.md")
    args = ap.parse_args()
    load_start = load()
    peak_wall, peak_cpu = peak(args.peak_size, args.threads)

    grid = E5_GRIDS["paper"]
    gen = torch.Generator().manual_seed(0)
    xs = [torch.randn(args.seeds, n, D, generator=gen, dtype=torch.float64) for n in grid]
    xs = [x for x in xs for _ in range(2)]  # two data kinds
    ys = [torch.randn(x.shape[0], x.shape[1], C, generator=gen, dtype=torch.float64) for x in xs]
    source = StackedSets(xs, ys)
    members = len(xs) * args.seeds
    seeds = [s for _ in xs for s in range(args.seeds)]
    w0 = [
        0.005 * torch.randn(members, D + 1, N_HIDDEN, generator=gen, dtype=torch.float64),
        0.005 * torch.randn(members, N_HIDDEN + 1, C, generator=gen, dtype=torch.float64),
    ]
    reference = Net([w.clone() for w in w0])
    torch.set_num_threads(1)
    train(reference, source, seeds, lr=LR, steps=args.steps, batch=BATCH, method="sgd")
    torch.set_num_threads(args.threads)
    new_draw = batched_sgd._Block.draw

    def blocked(old: bool) -> tuple[float, float]:
        net = Net([w.clone() for w in w0])
        batched_sgd._Block.draw = old_draw if old else new_draw  # type: ignore[method-assign]
        try:
            _, wall, cpu = timed(
                lambda: train_blocked(
                    net,
                    source.flat_x,
                    source.flat_y,
                    source.member_sizes,
                    source.offsets,
                    seeds,
                    lr=LR,
                    steps=args.steps,
                    batch=BATCH,
                    workers=args.threads,
                    reference=old,
                )
            )
        finally:
            batched_sgd._Block.draw = new_draw  # type: ignore[method-assign]
        same.append(
            all(torch.equal(a, b) for a, b in zip(net.weights, reference.weights, strict=True))
        )
        return wall, cpu

    same: list[bool] = []
    runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(args.repeats):
        for old in (True, False):
            runs[old].append(blocked(old))
    t_before, t_after = (min(runs[old], key=lambda r: r[1]) for old in (True, False))
    tiny: dict[int, tuple[int, list[str]]] = {}
    for threads in (1, 2):
        before, after = tiny_run_arrays(True, threads), tiny_run_arrays(False, threads)
        assert before.keys() == after.keys()
        differ = [k for k in before if not np.array_equal(before[k], after[k], equal_nan=True)]
        tiny[threads] = (len(before), differ)
    torch.set_num_threads(args.threads)
    load_end = load()

    flops = member_step_flops() * members * args.steps
    rows = []
    versions = (
        (f"before (970a4da), {args.threads} threads", t_before),
        (f"after, {args.threads} threads", t_after),
    )
    for name, (wall, cpu) in versions:
        rows.append((name, wall, cpu, flops / wall / 1e9, flops / cpu / 1e9))
    paper_flops = member_step_flops() * 40 * PAPER_SEEDS * PAPER_STEPS
    lines = [
        "# E5 sample-complexity training: fraction of the fp64 matmul peak",
        "",
        f"Generated by `benchmarks/bench_sample_complexity.py` on "
        f"{datetime.date.today().isoformat()}.",
        "",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores; torch {torch.__version__}, "
        f"{args.threads} threads.",
        f"- Load average (1 min) at start / end: {load_start:.1f} / {load_end:.1f}"
        + (
            " — **the machine was loaded by background runs**: wall-time rates understate "
            "both versions; the CPU-time rates (per second of this process's CPU time) are "
            "the fairer comparison."
            if max(load_start, load_end) > 1.5
            else " (quiet)."
        ),
        f"- Workload: paper-preset students (d = {D}, n = {N_HIDDEN}, c = {C}, batch {BATCH}), "
        f"{members} members (20 sizes × 2 kinds × {args.seeds} seeds), {args.steps} SGD steps, "
        f"{member_step_flops() / 1e3:.1f} kFLOP of matmuls per member-step, "
        f"{flops / 1e9:.0f} GFLOP in all.",
        f"- fp64 matmul peak ({args.peak_size}² matmul, {args.threads} threads): "
        f"{peak_wall:.1f} GFLOP/s per wall second, {peak_cpu:.1f} GFLOP/s per CPU second.",
        f"- Final weights identical to `train`'s (one thread) in all {len(same)} runs "
        f"(before and after, {args.repeats} each, interleaved; fastest in CPU time shown): "
        f"{all(same)}.",
        '- Tiny E5 run, before vs after in this process (`lb.run("sample-complexity", '
        'scale="tiny", seeds=[0, 1, 2], cache=False)`, every result array, the students\' '
        "final weights and every minibatch loss, `np.array_equal`): "
        + "; ".join(
            f"{t} thread{'s' * (t > 1)}: {n} arrays, "
            + ("all bit-identical" if not d else f"**differ: {', '.join(d)}**")
            for t, (n, d) in tiny.items()
        )
        + ".",
        "",
        "| version | wall s | CPU s | GFLOP/s (wall) | % of peak (wall) | GFLOP/s per CPU s "
        "| % of peak (CPU) | paper training (wall, projected) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, wall, cpu, g_wall, g_cpu in rows:
        lines.append(
            f"| {name} | {wall:.1f} | {cpu:.1f} | {g_wall:.1f} | {100 * g_wall / peak_wall:.0f} % "
            f"| {g_cpu:.1f} | {100 * g_cpu / peak_cpu:.0f} % "
            f"| {paper_flops / (g_wall * 1e9) / 60:.0f} min |"
        )
    lines += [
        "",
        f"Ratio after / before ({args.threads} threads): {t_before[0] / t_after[0]:.2f}× in "
        f"wall time, {t_before[1] / t_after[1]:.2f}× in CPU time.",
        "",
        f"The projection is the paper preset's training alone ({40 * PAPER_SEEDS} members × "
        f"{PAPER_STEPS:,} steps, {paper_flops / 1e12:.1f} TFLOP) at the measured wall rate; "
        "the 21 evaluations and the set-up come on top.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    record = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "threads": args.threads,
        "members": members,
        "steps": args.steps,
        "repeats": args.repeats,
        "load_start_end": [load_start, load_end],
        "peak_gflops_wall_cpu": [peak_wall, peak_cpu],
        "gflop": flops / 1e9,
        "runs_wall_cpu_s": {"before": runs[True], "after": runs[False]},
        "percent_of_peak_cpu": {
            "before": 100 * flops / t_before[1] / 1e9 / peak_cpu,
            "after": 100 * flops / t_after[1] / 1e9 / peak_cpu,
        },
        "weights_identical": all(same),
        "tiny_run_arrays_compared_differing": {t: [n, d] for t, (n, d) in tiny.items()},
    }
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
