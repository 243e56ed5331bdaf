"""The result of E5, sample complexity with the boundary augmentation
(``sample-complexity``), and its analysis: coverage per training-set size and data kind, the
claims, where the training points lie relative to the teacher boundaries, and the chapter's
numbers.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from ..claims import E5_TAU, Stat, bootstrap, seed_mean
from ..config import check_float
from ..data import boundary_augmented, gaussian
from ..ensemble import Net, with_ones
from ..result import Result

if TYPE_CHECKING:
    from ..experiments.sample_complexity import SampleComplexitySettings


@dataclasses.dataclass
class SampleComplexityResult(Result["SampleComplexitySettings"]):
    """Everything E5 measures, as NumPy arrays. Axes: ``T`` snapshots, ``G = len(n_trains)``
    sizes, ``K = len(kinds)`` data kinds, ``S`` seeds.

    Attributes:
        settings, seeds, device, wall_time_s: how it was made.
        steps: ``[T]`` snapshot steps.
        teacher_best: ``[T, G, K, S, m]`` best correlation of each teacher node over students
            (on the Gaussian eval set).
        eval_loss, train_loss: ``[T, G, K, S]`` (train loss on each member's own training set).
        covered: ``{tau: [T, G, K, S]}`` number of teachers covered at ``tau``.
        student_best, fanout: ``[G, K, S, n]`` final best correlation and fan-out of each
            student node.
        positive, near: ``[G, K, S, m]`` where each training set lies relative to each teacher
            boundary (see :func:`~luckbook.experiments.sample_complexity.boundary_sides`).
        shift: ``[S, m]`` median off-boundary shift of the augmentation's boundary points (see
            :func:`~luckbook.experiments.sample_complexity.rescale_shift`).
        teacher: final teacher weights per layer ``[S, in+1, out]``.
    """

    settings: SampleComplexitySettings

    EXPERIMENT: ClassVar[str] = "sample-complexity"

    steps: np.ndarray
    teacher_best: np.ndarray
    eval_loss: np.ndarray
    train_loss: np.ndarray
    covered: dict[float, np.ndarray]
    student_best: np.ndarray
    fanout: np.ndarray
    positive: np.ndarray
    near: np.ndarray
    shift: np.ndarray
    teacher: list[np.ndarray]

    def index(self, n_train: int, kind: str) -> tuple[int, int]:
        """``(g, k)`` of training-set size ``n_train`` and data kind ``kind``."""
        s = self.settings
        if n_train not in s.n_trains:
            raise ValueError(
                f"n_train={n_train!r} is not allowed: this run has n_trains={s.n_trains}"
            )
        if kind not in s.kinds:
            raise ValueError(f"kind={kind!r} is not allowed: this run has kinds={s.kinds}")
        return s.n_trains.index(n_train), s.kinds.index(kind)

    def fraction_covered(self, tau: float = 0.95, step: int | None = None) -> np.ndarray:
        """``[G, K, S]`` fraction of teachers covered at ``tau`` (any ``tau`` in (0, 1))."""
        tau = check_float("tau", tau, low=0.0, high=1.0, low_open=True, high_open=True)
        t = self.snapshot_index(step)
        return (self.teacher_best[t] > tau).mean(-1)

    def claim_n(self) -> tuple[int, str]:
        """The ``N`` E5.aug-gain and E5.aug-coverage are evaluated at: the smallest of the
        run's grid (:data:`~luckbook.claims.E5_CLAIM_N` for the scales' grids)."""
        n = min(self.settings.n_trains)
        return n, f"N = {n} (the smallest of the grid)"

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """E5's claims, on coverage at τ = 0.95 on the Gaussian eval set at the last snapshot
        (``control="frozen"``: at step 0).

        ``E5.aug-gain``: at the smallest ``N`` (:meth:`claim_n`), mean over seeds of
        (augmented − Gaussian) fraction of teacher nodes covered, paired by seed (same
        teacher, initial student and minibatch positions). ``E5.aug-coverage``: there, mean
        over seeds of the augmented fraction covered. ``E5.gain-reverses``: the minimum over
        every ``N`` of the grid of that mean gain (a bootstrap resample of seeds is shared by
        all ``N``).
        """
        from ..experiments.sample_complexity import KINDS

        s = self.settings
        t = 0 if control == "frozen" else len(self.steps) - 1
        n, where = self.claim_n()
        ids = ("E5.aug-gain", "E5.aug-coverage", "E5.gain-reverses")
        if set(KINDS) - set(s.kinds):
            nan = Stat(np.nan, np.nan, np.nan, len(self.seeds), "needs data='both'")
            return dict.fromkeys(ids, nan)
        g = s.n_trains.index(n)
        frac = (self.teacher_best[t] > E5_TAU).mean(-1)  # [G, K, S]
        gauss, aug = frac[g, s.kinds.index("gaussian")], frac[g, s.kinds.index("augmented")]
        per_seed = list(zip(gauss.tolist(), aug.tolist(), strict=True))
        counts = (
            f"{where}; teacher nodes covered per seed: augmented "
            f"{np.round(aug * s.m).astype(int).tolist()}, Gaussian "
            f"{np.round(gauss * s.m).astype(int).tolist()} (of {s.m})"
        )
        gains = frac[:, s.kinds.index("augmented")] - frac[:, s.kinds.index("gaussian")]  # [G, S]
        per_n = gains.mean(-1)
        grid = ", ".join(f"N = {m}: {v:+.2f}" for m, v in zip(s.n_trains, per_n, strict=True))
        return {
            "E5.aug-gain": bootstrap(
                per_seed, lambda xs: float(np.mean([a - g_ for g_, a in xs])), detail=counts
            ),
            "E5.aug-coverage": seed_mean(aug, detail=where),
            "E5.gain-reverses": bootstrap(
                list(gains.T),
                lambda xs: float(np.min(np.mean(xs, axis=0))),
                detail=f"mean gain per N: {grid}",
            ),
        }

    def coverage_table(self, tau: float = 0.95, step: int | None = None) -> str:
        """Mean ± std over seeds of the fraction covered, one row per ``N``."""
        frac = self.fraction_covered(tau, step)
        s = self.settings
        head = f"{'N':>7} " + " ".join(f"{k + ' @' + str(tau):>22}" for k in s.kinds)
        lines = [head]
        for g, n in enumerate(s.n_trains):
            cells = [
                f"{frac[g, k].mean():.3f} ± {frac[g, k].std():.3f} "
                f"({frac[g, k].mean() * s.m:.1f}/{s.m})"
                for k in range(len(s.kinds))
            ]
            lines.append(f"{n:>7} " + " ".join(f"{c:>22}" for c in cells))
        return "\n".join(lines)

    def numbers(self, step: int | None = None, tau: float = 0.95) -> str:
        """Key numbers at snapshot ``step``: coverage per N and kind, eval loss."""
        t = self.snapshot_index(step)
        s = self.settings
        frac = self.fraction_covered(tau, step)
        parts = []
        for g, n in enumerate(s.n_trains):
            cells = ", ".join(f"{kind} {frac[g, k].mean():.2f}" for k, kind in enumerate(s.kinds))
            parts.append(f"N={n}: {cells}")
        loss = ", ".join(
            f"{kind} {self.eval_loss[t, :, k].mean():.2g}" for k, kind in enumerate(s.kinds)
        )
        return (
            f"step {int(self.steps[t])}: fraction of teachers covered at {tau} (mean over "
            f"{len(self.seeds)} seeds) — "
            + "; ".join(parts)
            + f"\neval loss (mean over N and seeds): {loss}"
        )

    def size_numbers(self, n_train: int, kind: str | None = None, tau: float = 0.95) -> str:
        """One line per data kind (or only ``kind``) at training-set size ``n_train``: teachers
        covered at ``tau`` per seed, eval and train losses after training."""
        s = self.settings
        parts = []
        for name in s.kinds if kind is None else (kind,):
            g, k = self.index(n_train, name)
            cov = (
                self.covered[tau][-1, g, k]
                if tau in self.covered
                else (self.teacher_best[-1, g, k] > tau).sum(-1)
            )
            parts.append(
                f"{name}: covered per seed {cov.tolist()} of {s.m} (mean {cov.mean():.2f}), "
                f"eval loss {self.eval_loss[-1, g, k].mean():.2g}, "
                f"train loss {self.train_loss[-1, g, k].mean():.2g}"
            )
        return f"N={n_train}, τ={tau:g} — " + "; ".join(parts)

    # ------------------------------------------------------------------ the augmentation

    def training_points(self, n_train: int, seed: int | None = None) -> dict[str, torch.Tensor]:
        """The training inputs ``[N, d]`` of ``(n_train, kind)`` for one seed (default: the
        first), per data kind of the run, regenerated exactly (the samplers are seeded by
        ``(seed, stream)``)."""
        s = self.settings
        i = self.seed_position(seed)
        seed_id = self.seeds[i]
        teacher = Net(
            [torch.from_numpy(w[i : i + 1]) for w in self.teacher],
            activation=s.activation,
            slope=s.slope,
        )
        out = {}
        for kind in s.kinds:
            if kind == "gaussian":
                x = gaussian(n_train, s.d, [seed_id], data_std=s.data_std)
            else:
                x = boundary_augmented(
                    teacher,
                    n_train,
                    [seed_id],
                    data_std=s.data_std,
                    alpha_mean=s.alpha_mean,
                    alpha_sigma=s.alpha_sigma,
                )
            out[kind] = x[0]
        return out

    def boundary_coordinates(self, n_train: int, seed: int | None = None) -> dict[str, np.ndarray]:
        """Per data kind, the training points of :meth:`training_points` in the coordinates of
        the teacher boundaries: ``[N, m]`` pre-activations ``w_iᵀx + b_i`` of the first layer."""
        w1 = torch.from_numpy(self.teacher[0][self.seed_position(seed)])  # [d + 1, m]
        points = self.training_points(n_train, seed)
        return {kind: (with_ones(x) @ w1).numpy() for kind, x in points.items()}

    def seed_position(self, seed: int | None) -> int:
        """Index of ``seed`` on the seed axis (default: 0, the first seed)."""
        if seed is None:
            return 0
        if seed not in self.seeds:
            raise ValueError(f"seed={seed!r} is not allowed: this result has seeds {self.seeds}")
        return self.seeds.index(seed)

    def median_shift(self, per_node: bool = False) -> float | list[float]:
        """The median off-boundary shift ``|wᵀx + b|`` of the augmentation's boundary points
        over teacher nodes and seeds (``per_node``: per teacher node, median over seeds)."""
        if per_node:
            return np.median(self.shift, axis=0).tolist()
        return float(np.median(self.shift))

    def near_fraction(self) -> np.ndarray:
        """``[G, K, S, m]`` fraction of each training set within ``NEAR`` of each teacher
        boundary."""
        return self.near / np.asarray(self.settings.n_trains)[:, None, None, None]

    def near_boundary(self) -> dict[str, dict[str, float]]:
        """Per data kind, the points near a teacher boundary (within ``NEAR``): ``measured``,
        the fraction per boundary (mean over sizes, seeds and nodes); ``predicted``, the same
        from the construction; ``count``, the mean number per boundary at the first size.

        Predicted: for Gaussian data ``wᵀx + b ~ N(b, data_std²)`` (unit ``w``), so the
        fraction is ``Φ((NEAR − b)/σ) − Φ((−NEAR − b)/σ)``; an augmented set puts ``1/(3m)`` of
        its points on each boundary and the rest are roughly Gaussian for that boundary."""
        from ..experiments.sample_complexity import NEAR

        s = self.settings

        def phi(z: float) -> float:
            return 0.5 * (1 + math.erf(z / math.sqrt(2)))

        p_gauss = phi((NEAR - s.bias) / s.data_std) - phi((-NEAR - s.bias) / s.data_std)
        on = 1 / (3 * s.m)
        predicted = {"gaussian": p_gauss, "augmented": on + (1 - on) * p_gauss}
        frac = self.near_fraction()
        return {
            kind: {
                "measured": float(frac[:, k].mean()),
                "predicted": predicted[kind],
                "count": float(self.near[0, k].mean()),
            }
            for k, kind in enumerate(s.kinds)
        }

    def augmentation_numbers(self) -> str:
        """The off-boundary shift of the rescale and the side fractions, per data kind."""
        from ..experiments.sample_complexity import NEAR

        s = self.settings
        lines = []
        for k, kind in enumerate(s.kinds):
            pos = self.positive[:, k]
            near = self.near[:, k] / np.asarray(s.n_trains)[:, None, None]
            line = (
                f"{kind}: fraction on the positive side of a boundary {pos.mean():.3f} "
                f"(range {pos.min():.3f}–{pos.max():.3f}); within {NEAR} of a boundary "
                f"{near.mean():.3f} of the points per boundary"
            )
            lines.append(line)
        per_node = ", ".join(f"{v:.4f}" for v in self.median_shift(per_node=True))
        lines.append(
            f"augmentation: boundary points sit at median |wᵀx+b| = {self.median_shift():.4f} "
            f"after the rescale (per teacher node and seed "
            f"{self.shift.min():.4f}–{self.shift.max():.4f}; per teacher node, median over "
            f"seeds: {per_node}; the teacher bias is {s.bias:g})"
        )
        return "\n".join(lines)

    # ------------------------------------------------------------------ text and JSON

    def chapter_numbers(self) -> dict[str, float]:
        """The numbers the chapter's prose states (glued as ``E5.<name>``), descriptive, not
        claims: per size ``N`` and data kind the mean number of teacher nodes covered at 0.95
        (``covered.N.kind``) and at 0.8 (``covered80.N.kind``) and the final eval and train
        losses; the median shift of the augmentation; per kind the percentage of points on
        the positive side of a boundary (``positive.kind``) and within ``NEAR`` of one
        (``near.kind``)."""
        s = self.settings
        frac = self.fraction_covered(0.95)
        frac80 = self.fraction_covered(0.8)
        near = self.near_fraction()
        out: dict[str, float] = {"shift": self.median_shift()}
        for k, kind in enumerate(s.kinds):
            for g, n in enumerate(s.n_trains):
                out[f"covered.{n}.{kind}"] = float(frac[g, k].mean() * s.m)
                out[f"eval_loss.{n}.{kind}"] = float(self.eval_loss[-1, g, k].mean())
                out[f"train_loss.{n}.{kind}"] = float(self.train_loss[-1, g, k].mean())
                out[f"covered80.{n}.{kind}"] = float(frac80[g, k].mean() * s.m)
            out[f"positive.{kind}"] = float(self.positive[:, k].mean() * 100)
            out[f"near.{kind}"] = float(near[:, k].mean() * 100)
        return out

    def summary(self, tau: float = 0.95) -> str:
        s = self.settings
        return "\n".join(
            [
                f"sample complexity (E5): d={s.d}, m={s.m}, multi={s.multi}, c={s.c}, "
                f"p={s.p:g}, {s.activation}; {s.steps} SGD steps; {len(s.n_trains)} sizes × "
                f"{len(s.kinds)} kinds × {self.made()}",
                "fraction of teachers covered (mean ± std over seeds, mean count):",
                self.coverage_table(tau),
                self.augmentation_numbers(),
            ]
        )

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, timing, and per (N, kind, seed) final numbers."""
        s = self.settings
        rows = []
        for g, n in enumerate(s.n_trains):
            for k, kind in enumerate(s.kinds):
                for i, seed in enumerate(self.seeds):
                    rows.append(
                        {
                            "n_train": n,
                            "kind": kind,
                            "seed": seed,
                            "teacher_best_corr": self.teacher_best[-1, g, k, i].tolist(),
                            "covered": {
                                str(t): int(v[-1, g, k, i]) for t, v in self.covered.items()
                            },
                            "eval_loss": float(self.eval_loss[-1, g, k, i]),
                            "train_loss": float(self.train_loss[-1, g, k, i]),
                            "fraction_positive": self.positive[g, k, i].tolist(),
                            "near_boundary": self.near[g, k, i].tolist(),
                        }
                    )
        return {
            **self.json_header(),
            "boundary_shift_median": self.shift.tolist(),
            "runs": rows,
        }
