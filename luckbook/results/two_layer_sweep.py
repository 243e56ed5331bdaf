"""The result of the E4 sweep (``two-layer-sweep``) and its analysis: coverage and success
rates per cell, the three claims (strong teachers first, over-realization covers more, the
L-shape), the descriptive numbers of the chapter, summary and JSON.

Conventions of the released figures: the L-shape's correlations are on the training set at
step 0 and at the end (eval set at the snapshots in between, where only those are measured);
success rates on the eval set; the loss is the mean of ``(y_t − y_s)²`` over samples and
outputs (:func:`~luckbook.results.two_layer.released_loss`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .. import dynamics, metrics
from ..claims import Stat, bootstrap, pooled_median, seed_mean
from ..config import check_choice, check_float, check_int
from ..result import Result
from .two_layer import arrivals, covering_window, released_loss, snapshot_numbers

if TYPE_CHECKING:
    from ..experiments.two_layer_sweep import TwoLayerSweepSettings

Cell = tuple[int, int, float]
"""``(m, multi, p)``."""
INIT_SCALES = (0.005, 0.05, 0.2)
"""The student initial scales the chapter compares (:meth:`TwoLayerSweepResult.init_scale_runs`;
0.005 is the released one)."""
ORDER_MULTI = 5
"""The width multiplier of the order claim ``E4.strong-first`` (chosen on development seeds)."""
ORDER_P = 1.0
"""The strength decay of the order claim and of ``E4.more-covers-more``."""
DECAY_INIT_SCALE = 0.05
"""The student initial scale of the decay claim ``E4.unspecialized-decay`` (at the released
0.005 a node's fan-out starts at a level it cannot fall far below; chosen on development
seeds). Its run is the ``claim_m``, multi = ``ORDER_MULTI``, p = ``ORDER_P`` cell."""
EQUAL_STRENGTH = (
    "equal strength — the order statistic on the same sweep's p = 0 cell (every teacher node "
    "equally strong; the 'strength' order is the index)"
)


@dataclasses.dataclass
class SweepCell:
    """One cell's per-seed arrays (``T`` snapshots, ``S`` seeds, ``m`` teacher, ``n`` student
    nodes).

    Attributes:
        teacher_best: ``[T, S, m]`` best correlation of each teacher node over student nodes.
        student_best: ``[T, S, n]`` best correlation of each student node over teacher nodes.
        student_match: ``[T, S, n]`` index of that teacher node.
        fanout: ``[T, S, n]`` fan-out norm of each student node.
        eval_loss: ``[T, S]`` square loss on the eval set (``½·Σ_outputs``; see
            :func:`~luckbook.results.two_layer.released_loss`).
        train_best: ``[2, S, n]`` best correlation of each student node on the **training**
            set at step 0 and at the end (the released L-shape's convention).
    """

    teacher_best: np.ndarray
    student_best: np.ndarray
    student_match: np.ndarray
    fanout: np.ndarray
    eval_loss: np.ndarray
    train_best: np.ndarray | None = None


@dataclasses.dataclass
class TwoLayerSweepResult(Result["TwoLayerSweepSettings"]):
    """The whole sweep: ``cells[(m, multi, p)]`` is a :class:`SweepCell`.

    Attributes:
        settings, seeds, device: how it was made.
        wall_time_s: seconds for everything; group_time_s: per ``(m, multi)`` program.
        steps: ``[T]`` snapshot steps (the same for every cell).
        early_index: the snapshot nearest ``settings.early · steps``.
    """

    settings: TwoLayerSweepSettings

    EXPERIMENT: ClassVar[str] = "two-layer-sweep"
    CONTROLS: ClassVar[tuple[str, ...]] = ("frozen", "equal-strength")
    CONTROL_NAMES: ClassVar[dict[str, str]] = {
        "frozen": "frozen student — the same runs evaluated at their initial weights (step 0)",
        "equal-strength": EQUAL_STRENGTH,
    }

    group_time_s: dict[tuple[int, int], float]
    steps: np.ndarray
    cells: dict[Cell, SweepCell]
    _lshape: TwoLayerSweepResult | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def early_index(self) -> int:
        return int(np.abs(self.steps - self.settings.early * self.settings.steps).argmin())

    def default_m(self) -> int:
        """The teacher width figures and numbers show by default: ``claim_m`` when the sweep
        has it, else the largest."""
        s = self.settings
        return s.claim_m if s.claim_m in s.ms else max(s.ms)

    def cell(self, m: int, multi: int, p: float) -> SweepCell:
        key = (int(m), int(multi), float(p))
        if key not in self.cells:
            s = self.settings
            raise ValueError(
                f"cell (m={m!r}, multi={multi!r}, p={p!r}) is not in this sweep: "
                f"m in {list(s.ms)}, multi in {list(s.multis)}, p in {list(s.ps)}"
            )
        return self.cells[key]

    def _tau(self, tau: float | None) -> float:
        return (
            self.settings.tau
            if tau is None
            else check_float("tau", tau, low=0.0, high=1.0, high_open=True)
        )

    def covered(
        self, m: int, multi: int, p: float, step: int | None = None, tau: float | None = None
    ) -> np.ndarray:
        """``[S]`` number of teacher nodes covered at ``tau`` at snapshot ``step`` (default:
        the last)."""
        t = self.snapshot_index(step)
        return (self.cell(m, multi, p).teacher_best[t] > self._tau(tau)).sum(-1)

    def success_rate(
        self, m: int, multi: int, p: float, when: str = "final", tau: float | None = None
    ) -> np.ndarray:
        """``[m]`` fraction of seeds where teacher node ``i`` is covered, ``when`` = "early" or
        "final"."""
        check_choice("when", when, ("early", "final"))
        t = self.early_index if when == "early" else len(self.steps) - 1
        return (self.cell(m, multi, p).teacher_best[t] > self._tau(tau)).mean(0)

    def first_covered(self, m: int, multi: int, p: float, tau: float | None = None) -> np.ndarray:
        """``[S, m]`` the first snapshot step at which teacher node ``i`` is covered (best
        eval-set correlation above ``tau``) in each seed; ``-1`` where it never is."""
        hit = self.cell(m, multi, p).teacher_best > self._tau(tau)  # [T, S, m]
        first = hit.argmax(0)
        return np.where(hit.any(0), np.asarray(self.steps)[first], -1)

    def median_first_covered(
        self, m: int, multi: int, p: float, tau: float | None = None
    ) -> list[int]:
        """Per teacher node, the median over the seeds that cover it of
        :meth:`first_covered` (truncated to an integer step); ``-1`` where no seed does."""
        first = self.first_covered(m, multi, p, tau)
        return [
            int(np.median(first[:, i][first[:, i] >= 0])) if (first[:, i] >= 0).any() else -1
            for i in range(first.shape[1])
        ]

    def init_scale_runs(
        self,
        scales: Sequence[float] = INIT_SCALES,
        m: int | None = None,
        multi: int = 5,
        p: float = 1.0,
    ) -> dict[float, TwoLayerSweepResult]:
        """This sweep's settings and seeds for one cell ``(m, multi, p)`` (``m`` default:
        ``settings.claim_m``) at each student initial scale in ``scales`` (cached runs; this
        sweep itself at its own scale)."""
        from ..experiments.base import get_experiment

        m = self.settings.claim_m if m is None else m
        out = {}
        for v in scales:
            if v == self.settings.init_scale:
                out[v] = self
                continue
            over = {
                **dataclasses.asdict(self.settings),
                "init_scale": v,
                "ms": (m,),
                "multis": (multi,),
                "ps": (float(p),),
            }
            out[v] = get_experiment("two-layer-sweep").run(
                scale="paper", seeds=self.seeds, device=self.device, **over
            )
        return out

    def init_scale_covered(
        self,
        scales: Sequence[float] = INIT_SCALES,
        m: int | None = None,
        multi: int = 5,
        p: float = 1.0,
    ) -> dict[float, float]:
        """Per initial scale, the mean over seeds of the teacher nodes covered at the end in
        the cell ``(m, multi, p)`` of :meth:`init_scale_runs`."""
        m = self.settings.claim_m if m is None else m
        runs = self.init_scale_runs(scales, m, multi, p)
        return {v: float(r.covered(m, multi, p).mean()) for v, r in runs.items()}

    def l_shape(
        self, m: int, multi: int, p: float, step: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best correlation and fan-out norm of every student node of every seed, flattened:
        training-set correlations at step 0 and at the end (as released), eval-set ones at
        the snapshots in between (:meth:`l_shape_set`)."""
        corr, fan = self._l_shape_arrays(m, multi, p, step)
        return corr.ravel(), fan.ravel()

    # ------------------------------------------------------------------ time

    def arrivals(self, m: int, multi: int, p: float, tau: float | None = None) -> np.ndarray:
        """``[S, m]`` each teacher node's arrival step at ``tau`` (first snapshot with best
        eval-set correlation ≥ ``tau``; NaN = never, censored)."""
        return arrivals(self.steps, self.cell(m, multi, p).teacher_best, self._tau(tau))

    def covering_window(
        self, m: int, multi: int, p: float, tau: float | None = None
    ) -> tuple[float, float, int]:
        """First and last teacher arrival in the cell (over seeds) and the number of snapshots
        strictly between them — the frames of the time scrubber while nodes arrive."""
        return covering_window(self.steps, self.arrivals(m, multi, p, tau))

    def order_correlations(
        self, m: int, multi: int, p: float, step: int | None = None, tau: float | None = None
    ) -> np.ndarray:
        """``[S]`` per seed, Spearman's ρ between teacher strength and arrival time over the
        teacher nodes covered at snapshot ``step`` (default: the end); NaN when fewer than
        three are. Strength is ``1/(i+1)^p``, so for ``p > 0`` it orders the nodes by index;
        at ``p = 0`` the index order is used (every node equally strong). Negative: strong
        teachers arrive first."""
        t = self.snapshot_index(step)
        tau = self._tau(tau)
        cell = self.cell(m, multi, p)
        arr = arrivals(self.steps[: t + 1], cell.teacher_best[: t + 1], tau)
        strength = -np.arange(m, dtype=float)  # same order as 1/(i+1)^p for p > 0
        out = np.full(len(self.seeds), math.nan)
        for i in range(len(self.seeds)):
            covered = np.isfinite(arr[i]) & (cell.teacher_best[t, i] > tau)
            out[i] = dynamics.rank_correlation(strength[covered], arr[i, covered])
        return out

    def fanout_ratios(
        self, m: int, multi: int, p: float, tau: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``[S, n]`` each student node's fan-out at the end over its own at step 0
        (:func:`luckbook.dynamics.fanout_decay`) and ``[S, n]`` whether it never specialized
        (best eval-set correlation below ``tau`` at every snapshot)."""
        cell = self.cell(m, multi, p)
        never = cell.student_best.max(0) < self._tau(tau)
        return dynamics.fanout_decay(cell.fanout[0], cell.fanout[-1]), never

    def decay_run(self) -> TwoLayerSweepResult:
        """The run of the decay claim: this sweep's settings and seeds for the ``claim_m``,
        multi = ``ORDER_MULTI``, p = ``ORDER_P`` cell at initial scale ``DECAY_INIT_SCALE``
        (cached; :meth:`init_scale_runs`)."""
        return self.init_scale_runs((DECAY_INIT_SCALE,), multi=ORDER_MULTI, p=ORDER_P)[
            DECAY_INIT_SCALE
        ]

    def decay_numbers(self) -> dict[str, float]:
        """On :meth:`decay_run`: the median end/start fan-out ratio of the never-specialized
        nodes and of the specialized ones (best correlation ≥ tau at the end), the fraction
        of never-specialized nodes that shrank at least tenfold, and their counts."""
        run = self.decay_run()
        ratio, never = run.fanout_ratios(self.settings.claim_m, ORDER_MULTI, ORDER_P)
        cell = run.cell(self.settings.claim_m, ORDER_MULTI, ORDER_P)
        special = cell.student_best[-1] >= self.settings.tau
        lo, sp = ratio[never], ratio[special]
        return {
            "unspecialized_median": float(np.median(lo)) if lo.size else math.nan,
            "unspecialized_shrank10": float((lo <= 0.1).mean()) if lo.size else math.nan,
            "unspecialized_n": int(lo.size),
            "specialized_median": float(np.median(sp)) if sp.size else math.nan,
            "specialized_n": int(sp.size),
            "start_median": float(np.median(cell.fanout[0])),
        }

    # ------------------------------------------------------------------ the three claims

    def strong_first(self, m: int, p: float = 2.0, when: str = "early") -> dict[int, float]:
        """Claim (i), per multi: success rate of the strongest quarter of teachers minus that of
        the weakest quarter (``max(1, m // 4)`` teachers each) at the ``when`` snapshot
        ("early": 5 % of training, the claim's; "final")."""
        q = max(1, m // 4)
        out = {}
        for multi in self.settings.multis:
            rate = self.success_rate(m, multi, p, when)
            out[multi] = float(rate[:q].mean() - rate[-q:].mean())
        return out

    def mean_covered(self, m: int, p: float = 1.0) -> dict[int, float]:
        """Claim (ii): per multi, the mean over seeds of the number of teachers covered at the
        end."""
        return {multi: float(self.covered(m, multi, p).mean()) for multi in self.settings.multis}

    def l_shape_medians(
        self,
        m: int,
        ps: Sequence[float] | None = None,
        step: int | None = None,
        low: float = 0.6,
        high: float = 0.95,
        seeds: Sequence[int] | None = None,
        multis: Sequence[int] | None = None,
    ) -> tuple[float, float, int, int]:
        """Claim (iii): median fan-out of student nodes with best correlation ``< low`` and of
        those ``> high``, pooled over the multipliers in ``multis``, the ``p`` in ``ps`` and the
        seeds in ``seeds`` (each default: all of the sweep's), with their counts. Correlations
        as in :meth:`l_shape` (training set at step 0 and at the end, eval set in between)."""
        ps = self.settings.ps if ps is None else ps
        multis = self._multis(multis)
        rows = self.seed_rows(seeds)
        corr, fan = [], []
        for multi in multis:
            for p in ps:
                c, f = self._l_shape_arrays(m, multi, p, step)
                corr.append(c[rows].ravel())
                fan.append(f[rows].ravel())
        return metrics.l_shape_medians(np.concatenate(corr), np.concatenate(fan), low, high)

    def l_shape_ratios(self, m: int, wide_from: int = 5) -> dict[str, float]:
        """Descriptive numbers beside claim (iii) (not claims): the ratio of medians of
        :meth:`l_shape_medians` at the end over each half of the seeds (``first half``,
        ``second half``; absent for one seed) and for the narrow (multi < ``wide_from``) and
        over-realized (multi ≥ ``wide_from``) students. ``nan`` for an empty group."""
        check_int("wide_from", wide_from, minimum=1)
        out = {}
        for name, group in zip(("first half", "second half"), self.seed_halves(), strict=False):
            out[name] = metrics.ratio_of_medians(*self.l_shape_medians(m, seeds=group))
        for name, group in (
            ("narrow", [k for k in self.settings.multis if k < wide_from]),
            ("over-realized", [k for k in self.settings.multis if k >= wide_from]),
        ):
            out[name] = (
                metrics.ratio_of_medians(*self.l_shape_medians(m, multis=group))
                if group
                else math.nan
            )
        return out

    def _multis(self, multis: Sequence[int] | None) -> Sequence[int]:
        if multis is None:
            return self.settings.multis
        if isinstance(multis, (str, bytes)) or not isinstance(multis, Sequence) or not multis:
            raise ValueError(
                f"multis={multis!r} is not allowed: expected a non-empty list from "
                f"{list(self.settings.multis)}"
            )
        return multis

    def _l_shape_arrays(
        self, m: int, multi: int, p: float, step: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``[S, n]`` best correlation and fan-out norm of one cell at ``step``."""
        t = self.snapshot_index(step)
        cell = self.cell(m, multi, p)
        if cell.train_best is not None and t in (0, len(self.steps) - 1):
            return cell.train_best[0 if t == 0 else 1], cell.fanout[t]
        return cell.student_best[t], cell.fanout[t]

    def l_shape_set(self, step: int | None = None) -> str:
        """Which set the L-shape's correlations at ``step`` come from: ``"training"`` at step 0
        and at the end (as released), ``"eval"`` at the snapshots in between."""
        t = self.snapshot_index(step)
        first = next(iter(self.cells.values()))
        return (
            "training" if first.train_best is not None and t in (0, len(self.steps) - 1) else "eval"
        )

    # ------------------------------------------------------------------ claims

    def l_shape_overrides(self) -> dict[str, Any]:
        """The settings of this sweep's L-shape run: the ``claim_m`` cells, ``lshape_steps``
        steps, at least one snapshot per released epoch (1000 steps)."""
        s = self.settings
        return {
            **dataclasses.asdict(s),
            "ms": (s.claim_m,),
            "steps": s.lshape_steps,
            "n_snapshots": max(s.n_snapshots, s.lshape_steps // 1000),
        }

    def l_shape_run(self, progress: bool = False, cache: bool = True) -> TwoLayerSweepResult:
        """The run claim (iii) and the L-shape figure use: this sweep itself when it already
        has ``lshape_steps`` steps and the ``claim_m`` cells, else the ``claim_m`` cells of the
        same seeds trained ``lshape_steps`` steps (:meth:`l_shape_overrides`; cached)."""
        s = self.settings
        if s.steps == s.lshape_steps and s.claim_m in s.ms:
            return self
        if self._lshape is None:
            from ..experiments.base import get_experiment

            over = self.l_shape_overrides()
            self._lshape = get_experiment("two-layer-sweep").run(
                scale="paper",
                seeds=self.seeds,
                device=self.device,
                progress=progress,
                cache=cache,
                **over,
            )
        return self._lshape

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """The registered claims on the ``claim_m`` cells: ``E4.strong-first`` (order in time,
        multi = ``ORDER_MULTI``, p = ``ORDER_P``) and ``E4.more-covers-more`` (p = ``ORDER_P``,
        multi ``ORDER_MULTI`` minus 1) on this sweep, ``E4.unspecialized-decay`` on
        :meth:`decay_run`. ``control="frozen"`` reads every snapshot as step 0;
        ``"equal-strength"`` evaluates the order claim on the p = 0 cell (the other claims are
        undefined under it: it controls the order only)."""
        frozen = control == "frozen"
        s = self.settings
        m = s.claim_m
        out: dict[str, Stat] = {}
        n_seeds = len(self.seeds)

        def nan(why: str) -> Stat:
            return Stat(math.nan, math.nan, math.nan, n_seeds, why)

        if control == "equal-strength":
            na = nan("not applicable: the equal-strength control controls the order claim only")
            out["E4.more-covers-more"] = na
            out["E4.unspecialized-decay"] = na
            if (m, ORDER_MULTI, 0.0) in self.cells:
                out["E4.strong-first"] = self._order_stat(m, ORDER_MULTI, 0.0, None)
            else:
                out["E4.strong-first"] = nan("the p = 0 cell is missing from this sweep")
            return out
        step = 0 if frozen else None
        # order in time: Spearman(strength, arrival) over the teachers covered by the end
        if (m, ORDER_MULTI, ORDER_P) in self.cells:
            out["E4.strong-first"] = self._order_stat(m, ORDER_MULTI, ORDER_P, step)
        else:
            out["E4.strong-first"] = nan("cells missing from this sweep")
        # end of training, p = ORDER_P: covered at multi ORDER_MULTI minus multi 1, per seed
        t_end = self.snapshot_index(step)
        if all((m, k, ORDER_P) in self.cells for k in (1, ORDER_MULTI)):
            cov = {
                k: (self.cell(m, k, ORDER_P).teacher_best[t_end] > s.tau).sum(-1)
                for k in (1, ORDER_MULTI)
            }
            out["E4.more-covers-more"] = seed_mean(
                cov[ORDER_MULTI] - cov[1],
                detail=f"m = {m}, p = {ORDER_P:g}, step {int(self.steps[t_end])}; mean covered "
                f"multi 1: {cov[1].mean():.2f}, multi {ORDER_MULTI}: {cov[ORDER_MULTI].mean():.2f}",
            )
        else:
            out["E4.more-covers-more"] = nan("cells missing from this sweep")
        # decay: fan-out end/start of the never-specialized nodes of the decay run
        if m in s.ms:
            run = self.decay_run()
            ratio, never = run.fanout_ratios(m, ORDER_MULTI, ORDER_P)
            if frozen:
                ratio = np.ones_like(ratio)
            items = [ratio[i][never[i]] for i in range(len(run.seeds))]
            lo = np.concatenate(items)
            out["E4.unspecialized-decay"] = bootstrap(
                items,
                pooled_median,
                detail=f"init_scale {run.settings.init_scale:g}, m = {m}, multi = {ORDER_MULTI}, "
                f"p = {ORDER_P:g}, {run.settings.steps} steps: {lo.size} never-specialized nodes, "
                f"{(lo <= 0.1).mean() if lo.size else math.nan:.2f} of them shrank ≥ 10×",
            )
        else:
            out["E4.unspecialized-decay"] = nan("cells missing from this sweep")
        return out

    def _order_stat(self, m: int, multi: int, p: float, step: int | None) -> Stat:
        rho = self.order_correlations(m, multi, p, step)
        ok = rho[np.isfinite(rho)]
        t = self.snapshot_index(step)
        detail = (
            f"m = {m}, multi = {multi}, p = {p:g}, step {int(self.steps[t])}: defined in "
            f"{ok.size} of {len(rho)} seeds (three or more teachers covered)"
        )
        if not ok.size:
            return Stat(math.nan, math.nan, math.nan, len(rho), detail)
        return seed_mean(ok, detail=detail)

    # ------------------------------------------------------------------ the chapter's numbers

    def chapter_numbers(self, m: int | None = None) -> dict[str, float]:
        """Every descriptive number the sweep chapter's prose states (glued as
        ``sweep.<name>``) for teacher width ``m`` (default ``settings.claim_m``): success rates
        and coverage per multi, log₁₀ losses (released convention; ``log_loss`` is the **mean
        over seeds of log₁₀ loss**, the quantity the loss figure plots), the L-shape's medians
        on :meth:`l_shape_run` and its descriptive ratios, the fraction covered at p = 2 for
        every width, the time axis (arrival window of the order cell, snapshots inside it),
        the decay run's numbers (``decay.*``) and the same ratio at the sweep's own start, and
        the estimated hours of the released sweep. Not claims."""
        from ..experiments.base import get_experiment

        m = self.settings.claim_m if m is None else m
        lshape = self.l_shape_run()
        s = self.settings
        q = max(1, m // 4)
        t_early = int(self.steps[self.early_index])
        out: dict[str, float] = {
            "early_step": t_early,
            "steps": int(s.steps),
            "lshape_steps": int(lshape.settings.steps),
            "lshape_wall_s": float(lshape.wall_time_s),
            "sweep_wall_s": float(self.wall_time_s),
            "n_cells": len(self.cells),
            "n_programs": len(self.group_time_s),
        }
        for p in s.ps:
            tag = f"p{p:g}"
            for k in s.multis:
                early = self.success_rate(m, k, p, "early")
                final = self.success_rate(m, k, p)
                out[f"{tag}.m{k}.early_strong"] = float(early[:q].mean())
                out[f"{tag}.m{k}.early_weak"] = float(early[-q:].mean())
                out[f"{tag}.m{k}.final_strong"] = float(final[:q].mean())
                out[f"{tag}.m{k}.final_weak"] = float(final[-q:].mean())
                out[f"{tag}.m{k}.covered"] = float(self.covered(m, k, p).mean())
                out[f"{tag}.m{k}.early_covered"] = float(self.covered(m, k, p, t_early).mean())
                loss = released_loss(self.cell(m, k, p).eval_loss[-1], s.c)
                out[f"{tag}.m{k}.log_loss"] = float(np.log10(np.maximum(loss, 1e-300)).mean())
            for which in ("early_strong", "early_weak"):
                out[f"{tag}.{which}"] = float(
                    np.mean([out[f"{tag}.m{k}.{which}"] for k in s.multis])
                )
        lo, hi, n_lo, n_hi = lshape.l_shape_medians(m)
        out.update({"lshape.lo": lo, "lshape.hi": hi, "lshape.n_lo": n_lo, "lshape.n_hi": n_hi})
        ratios = lshape.l_shape_ratios(m)
        out.update({f"lshape.{k.replace(' ', '_')}": v for k, v in ratios.items()})
        # the same ratio on eval-set correlations at the end (the book's former convention)
        cells = [lshape.cell(m, k, p) for k in lshape.settings.multis for p in lshape.settings.ps]
        out["lshape.eval"] = metrics.l_shape_ratio(
            np.concatenate([c.student_best[-1].ravel() for c in cells]),
            np.concatenate([c.fanout[-1].ravel() for c in cells]),
        )
        for mm in s.ms:
            for k in s.multis:
                out[f"width.m{mm}.multi{k}"] = (
                    float(self.covered(mm, k, 2.0).mean() / mm) if 2.0 in s.ps else math.nan
                )
        first, last, inside = self.covering_window(m, ORDER_MULTI, ORDER_P)
        out.update(
            {
                "n_snapshots": len(self.steps),
                "order.first_arrival": first,
                "order.last_arrival": last,
                "order.frames": inside,
                "order.never": float(
                    (~np.isfinite(self.arrivals(m, ORDER_MULTI, ORDER_P))).sum(-1).mean()
                ),
            }
        )
        out.update({f"decay.{k}": v for k, v in self.decay_numbers().items()})
        if (m, ORDER_MULTI, ORDER_P) in self.cells:  # the same ratio from the released start
            ratio, never = self.fanout_ratios(m, ORDER_MULTI, ORDER_P)
            out["decay.released_median"] = (
                float(np.median(ratio[never])) if never.any() else math.nan
            )
            out["decay.released_start"] = float(
                np.median(self.cell(m, ORDER_MULTI, ORDER_P).fanout[0])
            )
        out["paper_hours"] = get_experiment(self.EXPERIMENT).plan(scale="paper").seconds / 3600
        return out

    # ------------------------------------------------------------------ text and JSON

    def numbers(
        self,
        m: int | None = None,
        multi: int | None = None,
        p: float | None = None,
        step: int | None = None,
    ) -> str:
        """Key numbers of one cell (default: :meth:`default_m`, the largest multi and the largest
        p) at ``step``."""
        s = self.settings
        m = self.default_m() if m is None else m
        multi = max(s.multis) if multi is None else multi
        p = max(s.ps) if p is None else p
        t = self.snapshot_index(step)
        cell = self.cell(m, multi, p)
        return snapshot_numbers(
            f"m={m}, multi={multi}, p={p:g}, step {int(self.steps[t])}",
            cell.teacher_best[t],
            cell.student_best[t],
            cell.fanout[t],
            released_loss(cell.eval_loss[t], s.c),
            s.tau,
        )

    def summary(self) -> str:
        """One line per cell: mean teachers covered early and at the end, final eval loss."""
        s = self.settings
        lines = [
            f"two-layer sweep (E4): d={s.d}, c={s.c}, {s.steps} SGD steps",
            f"{len(self.cells)} cells in {len(self.group_time_s)} batched programs, {self.made()}",
            f"{'m':>3} {'multi':>5} {'p':>4} {'covered early':>14} {'covered final':>14} "
            f"{'log10 loss':>10}",
        ]
        t_early = int(self.steps[self.early_index])
        for m, multi, p in s.cells:
            early = self.covered(m, multi, p, t_early).mean()
            final = self.covered(m, multi, p).mean()
            loss = released_loss(self.cell(m, multi, p).eval_loss[-1], s.c)
            log_loss = float(np.log10(np.maximum(loss, 1e-300)).mean())
            lines.append(
                f"{m:>3} {multi:>5} {p:>4g} {early:>11.2f}/{m:<2} {final:>11.2f}/{m:<2} "
                f"{log_loss:>10.2f}"
            )
        lines.append(
            f"(early = step {t_early}; covered = best correlation > {s.tau} on the eval set, mean "
            "over seeds; log10 loss = mean over seeds of log10 of the eval loss, the mean of "
            "(y_t - y_s)^2 over samples and outputs, as released)"
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, timing, and per cell the per-seed final and early numbers."""
        t_early = self.early_index
        cells = []
        for (m, multi, p), cell in self.cells.items():
            cells.append(
                {
                    "m": m,
                    "multi": multi,
                    "p": p,
                    "success_rate_early": self.success_rate(m, multi, p, "early").tolist(),
                    "success_rate_final": self.success_rate(m, multi, p).tolist(),
                    "seeds": [
                        {
                            "seed": seed,
                            "teacher_best_corr": cell.teacher_best[-1, i].tolist(),
                            "teacher_best_corr_early": cell.teacher_best[t_early, i].tolist(),
                            "student_best_corr": cell.student_best[-1, i].tolist(),
                            "student_fanout": cell.fanout[-1, i].tolist(),
                            "covered": int((cell.teacher_best[-1, i] > self.settings.tau).sum()),
                            "eval_loss": float(cell.eval_loss[-1, i]),
                            "eval_loss_history": cell.eval_loss[:, i].tolist(),
                        }
                        for i, seed in enumerate(self.seeds)
                    ],
                }
            )
        return {
            **self.json_header(),
            "group_time_s": {
                f"m={m},multi={multi}": t for (m, multi), t in self.group_time_s.items()
            },
            "early_step": int(self.steps[t_early]),
            "loss_convention": "eval_loss = 1/2 * sum over outputs, mean over samples; "
            "the released code's loss is eval_loss * 2 / c",
            "cells": cells,
        }


def _pooled_l_shape_ratio(items: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Claim (iii)'s statistic on per-seed ``(best correlation, fan-out)`` arrays: the L-shape
    ratio (:func:`~luckbook.metrics.l_shape_ratio`), nodes pooled over the seeds listed."""
    return metrics.l_shape_ratio(
        np.concatenate([i[0] for i in items]), np.concatenate([i[1] for i in items])
    )
