"""Figures of E2 (``lucky``): nodes that start closer to a teacher node converge faster.

Every function takes a :class:`~luckbook.results.lucky.LuckyResult` and returns a figure whose
alt text states the measured numbers.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..results.lucky import LuckyResult, nanmean
from .fanout import dynamics_name
from .style import LEVEL_MARKERS, LEVELS, new_figure, number, styled, with_alt

LEVEL_COLORS = LEVELS
CORR_CMAP = "viridis"


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" if k == 1 else f"{k} {noun}s"


def _level_color(k: int) -> str:
    return LEVEL_COLORS[k % len(LEVEL_COLORS)]


def _level_marker(k: int) -> str:
    return LEVEL_MARKERS[k % len(LEVEL_MARKERS)]


@styled
def luck_scatter(result: LuckyResult, ax: Axes | None = None) -> Figure:
    """Initial best correlation against time to τ (log), every node of every seed and level (E2).

    Time 0 (already at τ) is drawn at 1 ("step + 1"); censored nodes (never reached τ) are
    hollow triangles at ``steps``.
    """
    fig = ax.figure if ax is not None else new_figure(5.2, 3.5)
    ax = ax if ax is not None else fig.add_subplot()
    tau = result.settings.tau
    for k, v in enumerate(result.init_stds):
        x = result.init_corr[k].ravel()
        y = result.time[k].ravel() + 1.0
        done = result.reached[k].ravel()
        color = _level_color(k)
        ax.scatter(
            x[done],
            y[done],
            s=11,
            alpha=0.7,
            color=color,
            marker=_level_marker(k),
            label=f"init_std {v:g}",
        )
        if (~done).any():
            ax.scatter(x[~done], y[~done], s=22, marker="^", facecolors="none", edgecolors=color)
    ax.set_yscale("log")
    ax.set_xlabel("initial best correlation with a teacher node")
    ax.set_ylabel(f"time to correlation {tau:g} (step + 1)")
    ax.axvline(tau, color="k", lw=0.8, ls=":")
    within = [(float(v), nanmean(result.arrival_rhos(float(v)))) for v in result.init_stds]
    ax.set_title(
        "ρ(initial corr, arrival), seed mean: "
        + ", ".join(f"{v:g}: {r:.2f}" for v, r in within if np.isfinite(r)),
        fontsize=9,
    )
    ax.legend(loc="lower left", markerscale=1.5, fontsize=8)
    censored = int((~result.reached).sum())
    n_nodes = int(result.init_corr.size)
    levels = "; ".join(
        f"init_std {v:g}: " + ("undefined" if not np.isfinite(r) else f"{r:.3f}") for v, r in within
    )
    return with_alt(
        fig,
        f"Scatter of {n_nodes} student nodes ({len(result.seeds)} seeds, noise levels "
        f"{', '.join(f'{v:g}' for v in result.init_stds)}): initial best correlation with a "
        f"teacher node against the step at which the correlation first reached {tau:g}, log "
        f"scale; nodes right of the dotted line start at or above {tau:g}. Within each level, "
        f"over the nodes that start below {tau:g}, the mean over seeds of Spearman's rho "
        f"between initial correlation and arrival time (descriptive): {levels}; "
        f"{_count(censored, 'node')} never reached {tau:g} in {int(result.steps[-1])} steps "
        "(hollow triangles).",
    )


@styled
def luck_curves(result: LuckyResult, seed: int | None = None, ax: Axes | None = None) -> Figure:
    """Best correlation against step (log) for every node, coloured by initial correlation (E2).

    ``seed``: one seed (default: all seeds).
    """
    fig = ax.figure if ax is not None else new_figure(5.6, 3.5)
    ax = ax if ax is not None else fig.add_subplot()
    if seed is None:
        sel = slice(None)
        which = f"{len(result.seeds)} seeds"
    else:
        if seed not in result.seeds:
            raise ValueError(f"seed={seed!r} is not allowed: this result has seeds {result.seeds}")
        s = result.seeds.index(seed)
        sel = slice(s, s + 1)
        which = f"seed {seed}"
    corr = result.corr[:, :, sel]
    keep = result.steps >= 1
    steps = result.steps[keep]
    lines = corr[keep].reshape(len(steps), -1)  # [T', nodes]
    init = corr[0].ravel()
    norm = Normalize(vmin=float(result.init_corr.min()), vmax=1.0)
    cmap = colormaps[CORR_CMAP]
    for j in np.argsort(init):
        ax.plot(steps, lines[:, j], color=cmap(norm(init[j])), lw=0.7, alpha=0.6)
    tau = result.settings.tau
    ax.axhline(tau, color="k", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_ylim(min(0.0, float(lines.min()) - 0.02), 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("best correlation with a teacher node")
    ax.set_title(f"Every node's correlation, {which}")
    fig.colorbar(
        ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="initial correlation", shrink=0.9
    )
    time = result.time[:, sel].ravel()
    reached = result.reached[:, sel].ravel()
    hi = init >= np.median(init)
    med_hi = float(np.median(time[hi])) if hi.any() else float("nan")
    med_lo = float(np.median(time[~hi])) if (~hi).any() else float("nan")
    return with_alt(
        fig,
        "Curves of the best correlation with a teacher node against training step (log axis) "
        f"for the {lines.shape[1]} student nodes of {which}, coloured from dark (low initial "
        f"correlation, {float(result.init_corr.min()):.2f}) to yellow (1.0); dotted line at "
        f"{tau:g}. The nodes starting above the median initial correlation reach {tau:g} after "
        f"a median {med_hi:g} steps, the others after {med_lo:g}; "
        f"{int((~reached).sum())} never do.",
    )


@styled
def luck_overview(result: LuckyResult) -> Figure:
    """The E2 chapter's panel: the scatter and the correlation curves side by side."""
    fig = new_figure(9.2, 3.6)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.15]})
    luck_scatter(result, ax=left)
    luck_curves(result, ax=right)
    s = result.settings
    fig.suptitle(f"{dynamics_name(s.dynamics)}, multi = {s.multi}, lr = {s.lr:g}, {s.steps} steps")
    return fig


