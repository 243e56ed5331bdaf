"""The neural correlation function and its KKT points on the unit sphere (E9, DC).

Kumar & Haupt (2024) define, for a positively homogeneous network ``H(x; θ)`` and targets ``y``, the
*neural correlation function* (NCF) ``N(u) = Σᵢ yᵢ H(xᵢ; u)`` and the constrained problem
``max N(u) s.t. ‖u‖ = 1``. Near the origin the square-loss gradient flow is
``dθ/dt = Σᵢ (yᵢ − H(xᵢ; θ)) ∇H(xᵢ; θ) ≈ ∇N(θ)``, whose direction follows the projected
gradient flow of ``N`` on the sphere; small initialisations therefore first converge in
*direction* to a KKT point ``u*`` of that problem, ``∇N(u*) = λ u*`` with ``λ = K·N(u*)``.

For a two-layer net ``N`` is a sum over hidden neurons of ``n(w_j, a_j) = a_j Σᵢ yᵢ σ(w_jᵀ xᵢ)``,
and the block of neuron ``j`` moves under its own ``n`` only: the direction of each neuron
converges to a KKT point of ``n`` on the sphere of ``R^{d+1}``. For deeper nets the neurons
are coupled and we use KKT points of the whole ``N``.

This module finds KKT points by projected gradient ascent from many starts and collects the
first-layer neuron directions they contain, deduplicated (:func:`kkt_directions`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from .config import check_float, check_int
from .homogeneous_net import backward, forward, sigma


def ncf(
    weights: Sequence[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    activation: str = "relu",
    slope: float = 0.01,
) -> torch.Tensor:
    """``N(u) = Σᵢ yᵢ H(xᵢ; u)``: weights ``[B, …]``, ``x [B, N, d]``, ``y [B, N]`` -> ``[B]``."""
    out, _ = forward(weights, x, activation, slope)
    return (y * out).sum(-1)


def ncf_grad(
    weights: Sequence[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    activation: str = "relu",
    slope: float = 0.01,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``(N(u) [B], ∇N(u))`` by explicit back-propagation with output gradient ``y``."""
    out, pres = forward(weights, x, activation, slope)
    return (y * out).sum(-1), backward(weights, x, pres, y, activation, slope)


def _block_norms(weights: Sequence[torch.Tensor], per_neuron: bool) -> list[torch.Tensor]:
    """Norms to divide by: per neuron ``(w_j, a_j)`` blocks (two layers) or the whole ``θ``."""
    if per_neuron:
        w1, w2 = weights
        nrm = torch.sqrt(w1.square().sum(1) + w2.square().sum(2)).clamp_min(1e-300)  # [B, n]
        return [nrm.unsqueeze(1), nrm.unsqueeze(2)]
    nrm = torch.sqrt(sum(w.square().sum(dim=(1, 2)) for w in weights)).clamp_min(1e-300)
    return [nrm.view(-1, 1, 1)] * len(weights)


def normalize(weights: Sequence[torch.Tensor], per_neuron: bool = False) -> list[torch.Tensor]:
    """Project onto the unit sphere (of ``θ``, or of every neuron block when ``per_neuron``)."""
    return [w / n for w, n in zip(weights, _block_norms(weights, per_neuron), strict=True)]


@dataclasses.dataclass
class Ascent:
    """Result of :func:`projected_ascent` (``B`` starts).

    Attributes:
        weights: the end points ``u`` (unit norm overall, or per neuron block).
        value: ``N(u) [B]`` (two layers, per neuron: ``n(u_j) [B, n]``).
        residual: relative KKT residual ``‖∇N − (uᵀ∇N) u‖ / ‖∇N‖`` (per block when per neuron).
    """

    weights: list[torch.Tensor]
    value: torch.Tensor
    residual: torch.Tensor


