"""Figures of the E4 sweep (student specialization, strong teachers first).

Every function takes a :class:`~luckbook.results.two_layer_sweep.TwoLayerSweepResult` and
returns a :class:`BookFigure` whose alt text states the measured numbers: (a) the L-shape grid,
(b) the success rate per teacher index, (c) the eval-loss curves, plus the frames of the
chapter's panels (``luckbook/panels/two_layer_sweep.py``).

Conventions of the released figures: the L-shape's correlations are on the training set at
the end of training (eval set at the snapshots in between, where only those are measured);
success rates on the eval set; the loss is the mean of ``(y_t − y_s)²`` over samples and
outputs (:func:`~luckbook.results.two_layer.released_loss`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..results.two_layer import released_loss
from ..results.two_layer_sweep import ORDER_MULTI, ORDER_P, TwoLayerSweepResult
from .style import SPECIALIZED, UNSPECIALIZED, new_figure, styled, with_alt

MULTI_COLORS = ("#64748b", "#0ea5e9", "#c2410c", "#7c3aed", "#15803d", "#b45309")
"""One colour per width multiplier, in the order of ``settings.multis``."""


def _color(result: TwoLayerSweepResult, multi: int) -> str:
    return MULTI_COLORS[list(result.settings.multis).index(multi) % len(MULTI_COLORS)]


def _default_m(result: TwoLayerSweepResult, m: int | None) -> int:
    return result.default_m() if m is None else m


def _median(values: np.ndarray) -> str:
    return f"{np.median(values):.3g}" if len(values) else "none"


def _epoch(result: TwoLayerSweepResult, step: int) -> str:
    return f"step {step} ({step / 1000:g} released epochs)"


# ----------------------------------------------------------------------------- (a) L-shape


@styled
def l_shape(
    result: TwoLayerSweepResult,
    m: int,
    multi: int,
    p: float,
    step: int | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Best correlation (x) vs fan-out norm (y) of every student node of every seed, one cell."""
    fig = ax.figure if ax is not None else new_figure(3.6, 3.0)
    ax = ax if ax is not None else fig.add_subplot()
    corr, fan = result.l_shape(m, multi, p, step)
    tau = result.settings.tau
    special = corr > tau
    ax.scatter(corr[~special], fan[~special], s=7, color=UNSPECIALIZED, alpha=0.6, lw=0)
    ax.scatter(corr[special], fan[special], s=7, color=SPECIALIZED, alpha=0.7, lw=0)
    ax.axvline(tau, color="k", lw=0.6, ls=":")
    ax.set_xlim(-0.05, 1.02)
    ax.set_title(f"multi = {multi}, p = {p:g}", fontsize=9)
    t = result.snapshot_index(step)
    return with_alt(
        fig,
        f"m = {m}, multi = {multi}, p = {p:g} at {_epoch(result, int(result.steps[t]))} "
        f"({result.l_shape_set(step)}-set correlations): {int(special.sum())} of {len(corr)} "
        f"student nodes have best correlation above {tau}, median fan-out {_median(fan[special])}; "
        f"nodes below 0.6: {int((corr < 0.6).sum())}, median fan-out {_median(fan[corr < 0.6])}.",
    )


@styled
def l_shape_grid(
    result: TwoLayerSweepResult,
    m: int | None = None,
    ps: Sequence[float] | None = None,
    step: int | None = None,
) -> Figure:
    """Figure (a): the L-shape, a grid of panels over multi (columns) × p (rows)."""
    m = _default_m(result, m)
    ps = list(result.settings.ps if ps is None else ps)
    multis = list(result.settings.multis)
    fig = new_figure(1.9 * len(multis) + 0.6, 1.75 * len(ps) + 0.5)
    axes = np.atleast_2d(
        fig.subplots(len(ps), len(multis), sharex=True, sharey=True, squeeze=False)
    )
    fan_max = max(
        float(result.cell(m, mu, p).fanout[result.snapshot_index(step)].max())
        for mu in multis
        for p in ps
    )
    for i, p in enumerate(ps):
        for j, multi in enumerate(multis):
            ax = axes[i, j]
            l_shape(result, m, multi, p, step, ax=ax)
            ax.set_ylim(-0.03 * fan_max, 1.05 * fan_max)
            if i == len(ps) - 1:
                ax.set_xlabel("best correlation")
            if j == 0:
                ax.set_ylabel("fan-out norm")
    t = result.snapshot_index(step)
    lo, hi, n_lo, n_hi = result.l_shape_medians(m, ps, int(result.steps[t]))
    fig.suptitle(
        f"L-shape, m = {m}, {len(result.seeds)} seeds, {_epoch(result, int(result.steps[t]))}, "
        f"{result.l_shape_set(step)}-set correlations",
        fontsize=10,
    )
    fig.alt = (
        f"Grid of {len(ps)}×{len(multis)} scatter plots, rows p = "
        f"{', '.join(f'{p:g}' for p in ps)}, columns multi = {', '.join(map(str, multis))}: per "
        "student node, best correlation with a teacher node (x) against fan-out norm (y), "
        f"{result.l_shape_set(step)}-set correlations, teacher width {m}, {len(result.seeds)} "
        f"seeds, at {_epoch(result, int(result.steps[t]))}. Pooled over the panels, the {n_lo} "
        f"nodes with correlation below 0.6 have median fan-out {lo:.3g}, the {n_hi} nodes above "
        f"0.95 have median fan-out {hi:.3g}."
    )
    return fig


