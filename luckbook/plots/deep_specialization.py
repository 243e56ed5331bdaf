"""Figures of the deep-specialization chapter (E6): the L-shape in every layer.

Every function takes a
:class:`~luckbook.results.deep_specialization.DeepSpecializationResult` and returns a
``Figure`` whose alt text states the measured numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..results.deep_specialization import HIGH, LOW, DeepSpecializationResult
from .style import SPECIALIZED, UNSPECIALIZED, new_figure, styled, with_alt

FANOUT = r"$\sqrt{\mathrm{E}[\beta_{kk}]}$"
"""A node's effective fan-out (mathtext: no raw underscore on an axis)."""
MIDDLE = "#0891b2"  # student nodes with best correlation between LOW and HIGH
LAYER_COLORS = ("#1d4ed8", "#0891b2", "#65a30d", "#c2410c", "#7c3aed", "#64748b")


def _fmt(value: float, digits: int = 3) -> str:
    return "undefined" if math.isnan(value) else f"{value:.{digits}f}"


def _groups(best: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return best < LOW, (best >= LOW) & (best <= HIGH), best > HIGH


@styled
def l_shape_layer(
    result: DeepSpecializationResult,
    layer: int,
    step: int | None = None,
    ax: Axes | None = None,
    top: float | None = None,
) -> Figure:
    """One hidden layer's L-shape at snapshot ``step``: every student node (all seeds) as a dot,
    best correlation (x) against effective fan-out ``√E[β_kk]`` (y). Dead student nodes (never
    active on the eval set) are drawn as crosses. ``top``: a fixed upper y-limit."""
    t = result.snapshot_index(step)
    best = result.student_best[layer][t].ravel()
    fan = result.fanout[layer][t].ravel()
    live = result.student_live[layer][t].ravel()
    fig = ax.figure if ax is not None else new_figure(3.4, 3.0)
    ax = ax if ax is not None else fig.add_subplot()
    lo, mid, hi = _groups(best)
    for mask, color, label in (
        (lo, UNSPECIALIZED, f"< {LOW}"),
        (mid, MIDDLE, f"{LOW}–{HIGH}"),
        (hi, SPECIALIZED, f"> {HIGH}"),
    ):
        ax.scatter(
            best[mask & live], fan[mask & live], s=6, alpha=0.55, color=color, lw=0, label=label
        )
    if (~live).any():
        ax.scatter(best[~live], fan[~live], s=12, marker="x", color="k", lw=0.7, label="dead")
    q = result.l_shape(layer, int(result.steps[t]))
    for key, color in (("median_low", UNSPECIALIZED), ("median_high", SPECIALIZED)):
        if not math.isnan(q[key]):
            ax.axhline(q[key], color=color, lw=1.0, ls="--")
    ax.axvline(LOW, color="k", lw=0.6, ls=":")
    ax.axvline(HIGH, color="k", lw=0.6, ls=":")
    ax.set_xlim(-0.05, 1.02)
    ax.set_ylim(0, top if top is not None else max(float(fan.max()) * 1.05, 1e-6))
    m = result.teacher_best[layer].shape[-1]
    ax.set_title(
        f"layer {layer}: {m} teacher / {best.size // len(result.seeds)} student nodes\n"
        f"ratio of medians {_fmt(q['ratio'])}",
        fontsize=9,
    )
    ax.set_xlabel("best correlation with a teacher node")
    ax.set_ylabel(FANOUT + " (effective fan-out)")
    return with_alt(
        fig,
        f"Layer {layer}: {q['n_low']} student nodes with best correlation below {LOW} have median "
        f"effective fan-out {_fmt(q['median_low'])}, {q['n_high']} above {HIGH} have "
        f"{_fmt(q['median_high'])}; ratio {_fmt(q['ratio'])}.",
    )


def _tops(result: DeepSpecializationResult) -> list[float]:
    return [max(float(f.max()) * 1.05, 1e-6) for f in result.fanout]


@styled
def l_shape_panels(
    result: DeepSpecializationResult, step: int | None = None, fixed_limits: bool = False
) -> Figure:
    """The chapter's main figure: a panel per hidden layer, best correlation vs √E[β_kk], all
    seeds, at snapshot ``step`` (default: the end). ``fixed_limits``: y-limits from the whole
    run (for time-scrubber frames)."""
    t = result.snapshot_index(step)
    n = result.n_layers
    cols = n if n <= 2 else 2
    rows = math.ceil(n / cols)
    fig = new_figure(3.7 * cols + 0.3, 2.9 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    tops = _tops(result) if fixed_limits else [None] * n
    for l, ax in enumerate(axes):
        if l >= n:
            ax.set_axis_off()
            continue
        l_shape_layer(result, l, int(result.steps[t]), ax=ax, top=tops[l])
        if l % cols:
            ax.set_ylabel("")
        if l < n - cols:
            ax.set_xlabel("")
    axes[0].legend(
        loc="upper left", fontsize=7.5, markerscale=2, title="best corr", title_fontsize=7.5
    )
    s = result.settings
    fig.suptitle(
        f"Every layer at epoch {result.epochs[t]:.3g}: teacher {s.widths}, "
        f"×{s.multi}, {s.activation}, {len(result.seeds)} seeds"
    )
    fig.alt = ""  # the per-layer texts were collected on the figure; restate them in one line
    layers = "; ".join(_layer_text(result, l, t) for l in range(n))
    return with_alt(
        fig,
        f"{n} scatter plots, one per hidden layer (0 = lowest), of every student node's best "
        f"correlation with a teacher node of its layer (x) against its effective fan-out "
        f"square-root of E[beta_kk] (y), {len(result.seeds)} seeds pooled, at epoch "
        f"{result.epochs[t]:.3g}. Median fan-out of nodes below {LOW} / above {HIGH} and their "
        f"ratio: {layers}.",
    )


def _layer_text(result: DeepSpecializationResult, layer: int, t: int) -> str:
    q = result.l_shape(layer, int(result.steps[t]))
    return (
        f"layer {layer} {_fmt(q['median_low'])} ({q['n_low']} nodes) / {_fmt(q['median_high'])} "
        f"({q['n_high']} nodes) = {_fmt(q['ratio'])}"
    )


@styled
def specialization_curves(
    result: DeepSpecializationResult, step: int | None = None, axes: Sequence[Axes] | None = None
) -> Figure:
    """Per hidden layer against epoch: the mean best teacher correlation (left; mean over seeds,
    range shaded) and the L-shape ratio of medians (right; all seeds pooled, ¼ dashed). The
    learning-rate drop is marked; with ``step`` a vertical line marks that snapshot."""
    fig = axes[0].figure if axes is not None else new_figure(8.0, 3.1)
    left, right = axes if axes is not None else fig.subplots(1, 2)
    x = result.epochs
    mean = result.teacher_mean()  # [L, T, S]
    ratios = np.array([result.l_shape_ratios(l) for l in range(result.n_layers)])
    for l in range(result.n_layers):
        color = LAYER_COLORS[l % len(LAYER_COLORS)]
        left.plot(x, mean[l].mean(-1), color=color, lw=1.6, label=f"layer {l}")
        left.fill_between(x, mean[l].min(-1), mean[l].max(-1), color=color, alpha=0.2, lw=0)
        right.plot(x, ratios[l], color=color, lw=1.6, marker="o", ms=3, label=f"layer {l}")
    right.axhline(0.25, color="k", lw=0.8, ls="--")
    drop = result.settings.lr_drop_epoch
    for ax in (left, right):
        if 0 < drop < result.settings.epochs:
            ax.axvline(drop, color="#94a3b8", lw=0.8, ls="-.")
        if step is not None:
            ax.axvline(float(result.epochs[result.snapshot_index(step)]), color="k", lw=0.8)
        ax.set_xlabel("epoch")
    left.set_ylim(0, 1.02)
    right.set_xlim(left.get_xlim())
    left.set_ylabel("mean best correlation of teacher nodes")
    left.set_title("Teacher nodes recovered, per layer")
    left.legend(loc="lower right", fontsize=8)
    right.set_ylim(
        0, max(1.0, float(np.nanmax(ratios)) * 1.05) if np.isfinite(ratios).any() else 1.0
    )
    right.set_ylabel(f"median √E[β]: corr < {LOW} / corr > {HIGH}")
    right.set_title("L-shape ratio of medians (¼ dashed)")
    final = "; ".join(
        f"layer {l}: teacher mean {mean[l, -1].mean():.3f}, ratio {_fmt(ratios[l, -1])}"
        for l in range(result.n_layers)
    )
    return with_alt(
        fig,
        f"Two line charts against epoch, one line per hidden layer: the mean best correlation of "
        f"the layer's teacher nodes (mean over {len(result.seeds)} seeds, range shaded) and the "
        f"L-shape ratio of median effective fan-outs (undefined where a group is empty; dashed "
        f"line at 0.25); learning-rate drop at epoch {drop}. At the end: {final}.",
    )


@styled
def l_shape_frame(result: DeepSpecializationResult, step: int) -> Figure:
    """One time-scrubber frame: the per-layer L-shape at ``step`` with y-limits fixed over time."""
    return l_shape_panels(result, step=step, fixed_limits=True)


@styled
def fanout_decay_panel(result: DeepSpecializationResult, layer: int = 0) -> Figure:
    """Every student node of hidden ``layer`` (all seeds): its effective fan-out ``√E[β_kk]``
    at step 0 (x) against its own at the end (y), log-log. Grey: nodes that never exceed best
    correlation ``HIGH``; orange: nodes specialized (``> HIGH``) at the end; teal: the rest.
    Solid line: no change; dashed: shrunk tenfold (the decay claim's level)."""
    fan = result.fanout[layer]
    start, end = fan[0].ravel(), fan[-1].ravel()
    never = result.never_specialized(layer).ravel()
    spec = (result.student_best[layer][-1] > HIGH).ravel()
    fig = new_figure(4.2, 3.6)
    ax = fig.add_subplot()
    for mask, color, label in (
        (never, UNSPECIALIZED, f"never > {HIGH}"),
        (~never & ~spec, MIDDLE, "other"),
        (spec, SPECIALIZED, f"> {HIGH} at the end"),
    ):
        ax.scatter(start[mask], end[mask], s=6, alpha=0.6, color=color, lw=0, label=label)
    ok = (start > 0) & (end > 0)
    lo = float(min(start[ok].min(), end[ok].min())) * 0.8
    hi = float(max(start[ok].max(), end[ok].max())) * 1.25
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
    ax.plot([lo, hi], [lo / 10, hi / 10], color="k", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo / 10, hi)
    ax.set_xlabel(FANOUT + " at step 0")
    ax.set_ylabel(f"{FANOUT} at step {int(result.steps[-1])}")
    ax.set_title(f"Layer {layer}: effective fan-out, end vs start")
    ax.legend(loc="lower right", fontsize=7.5, markerscale=2)
    q = result.decay_numbers(layer)
    return with_alt(
        fig,
        f"Log-log scatter of every layer-{layer} student node ({len(result.seeds)} seeds): "
        f"effective fan-out at step 0 (x) against at the end (y), with the line of no change "
        f"and the line of a tenfold shrink. {q['n']} nodes never specialize: median end/start "
        f"{_fmt(q['median'])}, {_fmt(q['shrunk10'])} of them shrank tenfold, {_fmt(q['grew'])} "
        f"grew; {q['n_spec']} nodes specialized at the end: median end/start "
        f"{_fmt(q['median_spec'])}.",
    )
