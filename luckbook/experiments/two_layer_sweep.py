"""E4 — the released two-layer sweep: width multiplier × teacher width × strength decay × seeds.

Every cell ``(m, multi, p)`` is the setting of :mod:`~luckbook.experiments.two_layer`. Cells
with the same ``(m, multi)`` have networks of the same shape and differ only in the teacher's
values (``p``), so they run as *one* batched program: the teachers of every ``p`` are stacked
along the ensemble's seed axis (``P·S`` networks), and so are the students, the training sets
and the eval sets. Seed ``s`` of a cell gets exactly the numbers that
``lb.run("two-layer", p=p, seeds=[s])`` would give (same teacher, student, data and minibatch
streams), because every random draw depends on the seed alone.

Per cell and snapshot we keep what the chapter's three figures and the claims need: each
teacher node's best correlation over students, each student node's best correlation and
fan-out norm (the L-shape), and the eval loss. The train loss is not evaluated (it would
double the evaluation cost and no figure uses it).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from .. import costs
from ..claims import ClaimReport, Stat, bootstrap, seed_mean
from ..config import check_choice, check_float, check_int
from ..data import FixedSet
from ..ensemble import Net
from ..evaluate import Probe
from ..metrics import best_per_student, best_per_teacher
from ..result import Result
from ..train import DivergenceError, snapshot_steps, train
from .base import Experiment, register
from .two_layer import (
    E4Common,
    TwoLayerSettings,
    check_samples,
    make_inputs,
    make_nets,
    released_loss,
    snapshot_numbers,
)

Cell = tuple[int, int, float]
"""``(m, multi, p)``."""


@dataclasses.dataclass(frozen=True)
class TwoLayerSweepSettings(E4Common):
    """Settings of the E4 sweep; the defaults are the released sweep's (``paper`` scale)."""

    ms: tuple[int, ...] = (5, 10, 20)  # teacher hidden widths m
    multis: tuple[int, ...] = (1, 2, 5, 10)  # width multipliers (student width n = multi·m)
    ps: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5)  # teacher strength decays p
    n_train: int = 10_000  # training-set size
    early: float = 0.05  # "early" success rate: at the snapshot nearest this fraction of steps
    tau: float = 0.95  # a teacher node counts as covered when its best correlation exceeds tau
    claim_m: int = 10  # the teacher width the claims and the L-shape use (released figure: 10)
    lshape_steps: int = 100_000  # steps of the L-shape run (the sweep itself when equal to steps)

    def validate(self) -> None:
        for name, values, kind in (
            ("ms", self.ms, int),
            ("multis", self.multis, int),
            ("ps", self.ps, float),
        ):
            if not isinstance(values, tuple) or not values:
                raise ValueError(f"{name}={values!r} is not allowed: expected a non-empty tuple")
            if len(set(values)) != len(values):
                raise ValueError(f"{name}={values!r} is not allowed: expected distinct values")
            for v in values:
                if kind is int:
                    check_int(name, v, minimum=1)
                else:
                    check_float(name, v, low=0.0)
        check_int("n_train", self.n_train, minimum=1)
        check_samples("n_train", self.n_train)
        check_int("claim_m", self.claim_m, minimum=1)
        check_int("lshape_steps", self.lshape_steps, minimum=1)
        check_float("early", self.early, low=0.0, high=1.0, low_open=True)
        check_float("tau", self.tau, low=0.0, high=1.0, low_open=True, high_open=True)
        self.validate_common()

    @property
    def cells(self) -> list[Cell]:
        """Every ``(m, multi, p)`` of the sweep."""
        return [(m, multi, float(p)) for m in self.ms for multi in self.multis for p in self.ps]

    def cell_settings(self, m: int, multi: int, p: float) -> TwoLayerSettings:
        """The :class:`TwoLayerSettings` of one cell (``lb.run("two-layer", **that)`` is the same run)."""
        return TwoLayerSettings(
            **self.common(), m=m, multi=multi, p=float(p), n_train=self.n_train, taus=(self.tau,)
        )


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # About a minute on a quiet 2-core CPU: m = 5 and 10 (the claims and the L-shape use
    # m = 10), p ∈ {0, 1, 2}, 10 000 steps (10 released "epochs"), a 5 000-sample eval set,
    # 8 seeds; a snapshot every 500 steps, so "early" (5 %) is step 500.
    # The L-shape run (claim (iii)): the m = 10 cells again, 40 000 steps.
    "book": {
        "ms": (5, 10),
        "ps": (0.0, 1.0, 2.0),
        "steps": 10_000,
        "n_eval": 5_000,
        "n_snapshots": 20,
        "lshape_steps": 40_000,
    },
    "tiny": {
        "ms": (5,),
        "multis": (1, 5),
        "ps": (0.0, 1.0, 2.0),
        "d": 20,
        "c": 10,
        "steps": 4_000,
        "n_train": 1_000,
        "n_eval": 1_000,
        "n_snapshots": 20,
        "claim_m": 5,
        "lshape_steps": 4_000,
    },
}
SEEDS = {"paper": 32, "book": 8, "tiny": 8}


