"""Batched training of a whole ensemble of seeds: SGD, GD and projected (unit-column) SGD.

One step updates all ``S`` students at once with explicit back-propagation in homogeneous
coordinates (no autograd), so the cost is a handful of batched matmuls per layer. The
loss is the papers' square loss ``½ · mean_batch ‖y_teacher − y_student‖²``, whose negative
gradient for the top layer is ``ΔW = Xᵀ g / B`` with ``g = y_teacher − y_student`` (SS).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import torch

from .config import check_choice, check_float, check_int
from .ensemble import Net, activate, gate, with_ones

METHODS = ("sgd", "gd", "projected")
SPACINGS = ("linear", "log")


class DivergenceError(FloatingPointError):
    """Training produced NaN or inf. Carries ``step``, ``seed`` and ``lr``."""

    def __init__(self, step: int, seed: int, lr: float, value: float) -> None:
        self.step, self.seed, self.lr = step, seed, lr
        super().__init__(
            f"training diverged at step {step} (seed {seed}): the loss became {value}. "
            f"The learning rate lr={lr:g} is too large for this setting; try a smaller one "
            f"(e.g. lr={lr / 4:g}) or a smaller init_scale/data_std."
        )


StepFn = Callable[[Net, torch.Tensor, torch.Tensor, float], torch.Tensor]
"""``step_fn(student, x1 [S, B, d+1], y [S, B, c], lr) -> loss [S]``, updating ``student`` in
place."""


class BatchSource(Protocol):
    def batches(
        self, seeds: Sequence[int], steps: int, batch: int | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


@dataclasses.dataclass
class Trajectory:
    """What :func:`train` returns.

    Attributes:
        steps: the snapshot steps (number of updates done when the snapshot was taken).
        records: per snapshot, whatever ``on_snapshot`` returned.
        weights: per snapshot, the student's weights on the CPU (if ``keep_weights``).
        batch_loss: ``[steps, S]`` minibatch loss *before* each update.
        wall_time_s: seconds spent in :func:`train`.
    """

    steps: list[int]
    records: list[Any]
    weights: list[list[torch.Tensor]] | None
    batch_loss: torch.Tensor
    wall_time_s: float

    def stacked(self, *keys: str) -> dict[str, Any]:
        """The records stacked along a new leading snapshot axis: see :func:`stack_records`."""
        return stack_records(self.records, *keys)


def stack_records(records: Sequence[Mapping[str, Any]], *keys: str) -> dict[str, Any]:
    """``{key: [T, ...] tensor}`` from ``T`` snapshot records (dicts of tensors), for ``keys``
    (default: every key of the first record). A value that is a list of tensors (one per
    layer) stacks per layer: ``{key: [[T, ...] per layer]}``."""
    keys = keys or tuple(records[0])
    out: dict[str, Any] = {}
    for k in keys:
        first = records[0][k]
        if isinstance(first, (list, tuple)):
            out[k] = [torch.stack([r[k][l] for r in records]) for l in range(len(first))]
        else:
            out[k] = torch.stack([r[k] for r in records])
    return out


def snapshot_steps(steps: int, n: int, spacing: str = "linear") -> list[int]:
    """Sorted unique snapshot steps from 0 to ``steps``: ``n + 1`` evenly spaced (``"linear"``),
    or 0 followed by ``n + 1`` log-spaced steps from 1 to ``steps`` (``"log"``; duplicates of
    small steps merge)."""
    steps = check_int("steps", steps, minimum=1)
    n = check_int("n_snapshots", n, minimum=1)
    check_choice("spacing", spacing, SPACINGS)
    if spacing == "linear":
        points = [round(i * steps / n) for i in range(n + 1)]
    else:
        points = [0] + [round(math.exp(i * math.log(steps) / n)) for i in range(n + 1)]
    return sorted(set(min(max(p, 0), steps) for p in points))


def sgd_step(net: Net, x1: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
    """One in-place step ``W += lr · ΔW`` on every seed; returns the loss ``[S]`` before it.

    ``x1``: inputs with the constant-1 column ``[S, B, d + 1]``; ``y``: targets ``[S, B, c]``.
    """
    inputs, pres = [x1], []
    a = x1
    for w in net.weights[:-1]:
        z = torch.bmm(a, w)
        pres.append(z)
        a = with_ones(activate(z, net.activation, net.slope))
        inputs.append(a)
    g = y - torch.bmm(a, net.weights[-1])  # [S, B, c]
    loss = 0.5 * g.square().sum(dim=(1, 2)) / g.shape[1]
    alpha = lr / g.shape[1]
    for l in range(net.depth - 1, -1, -1):
        w = net.weights[l]
        # Back-propagate through the (not yet updated) weights before updating them.
        below = torch.bmm(g, w[:, :-1, :].transpose(1, 2)) if l else None
        w.baddbmm_(inputs[l].transpose(1, 2), g, alpha=alpha)
        if below is not None:
            g = below.mul_(gate(pres[l - 1], net.activation, net.slope))
    return loss


def project_columns(net: Net) -> None:
    """Scale every hidden layer's columns (bias included) to unit norm, in place (LM/E1)."""
    for w in net.weights[:-1]:
        w.div_(w.norm(dim=1, keepdim=True).clamp_min(1e-12))


