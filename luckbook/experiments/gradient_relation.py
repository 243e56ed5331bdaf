"""E0 — the gradient relation (LM, Lemma 1): exact per sample, approximate when batch-averaged.

A separated deep ReLU teacher ``d → m_1 → … → m_{L-1} → c`` (hidden widths the first
``depth − 1`` entries of ``m``; each hidden node's weights scaled to unit norm; the top layer
raw codes without bias) is compared with two students that are ``multi`` times as wide at
every hidden layer:

- a **random** student (PyTorch's default ``nn.Linear`` init times ``init_scale``, LM/E3), and
- an **aligned** student: an exact copy of the teacher, each teacher node replicated ``multi``
  times (incoming weights from replicated nodes and outgoing weights divided by ``multi``, so
  the copy computes the teacher's function), plus ``align_noise · N(0, 1)`` on every weight.

**Teacher bias in BatchNorm units.** Every hidden bias is set so that node ``j``'s
pre-activation has mean ``bias · σ_j`` and standard deviation ``σ_j`` on Gaussian inputs
(:func:`standardise_biases`): a BatchNorm output shifted by ``bias``, on with probability
``≈ Φ(bias)`` at every layer (exactly, on Gaussian inputs, in the first). A constant bias
in absolute units would switch deep layers entirely off at moderately negative values.

Per seed it measures four things (see :class:`GradientRelationResult`):

(a) **Relation = autograd.** ``‖Δ_relation − Δ_autograd‖_F / ‖Δ_autograd‖_F`` per layer, where
    ``Δ_relation`` is built from the per-sample relation ``g_l = D_l (A_l f*_l − B_l f_l)``
    (:func:`luckbook.gradients.relation_delta`) on ``n_check`` samples.
(b) **Drift of the matrix gradient.** For each batch size ``B`` in ``batch_sizes`` and each of
    ``n_repeats`` independent batches: ``‖Δ_matrix − Δ_exact‖_F / ‖Δ_exact‖_F`` and the cosine
    per layer, with ``Δ_exact`` autograd's gradient on the same batch. At ``B = 1`` the two
    coincide; the batch-averaged form multiplies batch means of inputs and gates that the
    exact gradient multiplies sample by sample, so it drifts once ``B > 1``.
(c) **Gated β matrices.** Batch means over ``n_matrix`` samples of ``β_l = E[D_l B_l D_l]``
    (student × student) and ``β*_l = E[D_l A_l D*_l]`` (student × teacher), ``A_l = Ṽ_lᵀ Ṽ*_l``,
    ``B_l = Ṽ_lᵀ Ṽ_l``, constant node dropped, for both students — the coefficients of the
    relation written on pre-activations; the matrix gradient's ``H_l``, ``H*_l`` are their
    gate-decoupled approximations. Two summaries (:func:`structure`): the *concentration*
    of ``β*`` (mean over student rows of the largest squared cosine-normalised entry over the
    row's squared sum: 1 when each student node is coupled to one teacher node, ``1/m_l``
    when to all alike) and the *block share* of ``β`` (mean over rows of the squared
    cosine-normalised mass on student nodes with the same partner teacher, the partner
    being the row's largest ``β*`` entry).
(d) **Overlap of teacher activations** (LM's "small overlap" assumption) on
    ``x ~ N(0, data_std² I_d)``, for the same teacher codes with every hidden bias set from
    each value in ``biases``: per hidden layer, the mean over node pairs ``i < j`` of
    ``P(i and j active) / min(P(i active), P(j active))`` — the chance that the other node is
    on when the rarer one is on (0: disjoint regions, 1: nested, ``Φ(bias)`` for two
    independent nodes). Pairs with a node that is never active on the ``n_overlap`` samples
    are left out (the fraction of such nodes is reported). For each bias the concentration
    of an aligned student's ``β*`` is measured too, linking (c) and (d).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ..claims import Stat, bootstrap, seed_mean
from ..config import check_choice, check_float, check_int, resolve_dtype
from ..data import gaussian
from ..ensemble import ACTIVATIONS, Net, activate, gate, with_ones
from ..gradients import autograd_delta, jacobians, matrix_gradient, relation_delta
from ..metrics import square_loss
from ..result import Result
from ..rng import generator
from ..student import make_student, student_widths
from ..teacher import make_teacher
from .base import Experiment, register

TEACHER_HIDDEN = (10, 15, 20, 25)
"""Hidden widths of LM's released deep teacher (E3); the first ``depth − 1`` are used."""

