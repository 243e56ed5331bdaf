"""Figures of E4, the two-layer teacher–student setting (``two-layer``; the setting chapter).

Each function takes a :class:`~luckbook.TwoLayerResult` and returns a ``Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ..results.two_layer import TwoLayerResult, released_loss
from .style import SPECIALIZED, TEACHER, UNSPECIALIZED, new_figure, styled, with_alt


def _seed_index(result: TwoLayerResult, seed: int | None) -> int:
    if seed is None:
        return 0
    if seed not in result.seeds:
        raise ValueError(f"seed={seed!r} is not allowed: this result has seeds {result.seeds}")
    return result.seeds.index(seed)


def _step_index(result: TwoLayerResult, step: int | None) -> int:
    return result.snapshot_index(step)


def student_order(corr: np.ndarray) -> np.ndarray:
    """Order the student columns of ``corr [m, n]`` by matched teacher, then by correlation."""
    match = corr.argmax(0)
    best = corr.max(0)
    return np.lexsort((-best, match))


@styled
def correlation_heatmap(
    result: TwoLayerResult, seed: int | None = None, ax: Axes | None = None
) -> Figure:
    """Teacher × student activation correlations after training, one seed (E4)."""
    s = _seed_index(result, seed)
    corr = result.corr[s]
    fig = ax.figure if ax is not None else new_figure(7.0, 2.6)
    ax = ax if ax is not None else fig.add_subplot()
    image = ax.imshow(
        corr[:, student_order(corr)],
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        aspect="auto",
        interpolation="nearest",
    )
    ax.grid(False)
    ax.set_xlabel(f"student node (n = {corr.shape[1]}, sorted by best-matching teacher)")
    ax.set_ylabel("teacher node")
    ax.set_title(f"Activation correlation, seed {result.seeds[s]}")
    fig.colorbar(image, ax=ax, label="correlation", shrink=0.9)
    best = corr.max(1)
    return with_alt(
        fig,
        f"Heat-map of activation correlations between {corr.shape[0]} teacher nodes (rows) and "
        f"{corr.shape[1]} student nodes (columns) for seed {result.seeds[s]}; every teacher's best "
        f"student correlation lies between {best.min():.2f} and {best.max():.2f}.",
    )


@styled
def fanout_vs_correlation(
    result: TwoLayerResult, step: int | None = None, tau: float = 0.95, ax: Axes | None = None
) -> Figure:
    """The L-shape (SS, E4): every student node's best correlation vs its fan-out norm, all seeds;
    eval-set correlations at every snapshot (the sweep's ``l_shape_grid`` keeps the released
    training-set L)."""
    t = _step_index(result, step)
    best, which = result.student_best[t].ravel(), "eval"
    fan = result.fanout[t].ravel()
    fig = ax.figure if ax is not None else new_figure(4.2, 3.2)
    ax = ax if ax is not None else fig.add_subplot()
    special = best >= tau
    ax.scatter(
        best[~special],
        fan[~special],
        s=9,
        alpha=0.6,
        color=UNSPECIALIZED,
        label=f"best corr < {tau}",
    )
    ax.scatter(
        best[special], fan[special], s=9, alpha=0.6, color=SPECIALIZED, label=f"best corr ≥ {tau}"
    )
    ax.axvline(tau, color="k", lw=0.8, ls=":")
    ax.set_xlim(min(-0.05, float(best.min()) - 0.05), 1.02)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"best correlation ({which} set)")
    ax.set_ylabel("fan-out weight norm")
    ax.set_title(f"L-shape: {len(result.seeds)} seeds, step {int(result.steps[t])}")
    ax.legend(loc="upper left", markerscale=2)
    med_s = float(np.median(fan[special])) if special.any() else float("nan")
    med_u = float(np.median(fan[~special])) if (~special).any() else float("nan")
    return with_alt(
        fig,
        f"Scatter of {best.size} student nodes: best correlation with a teacher ({which}-set) "
        f"against fan-out norm at step {int(result.steps[t])}; {int(special.sum())} nodes reach "
        f"correlation {tau} with median fan-out {med_s:.3f}, the other {int((~special).sum())} "
        f"have median fan-out {med_u:.3f}.",
    )


@styled
def training_curves(
    result: TwoLayerResult, taus: Sequence[float] = (0.95,), axes: Sequence[Axes] | None = None
) -> Figure:
    """log₁₀ eval loss (mean ± std over seeds) and teachers covered at ``taus`` vs step (E4)."""
    fig = axes[0].figure if axes is not None else new_figure(7.0, 2.8)
    ax_loss, ax_cov = axes if axes is not None else fig.subplots(1, 2)
    steps = result.steps
    log_loss = np.log10(np.maximum(released_loss(result.eval_loss, result.settings.c), 1e-300))
    mean, std = log_loss.mean(1), log_loss.std(1)
    if result.settings.spacing == "log":  # geometric snapshots: a log time axis from step 1
        steps, mean, std = steps[1:], mean[1:], std[1:]
        ax_loss.set_xscale("log")
        ax_cov.set_xscale("log")
    ax_loss.plot(steps, mean, color=TEACHER)
    ax_loss.fill_between(steps, mean - std, mean + std, color=TEACHER, alpha=0.2, lw=0)
    ax_loss.set_xlabel("SGD step")
    ax_loss.set_ylabel("log₁₀ eval loss (mean over outputs)")
    ax_loss.set_title("Eval loss (mean ± std over seeds)")
    m = result.teacher_best.shape[-1]
    cmap = ListedColormap(["#94a3b8", "#0ea5e9", "#1d4ed8", "#c2410c"])
    for i, tau in enumerate(taus):
        frac = (result.teacher_best[-len(steps) :] > tau).sum(-1)
        ax_cov.plot(steps, frac.mean(1), color=cmap(i % cmap.N), label=f"τ = {tau}")
    ax_cov.set_ylim(-0.3, m + 0.3)
    ax_cov.set_xlabel("SGD step")
    ax_cov.set_ylabel(f"teachers covered (of {m})")
    ax_cov.set_title("Covered teachers (mean over seeds)")
    ax_cov.legend(loc="lower right")
    final = (result.teacher_best[-1] > taus[-1]).sum(-1).mean()
    return with_alt(
        fig,
        f"Two panels against SGD step: log10 eval loss (mean of the squared error over samples and "
        f"outputs, as released) falls from {mean[0]:.1f} to {mean[-1]:.1f} "
        f"(mean over {len(result.seeds)} seeds); teachers covered at tau={taus[-1]} reach "
        f"{final:.1f} of {m} on average.",
    )


@styled
def setting_overview(result: TwoLayerResult, seed: int | None = None, tau: float = 0.95) -> Figure:
    """The setting chapter's panel: heat-map, L-shape, loss and coverage in one figure."""
    fig = new_figure(10.0, 6.4)
    grid = fig.add_gridspec(2, 3, width_ratios=[1.15, 1.0, 1.0])
    correlation_heatmap(result, seed, ax=fig.add_subplot(grid[0, :2]))
    fanout_vs_correlation(result, tau=tau, ax=fig.add_subplot(grid[0, 2]))
    training_curves(
        result, taus=(0.5, 0.8, tau), axes=[fig.add_subplot(grid[1, i]) for i in range(2)]
    )
    ax = fig.add_subplot(grid[1, 2])
    ax.bar(
        np.arange(result.teacher_best.shape[-1]),
        result.teacher_best[-1].mean(0),
        color=TEACHER,
        alpha=0.8,
    )
    ax.axhline(tau, color="k", lw=0.8, ls=":")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("teacher node i")
    ax.set_ylabel("best correlation")
    ax.set_title("Best match per teacher (seed mean)", loc="right")
    s = result.settings
    fig.suptitle(
        f"Two-layer teacher–student: m = {s.m}, multi = {s.multi}, p = {s.p:g}, init_scale = "
        f"{s.init_scale:g}"
    )
    return with_alt(fig, "Bar chart of each teacher node's best correlation, averaged over seeds.")


