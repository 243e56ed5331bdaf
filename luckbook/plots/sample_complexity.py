"""Figures of the sample-complexity chapter (E5): Gaussian vs boundary-augmented training sets.

Every function takes a :class:`~luckbook.results.sample_complexity.SampleComplexityResult`
and returns a :class:`BookFigure` whose alt text states the measured numbers; the chapter's
panels are in ``luckbook/panels/sample_complexity.py``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from ..results.sample_complexity import SampleComplexityResult
from .style import TEACHER, new_figure, styled, with_alt

KIND_COLORS = {"gaussian": "#64748b", "augmented": "#c2410c"}
KIND_MARKERS = {"gaussian": "o", "augmented": "s"}


def _n_axis(ax: Axes, n: np.ndarray) -> None:
    """Log x axis labelled at the training-set sizes only."""
    ax.set_xscale("log")
    ax.set_xticks(n, [f"{int(v):,}" for v in n])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("training-set size N")


@styled
def coverage_vs_n(
    result: SampleComplexityResult,
    tau: float = 0.95,
    step: int | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Fraction of teachers covered at ``tau`` vs training-set size ``N`` (log x), per data kind:
    mean over seeds with a ± one-std band, and every seed as a small dot."""
    s = result.settings
    t = result.snapshot_index(step)
    frac = result.fraction_covered(tau, int(result.steps[t]))  # [G, K, S]
    fig = ax.figure if ax is not None else new_figure(5.0, 3.4)
    ax = ax if ax is not None else fig.add_subplot()
    n = np.asarray(s.n_trains, dtype=float)
    order = np.argsort(n)
    parts = []
    for k, kind in enumerate(s.kinds):
        mean, std = frac[:, k].mean(-1)[order], frac[:, k].std(-1)[order]
        color = KIND_COLORS[kind]
        ax.fill_between(n[order], mean - std, mean + std, color=color, alpha=0.15, lw=0)
        ax.plot(n[order], mean, color=color, marker=KIND_MARKERS[kind], lw=2, label=kind)
        jitter = 1.0 + 0.04 * (k - 0.5)
        for g in range(len(n)):
            ax.scatter(
                np.full(frac.shape[-1], n[g] * jitter),
                frac[g, k],
                s=9,
                color=color,
                alpha=0.45,
                lw=0,
            )
        parts.append(
            f"{kind}: "
            + ", ".join(
                f"N={int(n[g])} {frac[g, k].mean():.2f}±{frac[g, k].std():.2f}" for g in order
            )
        )
    _n_axis(ax, n)
    ax.set_ylim(-0.04, 1.04)
    ax.set_ylabel(f"fraction of teachers covered at τ={tau:g}")
    ax.set_title(f"step {int(result.steps[t])}: {s.m} teacher nodes, {len(result.seeds)} seeds")
    ax.legend(loc="lower right")
    return with_alt(
        fig,
        f"Fraction of the {s.m} teacher nodes covered at correlation > {tau:g} on Gaussian eval "
        f"data against the training-set size N on a log axis, after {int(result.steps[t])} SGD "
        f"steps, mean ± std over {len(result.seeds)} seeds: " + "; ".join(parts) + ".",
    )


