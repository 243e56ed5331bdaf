"""Inputs: Gaussian, unit sphere, boundary-augmented (E5); minibatch sources for training.

Every sampler takes the list of ``seeds`` and a stream name and returns ``[S, N, d]``:
seed ``s`` always gets the same points, whatever else is in the ensemble.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch

from .config import check_float, check_int
from .ensemble import Net, with_ones
from .rng import generator

CHUNK_VALUES = 2**17
"""Per seed, minibatch randomness is drawn in chunks of about this many numbers. The chunk
length depends only on the batch shape (never on the number of seeds or steps), and whole
chunks are always drawn, so seed ``s`` sees the same minibatches alone or in an ensemble, and
the first ``k`` steps do not depend on how many steps follow."""


def _chunk_steps(per_step: int) -> int:
    return max(1, CHUNK_VALUES // per_step)


def gaussian(
    n: int, d: int, seeds: Sequence[int], *, data_std: float = 1.0, stream: str = "train_data"
) -> torch.Tensor:
    """``x ~ N(0, data_std² I_d)``: ``[S, n, d]`` float64 on the CPU."""
    n = check_int("n", n)
    d = check_int("d", d)
    data_std = check_float("data_std", data_std, low=0.0, low_open=True)
    return torch.stack(
        [
            data_std * torch.randn(n, d, generator=generator(s, stream), dtype=torch.float64)
            for s in seeds
        ]
    )


def unit_sphere(
    n: int, d: int, seeds: Sequence[int], *, stream: str = "train_data"
) -> torch.Tensor:
    """Points uniform on the unit sphere of ``R^d`` (E9): ``[S, n, d]`` float64 on the CPU."""
    x = gaussian(n, d, seeds, stream=stream)
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-300)


def boundary_augmented(
    teacher: Net,
    n: int,
    seeds: Sequence[int],
    *,
    data_std: float = 1.0,
    alpha_mean: float = 1.0,
    alpha_sigma: float = 1.0,
    stream: str = "train_data",
) -> torch.Tensor:
    """Points on and on both sides of every first-layer teacher boundary (SS, E5).

    The released ``theory_suggest_train`` construction. For teacher node ``i`` with weights
    ``w_i`` and bias ``b_i``: draw ``k = ⌈n/(3m)⌉`` Gaussian points ``x ~ N(0, data_std² I)``
    and project them onto the boundary **in homogeneous coordinates**: ``(x, 1)`` is projected
    onto the hyperplane through the origin orthogonal to ``(w_i, b_i)``, and the result is
    divided by its last coordinate ``q = 1 − b_i (w_iᵀx + b_i)/‖(w_i, b_i)‖²``. The point lies
    exactly on ``w_iᵀx + b_i = 0`` but its norm is scaled by ``1/q`` (``q`` varies by about
    ±15 % per standard deviation at the released setting). Keep the projected points plus copies
    shifted by ``±α w_i`` with ``α = alpha_mean + alpha_sigma·U[0, 1]`` (released defaults
    ``U[1, 2]``; SS's supplementary Fig. 9 uses ``U[2, 4]``); pool the ``3km`` points of all
    teacher nodes, keep ``n`` of them at random, and finally rescale every point to norm
    ``data_std·√d``. The rescale moves the projected points off their boundary by
    ``|b_i|·|1 − c|`` with ``c = data_std·√d/‖x‖`` (zero when ``b_i = 0``). Returns
    ``[S, n, d]`` float64 on the CPU.
    """
    n = check_int("n", n)
    data_std = check_float("data_std", data_std, low=0.0, low_open=True)
    alpha_mean = check_float("alpha_mean", alpha_mean)
    alpha_sigma = check_float("alpha_sigma", alpha_sigma, low=0.0)
    if len(seeds) != teacher.n_seeds:
        raise ValueError(f"seeds has {len(seeds)} entries; the teacher has {teacher.n_seeds} seeds")
    w1 = teacher.weights[0].detach().to("cpu", torch.float64)  # [S, d + 1, m]
    d, m = w1.shape[1] - 1, w1.shape[2]
    k = math.ceil(n / (3 * m))
    out = []
    for s, seed in enumerate(seeds):
        gen = generator(seed, stream)
        points = []
        for i in range(m):
            wt = w1[s, :, i]  # (w_i, b_i): the node in homogeneous coordinates
            w = wt[:d]
            x = data_std * torch.randn(k, d, generator=gen, dtype=torch.float64)
            xt = with_ones(x)
            xt = xt - ((xt @ wt) / wt.dot(wt))[:, None] * wt  # onto (w_i, b_i)ᵀ(x, 1) = 0
            x = xt[:, :d] / xt[:, d:]
            alpha = alpha_mean + alpha_sigma * torch.rand(k, 1, generator=gen, dtype=torch.float64)
            points += [x, x + alpha * w, x - alpha * w]
        x = torch.cat(points)
        x = x[torch.randperm(len(x), generator=gen)[:n]]
        out.append(x * (data_std * math.sqrt(d)) / x.norm(dim=-1, keepdim=True).clamp_min(1e-300))
    return torch.stack(out)


class FixedSet:
    """A fixed training set per seed; SGD minibatches are drawn *with replacement* (SS/E4).

    Args:
        x: inputs ``[S, N, d]``; y: targets ``[S, N, c]`` (e.g. the teacher's outputs).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if x.ndim != 3 or y.ndim != 3 or x.shape[:2] != y.shape[:2]:
            raise ValueError(
                f"x {tuple(x.shape)} and y {tuple(y.shape)} must be [S, N, d] and [S, N, c]"
            )
        self.x1 = with_ones(x)
        self.y = y

    def batches(
        self, seeds: Sequence[int], steps: int, batch: int | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``steps`` pairs ``(x1 [S, B, d+1], y [S, B, c])``; ``batch=None``: the full
        set (GD)."""
        if batch is None:
            for _ in range(steps):
                yield self.x1, self.y
            return
        n_seeds, n = self.x1.shape[:2]
        # One flat gather per step: row s·N + i of the flattened set is sample i of seed s.
        flat_x = self.x1.reshape(n_seeds * n, -1)
        flat_y = self.y.reshape(n_seeds * n, -1)
        offset = (torch.arange(n_seeds) * n)[:, None]
        gens = [generator(s, "batches") for s in seeds]
        chunk = _chunk_steps(batch)
        done = 0
        while done < steps:
            k = min(chunk, steps - done)
            idx = torch.stack([torch.randint(n, (chunk, batch), generator=g) for g in gens], dim=1)[
                :k
            ]
            idx = (idx + offset).reshape(k, n_seeds * batch).to(self.x1.device)
            for i in range(k):
                yield (
                    flat_x.index_select(0, idx[i]).view(n_seeds, batch, -1),
                    flat_y.index_select(0, idx[i]).view(n_seeds, batch, -1),
                )
            done += k


class FreshGaussian:
    """A fresh Gaussian batch every step, labelled by ``teacher`` (LM/E1)."""

    def __init__(self, teacher: Net, data_std: float = 1.0) -> None:
        self.teacher = teacher
        self.data_std = check_float("data_std", data_std, low=0.0, low_open=True)

    def batches(
        self, seeds: Sequence[int], steps: int, batch: int | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``steps`` pairs ``(x1 [S, B, d+1], teacher(x) [S, B, c])`` of new samples."""
        if batch is None:
            raise ValueError("batch=None is not allowed with fresh samples: give a batch size >= 1")
        d = self.teacher.widths[0]
        gens = [generator(s, "batches") for s in seeds]
        chunk = _chunk_steps(batch * d)
        done = 0
        while done < steps:
            k = min(chunk, steps - done)
            x = torch.stack(
                [torch.randn(chunk, batch, d, generator=g, dtype=torch.float64) for g in gens], 1
            )[:k]
            x = (self.data_std * x).to(self.teacher.device, self.teacher.dtype)
            for i in range(k):
                x1 = with_ones(x[i])
                yield x1, self.teacher(x1)
            done += k
