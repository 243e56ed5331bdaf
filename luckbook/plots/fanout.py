"""Figures of the "luck matters" chapters: E1 (unlucky nodes lose their fan-out, lottery
ticket) and E2 (nodes that start closer converge faster).

Every function takes a result (:class:`~luckbook.experiments.fanout.FanoutResult` or
:class:`~luckbook.experiments.lucky.LuckyResult`) and returns a :class:`BookFigure` whose alt
text states the measured numbers.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..experiments.fanout import FanoutResult
from ..experiments.lucky import LuckyResult
from .style import SPECIALIZED, TEACHER, UNSPECIALIZED, new_figure, styled, with_alt

LUCKY = SPECIALIZED  # nodes that started at a teacher node plus noise
UNLUCKY = UNSPECIALIZED  # nodes that started as pure noise
RANDOM = "#0ea5e9"
LEVEL_COLORS = ("#1d4ed8", "#0ea5e9", "#f59e0b", "#c2410c", "#7c3aed", "#64748b")
CORR_CMAP = "viridis"


def _geo(values: np.ndarray) -> float:
    """Geometric mean (losses span orders of magnitude)."""
    return float(np.exp(np.log(np.maximum(values, 1e-300)).mean()))


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" if k == 1 else f"{k} {noun}s"


def _dynamics_name(dynamics: str) -> str:
    return {"projected-matrix": "projected matrix gradient", "sgd": "plain SGD, no projection"}.get(
        dynamics, dynamics
    )


def _fanout_limits(result: FanoutResult) -> tuple[float, float]:
    fan = result.fanout[result.steps >= 1]
    low = max(float(fan.min()), 1e-7)
    return low / 2, float(fan.max()) * 2


# ----------------------------------------------------------------------------- E1


@styled
def fanout_traces(
    result: FanoutResult, upto: int | None = None, ax: Axes | None = None, title: str | None = None
) -> Figure:
    """Fan-out norm of every student node (all seeds) against the step, log-log (E1).

    Lucky nodes (started at a teacher node plus noise) and unlucky nodes (pure noise) are
    coloured apart; the bold lines are the medians. ``upto``: draw only up to that snapshot.
    """
    t_end = result.snapshot_index(upto)
    fig = ax.figure if ax is not None else new_figure(5.4, 3.4)
    ax = ax if ax is not None else fig.add_subplot()
    mask = result.steps >= 1  # step 0 cannot sit on a log axis; step 1 is one update later
    idx = np.flatnonzero(mask & (np.arange(len(result.steps)) <= t_end))
    steps = result.steps[idx]
    fan = result.fanout[idx]  # [T', S, n]
    for group, color in ((result.unlucky, UNLUCKY), (~result.unlucky, LUCKY)):
        if not len(idx):  # step 0 only: nothing to draw on a log axis yet
            break
        lines = fan[:, :, group].reshape(len(idx), -1)
        ax.plot(steps, lines, color=color, lw=0.6, alpha=0.3)
        ax.plot(steps, np.median(lines, axis=1), color=color, lw=2.4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(1, max(float(result.steps[-1]), 2) * 1.1)
    ax.set_ylim(*_fanout_limits(result))
    ax.set_xlabel("training step")
    ax.set_ylabel("fan-out norm")
    ax.set_title(title or _dynamics_name(result.settings.dynamics))
    ax.legend(
        [Line2D([], [], color=LUCKY, lw=2.4), Line2D([], [], color=UNLUCKY, lw=2.4)],
        [
            f"lucky (nodes 0–{result.settings.m - 1})",
            f"unlucky (nodes {result.settings.m}–{result.settings.n - 1})",
        ],
        loc="lower left",
    )
    t = result.snapshot_index(upto)
    lucky, unlucky = result.medians(int(result.steps[t]))
    head = (
        f"Log-log plot of the fan-out norm of all {result.fanout.shape[1] * result.fanout.shape[2]} "
        f"student nodes ({len(result.seeds)} seeds, {_dynamics_name(result.settings.dynamics)}) "
        f"against training step up to step {int(result.steps[t])}"
    )
    if not len(idx):
        return with_alt(fig, f"{head}: empty at step 0, before any update.")
    first_unlucky = float(np.median(result.fanout[idx[0]][:, result.unlucky]))
    return with_alt(
        fig,
        f"{head}: the lucky nodes' median fan-out is {lucky:.3g}; the unlucky nodes' median "
        f"falls from {first_unlucky:.3g} at step 1 to {unlucky:.2g}, a ratio of "
        f"{result.ratio(int(result.steps[t])):.3g}.",
    )


@styled
def fanout_strip(result: FanoutResult, step: int | None = None, ax: Axes | None = None) -> Figure:
    """Every node's fan-out norm at snapshot ``step`` against its index, all seeds (E1)."""
    t = result.snapshot_index(step)
    fig = ax.figure if ax is not None else new_figure(4.2, 3.2)
    ax = ax if ax is not None else fig.add_subplot()
    fan = result.fanout[t]  # [S, n]
    n = fan.shape[1]
    jitter = np.linspace(-0.25, 0.25, fan.shape[0])[:, None]
    x = np.arange(n)[None, :] + jitter
    colors = np.where(result.unlucky, UNLUCKY, LUCKY)
    ax.scatter(x.ravel(), fan.ravel(), c=np.broadcast_to(colors, fan.shape).ravel(), s=9, alpha=0.8)
    ax.axvline(result.settings.m - 0.5, color="k", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_ylim(*_fanout_limits(result))
    ax.set_xlabel("student node")
    ax.set_ylabel("fan-out norm")
    ax.set_title(f"All seeds at step {int(result.steps[t])}")
    lucky, unlucky = result.medians(int(result.steps[t]))
    return with_alt(
        fig,
        f"Scatter of the fan-out norm of each of the {n} student nodes for {fan.shape[0]} seeds at step "
        f"{int(result.steps[t])}: nodes 0 to {result.settings.m - 1} (lucky) have median {lucky:.3g}, "
        f"nodes {result.settings.m} to {n - 1} (unlucky) median {unlucky:.2g}.",
    )


@styled
def fanout_frame(result: FanoutResult, step: int | None = None) -> Figure:
    """One frame of the time scrubber: traces up to ``step`` and every node at ``step`` (E1)."""
    fig = new_figure(8.8, 3.3)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1.0]})
    fanout_traces(result, upto=step, ax=left)
    fanout_strip(result, step=step, ax=right)
    return fig