@styled
def loss_vs_n(result: SampleComplexityResult, ax: Axes | None = None) -> Figure:
    """Final train loss (dashed) and Gaussian eval loss (solid) vs ``N``, log-log, per data kind."""
    s = result.settings
    fig = ax.figure if ax is not None else new_figure(5.0, 3.4)
    ax = ax if ax is not None else fig.add_subplot()
    n = np.asarray(s.n_trains, dtype=float)
    order = np.argsort(n)
    parts = []
    for k, kind in enumerate(s.kinds):
        color = KIND_COLORS[kind]
        ev = np.exp(np.log(np.maximum(result.eval_loss[-1, :, k], 1e-300)).mean(-1))[order]
        tr = np.exp(np.log(np.maximum(result.train_loss[-1, :, k], 1e-300)).mean(-1))[order]
        ax.plot(
            n[order],
            ev,
            color=color,
            marker=KIND_MARKERS[kind],
            lw=2,
            label=f"{kind}: eval (Gaussian)",
        )
        ax.plot(n[order], tr, color=color, ls="--", lw=1.4, label=f"{kind}: own training set")
        parts.append(
            f"{kind}: eval "
            + ", ".join(f"N={int(n[g])} {ev[i]:.2g}" for i, g in enumerate(order))
            + "; train "
            + ", ".join(f"{tr[i]:.2g}" for i in range(len(order)))
        )
    _n_axis(ax, n)
    ax.set_yscale("log")
    ax.set_ylabel("square loss (geometric mean over seeds)")
    ax.set_title(f"after {int(result.steps[-1])} steps")
    ax.legend(fontsize=8)
    return with_alt(
        fig,
        "Final square loss against training-set size N, log-log, geometric mean over seeds: "
        + "; ".join(parts)
        + ".",
    )


@styled
def sample_complexity_figure(result: SampleComplexityResult, tau: float = 0.95) -> Figure:
    """The chapter's main figure: coverage vs ``N`` (left) and losses vs ``N`` (right)."""
    fig = new_figure(10.0, 3.6)
    left, right = fig.subplots(1, 2)
    coverage_vs_n(result, tau, ax=left)
    loss_vs_n(result, ax=right)
    return fig


@styled
def sample_complexity_per_teacher(
    result: SampleComplexityResult,
    n_train: int,
    tau: float = 0.95,
    kinds: tuple[str, ...] | None = None,
) -> Figure:
    """Best correlation of every teacher node (x: teacher index) at one ``N``, every seed a dot,
    one panel per data kind (default: every kind of the run), with the threshold ``tau`` dashed."""
    s = result.settings
    kinds = s.kinds if kinds is None else tuple(kinds)
    fig = new_figure(4.2 * len(kinds) + 0.6, 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(kinds), sharey=True))
    parts = []
    for ax, kind in zip(axes, kinds, strict=True):
        g, k = result.index(n_train, kind)
        best = result.teacher_best[-1, g, k]  # [S, m]
        idx = np.arange(s.m)
        for i in range(best.shape[0]):
            ax.scatter(
                idx + 0.08 * (i - best.shape[0] / 2),
                best[i],
                s=12,
                color=KIND_COLORS[kind],
                alpha=0.7,
                lw=0,
            )
        ax.plot(idx, best.mean(0), color=KIND_COLORS[kind], lw=1.2)
        ax.axhline(tau, color=TEACHER, ls="--", lw=1)
        ax.set_xticks(idx)
        ax.set_xlabel("teacher node i")
        ax.set_ylim(min(0.0, float(best.min())) - 0.02, 1.02)
        rate = (best > tau).mean(0)
        ax.set_title(f"{kind}, N={n_train}: {rate.mean() * s.m:.1f}/{s.m} covered")
        parts.append(
            f"{kind}: mean best correlation per teacher node "
            + ", ".join(f"{v:.2f}" for v in best.mean(0))
            + f"; fraction of seeds covering each node at {tau:g}: "
            + ", ".join(f"{v:.2f}" for v in rate)
        )
    axes[0].set_ylabel("best correlation with a student node")
    return with_alt(
        fig,
        f"Best correlation of each teacher node with any student node on Gaussian eval data, "
        f"training-set size N={n_train}, one dot per seed ({len(result.seeds)} seeds). "
        + "; ".join(parts)
        + ".",
    )