STUDENTS = ("random", "aligned")
"""The two students every measurement is made for."""

MAX_ELEMENTS = 2**24
"""Work is chunked (over samples, repeats or seeds) so no temporary exceeds about this many numbers."""


@dataclasses.dataclass(frozen=True)
class GradientRelationSettings:
    """Settings of E0; the defaults are paper-like sizes (E3's deep teacher, ``paper`` scale)."""

    depth: int = 5  # weight layers counting the output (≥ 2): depth − 1 hidden layers
    m: tuple[int, ...] = TEACHER_HIDDEN  # teacher hidden widths; the first depth − 1 are used
    d: int = 20  # input dimension
    c: int = 100  # output dimension (E3: d_output = 100)
    multi: int = 10  # width multiplier: student hidden widths are multi · m_l (E3: 10)
    bias: float = 0.0  # teacher hidden bias in BatchNorm units: a node is on w.p. ≈ Φ(bias)
    data_std: float = 1.0  # inputs x ~ N(0, data_std² I_d) (the biases scale with it)
    init_scale: float = 1.0  # random student: PyTorch default init U(±1/√fan_in) times this
    align_noise: float = 0.05  # aligned student: teacher copy + align_noise · N(0, 1) per weight
    n_check: int = 256  # samples for the relation-vs-autograd check (a)
    batch_sizes: tuple[int, ...] = (1, 4, 16, 64, 256, 1024)  # batch sizes of the drift study (b)
    n_repeats: int = 16  # independent batches per batch size (b)
    n_matrix: int = 1024  # samples for the gated means β, β* (c)
    biases: tuple[float, ...] = (-1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5)  # (d), same units
    n_overlap: int = 100_000  # samples for the overlaps (d) and for setting the biases
    activation: str = "relu"  # "relu" or "leaky_relu" (teacher and students)
    slope: float = 0.01  # negative slope of the Leaky ReLU
    dtype: str = "float64"  # float64: the relation must match autograd to ~1e-16

    @property
    def hidden(self) -> list[int]:
        """Teacher hidden widths ``[m_1, …, m_{depth-1}]``."""
        return list(self.m[: self.depth - 1])

    @property
    def widths(self) -> list[int]:
        """Teacher widths ``[d, m_1, …, m_{depth-1}, c]``."""
        return [self.d, *self.hidden, self.c]

    def validate(self) -> None:
        check_int("depth", self.depth, minimum=2)
        if not isinstance(self.m, tuple) or not self.m:
            raise ValueError(f"m={self.m!r} is not allowed: expected a tuple of hidden widths")
        for width in self.m:
            check_int("m", width, minimum=1)
        if len(self.m) < self.depth - 1:
            raise ValueError(
                f"depth={self.depth!r} is not allowed: m={self.m!r} gives hidden widths for "
                f"depth <= {len(self.m) + 1}; give more widths in m or a smaller depth"
            )
        for name in ("d", "c", "multi", "n_check", "n_repeats", "n_matrix", "n_overlap"):
            check_int(name, getattr(self, name), minimum=1)
        check_float("bias", self.bias)
        check_float("data_std", self.data_std, low=0.0, low_open=True)
        check_float("init_scale", self.init_scale, low=0.0, low_open=True)
        check_float("align_noise", self.align_noise, low=0.0, low_open=True)
        if not isinstance(self.batch_sizes, tuple) or not self.batch_sizes:
            raise ValueError(
                f"batch_sizes={self.batch_sizes!r} is not allowed: expected a non-empty tuple of "
                "increasing integers >= 1"
            )
        for b in self.batch_sizes:
            check_int("batch_sizes", b, minimum=1)
        if list(self.batch_sizes) != sorted(set(self.batch_sizes)):
            raise ValueError(
                f"batch_sizes={self.batch_sizes!r} is not allowed: expected strictly increasing sizes"
            )
        if not isinstance(self.biases, tuple) or not self.biases:
            raise ValueError(f"biases={self.biases!r} is not allowed: expected a non-empty tuple")
        for b in self.biases:
            check_float("biases", b)
        if list(self.biases) != sorted(set(self.biases)):
            raise ValueError(
                f"biases={self.biases!r} is not allowed: expected strictly increasing values"
            )
        check_choice("activation", self.activation, ACTIVATIONS)
        check_float("slope", self.slope, low=0.0, high=1.0, high_open=True)
        resolve_dtype(self.dtype)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # Two hidden layers, students twice as wide: every measurement in a few seconds on a CPU.
    "book": {
        "depth": 3,
        "c": 20,
        "multi": 2,
        "n_check": 128,
        "n_repeats": 8,
        "n_overlap": 20_000,
    },
    "tiny": {
        "depth": 3,
        "m": (4, 6),
        "d": 8,
        "c": 6,
        "multi": 2,
        "n_check": 32,
        "batch_sizes": (1, 16, 256),
        "n_repeats": 4,
        "n_matrix": 512,
        "biases": (-1.0, -0.5, 0.0, 0.5),
        "n_overlap": 4000,
    },
}
SEEDS = {"paper": 32, "book": 8, "tiny": 4}


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


