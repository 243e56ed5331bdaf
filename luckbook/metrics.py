"""The papers' metrics as pure functions over tensors (leading seed axes allowed).

Shapes: ``N`` samples, ``K_t`` teacher nodes, ``K_s`` student nodes; ``...`` is any number of
leading axes (usually the seed axis ``S``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .config import check_taus

EPS = 1e-10
"""Added to the norms in the correlation (SS), so a dead node has correlation 0, not NaN."""


def activation_correlation(h_t: torch.Tensor, h_s: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of teacher and student activations over samples (LM, SS).

    ``h_t [..., N, K_t]``, ``h_s [..., N, K_s]`` -> ``[..., K_t, K_s]``: centre each column over
    the samples, take inner products, divide by both norms (plus ``EPS``).
    """
    if h_t.shape[:-1] != h_s.shape[:-1]:
        raise ValueError(
            f"h_t {tuple(h_t.shape)} and h_s {tuple(h_s.shape)} must agree except in the last axis"
        )
    ct = h_t - h_t.mean(dim=-2, keepdim=True)
    cs = h_s - h_s.mean(dim=-2, keepdim=True)
    inner = ct.transpose(-1, -2) @ cs
    nt = ct.norm(dim=-2)[..., :, None] + EPS
    ns = cs.norm(dim=-2)[..., None, :] + EPS
    return inner / (nt * ns)


def best_per_teacher(corr: torch.Tensor) -> torch.Tensor:
    """``[..., K_t, K_s] -> [..., K_t]``: each teacher node's best correlation over students."""
    return corr.amax(dim=-1)


def best_per_student(corr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[..., K_t, K_s] -> ([..., K_s], [..., K_s])``: each student's best correlation and
    which teacher."""
    values, index = corr.max(dim=-2)
    return values, index


def covered(corr: torch.Tensor, taus: Sequence[float]) -> dict[float, torch.Tensor]:
    """Number of teacher nodes covered at each threshold (SS): ``{tau: [...]}``.

    A teacher node is covered at ``tau`` when some student's correlation with it exceeds ``tau``.
    """
    taus = check_taus("tau", taus)
    best = best_per_teacher(corr)
    return {tau: (best > tau).sum(dim=-1) for tau in taus}


def fanout_norms(w_next: torch.Tensor) -> torch.Tensor:
    """Fan-out weight norm of each node: norms of the rows of the next layer, bias row excluded.

    ``w_next [..., n + 1, out] -> [..., n]`` (SS).
    """
    return w_next[..., :-1, :].norm(dim=-1)


def observability(z_t: torch.Tensor, z_s: torch.Tensor) -> torch.Tensor:
    """How well each student node "sees" each teacher boundary (SS).

    ``z_t [..., N, K_t]``, ``z_s [..., N, K_s]`` are pre-activations. Returns ``[..., K_t, K_s]``:
    ``min(#{teacher on, student on}, #{teacher off, student on})`` as a count of samples.
    """
    t_on = (z_t > 0).to(z_s.dtype)
    s_on = (z_s > 0).to(z_s.dtype)
    both = t_on.transpose(-1, -2) @ s_on
    off_on = (1 - t_on).transpose(-1, -2) @ s_on
    return torch.minimum(both, off_on)


def square_loss(y_t: torch.Tensor, y_s: torch.Tensor) -> torch.Tensor:
    """The papers' loss ``½ · mean over samples of ‖y_t − y_s‖²``: ``[..., N, c] -> [...]``."""
    return 0.5 * (y_t - y_s).square().sum(dim=-1).mean(dim=-1)


def effective_rank(w: torch.Tensor) -> torch.Tensor:
    """Effective rank (Roy & Vetterli): ``exp`` of the entropy of the normalised singular values.

    ``[..., a, b] -> [...]``; equals the rank for a matrix with equal non-zero singular values.
    """
    s = torch.linalg.svdvals(w)
    p = s / s.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(s.dtype).tiny)
    entropy = -(p * torch.log(p.clamp_min(torch.finfo(s.dtype).tiny))).sum(dim=-1)
    return torch.exp(entropy)


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine between vectors along the last axis: ``[..., k], [..., k] -> [...]``."""
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(EPS)


# ----------------------------------------------------------------------------- the L-shape
L_SHAPE_LOW = 0.6
"""Student nodes with best correlation below this are the L-shape's *unspecialized* arm."""
L_SHAPE_HIGH = 0.95
"""Student nodes with best correlation above this are its *specialized* arm."""


def l_shape_medians(
    best: np.ndarray, fanout: np.ndarray, low: float = L_SHAPE_LOW, high: float = L_SHAPE_HIGH
) -> tuple[float, float, int, int]:
    """The L-shape of SS (arXiv:1909.13458, Fig. 6; OC Fig. 5): over student nodes with best
    correlation ``best`` and fan-out norm ``fanout`` (equal shapes, pooled), the median fan-out
    of the nodes with ``best < low`` and of those with ``best > high``, and the two counts
    (a median over no node is ``nan``)."""
    best, fanout = np.asarray(best).ravel(), np.asarray(fanout).ravel()
    lo, hi = fanout[best < low], fanout[best > high]
    return _median(lo), _median(hi), int(len(lo)), int(len(hi))


def l_shape_ratio(
    best: np.ndarray, fanout: np.ndarray, low: float = L_SHAPE_LOW, high: float = L_SHAPE_HIGH
) -> float:
    """The L-shape statistic: the ratio of medians of :func:`l_shape_medians`, median fan-out
    of unspecialized nodes over that of specialized ones (small = an L); ``nan`` when either
    group is empty or the specialized median is not positive."""
    return ratio_of_medians(*l_shape_medians(best, fanout, low, high))


def ratio_of_medians(lo: float, hi: float, n_lo: int, n_hi: int) -> float:
    """``lo / hi`` from :func:`l_shape_medians`' output; ``nan`` when a group is empty or
    ``hi <= 0``."""
    return lo / hi if n_lo and n_hi and hi > 0 else math.nan


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else math.nan
