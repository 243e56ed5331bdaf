"""Figures of the small-initialisation chapter (E9, ``directional``): norm, loss, cosines and
spectra over flow time, and the length of the small-norm phase against ``δ``.

Each function takes a :class:`~luckbook.DirectionalResult` (or two
:class:`~luckbook.results.directional.PhaseLengths`) and returns a ``Figure``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..results.directional import DirectionalResult, PhaseLengths
from .style import SPECIALIZED, TEACHER, UNSPECIALIZED, new_figure, number, styled, with_alt

LOSS = "#15803d"
NEURON_RATIO = r"$\Vert w_j(t)\Vert \,/\, \Vert w_j(0)\Vert$"
"""A neuron's norm relative to its start (mathtext: no raw underscore on an axis)."""


def _mean(values: np.ndarray) -> str:
    """Mean over the finite values as text; ``"never"`` when there are none (no warning)."""
    finite = values[np.isfinite(values)]
    return f"{finite.mean():.3g}" if finite.size else "never"


def _seed(result: DirectionalResult, seed: int | None) -> int:
    if seed is None:
        return 0
    if seed not in result.seeds:
        raise ValueError(f"seed={seed!r} is not allowed: the result has seeds {result.seeds}")
    return result.seeds.index(seed)


def _marks(ax: Axes, result: DirectionalResult, s: int) -> None:
    for t, label, ls in (
        (result.t_double()[s], "‖θ‖ = 2‖θ(0)‖", "--"),
        (result.t_escape()[s], "loss −1 %", ":"),
    ):
        if np.isfinite(t):
            ax.axvline(t, color="#334155", ls=ls, lw=0.9, label=label)


def _norm_loss(ax: Axes, result: DirectionalResult, s: int, upto: int | None = None) -> None:
    t = result.time[:, s]
    k = len(t) if upto is None else upto + 1
    ax.plot(t[:k], result.norm_ratio[:k, s], color=TEACHER, label="‖θ(t)‖/‖θ(0)‖")
    ax.set_yscale("log")
    ax.set_xlabel("flow time t")
    ax.set_ylabel("‖θ(t)‖/‖θ(0)‖", color=TEACHER)
    ax.set_xlim(0, t[-1])
    ax.set_ylim(0.5, max(2.5, float(result.norm_ratio[:, s].max()) * 1.5))
    twin = ax.twinx()
    twin.plot(t[:k], result.loss[:k, s], color=LOSS, label="loss / initial")
    twin.set_ylim(0, 1.05 * max(1.0, float(result.loss[:, s].max())))
    twin.set_ylabel("loss / initial loss", color=LOSS)
    twin.grid(False)
    _marks(ax, result, s)
    ax.legend(loc="center left", fontsize=7.5)


@styled
def directional_overview(result: DirectionalResult, seed: int | None = None) -> Figure:
    """Four panels over flow time for one seed: norm and loss; the growing neurons' cosine with
    their nearest KKT direction; singular values of ``W₁``; every neuron's norm ratio."""
    s = _seed(result, seed)
    fig = new_figure(9.0, 5.6)
    ax = fig.subplots(2, 2)
    t = result.time[:, s]
    _norm_loss(ax[0, 0], result, s)
    ax[0, 0].set_title("norm grows, loss stays flat, then drops")
    cos = result.growing_cos()[:, s]
    ax[0, 1].plot(t, cos, color=SPECIALIZED)
    ax[0, 1].axhline(0.99, color="#94a3b8", lw=0.8)
    _marks(ax[0, 1], result, s)
    ax[0, 1].set_ylim(0, 1.02)
    ax[0, 1].set_xlabel("flow time t")
    ax[0, 1].set_ylabel("mean cosine to nearest KKT dir.")
    ax[0, 1].set_title("growing neurons align with KKT directions")
    ax[1, 0].plot(t, result.svals[:, s, :], color=TEACHER, lw=1)
    ax[1, 0].set_yscale("log")
    ax[1, 0].set_xlabel("flow time t")
    ax[1, 0].set_ylabel("singular values of W₁")
    first, last = number(result.erank[0, s], ".1f"), number(result.erank[-1, s], ".1f")
    ax[1, 0].set_title(f"effective rank {first} → {last}")
    _marks(ax[1, 0], result, s)
    grow = result.growing()[-1, s]
    for j in np.argsort(grow):
        ax[1, 1].plot(
            t,
            result.neuron_ratio[:, s, j],
            color=SPECIALIZED if grow[j] else UNSPECIALIZED,
            lw=0.8,
            alpha=0.9 if grow[j] else 0.5,
        )
    ax[1, 1].set_yscale("log")
    ax[1, 1].set_xlabel("flow time t")
    ax[1, 1].set_ylabel(NEURON_RATIO)
    ax[1, 1].set_title(f"{int(grow.sum())} of {result.settings.width} neurons grow (orange)")
    c = result.seed_numbers()
    st = result.settings
    fig.suptitle(
        f"depth {st.depth}, {st.activation}, δ = {st.delta:g}, seed {result.seeds[s]}",
        fontsize=10,
    )
    return with_alt(
        fig,
        f"Training curves over flow time for depth {st.depth}, delta {st.delta:g}, seed "
        f"{result.seeds[s]}. The norm ratio doubles at t = {c['t_double'][s]:.3g} and the loss "
        f"has fallen by 1 % at t = {c['t_escape'][s]:.3g}. The mean cosine of the growing "
        f"neurons to their nearest KKT direction is {cos[0]:.2f} at the start, "
        f"{c['cos_2x'][s]:.2f} when the norm has doubled and {c['cos_flat'][s]:.3f} at the end "
        f"of the loss plateau. The effective rank of the first layer falls from "
        f"{result.erank[0, s]:.2f} to {result.erank[-1, s]:.2f}; {int(grow.sum())} of "
        f"{st.width} neurons grow.",
    )


