"""The networks and measurements of E0 (``gradient-relation``) on a teacher and a student
``Net``: an aligned student (:func:`aligned_student`), BatchNorm-style teacher biases
(:func:`standardise_biases`); how far the per-sample relation and the batch-averaged matrix
gradient are from autograd's gradient, the gated β matrices and their structure, and the
overlap of teacher activations.

The relation itself (``g_l = D_l (A_l f*_l − B_l f_l)``), the matrix gradient and autograd's
gradient are in :mod:`luckbook.gradients`; this module compares them, chunked over seeds,
batches and samples so that no temporary exceeds about :data:`MAX_ELEMENTS` numbers.
:func:`luckbook.experiments.gradient_relation.compute` runs them for every seed at once:

(a) :func:`relation_errors` (and its negative control :func:`ungated_errors`);
(b) :func:`drift`: matrix gradient vs exact gradient on independent batches;
(c) :func:`mean_relation_matrices` and their summaries :func:`structure`;
(d) :func:`activation_overlap` of the teacher's activation regions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import torch

from .config import check_float, check_int
from .ensemble import Net, activate, gate, with_ones
from .gradients import autograd_delta, jacobians, matrix_gradient, relation_delta
from .rng import generator
from .student import student_widths

MAX_ELEMENTS = 2**24
"""Work is chunked (over samples, repeats or seeds) so no temporary exceeds about this many
numbers."""


# ----------------------------------------------------------------------------- networks


def aligned_student(teacher: Net, multi: int, seeds: Sequence[int], noise: float) -> Net:
    """A noisy, ``multi``-fold replicated copy of ``teacher`` (E0's aligned student).

    Hidden node ``k`` of layer ``l`` copies teacher node ``k mod m_l``. Incoming weights from a
    replicated layer and the top layer's rows are divided by ``multi``, so without noise the
    student computes exactly the teacher's function. Then ``noise · N(0, 1)`` (from each seed's
    ``"student"`` stream) is added to every weight, biases and top layer included.
    """
    check_int("multi", multi, minimum=1)
    noise = check_float("noise", noise, low=0.0)
    if len(seeds) != teacher.n_seeds:
        raise ValueError(f"seeds has {len(seeds)} entries; the teacher has {teacher.n_seeds} seeds")
    widths = student_widths(teacher.widths, multi)
    weights = []
    for l, t in enumerate(teacher.weights):
        t = t.detach().to("cpu", torch.float64)
        n_in, n_out = widths[l], widths[l + 1]
        rows = torch.arange(n_in) % (t.shape[1] - 1)
        cols = torch.arange(n_out) % t.shape[2]
        w = t[:, rows][:, :, cols] / (multi if l else 1)
        bias = t[:, -1:, cols]
        weights.append(torch.cat([w, bias], dim=1))
    for s, seed in enumerate(seeds):
        gen = generator(seed, "student")
        for w in weights:
            w[s] += noise * torch.randn(w.shape[1:], generator=gen, dtype=torch.float64)
    return Net(
        [w.to(teacher.device, teacher.dtype) for w in weights],
        activation=teacher.activation,
        slope=teacher.slope,
    )


def standardise_biases(teacher: Net, x: torch.Tensor, bias: float) -> Net:
    """Set every hidden bias BatchNorm-style: ``b_j = bias · σ_j − μ_j`` (E0, E7).

    ``μ_j``, ``σ_j``: mean and standard deviation over ``x [S, N, d]`` of node ``j``'s weighted
    input ``w_jᵀ f_{l-1}`` (bias excluded), layer by layer from the bottom, each on the
    already-standardised layers below. Node ``j``'s pre-activation then has mean ``bias · σ_j``
    and standard deviation ``σ_j``: in units of its own spread it is a BatchNorm output with
    shift ``bias``, so ``P(active) ≈ Φ(bias)`` at every layer (exactly, on Gaussian inputs, at
    the first). The top layer is left as it is.
    """
    check_float("bias", bias)
    net = teacher.clone()
    a = with_ones(x.to(net.device, net.dtype))
    for w in net.weights[:-1]:
        z = torch.bmm(a[..., :-1], w[:, :-1, :])  # [S, N, m]: weighted inputs, no bias
        mu, sigma = z.mean(1), z.std(1)
        w[:, -1, :] = bias * sigma - mu
        a = with_ones(activate(z + w[:, -1:, :], net.activation, net.slope))
    return net


# ----------------------------------------------------------------------------- measurements


def relative_error(approx: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """``‖approx − exact‖_F / ‖exact‖_F`` over the last two axes (0 when both vanish)."""
    num = torch.linalg.matrix_norm(approx - exact)
    den = torch.linalg.matrix_norm(exact)
    out = num / den.clamp_min(torch.finfo(exact.dtype).tiny)
    return torch.where((den == 0) & (num == 0), torch.zeros_like(out), out)


def _seed_groups(n_seeds: int, per_seed: int) -> list[slice]:
    k = max(1, min(n_seeds, MAX_ELEMENTS // max(per_seed, 1)))
    return [slice(lo, min(lo + k, n_seeds)) for lo in range(0, n_seeds, k)]


def relation_errors(teacher: Net, student: Net, x: torch.Tensor) -> torch.Tensor:
    """(a) ``[S, L]``: relative distance of the per-sample relation's gradient to autograd's."""
    return _errors_against_autograd(relation_delta, teacher, student, x)


def ungated_delta(teacher: Net, student: Net, x: torch.Tensor) -> list[torch.Tensor]:
    """The relation's gradient with the student's gates dropped from ``g_l`` (``D_l = I``):
    ``ΔW_l = E[f_{l-1} [A_l f*_l − B_l f_l]ᵀ_{1:n_l}]`` (the output layer is left exact). The
    negative control of claim E0.relation-exact: without the gates it is not the gradient."""
    ft, fs = teacher.forward(x), student.forward(x)
    vt, vs = jacobians(teacher, ft), jacobians(student, fs)
    n = x.shape[1]
    deltas = []
    for l in range(student.depth - 1):
        a = vs[l].transpose(-1, -2) @ vt[l]
        b = vs[l].transpose(-1, -2) @ vs[l]
        g = (a @ ft.inputs[l + 1].unsqueeze(-1) - b @ fs.inputs[l + 1].unsqueeze(-1)).squeeze(-1)
        deltas.append(fs.inputs[l].transpose(1, 2) @ g[..., :-1] / n)
    deltas.append(fs.inputs[-1].transpose(1, 2) @ (ft.out - fs.out) / n)
    return deltas


def ungated_errors(teacher: Net, student: Net, x: torch.Tensor) -> torch.Tensor:
    """``[S, L]``: relative distance of :func:`ungated_delta` to autograd's gradient."""
    return _errors_against_autograd(ungated_delta, teacher, student, x)


