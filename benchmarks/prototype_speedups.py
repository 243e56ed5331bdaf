"""Prototype of speed-ups proposed for the package, measured against the package as it is.

Nothing in ``luckbook/`` is edited: the proposed versions live here and are swapped in at
run time (monkeypatching) so that the gain can be measured A/B, interleaved, in one process,
and the results checked against the current code. Proposals:

1. ``eval`` — :meth:`luckbook.evaluate.Probe.evaluate` / ``loss``: centre the teacher's
   activations once (``ctᵀ·h_s = ctᵀ·(h_s − mean)`` because the centred teacher columns sum
   to zero), so only the student's column norms need centred activations, and those are
   centred in place once the next layer has used them (no ``[S, N, n]`` copies); the bias row is added by ``baddbmm`` instead
   of appending a column of ones (``with_ones`` copies ``[S, N, n]``); ReLU in place; and
   seeds are taken in small groups (``EVAL_CHUNK_SEEDS``) so the ``[k, N, n]`` temporaries stay
   small (large temporaries are fresh ``mmap`` pages that must be faulted in on every call).
2. ``batches`` — :meth:`luckbook.data.FixedSet.batches`: gather the minibatch with one
   ``index_select`` on the flattened ``[S·N, ·]`` set instead of advanced indexing
   ``x1[rows, idx]`` (same values, same random stream).
3. ``step`` — :func:`luckbook.train.sgd_step` (ReLU only here): fused ReLU backward
   (``threshold_backward``) instead of building a float gate and multiplying, and the bias
   row handled by ``baddbmm``/``add_`` instead of concatenating ones.

Usage::

    .venv/bin/python benchmarks/prototype_speedups.py [--dtype float64] [--repeats 3]

It prints the time of each piece, current vs proposed (best of ``--repeats``, interleaved), the
end-to-end E4 rate (``two_layer.compute``) with each set of patches, and the largest
difference in the results.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import math
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from luckbook.data import FixedSet  # noqa: E402
from luckbook.ensemble import Net, activate  # noqa: E402
from luckbook.evaluate import Probe  # noqa: E402
from luckbook.experiments.two_layer import TwoLayerSettings, build, compute  # noqa: E402
from luckbook.metrics import EPS, fanout_norms  # noqa: E402
from luckbook.rng import generator  # noqa: E402

train_mod = importlib.import_module("luckbook.train")  # the module, not the function

EVAL_CHUNK_SEEDS = 2
"""Seeds per group in the proposed evaluation (temporaries ``[k, N, n]`` ≈ 32 MB in float64)."""

# --------------------------------------------------------------------------- 1. evaluation


def _probe_cache(probe: Probe) -> dict[str, list[torch.Tensor]]:
    """Per hidden layer: centred teacher activations ``[S, m, N]`` and their norms + EPS."""
    cache = getattr(probe, "_fast", None)
    if cache is None:
        cts, norms = [], []
        for h in probe.t.hidden:
            ct = h - h.mean(dim=-2, keepdim=True)
            norms.append(ct.norm(dim=-2) + EPS)  # [S, m]
            cts.append(ct.transpose(1, 2).contiguous())  # [S, m, N]
        cache = {"ct": cts, "ct_norm": norms}
        probe._fast = cache  # type: ignore[attr-defined]
    return cache


def fast_evaluate(
    self: Probe, student: Net, correlations: bool = True
) -> dict[str, torch.Tensor | list[torch.Tensor]]:
    """Drop-in for :meth:`Probe.evaluate` (same keys, shapes and values up to rounding)."""
    cache = _probe_cache(self) if correlations else None
    x1 = self.t.inputs[0]  # [S, N, d + 1], already has the ones column
    n_seeds, n = x1.shape[:2]
    losses, corrs = [], []
    for lo in range(0, n_seeds, EVAL_CHUNK_SEEDS):
        sl = slice(lo, min(lo + EVAL_CHUNK_SEEDS, n_seeds))
        ws = [w[sl] for w in student.weights]
        a = torch.bmm(x1[sl], ws[0])
        layer_corrs = []
        for l in range(student.depth - 1):
            if student.activation == "relu":
                h = a.clamp_min_(0)
            else:
                h = activate(a, student.activation, student.slope)
            w = ws[l + 1]
            a = torch.baddbmm(w[:, -1:, :], h, w[:, :-1, :])
            if cache is not None:
                inner = torch.bmm(cache["ct"][l][sl], h)  # [k, m, n]; ct sums to 0 over N
                hs_norm = torch.linalg.vector_norm(h.sub_(h.mean(dim=1, keepdim=True)), dim=1)
                corr = inner / (cache["ct_norm"][l][sl][:, :, None] * (hs_norm + EPS)[:, None])
                layer_corrs.append(corr)
        diff = a.sub_(self.t.out[sl])
        losses.append(0.5 * torch.linalg.vector_norm(diff, dim=(1, 2)).square() / n)
        corrs.append(layer_corrs)
    out: dict[str, torch.Tensor | list[torch.Tensor]] = {"loss": torch.cat(losses)}
    if correlations:
        out["corr"] = [torch.cat([c[l] for c in corrs]) for l in range(student.depth - 1)]
        out["fanout"] = [fanout_norms(w) for w in student.weights[1:]]
    return out


# --------------------------------------------------------------------------- 2. minibatches


def fast_batches(
    self: FixedSet, seeds: Sequence[int], steps: int, batch: int | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Drop-in for :meth:`FixedSet.batches`: identical minibatches, gathered by index_select."""
    if batch is None:
        yield from ORIGINAL["batches"](self, seeds, steps, batch)
        return
    n_seeds, n = self.x1.shape[:2]
    flat_x = self.x1.reshape(n_seeds * n, -1)
    flat_y = self.y.reshape(n_seeds * n, -1)
    offset = (torch.arange(n_seeds) * n)[:, None]  # [S, 1]
    gens = [generator(s, "batches") for s in seeds]
    chunk = max(1, (32 * 2**20) // (8 * n_seeds * batch))
    done = 0
    while done < steps:
        k = min(chunk, steps - done)
        idx = torch.stack([torch.randint(n, (k, batch), generator=g) for g in gens], dim=1)
        idx = (idx + offset).reshape(k, n_seeds * batch).to(self.x1.device)
        for i in range(k):
            yield (
                flat_x.index_select(0, idx[i]).view(n_seeds, batch, -1),
                flat_y.index_select(0, idx[i]).view(n_seeds, batch, -1),
            )
        done += k


# --------------------------------------------------------------------------- 3. SGD step


def fast_sgd_step(net: Net, x1: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
    """Drop-in for :func:`luckbook.train.sgd_step` for ReLU networks (falls back otherwise)."""
    if net.activation != "relu":
        return ORIGINAL["step"](net, x1, y, lr)
    batch = x1.shape[1]
    alpha = lr / batch
    w = net.weights
    pres, hidden = [], []
    a = torch.bmm(x1, w[0])
    for l in range(1, net.depth):
        pres.append(a)
        h = a.clamp_min(0)
        hidden.append(h)
        a = torch.baddbmm(w[l][:, -1:, :], h, w[l][:, :-1, :])
    g = a.neg_().add_(y)  # [S, B, c]
    loss = 0.5 * g.square().sum(dim=(1, 2)) / batch
    for l in range(net.depth - 1, 0, -1):
        below = torch.bmm(g, w[l][:, :-1, :].transpose(1, 2))
        w[l][:, :-1, :].baddbmm_(hidden[l - 1].transpose(1, 2), g, alpha=alpha)
        w[l][:, -1, :].add_(g.sum(dim=1), alpha=alpha)
        g = torch.ops.aten.threshold_backward(below, pres[l - 1], 0)
    w[0].baddbmm_(x1.transpose(1, 2), g, alpha=alpha)
    return loss


# --------------------------------------------------------------------------- patching

ORIGINAL = {
    "eval": Probe.evaluate,
    "batches": FixedSet.batches,
    "step": train_mod.sgd_step,
}
PROPOSED = {"eval": fast_evaluate, "batches": fast_batches, "step": fast_sgd_step}


@contextlib.contextmanager
def patched(names: Sequence[str]) -> Iterator[None]:
    try:
        for name in names:
            if name == "eval":
                Probe.evaluate = PROPOSED["eval"]  # type: ignore[method-assign]
            elif name == "batches":
                FixedSet.batches = PROPOSED["batches"]  # type: ignore[method-assign]
            elif name == "step":
                train_mod.sgd_step = PROPOSED["step"]
        yield
    finally:
        Probe.evaluate = ORIGINAL["eval"]  # type: ignore[method-assign]
        FixedSet.batches = ORIGINAL["batches"]  # type: ignore[method-assign]
        train_mod.sgd_step = ORIGINAL["step"]


def matmul_ceiling(dtype: torch.dtype, n_seeds: int, repeats: int) -> None:
    """The five batched matmuls of one SGD step alone (no elementwise work): the loop's ceiling."""
    gen = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=dtype)

    s, b, d, n, c = n_seeds, 16, 100, 200, 50
    x, w1, gh = rand(s, b, d + 1), rand(s, d + 1, n), rand(s, b, n)
    h, w2, g = rand(s, b, n + 1), rand(s, n + 1, c), rand(s, b, c)
    ops = {
        "forward 1   [B,d+1]@[d+1,n]": (lambda: torch.bmm(x, w1), d + 1, n),
        "forward 2   [B,n+1]@[n+1,c]": (lambda: torch.bmm(h, w2), n + 1, c),
        "backprop    [B,c]@[c,n]": (lambda: torch.bmm(g, w2[:, :-1].transpose(1, 2)), c, n),
        "grad W2     [n+1,B]@[B,c]": (
            lambda: w2.baddbmm_(h.transpose(1, 2), g, alpha=1e-30), n + 1, c),
        "grad W1     [d+1,B]@[B,n]": (
            lambda: w1.baddbmm_(x.transpose(1, 2), gh, alpha=1e-30), d + 1, n),
    }  # fmt: skip
    total = 0.0
    print(f"\nmatmul ceiling ({dtype}, {s} seeds, batch {b}): the step's five bmm alone")
    for name, (fn, k, m) in ops.items():
        for _ in range(20):
            fn()

        def hundred(fn=fn) -> None:
            for _ in range(100):
                fn()  # the result is dropped at once, so its memory is reused

        t = min(best_of(hundred, 1) for _ in range(repeats)) / 100
        total += t
        print(f"  {name:28s} {t * 1e6:7.1f} us  {2 * s * b * k * m / t / 1e9:6.1f} GFLOP/s")
    flops = s * (2 * 2 * b * ((d + 1) * n + (n + 1) * c) + 2 * b * c * n)
    print(
        f"  all five: {total * 1e6:.0f} us per step = {s / total:.0f} seed-steps/s, "
        f"{flops / total / 1e9:.1f} GFLOP/s"
    )


def best_of(fn, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--seeds", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3000, help="steps of the end-to-end runs")
    parser.add_argument("--loop-steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    dev = torch.device("cpu")
    seeds = list(range(args.seeds))
    settings = TwoLayerSettings(
        d=100, m=20, multi=10, c=50, p=1.0, dtype=args.dtype, steps=args.steps,
        n_snapshots=max(1, args.steps // 1000),
    )  # fmt: skip
    teacher, student, train_set, eval_probe, train_probe = build(settings, seeds, dev)
    train_mod.train(student, train_set, seeds, lr=0.01, steps=500, batch=16)  # not at init

    # correctness of the evaluation
    ref, ref_loss = eval_probe.evaluate(student), train_probe.loss(student)
    with patched(["eval"]):
        new, new_loss = eval_probe.evaluate(student), train_probe.loss(student)
    print(
        "eval: max |corr diff| = "
        f"{float((new['corr'][0] - ref['corr'][0]).abs().max()):.1e}, max rel loss diff = "
        f"{float(((new['loss'] - ref['loss']) / ref['loss']).abs().max()):.1e} (eval), "
        f"{float(((new_loss - ref_loss) / ref_loss).abs().max()):.1e} (train)"
    )
    # correctness of batches and step
    same = all(
        torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        for a, b in zip(
            ORIGINAL["batches"](train_set, seeds, 50, 16),
            fast_batches(train_set, seeds, 50, 16),
            strict=True,
        )
    )
    n1, n2 = student.clone(), student.clone()
    for x1, y in train_set.batches(seeds, 50, 16):
        ORIGINAL["step"](n1, x1, y, 0.01)
        fast_sgd_step(n2, x1, y, 0.01)
    wdiff = max(float((a - b).abs().max()) for a, b in zip(n1.weights, n2.weights, strict=True))
    print(f"batches identical: {same}; step: max |W diff| after 50 steps = {wdiff:.1e}")

    matmul_ceiling(student.dtype, args.seeds, args.repeats + 2)

    # pieces, interleaved, best of repeats
    def one_eval() -> None:
        eval_probe.evaluate(student)
        train_probe.loss(student)

    def loop() -> None:
        net = student.clone()
        train_mod.train(net, train_set, seeds, lr=0.01, steps=args.loop_steps, batch=16)

    pieces = {
        "evaluation (eval corr + both losses)": (one_eval, [["eval"]]),
        "training loop": (loop, [["batches"], ["step"], ["batches", "step"]]),
    }
    print(f"\n{args.dtype}, {args.seeds} seeds, {torch.get_num_threads()} threads")
    for name, (fn, variants) in pieces.items():
        times: dict[str, float] = {}
        for _ in range(args.repeats):
            for v in [[], *variants]:
                with patched(v):
                    key = "+".join(v) or "current"
                    times[key] = min(times.get(key, math.inf), best_of(fn, 1))
        base = times["current"]
        for key, t in times.items():
            extra = ""
            if name == "training loop":
                extra = f"  {args.seeds * args.loop_steps / t:8.0f} seed-steps/s"
            print(f"  {name:38s} {key:16s} {t:7.3f} s  x{base / t:4.2f}{extra}")

    # end to end
    print(f"\nend to end: two_layer.compute, {args.seeds} seeds x {args.steps} steps")
    rates: dict[str, float] = {}
    results = {}
    for _ in range(args.repeats):
        for v in [[], ["eval"], ["eval", "batches"], ["eval", "batches", "step"]]:
            key = "+".join(v) or "current"
            with patched(v):
                res = compute(dataclasses.replace(settings), seeds, dev)
            rates[key] = max(rates.get(key, 0.0), args.seeds * args.steps / res.wall_time_s)
            results[key] = res
    for key, r in rates.items():
        res = results[key]
        d_loss = abs(res.eval_loss - results["current"].eval_loss).max()
        d_best = abs(res.teacher_best - results["current"].teacher_best).max()
        print(
            f"  {key:22s} {r:8.0f} seed-steps/s  x{r / rates['current']:4.2f}   "
            f"max |Δ eval loss| {d_loss:.1e}, max |Δ teacher best corr| {d_best:.1e}"
        )


if __name__ == "__main__":
    main()
