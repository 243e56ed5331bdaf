"""Figures of the Real-data chapter, part 1 (E7): the signs of BatchNorm biases.

Every function takes a :class:`~luckbook.results.bn_bias.BNBiasResult` and returns a
:class:`~luckbook.plots.style.BookFigure` whose alt text states the measured numbers.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..experiments.bn_bias import ARCHS
from ..results.bn_bias import BNBiasResult
from .style import new_figure, number, styled, with_alt

LAYER_COLORS = ("#1d4ed8", "#0891b2", "#65a30d", "#c2410c", "#7c3aed", "#64748b")
ARCH_TITLES = {"cnn": "VGG-style CNN", "mlp": "MLP with BatchNorm"}


def _color(l: int) -> str:
    return LAYER_COLORS[l % len(LAYER_COLORS)]


@styled
def negative_fraction_curves(result: BNBiasResult) -> Figure:
    """Per BatchNorm layer, the fraction of negative biases vs epoch (mean over seeds, range
    shaded)."""
    fig = new_figure(8.0, 3.0)
    axes = fig.subplots(1, len(ARCHS), sharey=True)
    alt = []
    for ax, arch in zip(axes, ARCHS, strict=True):
        rec = result.archs[arch]
        x = result.epochs
        for l in range(len(rec.names)):
            f = rec.frac_negative[:, :, l]
            ax.plot(x, f.mean(1), color=_color(l), lw=1.8, label=f"BN {l} ({rec.channels[l]} ch.)")
            ax.fill_between(x, f.min(1), f.max(1), color=_color(l), alpha=0.18, lw=0)
        pooled = rec.pooled_negative()
        ax.axhline(0.5, color="k", lw=0.8, ls=":")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("epoch")
        share = float(pooled.mean()) if pooled.size else float("nan")
        ax.set_title(f"{ARCH_TITLES[arch]}: pooled {number(share)}")
        ax.legend(loc="lower right", fontsize=8)
        alt.append(
            f"{ARCH_TITLES[arch]}: final fraction per BN layer "
            + ", ".join(f"{v:.2f}" for v in rec.frac_negative[-1].mean(0))
            + f" (pooled {pooled.mean():.2f})"
        )
    axes[0].set_ylabel("fraction of BN biases < 0")
    return with_alt(
        fig,
        f"Fraction of negative BatchNorm biases against epoch, one line per layer, mean over "
        f"{len(result.seeds)} seeds; it starts at 0 (biases start at 0). " + "; ".join(alt) + ".",
    )


@styled
def bias_histograms(result: BNBiasResult, threshold: bool = False) -> Figure:
    """Per BatchNorm layer, the histogram of the final biases (or of ``β/|γ|``) over all seeds."""
    n_cols = max(len(result.archs[a].names) for a in ARCHS)
    fig = new_figure(2.1 * n_cols + 0.6, 4.4)
    axes = fig.subplots(len(ARCHS), n_cols, squeeze=False)
    what = "β/|γ|" if threshold else "bias β"
    alt = []
    for r, arch in enumerate(ARCHS):
        rec = result.archs[arch]
        for l in range(n_cols):
            ax = axes[r, l]
            if l >= len(rec.names):
                ax.set_visible(False)
                continue
            v = (rec.thresholds(l) if threshold else rec.bias[l]).ravel()
            lim = float(np.quantile(np.abs(v), 0.99)) or 1.0
            ax.hist(v, bins=np.linspace(-lim, lim, 25), color=_color(l), alpha=0.85)
            ax.axvline(0, color="k", lw=0.8)
            ax.set_title(f"{arch} BN {l}: {100 * (v < 0).mean():.0f}% < 0", fontsize=9)
            ax.tick_params(labelsize=8)
            if r == len(ARCHS) - 1:
                ax.set_xlabel(what)
            alt.append(f"{arch} layer {l} median {np.median(v):.3f}")
    return with_alt(
        fig,
        f"Histograms of the trained networks' {what}, one panel per BatchNorm layer (rows: CNN, "
        f"MLP), pooled over {len(result.seeds)} seeds; medians: " + ", ".join(alt) + ".",
    )


@styled
def overlap_vs_bias(result: BNBiasResult) -> Figure:
    """Left: each ReLU unit's activation probability vs its ``β/|γ|``; right: per layer, the
    mean pairwise co-activation at step 0 and after training."""
    fig = new_figure(8.4, 3.2)
    ax_p, ax_c = fig.subplots(1, 2, width_ratios=[1.1, 1.0])
    markers = {"cnn": "o", "mlp": "^"}
    labels, x0, x1 = [], [], []
    k = 0
    for arch in ARCHS:
        rec = result.archs[arch]
        relu_layers = [l for l, r in enumerate(rec.relu) if r]
        for j, l in enumerate(relu_layers):
            thr = rec.thresholds(l).ravel()
            ax_p.scatter(
                thr,
                rec.p_active[j].ravel(),
                s=7,
                alpha=0.5,
                color=_color(l),
                marker=markers[arch],
                label=f"{arch} BN {l}",
            )
            labels.append(f"{arch}\nBN {l}")
            x0.append(rec.coact0[:, j].mean())
            x1.append(rec.coact[:, j].mean())
            k += 1
    ax_p.axvline(0, color="k", lw=0.7)
    ax_p.axhline(0.5, color="k", lw=0.7, ls=":")
    ax_p.set_xlabel("β/|γ| (trained)")
    ax_p.set_ylabel("P(unit active) on test digits")
    ax_p.set_title("Negative bias, smaller activation region")
    ax_p.legend(fontsize=7, markerscale=1.5, ncol=2, loc="upper left")
    pos = np.arange(len(labels))
    ax_c.bar(pos - 0.2, x0, width=0.4, color="#94a3b8", label="step 0 (β = 0)")
    ax_c.bar(pos + 0.2, x1, width=0.4, color="#c2410c", label="trained")
    ax_c.axhline(0.25, color="k", lw=0.7, ls=":")
    ax_c.set_xticks(pos, labels, fontsize=8)
    ax_c.set_ylabel("mean pairwise co-activation")
    ax_c.set_title("Overlap of activation regions")
    ax_c.set_ylim(0, 0.36)
    ax_c.legend(fontsize=8, loc="upper right", ncol=2)
    return with_alt(
        fig,
        "Left: scatter of every ReLU unit's activation probability on the test digits against "
        "its trained bias divided by |gamma|; units with negative bias are active less often. "
        "Right: bars of the mean pairwise co-activation per layer at step 0 and after training: "
        + ", ".join(
            f"{lab.replace(chr(10), ' ')} {a:.3f} to {b:.3f}"
            for lab, a, b in zip(labels, x0, x1, strict=True)
        )
        + ".",
    )
