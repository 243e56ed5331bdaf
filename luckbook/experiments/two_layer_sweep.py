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
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..config import check_choice, check_float, check_int
from ..data import FixedSet
from ..ensemble import Net
from ..evaluate import Probe
from ..metrics import best_per_student, best_per_teacher
from ..train import DivergenceError, snapshot_steps, train
from .base import Estimate, Experiment, Snapshots, register, verdict
from .two_layer import (
    RANDN_S,
    E4Common,
    TwoLayerSettings,
    make_inputs,
    make_nets,
    snapshot_numbers,
    two_layer_cost,
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
    "book": {
        "ms": (5, 10),
        "ps": (0.0, 1.0, 2.0),
        "steps": 10_000,
        "n_eval": 5_000,
        "n_snapshots": 20,
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
        eval_loss: ``[T, S]`` square loss on the eval set.
    """

    teacher_best: np.ndarray
    student_best: np.ndarray
    student_match: np.ndarray
    fanout: np.ndarray
    eval_loss: np.ndarray


@dataclasses.dataclass
class TwoLayerSweepResult(Snapshots):
    """The whole sweep: ``cells[(m, multi, p)]`` is a :class:`SweepCell`.

    Attributes:
        settings, seeds, device: how it was made.
        wall_time_s: seconds for everything; group_time_s: per ``(m, multi)`` program.
        steps: ``[T]`` snapshot steps (the same for every cell).
        early_index: the snapshot nearest ``settings.early · steps``.
    """

    settings: TwoLayerSweepSettings
    seeds: list[int]
    device: str
    wall_time_s: float
    group_time_s: dict[tuple[int, int], float]
    steps: np.ndarray
    cells: dict[Cell, SweepCell]

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

    def l_shape(
        self, m: int, multi: int, p: float, step: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best correlation and fan-out norm of every student node of every seed, flattened."""
        t = self.snapshot_index(step)
        cell = self.cell(m, multi, p)
        return cell.student_best[t].ravel(), cell.fanout[t].ravel()

    # ------------------------------------------------------------------ the three claims

    def strong_first(self, m: int, p: float = 2.0) -> dict[int, float]:
        """Claim (i): per multi, success rate (final) of the strongest quarter of teachers minus
        that of the weakest quarter (``max(1, m // 4)`` teachers each)."""
        q = max(1, m // 4)
        out = {}
        for multi in self.settings.multis:
            rate = self.success_rate(m, multi, p)
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
        seeds in ``seeds`` (each default: all of the sweep's), with their counts."""
        ps = self.settings.ps if ps is None else ps
        if multis is None:
            multis = self.settings.multis
        elif isinstance(multis, (str, bytes)) or not isinstance(multis, Sequence) or not multis:
            raise ValueError(
                f"multis={multis!r} is not allowed: expected a non-empty list from "
                f"{list(self.settings.multis)}"
            )
        rows = self.seed_rows(seeds)
        t = self.snapshot_index(step)
        corr, fan = [], []
        for multi in multis:
            for p in ps:
                cell = self.cell(m, multi, p)
                corr.append(cell.student_best[t][rows].ravel())
                fan.append(cell.fanout[t][rows].ravel())
        c, f = np.concatenate(corr), np.concatenate(fan)
        lo, hi = f[c < low], f[c > high]
        med = lambda v: float(np.median(v)) if len(v) else float("nan")  # noqa: E731
        return med(lo), med(hi), int(len(lo)), int(len(hi))

    def l_shape_check(
        self, m: int, wide_from: int = 5, quarter: float = 0.25
    ) -> tuple[str, dict[str, float]]:
        """Claim (iii) in full: the ratio of medians (:meth:`l_shape_medians`) pooled over
        everything, over each half of the seeds, for the narrow (multi < ``wide_from``) and the
        over-realized (multi ≥ ``wide_from``) students, and over training.

        Returns printable lines (each ratio with its :func:`~.base.verdict` against
        ``quarter``) and the ratios by name: ``pooled``; ``first half`` / ``second half`` of
        the seeds (absent for one seed); ``narrow`` and ``over-realized``; and, for the pooled
        and the over-realized students, the ratio at the snapshots nearest 10 % and 50 % of
        training and at the end (``tenth`` / ``mid`` / ``end`` and ``over-realized tenth`` …).
        A ratio is ``nan`` when its group has no node below 0.6 or none above 0.95.
        """
        check_int("wide_from", wide_from, minimum=1)
        check_float("quarter", quarter, low=0.0, low_open=True)

        def quotient(lo: float, hi: float, n_lo: int, n_hi: int) -> float:
            return lo / hi if n_lo and n_hi and hi > 0 else float("nan")

        def ratio(**kw: Any) -> tuple[float, int, int]:
            lo, hi, n_lo, n_hi = self.l_shape_medians(m, **kw)
            return quotient(lo, hi, n_lo, n_hi), n_lo, n_hi

        lo, hi, n_lo, n_hi = self.l_shape_medians(m)
        pooled = quotient(lo, hi, n_lo, n_hi)
        end = int(self.steps[-1])
        out = {"pooled": pooled}
        lines = [
            f"(iii) step {end}: median fan-out {lo:.3f} over {n_lo} nodes with corr < 0.6, "
            f"{hi:.3f} over {n_hi} nodes with corr > 0.95",
            f"    ratio {pooled:.3f} (claim: < {quarter:g}): {verdict(pooled, quarter)}",
        ]
        halves = self.seed_halves()
        if not halves:
            lines.append("    (one seed: no halves to compare)")
        for name, group in zip(("first half", "second half"), halves, strict=False):
            r, n, _ = ratio(seeds=group)
            out[name] = r
            lines.append(
                f"    seeds {group}: ratio {r:.3f} ({n} nodes below 0.6): {verdict(r, quarter)}"
            )
        multis = self.settings.multis
        groups = {
            "narrow": [k for k in multis if k < wide_from],
            "over-realized": [k for k in multis if k >= wide_from],
        }
        for name, group in groups.items():
            r, n, _ = ratio(multis=group) if group else (float("nan"), 0, 0)
            out[name] = r
            lines.append(
                f"    {name} students (multi {', '.join(map(str, group)) or '-'}): "
                f"ratio {r:.3f} ({n} nodes below 0.6): {verdict(r, quarter)}"
            )
        last = len(self.steps) - 1
        marks = {
            "tenth": int(self.steps[max(1, round(0.1 * last))]),
            "mid": int(self.steps[max(1, round(0.5 * last))]),
            "end": end,
        }
        for prefix, kw in (("", {}), ("over-realized ", {"multis": groups["over-realized"]})):
            if kw and not groups["over-realized"]:
                continue
            for name, step in marks.items():
                out[prefix + name] = ratio(step=step, **kw)[0]
            lines.append(
                f"    {prefix or 'pooled '}ratio at steps "
                + ", ".join(f"{step}: {out[prefix + name]:.3f}" for name, step in marks.items())
            )
        return "\n".join(lines), out

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
            cell.eval_loss[t],
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
            loss = self.cell(m, multi, p).eval_loss[-1].mean()
            lines.append(
                f"{m:>3} {multi:>5} {p:>4g} {early:>11.2f}/{m:<2} {final:>11.2f}/{m:<2} {loss:>10.2e}"
            )
        lines.append(
            f"(early = step {t_early}; covered = best correlation > {s.tau}, mean over seeds)"
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
            "cells": cells,
        }


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
    teacher = Net.concat([t for t, _ in nets])
    student = Net.concat([s for _, s in nets])
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

            def on_snapshot(step: int, net: Net, probe: Probe = probe) -> dict[str, torch.Tensor]:
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
            for i, p in enumerate(settings.ps):
                sl = slice(i * n_seeds, (i + 1) * n_seeds)
                cells[(m, multi, float(p))] = SweepCell(
                    **{k: v[:, sl].copy() for k, v in stack.items()}
                )
            group_time[(m, multi)] = time.perf_counter() - t0
            del teacher, student, train_set, probe
    return TwoLayerSweepResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=time.perf_counter() - start,
        group_time_s=group_time,
        steps=np.asarray(steps_taken),
        cells=cells,
    )


def estimate(settings: TwoLayerSweepSettings, n_seeds: int, device: torch.device) -> Estimate:
    """Sum of the per-program costs of :func:`two_layer_cost` (programs run one after another),
    plus drawing the inputs once; memory: the largest program plus the stored results."""
    seconds, peak, results = 0.0, 0, 0
    n_p = len(settings.ps)
    for m in settings.ms:
        for multi in settings.multis:
            cell = settings.cell_settings(m, multi, settings.ps[0])
            cost = two_layer_cost(cell, n_seeds * n_p, device, train_loss=False, draw_data=False)
            seconds += cost.seconds
            peak = max(peak, cost.bytes)
            t = settings.n_snapshots + 1
            results += n_p * n_seeds * t * (m * 4 + multi * m * 10 + 8)
    seconds += n_seeds * (settings.n_train + settings.n_eval) * settings.d * RANDN_S
    n_programs = len(settings.ms) * len(settings.multis)
    return Estimate(
        seconds,
        peak + results,
        f"{n_programs} batched programs of {n_p * n_seeds} networks; last program: {cost.basis}",
    )


TWO_LAYER_SWEEP = register(
    Experiment(
        name="two-layer-sweep",
        key="E4",
        summary="the released two-layer sweep: multi × m × p over seeds, one batched program per shape",
        settings_cls=TwoLayerSweepSettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=estimate,
    )
)