@dataclasses.dataclass
class SweepCell:
    """One cell's per-seed arrays (``T`` snapshots, ``S`` seeds, ``m`` teacher, ``n`` student nodes).

    Attributes:
        teacher_best: ``[T, S, m]`` best correlation of each teacher node over student nodes.
        student_best: ``[T, S, n]`` best correlation of each student node over teacher nodes.
        student_match: ``[T, S, n]`` index of that teacher node.
        fanout: ``[T, S, n]`` fan-out norm of each student node.
        eval_loss: ``[T, S]`` square loss on the eval set (``½·Σ_outputs``; see
            :func:`~luckbook.experiments.two_layer.released_loss`).
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
class TwoLayerSweepResult(Result[TwoLayerSweepSettings]):
    """The whole sweep: ``cells[(m, multi, p)]`` is a :class:`SweepCell`.

    Attributes:
        settings, seeds, device: how it was made.
        wall_time_s: seconds for everything; group_time_s: per ``(m, multi)`` program.
        steps: ``[T]`` snapshot steps (the same for every cell).
        early_index: the snapshot nearest ``settings.early · steps``.
    """

    EXPERIMENT: ClassVar[str] = "two-layer-sweep"

    group_time_s: dict[tuple[int, int], float]
    steps: np.ndarray
    cells: dict[Cell, SweepCell]
    _lshape: TwoLayerSweepResult | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def early_index(self) -> int:
        return int(np.abs(self.steps - self.settings.early * self.settings.steps).argmin())

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
        """``[S]`` number of teacher nodes covered at ``tau`` at snapshot ``step`` (default: last)."""
        t = self.snapshot_index(step)
        return (self.cell(m, multi, p).teacher_best[t] > self._tau(tau)).sum(-1)

    def success_rate(
        self, m: int, multi: int, p: float, when: str = "final", tau: float | None = None
    ) -> np.ndarray:
        """``[m]`` fraction of seeds where teacher node ``i`` is covered, ``when`` = "early" or "final"."""
        check_choice("when", when, ("early", "final"))
        t = self.early_index if when == "early" else len(self.steps) - 1
        return (self.cell(m, multi, p).teacher_best[t] > self._tau(tau)).mean(0)

    def first_covered(self, m: int, multi: int, p: float, tau: float | None = None) -> np.ndarray:
        """``[S, m]`` the first snapshot step at which teacher node ``i`` is covered (best
        eval-set correlation above ``tau``) in each seed; ``-1`` where it never is."""
        hit = self.cell(m, multi, p).teacher_best > self._tau(tau)  # [T, S, m]
        first = hit.argmax(0)
        return np.where(hit.any(0), np.asarray(self.steps)[first], -1)

    def init_scale_runs(
        self, scales: Sequence[float], m: int = 10, multi: int = 5, p: float = 1.0
    ) -> dict[float, TwoLayerSweepResult]:
        """This sweep's settings and seeds for one cell ``(m, multi, p)`` at each student
        initial scale in ``scales`` (cached runs; this sweep itself at its own scale)."""
        from .base import get_experiment

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
        """Claim (ii): per multi, the mean over seeds of the number of teachers covered at the end."""
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
        c, f = np.concatenate(corr), np.concatenate(fan)
        lo, hi = f[c < low], f[c > high]
        return _median(lo), _median(hi), int(len(lo)), int(len(hi))

    def l_shape_ratios(self, m: int, wide_from: int = 5) -> dict[str, float]:
        """Descriptive numbers beside claim (iii) (not claims): the ratio of medians of
        :meth:`l_shape_medians` at the end over each half of the seeds (``first half``,
        ``second half``; absent for one seed) and for the narrow (multi < ``wide_from``) and
        over-realized (multi ≥ ``wide_from``) students. ``nan`` for an empty group."""
        check_int("wide_from", wide_from, minimum=1)
        out = {}
        for name, group in zip(("first half", "second half"), self.seed_halves(), strict=False):
            out[name] = _ratio(*self.l_shape_medians(m, seeds=group))
        for name, group in (
            ("narrow", [k for k in self.settings.multis if k < wide_from]),
            ("over-realized", [k for k in self.settings.multis if k >= wide_from]),
        ):
            out[name] = _ratio(*self.l_shape_medians(m, multis=group)) if group else math.nan
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
            from .base import get_experiment

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
            per_seed = np.mean(
                [
                    (lambda hit: hit[:, :q].mean(1) - hit[:, -q:].mean(1))(
                        self.cell(m, multi, 2.0).teacher_best[t_early] > s.tau
                    )
                    for multi in s.multis
                ],
                axis=0,
            )
            out["E4.strong-first"] = seed_mean(
                per_seed,
                detail=f"m = {m}, p = 2, step {int(self.steps[t_early])}, strongest {q} minus weakest "
                f"{q} teachers, mean over multi {list(s.multis)}",
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
                _pooled_ratio,
                detail=f"{run.l_shape_set(step)}-set correlations at step "
                f"{int(run.steps[run.snapshot_index(step)])} of the {run.settings.steps}-step run: "
                f"median fan-out {lo:.3g} over {n_lo} nodes below 0.6, {hi:.3g} over {n_hi} above 0.95",
            )
        else:
            out["E4.l-shape"] = nan
        return out

    # ------------------------------------------------------------------ text and JSON

    def numbers(
        self,
        m: int | None = None,
        multi: int | None = None,
        p: float | None = None,
        step: int | None = None,
    ) -> str:
        """Key numbers of one cell (default: the largest m and multi, the largest p) at ``step``."""
        s = self.settings
        m = max(s.ms) if m is None else m
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
            f"two-layer sweep (E4): d={s.d}, c={s.c}, {s.steps} SGD steps, {len(self.seeds)} seeds",
            f"{len(self.cells)} cells in {len(self.group_time_s)} batched programs on {self.device}, "
            f"{self.wall_time_s:.1f} s",
            f"{'m':>3} {'multi':>5} {'p':>4} {'covered early':>14} {'covered final':>14} {'eval loss':>10}",
        ]
        t_early = int(self.steps[self.early_index])
        for m, multi, p in s.cells:
            early = self.covered(m, multi, p, t_early).mean()
            final = self.covered(m, multi, p).mean()
            loss = released_loss(self.cell(m, multi, p).eval_loss[-1].mean(), s.c)
            lines.append(
                f"{m:>3} {multi:>5} {p:>4g} {early:>11.2f}/{m:<2} {final:>11.2f}/{m:<2} {loss:>10.2e}"
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
            "experiment": "two-layer-sweep",
            "settings": dataclasses.asdict(self.settings),
            "device": self.device,
            "wall_time_s": self.wall_time_s,
            "group_time_s": {
                f"m={m},multi={multi}": t for (m, multi), t in self.group_time_s.items()
            },
            "steps": self.steps.tolist(),
            "early_step": int(self.steps[t_early]),
            "loss_convention": "eval_loss = 1/2 * sum over outputs, mean over samples; "
            "the released code's loss is eval_loss * 2 / c",
            "cells": cells,
        }


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else math.nan


def _ratio(lo: float, hi: float, n_lo: int, n_hi: int) -> float:
    """Ratio of medians ``lo / hi``; ``nan`` when either group is empty."""
    return lo / hi if n_lo and n_hi and hi > 0 else math.nan


def _pooled_ratio(items: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Claim (iii)'s statistic on per-seed ``(best correlation, fan-out)`` arrays: the median
    fan-out of nodes below 0.6 over that of nodes above 0.95, pooled over the seeds listed."""
    c = np.concatenate([i[0] for i in items])
    f = np.concatenate([i[1] for i in items])
    lo, hi = f[c < 0.6], f[c > 0.95]
    return _ratio(_median(lo), _median(hi), len(lo), len(hi))


