"""The result of E9 (``directional``) and the analysis of its stored arrays: the phases of
small-initialisation training (norm doubling, loss plateau), the alignment of the growing
neurons with KKT directions, the claims, and the fit of the small-norm phase's length
against the init scale ``δ`` (:class:`PhaseLengths`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from ..claims import Stat, bootstrap, glue, seed_mean
from ..homogeneous_net import first_crossing
from ..result import Result

if TYPE_CHECKING:
    from ..experiments.directional import DirectionalSettings  # noqa: F401 - the base's S

LOSS_FLAT = 0.01
"""The small-norm phase as seen by the loss: it ends when the loss has fallen by 1 %."""
LOSS_HALF = 0.5
"""Relative loss change at which the large-initialisation control reads the rank drop."""

SWEEP = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
"""The init scales of the time-scale study (the book's figure and the claims)."""

FIT_BELOW = 1e-2
"""Only ``δ <= FIT_BELOW`` enter the time-scale fits: ``δ = 0.1`` is not a small initialisation."""

LARGE_DELTA = 1e-1
"""The negative control's init scale: at ``δ = 0.1`` the loss falls before the norm doubles.
(``δ = 1`` diverges at the chapter's step ``lr = 5e-3``; ``δ = 0.1`` breaks the small-init
premise without changing the step, and its run is already part of :data:`SWEEP`.)"""


@dataclasses.dataclass
class DirectionalResult(Result["DirectionalSettings"]):
    """Everything E9 measures, as NumPy arrays (``T`` records, ``S`` seeds, ``n`` = width).

    Attributes:
        steps: ``[T]`` Euler step of each record; time: ``[T, S]`` elapsed flow time ``Σ dt``.
        norm_ratio: ``[T, S]`` ``‖θ(t)‖/‖θ(0)‖``; loss: ``[T, S]`` ``ℒ(θ(t))/ℒ(θ(0))``.
        neuron_ratio: ``[T, S, n]`` first-layer neuron norms ``‖w_j(t)‖/‖w_j(0)‖``.
        neuron_cos: ``[T, S, n]`` cosine of ``w_j(t)`` with its nearest KKT direction.
        neuron_cos_alt: ``[T, S, n]`` the same for the KKT directions of an *independent*
            teacher's correlation function on the same inputs (the ``different-teacher``
            evaluation control of E9.direction-first).
        svals: ``[T, S, min(d, n)]`` singular values of the first layer; erank: ``[T, S]`` its
            effective rank (:func:`luckbook.metrics.effective_rank`).
        n_kkt: ``[S]`` distinct KKT neuron directions found; n_star: ``[S]`` the largest ``N`` on
            the unit sphere; kkt_residual: ``[S]`` median relative KKT residual.

    :meth:`claims` (the pre-registered claims of DC, registry section E9) evaluates this run
    and, for the δ-dependence and the time-scale law, the same seeds and settings at every
    ``δ`` of :data:`SWEEP` and depths 2 and 3 (cached runs: the book's figure uses them too).
    Its negative control is a large initialisation, ``δ =`` :data:`LARGE_DELTA`.
    """

    EXPERIMENT: ClassVar[str] = "directional"

    CONTROLS: ClassVar[tuple[str, ...]] = ("large-init", "different-teacher")
    CONTROL_NAMES: ClassVar[Mapping[str, str]] = {
        "large-init": (
            "large initialisation: the same seeds and settings at δ = 0.1, where the loss moves "
            "before the norm doubles (time-scale laws: the fit over δ ∈ {0.1, 0.01}); no extra "
            "compute — these runs are part of the δ sweep"
        ),
        "different-teacher": (
            "the same run scored against the KKT directions of an independent teacher's "
            "correlation function on the same inputs (E9.direction-first; undefined for the "
            "other claims)"
        ),
    }

    steps: np.ndarray
    time: np.ndarray
    norm_ratio: np.ndarray
    loss: np.ndarray
    neuron_ratio: np.ndarray
    neuron_cos: np.ndarray
    neuron_cos_alt: np.ndarray
    svals: np.ndarray
    erank: np.ndarray
    n_kkt: np.ndarray
    n_star: np.ndarray
    kkt_residual: np.ndarray

    # ---- derived quantities -------------------------------------------------------------
    def growing(self) -> np.ndarray:
        """``[T, S, n]``: neurons that have grown at least as much as the whole network."""
        return self.neuron_ratio >= np.maximum(self.norm_ratio, 1.0)[..., None]

    def growing_cos(self, other: bool = False) -> np.ndarray:
        """``[T, S]`` mean cosine of the growing neurons with their nearest KKT direction (with
        ``other``: of the independent teacher's correlation function)."""
        g = self.growing()
        cos = self.neuron_cos_alt if other else self.neuron_cos
        return (cos * g).sum(-1) / np.maximum(g.sum(-1), 1)

    def crossing(self, values: np.ndarray, level: float | np.ndarray) -> np.ndarray:
        """``[S]`` first flow time at which ``values [T, S]`` reaches ``level``, interpolated
        (nan: never)."""
        return first_crossing(
            torch.from_numpy(self.time), torch.from_numpy(values), torch.as_tensor(level)
        ).numpy()

    def first_index(self, values: np.ndarray, level: float) -> np.ndarray:
        """``[S]`` first record index with ``values >= level`` (``-1``: never)."""
        hit = values >= level
        return np.where(hit.any(0), hit.argmax(0), -1)

    def t_double(self) -> np.ndarray:
        """``[S]`` flow time at which ``‖θ‖`` first reaches ``2‖θ(0)‖``."""
        return self.crossing(self.norm_ratio, 2.0)

    def t_escape(self) -> np.ndarray:
        """``[S]`` flow time at which the loss has first fallen by 1 % (the end of the plateau)."""
        return self.crossing(-self.loss, -(1 - LOSS_FLAT))

    def at(self, index: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per seed, ``values[index[s], s]`` (nan where ``index`` is ``-1``)."""
        out = np.full(len(self.seeds), np.nan)
        for s, i in enumerate(index):
            if i >= 0:
                out[s] = values[i, s]
        return out

    def phase_index(self, norm_level: float = 2.0) -> np.ndarray:
        """``[S]`` the last record with ``‖θ‖ <= norm_level·‖θ(0)‖`` (the small-norm phase)."""
        over = self.first_index(self.norm_ratio, norm_level)
        return np.where(over > 0, over - 1, np.where(over == 0, 0, len(self.steps) - 1))

    def flat_index(self) -> np.ndarray:
        """``[S]`` the last record at which the loss has changed by less than 1 %."""
        moved = self.first_index(np.abs(1 - self.loss), LOSS_FLAT)
        return np.where(moved > 0, moved - 1, np.where(moved == 0, 0, len(self.steps) - 1))

    def cos_reached(self, level: float = 0.99) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per seed, at the first record where the growing neurons' mean cosine reaches ``level``:
        ``(norm ratio, relative loss change, effective rank)`` (nan where never)."""
        idx = self.first_index(self.growing_cos(), level)
        return (
            self.at(idx, self.norm_ratio),
            self.at(idx, np.abs(1 - self.loss)),
            self.at(idx, self.erank),
        )

    def seed_numbers(self) -> dict[str, np.ndarray]:
        """Per-seed numbers (descriptive; the claims are :meth:`claims`): at the norm doubling
        (``_2x``), at the end of the loss plateau (``_flat``), where the growing neurons' mean
        cosine first reaches 0.99 (``_at_cos99``), and the two phase lengths."""
        p = self.phase_index(2.0)
        f = self.flat_index()
        ratio99, loss99, erank99 = self.cos_reached(0.99)
        return {
            "loss_change_2x": self.at(p, np.abs(1 - self.loss)),
            "cos_2x": self.at(p, self.growing_cos()),
            "erank_0": self.erank[0],
            "erank_2x": self.at(p, self.erank),
            "cos_flat": self.at(f, self.growing_cos()),
            "norm_flat": self.at(f, self.norm_ratio),
            "erank_flat": self.at(f, self.erank),
            "norm_at_cos99": ratio99,
            "loss_change_at_cos99": loss99,
            "erank_at_cos99": erank99,
            "t_double": self.t_double(),
            "t_escape": self.t_escape(),
        }

    # ---- claims ----------------------------------------------------------------------------
    def sibling(self, **changes: Any) -> DirectionalResult:
        """The run (cached) with the same seeds and settings as this one except ``changes``."""
        if all(getattr(self.settings, k) == v for k, v in changes.items()):
            return self
        from ..experiments.directional import DIRECTIONAL

        fields = {**dataclasses.asdict(self.settings), **changes}
        return DIRECTIONAL.run(scale="paper", seeds=self.seeds, device=self.device, **fields)

    def time_scales(self, depth: int) -> PhaseLengths:
        """Phase lengths over :data:`SWEEP` at ``depth`` (same seeds and other settings), fitted
        on ``δ <= FIT_BELOW``."""
        return fit_phase_lengths([self.sibling(delta=d, depth=depth) for d in SWEEP], FIT_BELOW)

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """Every E9 claim on this run (``control=None``), on the large initialisation, or
        (``"different-teacher"``) E9.direction-first scored against an independent teacher's
        KKT directions at the same record (the other claims are undefined there)."""
        if control not in (None, *self.CONTROLS):
            raise ValueError(
                f"control={control!r} is not allowed: expected None or one of "
                f"{', '.join(self.CONTROLS)}"
            )
        if control == "different-teacher":
            c = self.seed_numbers()
            flat = self.at(self.flat_index(), self.growing_cos(other=True))
            out = {
                cid: Stat(np.nan, np.nan, np.nan, len(self.seeds), "undefined: no such control")
                for cid in (
                    "E9.loss-flat",
                    "E9.direction-first",
                    "E9.low-rank",
                    "E9.norm-scale",
                    "E9.time-L2",
                    "E9.time-L3",
                )
            }
            out["E9.direction-first"] = seed_mean(
                flat,
                detail=f"independent teacher's KKT directions; per seed {_short(flat)} (own: "
                f"{_short(c['cos_flat'])})",
            )
            return out
        large = control is not None
        run = self.sibling(delta=LARGE_DELTA) if large else self
        c = run.seed_numbers()
        where = f"δ = {run.settings.delta:g}, depth {run.settings.depth}"
        out = {
            "E9.loss-flat": seed_mean(
                c["loss_change_2x"],
                detail=f"{where}; per seed {_short(c['loss_change_2x'])}",
            ),
            "E9.direction-first": seed_mean(
                c["cos_flat"],
                detail=f"{where}; per seed {_short(c['cos_flat'])} (at t = 0: "
                f"{_short(run.growing_cos()[0])})",
            ),
        }
        drop = 1 - c["erank_flat"] / c["erank_0"]
        erank_read = c["erank_flat"]
        if large:
            # From a large start the loss plateau is empty (its end is step 0), so the drop
            # read there is 0 by construction; the control reads the same statistic where the
            # loss has halved instead, after training has moved the weights: a value that
            # could pass the claim if large starts became low-rank too.
            half = run.first_index(np.abs(1 - run.loss), LOSS_HALF)
            erank_read = run.at(half, run.erank)
            drop = 1 - erank_read / c["erank_0"]
            where += ", read where the loss has halved"
        out["E9.low-rank"] = seed_mean(
            drop,
            detail=f"{where}; effective rank {_short(c['erank_0'])} → {_short(erank_read)}",
        )
        small, smaller = (SWEEP[0], SWEEP[1]) if large else (SWEEP[-2], SWEEP[-1])
        a = self.sibling(delta=small).seed_numbers()["norm_at_cos99"]
        b = self.sibling(delta=smaller).seed_numbers()["norm_at_cos99"]
        out["E9.norm-scale"] = seed_mean(
            np.abs(np.log(b / a)),
            detail=f"‖θ‖/‖θ(0)‖ when the cosine reaches 0.99: δ = {small:g} {_short(a)}, "
            f"δ = {smaller:g} {_short(b)} (nan: never)",
        )
        for cid, depth in (("E9.time-L2", 2), ("E9.time-L3", 3)):
            pl = self.time_scales(depth)
            use = pl.deltas >= FIT_BELOW if large else pl.deltas <= FIT_BELOW
            out[cid] = pl.slope_error(use)
        return out

    def numbers(self, step: int | None = None) -> str:
        """Key numbers at record ``step`` (default: the last), means over seeds."""
        t = self.snapshot_index(step)
        g = self.growing()[t]
        return (
            f"step {int(self.steps[t])}, flow time {self.time[t].mean():.3g} "
            f"(mean over {len(self.seeds)} seeds)\n"
            f"‖θ‖/‖θ(0)‖ = {self.norm_ratio[t].mean():.3g}, "
            f"loss/initial = {self.loss[t].mean():.4g}\n"
            f"growing neurons {g.sum(-1).mean():.1f} of {self.settings.width}, their mean cosine "
            f"to the nearest KKT direction {self.growing_cos()[t].mean():.3f}; "
            f"effective rank of W₁ {self.erank[t].mean():.2f}"
        )

    def summary(self) -> str:
        """A small per-seed table of the phase lengths and the claim numbers."""
        s = self.settings
        c = self.seed_numbers()
        lines = [
            f"directional (E9): depth {s.depth}, {s.activation} (degree {s.degree}), "
            f"width {s.width}, delta={s.delta:g}, {int(self.steps[-1])} Euler steps",
            self.made(),
            f"{'seed':>5} {'N*':>6} {'#KKT':>5} {'t(2x)':>8} {'t(esc)':>8} {'cos@2x':>7} "
            f"{'cos@flat':>8} {'erank 0→2x→flat':>17}",
        ]
        for i, seed in enumerate(self.seeds):
            lines.append(
                f"{seed:>5} {self.n_star[i]:>6.3f} {int(self.n_kkt[i]):>5} "
                f"{c['t_double'][i]:>8.3g} {c['t_escape'][i]:>8.3g} {c['cos_2x'][i]:>7.3f} "
                f"{c['cos_flat'][i]:>8.3f} "
                f"{c['erank_0'][i]:>5.2f}→{c['erank_2x'][i]:.2f}→{c['erank_flat'][i]:.2f}"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, timing, per-seed claim numbers and curves."""
        c = self.seed_numbers()
        return {
            **self.json_header(),
            "seeds": [
                {
                    "seed": seed,
                    "n_star": float(self.n_star[s]),
                    "n_kkt": int(self.n_kkt[s]),
                    "kkt_residual": float(self.kkt_residual[s]),
                    **{k: float(v[s]) for k, v in c.items()},
                    "time": self.time[:, s].tolist(),
                    "norm_ratio": self.norm_ratio[:, s].tolist(),
                    "loss_ratio": self.loss[:, s].tolist(),
                    "growing_cos": self.growing_cos()[:, s].tolist(),
                    "erank": self.erank[:, s].tolist(),
                }
                for s, seed in enumerate(self.seeds)
            ],
        }

    # ---- the chapter's descriptive numbers ----------------------------------------------------
    def at_doubling(self) -> dict[str, float]:
        """Means over seeds when the norm has doubled: the growing neurons' cosine to their
        nearest KKT direction (``"cos"``) and the relative fall of ``W₁``'s effective rank
        (``"rank_drop"``) — what a stronger reading of the theorem would ask to be 0.99 and
        0.2 already there."""
        c = self.seed_numbers()
        return {
            "rank_drop": float(np.mean(1 - c["erank_2x"] / c["erank_0"])),
            "cos": float(np.mean(c["cos_2x"])),
        }

    def glue(self) -> None:
        """Glue the chapter's descriptive numbers (``E9.rank_drop_2x``, ``E9.cos_2x``: see
        :meth:`at_doubling`) for its prose; the claims glue themselves (``report.glue()``)."""
        d = self.at_doubling()
        glue("E9.rank_drop_2x", d["rank_drop"])
        glue("E9.cos_2x", d["cos"])

    def plateau_table(self) -> str:
        """Per seed, at the end of the loss plateau: the growing neurons (faster than the whole
        network) against the rest — how many, their median norm ratio, and how many of the
        rest are still below twice their initial norm."""
        flat = self.flat_index()
        lines = []
        for s, seed in enumerate(self.seeds):
            i = flat[s]
            grow, ratio = self.growing()[i, s], self.neuron_ratio[i, s]
            lines.append(
                f"seed {seed}, end of the plateau (‖θ‖ = {self.norm_ratio[i, s]:.0f}·‖θ(0)‖): "
                f"{grow.sum()} growing neurons, median norm ratio {np.median(ratio[grow]):.0f}; "
                f"the other {(~grow).sum()}: median {np.median(ratio[~grow]):.0f}, "
                f"{(ratio < 2).sum()} still below 2"
            )
        return "\n".join(lines)

    def growth_rates(self) -> np.ndarray:
        """``[S]`` fitted growth rate of each seed's fastest neuron: the slope of
        ``ln(‖w_j(t)‖/‖w_j(0)‖)`` over flow time on the records where the growing neurons are
        aligned (cosine ``>= 0.99``) and the loss is still on its plateau (``> 0.99``). For a
        two-layer ReLU net the theory gives ``2 N*`` (``2 * n_star``)."""
        cos = self.growing_cos()
        rates = []
        for s in range(len(self.seeds)):
            j = int(self.neuron_ratio[-1, s].argmax())
            window = (cos[:, s] >= 0.99) & (self.loss[:, s] > 0.99)
            t, r = self.time[window, s], np.log(self.neuron_ratio[window, s, j])
            rates.append(np.polyfit(t, r, 1)[0])
        return np.asarray(rates)

    def growth_rate_table(self) -> str:
        """Per seed, :meth:`growth_rates` beside ``2 N*``."""
        return "\n".join(
            f"seed {seed}: fitted growth rate {rate:.3f}, 2 N* = {2 * self.n_star[s]:.3f}"
            for s, (seed, rate) in enumerate(zip(self.seeds, self.growth_rates(), strict=True))
        )


# ---- the time scale of the small-norm phase ---------------------------------------------
@dataclasses.dataclass
class PhaseLengths:
    """Phase lengths over ``δ`` for one depth (means over seeds, per ``δ``).

    Attributes:
        depth, activation, degree, deltas: the runs.
        t_double, t_escape: ``[D, S]`` flow times (norm doubled; loss down 1 %).
        n_star: ``[S]`` largest ``N`` on the unit sphere (δ-independent).
        slope, intercept: the fit — degree 2: ``t_escape ≈ slope·ln(1/δ) + intercept``;
            degree ``K > 2``: ``log t_double ≈ slope·log(1/δ) + intercept``.
        theory_slope: degree 2: ``1/(2 N*)`` (mean over seeds); ``K > 2``: ``K − 2``.
    """

    depth: int
    activation: str
    degree: int
    deltas: np.ndarray
    t_double: np.ndarray
    t_escape: np.ndarray
    n_star: np.ndarray
    slope: float
    intercept: float
    theory_slope: float

    def fitted(self) -> np.ndarray:
        """``[D]`` the phase length the fit gives at every ``δ``."""
        u = np.log(1 / self.deltas)
        if self.degree == 2:
            return self.slope * u + self.intercept
        return np.exp(self.slope * u + self.intercept)

    def measured(self) -> np.ndarray:
        """``[D]`` the fitted quantity (mean over seeds): ``t_escape`` (K = 2) or ``t_double``."""
        return (self.t_escape if self.degree == 2 else self.t_double).mean(1)

    def monotone(self) -> bool:
        """Does the phase lengthen at every step to a smaller ``δ`` (mean over seeds)? ``δ`` whose
        phase never ended in the measured sense (``nan``: e.g. the loss fell before the norm
        doubled, so the initialisation was not small) are left out."""
        vals = self.measured()[np.argsort(-self.deltas)]
        vals = vals[np.isfinite(vals)]
        return bool(len(vals) >= 2 and np.all(np.diff(vals) > 0))

    def slope_error(self, use: np.ndarray | None = None) -> Stat:
        """``|slope / theory − 1|`` of the fit on the ``δ`` in ``use`` (default: every ``δ``),
        with a 90 % interval from a bootstrap over seeds: each resample of the seeds is
        averaged per ``δ`` and fitted again (claims E9.time-L2 and E9.time-L3)."""
        use = np.ones(len(self.deltas), dtype=bool) if use is None else np.asarray(use)

        def stat(cols: list[int]) -> float:
            slope, _, theory = fit_slope(
                self.deltas,
                self.t_double[:, cols],
                self.t_escape[:, cols],
                self.n_star[cols],
                self.degree,
                use,
            )
            return abs(slope / theory - 1)

        slope, _, theory = fit_slope(
            self.deltas, self.t_double, self.t_escape, self.n_star, self.degree, use
        )
        what = "t_escape vs ln(1/δ)" if self.degree == 2 else "ln t_double vs ln(1/δ)"
        detail = (
            f"depth {self.depth} (degree {self.degree}), δ ∈ "
            f"{{{', '.join(f'{d:g}' for d in self.deltas[use])}}}: slope of {what} "
            f"{slope:.4g}, theory {theory:.4g}"
        )
        return bootstrap(list(range(self.t_double.shape[1])), stat, detail=detail)

    def describe(self) -> str:
        what = "t_escape (loss down 1 %)" if self.degree == 2 else "t_double (‖θ‖ = 2‖θ(0)‖)"
        rows = ", ".join(
            f"δ={d:g}: {v:.3g}" for d, v in zip(self.deltas, self.measured(), strict=True)
        )
        law = "slope of t vs ln(1/δ)" if self.degree == 2 else "log–log slope of t vs 1/δ"
        return (
            f"depth {self.depth} {self.activation} (degree {self.degree}): {what}: {rows}\n"
            f"  {law}: fitted {self.slope:.3g}, theory {self.theory_slope:.3g}; "
            f"lengthens monotonically: {self.monotone()}"
        )


def _short(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in np.asarray(values, dtype=float)) + "]"


def fit_slope(
    deltas: np.ndarray,
    t_double: np.ndarray,
    t_escape: np.ndarray,
    n_star: np.ndarray,
    degree: int,
    use: np.ndarray,
) -> tuple[float, float, float]:
    """``(slope, intercept, theory)`` of the time-scale law on the means over seeds (columns).

    Degree 2: ``t_escape`` against ``ln(1/δ)``, theory ``mean(1/(2 N*))``. Degree ``K > 2``:
    ``ln t_double`` against ``ln(1/δ)``, theory ``K − 2``. Only ``δ`` in ``use`` enter; nan
    when fewer than two of them have a finite mean.
    """
    u = np.log(1 / deltas[use])
    if degree == 2:
        t, theory = t_escape[use].mean(1), float(np.mean(1 / (2 * n_star)))
    else:
        t, theory = np.log(t_double[use].mean(1)), float(degree - 2)
    ok = np.isfinite(t)
    if ok.sum() < 2:
        return math.nan, math.nan, theory
    slope, intercept = np.polyfit(u[ok], t[ok], 1)
    return float(slope), float(intercept), theory


def fit_phase_lengths(runs: Sequence[DirectionalResult], fit_below: float = 1.0) -> PhaseLengths:
    """:class:`PhaseLengths` of runs that differ only in ``δ`` (fit on ``δ <= fit_below``)."""
    s = runs[0].settings
    dl = np.asarray([r.settings.delta for r in runs], dtype=float)
    t2 = np.stack([r.t_double() for r in runs])
    te = np.stack([r.t_escape() for r in runs])
    slope, intercept, theory = fit_slope(dl, t2, te, runs[0].n_star, s.degree, dl <= fit_below)
    return PhaseLengths(
        s.depth, s.activation, s.degree, dl, t2, te, runs[0].n_star, slope, intercept, theory
    )