@styled
def fanout_panel(result: FanoutResult) -> Figure:
    """The static grid's frame: :func:`fanout_frame` at the last step, titled by the settings."""
    fig = fanout_frame(result)
    s = result.settings
    fig.suptitle(
        f"init_scale = {s.init_scale:g}, top_scale = {s.top_scale:g} ({s.top_init}), multi = {s.multi}, lr = {s.lr:g}: "
        f"ratio of medians {result.ratio():.3g}"
    )
    return fig


@styled
def dynamics_comparison(projected: FanoutResult, sgd: FanoutResult) -> Figure:
    """The same setting under the projected matrix gradient and under plain SGD (E1)."""
    fig = new_figure(9.0, 3.4)
    left, right = fig.subplots(1, 2, sharey=True)
    fanout_traces(projected, ax=left)
    fanout_traces(sgd, ax=right)
    right.set_ylabel("")
    lo = min(left.get_ylim()[0], right.get_ylim()[0])
    hi = max(left.get_ylim()[1], right.get_ylim()[1])
    left.set_ylim(lo, hi)
    fig.alt = (
        f"Two log-log panels of fan-out norm against training step, same teachers and initialisations. "
        f"Projected matrix gradient: lucky median {projected.medians()[0]:.3g}, unlucky median "
        f"{projected.medians()[1]:.2g} (ratio {projected.ratio():.3g}). Plain SGD without projection: lucky median "
        f"{sgd.medians()[0]:.3g}, unlucky median {sgd.medians()[1]:.2g} (ratio {sgd.ratio():.3g})."
    )
    return fig


@styled
def lottery_figure(result: FanoutResult) -> Figure:
    """The lottery-ticket demo: losses before/after pruning and after retraining, and the
    retraining curves of the ticket and of a random subnetwork of the same size (E1)."""
    fig = new_figure(9.0, 3.3)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.1]})
    s = result.settings
    bars = [
        ("initial", result.eval_loss[0], TEACHER),
        ("trained", result.eval_loss[-1], LUCKY),
        ("pruned", result.loss_after_prune, LUCKY),
        ("ticket\nretrained", result.ticket_loss[-1], LUCKY),
        ("random\nretrained", result.random_loss[-1], RANDOM),
    ]
    for i, (_, values, color) in enumerate(bars):
        left.bar(i, _geo(values), color=color, alpha=0.75)
        left.scatter(
            np.full(len(values), i) + np.linspace(-0.2, 0.2, len(values)),
            values,
            color="k",
            s=8,
            zorder=3,
        )
    left.set_yscale("log")
    left.set_xticks(range(len(bars)), [b[0] for b in bars])
    left.set_ylabel("eval loss")
    left.set_title("Prune, then retrain from the initial weights")
    steps = result.retrain_steps
    keep = steps >= 1
    for values, color, label in (
        (result.ticket_loss, LUCKY, "ticket (kept nodes)"),
        (result.random_loss, RANDOM, "random subnetwork, same size"),
    ):
        right.plot(steps[keep], values[keep], color=color, lw=0.8, alpha=0.5)
        right.plot(
            steps[keep],
            np.exp(np.log(np.maximum(values[keep], 1e-300)).mean(1)),
            color=color,
            lw=2.4,
            label=label,
        )
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("retraining step")
    right.set_ylabel("eval loss")
    right.set_title(f"Retraining ({_dynamics_name(s.dynamics)})")
    right.legend(loc="lower left")
    kept = result.keep.sum(1)
    return with_alt(
        fig,
        f"Left, bar chart of the eval loss (geometric mean over {len(result.seeds)} seeds, dots per seed): "
        f"initial {_geo(result.eval_loss[0]):.3g}, after training {_geo(result.eval_loss[-1]):.2g}, after pruning "
        f"the nodes with fan-out below {s.prune_below:g} of the largest (keeping {kept.min()} to {kept.max()} of "
        f"{s.n}) {_geo(result.loss_after_prune):.2g}, the kept subnetwork retrained from its initial weights for "
        f"{int(steps[-1])} steps {_geo(result.ticket_loss[-1]):.2g}, a random subnetwork of the same size "
        f"{_geo(result.random_loss[-1]):.2g}. Right, the two retraining loss curves on log-log axes.",
    )


