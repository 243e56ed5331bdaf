"""Figures of E1 (``fanout``): unlucky nodes lose their fan-out, and the lottery ticket.

Every function takes a :class:`~luckbook.results.fanout.FanoutResult` and returns a figure
whose alt text states the measured numbers.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..results.fanout import FanoutResult, geometric_mean
from .style import SPECIALIZED, TEACHER, UNSPECIALIZED, new_figure, number, styled, with_alt

LUCKY = SPECIALIZED  # nodes that started at a teacher node plus noise
UNLUCKY = UNSPECIALIZED  # nodes that started as pure noise
RANDOM = "#0ea5e9"
OTHER = "#9ca3af"  # unlucky nodes that specialized later (copies of a teacher node)


def dynamics_name(dynamics: str) -> str:
    """How the figures name a ``dynamics`` setting (shared with :mod:`.lucky`)."""
    return {"projected-matrix": "projected matrix gradient", "sgd": "plain SGD, no projection"}.get(
        dynamics, dynamics
    )


def _fanout_limits(result: FanoutResult) -> tuple[float, float]:
    fan = result.fanout[result.steps >= 1]
    low = max(float(fan.min()), 1e-7)
    return low / 2, float(fan.max()) * 2


@styled
def fanout_traces(
    result: FanoutResult, upto: int | None = None, ax: Axes | None = None, title: str | None = None
) -> Figure:
    """Fan-out norm of every student node (all seeds) against the step, log-log (E1).

    Lucky nodes (started at a teacher node plus noise), unlucky nodes (pure noise) that never
    specialize and unlucky nodes that specialized later are coloured apart; the bold lines are
    the medians. ``upto``: draw only up to that snapshot.
    """
    t_end = result.snapshot_index(upto)
    fig = ax.figure if ax is not None else new_figure(5.4, 3.4)
    ax = ax if ax is not None else fig.add_subplot()
    mask = result.steps >= 1  # step 0 cannot sit on a log axis; step 1 is one update later
    idx = np.flatnonzero(mask & (np.arange(len(result.steps)) <= t_end))
    steps = result.steps[idx]
    fan = result.fanout[idx]  # [T', S, n]
    never = result.never_specialized()  # [S, n]
    copies = result.unlucky[None, :] & ~never
    groups = (
        (copies, OTHER, 0.8),
        (never, UNLUCKY, 2.4),
        (np.broadcast_to(~result.unlucky, never.shape), LUCKY, 2.4),
    )
    for group, color, width in groups:
        if not len(idx) or not group.any():  # step 0 only: nothing to draw on a log axis yet
            continue
        lines = fan[:, group]  # [T', nodes of every seed]
        ax.plot(steps, lines, color=color, lw=0.6, alpha=0.3)
        if width > 1:
            ax.plot(steps, np.median(lines, axis=1), color=color, lw=width)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(1, max(float(result.steps[-1]), 2) * 1.1)
    ax.set_ylim(*_fanout_limits(result))
    ax.set_xlabel("training step")
    ax.set_ylabel("fan-out norm")
    ax.set_title(title or dynamics_name(result.settings.dynamics))
    handles = [Line2D([], [], color=LUCKY, lw=2.4), Line2D([], [], color=UNLUCKY, lw=2.4)]
    labels = [
        f"lucky (nodes 0–{result.settings.m - 1})",
        f"unlucky, never specialized (ρ < {result.TAU:g})",
    ]
    if copies.any():
        handles.append(Line2D([], [], color=OTHER, lw=0.8))
        labels.append("unlucky, specialized later")
    ax.legend(handles, labels, loc="lower left")
    t = result.snapshot_index(upto)
    step = int(result.steps[t])
    head = (
        f"Log-log plot of the fan-out norm of all "
        f"{result.fanout.shape[1] * result.fanout.shape[2]} student nodes "
        f"({len(result.seeds)} seeds, {dynamics_name(result.settings.dynamics)}) "
        f"against training step up to step {step}"
    )
    if not len(idx) or not never.any():
        return with_alt(fig, f"{head}: nothing to summarise at step 0 or without unlucky nodes.")
    decay = result.decay(step)
    return with_alt(
        fig,
        f"{head}: the {int(never.sum())} never-specialized unlucky nodes end at a median "
        f"{np.median(decay[never]):.2g} times their own starting fan-out, the lucky nodes at "
        f"{np.median(decay[:, ~result.unlucky]):.3g} times theirs.",
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
        f"Scatter of the fan-out norm of each of the {n} student nodes for {fan.shape[0]} seeds "
        f"at step {int(result.steps[t])}: nodes 0 to {result.settings.m - 1} (lucky) have median "
        f"{lucky:.3g}, nodes {result.settings.m} to {n - 1} (unlucky) median {unlucky:.2g}.",
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
        f"init_scale = {s.init_scale:g}, top_scale = {s.top_scale:g} ({s.top_init}), "
        f"multi = {s.multi}, lr = {s.lr:g}: ratio of medians "
        + number(result.ratio(), ".3g", "no lucky or no unlucky node")
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
    limits = [_fanout_limits(projected), _fanout_limits(sgd)]  # shared y: the union of both
    left.set_ylim(min(lo for lo, _ in limits), max(hi for _, hi in limits))
    fig.alt = (
        "Two log-log panels of fan-out norm against training step, same teachers and "
        "initialisations. Projected matrix gradient: lucky median "
        f"{projected.medians()[0]:.3g}, unlucky median {projected.medians()[1]:.2g} (ratio "
        f"{projected.ratio():.3g}). Plain SGD without projection: lucky median "
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
        left.bar(i, geometric_mean(values), color=color, alpha=0.75)
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
            geometric_mean(values[keep], axis=1),
            color=color,
            lw=2.4,
            label=label,
        )
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("retraining step")
    right.set_ylabel("eval loss")
    right.set_title(f"Retraining ({dynamics_name(s.dynamics)})")
    right.legend(loc="lower left")
    kept = result.keep.sum(1)
    return with_alt(
        fig,
        f"Left, bar chart of the eval loss (geometric mean over {len(result.seeds)} seeds, dots "
        f"per seed): initial {geometric_mean(result.eval_loss[0]):.3g}, after training "
        f"{geometric_mean(result.eval_loss[-1]):.2g}, after pruning the nodes with fan-out below "
        f"{s.prune_below:g} of the largest (keeping {kept.min()} to {kept.max()} of {s.n}) "
        f"{geometric_mean(result.loss_after_prune):.2g}, the kept subnetwork retrained from its "
        f"initial weights for {int(steps[-1])} steps "
        f"{geometric_mean(result.ticket_loss[-1]):.2g}, a random subnetwork of the same size "
        f"{geometric_mean(result.random_loss[-1]):.2g}. Right, the two retraining loss curves "
        "on log-log axes.",
    )


@styled
def fanout_controls(result: FanoutResult) -> Figure:
    """:func:`fanout_traces` for each control run of E1 (the same seeds and start; lucky,
    unlucky and specialized always scored against the original teacher), side by side with a
    shared fan-out axis. The trained run, drawn in full above them in the chapter
    (:func:`dynamics_comparison`), is here as its two median lines, dashed, on every panel."""
    names = [n for n in result.control_names() if n not in result.CONTROLS]
    runs = [(n, result.control_result(n)) for n in names]
    if not runs:  # no control run: the trained run alone
        runs = [("trained", result)]
    fig = new_figure(max(4.6 * len(runs), 5.4), 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(runs), sharey=True))
    mask = result.steps >= 1
    steps, fan = result.steps[mask], result.fanout[mask]  # [T', S, n]
    never = result.never_specialized()
    trained = (
        (fan[:, np.broadcast_to(~result.unlucky, never.shape)], LUCKY),
        (fan[:, never], UNLUCKY),
    )
    parts = []
    for ax, (name, run) in zip(axes, runs, strict=True):
        fanout_traces(run, ax=ax, title=f"{name} ({dynamics_name(run.settings.dynamics)})")
        if run is not result:
            for lines, color in trained:
                if lines.size:
                    ax.plot(steps, np.median(lines, axis=1), color=color, lw=1.4, ls="--")
        run_never = run.never_specialized()
        decay = run.decay()
        parts.append(
            f"{name}: never-specialized unlucky nodes at {np.median(decay[run_never]):.2g} of "
            f"their start, lucky nodes at {np.median(decay[:, ~run.unlucky]):.3g}"
        )
    legend = axes[0].get_legend()
    if runs[0][1] is not result and legend is not None:
        handles = [*legend.legend_handles, Line2D([], [], color="k", lw=1.4, ls="--")]
        labels = [t.get_text() for t in legend.get_texts()] + ["trained run, medians"]
        axes[0].legend(handles, labels, loc="lower left")
    for ax in axes[1:]:
        ax.set_ylabel("")
        ax.get_legend().remove()
    limits = [_fanout_limits(run) for _, run in runs] + [_fanout_limits(result)]
    axes[0].set_ylim(min(lo for lo, _ in limits), max(hi for _, hi in limits))
    fig.alt = (
        f"{len(runs)} log-log panels of fan-out norm against training step, one per control "
        "run, with the trained run's lucky and never-specialized unlucky medians dashed for "
        "comparison; median decay at the last step (end over start): "
        + "; ".join(parts)
        + f"; trained run: never-specialized unlucky nodes at "
        f"{np.median(result.decay()[never]):.2g}."
    )
    return fig