@styled
def augmentation_picture(
    result: SampleComplexityResult,
    n_train: int | None = None,
    seed: int | None = None,
    nodes: tuple[int, int] = (0, 1),
) -> Figure:
    """Training points in the 2-D projection ``(z_i, z_j) = (w_iᵀx + b_i, w_jᵀx + b_j)`` of two
    teacher nodes, one panel per data kind (the teacher boundaries are the lines ``z = 0``; points
    within 0.1 of either are black), and a histogram of ``z_i`` for every kind."""
    s = result.settings
    n_train = min(s.n_trains) if n_train is None else n_train
    result.index(n_train, s.kinds[0])
    i, j = nodes
    if not (0 <= i < s.m and 0 <= j < s.m and i != j):
        raise ValueError(
            f"nodes={nodes!r} is not allowed: expected two distinct teacher nodes in 0..{s.m - 1}"
        )
    pos = result.seed_position(seed)
    points = result.boundary_coordinates(n_train, seed)  # kind -> [N, m]
    fig = new_figure(3.6 * len(points) + 4.0, 3.6)
    axes = fig.subplots(1, len(points) + 1)
    scatter_axes, hist_ax = axes[:-1], axes[-1]
    parts = []
    bins = np.arange(-5.0, 5.0 + 1e-9, 0.1)
    lo, hi = s.alpha_mean, s.alpha_mean + s.alpha_sigma  # α's range: the shifted copies' distance
    for ax, (kind, z) in zip(scatter_axes, points.items(), strict=True):
        near = (np.abs(z[:, i]) < 0.1) | (np.abs(z[:, j]) < 0.1)
        ax.scatter(z[~near, i], z[~near, j], s=3, color=KIND_COLORS[kind], alpha=0.35, lw=0)
        ax.scatter(z[near, i], z[near, j], s=5, color="black", alpha=0.8, lw=0)
        ax.axvline(0, color=TEACHER, lw=1)
        ax.axhline(0, color=TEACHER, lw=1)
        ax.set_xlim(-5, 5)
        ax.set_ylim(-5, 5)
        near_i = int((np.abs(z[:, i]) < 0.1).sum())
        near_j = int((np.abs(z[:, j]) < 0.1).sum())
        ax.set_title(f"{kind}, N={n_train}:\n{near_i} and {near_j} points within 0.1")
        ax.set_xlabel(f"$w_{{{i}}}^\\top x + b_{{{i}}}$ (teacher node {i})")
        ax.set_ylabel(f"$w_{{{j}}}^\\top x + b_{{{j}}}$ (teacher node {j})")
        hist_ax.hist(z[:, i], bins=bins, color=KIND_COLORS[kind], alpha=0.55, label=kind)
        shoulder = float(((np.abs(z[:, i]) >= lo) & (np.abs(z[:, i]) <= hi)).mean())
        parts.append(
            f"{kind}: {near_i} of {len(z)} points within 0.1 of boundary {i} and {near_j} within "
            f"0.1 of boundary {j}; {np.mean(z[:, i] > 0):.2f} on the positive side of boundary "
            f"{i}; {shoulder:.2f} at distance {lo:g} to {hi:g} from it"
        )
    hist_ax.axvline(0, color=TEACHER, lw=1)
    hist_ax.set_xlabel(f"$w_{{{i}}}^\\top x + b_{{{i}}}$ (teacher node {i})")
    hist_ax.set_ylabel("points per bin of width 0.1")
    hist_ax.set_title(f"distance to boundary {i}")
    hist_ax.legend(fontsize=8)
    return with_alt(
        fig,
        f"Training points of seed {result.seeds[pos]} projected onto the pre-activations of "
        f"teacher nodes {i} (x) and {j} (y); the blue lines are the two boundaries, points within "
        f"0.1 of either boundary are black; right, a histogram of the pre-activation of node {i}. "
        "The augmented set has a spike of points on each boundary and extra points at distance "
        f"{lo:g} to {hi:g} on both sides. " + "; ".join(parts) + ".",
    )


def coverage_frame(result: SampleComplexityResult, step: int) -> Figure:
    """A frame of the training-time scrubber: coverage vs ``N`` at snapshot ``step``."""
    return coverage_vs_n(result, 0.95, step)


def grid_frame(result: SampleComplexityResult, n_train: int, kind: str) -> Figure:
    """A frame of the static grid: per-teacher best correlations at ``(n_train, kind)``."""
    return sample_complexity_per_teacher(result, n_train, kinds=(kind,))