def _errors_against_autograd(
    delta: Callable[[Net, Net, torch.Tensor], list[torch.Tensor]],
    teacher: Net,
    student: Net,
    x: torch.Tensor,
) -> torch.Tensor:
    """``[S, L]``: relative distance of ``delta(teacher, student, x)`` (one gradient per layer)
    to autograd's, computed in seed groups small enough for :data:`MAX_ELEMENTS`."""
    n = x.shape[1]
    per_seed = n * max(w.shape[2] + 1 for w in student.weights) ** 2
    out = []
    for sl in _seed_groups(student.n_seeds, per_seed):
        t, s = teacher.select(sl), student.select(sl)
        rel = delta(t, s, x[sl])
        auto = autograd_delta(t, s, x[sl])
        out.append(torch.stack([relative_error(r, a) for r, a in zip(rel, auto, strict=True)], -1))
    return torch.cat(out)


def _repeat(net: Net, r: int) -> Net:
    return dataclasses.replace(net, weights=[w.repeat_interleave(r, dim=0) for w in net.weights])


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``⟨a, b⟩_F / (‖a‖_F ‖b‖_F)`` over the last two axes (0 when either vanishes)."""
    den = torch.linalg.matrix_norm(a) * torch.linalg.matrix_norm(b)
    inner = (a * b).sum((-1, -2))
    return torch.where(
        den > 0, inner / den.clamp_min(torch.finfo(a.dtype).tiny), torch.zeros_like(den)
    )


def drift(
    teacher: Net, student: Net, x: torch.Tensor, batch: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(b) Matrix gradient vs exact gradient on ``R`` batches ``x [S, R·batch, d]``.

    Returns the relative distance and the cosine, each ``[S, R, L]``.
    """
    n_seeds = x.shape[0]
    repeats = x.shape[1] // batch
    xb = x[:, : repeats * batch].reshape(n_seeds, repeats, batch, -1)
    width = max(w.shape[2] + 1 for w in student.weights)
    chunk = max(1, min(repeats, MAX_ELEMENTS // (n_seeds * batch * width * 4)))
    rel, cos = [], []
    for lo in range(0, repeats, chunk):
        r = min(chunk, repeats - lo)
        xr = xb[:, lo : lo + r].reshape(n_seeds * r, batch, -1)
        t, s = _repeat(teacher, r), _repeat(student, r)
        mat = matrix_gradient(t, s, xr)
        auto = autograd_delta(t, s, xr)
        pairs = list(zip(mat, auto, strict=True))
        rel.append(
            torch.stack([relative_error(a, b) for a, b in pairs], -1).reshape(n_seeds, r, -1)
        )
        cos.append(
            torch.stack([cosine_similarity(a, b) for a, b in pairs], -1).reshape(n_seeds, r, -1)
        )
    return torch.cat(rel, dim=1), torch.cat(cos, dim=1)


def mean_relation_matrices(
    teacher: Net, student: Net, x: torch.Tensor, gated: bool = True
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """(c) Batch means of the relation's matrices at every hidden layer.

    With ``gated`` (default): ``β_l = E[D_l B_l D_l]``, ``β*_l = E[D_l A_l D*_l]`` and the
    teacher's ``E[D*_l B*_l D*_l]`` — the coefficients of the relation written on
    pre-activations, ``g_l = (D_l A_l D*_l) z*_l − (D_l B_l D_l) z_l`` (ReLU: ``f = D z``).
    Without: the plain means ``E[B_l]``, ``E[A_l]``, ``E[B*_l]``.

    Returns three lists over hidden layers: ``[S, n_l, n_l]``, ``[S, n_l, m_l]``, ``[S, m_l, m_l]``
    (the constant node dropped), each one matmul over the stacked ``Ṽ D [S, N·c, n]``, in
    sample chunks, without forming per-sample matrices.
    """
    n_seeds, n = x.shape[:2]
    c = student.widths[-1]
    per_sample = (
        n_seeds * c * (sum(student.widths[1:-1]) + sum(teacher.widths[1:-1]) + 2 * student.depth)
    )
    chunk = max(1, min(n, MAX_ELEMENTS // 16 // per_sample))  # small chunks stay in cache
    hidden = student.depth - 1
    bs = [0.0] * hidden
    as_ = [0.0] * hidden
    ts = [0.0] * hidden
    for lo in range(0, n, chunk):
        xc = x[:, lo : lo + chunk]
        fs, ft = student.forward(xc), teacher.forward(xc)
        vs, vt = jacobians(student, fs), jacobians(teacher, ft)
        for l in range(hidden):
            a = vs[l][..., :-1]  # [S, k, c, n_l]
            b = vt[l][..., :-1]  # [S, k, c, m_l]
            if gated:
                a = a * gate(fs.pre[l], student.activation, student.slope).unsqueeze(2)
                b = b * gate(ft.pre[l], teacher.activation, teacher.slope).unsqueeze(2)
            a, b = a.flatten(1, 2), b.flatten(1, 2)
            bs[l] = bs[l] + a.transpose(1, 2) @ a
            as_[l] = as_[l] + a.transpose(1, 2) @ b
            ts[l] = ts[l] + b.transpose(1, 2) @ b
    return [b / n for b in bs], [a / n for a in as_], [t / n for t in ts]


def _cosine_normalise(m: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """``m_jk / √(left_j · right_k)``, 0 where a norm vanishes."""
    den = (left[..., :, None] * right[..., None, :]).sqrt()
    return torch.where(den > 0, m / den.clamp_min(torch.finfo(m.dtype).tiny), torch.zeros_like(m))


def structure(
    beta: torch.Tensor, cross: torch.Tensor, teacher_beta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(c) Concentration of ``E[A]`` and block share of ``E[B]`` per seed, ``([S], [S])``.

    ``Â_jk = E[A]_jk / √(E[B]_jj E[B*]_kk)`` and ``B̂_jj' = E[B]_jj' / √(E[B]_jj E[B]_j'j')`` are
    cosines (Cauchy–Schwarz). Partner of student node ``j``: ``k(j) = argmax_k Â_jk²``.
    Concentration = mean_j ``max_k Â_jk² / Σ_k Â_jk²``; block share = mean_j
    ``Σ_{j': k(j') = k(j)} B̂_jj'² / Σ_j' B̂_jj'²``. Rows of dead nodes (zero norm) are left out.
    """
    diag = torch.diagonal(beta, dim1=-2, dim2=-1)
    t_diag = torch.diagonal(teacher_beta, dim1=-2, dim2=-1)
    a_hat = _cosine_normalise(cross, diag, t_diag).square()
    b_hat = _cosine_normalise(beta, diag, diag).square()
    alive = diag > 0
    a_sum = a_hat.sum(-1)
    conc = a_hat.amax(-1) / a_sum.clamp_min(torch.finfo(a_hat.dtype).tiny)
    partner = a_hat.argmax(-1)  # [S, n]
    same = partner[..., :, None] == partner[..., None, :]
    share = (b_hat * same).sum(-1) / b_hat.sum(-1).clamp_min(torch.finfo(b_hat.dtype).tiny)
    ok = alive & (a_sum > 0)
    count = ok.sum(-1).clamp_min(1)
    return (conc * ok).sum(-1) / count, (share * ok).sum(-1) / count


def activation_overlap(teacher: Net, x: torch.Tensor) -> tuple[list[torch.Tensor], ...]:
    """(d) Per hidden layer: mean pairwise overlap, mean ``P(active)``, fraction of dead nodes.

    Overlap of nodes ``i ≠ j``: ``P(i and j active) / min(P(i active), P(j active))``, averaged
    over pairs whose nodes are both active somewhere on ``x``; each returned tensor is ``[S]``
    (NaN when no such pair exists). "Active" means pre-activation ``> 0``.
    """
    fwd = teacher.forward(x)
    n = x.shape[1]
    overlaps, actives, deads = [], [], []
    for z in fwd.pre:
        g = (z > 0).to(z.dtype)
        p = g.mean(1)  # [S, m]
        joint = g.transpose(1, 2) @ g / n  # [S, m, m]
        low = torch.minimum(p[..., :, None], p[..., None, :])
        k = p.shape[-1]
        pairs = torch.triu(torch.ones(k, k, dtype=torch.bool, device=z.device), diagonal=1)
        valid = pairs & (low > 0)
        ratio = torch.where(valid, joint / low.clamp_min(1.0 / n), torch.zeros_like(joint))
        count = valid.sum((-1, -2))
        mean = ratio.sum((-1, -2)) / count.clamp_min(1)
        overlaps.append(torch.where(count > 0, mean, torch.full_like(mean, math.nan)))
        actives.append(p.mean(-1))
        deads.append((p == 0).to(z.dtype).mean(-1))
    return overlaps, actives, deads