def make_e0_teacher(
    settings: GradientRelationSettings,
    seeds: Sequence[int],
    device: torch.device,
    bias: float | None = None,
    x_calibrate: torch.Tensor | None = None,
) -> Net:
    """E0's teacher: unit-norm separated codes with standardised hidden biases.

    The codes come from each seed's ``"teacher"`` stream and do not depend on ``bias``
    (default ``settings.bias``); the biases are set by :func:`standardise_biases` on
    ``x_calibrate`` (default: :func:`calibration_inputs`). The top layer is raw codes
    without bias.
    """
    teacher = make_teacher(
        settings.widths,
        seeds,
        bias=0.0,
        normalize="weights",
        output_bias=0.0,
        activation=settings.activation,
        slope=settings.slope,
        dtype=settings.dtype,
        device=device,
    )
    x = calibration_inputs(settings, seeds) if x_calibrate is None else x_calibrate
    return standardise_biases(teacher, x, settings.bias if bias is None else bias)


def calibration_inputs(settings: GradientRelationSettings, seeds: Sequence[int]) -> torch.Tensor:
    """``n_overlap`` Gaussian samples per seed (stream ``"e0_calibrate"``) that fix the biases."""
    return gaussian(
        settings.n_overlap, settings.d, seeds, data_std=settings.data_std, stream="e0_calibrate"
    )


def build(
    settings: GradientRelationSettings,
    seeds: Sequence[int],
    device: torch.device,
    x_calibrate: torch.Tensor | None = None,
) -> tuple[Net, dict[str, Net]]:
    """The teacher and the two students (``"random"``, ``"aligned"``) of E0."""
    teacher = make_e0_teacher(settings, seeds, device, x_calibrate=x_calibrate)
    students = {
        "random": make_student(
            teacher, settings.multi, seeds, init="torch_default", init_scale=settings.init_scale
        ),
        "aligned": aligned_student(teacher, settings.multi, seeds, settings.align_noise),
    }
    return teacher, students


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
    n = x.shape[1]
    per_seed = n * max(w.shape[2] + 1 for w in student.weights) ** 2
    out = []
    for sl in _seed_groups(student.n_seeds, per_seed):
        t, s = teacher.select(sl), student.select(sl)
        rel = relation_delta(t, s, x[sl])
        auto = autograd_delta(t, s, x[sl])
        out.append(torch.stack([relative_error(r, a) for r, a in zip(rel, auto, strict=True)], -1))
    return torch.cat(out)


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
    n = x.shape[1]
    per_seed = n * max(w.shape[2] + 1 for w in student.weights) ** 2
    out = []
    for sl in _seed_groups(student.n_seeds, per_seed):
        t, s = teacher.select(sl), student.select(sl)
        rel = ungated_delta(t, s, x[sl])
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