# ---------------------------------------------------------------------- batching helpers


def sweep_data(
    settings: TwoLayerSweepSettings, seeds: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and eval inputs ``[S, N, d]`` (float64, CPU) of :func:`two_layer.make_inputs`;
    they depend on the seed only (not on ``m``, ``multi``, ``p``), so one draw serves every
    cell of the sweep."""
    return make_inputs(settings.cell_settings(*settings.cells[0]), seeds)


def build_group(
    settings: TwoLayerSweepSettings,
    m: int,
    multi: int,
    seeds: Sequence[int],
    device: torch.device,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[Net, Net, FixedSet, Probe]:
    """Teacher, student, training set and eval probe of every ``p`` at ``(m, multi)``, stacked
    along the seed axis ``p``-major: position ``i·S + s`` is ``(ps[i], seeds[s])``.

    Each ``p``'s teacher and student are :func:`two_layer.make_nets` of that cell's settings
    (the tests check that a cell's seed gives the single run's numbers); the inputs ``data``
    (from :func:`sweep_data`) are drawn once for the whole sweep.
    """
    nets = [make_nets(settings.cell_settings(m, multi, p), seeds, device) for p in settings.ps]
    teacher = Net.stack([t for t, _ in nets])
    student = Net.stack([s for _, s in nets])
    x_train, x_eval = sweep_data(settings, seeds) if data is None else data
    n_p = len(settings.ps)
    x = x_train.to(device, teacher.dtype).repeat(n_p, 1, 1)
    return teacher, student, FixedSet(x, teacher(x)), Probe(teacher, x_eval.repeat(n_p, 1, 1))


def compute(
    settings: TwoLayerSweepSettings, seeds: list[int], device: torch.device, progress: bool = False
) -> TwoLayerSweepResult:
    """Run every cell; one batched training program per ``(m, multi)``."""
    start = time.perf_counter()
    n_seeds, n_p = len(seeds), len(settings.ps)
    snaps = snapshot_steps(settings.steps, settings.n_snapshots, settings.spacing)
    cells: dict[Cell, SweepCell] = {}
    group_time: dict[tuple[int, int], float] = {}
    steps_taken: list[int] = []
    data = sweep_data(settings, seeds)
    for m in settings.ms:
        for multi in settings.multis:
            t0 = time.perf_counter()
            teacher, student, train_set, probe = build_group(
                settings, m, multi, seeds, device, data
            )
            train_probe = Probe(teacher, train_set.x1[..., :-1])
            train_best: dict[int, torch.Tensor] = {}  # step 0 and the end

            def on_snapshot(
                step: int,
                net: Net,
                probe: Probe = probe,
                train_probe: Probe = train_probe,
                train_best: dict[int, torch.Tensor] = train_best,
            ) -> dict[str, torch.Tensor]:
                if step in (0, settings.steps):
                    corr = train_probe.evaluate(net)["corr"][0]
                    train_best[step] = best_per_student(corr)[0].float().cpu()
                ev = probe.evaluate(net)
                corr = ev["corr"][0]
                best_s, match_s = best_per_student(corr)
                rec = {
                    "teacher_best": best_per_teacher(corr).float(),
                    "student_best": best_s.float(),
                    "student_match": match_s.to(torch.int16),
                    "fanout": ev["fanout"][0].float(),
                    "eval_loss": ev["loss"],
                }
                return {k: v.detach().cpu() for k, v in rec.items()}

            try:
                traj = train(
                    student,
                    train_set,
                    list(seeds) * n_p,
                    lr=settings.lr,
                    steps=settings.steps,
                    batch=settings.batch,
                    method="sgd",
                    snapshots=snaps,
                    on_snapshot=on_snapshot,
                    progress=progress,
                )
            except DivergenceError as err:
                err.args = (
                    f"{err} (sweep program m={m}, multi={multi}, which trains p in {list(settings.ps)})",
                )
                raise
            steps_taken = traj.steps
            stack = {k: torch.stack([r[k] for r in traj.records]).numpy() for k in traj.records[0]}
            tb = torch.stack([train_best[0], train_best[settings.steps]]).numpy()
            for i, p in enumerate(settings.ps):
                sl = slice(i * n_seeds, (i + 1) * n_seeds)
                cells[(m, multi, float(p))] = SweepCell(
                    **{k: v[:, sl].copy() for k, v in stack.items()}, train_best=tb[:, sl].copy()
                )
            group_time[(m, multi)] = time.perf_counter() - t0
            del teacher, student, train_set, probe, train_probe
    return TwoLayerSweepResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=time.perf_counter() - start,
        group_time_s=group_time,
        steps=np.asarray(steps_taken),
        cells=cells,
    )


def claims_report(
    experiment: Experiment,
    *,
    scale: str,
    seeds: Any,
    device: Any = None,
    control: str | None = None,
    progress: bool = False,
    cache: bool = True,
    **overrides: Any,
) -> ClaimReport:
    """``lb.claims("two-layer-sweep")``: the sweep and its L-shape run (the runs the chapter
    uses, both cached), then the sweep's ``claims()``."""
    result = experiment.run(
        scale=scale, seeds=seeds, device=device, progress=progress, cache=cache, **overrides
    )
    result.l_shape_run(progress=progress, cache=cache)
    return result.claims(control=control)


TWO_LAYER_SWEEP = register(
    Experiment(
        result_cls=TwoLayerSweepResult,
        name="two-layer-sweep",
        key="E4",
        summary="the released two-layer sweep: multi × m × p over seeds, one batched program per shape",
        settings_cls=TwoLayerSweepSettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=costs.two_layer_sweep,
        report=claims_report,
    )
)