@styled
def directional_frame(result: DirectionalResult, step: int, seed: int | None = None) -> Figure:
    """One time-scrubber frame: curves up to ``step``; every neuron's norm ratio vs cosine; the
    spectrum of ``W₁`` at ``step`` against the initial one."""
    s = _seed(result, seed)
    i = result.snapshot_index(step)
    fig = new_figure(9.5, 3.0)
    ax = fig.subplots(1, 3)
    _norm_loss(ax[0], result, s, upto=i)
    ax[0].axvline(result.time[i, s], color="#dc2626", lw=1)
    grow = result.growing()[i, s]
    ratio = result.neuron_ratio[i, s]
    ax[1].scatter(
        ratio[~grow], result.neuron_cos[i, s][~grow], s=12, color=UNSPECIALIZED, label="others"
    )
    ax[1].scatter(
        ratio[grow], result.neuron_cos[i, s][grow], s=16, color=SPECIALIZED, label="growing"
    )
    ax[1].set_xscale("log")
    ax[1].set_xlim(0.3, max(3.0, float(result.neuron_ratio[:, s].max()) * 1.5))
    ax[1].set_ylim(-0.05, 1.05)
    ax[1].set_xlabel(NEURON_RATIO)
    ax[1].set_ylabel("cosine to nearest KKT dir.")
    ax[1].legend(loc="lower right", fontsize=7.5)
    k = np.arange(result.svals.shape[-1])
    ax[2].bar(k, result.svals[i, s], color=TEACHER, label=f"t = {result.time[i, s]:.3g}")
    ax[2].step(k, result.svals[0, s], where="mid", color="#0f172a", lw=1, label="t = 0")
    ax[2].set_yscale("log")
    ax[2].set_xlabel("index")
    ax[2].set_ylabel("singular value of W₁")
    ax[2].legend(fontsize=7.5)
    ax[2].set_title(f"effective rank {number(result.erank[i, s])}")
    return with_alt(
        fig,
        f"Step {int(result.steps[i])} (flow time {result.time[i, s]:.3g}), seed "
        f"{result.seeds[s]}: norm ratio {result.norm_ratio[i, s]:.3g}, loss ratio "
        f"{result.loss[i, s]:.4g}; {int(grow.sum())} growing neurons with mean cosine "
        f"{result.growing_cos()[i, s]:.3f} to their nearest KKT direction; effective rank of "
        f"the first layer {result.erank[i, s]:.2f} (initially {result.erank[0, s]:.2f}).",
    )


