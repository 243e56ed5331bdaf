"""Figures of the gradient-relation chapter (E0).

Every function takes a :class:`~luckbook.GradientRelationResult` and returns a
:class:`~luckbook.plots.BookFigure` whose alt text states the measured numbers.
Layers are numbered as in the chapter: weight layers ``W_1`` (lowest) … ``W_L`` (output),
hidden layers ``1 … L−1`` (``f_l`` is the output of ``W_l``).
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..experiments.gradient_relation import STUDENTS
from ..results.gradient_relation import GradientRelationResult
from .style import new_figure, number, styled, with_alt

KIND_COLORS = {"aligned": "#c2410c", "random": "#64748b"}
KIND_STYLES = {"random": "-", "aligned": "--"}
LAYER_COLORS = ("#1d4ed8", "#0891b2", "#65a30d", "#c2410c", "#7c3aed", "#64748b")
FLOOR = 1e-17
"""Errors are drawn no lower than this on log axes (an exact zero has no logarithm)."""


def _layer_color(l: int) -> str:
    return LAYER_COLORS[l % len(LAYER_COLORS)]


def _seed_index(result: GradientRelationResult, seed: int | None) -> int:
    if seed is None:
        return 0
    if seed not in result.seeds:
        raise ValueError(f"seed={seed!r} is not allowed: this result has seeds {result.seeds}")
    return result.seeds.index(seed)


def _hidden_layer(result: GradientRelationResult, layer: int | None) -> int:
    """0-based index of hidden layer ``layer`` (1-based, default 1: the lowest)."""
    n = result.settings.depth - 1
    layer = 1 if layer is None else layer
    if not isinstance(layer, int) or not 1 <= layer <= n:
        raise ValueError(f"layer={layer!r} is not allowed: hidden layers are 1..{n}")
    return layer - 1


@styled
def relation_vs_autograd(result: GradientRelationResult, ax: Axes | None = None) -> Figure:
    """(a) Relative distance between the per-sample relation's gradient and autograd's, per
    layer."""
    fig = ax.figure if ax is not None else new_figure(5.0, 3.2)
    ax = ax if ax is not None else fig.add_subplot()
    depth = result.settings.depth
    layers = np.arange(1, depth + 1)
    for i, kind in enumerate(STUDENTS):
        err = np.maximum(result.relation_error[kind], FLOOR)  # [S, L]
        jitter = (i - 0.5) * 0.25
        for l in range(depth):
            ax.scatter(
                np.full(err.shape[0], layers[l] + jitter),
                err[:, l],
                s=14,
                alpha=0.7,
                color=KIND_COLORS[kind],
                label=f"{kind} student" if l == 0 else None,
            )
    eps = (
        np.finfo(np.float64).eps if result.settings.dtype == "float64" else np.finfo(np.float32).eps
    )
    ax.axhline(1e-10, color="k", lw=0.8, ls=":")
    ax.text(layers[0] - 0.4, 1.6e-10, "claim: ≤ 1e-10", fontsize=8, va="bottom")
    ax.axhline(eps, color="#94a3b8", lw=0.8, ls="--")
    ax.text(
        layers[-1] + 0.4,
        eps * 1.6,
        "machine ε",
        fontsize=8,
        ha="right",
        va="bottom",
        color="#475569",
    )
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 3, 1e-6)
    ax.text(
        layers[0] - 0.5,
        FLOOR / 2,
        "bottom row: < 1e-17 (0 included)",
        fontsize=7.5,
        ha="left",
        va="bottom",
        color="#475569",
    )
    ax.set_xticks(layers, [f"$W_{{{l}}}$" for l in layers])
    ax.set_xlim(layers[0] - 0.6, layers[-1] + 0.6)
    ax.set_xlabel("weight layer (lowest first)")
    ax.set_ylabel("relative error vs autograd")
    ax.set_title(f"Per-sample relation = autograd ({result.settings.dtype})")
    ax.legend(loc="upper right")
    worst = result.max_relation_error()
    return with_alt(
        fig,
        f"Scatter of the relative error between the gradient built from the per-sample relation "
        f"and autograd's gradient, for each of {depth} weight layers, {len(result.seeds)} seeds "
        f"and a random and an aligned student: the largest error is {worst:.1e}, far below "
        f"the 1e-10 line and within a few machine epsilons ({eps:.1e}).",
    )


def _draw_drift(result: GradientRelationResult, ax_d: Axes, ax_c: Axes | None = None) -> str:
    """Draw the drift curves (and cosines on ``ax_c``); return the alt text."""
    b = result.batch_sizes
    depth = result.settings.depth
    for kind in STUDENTS:
        dist = np.maximum(result.mean_drift(kind), FLOOR)  # [S, K, L]
        cos = result.drift_cosine[kind].mean(1)
        for l in range(depth):
            label = f"$W_{{{l + 1}}}$" if kind == "random" else None
            style = {
                "color": _layer_color(l),
                "ls": KIND_STYLES[kind],
                "lw": 1.6,
                "marker": "o",
                "ms": 3,
            }
            ax_d.plot(b, dist[:, :, l].mean(0), label=label, **style)
            ax_d.fill_between(
                b,
                dist[:, :, l].min(0),
                dist[:, :, l].max(0),
                color=_layer_color(l),
                alpha=0.12,
                lw=0,
            )
            if ax_c is not None:
                ax_c.plot(b, cos[:, :, l].mean(0), **style)
    ax_d.plot([], [], color="k", ls="-", label="random student")
    ax_d.plot([], [], color="k", ls="--", label="aligned student")
    for ax in (ax_d, ax_c):
        if ax is not None:
            ax.set_xscale("log", base=2)
            ax.set_xticks(b, [str(int(v)) for v in b])
            ax.minorticks_off()
            ax.set_xlabel("batch size")
    ax_d.set_yscale("log")
    ax_d.set_ylim(FLOOR, 10)
    ax_d.axhline(1e-3, color="k", lw=0.7, ls=":")
    ax_d.set_ylabel("‖matrix − exact‖ / ‖exact‖")
    ax_d.set_title("Matrix gradient vs exact gradient")
    ax_d.legend(loc="center right", fontsize=7.5)
    if ax_c is not None:
        ax_c.set_ylim(-0.05, 1.05)
        ax_c.set_ylabel("cosine(matrix, exact)")
        ax_c.set_title("… and the cosine between them")
    big = int(b[-1])
    lines = []
    for kind in STUDENTS:
        per_layer = result.mean_drift(kind)[:, -1].mean(0)
        lines.append(f"{kind}: " + ", ".join(f"W{l + 1} {v:.2g}" for l, v in enumerate(per_layer)))
    text = (
        f"Relative distance between the batch-averaged matrix gradient and the exact gradient "
        f"against batch size ({int(b[0])} to {big}, log scale), per weight layer, for a random and "
        f"an aligned student: at batch {int(b[0])} at most {result.batch1_error():.1e}; at batch "
        f"{big} the mean distances are " + "; ".join(lines) + " (the output layer stays exact)."
    )
    if ax_c is not None:
        cos = {k: result.drift_cosine[k][:, :, -1, 0].mean() for k in STUDENTS}
        text += (
            f" A second panel shows the cosine between the two gradients; at batch {big} in W1 "
            f"it is {cos['random']:.2f} (random) and {cos['aligned']:.2f} (aligned)."
        )
    return text


@styled
def matrix_gradient_drift(result: GradientRelationResult) -> Figure:
    """(b) Matrix gradient vs exact gradient as the batch grows: relative distance and cosine.

    One curve per weight layer (colour) and student (solid: random, dashed: aligned): the mean
    over seeds of the mean over batches; the shaded band is the range over seeds.
    """
    fig = new_figure(8.4, 3.2)
    ax_d, ax_c = fig.subplots(1, 2)
    return with_alt(fig, _draw_drift(result, ax_d, ax_c))


def _partner_order(cos_cross: np.ndarray) -> np.ndarray:
    """Order student rows by partner teacher (largest squared cosine), then by that cosine."""
    sq = cos_cross**2
    partner = sq.argmax(1)
    return np.lexsort((-sq.max(1), partner))


def _cosine(m: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    den = np.sqrt(np.outer(left, right))
    return np.divide(m, den, out=np.zeros_like(m), where=den > 0)


@styled
def beta_matrices(
    result: GradientRelationResult, seed: int | None = None, layer: int | None = None
) -> Figure:
    """(c) Cosine-normalised β* = E[D A D*] and β = E[D B D] of an aligned and a random student.

    Rows (student nodes) are sorted by their partner teacher node (largest |β*| entry); the
    β panels use the same order on both axes. One seed, one hidden layer (default 1).
    """
    s = _seed_index(result, seed)
    h = _hidden_layer(result, layer)
    fig = new_figure(8.6, 5.6)
    grid = fig.add_gridspec(2, 2, width_ratios=[1.0, 1.6])
    t_diag = np.diag(result.teacher_beta[h][s])
    image = None
    text = []
    for row, kind in enumerate(("aligned", "random")):
        beta = result.beta[kind][h][s]
        cross = result.cross[kind][h][s]
        diag = np.diag(beta)
        c_hat = _cosine(cross, diag, t_diag)
        b_hat = _cosine(beta, diag, diag)
        order = _partner_order(c_hat)
        ax_a = fig.add_subplot(grid[row, 0])
        ax_b = fig.add_subplot(grid[row, 1])
        kw = {"cmap": "RdBu_r", "vmin": -1, "vmax": 1, "aspect": "auto", "interpolation": "nearest"}
        image = ax_a.imshow(c_hat[order], **kw)
        ax_b.imshow(b_hat[np.ix_(order, order)], **kw)
        for ax in (ax_a, ax_b):
            ax.grid(False)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        conc = float(result.concentration[kind][s, h])
        share = float(result.block_share[kind][s, h])
        ax_a.set_title(f"{kind}: β* = E[D A D*], concentration {number(conc)}")
        ax_b.set_title(f"{kind}: β = E[D B D], block share {number(share)}")
        ax_a.set_ylabel("student node (sorted)")
        if row == 1:
            ax_a.set_xlabel("teacher node")
            ax_b.set_xlabel("student node (sorted)")
        text.append(f"{kind} student: concentration of β* {conc:.2f}, block share of β {share:.2f}")
    fig.colorbar(image, ax=fig.axes, label="cosine-normalised entry", shrink=0.8)
    st = result.settings
    fig.suptitle(
        f"Hidden layer {h + 1} (m = {st.hidden[h]}, n = {st.multi * st.hidden[h]}), "
        f"teacher bias {st.bias:g}, seed {result.seeds[s]}"
    )
    return with_alt(
        fig,
        f"Four heat-maps for hidden layer {h + 1}, seed {result.seeds[s]}: the gated batch means "
        f"β* (student × teacher) and β (student × student), cosine-normalised, for an aligned and "
        f"a random student, rows sorted by partner teacher. " + "; ".join(text) + ". The aligned "
        "student's β* has one dominant entry per row (near-diagonal up to the replicas); the "
        "random student's is spread.",
    )


def _draw_overlap(result: GradientRelationResult, ax_o: Axes, ax_c: Axes | None = None) -> str:
    """Draw the overlap curves (and the β* concentrations on ``ax_c``); return the alt text."""
    b = result.biases
    n_hidden = result.settings.depth - 1
    for l in range(n_hidden):
        ov = result.overlap[:, :, l]
        conc = result.aligned_concentration[:, :, l]
        style = {"color": _layer_color(l), "lw": 1.6, "marker": "o", "ms": 3}
        ax_o.plot(b, np.nanmean(ov, 0), label=f"hidden layer {l + 1}", **style)
        ax_o.fill_between(
            b, np.nanmin(ov, 0), np.nanmax(ov, 0), color=_layer_color(l), alpha=0.15, lw=0
        )
        if ax_c is None:
            continue
        ax_c.plot(b, conc.mean(0), **style)
        ax_c.fill_between(b, conc.min(0), conc.max(0), color=_layer_color(l), alpha=0.15, lw=0)
        ax_c.scatter(
            [result.settings.bias],
            [result.concentration["random"][:, l].mean()],
            color=_layer_color(l),
            marker="x",
            s=30,
            zorder=3,
        )
    for ax in (ax_o, ax_c):
        if ax is not None:
            ax.axvline(result.settings.bias, color="k", lw=0.7, ls=":")
            ax.set_xlabel("teacher bias (BatchNorm units)")
    ax_o.set_ylim(0, 1.02)
    ax_o.set_ylabel("P(i, j on) / min(P(i on), P(j on))")
    ax_o.set_title("Overlap of teacher activations")
    ax_o.legend(loc="upper left", fontsize=8)
    first = np.nanmean(result.overlap[:, :, 0], 0)
    text = (
        f"Mean pairwise overlap of teacher activations against the teacher bias from {b[0]:g} to "
        f"{b[-1]:g}, per hidden layer; in hidden layer 1 it goes from {first[0]:.2f} to "
        f"{first[-1]:.2f}"
    )
    if n_hidden > 1:
        deep = np.nanmean(result.overlap[:, :, -1], 0)
        text += (
            f", in hidden layer {n_hidden} from {deep[0]:.2f} to {deep[-1]:.2f} "
            f"(lowest {np.nanmin(deep):.2f} at bias {b[int(np.nanargmin(deep))]:g})"
        )
    text += "."
    if ax_c is not None:
        ax_c.scatter([], [], color="k", marker="x", label="random student")
        ax_c.plot([], [], color="k", label="aligned student")
        ax_c.set_ylim(0, 1.02)
        ax_c.set_ylabel("concentration of β*")
        ax_c.set_title("Aligned student: is β* near-diagonal?")
        ax_c.legend(loc="lower left", fontsize=8)
        conc = result.aligned_concentration[:, :, 0].mean(0)
        text += (
            f" A second panel shows the concentration of the aligned student's β* (1 = one "
            f"partner per student node); in hidden layer 1 it goes from {conc[0]:.2f} to "
            f"{conc[-1]:.2f}, while a random student's is "
            f"{result.concentration['random'][:, 0].mean():.2f}."
        )
    return text


@styled
def teacher_overlap(result: GradientRelationResult) -> Figure:
    """(d) Teacher activation overlap vs bias, and the aligned student's β* concentration vs bias.

    One curve per hidden layer: mean over seeds, range shaded. The dotted vertical line marks
    the run's own ``bias``; the crosses on the right panel are the random student's
    concentration at that bias, for reference.
    """
    fig = new_figure(8.4, 3.2)
    ax_o, ax_c = fig.subplots(1, 2)
    return with_alt(fig, _draw_overlap(result, ax_o, ax_c))


@styled
def gradient_relation_panel(result: GradientRelationResult) -> Figure:
    """The chapter's slider frame: drift vs batch size, overlap vs bias, aligned β* (seed 0).

    The heat-map is the aligned student's cosine-normalised β* of hidden layer 1, rows sorted
    by partner teacher: it sharpens towards a (replicated) diagonal as the bias falls.
    """
    fig = new_figure(11.5, 3.5)
    grid = fig.add_gridspec(1, 3, width_ratios=[1.0, 1.0, 0.8])
    ax_d, ax_o, ax_b = (fig.add_subplot(grid[0, i]) for i in range(3))
    text = _draw_drift(result, ax_d) + " " + _draw_overlap(result, ax_o)
    h = 0
    t_diag = np.diag(result.teacher_beta[h][0])
    cross, beta = result.cross["aligned"][h][0], result.beta["aligned"][h][0]
    c_hat = _cosine(cross, np.diag(beta), t_diag)
    image = ax_b.imshow(
        c_hat[_partner_order(c_hat)],
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        aspect="auto",
        interpolation="nearest",
    )
    ax_b.grid(False)
    ax_b.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_b.yaxis.set_major_locator(MaxNLocator(integer=True))
    conc = float(result.concentration["aligned"][0, h])
    ax_b.set_title(f"aligned β*, layer 1: concentration {number(conc)}")
    ax_b.set_xlabel("teacher node")
    ax_b.set_ylabel("student node (sorted)")
    fig.colorbar(image, ax=ax_b, shrink=0.85)
    text += (
        f" A heat-map shows the aligned student's cosine-normalised β* in hidden layer 1 for "
        f"seed {result.seeds[0]}, concentration {conc:.2f}."
    )
    s = result.settings
    fig.suptitle(
        f"depth = {s.depth} (widths {s.widths}), multi = {s.multi}, teacher bias = {s.bias:g}"
    )
    return with_alt(fig, text)
