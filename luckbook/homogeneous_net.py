"""Bias-free *positively homogeneous* networks with a leading seed axis, square loss, gradient
flow (E9, DC).

A depth-``L`` network ``H(x; θ) = W_Lᵀ σ(W_{L-1}ᵀ σ(… σ(W_1ᵀ x)))`` with no biases and a
scalar output. Every weight ``W_l`` has shape ``[S, in_l, out_l]`` (``S`` seeds). With
``σ`` ReLU or Leaky ReLU the network is positively ``L``-homogeneous in ``θ``:
``H(x; cθ) = c^L H(x; θ)`` for ``c > 0``; with the squared ReLU ``σ(z) = max(z, 0)²`` the
degree is higher (:func:`homogeneity`).

"Homogeneous" here is this degree in the weights — not the homogeneous coordinates (inputs
with an appended constant 1, biases in the last weight row) of :mod:`luckbook.ensemble`:
these networks have no biases and no constant node. Their activation is :func:`sigma` (its
derivative :func:`sigma_grad`), which also offers the squared ReLU;
:func:`luckbook.ensemble.activate` is the biased networks' ReLU / Leaky ReLU.

Training is gradient flow on the square loss ``ℒ(θ) = ½ Σᵢ (H(xᵢ; θ) − yᵢ)²`` (a *sum* over
the training points, as in Kumar & Haupt 2024), integrated by explicit Euler steps. The
reference integrator is plain full-batch GD with a fixed step ``dt = lr``. For degree
``K > 2`` the time spent near the origin grows like ``δ^{-(K-2)}``, so :func:`flow` can also
take **time-rescaled** steps ``dt_k = lr · clip((ρ/‖θ_k‖)^{K-2}, 1, max_stretch)``: this is
Euler on the reparametrised ODE ``dθ/ds = −g(θ) ∇ℒ(θ)``, ``dt/ds = g(θ)``, which follows the
same path as gradient flow; the elapsed flow time ``t = Σ dt_k`` is tracked per seed. Near
the origin the gradient scales like ``‖θ‖^{K-1}``, so the relative change per step stays
about what plain GD makes at ``‖θ‖ ≈ ρ``; for ``‖θ‖ ≥ ρ`` the step is plain GD.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import torch

from .config import check_choice, check_float, check_int
from .rng import generator
from .train import DivergenceError

ACTIVATIONS = ("relu", "leaky_relu", "relu2")
"""``relu``, ``leaky_relu`` (negative slope ``slope``) and ``relu2`` (squared ReLU)."""


def homogeneity(depth: int, activation: str) -> int:
    """Degree ``K`` of homogeneity of a depth-``depth`` bias-free net: ``H(x; cθ) = c^K H(x; θ)``.

    ReLU / Leaky ReLU: ``K = depth``. Squared ReLU (degree 2 per activation): each layer adds one
    and each activation doubles, so ``K = 3`` for depth 2 and ``7`` for depth 3.
    """
    depth = check_int("depth", depth, minimum=2)
    check_choice("activation", activation, ACTIVATIONS)
    if activation != "relu2":
        return depth
    k = 1
    for _ in range(depth - 1):
        k = 2 * k + 1
    return k


def sigma(z: torch.Tensor, activation: str, slope: float = 0.01) -> torch.Tensor:
    """``σ(z)`` elementwise: ``relu``, ``relu2`` (squared ReLU) or ``leaky_relu``."""
    if activation == "relu":
        return z.clamp_min(0)
    if activation == "relu2":
        return z.clamp_min(0).square()
    return torch.where(z > 0, z, z * slope)


def sigma_grad(z: torch.Tensor, activation: str, slope: float = 0.01) -> torch.Tensor:
    """``σ'(z)`` elementwise (``0`` at the kink for ReLU, as autograd)."""
    if activation == "relu":
        return (z > 0).to(z.dtype)
    if activation == "relu2":
        return 2 * z.clamp_min(0)
    return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, slope))


def widths_for(d: int, width: int, depth: int) -> list[int]:
    """``[d, width, …, width, 1]`` with ``depth`` weight matrices."""
    return [d] + [width] * (depth - 1) + [1]