@styled
def directional_panel(result: DirectionalResult) -> Figure:
    """Compact three-panel figure for slider grids (all seeds): norm and loss, cosine, effective
    rank."""
    fig = new_figure(9.5, 2.9)
    ax = fig.subplots(1, 3)
    cos = result.growing_cos()
    for s in range(len(result.seeds)):
        t = result.time[:, s]
        ax[0].plot(t, result.norm_ratio[:, s], color=TEACHER, lw=1)
        ax[0].plot(t, np.maximum(result.loss[:, s], 1e-3) * 1.0, color=LOSS, lw=1, ls="-")
        ax[1].plot(t, cos[:, s], color=SPECIALIZED, lw=1)
        ax[2].plot(t, result.erank[:, s], color=TEACHER, lw=1)
    ax[0].set_yscale("log")
    ax[0].set_title("‖θ‖/‖θ(0)‖ (blue), loss/initial (green)", fontsize=9)
    ax[1].axhline(0.99, color="#94a3b8", lw=0.8)
    ax[1].set_ylim(0, 1.02)
    ax[1].set_title("growing neurons: cosine to KKT", fontsize=9)
    ax[2].set_title("effective rank of W₁", fontsize=9)
    for a in ax:
        a.set_xlabel("flow time t")
    c = result.seed_numbers()
    st = result.settings
    return with_alt(
        fig,
        f"Depth {st.depth}, {st.activation}, width {st.width}, delta {st.delta:g}, "
        f"{len(result.seeds)} seeds: the norm doubles at mean flow time {_mean(c['t_double'])} "
        f"and the loss falls by 1 % at {_mean(c['t_escape'])}; mean cosine of the growing "
        f"neurons at the end of the loss plateau {_mean(c['cos_flat'])}; effective rank "
        f"{result.erank[0].mean():.2f} → {result.erank[-1].mean():.2f}.",
    )


@styled
def phase_length_figure(shallow: PhaseLengths, deep: PhaseLengths) -> Figure:
    """Left: degree 2, ``t_escape`` against ``ln(1/δ)`` with the fit and the theory slope
    ``1/(2N*)``; right: degree ``K > 2``, ``t_double`` against ``1/δ`` on log–log axes with the
    fit."""
    fig = new_figure(9.0, 3.2)
    ax = fig.subplots(1, 2)
    u = np.log(1 / shallow.deltas)
    ax[0].plot(u, shallow.t_escape, "o", color=LOSS, ms=3, alpha=0.5)
    ax[0].plot(u, shallow.t_escape.mean(1), "o", color=LOSS, label="loss −1 % (mean)")
    ax[0].plot(u, shallow.t_double.mean(1), "s", color=TEACHER, label="‖θ‖ = 2‖θ(0)‖ (mean)")
    ax[0].plot(u, shallow.fitted(), color="#0f172a", lw=1, label=f"fit: slope {shallow.slope:.3f}")
    ax[0].set_xlabel("ln(1/δ)")
    ax[0].set_ylabel("flow time")
    ax[0].set_title(f"depth {shallow.depth}: theory slope 1/(2N*) = {shallow.theory_slope:.3f}")
    ax[0].legend(fontsize=7.5)
    inv = 1 / deep.deltas
    ok = np.isfinite(deep.t_double.mean(1))
    ax[1].loglog(inv[ok], deep.t_double[ok], "s", color=TEACHER, ms=3, alpha=0.5)
    ax[1].loglog(
        inv[ok], deep.t_double.mean(1)[ok], "s", color=TEACHER, label="‖θ‖ = 2‖θ(0)‖ (mean)"
    )
    ax[1].loglog(inv, deep.t_escape.mean(1), "o", color=LOSS, label="loss −1 % (mean)")
    ax[1].loglog(
        inv[ok], deep.fitted()[ok], color="#0f172a", lw=1, label=f"fit: slope {deep.slope:.3f}"
    )
    ax[1].set_xlabel("1/δ")
    ax[1].set_ylabel("flow time")
    ax[1].set_title(f"depth {deep.depth}: theory slope K − 2 = {deep.theory_slope:g}")
    ax[1].legend(fontsize=7.5)
    return with_alt(
        fig,
        f"Length of the small-norm phase against the init scale. Depth {shallow.depth}: the time "
        f"until the loss has fallen by 1 % grows linearly in ln(1/delta) with fitted slope "
        f"{shallow.slope:.3f} (theory {shallow.theory_slope:.3f}), while the norm-doubling time "
        f"stays at about {_mean(shallow.t_double[1:])}. Depth {deep.depth}: the norm-doubling "
        f"time grows like (1/delta)^{deep.slope:.3f} (theory {deep.theory_slope:g}).",
    )
