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
the same update (:func:`~luckbook.train.sgd_step` on its slice of the weights), the same
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

    def indices(self, t: int, device: torch.device) -> torch.Tensor:
        """The flat indices of step ``t`` (steps must come in increasing order)."""
        while self.idx is None or t >= self.start + self.chunk:
            if self.idx is not None:
                self.start += self.chunk
            draws = [
                torch.randint(n, (self.chunk, self.batch), generator=g)
                for n, g in zip(self.sizes, self.gens, strict=True)
            ]
            idx = torch.stack(draws, dim=1) + self.offset  # [chunk, K, B]
            self.idx = idx.reshape(self.chunk, -1).to(device)
        return self.idx[t - self.start]


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
) -> Trajectory:
    """Train ``student`` in place by SGD on fixed training sets stored flat.

    Member ``i`` draws minibatches of ``batch`` rows, with replacement, from rows
    ``offsets[i] : offsets[i] + sizes[i]`` of ``flat_x [rows, d + 1]`` (inputs with the
    constant 1) and ``flat_y [rows, c]``, with the minibatch stream of ``seeds[i]``. Snapshots,
    the divergence check and the returned :class:`~luckbook.train.Trajectory` are those of
    :func:`luckbook.train.train` (``method="sgd"``). ``block``: members per block (default
    :func:`block_size`); ``workers``: threads (default: torch's intra-op threads).
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
    device = flat_x.device

    def run(blk: _Block, t0: int, t1: int) -> None:
        net, k = blk.net, blk.hi - blk.lo
        for t in range(t0, t1):
            ii = blk.indices(t, device)
            xb = flat_x.index_select(0, ii).view(k, batch, -1)
            yb = flat_y.index_select(0, ii).view(k, batch, -1)
            losses[t, blk.lo : blk.hi] = sgd_step(net, xb, yb, lr)

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
                with torch_threads(1 if device.type == "cpu" else None):
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