def projected_ascent(
    weights: Sequence[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    activation: str = "relu",
    slope: float = 0.01,
    lr: float = 0.05,
    steps: int = 2000,
    per_neuron: bool = False,
) -> Ascent:
    """Projected gradient ascent of ``N`` on the unit sphere: ``u ← (u + η ∇N(u)) / ‖·‖``.

    ``per_neuron=True`` (two-layer nets only) projects every neuron block ``(w_j, a_j)`` onto
    its own sphere, i.e. runs the ascent of every per-neuron ``n`` at once. The step is scaled
    by ``1/max(1, ‖∇N‖)`` per start so that one ``lr`` suits every data set.
    """
    lr = check_float("lr", lr, low=0.0, low_open=True)
    steps = check_int("steps", steps, minimum=1)
    if per_neuron and len(weights) != 2:
        raise ValueError(
            f"per_neuron=True is not allowed for depth {len(weights)}: it needs depth 2"
        )
    u = normalize(weights, per_neuron)
    for _ in range(steps):
        _, g = ncf_grad(u, x, y, activation, slope)
        scale = (
            torch.sqrt(sum(gl.square().sum(dim=(1, 2)) for gl in g)).clamp_min(1.0).view(-1, 1, 1)
        )
        u = normalize([ul + lr * gl / scale for ul, gl in zip(u, g, strict=True)], per_neuron)
    val, g = ncf_grad(u, x, y, activation, slope)
    if per_neuron:
        w1, w2 = u
        g1, g2 = g
        inner = (w1 * g1).sum(1) + (w2 * g2).sum(2)  # [B, n]
        gn = torch.sqrt(g1.square().sum(1) + g2.square().sum(2))
        rn = torch.sqrt(
            (g1 - inner.unsqueeze(1) * w1).square().sum(1)
            + (g2 - inner.unsqueeze(2) * w2).square().sum(2)
        )
        value = w2.squeeze(2) * (y.unsqueeze(-1) * sigma(x @ w1, activation, slope)).sum(1)
        return Ascent(u, value, rn / gn.clamp_min(1e-300))
    inner = sum((ul * gl).sum(dim=(1, 2)) for ul, gl in zip(u, g, strict=True))
    rn = torch.sqrt(
        sum(
            (gl - inner.view(-1, 1, 1) * ul).square().sum(dim=(1, 2))
            for ul, gl in zip(u, g, strict=True)
        )
    )
    gn = torch.sqrt(sum(gl.square().sum(dim=(1, 2)) for gl in g))
    return Ascent(u, val, rn / gn.clamp_min(1e-300))


def dedupe(
    directions: torch.Tensor, values: torch.Tensor, tol: float = 1e-3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy deduplication: keep a unit vector unless its cosine with a kept one exceeds
    ``1 − tol``.

    ``directions [M, d]`` (unit rows), ``values [M]``; rows are visited by decreasing value.
    Returns ``(unique [K, d], values [K])``.
    """
    order = torch.argsort(values, descending=True)
    kept: list[int] = []
    for i in order.tolist():
        if kept and (directions[kept] @ directions[i]).max() > 1 - tol:
            continue
        kept.append(i)
    idx = torch.tensor(kept, dtype=torch.long)
    return directions[idx], values[idx]


@dataclasses.dataclass
class KKTSet:
    """Deduplicated first-layer neuron directions at KKT points, for one seed.

    Attributes:
        directions: ``[K, d]`` unit vectors ``w/‖w‖`` of first-layer neurons at KKT points.
        values: ``[K]`` per direction, the KKT value it belongs to: two layers ``n(u_j)`` of the
            neuron's block; deeper nets ``N(u)`` of the whole KKT point.
        max_value: the largest ``N`` found on the unit sphere (``N*``).
        residual: the median relative KKT residual of the kept end points (ReLU maxima often
            sit on a kink, where the smooth residual is not zero).
    """

    directions: torch.Tensor
    values: torch.Tensor
    max_value: float
    residual: float


def kkt_directions(
    starts: Sequence[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    activation: str = "relu",
    slope: float = 0.01,
    lr: float = 0.05,
    steps: int = 1000,
    min_share: float = 0.05,
    tol: float = 1e-3,
) -> list[KKTSet]:
    """KKT points of ``max N(u), ‖u‖ = 1`` from ``R`` start points per seed.

    Args:
        starts: ``W_l [S, R, w_l, w_{l+1}]``, e.g. each run's own initial direction plus
            random ones.
        x, y: ``[S, N, d]`` inputs and ``[S, N]`` targets.
        min_share: deeper nets: keep first-layer neurons whose incoming norm is at least this
            fraction of the largest in their KKT point (the others have vanished there).
        tol: directions closer than cosine ``1 − tol`` count as one.

    Two-layer nets use the per-neuron problem (every neuron of every start is one ascent);
    only neurons with a positive value ``n > 0`` are kept — only those grow under the flow.
    Returns one :class:`KKTSet` per seed; all ascents run as one batch.
    """
    s_count, r = starts[0].shape[:2]
    flat = [w.reshape(s_count * r, *w.shape[2:]) for w in starts]
    xb = x.unsqueeze(1).expand(s_count, r, *x.shape[1:]).reshape(s_count * r, *x.shape[1:])
    yb = y.unsqueeze(1).expand(s_count, r, y.shape[-1]).reshape(s_count * r, y.shape[-1])
    per_neuron = len(starts) == 2
    asc = projected_ascent(
        flat, xb, yb, activation=activation, slope=slope, lr=lr, steps=steps, per_neuron=per_neuron
    )
    rows = asc.weights[0].transpose(1, 2)  # [S·R, n, d]
    rn = rows.norm(dim=-1)
    if per_neuron:
        keep, vals, res = asc.value > 0, asc.value, asc.residual
    else:
        keep = rn >= min_share * rn.amax(dim=1, keepdim=True)
        vals = asc.value.unsqueeze(1).expand_as(rn)
        res = asc.residual.unsqueeze(1).expand_as(rn)
    dirs = rows / rn.unsqueeze(-1).clamp_min(1e-300)
    out = []
    for s in range(s_count):
        sl = slice(s * r, (s + 1) * r)
        k = keep[sl]
        uniq, uvals = dedupe(dirs[sl][k], vals[sl][k], tol)
        # two layers: N(u) = Σ ‖u_j‖^K n(û_j) <= max n, so N* is the best neuron's value
        out.append(
            KKTSet(
                uniq,
                uvals,
                float(asc.value[sl].max()),
                float(res[sl][k].median()) if k.any() else float("nan"),
            )
        )
    return out


def nearest_cosine(rows: torch.Tensor, kkt: torch.Tensor) -> torch.Tensor:
    """Cosine of every row ``[n, d]`` with its nearest direction in ``kkt [K, d]``: ``[n]``."""
    unit = rows / rows.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    if kkt.shape[0] == 0:
        return torch.full((rows.shape[0],), float("nan"), dtype=rows.dtype)
    return (unit @ kkt.T).amax(dim=-1)