@styled
def luck_frame(result: LuckyResult, step: int | None = None) -> Figure:
    """Time-scrubber frame (E2): initial correlation against the correlation at ``step``."""
    t = result.snapshot_index(step)
    fig = new_figure(5.6, 3.5)
    ax = fig.add_subplot()
    tau = result.settings.tau
    done = (result.corr[: t + 1] >= tau).any(0)
    for k, v in enumerate(result.init_stds):
        x = result.init_corr[k].ravel()
        y = result.corr[t, k].ravel()
        ax.scatter(
            x,
            y,
            s=11,
            alpha=0.75,
            color=_level_color(k),
            marker=_level_marker(k),
            label=f"init_std {v:g}",
        )
    ax.plot([0, 1], [0, 1], color="k", lw=0.6, alpha=0.4)
    ax.axhline(tau, color="k", lw=0.8, ls=":")
    low = min(0.0, float(result.corr.min()) - 0.02)
    ax.set_xlim(low, 1.01)
    ax.set_ylim(low, 1.02)
    ax.set_xlabel("initial best correlation")
    ax.set_ylabel(f"best correlation at step {int(result.steps[t])}")
    ax.set_title(
        f"Step {int(result.steps[t])}: {int(done.sum())} of {done.size} nodes have reached {tau:g}"
    )
    ax.legend(loc="lower right", fontsize=8, markerscale=1.5)
    return with_alt(
        fig,
        f"Scatter of {done.size} student nodes: initial best correlation against best "
        f"correlation at step {int(result.steps[t])}; {int(done.sum())} have reached {tau:g} by "
        "then, coloured by noise level.",
    )


