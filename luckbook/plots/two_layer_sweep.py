"""Figures of the E4 sweep (student specialization, strong teachers first).

Every function takes a :class:`~luckbook.experiments.two_layer_sweep.TwoLayerSweepResult` and
returns a :class:`BookFigure` whose alt text states the measured numbers: (a) the L-shape grid,
(b) the success rate per teacher index, (c) the eval-loss curves, plus the frames of the
time scrubber and of the static slider grid.

Conventions of the released figures: the L-shape's correlations are on the training set at
the end of training (eval set at the snapshots in between, where only those are measured);
success rates on the eval set; the loss is the mean of ``(y_t − y_s)²`` over samples and
outputs (:func:`~luckbook.experiments.two_layer.released_loss`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..experiments.two_layer import released_loss
from ..experiments.two_layer_sweep import TwoLayerSweepResult
from .style import SPECIALIZED, UNSPECIALIZED, new_figure, styled, with_alt

MULTI_COLORS = ("#64748b", "#0ea5e9", "#c2410c", "#7c3aed", "#15803d", "#b45309")
"""One colour per width multiplier, in the order of ``settings.multis``."""


def _color(result: TwoLayerSweepResult, multi: int) -> str:
    return MULTI_COLORS[list(result.settings.multis).index(multi) % len(MULTI_COLORS)]


def _default_m(result: TwoLayerSweepResult, m: int | None) -> int:
    return max(result.settings.ms) if m is None else m


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
        f"({result.l_shape_set(step)}-set correlations): "
        f"{int(special.sum())} of {len(corr)} student nodes have best correlation above {tau}, median fan-out "
        f"{_median(fan[special])}; nodes below 0.6: {int((corr < 0.6).sum())}, median fan-out "
        f"{_median(fan[corr < 0.6])}.",
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
        f"Grid of {len(ps)}×{len(multis)} scatter plots, rows p = {', '.join(f'{p:g}' for p in ps)}, columns "
        f"multi = {', '.join(map(str, multis))}: per student node, best correlation with a teacher node (x) "
        f"against fan-out norm (y), {result.l_shape_set(step)}-set correlations, teacher width {m}, "
        f"{len(result.seeds)} seeds, at "
        f"{_epoch(result, int(result.steps[t]))}. Pooled over the panels, the {n_lo} "
        f"nodes with correlation below 0.6 have median fan-out {lo:.3g}, the {n_hi} nodes above 0.95 have "
        f"median fan-out {hi:.3g}."
    )
    return fig


# ----------------------------------------------------------------------------- (b) success rate


@styled
def success_rate(
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
            f"p = {p:g}: final rate of teacher 0 / teacher {m - 1} is {r_lo[0]:.2f} / {r_lo[-1]:.2f} at multi "
            f"{lo} and {r_hi[0]:.2f} / {r_hi[-1]:.2f} at multi {hi}"
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
        f"{len(ps)} panels, one per p, of the fraction of {len(result.seeds)} seeds in which teacher node i "
        f"(m = {m}) is covered at correlation {s.tau}, against i; dotted after {early} steps, solid after "
        f"{s.steps}; one colour per multi. " + "; ".join(parts) + "."
    )
    return fig


# ----------------------------------------------------------------------------- (c) loss


@styled
def loss_curves(
    result: TwoLayerSweepResult, m: int | None = None, ps: Sequence[float] | None = None
) -> Figure:
    """Figure (c): log₁₀ eval loss (released convention: mean over samples × outputs) vs released
    epoch (1000 steps), mean ± std over seeds, per multi."""
    m = _default_m(result, m)
    ps = list(result.settings.ps if ps is None else ps)
    s = result.settings
    fig = new_figure(2.6 * len(ps) + 0.4, 2.8)
    axes = np.atleast_1d(fig.subplots(1, len(ps), sharey=True, squeeze=False)[0])
    epochs = result.steps / 1000
    parts = []
    for ax, p in zip(axes, ps, strict=True):
        finals = []
        for multi in s.multis:
            log_loss = np.log10(
                np.maximum(
                    released_loss(result.cell(m, multi, p).eval_loss, result.settings.c), 1e-300
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
    axes[-1].legend(fontsize=8, loc="upper right")
    fig.alt = (
        f"{len(ps)} panels, one per p, of log10 eval loss (released convention: mean of the squared "
        "error over samples and outputs) against epoch (1000 steps), teacher width {m}, "
        f"mean ± std over {len(result.seeds)} seeds, one curve per multi. Final values: "
        + "; ".join(parts)
        + "."
    )
    return fig


# ----------------------------------------------------------------------------- sliders


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
        f"{len(multis)} scatter plots of best correlation against fan-out norm per student node, one per "
        "multi. " + " ".join(alts)
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
    log_loss = np.log10(np.maximum(released_loss(result.cell(m, multi, p).eval_loss, s.c), 1e-300))
    mean, std = log_loss.mean(1), log_loss.std(1)
    epochs = result.steps / 1000
    right.plot(epochs, mean, color=SPECIALIZED)
    right.fill_between(epochs, mean - std, mean + std, color=SPECIALIZED, alpha=0.2, lw=0)
    right.set_xlabel("epoch (1000 steps)")
    right.set_ylabel("log₁₀ eval loss (mean over outputs)")
    fig.suptitle(
        f"m = {m}, multi = {multi}, p = {p:g}, init_scale = {s.init_scale:g}: "
        f"{result.covered(m, multi, p).mean():.2f} of {m} teachers covered (mean of {len(result.seeds)} seeds)",
        fontsize=10,
    )
    lshape_alt = fig.alt
    fig.alt = (
        f"Three panels for m = {m}, multi = {multi}, p = {p:g}, init_scale = {s.init_scale:g}. Left: {lshape_alt} "
        f"Middle: success rate per teacher index, early {np.round(early, 2).tolist()}, final "
        f"{np.round(final, 2).tolist()}. Right: log10 eval loss from {mean[0]:.2f} to {mean[-1]:.2f}±{std[-1]:.2f}."
    )
    return fig


# ----------------------------------------------------------------------------- chapter helpers


def l_shape_scrubber(result: TwoLayerSweepResult, m: int = 10, p: float = 1.0, every: int = 4):
    """The chapter's training-time scrubber: :func:`l_shape_frame` of every multi at ``p``
    (eval-set correlations during training, training-set ones at step 0 and at the end)."""
    from .. import static

    return static.time_scrubber(
        result,
        lambda r, step: l_shape_frame(r, step, m=m, p=p),
        lambda r, step: r.numbers(m, max(r.settings.multis), p, step),
        every=every,
    )


def cell_explorer(result: TwoLayerSweepResult, initial: dict | None = None):
    """The static slider grid over every cell ``(m, multi, p)`` of ``result`` (:func:`cell_panel`)."""
    from .. import static
    from ..config import provenance

    s = result.settings

    def render(values: dict) -> tuple[Figure, str]:
        m, multi, p = values["m"], values["multi"], values["p"]
        return cell_panel(result, m, multi, p), result.numbers(m, multi, p)

    start = initial or {"m": max(s.ms), "multi": s.multis[len(s.multis) // 2], "p": s.ps[-1]}
    panel = static.static_panel(
        render, {"m": list(s.ms), "multi": list(s.multis), "p": list(s.ps)}, initial=start
    )
    panel.caption = (
        f"{len(panel.frames)} cells × {len(result.seeds)} seeds from the sweep above. "
        f"{provenance(result.scale())}"
    )
    return panel


def init_scale_explorer(
    result: TwoLayerSweepResult,
    scales: Sequence[float] = (0.005, 0.05, 0.2),
    m: int = 10,
    multi: int = 5,
    p: float = 1.0,
):
    """A static slider over the student's initial scale for one cell (runs of
    :meth:`~TwoLayerSweepResult.init_scale_runs`, cached)."""
    from .. import static
    from ..config import provenance

    runs = result.init_scale_runs(list(scales), m, multi, p)

    def render(values: dict) -> tuple[Figure, str]:
        r = runs[values["init_scale"]]
        return cell_panel(r, m, multi, p), r.numbers(m, multi, p)

    panel = static.static_panel(render, {"init_scale": list(scales)})
    panel.caption = (
        f"m = {m}, multi = {multi}, p = {p:g}, {len(result.seeds)} seeds per frame. "
        f"{provenance(result.scale())}"
    )
    panel.runs = runs
    return panel


def live_panel(scale: str | None = None, autorun: bool = False):
    """The chapter's live panel (Jupyter only): initial scale, teacher bias and activation for
    m = 10, multi 1 and 5, p 0, 1, 2, 4 seeds, 5 000 steps; draws :func:`l_shape_grid`."""
    from .. import widgets

    return widgets.explorer(
        "two-layer-sweep",
        {
            "init_scale": {
                "kind": "log",
                "min": -4,
                "max": 0,
                "step": 0.5,
                "description": "init_scale",
            },
            "bias": {"kind": "float", "min": -0.5, "max": 0.5, "step": 0.1, "description": "bias"},
            "activation": {
                "kind": "select",
                "options": ["relu", "leaky_relu"],
                "description": "activation",
            },
        },
        l_shape_grid,
        scale=scale,
        seeds=4,
        autorun=autorun,
        ms=(10,),
        multis=(1, 5),
        ps=(0.0, 1.0, 2.0),
        steps=5000,
        n_snapshots=10,
        lshape_steps=5000,
        claim_m=10,
    )


def chapter_numbers(
    result: TwoLayerSweepResult, lshape: TwoLayerSweepResult, m: int = 10
) -> dict[str, float]:
    """Every descriptive number the sweep chapter's prose states (glued as ``sweep.<name>``):
    success rates and coverage per multi, log₁₀ losses (released convention), the L-shape's
    medians and the descriptive ratios beside claim (iii). Descriptive, not claims."""
    s = result.settings
    q = max(1, m // 4)
    out: dict[str, float] = {
        "early_step": int(result.steps[result.early_index]),
        "steps": int(s.steps),
        "lshape_steps": int(lshape.settings.steps),
        "lshape_wall_s": float(lshape.wall_time_s),
        "sweep_wall_s": float(result.wall_time_s),
        "n_cells": len(result.cells),
        "n_programs": len(result.group_time_s),
    }
    for p in s.ps:
        tag = f"p{p:g}"
        for k in s.multis:
            early = result.success_rate(m, k, p, "early")
            final = result.success_rate(m, k, p)
            out[f"{tag}.m{k}.early_strong"] = float(early[:q].mean())
            out[f"{tag}.m{k}.early_weak"] = float(early[-q:].mean())
            out[f"{tag}.m{k}.final_strong"] = float(final[:q].mean())
            out[f"{tag}.m{k}.final_weak"] = float(final[-q:].mean())
            out[f"{tag}.m{k}.covered"] = float(result.covered(m, k, p).mean())
            out[f"{tag}.m{k}.early_covered"] = float(
                result.covered(m, k, p, int(result.steps[result.early_index])).mean()
            )
            loss = np.log10(
                np.maximum(released_loss(result.cell(m, k, p).eval_loss[-1], s.c), 1e-300)
            )
            out[f"{tag}.m{k}.log_loss"] = float(loss.mean())
        out[f"{tag}.early_strong"] = float(
            np.mean([out[f"{tag}.m{k}.early_strong"] for k in s.multis])
        )
        out[f"{tag}.early_weak"] = float(np.mean([out[f"{tag}.m{k}.early_weak"] for k in s.multis]))
    lo, hi, n_lo, n_hi = lshape.l_shape_medians(m)
    out.update({"lshape.lo": lo, "lshape.hi": hi, "lshape.n_lo": n_lo, "lshape.n_hi": n_hi})
    out.update({f"lshape.{k.replace(' ', '_')}": v for k, v in lshape.l_shape_ratios(m).items()})
    # the same ratio on eval-set correlations at the end (the book's former convention)
    c = np.concatenate(
        [
            lshape.cell(m, k, p).student_best[-1].ravel()
            for k in lshape.settings.multis
            for p in lshape.settings.ps
        ]
    )
    f = np.concatenate(
        [
            lshape.cell(m, k, p).fanout[-1].ravel()
            for k in lshape.settings.multis
            for p in lshape.settings.ps
        ]
    )
    lo_e, hi_e = f[c < 0.6], f[c > 0.95]
    out["lshape.eval"] = (
        float(np.median(lo_e) / np.median(hi_e)) if len(lo_e) and len(hi_e) else math.nan
    )
    for mm in s.ms:
        for k in s.multis:
            out[f"width.m{mm}.multi{k}"] = (
                float(result.covered(mm, k, 2.0).mean() / mm) if 2.0 in s.ps else math.nan
            )
    return out
