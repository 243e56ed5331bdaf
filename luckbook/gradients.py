"""E0 — the gradient relation of LM (Lemma 1), per sample and batch-averaged.

In homogeneous coordinates every layer of a ReLU network is *linear given its gates*:
``f_l = D̃_l W̃_lᵀ f_{l-1}`` with ``W̃_l = [W_l, e]`` (an extra column that copies the constant 1)
and ``D̃_l = diag(gates, 1)``. Hence the output is ``y = Ṽ_l(x) f_l(x)`` for every layer ``l``,
with ``Ṽ_l = W_Lᵀ D̃_{L-1} W̃_{L-1}ᵀ ⋯ D̃_{l+1} W̃_{l+1}ᵀ`` (``[c, n_l + 1]``), and the signal
back-propagated to layer ``l``'s pre-activations is exactly

    g_l(x) = D_l(x) [A_l(x) f*_l(x) − B_l(x) f_l(x)],   A_l = Ṽ_lᵀ Ṽ*_l,  B_l = Ṽ_lᵀ Ṽ_l,

a combination of **teacher** activations minus **student** activations (LM). The negative
loss gradient of ``W_l`` is ``E_x[f_{l-1} g_lᵀ]``; :func:`relation_delta` computes it this way.

The *matrix gradient* (LM's released code) averages over the batch before multiplying, which
decouples the gates from the inputs:

    ΔW_l ≈ E[f_{l-1} f*_{l-1}ᵀ] W̃*_l H*_lᵀ − E[f_{l-1} f_{l-1}ᵀ] W̃_l H_lᵀ,
    H_l  = (W̃_{l+1} H_{l+1} W̃_{l+1}ᵀ) ⊙ E[gate_l gate_lᵀ],
    H*_l = (W̃_{l+1} H*_{l+1} W̃*_{l+1}ᵀ) ⊙ E[gate_l gate*_lᵀ],

with ``H_L = H*_L = I_c``. For the top layer it is exact; below, it is an approximation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from .ensemble import Forward, Net, gate


def _tilde(w: torch.Tensor) -> torch.Tensor:
    """``W [S, in+1, out] -> W̃ [S, in+1, out+1]``: append the column that copies the constant 1."""
    e = torch.zeros(*w.shape[:-1], 1, dtype=w.dtype, device=w.device)
    e[..., -1, 0] = 1.0
    return torch.cat([w, e], dim=-1)


def _gates(net: Net, fwd: Forward) -> list[torch.Tensor]:
    """Per hidden layer, the gates with a trailing 1 for the constant node: ``[S, N, n_l + 1]``."""
    out = []
    for z in fwd.pre:
        d = gate(z, net.activation, net.slope)
        out.append(torch.cat([d, torch.ones_like(d[..., :1])], dim=-1))
    return out


def jacobians(net: Net, fwd: Forward) -> list[torch.Tensor]:
    """``Ṽ_l(x)`` for every hidden layer ``l``: ``[S, N, c, n_l + 1]`` with ``y = Ṽ_l f_l``
    exactly."""
    gates = _gates(net, fwd)
    v = net.weights[-1].transpose(1, 2).unsqueeze(1)  # [S, 1, c, n_{L-1} + 1]
    v = v.expand(-1, fwd.out.shape[1], -1, -1)
    out = [v]
    for l in range(net.depth - 2, 0, -1):
        # Ṽ_{l-1} = Ṽ_l D̃_l W̃_lᵀ ; layer index l here is the 0-based hidden layer ``l``
        v = (v * gates[l].unsqueeze(2)) @ _tilde(net.weights[l]).transpose(1, 2).unsqueeze(1)
        out.append(v)
    return out[::-1]


@dataclasses.dataclass
class Relation:
    """The per-sample relation at one hidden layer (shapes for ``S`` seeds, ``N`` samples).

    Attributes:
        A: ``[S, N, n + 1, m + 1]`` = ``Ṽᵀ Ṽ*``; B: ``[S, N, n + 1, n + 1]`` = ``Ṽᵀ Ṽ`` (β of LM).
        g: ``[S, N, n]`` back-propagated signal ``D (A f* − B f)`` at the student's pre-activations.
    """

    A: torch.Tensor
    B: torch.Tensor
    g: torch.Tensor


def relation(teacher: Net, student: Net, x: torch.Tensor) -> list[Relation]:
    """LM's Lemma 1 at every hidden layer of ``student`` for inputs ``x [S, N, d]`` (E0)."""
    if teacher.depth != student.depth:
        raise ValueError(f"teacher depth {teacher.depth} != student depth {student.depth}")
    ft, fs = teacher.forward(x), student.forward(x)
    vt, vs = jacobians(teacher, ft), jacobians(student, fs)
    gates = _gates(student, fs)
    out = []
    for l in range(student.depth - 1):
        a = vs[l].transpose(-1, -2) @ vt[l]
        b = vs[l].transpose(-1, -2) @ vs[l]
        signal = (a @ ft.inputs[l + 1].unsqueeze(-1) - b @ fs.inputs[l + 1].unsqueeze(-1)).squeeze(
            -1
        )
        out.append(Relation(A=a, B=b, g=(gates[l] * signal)[..., :-1]))
    return out


