"""Evaluating a student ensemble against its teachers on a fixed sample set, in seed chunks."""

from __future__ import annotations

import dataclasses

import torch

from .ensemble import Forward, Net, activate
from .metrics import EPS, fanout_norms

SEED_GROUP = 2
"""Seeds evaluated together: keeps the ``[k, N, n]`` temporaries small (cache-friendly)."""


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

    def loss(self, student: Net) -> torch.Tensor:
        """``[S]``: the square loss of every student on this set."""
        return self.evaluate(student, correlations=False)["loss"]

    def evaluate(
        self, student: Net, correlations: bool = True
    ) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        """Loss ``[S]``, and per hidden layer the correlation ``[S, m_l, n_l]`` and fan-out
        ``[S, n_l]``.

        Same values as :func:`~luckbook.metrics.activation_correlation` and
        :func:`~luckbook.metrics.square_loss` on a full forward pass, computed seed group by
        seed group with few temporaries: the teacher's centred activations sum to zero over the
        samples, so the student's need centring only for their norms.
        """
        x1 = self.t.inputs[0]
        n_seeds, n = x1.shape[:2]
        losses, corrs = [], []
        for lo in range(0, n_seeds, SEED_GROUP):
            sl = slice(lo, min(lo + SEED_GROUP, n_seeds))
            ws = [w[sl] for w in student.weights]
            a = torch.bmm(x1[sl], ws[0])
            layer_corrs = []
            for l in range(student.depth - 1):
                h = (
                    a.clamp_min_(0)
                    if student.activation == "relu"
                    else activate(a, student.activation, student.slope)
                )
                w = ws[l + 1]
                a = torch.baddbmm(w[:, -1:, :], h, w[:, :-1, :])
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
        out: dict[str, torch.Tensor | list[torch.Tensor]] = {"loss": torch.cat(losses)}
        if correlations:
            out["corr"] = [torch.cat([c[l] for c in corrs]) for l in range(student.depth - 1)]
            out["fanout"] = [fanout_norms(w) for w in student.weights[1:]]
        return out