# ----------------------------------------------------------------------------- result


@dataclasses.dataclass
class GradientRelationResult(Result[GradientRelationSettings]):
    """Everything E0 measures, as NumPy arrays (``S`` seeds, ``L`` weight layers, ``K`` batch sizes).

    Attributes:
        settings, seeds, device, wall_time_s: how it was made.
        relation_error: per student kind, ``[S, L]`` relative distance relation vs autograd (a).
        batch_sizes: ``[K]``; drift: per kind ``[S, R, K, L]`` matrix-gradient relative
            distance on ``R`` independent batches of each size (b); drift_cosine: the cosine
            between the two, same shape.
        beta, cross: per kind, per hidden layer ``[S, n_l, n_l]`` = E[B_l] (β) and
            ``[S, n_l, m_l]`` = E[A_l]; teacher_beta: per hidden layer ``[S, m_l, m_l]`` (c).
        concentration, block_share: per kind ``[S, L-1]`` (c), see :func:`structure`.
        biases: ``[Bi]``; overlap, p_active, dead: ``[S, Bi, L-1]`` (d).
        aligned_concentration: ``[S, Bi, L-1]`` concentration of β* for an aligned student of
            the teacher with each bias of ``biases`` (links (c) and (d)).
        loss: per kind ``[S]``, ½·mean‖y* − y‖² on the check samples.
        ungated_error: per kind ``[S, L]``, as ``relation_error`` with the gates dropped from
            the relation (the negative control of E0.relation-exact).

    :meth:`claims` evaluates the pre-registered claims (registry section E0). E0 trains
    nothing, so there is no frozen student: each claim about a mechanism has its own *null
    variant* that removes the mechanism (``CONTROL_NAMES``); numerical identities have
    none.
    """

    EXPERIMENT: ClassVar[str] = "gradient-relation"

    CONTROLS: ClassVar[tuple[str, ...]] = ("null",)
    CONTROL_NAMES: ClassVar[Mapping[str, str]] = {
        "null": (
            "each claim's null variant: the relation without its gates (D = I); the matrix "
            "gradient on a batch of one sample; the random student's β*"
        )
    }

    relation_error: dict[str, np.ndarray]
    batch_sizes: np.ndarray
    drift: dict[str, np.ndarray]
    drift_cosine: dict[str, np.ndarray]
    beta: dict[str, list[np.ndarray]]
    cross: dict[str, list[np.ndarray]]
    teacher_beta: list[np.ndarray]
    concentration: dict[str, np.ndarray]
    block_share: dict[str, np.ndarray]
    biases: np.ndarray
    overlap: np.ndarray
    p_active: np.ndarray
    dead: np.ndarray
    aligned_concentration: np.ndarray
    loss: dict[str, np.ndarray]
    ungated_error: dict[str, np.ndarray]

    def mean_drift(self, kind: str = "random") -> np.ndarray:
        """``[S, K, L]``: mean over the ``R`` batches of each size."""
        check_choice("kind", kind, STUDENTS)
        return self.drift[kind].mean(1)

    def max_relation_error(self) -> float:
        """Largest relation-vs-autograd distance over seeds, layers and both students."""
        return float(max(e.max() for e in self.relation_error.values()))

    def batch1_error(self) -> float:
        """Largest matrix-vs-exact distance at batch size 1 (NaN if 1 is not among the sizes)."""
        hits = np.flatnonzero(self.batch_sizes == 1)
        if not len(hits):
            return math.nan
        return float(max(d[:, :, hits[0]].max() for d in self.drift.values()))

    # ---- claims ----------------------------------------------------------------------------
    def _hidden_drift(self, k: int) -> np.ndarray:
        """``[S]``: mean over both students, the hidden layers and the repeats of the
        matrix-gradient relative distance at batch-size index ``k``."""
        return np.mean([self.drift[kind][:, :, k, :-1].mean((1, 2)) for kind in STUDENTS], 0)

    def _overlap_ratio(self, layer: int) -> np.ndarray:
        """``[S]``: overlap at the most negative bias over the overlap at bias 0 (nan without 0)."""
        zero = np.flatnonzero(self.biases == 0.0)
        if not len(zero):
            return np.full(len(self.seeds), math.nan)
        return self.overlap[:, 0, layer] / self.overlap[:, zero[0], layer]

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """Every E0 claim (``control=None``) or its null variant (``control="null"``)."""
        if control not in (None, "null"):
            raise ValueError(f"control={control!r} is not allowed: expected None or 'null'")
        null = control is not None

        def worst(per_seed: np.ndarray, detail: str) -> Stat:
            return bootstrap(list(per_seed), lambda xs: float(np.max(xs)), detail=detail)

        def none(detail: str) -> Stat:
            return Stat(math.nan, math.nan, math.nan, len(self.seeds), detail)

        errors = self.ungated_error if null else self.relation_error
        per_seed = np.max([e.max(1) for e in errors.values()], 0)
        out = {
            "E0.relation-exact": worst(
                per_seed,
                ("gates dropped" if null else "relation vs autograd")
                + f": worst per seed {_short(per_seed)}",
            )
        }
        b1 = np.flatnonzero(self.batch_sizes == 1)
        if null:
            out["E0.matrix-batch1"] = none("an identity: no control")
            out["E0.matrix-output"] = none("an identity: no control")
        else:
            at1 = (
                np.max([d[:, :, b1[0]].max((1, 2)) for d in self.drift.values()], 0)
                if len(b1)
                else np.full(len(self.seeds), math.nan)
            )
            out["E0.matrix-batch1"] = worst(at1, f"worst per seed {_short(at1)}")
            top = np.max([d[..., -1].max((1, 2)) for d in self.drift.values()], 0)
            out["E0.matrix-output"] = worst(top, f"worst per seed {_short(top)}")
        if null:
            k = b1[0] if len(b1) else None
        else:
            k = len(self.batch_sizes) - 1
        if k is None:
            out["E0.matrix-drift"] = none("no batch of one sample in this run")
        else:
            hd = self._hidden_drift(k)
            out["E0.matrix-drift"] = seed_mean(
                hd, detail=f"batch {int(self.batch_sizes[k])}: per seed {_short(hd)}"
            )
        above = np.flatnonzero(self.batch_sizes > 1)
        if null or len(above) < 2:
            out["E0.matrix-no-shrink"] = none(
                "no control (a property of the approximation)"
                if null
                else "needs two batch sizes above 1"
            )
        else:
            lo, hi = above[0], len(self.batch_sizes) - 1
            ratio = self._hidden_drift(hi) / self._hidden_drift(lo)
            out["E0.matrix-no-shrink"] = seed_mean(
                ratio,
                detail=f"batch {int(self.batch_sizes[hi])} over batch "
                f"{int(self.batch_sizes[lo])}: per seed {_short(ratio)}; a sampling error "
                f"would give {math.sqrt(self.batch_sizes[lo] / self.batch_sizes[hi]):.3g}",
            )
        kind = "random" if null else "aligned"
        conc = self.concentration[kind].mean(1)
        out["E0.beta-concentration"] = seed_mean(
            conc, detail=f"{kind} student, mean over hidden layers: per seed {_short(conc)}"
        )
        hidden = self.overlap.shape[-1]
        for cid, layer in (("E0.overlap-first", 0), ("E0.overlap-deep", hidden - 1)):
            if null:
                out[cid] = none("no control (a property of the teacher)")
                continue
            ratio = self._overlap_ratio(layer)
            out[cid] = seed_mean(
                ratio,
                detail=f"hidden layer {layer + 1}, bias {self.biases[0]:g} over bias 0: "
                f"per seed {_short(ratio)}",
            )
        return out

    def numbers(self) -> str:
        """Key numbers: relation error, drift at batch 1 and at the largest batch, overlaps."""
        s = self.settings
        big = int(self.batch_sizes[-1])
        lines = [
            f"(a) relation vs autograd: max relative error {self.max_relation_error():.1e} "
            f"({len(self.seeds)} seeds, {s.depth} layers, both students)",
            f"(b) matrix gradient vs exact: batch 1 max {self.batch1_error():.1e}; "
            f"batch {big} mean per layer:",
        ]
        for kind in STUDENTS:
            per_layer = self.mean_drift(kind)[:, -1].mean(0)
            lines.append(f"    {kind:>7}: " + ", ".join(f"{v:.3g}" for v in per_layer))
        lines.append("(c) concentration of β* / block share of β, per hidden layer (seed mean):")
        for kind in STUDENTS:
            conc = self.concentration[kind].mean(0)
            share = self.block_share[kind].mean(0)
            lines.append(
                f"    {kind:>7}: "
                + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(conc, share, strict=True))
            )
        lines.append("(d) overlap of teacher activations per hidden layer (seed mean):")
        for i, b in enumerate(self.biases):
            vals = np.nanmean(self.overlap[:, i], axis=0)
            lines.append(f"    bias {b:+.2f}: " + ", ".join(f"{v:.3f}" for v in vals))
        return "\n".join(lines)

    def summary(self) -> str:
        """A header line and :meth:`numbers`."""
        s = self.settings
        return (
            f"gradient-relation (E0): widths {s.widths}, multi={s.multi}, bias={s.bias:g}\n"
            f"{len(self.seeds)} seeds on {self.device}, {self.wall_time_s:.1f} s\n" + self.numbers()
        )

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, device, timing and per-seed numbers."""
        rows = []
        for i, seed in enumerate(self.seeds):
            rows.append(
                {
                    "seed": seed,
                    "relation_error": {k: v[i].tolist() for k, v in self.relation_error.items()},
                    "drift_mean": {k: self.mean_drift(k)[i].tolist() for k in STUDENTS},
                    "concentration": {k: v[i].tolist() for k, v in self.concentration.items()},
                    "block_share": {k: v[i].tolist() for k, v in self.block_share.items()},
                    "overlap": self.overlap[i].tolist(),
                    "p_active": self.p_active[i].tolist(),
                    "dead": self.dead[i].tolist(),
                    "loss": {k: float(v[i]) for k, v in self.loss.items()},
                    # the random student's loss, under the key the CLI's one-line summary prints
                    "eval_loss": float(self.loss["random"][i]),
                }
            )
        return {
            "experiment": "gradient-relation",
            "settings": dataclasses.asdict(self.settings),
            "device": self.device,
            "wall_time_s": self.wall_time_s,
            "batch_sizes": self.batch_sizes.tolist(),
            "biases": self.biases.tolist(),
            "seeds": rows,
        }


def _short(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in np.asarray(values, dtype=float)) + "]"


# ----------------------------------------------------------------------------- compute


def compute(
    settings: GradientRelationSettings,
    seeds: list[int],
    device: torch.device,
    progress: bool = False,
) -> GradientRelationResult:
    """Run E0 (a)–(d) for every seed at once; see :class:`GradientRelationResult`."""
    start = time.perf_counter()
    dtype = resolve_dtype(settings.dtype)
    s = settings

    def data(n: int, stream: str) -> torch.Tensor:
        return gaussian(n, s.d, seeds, data_std=s.data_std, stream=stream).to(device, dtype)

    steps = 2 + len(s.batch_sizes) + len(s.biases)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="gradient-relation")

    def tick() -> None:
        if bar is not None:
            bar.update()

    x_calibrate = calibration_inputs(s, seeds)
    teacher, students = build(s, seeds, device, x_calibrate)
    x_check = data(s.n_check, "e0_check")
    relation_error, ungated, loss = {}, {}, {}
    y_t = teacher(x_check)
    for kind, student in students.items():
        relation_error[kind] = relation_errors(teacher, student, x_check).cpu().numpy()
        ungated[kind] = ungated_errors(teacher, student, x_check).cpu().numpy()
        loss[kind] = square_loss(y_t, student(x_check)).cpu().numpy()
    tick()

    drifts: dict[str, list[np.ndarray]] = {k: [] for k in STUDENTS}
    cosines: dict[str, list[np.ndarray]] = {k: [] for k in STUDENTS}
    for batch in s.batch_sizes:
        x = data(batch * s.n_repeats, f"e0_batches_{batch}")
        for kind, student in students.items():
            rel, cos = drift(teacher, student, x, batch)
            drifts[kind].append(rel.cpu().numpy())
            cosines[kind].append(cos.cpu().numpy())
        tick()

    x_matrix = data(s.n_matrix, "e0_matrix")
    beta, cross, conc, share = {}, {}, {}, {}
    teacher_beta: list[torch.Tensor] = []
    for kind, student in students.items():
        bs, as_, ts = mean_relation_matrices(teacher, student, x_matrix)
        teacher_beta = ts
        parts = [structure(b, a, t) for b, a, t in zip(bs, as_, ts, strict=True)]
        conc[kind] = torch.stack([p[0] for p in parts], -1).cpu().numpy()
        share[kind] = torch.stack([p[1] for p in parts], -1).cpu().numpy()
        beta[kind] = [b.cpu().numpy() for b in bs]
        cross[kind] = [a.cpu().numpy() for a in as_]
    tick()

    x_overlap = data(s.n_overlap, "e0_overlap")
    overlap, active, dead, aligned_conc = [], [], [], []
    for b in s.biases:
        t_b = make_e0_teacher(s, seeds, device, b, x_calibrate)
        o, a, dd = activation_overlap(t_b, x_overlap)
        overlap.append(torch.stack(o, -1))
        active.append(torch.stack(a, -1))
        dead.append(torch.stack(dd, -1))
        s_b = aligned_student(t_b, s.multi, seeds, s.align_noise)
        mats = mean_relation_matrices(t_b, s_b, x_matrix)
        aligned_conc.append(torch.stack([structure(*m)[0] for m in zip(*mats, strict=True)], -1))
        tick()
    if bar is not None:
        bar.close()

    return GradientRelationResult(
        settings=s,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=time.perf_counter() - start,
        relation_error=relation_error,
        batch_sizes=np.asarray(s.batch_sizes),
        drift={k: np.stack(v, axis=2) for k, v in drifts.items()},
        drift_cosine={k: np.stack(v, axis=2) for k, v in cosines.items()},
        beta=beta,
        cross=cross,
        teacher_beta=[t.cpu().numpy() for t in teacher_beta],
        concentration=conc,
        block_share=share,
        biases=np.asarray(s.biases, dtype=float),
        overlap=torch.stack(overlap, 1).cpu().numpy(),
        p_active=torch.stack(active, 1).cpu().numpy(),
        dead=torch.stack(dead, 1).cpu().numpy(),
        aligned_concentration=torch.stack(aligned_conc, 1).cpu().numpy(),
        loss=loss,
        ungated_error=ungated,
    )


GRADIENT_RELATION = register(
    Experiment(
        result_cls=GradientRelationResult,
        name="gradient-relation",
        key="E0",
        summary="the gradient relation: per-sample form = autograd; batch-averaged form drifts",
        settings_cls=GradientRelationSettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
    )
)