def train(
    student: Net,
    source: BatchSource,
    seeds: Sequence[int],
    *,
    lr: float,
    steps: int,
    batch: int | None = 16,
    method: str = "sgd",
    snapshots: Iterable[int] = (),
    on_snapshot: Callable[[int, Net], Any] | None = None,
    keep_weights: bool = False,
    progress: bool = False,
    check_every: int = 100,
    step_fn: StepFn | None = None,
) -> Trajectory:
    """Train the ensemble ``student`` in place on batches from ``source``.

    Args:
        student: the ensemble to train (modified in place).
        source: a :class:`~luckbook.data.FixedSet` or :class:`~luckbook.data.FreshGaussian`.
        seeds: the seed of each ensemble member (minibatch order stream).
        lr: learning rate, finite and > 0.
        steps: number of updates (≥ 1).
        batch: minibatch size (≥ 1); ignored for ``method="gd"`` (full batch).
        method: ``"sgd"``, ``"gd"`` (full batch) or ``"projected"`` (SGD, then unit columns).
        snapshots: steps at which to call ``on_snapshot(step, student)`` (0 = before training).
        keep_weights: also store a CPU copy of the weights at each snapshot.
        progress: show a ``tqdm.auto`` progress bar.
        check_every: test for NaN/inf every this many steps; on divergence raise
            :class:`DivergenceError` naming the first bad step and seed.
        step_fn: the update rule ``step_fn(student, x1, y, lr) -> loss [S]`` (in place);
            default :func:`sgd_step` (exact back-propagation). E1 uses
            :func:`luckbook.gradients.matrix_step`.
    """
    lr = check_float("lr", lr, low=0.0, low_open=True)
    steps = check_int("steps", steps, minimum=1)
    check_choice("method", method, METHODS)
    check_every = check_int("check_every", check_every, minimum=1)
    if method != "gd":
        batch = check_int("batch", batch, minimum=1)
    if len(seeds) != student.n_seeds:
        raise ValueError(f"seeds has {len(seeds)} entries; the student has {student.n_seeds} seeds")
    snaps = sorted(set(int(s) for s in snapshots))
    if snaps and (snaps[0] < 0 or snaps[-1] > steps):
        raise ValueError(
            f"snapshots={snaps!r} is not allowed: every snapshot must be in [0, steps={steps}]"
        )

    step = sgd_step if step_fn is None else step_fn
    start = time.perf_counter()
    losses = torch.empty(steps, student.n_seeds, dtype=student.dtype, device=student.device)
    traj = Trajectory([], [], [] if keep_weights else None, losses, 0.0)

    def snapshot(t: int) -> None:
        traj.steps.append(t)
        traj.records.append(on_snapshot(t, student) if on_snapshot else None)
        if traj.weights is not None:
            traj.weights.append([w.detach().to("cpu", copy=True) for w in student.weights])

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"training {student.n_seeds} seeds", leave=False)
    pending = iter(snaps)
    next_snap = next(pending, None)
    checked = 0
    batches = source.batches(seeds, steps, None if method == "gd" else batch)
    try:
        for t, (x1, y) in enumerate(batches):
            while next_snap is not None and next_snap == t:
                _check(losses, checked, t, seeds, lr)
                checked = t
                snapshot(t)
                next_snap = next(pending, None)
            losses[t] = step(student, x1, y, lr)
            if method == "projected":
                project_columns(student)
            if (t + 1) % check_every == 0:
                _check(losses, checked, t + 1, seeds, lr)
                checked = t + 1
                if bar is not None:
                    bar.update(t + 1 - bar.n)
        _check(losses, checked, steps, seeds, lr)
        if next_snap == steps:
            snapshot(steps)
    finally:
        if bar is not None:
            bar.close()
    traj.wall_time_s = time.perf_counter() - start
    return traj


def _check(losses: torch.Tensor, lo: int, hi: int, seeds: Sequence[int], lr: float) -> None:
    if hi <= lo:
        return
    window = losses[lo:hi]
    if bool(torch.isfinite(window).all()):
        return
    bad = (~torch.isfinite(window)).nonzero()[0].tolist()
    step, pos = lo + bad[0], bad[1]
    raise DivergenceError(step=step, seed=seeds[pos], lr=lr, value=float(window[bad[0], pos]))