# ----------------------------------------------------------------------------- (b) success rate


@styled
def sweep_success_rate(
    result: TwoLayerSweepResult, m: int | None = None, ps: Sequence[float] | None = None
) -> Figure:
    """Figure (b): fraction of seeds where teacher ``i`` is covered at τ, vs ``i``; early dotted,
    final solid, one curve per multi, one panel per p."""
    m = _default_m(result, m)
    ps = list(result.settings.ps if ps is None else ps)
    s = result.settings
    fig = new_figure(2.6 * len(ps) + 0.4, 2.9)
    axes = np.atleast_1d(fig.subplots(1, len(ps), sharey=True, squeeze=False)[0])
    idx = np.arange(m)
    early = int(result.steps[result.early_index])
    parts = []
    for ax, p in zip(axes, ps, strict=True):
        for multi in s.multis:
            color = _color(result, multi)
            ax.plot(idx, result.success_rate(m, multi, p, "early"), color=color, ls=":", lw=1.4)
            ax.plot(idx, result.success_rate(m, multi, p), color=color, lw=1.8, marker="o", ms=2.5)
        ax.set_title(f"p = {p:g}")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylim(-0.04, 1.04)
        lo, hi = s.multis[0], s.multis[-1]
        r_lo, r_hi = result.success_rate(m, lo, p), result.success_rate(m, hi, p)
        parts.append(
            f"p = {p:g}: final rate of teacher 0 / teacher {m - 1} is {r_lo[0]:.2f} / "
            f"{r_lo[-1]:.2f} at multi {lo} and {r_hi[0]:.2f} / {r_hi[-1]:.2f} at multi {hi}"
        )
    axes[0].set_ylabel(f"success rate (corr > {s.tau})")
    fig.supxlabel("teacher index i (strong → weak)", fontsize=10)
    handles = [Line2D([], [], color=_color(result, mu), lw=1.8) for mu in s.multis]
    handles += [Line2D([], [], color="k", ls=":"), Line2D([], [], color="k")]
    labels = [f"multi = {mu}" for mu in s.multis] + [
        f"early (step {early})",
        f"final (step {s.steps})",
    ]
    fig.legend(handles, labels, loc="outside right center", fontsize=8)
    fig.alt = (
        f"{len(ps)} panels, one per p, of the fraction of {len(result.seeds)} seeds in which "
        f"teacher node i (m = {m}) is covered at correlation {s.tau}, against i; dotted after "
        f"{early} steps, solid after {s.steps}; one colour per multi. " + "; ".join(parts) + "."
    )
    return fig


# ----------------------------------------------------------------------------- (c) loss


@styled
def sweep_loss_curves(
    result: TwoLayerSweepResult, m: int | None = None, ps: Sequence[float] | None = None
) -> Figure:
    """Figure (c): log₁₀ eval loss (released convention: mean over samples × outputs) vs released
    epoch (1000 steps), mean ± std over seeds, per multi."""
    m = _default_m(result, m)
    ps = list(result.settings.ps if ps is None else ps)
    s = result.settings
    fig = new_figure(2.6 * len(ps) + 0.4, 2.8)
    axes = np.atleast_1d(fig.subplots(1, len(ps), sharey=True, squeeze=False)[0])
    first = 1 if result.steps[0] == 0 else 0  # a log time axis from step 1
    epochs = result.steps[first:] / 1000
    parts = []
    for ax, p in zip(axes, ps, strict=True):
        ax.set_xscale("log")
        finals = []
        for multi in s.multis:
            log_loss = np.log10(
                np.maximum(
                    released_loss(result.cell(m, multi, p).eval_loss[first:], result.settings.c),
                    1e-300,
                )
            )
            mean, std = log_loss.mean(1), log_loss.std(1)
            color = _color(result, multi)
            ax.plot(epochs, mean, color=color, lw=1.6, label=f"multi = {multi}")
            ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.2, lw=0)
            finals.append(f"{mean[-1]:.2f}±{std[-1]:.2f} (multi {multi})")
        ax.set_title(f"p = {p:g}")
        ax.set_xlabel("epoch (1000 steps)")
        parts.append(f"p = {p:g}: " + ", ".join(finals))
    axes[0].set_ylabel("log₁₀ eval loss (mean over outputs)")
    handles, labels = axes[-1].get_legend_handles_labels()  # beside the panels: at p = 2 the
    fig.legend(handles, labels, loc="outside right center")  # curves fill the upper right
    fig.alt = (
        f"{len(ps)} panels, one per p, of log10 eval loss (released convention: mean of the "
        f"squared error over samples and outputs) against epoch (1000 steps), teacher width {m}, "
        f"mean ± std over {len(result.seeds)} seeds, one curve per multi. Final values: "
        + "; ".join(parts)
        + "."
    )
    return fig