@styled
def teacher_recovery(
    result: TwoLayerResult, step: int | None = None, tau: float = 0.95, ax: Axes | None = None
) -> Figure:
    """Each teacher node's best correlation at snapshot ``step``, mean and range over seeds (E4)."""
    t = _step_index(result, step)
    best = result.teacher_best[t]
    fig = ax.figure if ax is not None else new_figure(4.2, 3.2)
    ax = ax if ax is not None else fig.add_subplot()
    idx = np.arange(best.shape[-1])
    ax.bar(idx, best.mean(0), color=TEACHER, alpha=0.8)
    ax.vlines(idx, best.min(0), best.max(0), color="k", lw=1)
    ax.axhline(tau, color="k", lw=0.8, ls=":")
    ax.set_ylim(min(0.0, float(best.min()) - 0.05), 1.05)
    ax.set_xlabel("teacher node i")
    ax.set_ylabel("best correlation")
    ax.set_title(f"Teacher recovery, step {int(result.steps[t])}")
    covered = int((best > tau).sum())
    return with_alt(
        fig,
        f"Bar chart of the {best.shape[-1]} teacher nodes' best correlation with a student at step "
        f"{int(result.steps[t])}, mean and range over {best.shape[0]} seeds; {covered} of "
        f"{best.size} teacher-seed pairs exceed {tau}.",
    )


@styled
def specialization_frame(
    result: TwoLayerResult, step: int | None = None, tau: float = 0.95
) -> Figure:
    """One frame of the time scrubber: the L-shape and teacher recovery at snapshot ``step``."""
    fig = new_figure(8.4, 3.1)
    left, right = fig.subplots(1, 2)
    fanout_vs_correlation(result, step=step, tau=tau, ax=left)
    teacher_recovery(result, step=step, tau=tau, ax=right)
    top = max(float(result.fanout.max()) * 1.05, 1e-3)
    left.set_ylim(0, top)
    return fig


@styled
def setting_panel(result: TwoLayerResult, tau: float = 0.95) -> Figure:
    """The setting chapter's slider frame: heat-map of one seed and the L-shape of all seeds."""
    fig = new_figure(8.4, 3.0)
    grid = fig.add_gridspec(1, 2, width_ratios=[1.5, 1.0])
    correlation_heatmap(result, ax=fig.add_subplot(grid[0, 0]))
    fanout_vs_correlation(result, tau=tau, ax=fig.add_subplot(grid[0, 1]))
    s = result.settings
    fig.suptitle(f"m = {s.m}, multi = {s.multi}, p = {s.p:g}, init_scale = {s.init_scale:g}")
    return fig
