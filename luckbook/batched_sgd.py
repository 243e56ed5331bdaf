"""Cache-blocked SGD for a large ensemble of small students on stacked fixed training sets.

:func:`luckbook.train.train` advances every member of an ensemble by one step before it moves
on. With a thousand small students (E5: ``d = 100``, 25 hidden nodes, batch 16) one step's
weights, minibatches and temporaries are tens of megabytes: every step streams them through
the memory, and the tiny batched matmuls wait for it. The members are independent, so
:func:`train_blocked` trains them in **blocks** of a few dozen members, each block for all the
steps between two snapshots before the next block starts: a block's weights and temporaries
stay in the core's cache. Blocks are shared among ``workers`` Python threads (each torch op
runs on one core; the threads overlap because torch releases the GIL in its kernels).

Every member does exactly what it does under :func:`~luckbook.train.train`:
the same update (:func:`~luckbook.train.sgd_step`'s floating-point operations on its slice of
the weights; for ReLU students :class:`_Step` does them into buffers allocated once per block),
the same
minibatch indices (each member's own ``"batches"`` stream, drawn in whole chunks of
``CHUNK_VALUES // batch`` steps as :class:`~luckbook.data.FixedSet` draws them), so the weights
are the same numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from .config import check_float, check_int
from .data import CHUNK_VALUES
from .ensemble import Net
from .resources import torch_threads
from .rng import generator
from .train import Trajectory, _check, sgd_step

BLOCK_VALUES = 2**17
"""A block holds about this many weights (1 MiB in float64: a core's L2 cache here)."""


def block_size(net: Net, values: int = BLOCK_VALUES) -> int:
    """Members per block: as many as fit ``values`` weights, at least 1."""
    per_member = sum(w[0].numel() for w in net.weights)
    return max(1, min(net.n_seeds, values // per_member))


class _Step:
    """:func:`~luckbook.train.sgd_step` for one block of ReLU students, with every temporary
    allocated once: the minibatch is gathered straight into buffers (``index_select(out=)``),
    each hidden activation is written next to a constant-1 column filled once (no ``cat``
    per step), the matmuls write into buffers (``bmm(out=)``), the ReLU gate is written as
    0/1 floats (``gt(out=)``, no conversion per step), the views (transposes, the weights
    without their bias row) are made once, and the loss's sum of squares goes straight into
    its row of the loss table (``½ · / B`` is applied to a whole stretch of steps at once by
    :meth:`scale_losses`).

    Each result is computed by the same kernel on operands of the same shapes and strides as
    in :func:`~luckbook.train.sgd_step` (``x · 1.0`` and ``x · 0.0`` for the gate, ``g · g``
    for the square), so the weights and losses are the same numbers, bit for bit
    (``tests/test_batched_sgd.py`` checks it)."""

    def __init__(self, net: Net, batch: int, flat_x: torch.Tensor, flat_y: torch.Tensor) -> None:
        k, kw = net.n_seeds, {"dtype": net.dtype, "device": net.device}
        self.net, self.batch = net, batch
        self.flat_x, self.flat_y = flat_x, flat_y
        self.x1 = torch.empty(k * batch, flat_x.shape[1], **kw)
        self.y = torch.empty(k * batch, flat_y.shape[1], **kw)
        self.y3 = self.y.view(k, batch, -1)
        hidden = [w.shape[2] for w in net.weights[:-1]]
        # per hidden layer: pre-activation, activation with its constant-1 column, gate
        self.pre = [torch.empty(k, batch, n, **kw) for n in hidden]
        self.act = [torch.ones(k, batch, n + 1, **kw) for n in hidden]
        self.relu = [a[:, :, :-1] for a in self.act]
        self.gate = [torch.empty(k, batch, n, **kw) for n in hidden]
        # back-propagated errors: each hidden layer's, then the output layer's
        self.err = [torch.empty(k, batch, w.shape[2], **kw) for w in net.weights]
        self.square = torch.empty_like(self.err[-1])
        inputs = [self.x1.view(k, batch, -1), *self.act]
        self.inputs, self.inputs_t = inputs, [a.transpose(1, 2) for a in inputs]
        self.back = [w[:, :-1, :].transpose(1, 2) for w in net.weights]  # [0] is unused

    @staticmethod
    def supports(net: Net) -> bool:
        return net.activation == "relu"

    def __call__(self, ii: torch.Tensor, loss_out: torch.Tensor, lr: float) -> None:
        """One step on the minibatch of flat rows ``ii``; the sum of squared errors per member
        (before the step) goes to ``loss_out``."""
        weights = self.net.weights
        torch.index_select(self.flat_x, 0, ii, out=self.x1)
        torch.index_select(self.flat_y, 0, ii, out=self.y)
        for l in range(len(weights) - 1):
            z = torch.bmm(self.inputs[l], weights[l], out=self.pre[l])
            torch.clamp_min(z, 0, out=self.relu[l])
        g = torch.bmm(self.inputs[-1], weights[-1], out=self.err[-1])
        torch.sub(self.y3, g, out=g)  # g = y − output
        torch.sum(torch.mul(g, g, out=self.square), dim=(1, 2), out=loss_out)
        alpha = lr / self.batch
        for l in range(len(weights) - 1, -1, -1):
            # Back-propagate through the (not yet updated) weights before updating them.
            below = torch.bmm(g, self.back[l], out=self.err[l - 1]) if l else None
            weights[l].baddbmm_(self.inputs_t[l], g, alpha=alpha)
            if below is not None:
                g = below.mul_(torch.gt(self.pre[l - 1], 0, out=self.gate[l - 1]))

    def scale_losses(self, sums: torch.Tensor) -> None:
        """Sums of squared errors → :func:`~luckbook.train.sgd_step`'s ``0.5 · sum / B``."""
        sums.mul_(0.5).div_(self.batch)


class _Block:
    """Members ``lo:hi``: their weights (views into the ensemble's), their minibatch streams,
    and the current chunk of their flat minibatch indices ``[chunk, (hi − lo)·batch]``."""

    def __init__(
        self,
        net: Net,
        lo: int,
        hi: int,
        seeds: Sequence[int],
        sizes: Sequence[int],
        offsets: Sequence[int],
        batch: int,
    ) -> None:
        self.lo, self.hi, self.batch = lo, hi, batch
        self.net = Net([w[lo:hi] for w in net.weights], net.activation, net.slope)
        self.gens = [generator(s, "batches") for s in seeds[lo:hi]]
        self.sizes = list(sizes[lo:hi])
        self.offset = torch.tensor(list(offsets[lo:hi]))[None, :, None]
        self.chunk = max(1, CHUNK_VALUES // batch)
        self.start = 0
        self.idx: torch.Tensor | None = None
        self.table: torch.Tensor | None = None
        self.step: _Step | None = None

    def indices(self, t: int, device: torch.device) -> torch.Tensor:
        """The flat indices of step ``t`` (steps must come in increasing order)."""
        while self.idx is None or t >= self.start + self.chunk:
            if self.idx is not None:
                self.start += self.chunk
            self.draw(device)
        assert self.idx is not None
        return self.idx[t - self.start]

    def draw(self, device: torch.device) -> None:
        """Draw the next chunk of every member's minibatch indices into one table, allocated
        once per block (32-bit where the rows allow: half the memory and page faults)."""
        k = self.hi - self.lo
        if self.table is None:
            rows = int(self.offset.max()) + max(self.sizes)
            dtype = torch.int32 if rows <= torch.iinfo(torch.int32).max else torch.int64
            self.table = torch.empty(self.chunk, k, self.batch, dtype=dtype)
        for i, (n, g) in enumerate(zip(self.sizes, self.gens, strict=True)):
            draw = torch.randint(n, (self.chunk, self.batch), generator=g)
            self.table[:, i].copy_(draw.add_(self.offset[0, i]))
        self.idx = self.table.view(self.chunk, -1).to(device)  # [chunk, K·B]

    def run(
        self,
        t0: int,
        t1: int,
        flat_x: torch.Tensor,
        flat_y: torch.Tensor,
        losses: torch.Tensor,
        lr: float,
        reference: bool = False,
    ) -> None:
        """Steps ``t0 … t1 − 1`` of this block; their losses go to ``losses[t, lo:hi]``."""
        net, k, batch, device = self.net, self.hi - self.lo, self.batch, flat_x.device
        rows = losses[:, self.lo : self.hi]
        if not reference and _Step.supports(net):
            if self.step is None:
                self.step = _Step(net, batch, flat_x, flat_y)
            step = self.step
            for t in range(t0, t1):
                step(self.indices(t, device), rows[t], lr)
            step.scale_losses(rows[t0:t1])
            return
        for t in range(t0, t1):
            ii = self.indices(t, device)
            xb = flat_x.index_select(0, ii).view(k, batch, -1)
            yb = flat_y.index_select(0, ii).view(k, batch, -1)
            rows[t] = sgd_step(net, xb, yb, lr)


def step_seconds(
    student: Net,
    flat_x: torch.Tensor,
    flat_y: torch.Tensor,
    sizes: Sequence[int],
    offsets: Sequence[int],
    seeds: Sequence[int],
    *,
    lr: float,
    steps: int,
    batch: int,
    clock: Callable[[], float] = time.thread_time,
    sync: Callable[[], Any] = lambda: None,
) -> float:
    """Seconds (by ``clock``) per step of training all of ``student`` as one block of
    :func:`train_blocked`: the first chunk of minibatch indices drawn and timed alone, then
    ``steps`` steps (at most a chunk) timed as one stretch; the draw is spread over the
    chunk's steps, as a long run pays it. Trains ``student`` in place."""
    steps = check_int("steps", steps, minimum=1)
    blk = _Block(student, 0, student.n_seeds, seeds, sizes, offsets, batch)
    steps = min(steps, blk.chunk)
    losses = torch.empty(steps, student.n_seeds, dtype=student.dtype, device=student.device)
    start = clock()
    blk.indices(0, flat_x.device)
    draw = clock() - start
    start = clock()
    blk.run(0, steps, flat_x, flat_y, losses, lr)
    sync()
    return (clock() - start) / steps + draw / blk.chunk


def train_blocked(
    student: Net,
    flat_x: torch.Tensor,
    flat_y: torch.Tensor,
    sizes: Sequence[int],
    offsets: Sequence[int],
    seeds: Sequence[int],
    *,
    lr: float,
    steps: int,
    batch: int,
    snapshots: Sequence[int] = (),
    on_snapshot: Callable[[int, Net], Any] | None = None,
    progress: bool = False,
    block: int | None = None,
    workers: int | None = None,
    reference: bool = False,
) -> Trajectory:
    """Train ``student`` in place by SGD on fixed training sets stored flat.

    Member ``i`` draws minibatches of ``batch`` rows, with replacement, from rows
    ``offsets[i] : offsets[i] + sizes[i]`` of ``flat_x [rows, d + 1]`` (inputs with the
    constant 1) and ``flat_y [rows, c]``, with the minibatch stream of ``seeds[i]``. Snapshots,
    the divergence check and the returned :class:`~luckbook.train.Trajectory` are those of
    :func:`luckbook.train.train` (``method="sgd"``). ``block``: members per block (default
    :func:`block_size`); ``workers``: threads (default: torch's intra-op threads);
    ``reference``: step with :func:`~luckbook.train.sgd_step` itself instead of the
    preallocated :class:`_Step` (the same numbers; for tests and benchmarks).
    """
    lr = check_float("lr", lr, low=0.0, low_open=True)
    steps = check_int("steps", steps, minimum=1)
    batch = check_int("batch", batch, minimum=1)
    members = student.n_seeds
    for name, value in (("seeds", seeds), ("sizes", sizes), ("offsets", offsets)):
        if len(value) != members:
            raise ValueError(f"{name} has {len(value)} entries; the student has {members} seeds")
    block = block_size(student) if block is None else check_int("block", block, minimum=1)
    workers = torch.get_num_threads() if workers is None else workers
    workers = check_int("workers", workers, minimum=1)
    snaps = sorted(set(int(s) for s in snapshots))
    if snaps and (snaps[0] < 0 or snaps[-1] > steps):
        raise ValueError(
            f"snapshots={snaps!r} is not allowed: every snapshot must be in [0, steps={steps}]"
        )

    start = time.perf_counter()
    losses = torch.empty(steps, members, dtype=student.dtype, device=student.device)
    traj = Trajectory([], [], None, losses, 0.0)
    blocks = [
        _Block(student, lo, min(lo + block, members), seeds, sizes, offsets, batch)
        for lo in range(0, members, block)
    ]

    def run(blk: _Block, t0: int, t1: int) -> None:
        blk.run(t0, t1, flat_x, flat_y, losses, lr, reference)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"training {members} seeds", leave=False)
    bounds = sorted(set([0, *snaps, steps]))
    threads = torch.get_num_threads()
    pool = ThreadPoolExecutor(workers) if workers > 1 and len(blocks) > 1 else None
    try:
        for t0, t1 in zip(bounds[:-1], bounds[1:], strict=False):
            if t0 in snaps:
                traj.steps.append(t0)
                traj.records.append(on_snapshot(t0, student) if on_snapshot else None)
            if pool is None:
                # one block (a few MiB of small matmuls) or one worker: extra intra-op
                # threads only spin against each other on a CPU (20x slower under load)
                with torch_threads(1 if flat_x.device.type == "cpu" else None):
                    for blk in blocks:
                        run(blk, t0, t1)
            else:
                torch.set_num_threads(1)
                try:
                    for f in [pool.submit(run, blk, t0, t1) for blk in blocks]:
                        f.result()
                finally:
                    torch.set_num_threads(threads)
            _check(losses, t0, t1, seeds, lr)
            if bar is not None:
                bar.update(t1 - t0)
        if steps in snaps:
            traj.steps.append(steps)
            traj.records.append(on_snapshot(steps, student) if on_snapshot else None)
    finally:
        if pool is not None:
            pool.shutdown()
        if bar is not None:
            bar.close()
    traj.wall_time_s = time.perf_counter() - start
    return traj