# ----------------------------------------------------------------------------- panel frames


@styled
def l_shape_frame(
    result: TwoLayerSweepResult, step: int | None = None, m: int | None = None, p: float = 1.0
) -> Figure:
    """One frame of the training-time scrubber: the L-shape of every multi at ``p``, at ``step``."""
    m = _default_m(result, m)
    multis = list(result.settings.multis)
    fig = new_figure(1.9 * len(multis) + 0.6, 2.4)
    axes = fig.subplots(1, len(multis), sharey=True, squeeze=False)[0]
    fan_max = max(float(result.cell(m, mu, p).fanout.max()) for mu in multis)
    alts = []
    for ax, multi in zip(axes, multis, strict=True):
        sub = l_shape(result, m, multi, p, step, ax=ax)
        alts.append(sub.alt)
        sub.alt = ""
        ax.set_ylim(-0.03 * fan_max, 1.05 * fan_max)
        ax.set_xlabel("best correlation")
    axes[0].set_ylabel("fan-out norm")
    t = result.snapshot_index(step)
    fig.suptitle(f"m = {m}, p = {p:g}, {_epoch(result, int(result.steps[t]))}", fontsize=10)
    fig.alt = (
        f"{len(multis)} scatter plots of best correlation against fan-out norm per student "
        "node, one per multi. " + " ".join(alts)
    )
    return fig


@styled
def cell_panel(result: TwoLayerSweepResult, m: int, multi: int, p: float) -> Figure:
    """The static grid's frame for one cell: L-shape, success rate per teacher, log₁₀ eval loss."""
    s = result.settings
    fig = new_figure(9.0, 2.8)
    left, mid, right = fig.subplots(1, 3)
    l_shape(result, m, multi, p, ax=left)
    left.set_xlabel("best correlation")
    left.set_ylabel("fan-out norm")
    left.set_title("L-shape (final)")
    idx = np.arange(m)
    early, final = result.success_rate(m, multi, p, "early"), result.success_rate(m, multi, p)
    mid.plot(
        idx,
        early,
        color=SPECIALIZED,
        ls=":",
        lw=1.4,
        label=f"step {int(result.steps[result.early_index])}",
    )
    mid.plot(idx, final, color=SPECIALIZED, lw=1.8, marker="o", ms=3, label=f"step {s.steps}")
    mid.set_ylim(-0.04, 1.04)
    mid.set_xlabel("teacher index i")
    mid.xaxis.get_major_locator().set_params(integer=True)
    mid.set_ylabel(f"success rate (> {s.tau})")
    mid.legend(fontsize=8)
    first = 1 if result.steps[0] == 0 else 0  # a log time axis from step 1
    loss = released_loss(result.cell(m, multi, p).eval_loss[first:], s.c)
    log_loss = np.log10(np.maximum(loss, 1e-300))
    mean, std = log_loss.mean(1), log_loss.std(1)
    epochs = result.steps[first:] / 1000
    right.set_xscale("log")
    right.plot(epochs, mean, color=SPECIALIZED)
    right.fill_between(epochs, mean - std, mean + std, color=SPECIALIZED, alpha=0.2, lw=0)
    right.set_xlabel("epoch (1000 steps)")
    right.set_ylabel("log₁₀ eval loss")
    fig.suptitle(
        f"m = {m}, multi = {multi}, p = {p:g}, init_scale = {s.init_scale:g}: "
        f"{result.covered(m, multi, p).mean():.2f} of {m} teachers covered (mean of "
        f"{len(result.seeds)} seeds)",
        fontsize=10,
    )
    lshape_alt = fig.alt
    fig.alt = (
        f"Three panels for m = {m}, multi = {multi}, p = {p:g}, init_scale = {s.init_scale:g}. "
        f"Left: {lshape_alt} Middle: success rate per teacher index, early "
        f"{np.round(early, 2).tolist()}, final {np.round(final, 2).tolist()}. Right: log10 eval "
        f"loss from {mean[0]:.2f} to {mean[-1]:.2f}±{std[-1]:.2f}."
    )
    return fig


