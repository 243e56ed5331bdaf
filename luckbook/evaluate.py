"""Evaluating a student ensemble against its teachers on a fixed sample set, in seed chunks."""

from __future__ import annotations

import dataclasses

import torch

from .ensemble import Forward, Net
from .metrics import activation_correlation, fanout_norms, square_loss

MAX_CHUNK_BYTES = 256 * 2**20
"""Seeds are evaluated in groups whose student activations fit in about this much memory."""


@dataclasses.dataclass
class Probe:
    """A fixed sample set with the teacher's activations on it, precomputed once.

    ``x``: ``[S, N, d]``; the teacher's forward pass is computed at construction.
    """

    teacher: Net
    x: torch.Tensor

    def __post_init__(self) -> None:
        self.x = self.x.to(self.teacher.device, self.teacher.dtype)
        self.t: Forward = self.teacher.forward(self.x)

    def loss(self, student: Net) -> torch.Tensor:
        """``[S]``: the square loss of every student on this set."""
        return self.evaluate(student, correlations=False)["loss"]

    def evaluate(
        self, student: Net, correlations: bool = True
    ) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """Loss ``[S]``, and per hidden layer the correlation ``[S, m_l, n_l]`` and fan-out ``[S, n_l]``."""
        n_seeds, n = self.x.shape[:2]
        width = max(student.widths[1:])
        per_seed = n * width * self.x.element_size() * (2 * student.depth)
        chunk = max(1, min(n_seeds, MAX_CHUNK_BYTES // max(per_seed, 1)))
        losses, corrs = [], []
        for lo in range(0, n_seeds, chunk):
            sl = slice(lo, min(lo + chunk, n_seeds))
            fs = student.select(sl).forward(self.x[sl])
            losses.append(square_loss(self.t.out[sl], fs.out))
            if correlations:
                corrs.append(
                    [
                        activation_correlation(ht[sl], hs)
                        for ht, hs in zip(self.t.hidden, fs.hidden, strict=True)
                    ]
                )
        out: dict[str, torch.Tensor | list[torch.Tensor]] = {"loss": torch.cat(losses)}
        if correlations:
            out["corr"] = [torch.cat([c[l] for c in corrs]) for l in range(student.depth - 1)]
            out["fanout"] = [fanout_norms(w) for w in student.weights[1:]]
        return out
