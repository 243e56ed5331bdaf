"""The result of E0 (``gradient-relation``) and the analysis of its stored arrays: the claims'
statistics, the numbers the chapter prints, the JSON, and the chapter's exercise tables.

Per seed E0 measures four things (:mod:`luckbook.gradient_checks`):

(a) **Relation = autograd.** ``‖Δ_relation − Δ_autograd‖_F / ‖Δ_autograd‖_F`` per layer, where
    ``Δ_relation`` is built from the per-sample relation ``g_l = D_l (A_l f*_l − B_l f_l)``
    (:func:`luckbook.gradients.relation_delta`) on ``n_check`` samples.
(b) **Drift of the matrix gradient.** For each batch size ``B`` in ``batch_sizes`` and each of
    ``n_repeats`` independent batches: ``‖Δ_matrix − Δ_exact‖_F / ‖Δ_exact‖_F`` and the cosine
    per layer, with ``Δ_exact`` autograd's gradient on the same batch. At ``B = 1`` the two
    coincide; the batch-averaged form multiplies batch means of inputs and gates that the
    exact gradient multiplies sample by sample, so it drifts once ``B > 1``.
(c) **Gated β matrices.** Batch means over ``n_matrix`` samples of ``β_l = E[D_l B_l D_l]``
    (student × student) and ``β*_l = E[D_l A_l D*_l]`` (student × teacher), ``A_l = Ṽ_lᵀ Ṽ*_l``,
    ``B_l = Ṽ_lᵀ Ṽ_l``, constant node dropped, for both students — the coefficients of the
    relation written on pre-activations; the matrix gradient's ``H_l``, ``H*_l`` are their
    gate-decoupled approximations. Two summaries (:func:`~luckbook.gradient_checks.structure`):
    the *concentration* of ``β*`` (mean over student rows of the largest squared
    cosine-normalised entry over the row's squared sum: 1 when each student node is coupled to
    one teacher node, ``1/m_l`` when to all alike) and the *block share* of ``β`` (mean over
    rows of the squared cosine-normalised mass on student nodes with the same partner teacher,
    the partner being the row's largest ``β*`` entry).
(d) **Overlap of teacher activations** (LM's "small overlap" assumption) on
    ``x ~ N(0, data_std² I_d)``, for the same teacher codes with every hidden bias set from
    each value in ``biases``: per hidden layer, the mean over node pairs ``i < j`` of
    ``P(i and j active) / min(P(i active), P(j active))`` — the chance that the other node is
    on when the rarer one is on (0: disjoint regions, 1: nested, ``Φ(bias)`` for two
    independent nodes). Pairs with a node that is never active on the ``n_overlap`` samples
    are left out (the fraction of such nodes is reported). For each bias the concentration
    of an aligned student's ``β*`` is measured too, linking (c) and (d).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..claims import Stat, bootstrap, seed_mean
from ..config import check_choice
from ..result import Result

if TYPE_CHECKING:
    from ..experiments.gradient_relation import GradientRelationSettings  # noqa: F401 - the base's S


@dataclasses.dataclass
class GradientRelationResult(Result["GradientRelationSettings"]):
    """Everything E0 measures, as NumPy arrays (``S`` seeds, ``L`` weight layers, ``K`` batch
    sizes).

    Attributes:
        relation_error: per student kind, ``[S, L]`` relative distance relation vs autograd (a).
        batch_sizes: ``[K]``; drift: per kind ``[S, R, K, L]`` matrix-gradient relative
            distance on ``R`` independent batches of each size (b); drift_cosine: the cosine
            between the two, same shape.
        beta, cross: per kind, per hidden layer ``[S, n_l, n_l]`` = E[B_l] (β) and
            ``[S, n_l, m_l]`` = E[A_l]; teacher_beta: per hidden layer ``[S, m_l, m_l]`` (c).
        concentration, block_share: per kind ``[S, L-1]`` (c), see
            :func:`~luckbook.gradient_checks.structure`.
        biases: ``[Bi]``; overlap, p_active, dead: ``[S, Bi, L-1]`` (d).
        aligned_concentration: ``[S, Bi, L-1]`` concentration of β* for an aligned student of
            the teacher with each bias of ``biases`` (links (c) and (d)).
        loss: per kind ``[S]``, ½·mean‖y* − y‖² on the check samples.
        ungated_error: per kind ``[S, L]``, as ``relation_error`` with the gates dropped from
            the relation (the negative control of E0.relation-exact).
        overlap_random: ``[S, 2, L-1]`` the overlap (d) of a *random* network of the same
            widths (i.i.d. N(0, 1) weights, seed stream ``"e0_random"``; biases set the same
            way) at the most negative bias of ``biases`` and at bias 0: the null of the
            overlap claims (is the overlap's fall a property of the teacher's codes or of any
            thresholded layer?).

    :meth:`claims` evaluates the pre-registered claims (registry section E0). E0 trains
    nothing, so there is no frozen student: each claim about a mechanism has its own *null
    variant* that removes the mechanism (``CONTROL_NAMES``); numerical identities have
    none.
    """

    EXPERIMENT: ClassVar[str] = "gradient-relation"

    CONTROLS: ClassVar[tuple[str, ...]] = ("null",)
    CONTROL_NAMES: ClassVar[Mapping[str, str]] = {
        "null": (
            "each claim's null variant: the relation without its gates (D = I); the matrix "
            "gradient on a batch of one sample; the random student's β*"
        )
    }

    relation_error: dict[str, np.ndarray]
    batch_sizes: np.ndarray
    drift: dict[str, np.ndarray]
    drift_cosine: dict[str, np.ndarray]
    beta: dict[str, list[np.ndarray]]
    cross: dict[str, list[np.ndarray]]
    teacher_beta: list[np.ndarray]
    concentration: dict[str, np.ndarray]
    block_share: dict[str, np.ndarray]
    biases: np.ndarray
    overlap: np.ndarray
    p_active: np.ndarray
    dead: np.ndarray
    aligned_concentration: np.ndarray
    loss: dict[str, np.ndarray]
    ungated_error: dict[str, np.ndarray]
    overlap_random: np.ndarray

    @property
    def kinds(self) -> tuple[str, ...]:
        """The student kinds, in the order they were measured: ``("random", "aligned")``."""
        return tuple(self.relation_error)

    def mean_drift(self, kind: str = "random") -> np.ndarray:
        """``[S, K, L]``: mean over the ``R`` batches of each size."""
        check_choice("kind", kind, self.kinds)
        return self.drift[kind].mean(1)

    def max_relation_error(self) -> float:
        """Largest relation-vs-autograd distance over seeds, layers and both students."""
        return float(max(e.max() for e in self.relation_error.values()))

    def batch1_error(self) -> float:
        """Largest matrix-vs-exact distance at batch size 1 (NaN if 1 is not among the sizes)."""
        hits = np.flatnonzero(self.batch_sizes == 1)
        if not len(hits):
            return math.nan
        return float(max(d[:, :, hits[0]].max() for d in self.drift.values()))

    # ---- claims ----------------------------------------------------------------------------
    def _hidden_drift(self, k: int) -> np.ndarray:
        """``[S]``: mean over both students, the hidden layers and the repeats of the
        matrix-gradient relative distance at batch-size index ``k``."""
        return np.mean([self.drift[kind][:, :, k, :-1].mean((1, 2)) for kind in self.kinds], 0)

    def _overlap_ratio(self, layer: int) -> np.ndarray:
        """``[S]``: overlap at the most negative bias over the overlap at bias 0 (nan without 0)."""
        zero = np.flatnonzero(self.biases == 0.0)
        if not len(zero):
            return np.full(len(self.seeds), math.nan)
        return self.overlap[:, 0, layer] / self.overlap[:, zero[0], layer]

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """Every E0 claim (``control=None``) or its null variant (``control="null"``)."""
        if control not in (None, "null"):
            raise ValueError(f"control={control!r} is not allowed: expected None or 'null'")
        null = control is not None

        def worst(per_seed: np.ndarray, detail: str) -> Stat:
            return bootstrap(list(per_seed), lambda xs: float(np.max(xs)), detail=detail)

        def none(detail: str) -> Stat:
            return Stat(math.nan, math.nan, math.nan, len(self.seeds), detail)

        errors = self.ungated_error if null else self.relation_error
        per_seed = np.max([e.max(1) for e in errors.values()], 0)
        out = {
            "E0.relation-exact": worst(
                per_seed,
                ("gates dropped" if null else "relation vs autograd")
                + f": worst per seed {_short(per_seed)}",
            )
        }
        b1 = np.flatnonzero(self.batch_sizes == 1)
        if null:
            out["E0.matrix-batch1"] = none("an identity: no control")
            out["E0.matrix-output"] = none("an identity: no control")
        else:
            at1 = (
                np.max([d[:, :, b1[0]].max((1, 2)) for d in self.drift.values()], 0)
                if len(b1)
                else np.full(len(self.seeds), math.nan)
            )
            out["E0.matrix-batch1"] = worst(at1, f"worst per seed {_short(at1)}")
            top = np.max([d[..., -1].max((1, 2)) for d in self.drift.values()], 0)
            out["E0.matrix-output"] = worst(top, f"worst per seed {_short(top)}")
        if null:
            k = b1[0] if len(b1) else None
        else:
            k = len(self.batch_sizes) - 1
        if k is None:
            out["E0.matrix-drift"] = none("no batch of one sample in this run")
        else:
            hd = self._hidden_drift(k)
            out["E0.matrix-drift"] = seed_mean(
                hd, detail=f"batch {int(self.batch_sizes[k])}: per seed {_short(hd)}"
            )
        above = np.flatnonzero(self.batch_sizes > 1)
        if null or len(above) < 2:
            out["E0.matrix-no-shrink"] = none(
                "no control (a property of the approximation)"
                if null
                else "needs two batch sizes above 1"
            )
        else:
            lo, hi = above[0], len(self.batch_sizes) - 1
            ratio = self._hidden_drift(hi) / self._hidden_drift(lo)
            out["E0.matrix-no-shrink"] = seed_mean(
                ratio,
                detail=f"batch {int(self.batch_sizes[hi])} over batch "
                f"{int(self.batch_sizes[lo])}: per seed {_short(ratio)}; a sampling error "
                f"would give {math.sqrt(self.batch_sizes[lo] / self.batch_sizes[hi]):.3g}",
            )
        kind = "random" if null else "aligned"
        conc = self.concentration[kind].mean(1)
        out["E0.beta-concentration"] = seed_mean(
            conc, detail=f"{kind} student, mean over hidden layers: per seed {_short(conc)}"
        )
        hidden = self.overlap.shape[-1]
        for cid, layer in (("E0.overlap-first", 0), ("E0.overlap-deep", hidden - 1)):
            if null:
                ratio = self.overlap_random[:, 0, layer] / self.overlap_random[:, 1, layer]
                out[cid] = seed_mean(
                    ratio,
                    detail=f"random network, hidden layer {layer + 1}: per seed {_short(ratio)}",
                )
                continue
            ratio = self._overlap_ratio(layer)
            out[cid] = seed_mean(
                ratio,
                detail=f"hidden layer {layer + 1}, bias {self.biases[0]:g} over bias 0: "
                f"per seed {_short(ratio)}",
            )
        return out

    def numbers(self) -> str:
        """Key numbers: relation error, drift at batch 1 and at the largest batch, overlaps."""
        s = self.settings
        big = int(self.batch_sizes[-1])
        lines = [
            f"(a) relation vs autograd: max relative error {self.max_relation_error():.1e} "
            f"({len(self.seeds)} seeds, {s.depth} layers, both students)",
            f"(b) matrix gradient vs exact: batch 1 max {self.batch1_error():.1e}; "
            f"batch {big} mean per layer:",
        ]
        for kind in self.kinds:
            per_layer = self.mean_drift(kind)[:, -1].mean(0)
            lines.append(f"    {kind:>7}: " + ", ".join(f"{v:.3g}" for v in per_layer))
        lines.append("(c) concentration of β* / block share of β, per hidden layer (seed mean):")
        for kind in self.kinds:
            conc = self.concentration[kind].mean(0)
            share = self.block_share[kind].mean(0)
            lines.append(
                f"    {kind:>7}: "
                + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(conc, share, strict=True))
            )
        lines.append("(d) overlap of teacher activations per hidden layer (seed mean):")
        for i, b in enumerate(self.biases):
            vals = np.nanmean(self.overlap[:, i], axis=0)
            lines.append(f"    bias {b:+.2f}: " + ", ".join(f"{v:.3f}" for v in vals))
        return "\n".join(lines)

    def summary(self) -> str:
        """A header line, how it was made and :meth:`numbers`."""
        s = self.settings
        return (
            f"gradient-relation (E0): widths {s.widths}, multi={s.multi}, bias={s.bias:g}\n"
            f"{self.made()}\n" + self.numbers()
        )

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, device, timing and per-seed numbers."""
        rows = []
        for i, seed in enumerate(self.seeds):
            rows.append(
                {
                    "seed": seed,
                    "relation_error": {k: v[i].tolist() for k, v in self.relation_error.items()},
                    "drift_mean": {k: self.mean_drift(k)[i].tolist() for k in self.kinds},
                    "concentration": {k: v[i].tolist() for k, v in self.concentration.items()},
                    "block_share": {k: v[i].tolist() for k, v in self.block_share.items()},
                    "overlap": self.overlap[i].tolist(),
                    "p_active": self.p_active[i].tolist(),
                    "dead": self.dead[i].tolist(),
                    "loss": {k: float(v[i]) for k, v in self.loss.items()},
                    # the random student's loss, under the key the CLI's one-line summary prints
                    "eval_loss": float(self.loss["random"][i]),
                }
            )
        return {
            **self.json_header(),
            "batch_sizes": self.batch_sizes.tolist(),
            "biases": self.biases.tolist(),
            "seeds": rows,
        }

    # ---- the chapter's exercises ----------------------------------------------------------
    def gated_vs_plain(
        self, biases: Sequence[float] = (0.0, -1.0), n_seeds: int = 4, stream: str = "exercise"
    ) -> str:
        """Concentration of ``β*`` per hidden layer, gated (``E[D A D*]``) and plain (``E[A]``),
        for both students of this result's settings with each teacher bias of ``biases``, on
        the first ``n_seeds`` seeds and ``n_matrix`` fresh samples (stream ``stream``). Tells
        the teacher's weights apart from its gates as the source of a near-diagonal ``β*``.
        Builds the networks again (on the CPU); nothing is stored."""
        import torch

        from ..data import gaussian
        from ..experiments.gradient_relation import build
        from ..gradient_checks import mean_relation_matrices, structure

        seeds = self.seeds[:n_seeds]
        lines = []
        for bias in biases:
            settings = dataclasses.replace(self.settings, bias=bias)
            teacher, students = build(settings, seeds, torch.device("cpu"))
            x = gaussian(settings.n_matrix, settings.d, seeds, stream=stream)
            for kind, student in students.items():
                row = []
                for gated in (True, False):
                    mats = mean_relation_matrices(teacher, student, x, gated=gated)
                    conc = [float(structure(*m)[0].mean()) for m in zip(*mats, strict=True)]
                    name = "gated" if gated else "plain"
                    row.append(f"{name} " + ", ".join(f"{c:.2f}" for c in conc))
                lines.append(
                    f"bias {bias:+.1f}, {kind:>7}: concentration per hidden layer: "
                    + " | ".join(row)
                )
        return "\n".join(lines)

    def overlap_vs_independent(self) -> str:
        """Per bias, in the first hidden layer (means over seeds): ``Φ(bias)`` — the overlap of
        two independent nodes that are each on with that probability — beside the measured
        ``P(on)`` and overlap."""
        phi = np.array([0.5 * (1 + math.erf(b / math.sqrt(2))) for b in self.biases])
        first = self.overlap[:, :, 0].mean(0)
        active = self.p_active[:, :, 0].mean(0)
        return "\n".join(
            f"bias {b:+.2f}: Phi(bias) = {p:.3f}, measured P(on) = {act:.3f}, overlap = {ov:.3f}"
            for b, p, ov, act in zip(self.biases, phi, first, active, strict=True)
        )


def _short(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in np.asarray(values, dtype=float)) + "]"
