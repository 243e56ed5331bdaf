"""Figures of the deep-teacher chapter (E3): layers are recovered bottom-up.

Every function takes a :class:`~luckbook.results.deep_teacher.DeepTeacherResult` and returns
a ``Figure`` whose alt text states the measured numbers. :func:`divergence_figure` stands in
for a setting whose training diverged (the slider panels of ``luckbook.panels.deep_teacher``
draw it instead of failing the page).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..claims import E3_CROSSING_LEVEL as CROSSING_LEVEL
from ..claims import get_claim
from ..results.deep_teacher import DeepTeacherResult
from ..train import DivergenceError
from .style import new_figure, styled, with_alt

LAYER_COLORS = ("#1d4ed8", "#0891b2", "#65a30d", "#c2410c", "#7c3aed", "#64748b")
"""Layer 0 (lowest) first."""


def _color(layer: int) -> str:
    return LAYER_COLORS[layer % len(LAYER_COLORS)]


LEVEL0 = get_claim("E3.layer0-level").threshold
LEVEL1 = get_claim("E3.layer1-level").threshold


def _threshold_lines(ax: Axes) -> None:
    """The registered level claims: dotted at layer 0's threshold, dashed at layer 1's."""
    ax.axhline(LEVEL0, color="k", lw=0.7, ls=":")
    ax.axhline(LEVEL1, color="k", lw=0.7, ls="--", alpha=0.6)


def _layer_label(result: DeepTeacherResult, layer: int) -> str:
    return f"layer {layer} (m = {result.teacher_best[layer].shape[-1]})"


@styled
def layer_curves(
    result: DeepTeacherResult, step: int | None = None, ax: Axes | None = None
) -> Figure:
    """Per hidden layer, the mean best correlation of its teacher nodes vs epoch (E3).

    One curve per layer: the mean over seeds, with the range over seeds shaded. With ``step``,
    the curves stop at that snapshot and a vertical line marks it (time-scrubber frames).
    """
    t = result.snapshot_index(step)
    shown = t if step is not None else len(result.steps) - 1
    fig = ax.figure if ax is not None else new_figure(5.0, 3.3)
    ax = ax if ax is not None else fig.add_subplot()
    mean = result.layer_mean()  # [L, T, S]
    x = result.epochs[: shown + 1]
    for l in range(result.n_layers):
        m = mean[l, : shown + 1]
        ax.plot(x, m.mean(-1), color=_color(l), lw=1.8, label=_layer_label(result, l))
        ax.fill_between(x, m.min(-1), m.max(-1), color=_color(l), alpha=0.2, lw=0)
    _threshold_lines(ax)
    ax.axhline(CROSSING_LEVEL, color="k", lw=0.7, ls="-.", alpha=0.5)
    ax.set_xlim(0, float(result.epochs[-1]))
    low = float(mean.min())
    ax.set_ylim(min(0.5, low - 0.02), 1.01)
    if step is not None:
        ax.axvline(float(result.epochs[t]), color="k", lw=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean best correlation")
    ax.set_title(f"Teacher nodes recovered, per layer ({len(result.seeds)} seeds)")
    ax.legend(loc="lower right", fontsize=8.5)
    final = mean[:, t].mean(-1)
    layers = "; ".join(f"layer {l} {final[l]:.3f}" for l in range(result.n_layers))
    return with_alt(
        fig,
        f"Line chart of each hidden layer's mean best teacher-student correlation against epoch, "
        f"mean over {len(result.seeds)} seeds with the seed range shaded; at epoch "
        f"{result.epochs[t]:g} the layers reach {layers}. Dotted line at {LEVEL0:g} (claimed "
        f"level of layer 0), dashed at {LEVEL1:g} (of layer 1), dash-dotted at "
        f"{CROSSING_LEVEL:g} (the level whose first crossing times are compared).",
    )


@styled
def layer_summary(
    result: DeepTeacherResult, step: int | None = None, ax: Axes | None = None
) -> Figure:
    """Per hidden layer at snapshot ``step``: every live teacher node's best correlation (dots,
    all seeds), the layer mean (bar) and the worst node (black tick) (E3). Dead teacher nodes
    (never active on the eval set) are left out and counted in the alt text."""
    t = result.snapshot_index(step)
    fig = ax.figure if ax is not None else new_figure(4.0, 3.3)
    ax = ax if ax is not None else fig.add_subplot()
    rng = np.random.default_rng(0)
    lows, means = [], []
    for l in range(result.n_layers):
        best = result.teacher_best[l][t][result.teacher_live[l]]  # live nodes, all seeds
        mean = float(best.mean())
        means.append(mean)
        lows.append(float(best.min()))
        ax.bar(l, mean, color=_color(l), alpha=0.35, width=0.7)
        jitter = rng.uniform(-0.25, 0.25, size=best.size)
        ax.scatter(l + jitter, best, s=7, color=_color(l), alpha=0.8, lw=0)
        ax.plot([l - 0.35, l + 0.35], [best.min()] * 2, color="k", lw=1)
    _threshold_lines(ax)
    ax.set_xticks(range(result.n_layers), [f"{l}" for l in range(result.n_layers)])
    ax.set_xlabel("hidden layer (0 = lowest)")
    ax.set_ylabel("best correlation of each teacher node")
    ax.set_ylim(min(0.5, min(lows) - 0.03), 1.01)
    ax.set_title(f"Per layer at epoch {result.epochs[t]:g}")
    layers = "; ".join(
        f"layer {l} mean {means[l]:.3f}, worst {lows[l]:.3f}" for l in range(result.n_layers)
    )
    dead = int(result.dead_nodes().sum())
    note = (
        f" {dead} dead teacher node(s), never active on the eval set, are left out." if dead else ""
    )
    return with_alt(
        fig,
        f"Strip chart of every teacher node's best correlation with a student node, grouped by "
        f"hidden layer, all {len(result.seeds)} seeds, at epoch {result.epochs[t]:g}: "
        f"{layers}.{note}",
    )


def _title(result: DeepTeacherResult) -> str:
    s = result.settings
    return (
        f"Depth {s.depth} teacher {s.widths}, student ×{s.multi}, data_std = {s.data_std:g}, "
        f"lr = {s.lr:g}"
    )


@styled
def deep_overview(result: DeepTeacherResult, step: int | None = None) -> Figure:
    """The chapter's main figure: per-layer curves vs epoch and the per-layer summary."""
    fig = new_figure(9.0, 3.5)
    grid = fig.add_gridspec(1, 2, width_ratios=[1.45, 1.0])
    layer_curves(result, step=step, ax=fig.add_subplot(grid[0, 0]))
    layer_summary(result, step=step, ax=fig.add_subplot(grid[0, 1]))
    fig.suptitle(_title(result))
    return fig


@styled
def deep_frame(result: DeepTeacherResult, step: int) -> Figure:
    """One time-scrubber frame: curves up to ``step`` and the per-layer summary at ``step``."""
    fig = deep_overview(result, step=step)
    # keep the y-range fixed over the frames so the dots visibly climb
    low = min(0.5, float(min(b.min() for b in result.teacher_best)) - 0.03)
    for ax in fig.axes:
        ax.set_ylim(low, 1.01)
    return fig


@styled
def message_figure(title: str, message: str) -> Figure:
    """A figure that states ``message`` (used where a setting could not be trained)."""
    import textwrap

    fig = new_figure(9.0, 3.5)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.68, title, ha="center", va="center", fontsize=13, color="#b91c1c", weight="bold")
    ax.text(0.5, 0.38, textwrap.fill(message, 90), ha="center", va="center", fontsize=10)
    return with_alt(fig, f"{title}: {message}")


def divergence_figure(err: DivergenceError, values: Mapping[str, Any] | None = None) -> Figure:
    """A figure stating that training diverged (step, seed and the too-large ``lr``)."""
    where = ", ".join(
        f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in (values or {}).items()
    )
    title = "Training diverged" + (f" ({where})" if where else "")
    return message_figure(title, str(err))