# ----------------------------------------------------------------------------- E2


def _level_color(k: int) -> str:
    return LEVEL_COLORS[k % len(LEVEL_COLORS)]


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
        ax.scatter(x[done], y[done], s=11, alpha=0.7, color=color, label=f"init_std {v:g}")
        if (~done).any():
            ax.scatter(x[~done], y[~done], s=22, marker="^", facecolors="none", edgecolors=color)
    ax.set_yscale("log")
    ax.set_xlabel("initial best correlation with a teacher node")
    ax.set_ylabel(f"time to correlation {tau:g} (step + 1)")
    ax.axvline(tau, color="k", lw=0.8, ls=":")
    within = _within_level_rhos(result)
    ax.set_title(
        "within-level ρ (seed mean): "
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
        f"{', '.join(f'{v:g}' for v in result.init_stds)}): initial best correlation with a teacher "
        f"node against the step at which the correlation first reached {tau:g}, log scale; nodes right "
        f"of the dotted line start at or above {tau:g}. Within each level, over the nodes that start "
        f"below {tau:g}, the mean over seeds of Spearman's rho: {levels}; "
        f"{_count(censored, 'node')} never reached {tau:g} in {int(result.steps[-1])} steps "
        "(hollow triangles).",
    )


def _within_level_rhos(result: LuckyResult) -> list[tuple[float, float]]:
    """``[(init_std, mean over seeds of the within-level rho)]`` (NaN where undefined)."""
    out = []
    for v in result.init_stds:
        rhos, _ = result.seed_rhos(float(v))
        ok = rhos[np.isfinite(rhos)]
        out.append((float(v), float(ok.mean()) if ok.size else float("nan")))
    return out


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
        f"Curves of the best correlation with a teacher node against training step (log axis) for the "
        f"{lines.shape[1]} student nodes of {which}, coloured from dark (low initial correlation, "
        f"{float(result.init_corr.min()):.2f}) to yellow (1.0); dotted line at {tau:g}. The nodes "
        f"starting above the median initial correlation reach {tau:g} after a median {med_hi:g} steps, the others "
        f"after {med_lo:g}; {int((~reached).sum())} never do.",
    )


@styled
def luck_overview(result: LuckyResult) -> Figure:
    """The E2 chapter's panel: the scatter and the correlation curves side by side."""
    fig = new_figure(10.0, 3.6)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.15]})
    luck_scatter(result, ax=left)
    luck_curves(result, ax=right)
    s = result.settings
    fig.suptitle(f"{_dynamics_name(s.dynamics)}, multi = {s.multi}, lr = {s.lr:g}, {s.steps} steps")
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
        ax.scatter(x, y, s=11, alpha=0.75, color=_level_color(k), label=f"init_std {v:g}")
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
        f"Scatter of {done.size} student nodes: initial best correlation against best correlation at step "
        f"{int(result.steps[t])}; {int(done.sum())} have reached {tau:g} by then, coloured by noise level.",
    )


# ----------------------------------------------------------------------------- live sliders

FANOUT_SLIDERS: dict[str, dict[str, object]] = {
    "init_scale": {"kind": "log", "min": -2, "max": 0, "step": 0.25, "description": "init_scale"},
    "top_scale": {"kind": "log", "min": -2, "max": 0, "step": 0.25, "description": "top_scale"},
    "multi": {"kind": "select", "options": [2, 3, 4], "description": "multi"},
    "lr": {"kind": "log", "min": -2, "max": 0, "step": 0.25, "description": "lr"},
}
"""Live panel of the E1 chapter (:func:`luckbook.widgets.explorer`): hidden noise, top-layer
scale, width multiplier and learning rate."""

LUCKY_SLIDERS: dict[str, dict[str, object]] = {
    "multi": {"kind": "select", "options": [1, 2, 3], "description": "multi"},
    "top_scale": {"kind": "log", "min": -2, "max": 0, "step": 0.25, "description": "top_scale"},
    "lr": {"kind": "log", "min": -2, "max": 0, "step": 0.25, "description": "lr"},
}
"""Live panel of the E2 chapter: width multiplier, top-layer scale and learning rate."""