@styled
def luck_rates(result: LuckyResult, ax: Axes | None = None) -> Figure:
    """The claim's scatter (E2): initial best correlation against convergence rate (the
    slope of ``−ln(1 − ρ)`` per step, :func:`luckbook.dynamics.log_gap_rates`), every node
    that starts below τ, one colour per noise level; the title gives each level's statistic."""
    fig = ax.figure if ax is not None else new_figure(5.2, 3.5)
    ax = ax if ax is not None else fig.add_subplot()
    tau = result.settings.tau
    for k, v in enumerate(result.init_stds):
        below = result.init_corr[k] < tau
        x, y = result.init_corr[k][below], result.rate[k][below]
        ax.scatter(
            x,
            y,
            s=11,
            alpha=0.7,
            color=_level_color(k),
            marker=_level_marker(k),
            label=f"init_std {v:g}",
        )
    rates = result.rate[result.init_corr < tau]
    if (rates > 0).all():
        ax.set_yscale("log")
    else:
        ax.axhline(0.0, color="k", lw=0.6, alpha=0.5)
        ax.set_yscale("symlog", linthresh=1e-4)
    ax.set_xlabel("initial best correlation with a teacher node")
    ax.set_ylabel("log-gap rate (per step)")
    within = [(float(v), nanmean(result.rate_rhos(float(v)))) for v in result.init_stds]
    ax.set_title(
        "ρ(initial corr, rate), seed mean: "
        + ", ".join(f"{v:g}: {r:.2f}" for v, r in within if np.isfinite(r)),
        fontsize=9,
    )
    ax.legend(loc="best", markerscale=1.5, fontsize=8)
    levels = "; ".join(
        f"init_std {v:g}: " + ("undefined" if not np.isfinite(r) else f"{r:.3f}") for v, r in within
    )
    n_nodes = int((result.init_corr < tau).sum())
    return with_alt(
        fig,
        f"Scatter of the {n_nodes} student nodes that start below {tau:g} ({len(result.seeds)} "
        "seeds): initial best correlation with a teacher node against the convergence rate "
        "(least-squares slope of minus the log gap per step; negative = moving away). Within "
        "each level, the mean over seeds of Spearman's rho between the "
        f"two: {levels}.",
    )


@styled
def luck_gaps(
    result: LuckyResult, init_std: float, seed: int | None = None, ax: Axes | None = None
) -> Figure:
    """Gap ``1 − ρ`` against step on a log axis for every node of one noise level, coloured by
    initial correlation (E2). Exponential convergence is a straight line whose slope is the
    rate: nodes with one rate are parallel lines, the lower (closer) ones cross the dotted
    ``1 − τ`` line first — they arrive sooner without converging faster."""
    k = result.level_index(init_std)
    fig = ax.figure if ax is not None else new_figure(5.6, 3.5)
    ax = ax if ax is not None else fig.add_subplot()
    if seed is None:
        sel, which = slice(None), f"{len(result.seeds)} seeds"
    else:
        if seed not in result.seeds:
            raise ValueError(f"seed={seed!r} is not allowed: this result has seeds {result.seeds}")
        s = result.seeds.index(seed)
        sel, which = slice(s, s + 1), f"seed {seed}"
    floor = result.settings.rate_floor
    gap = np.clip(1.0 - result.corr[:, k, sel], floor / 10, None)  # [T, S', n]
    lines = gap.reshape(len(result.steps), -1)
    init = result.corr[0, k, sel].ravel()
    norm = Normalize(vmin=float(init.min()), vmax=float(init.max()))
    cmap = colormaps[CORR_CMAP]
    for j in np.argsort(init):
        ax.plot(result.steps, lines[:, j], color=cmap(norm(init[j])), lw=0.7, alpha=0.6)
    tau = result.settings.tau
    ax.axhline(1.0 - tau, color="k", lw=0.8, ls=":")
    ax.axhline(floor, color="k", lw=0.6, ls="--", alpha=0.5)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("gap 1 − best correlation")
    rhos, _ = result.seed_rhos(init_std)
    rho = nanmean(rhos if seed is None else rhos[sel])
    ax.set_title(
        f"init_std {init_std:g}, {which}: ρ(initial corr, halving time) = "
        + number(rho, ".2f", "too few nodes below τ to rank"),
        fontsize=9,
    )
    fig.colorbar(
        ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="initial correlation", shrink=0.9
    )
    return with_alt(
        fig,
        f"Curves of the gap one minus best correlation (log axis) against training step for the "
        f"{lines.shape[1]} student nodes of noise level {init_std:g}, {which}, coloured from "
        f"dark (initial correlation {float(init.min()):.2f}) to yellow "
        f"({float(init.max()):.2f}); dotted line at {1 - tau:.2g} (correlation {tau:g}), dashed "
        f"at the rate window's floor {floor:g}. A straight line is exponential convergence; "
        f"its slope is the rate. Spearman's rho between initial correlation and gap halving "
        f"time ({'mean over seeds' if seed is None else 'this seed'}): "
        f"{number(rho, '.3f', 'too few nodes below the threshold to rank')}.",
    )