# ----------------------------------------------------------------------------- time


@styled
def arrival_order(result: TwoLayerSweepResult, m: int | None = None) -> Figure:
    """The order claim's picture: each teacher node's arrival step (first snapshot with best
    eval-set correlation ≥ tau; log scale) against its index, one dot per seed, at the order
    cell (multi = ``ORDER_MULTI``, p = ``ORDER_P``) and at p = 0 (the equal-strength control);
    never-covered nodes sit on the top edge."""
    m = _default_m(result, m)
    cells = [(p, f"p = {p:g}") for p in (ORDER_P, 0.0) if (m, ORDER_MULTI, p) in result.cells]
    fig = new_figure(3.3 * len(cells) + 0.4, 2.8)
    axes = fig.subplots(1, len(cells), sharey=True, squeeze=False)[0]
    top = float(result.steps[-1]) * 1.6
    parts = []
    rng = np.random.default_rng(0)
    for ax, (p, title) in zip(axes, cells, strict=True):
        arr = result.arrivals(m, ORDER_MULTI, p)
        idx = np.broadcast_to(np.arange(m), arr.shape)
        jitter = rng.uniform(-0.15, 0.15, arr.shape)
        hit = np.isfinite(arr)
        ax.scatter(idx[hit] + jitter[hit], arr[hit], s=9, color=SPECIALIZED, alpha=0.7)
        ax.scatter(
            idx[~hit] + jitter[~hit],
            np.full((~hit).sum(), top),
            s=9,
            marker="x",
            color=UNSPECIALIZED,
            label="never",
        )
        med = [np.median(arr[:, i][hit[:, i]]) if hit[:, i].any() else np.nan for i in range(m)]
        ax.plot(np.arange(m), med, color="black", lw=1.2, label="median")
        ax.set_yscale("log")
        ax.set_xlabel("teacher index i (strong → weak)" if p else "teacher index i")
        ax.set_title(f"{title}, multi = {ORDER_MULTI}")
        ax.xaxis.get_major_locator().set_params(integer=True)
        rho = result.order_correlations(m, ORDER_MULTI, p)
        shown = [None if np.isnan(v) else int(v) for v in med]
        parts.append(
            f"{title}: median arrival steps per index {shown}, "
            f"{int((~hit).sum())} (seed, node) pairs never covered, mean rank correlation "
            f"{np.nanmean(rho) if np.isfinite(rho).any() else float('nan'):.2f}"
        )
    axes[0].set_ylabel("arrival step (ρ ≥ 0.95)")
    axes[-1].legend(fontsize=8, loc="lower right")
    fig.alt = (
        f"Arrival step of each teacher node against its index, m = {m}, one dot per seed, "
        "log scale. " + "; ".join(parts) + "."
    )
    return fig


@styled
def fanout_trajectories(result: TwoLayerSweepResult) -> Figure:
    """The decay claim's picture: every student node's fan-out norm against the step (log-log)
    in the decay run (:meth:`~TwoLayerSweepResult.decay_run`), grey for nodes that never
    specialize, orange for the rest."""
    run = result.decay_run()
    m = result.settings.claim_m
    cell = run.cell(m, ORDER_MULTI, ORDER_P)
    ratio, never = run.fanout_ratios(m, ORDER_MULTI, ORDER_P)
    fig = new_figure(5.0, 3.0)
    ax = fig.subplots()
    steps = run.steps[1:]
    fan = cell.fanout[1:]
    for s in range(fan.shape[1]):
        for k in range(fan.shape[2]):
            color = UNSPECIALIZED if never[s, k] else SPECIALIZED
            ax.plot(steps, fan[:, s, k], color=color, lw=0.5, alpha=0.35)
    ax.axhline(
        float(np.median(cell.fanout[0])), color="black", ls=":", lw=1, label="start (median)"
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("fan-out norm")
    ax.set_title(
        f"init_scale {run.settings.init_scale:g}, m = {m}, multi = {ORDER_MULTI}, p = {ORDER_P:g}"
    )
    ax.legend(
        [Line2D([], [], color=UNSPECIALIZED), Line2D([], [], color=SPECIALIZED)],
        ["never specialized", "specialized"],
        fontsize=8,
        loc="lower left",
    )
    lo = ratio[never]
    fig.alt = (
        f"Fan-out norm of each student node against the step, log-log, {len(run.seeds)} seeds: "
        f"{lo.size} never-specialized nodes, median end/start ratio "
        f"{np.median(lo) if lo.size else float('nan'):.3g}; {int((~never).sum())} others."
    )
    return fig
