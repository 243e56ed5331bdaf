"""Evaluating a student ensemble against its teachers on a fixed sample set, in seed chunks;
evaluating training snapshots on a background thread (:class:`SnapshotWorker`)."""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import os
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from .ensemble import Forward, Net, activate
from .metrics import EPS, fanout_norms

SEED_GROUP = 2
"""Seeds evaluated together: keeps the ``[k, N, n]`` temporaries small (cache-friendly)."""

T = TypeVar("T")


@dataclasses.dataclass
class Probe:
    """A fixed sample set with the teacher's activations on it, precomputed once.

    ``x``: ``[S, N, d]``; the teacher's forward pass is computed at construction, and its
    hidden activations are centred once (``[S, m_l, N]``) for the correlations.
    """

    teacher: Net
    x: torch.Tensor

    def __post_init__(self) -> None:
        self.x = self.x.to(self.teacher.device, self.teacher.dtype)
        self.t: Forward = self.teacher.forward(self.x)
        self._ct = [
            (h - h.mean(dim=-2, keepdim=True)).transpose(1, 2).contiguous() for h in self.t.hidden
        ]
        self._ct_norm = [ct.norm(dim=-1) + EPS for ct in self._ct]  # [S, m_l]
        self._work: tuple[torch.Tensor, torch.Tensor] | None = None

    def loss(self, student: Net) -> torch.Tensor:
        """``[S]``: the square loss of every student on this set."""
        return self.evaluate(student, correlations=False)["loss"]

    def _buffers(
        self, k: int, n: int, width: int, like: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Two reusable ``[k, n, width]`` work arrays (views of two flat buffers kept on the
        probe). A fresh ``[k, N, n]`` temporary is new memory whose pages the kernel must map
        and zero on first touch; at E4's size that cost as much as the matmul writing it."""
        size = k * n * width
        work = self._work
        if (
            work is None
            or work[0].numel() < size
            or work[0].dtype != like.dtype
            or work[0].device != like.device
        ):
            work = self._work = (like.new_empty(size), like.new_empty(size))
        return work[0][:size].view(k, n, width), work[1][:size].view(k, n, width)

    def evaluate(
        self, student: Net, correlations: bool = True, live: bool = False
    ) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """Loss ``[S]``, and per hidden layer the correlation ``[S, m_l, n_l]`` and fan-out
        ``[S, n_l]``; with ``live``, also per hidden layer whether each student node's
        activation varies over the set (``"live"``, bool ``[S, n_l]``).

        Same values as :func:`~luckbook.metrics.activation_correlation` and
        :func:`~luckbook.metrics.square_loss` on a full forward pass, computed seed group by
        seed group with few temporaries (two work arrays reused across groups and calls): the
        teacher's centred activations sum to zero over the samples, so the student's need
        centring only for their norms.
        """
        x1 = self.t.inputs[0]
        n_seeds, n = x1.shape[:2]
        group = min(SEED_GROUP, n_seeds)
        buf_a, buf_b = self._buffers(group, n, max(student.widths[1:]), student.weights[0])
        losses, corrs, lives = [], [], []
        for lo in range(0, n_seeds, group):
            sl = slice(lo, min(lo + group, n_seeds))
            k = sl.stop - sl.start
            ws = [w[sl] for w in student.weights]
            a = _view(buf_a, k, n, ws[0].shape[2])
            torch.bmm(x1[sl], ws[0], out=a)
            layer_corrs, layer_live = [], []
            for l in range(student.depth - 1):
                if student.activation == "relu":
                    h = a.clamp_min_(0)
                else:
                    h = activate(a, student.activation, student.slope)
                if live:
                    lo_h, hi_h = torch.aminmax(h, dim=1)
                    layer_live.append(hi_h > lo_h)
                w = ws[l + 1]
                nxt = _view(buf_b if a.data_ptr() == buf_a.data_ptr() else buf_a, k, n, w.shape[2])
                a = torch.baddbmm(w[:, -1:, :], h, w[:, :-1, :], out=nxt)
                if correlations:
                    inner = torch.bmm(self._ct[l][sl], h)  # [k, m, n]
                    h_norm = (
                        torch.linalg.vector_norm(h.sub_(h.mean(dim=1, keepdim=True)), dim=1) + EPS
                    )
                    layer_corrs.append(
                        inner / (self._ct_norm[l][sl][:, :, None] * h_norm[:, None, :])
                    )
            diff = a.sub_(self.t.out[sl])
            losses.append(0.5 * torch.linalg.vector_norm(diff, dim=(1, 2)).square() / n)
            corrs.append(layer_corrs)
            lives.append(layer_live)
        out: dict[str, torch.Tensor | list[torch.Tensor]] = {"loss": torch.cat(losses)}
        if correlations:
            out["corr"] = [torch.cat([c[l] for c in corrs]) for l in range(student.depth - 1)]
            out["fanout"] = [fanout_norms(w) for w in student.weights[1:]]
        if live:
            out["live"] = [torch.cat([v[l] for v in lives]) for l in range(student.depth - 1)]
        return out


def _view(buf: torch.Tensor, k: int, n: int, width: int) -> torch.Tensor:
    """The leading ``k · n · width`` elements of the work array ``buf`` as ``[k, n, width]``."""
    return buf.view(-1)[: k * n * width].view(k, n, width)


class SnapshotWorker:
    """Evaluates training snapshots on one background thread while training goes on.

    :meth:`submit` hands ``fn(*args)`` to the worker and returns its
    :class:`~concurrent.futures.Future`; the snapshots are evaluated one at a time, in the
    order submitted, so the work arrays of a :class:`Probe` are never used by two threads at
    once (the caller must not use the same probes while snapshots are pending). At most
    ``max_pending`` evaluations are queued or running: a further :meth:`submit` first waits
    for the oldest, which bounds the memory of queued snapshots (each holds its own copy of
    the weights: pass a copy, never the live network). An exception raised by an evaluation
    is raised again by :meth:`submit` (the next one) or by ``future.result()``.

    torch's intra-op thread count is one setting for the whole process (setting it on the
    worker sets it for every thread), so the worker runs with the caller's: the same
    operations on the same numbers as evaluating on the calling thread.

    ``background``: ``None`` (default) evaluates on the worker only where a core is left for
    it (a CPU run whose torch threads are fewer than the cores; otherwise the worker's threads
    would spin against the training's), else on the calling thread at :meth:`submit`;
    ``True``/``False`` force either. The numbers are the same either way.

    Use it as a context manager: on leaving, pending evaluations that have not started are
    cancelled if the block raised, and the worker thread is joined either way.
    """

    def __init__(self, max_pending: int = 4, background: bool | None = None) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending={max_pending!r} is not allowed: expected >= 1")
        if background is None:
            background = torch.get_num_threads() < (os.cpu_count() or 1)
        self.max_pending = max_pending
        self.background = bool(background)
        self._pool = (
            concurrent.futures.ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="luckbook-snapshot",
            )
            if self.background
            else None
        )
        self._pending: collections.deque[concurrent.futures.Future[Any]] = collections.deque()

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Queue ``fn(*args)`` on the worker (after waiting for room); returns its future."""
        if self._pool is None:  # in line: evaluated now, handed back as a finished future
            done: concurrent.futures.Future[T] = concurrent.futures.Future()
            done.set_result(fn(*args))
            return done
        while self._pending and self._pending[0].done():
            self._pending.popleft().result()  # raises a finished evaluation's error now
        while len(self._pending) >= self.max_pending:
            self._pending.popleft().result()
        future = self._pool.submit(fn, *args)
        self._pending.append(future)
        return future

    def close(self, cancel: bool = False) -> None:
        """Join the worker thread; with ``cancel``, drop the evaluations not yet started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
        self._pending.clear()

    def __enter__(self) -> SnapshotWorker:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close(cancel=exc_type is not None)
