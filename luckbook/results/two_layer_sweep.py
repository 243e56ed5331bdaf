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

from .. import metrics
from ..claims import Stat, bootstrap, seed_mean
from ..config import check_choice, check_float, check_int
from ..result import Result
from .two_layer import released_loss, snapshot_numbers

if TYPE_CHECKING:
    from ..experiments.two_layer_sweep import TwoLayerSweepSettings

Cell = tuple[int, int, float]
"""``(m, multi, p)``."""
INIT_SCALES = (0.005, 0.05, 0.2)
"""The student initial scales the chapter compares (:meth:`TwoLayerSweepResult.init_scale_runs`;
0.005 is the released one)."""


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
        """The three registered claims on the ``claim_m`` cells: (i) ``E4.strong-first`` and
        (ii) ``E4.more-covers-more`` on this sweep, (iii) ``E4.l-shape`` on
        :meth:`l_shape_run`. ``control="frozen"`` reads every snapshot as step 0."""
        frozen = control == "frozen"
        s = self.settings
        m, q = s.claim_m, max(1, s.claim_m // 4)
        out: dict[str, Stat] = {}
        nan = Stat(math.nan, math.nan, math.nan, len(self.seeds), "cells missing from this sweep")
        # (i) early snapshot, p = 2, mean over multis of (strongest − weakest quarter), per seed
        t_early = 0 if frozen else self.early_index
        if m in s.ms and 2.0 in s.ps:
            gaps = []
            for multi in s.multis:
                hit = self.cell(m, multi, 2.0).teacher_best[t_early] > s.tau
                gaps.append(hit[:, :q].mean(1) - hit[:, -q:].mean(1))
            out["E4.strong-first"] = seed_mean(
                np.mean(gaps, axis=0),
                detail=f"m = {m}, p = 2, step {int(self.steps[t_early])}, strongest {q} minus "
                f"weakest {q} teachers, mean over multi {list(s.multis)}",
            )
        else:
            out["E4.strong-first"] = nan
        # (ii) end of training, p = 1: mean covered at multi ≥ 5 minus multi = 1, per seed
        t_end = 0 if frozen else len(self.steps) - 1
        wide = [k for k in s.multis if k >= 5]
        if m in s.ms and 1.0 in s.ps and 1 in s.multis and wide:
            cov = {k: (self.cell(m, k, 1.0).teacher_best[t_end] > s.tau).sum(-1) for k in s.multis}
            per_seed = np.mean([cov[k] for k in wide], axis=0) - cov[1]
            out["E4.more-covers-more"] = seed_mean(
                per_seed,
                detail=f"m = {m}, p = 1, step {int(self.steps[t_end])}; mean covered "
                + ", ".join(f"multi {k}: {cov[k].mean():.2f}" for k in s.multis),
            )
        else:
            out["E4.more-covers-more"] = nan
        # (iii) the L-shape run's final snapshot, training-set correlations, all multi and p
        if m in s.ms:
            run = self.l_shape_run()
            step = 0 if frozen else None
            items = []
            for i in range(len(run.seeds)):
                c, f = [], []
                for multi in run.settings.multis:
                    for p in run.settings.ps:
                        corr, fan = run._l_shape_arrays(m, multi, p, step)
                        c.append(corr[i])
                        f.append(fan[i])
                items.append((np.concatenate(c), np.concatenate(f)))
            lo, hi, n_lo, n_hi = run.l_shape_medians(m, step=step)
            out["E4.l-shape"] = bootstrap(
                items,
                _pooled_l_shape_ratio,
                detail=f"{run.l_shape_set(step)}-set correlations at step "
                f"{int(run.steps[run.snapshot_index(step)])} of the {run.settings.steps}-step "
                f"run: median fan-out {lo:.3g} over {n_lo} nodes below 0.6, {hi:.3g} over "
                f"{n_hi} above 0.95",
            )
        else:
            out["E4.l-shape"] = nan
        return out

    # ------------------------------------------------------------------ the chapter's numbers

    def chapter_numbers(self, m: int | None = None) -> dict[str, float]:
        """Every descriptive number the sweep chapter's prose states (glued as
        ``sweep.<name>``) for teacher width ``m`` (default ``settings.claim_m``): success rates
        and coverage per multi, log₁₀ losses (released convention), the L-shape's medians on
        :meth:`l_shape_run` and the descriptive ratios beside claim (iii), the fraction covered
        at p = 2 for every width, and the estimated hours of the released sweep. Not claims."""
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
            f"{'eval loss':>10}",
        ]
        t_early = int(self.steps[self.early_index])
        for m, multi, p in s.cells:
            early = self.covered(m, multi, p, t_early).mean()
            final = self.covered(m, multi, p).mean()
            loss = released_loss(self.cell(m, multi, p).eval_loss[-1].mean(), s.c)
            lines.append(
                f"{m:>3} {multi:>5} {p:>4g} {early:>11.2f}/{m:<2} {final:>11.2f}/{m:<2} "
                f"{loss:>10.2e}"
            )
        lines.append(
            f"(early = step {t_early}; covered = best correlation > {s.tau} on the eval set, mean "
            "over seeds; eval loss = mean of (y_t - y_s)^2 over samples and outputs, as released)"
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