def init_weights(
    widths: Sequence[int],
    seeds: Sequence[int],
    delta: float,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> list[torch.Tensor]:
    """Small initialisation ``θ(0) = δ·θ̄`` with ``θ̄`` i.i.d. ``N(0, 1)`` (stream ``"student"``).

    The direction ``θ̄`` depends only on the seed, not on ``δ``: runs at different ``δ`` start
    from the same direction. Returns ``W_l`` of shape ``[S, w_l, w_{l+1}]``.
    """
    delta = check_float("delta", delta, low=0.0, low_open=True)
    per_seed = []
    for s in seeds:
        g = generator(s, "student")
        per_seed.append(
            [
                torch.randn(a, b, generator=g, dtype=torch.float64)
                for a, b in zip(widths[:-1], widths[1:], strict=True)
            ]
        )
    return [
        (delta * torch.stack([p[l] for p in per_seed])).to(device, dtype)
        for l in range(len(widths) - 1)
    ]


def teacher_targets(x: torch.Tensor, seeds: Sequence[int], m: int) -> torch.Tensor:
    """Targets ``yᵢ = Σ_k max(w*_kᵀ xᵢ, 0)`` of a bias-free ``m``-node ReLU teacher.

    ``w*_k`` are unit vectors drawn from stream ``"teacher"``; ``x [S, N, d] -> y [S, N]``.
    """
    m = check_int("m", m, minimum=1)
    d = x.shape[-1]
    w = torch.stack(
        [torch.randn(d, m, generator=generator(s, "teacher"), dtype=torch.float64) for s in seeds]
    )
    w = (w / w.norm(dim=1, keepdim=True)).to(x.device, x.dtype)
    return (x @ w).clamp_min(0).sum(-1)


def forward(
    weights: Sequence[torch.Tensor], x: torch.Tensor, activation: str = "relu", slope: float = 0.01
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``H(x; θ)``: ``x [B, N, d] -> (out [B, N], pre-activations per hidden layer
    [B, N, w_l])``."""
    h = x
    pres = []
    for w in weights[:-1]:
        z = h @ w
        pres.append(z)
        h = sigma(z, activation, slope)
    return (h @ weights[-1]).squeeze(-1), pres


def backward(
    weights: Sequence[torch.Tensor],
    x: torch.Tensor,
    pres: Sequence[torch.Tensor],
    out_grad: torch.Tensor,
    activation: str = "relu",
    slope: float = 0.01,
) -> list[torch.Tensor]:
    """``Σᵢ out_grad_i · ∂H(xᵢ; θ)/∂W_l`` for every layer (explicit back-propagation).

    ``out_grad [B, N]``; e.g. ``H − y`` gives ``∇ℒ`` and ``y`` gives ``∇N`` (the neural
    correlation function). Returns gradients shaped like ``weights``.
    """
    grads: list[torch.Tensor] = [torch.empty(0)] * len(weights)
    hs = [x] + [sigma(z, activation, slope) for z in pres]
    delta = out_grad.unsqueeze(-1)  # [B, N, 1]: dLoss/d(output)
    for l in range(len(weights) - 1, -1, -1):
        grads[l] = hs[l].transpose(1, 2) @ delta
        if l:
            delta = (delta @ weights[l].transpose(1, 2)) * sigma_grad(
                pres[l - 1], activation, slope
            )
    return grads


def total_norm(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``‖θ‖`` over all layers: ``[B]``."""
    return torch.sqrt(sum(w.square().sum(dim=(1, 2)) for w in weights))


def square_loss_sum(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``ℒ = ½ Σᵢ (H(xᵢ) − yᵢ)²``: ``[B, N] -> [B]``."""
    return 0.5 * (out - y).square().sum(-1)


@dataclasses.dataclass
class FlowRecord:
    """What :func:`flow` hands to ``on_record`` and keeps: per record, step, flow time ``[S]``,
    ``‖θ‖ [S]`` and loss ``[S]``."""

    steps: list[int]
    time: list[torch.Tensor]
    norm: list[torch.Tensor]
    loss: list[torch.Tensor]
    wall_time_s: float = 0.0


def flow(
    weights: list[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    seeds: Sequence[int],
    lr: float,
    steps: int,
    activation: str = "relu",
    slope: float = 0.01,
    stretch_ref: float | None = None,
    max_stretch: float = 1e6,
    record_every: int = 1,
    on_record: Callable[[int, torch.Tensor, list[torch.Tensor]], None] | None = None,
    stop: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], bool] | None = None,
) -> FlowRecord:
    """Integrate gradient flow ``dθ/dt = −∇ℒ(θ)`` by Euler steps, in place (E9).

    Args:
        weights: ``W_l [S, w_l, w_{l+1}]``, updated in place.
        x, y: ``[S, N, d]`` inputs and ``[S, N]`` targets.
        lr: the Euler step ``η`` in flow time (plain GD when ``stretch_ref`` is ``None``).
        steps: the most Euler steps.
        stretch_ref: ``ρ``; if given, steps are time-rescaled, ``dt = η·clip((ρ/‖θ‖)^{K-2}, 1,
            max_stretch)`` with ``K`` the degree of homogeneity (module docstring).
        record_every: record time, norm and loss every this many steps (and at step 0 and the end).
        on_record: ``on_record(step, time [S], weights)`` at every record.
        stop: ``stop(time [S], norm [S], loss [S]) -> bool`` checked at every record; ``True`` ends
            the run early.

    Raises:
        DivergenceError: the loss became NaN or inf.
    """
    lr = check_float("lr", lr, low=0.0, low_open=True)
    steps = check_int("steps", steps, minimum=1)
    record_every = check_int("record_every", record_every, minimum=1)
    degree = homogeneity(len(weights), activation)
    s_count = x.shape[0]
    t = torch.zeros(s_count, dtype=x.dtype, device=x.device)
    rec = FlowRecord([], [], [], [])
    start = time.perf_counter()
    for k in range(steps + 1):
        out, pres = forward(weights, x, activation, slope)
        loss = square_loss_sum(out, y)
        norm = total_norm(weights)
        last = k == steps
        if k % record_every == 0 or last:
            if not torch.isfinite(loss).all():
                bad = int(torch.nonzero(~torch.isfinite(loss))[0, 0])
                raise DivergenceError(step=k, seed=int(seeds[bad]), lr=lr, value=float(loss[bad]))
            rec.steps.append(k)
            rec.time.append(t.clone())
            rec.norm.append(norm.clone())
            rec.loss.append(loss.clone())
            if on_record is not None:
                on_record(k, t, weights)
            if last or (stop is not None and stop(t, norm, loss)):
                break
        grads = backward(weights, x, pres, out - y, activation, slope)
        dt = torch.full_like(t, lr)
        if stretch_ref is not None and degree > 2:
            dt = dt * ((stretch_ref / norm) ** (degree - 2)).clamp(1.0, max_stretch)
        for w, g in zip(weights, grads, strict=True):
            w.sub_(dt.view(-1, 1, 1) * g)
        t = t + dt
    rec.wall_time_s = time.perf_counter() - start
    return rec


def first_crossing(
    time_: torch.Tensor, value: torch.Tensor, level: torch.Tensor | float
) -> torch.Tensor:
    """Per seed, the first time ``value`` reaches ``level`` (upwards), linearly interpolated.

    ``time_, value [T, S]``; ``level`` scalar or ``[S]``; ``nan`` where it never does.
    """
    level = torch.as_tensor(level, dtype=value.dtype).expand(value.shape[1])
    out = torch.full((value.shape[1],), math.nan, dtype=value.dtype)
    for s in range(value.shape[1]):
        hit = torch.nonzero(value[:, s] >= level[s])
        if not len(hit):
            continue
        i = int(hit[0, 0])
        if i == 0:
            out[s] = time_[0, s]
            continue
        v0, v1 = value[i - 1, s], value[i, s]
        frac = (level[s] - v0) / (v1 - v0) if v1 != v0 else 1.0
        out[s] = time_[i - 1, s] + frac * (time_[i, s] - time_[i - 1, s])
    return out