def relation_delta(teacher: Net, student: Net, x: torch.Tensor) -> list[torch.Tensor]:
    """Negative loss gradient of every student layer, built from the per-sample relation.

    Returns ``ΔW_l = E_x[f_{l-1} g_lᵀ]`` per layer (``[S, in+1, out]``); for the linear top layer
    ``g = y* − y``. Equals ``−∂J/∂W`` of ``J = ½ E‖y* − y‖²`` exactly (up to rounding).
    """
    ft, fs = teacher.forward(x), student.forward(x)
    n = x.shape[1]
    rel = relation(teacher, student, x)
    deltas = [fs.inputs[l].transpose(1, 2) @ r.g / n for l, r in enumerate(rel)]
    deltas.append(fs.inputs[-1].transpose(1, 2) @ (ft.out - fs.out) / n)
    return deltas


def matrix_gradient(teacher: Net, student: Net, x: torch.Tensor) -> list[torch.Tensor]:
    """The batch-averaged "matrix gradient" (LM's released dynamics) for every student layer.

    Returns ``[S, in+1, out]`` per layer; exact for the top layer, an approximation below
    (gates are averaged independently of the inputs).
    """
    ft, fs = teacher.forward(x), student.forward(x)
    n = x.shape[1]
    gs, gt = _gates(student, fs), _gates(teacher, ft)
    L = student.depth
    c = fs.out.shape[-1]
    eye = torch.eye(c, dtype=x.dtype, device=x.device).expand(student.n_seeds, c, c)
    h, h_star = eye, eye
    deltas: list[torch.Tensor] = [None] * L  # type: ignore[list-item]
    for l in range(L - 1, -1, -1):
        w, w_star = student.weights[l], teacher.weights[l]
        top = l == L - 1
        wt = w if top else _tilde(w)
        wt_star = w_star if top else _tilde(w_star)
        inp, inp_star = fs.inputs[l], ft.inputs[l]
        l_star = inp.transpose(1, 2) @ inp_star / n  # E[f_{l-1} f*_{l-1}ᵀ]
        l_self = inp.transpose(1, 2) @ inp / n
        full = l_star @ wt_star @ h_star.transpose(1, 2) - l_self @ wt @ h.transpose(1, 2)
        deltas[l] = full if top else full[..., :-1]
        if l:
            g_s, g_t = gs[l - 1], gt[l - 1]
            w_up = wt  # W̃_l maps layer l-1 (with its constant) to layer l
            h = (w_up @ h @ w_up.transpose(1, 2)) * (g_s.transpose(1, 2) @ g_s / n)
            h_star = (w_up @ h_star @ wt_star.transpose(1, 2)) * (g_s.transpose(1, 2) @ g_t / n)
    return deltas


def autograd_delta(teacher: Net, student: Net, x: torch.Tensor) -> list[torch.Tensor]:
    """Reference: ``−∂J/∂W_l`` by ``torch.autograd`` for ``J = ½ · mean_x ‖y* − y‖²`` (summed
    over seeds)."""
    weights = [w.detach().clone().requires_grad_(True) for w in student.weights]
    net = dataclasses.replace(student, weights=weights)
    with torch.no_grad():
        target = teacher(x)
    loss = 0.5 * (target - net(x)).square().sum(-1).mean(-1).sum()
    grads = torch.autograd.grad(loss, weights)
    return [-g for g in grads]


def beta_diagonal(net: Net, x: torch.Tensor) -> list[torch.Tensor]:
    """``E_x[β_kk]`` per hidden node: the squared effective fan-out ``E‖Ṽ_l[:, k]‖²`` (SS, E6).

    Returns per hidden layer ``[S, n_l]``; its square root is the node's effective fan-out.
    """
    fwd = net.forward(x)
    return [v[..., :-1].square().sum(dim=-2).mean(dim=1) for v in jacobians(net, fwd)]


def matrix_step(teacher: Net) -> Callable[[Net, torch.Tensor, torch.Tensor, float], torch.Tensor]:
    """An update rule for :func:`luckbook.train.train`: ``W += lr · matrix_gradient`` (LM/E1).

    The batch ``x1`` must be labelled by ``teacher`` (e.g. :class:`luckbook.data.FreshGaussian`).
    """

    def step(student: Net, x1: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        x = x1[..., :-1]
        loss = 0.5 * (y - student(x1)).square().sum(-1).mean(-1)
        for w, delta in zip(student.weights, matrix_gradient(teacher, student, x), strict=True):
            w.add_(delta, alpha=lr)
        return loss

    return step
