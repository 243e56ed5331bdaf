"""Figures of the Real-data chapter, part 2 (E8): a teacher trained on digits.

Every function takes a :class:`~luckbook.results.real_teacher.RealTeacherResult` and
returns a :class:`~luckbook.plots.style.BookFigure` whose alt text states the measured numbers.
The slider panel over one result's cells is :func:`luckbook.panels.real_teacher.real_teacher_cells`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..results.real_teacher import CLAIM_TAU, RealTeacherResult
from .style import SPECIALIZED, UNSPECIALIZED, new_figure, styled, with_alt

KIND_STYLE = {"real": ("#1d4ed8", "-"), "gaussian": ("#c2410c", "--")}


@styled
def real_teacher_coverage(result: RealTeacherResult, tau: float = CLAIM_TAU) -> Figure:
    """Final covered fraction at ``tau`` vs width multiplier: per hidden layer a panel, one line
    per input kind (mean over seeds, range shaded); the frozen students (step 0) dotted."""
    s = result.settings
    fig = new_figure(3.6 * result.n_layers + 0.4, 3.1)
    axes = np.atleast_1d(fig.subplots(1, result.n_layers, sharey=True))
    multis = list(s.multis)
    alt = []
    for l, ax in enumerate(axes):
        for kind in s.kinds:
            colour, ls = KIND_STYLE[kind]
            cov = np.array([result.covered_fraction(kind, k, l, tau) for k in multis])  # [K, S]
            ax.plot(multis, cov.mean(1), color=colour, ls=ls, marker="o", label=f"{kind} inputs")
            ax.fill_between(multis, cov.min(1), cov.max(1), color=colour, alpha=0.15, lw=0)
            alt.append(f"layer {l}, {kind}: " + ", ".join(f"{v:.2f}" for v in cov.mean(1)))
        frozen = np.array([result.covered_fraction(s.kinds[0], k, l, tau, t=0) for k in multis])
        ax.plot(
            multis, frozen.mean(1), color="#64748b", ls=":", marker=".", label="frozen (step 0)"
        )
        ax.set_xscale("log")
        ax.set_xticks(multis, [str(k) for k in multis])
        ax.minorticks_off()
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("width multiplier multi")
        ax.set_title(f"hidden layer {l} (m = {result.teacher_live[l].shape[-1]})")
    axes[0].set_ylabel(f"teacher nodes covered at τ = {tau}")
    axes[-1].legend(loc="lower right", fontsize=8)
    return with_alt(
        fig,
        f"Fraction of the digits teacher's nodes covered at tau {tau} against the width multiplier "
        f"({', '.join(map(str, multis))}), mean over {len(result.seeds)} seeds: "
        + "; ".join(alt)
        + ". The frozen students cover almost none.",
    )


@styled
def real_teacher_coverage_curves(
    result: RealTeacherResult,
    kind: str | None = None,
    multi: int | None = None,
    tau: float = CLAIM_TAU,
    ax: Axes | None = None,
) -> Figure:
    """Covered fraction at ``tau`` vs SGD step, one line per hidden layer (one input kind and
    multi)."""
    kind = kind or result.settings.kinds[0]
    multi = multi or max(result.settings.multis)
    fig = ax.figure if ax is not None else new_figure(4.4, 3.1)
    ax = ax if ax is not None else fig.add_subplot()
    colours = ("#1d4ed8", "#0891b2", "#65a30d")
    finals = []
    for l in range(result.n_layers):
        cov = np.array(
            [result.covered_fraction(kind, multi, l, tau, t) for t in range(len(result.steps))]
        )
        ax.plot(result.steps, cov.mean(1), color=colours[l % 3], lw=1.8, label=f"layer {l}")
        ax.fill_between(
            result.steps, cov.min(1), cov.max(1), color=colours[l % 3], alpha=0.15, lw=0
        )
        finals.append(cov[-1].mean())
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("SGD step")
    ax.set_ylabel(f"covered at τ = {tau}")
    ax.set_title(f"{kind} inputs, multi {multi}")
    ax.legend(loc="lower right", fontsize=8)
    return with_alt(
        fig,
        f"Covered fraction of teacher nodes at tau {tau} against SGD step ({kind} inputs, multi "
        f"{multi}); final values per layer " + ", ".join(f"{v:.2f}" for v in finals) + ".",
    )


@styled
def real_teacher_l_shape(
    result: RealTeacherResult,
    kind: str | None = None,
    multi: int | None = None,
    layer: int = 0,
    tau: float = CLAIM_TAU,
    ax: Axes | None = None,
) -> Figure:
    """Every student node's best correlation vs its fan-out norm (one layer, all seeds)."""
    kind = kind or result.settings.kinds[0]
    multi = multi or max(result.settings.multis)
    c = result.cell(kind, multi)
    best, fan = c.student_best[layer][-1].ravel(), c.fanout[layer][-1].ravel()
    fig = ax.figure if ax is not None else new_figure(4.2, 3.1)
    ax = ax if ax is not None else fig.add_subplot()
    special = best >= tau
    ax.scatter(
        best[~special], fan[~special], s=8, alpha=0.55, color=UNSPECIALIZED, label=f"< {tau}"
    )
    ax.scatter(best[special], fan[special], s=8, alpha=0.55, color=SPECIALIZED, label=f"≥ {tau}")
    ax.axvline(tau, color="k", lw=0.7, ls=":")
    ax.set_xlim(min(-0.05, float(best.min()) - 0.05), 1.02)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("best correlation with a teacher node")
    ax.set_ylabel("fan-out norm")
    ax.set_title(f"L-shape, layer {layer}: {kind}, multi {multi}")
    ax.legend(loc="upper left", fontsize=8, markerscale=2)
    med = [float(np.median(fan[m])) if m.any() else float("nan") for m in (special, ~special)]
    return with_alt(
        fig,
        f"Scatter of {best.size} student nodes of layer {layer} ({kind} inputs, multi {multi}): "
        f"best correlation against fan-out norm; {int(special.sum())} nodes reach {tau} with "
        f"median fan-out {med[0]:.3f}, the others have median {med[1]:.3f}.",
    )


@styled
def real_teacher_cell(result: RealTeacherResult, kind: str, multi: int) -> Figure:
    """The static grid's frame: coverage over time and the lowest layer's L-shape."""
    fig = new_figure(8.4, 3.1)
    a, b = fig.subplots(1, 2)
    real_teacher_coverage_curves(result, kind, multi, ax=a)
    real_teacher_l_shape(result, kind, multi, ax=b)
    return fig
