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
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .. import costs
from ..batched_sgd import train_blocked
from ..claims import ClaimReport
from ..config import check_choice, check_float, check_int
from ..data import CHUNK_VALUES, FixedSet
from ..ensemble import Net
from ..evaluate import Probe
from ..metrics import best_per_student, best_per_teacher
from ..results.two_layer_sweep import (
    DECAY_INIT_SCALE,
    ORDER_MULTI,
    ORDER_P,
    Cell,
    SweepCell,
    TwoLayerSweepResult,
)
from ..rng import generator
from ..train import DivergenceError, Trajectory, snapshot_steps, train
from .base import Experiment, RunControl, register
from .two_layer import (
    CONTROL_DESCRIPTIONS,
    CONTROL_RUNS,
    E4Common,
    TwoLayerSettings,
    check_samples,
    make_inputs,
    make_nets,
    training_targets,
)


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
    control: str = "none"  # "none", or a run control: "different-teacher", "shuffled-labels"

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
        check_choice("control", self.control, CONTROL_RUNS)
        self.validate_common()

    @property
    def cells(self) -> list[Cell]:
        """Every ``(m, multi, p)`` of the sweep."""
        return [(m, multi, float(p)) for m in self.ms for multi in self.multis for p in self.ps]

    def cell_settings(self, m: int, multi: int, p: float) -> TwoLayerSettings:
        """The :class:`TwoLayerSettings` of one cell (``lb.run("two-layer", **that)`` is the
        same run)."""
        return TwoLayerSettings(
            **self.common(),
            m=m,
            multi=multi,
            p=float(p),
            n_train=self.n_train,
            taus=(self.tau,),
            control=self.control,
        )


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # About a minute on a quiet 2-core CPU: m = 5 and 10 (the claims use m = 10),
    # p ∈ {0, 1, 2}, 10 000 steps (10 released "epochs"), a 2 500-sample eval set, 8 seeds;
    # 43 snapshots spaced geometrically from step 1 (arrival times), "early" (5 %) is the
    # snapshot nearest step 500. The L-shape is read from the sweep's own end.
    "book": {
        "ms": (5, 10),
        "ps": (0.0, 1.0, 2.0),
        "steps": 10_000,
        "n_eval": 2_500,
        "n_snapshots": 45,
        "spacing": "log",
        "lshape_steps": 10_000,
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
        "n_snapshots": 30,
        "spacing": "log",
        "claim_m": 5,
        "lshape_steps": 4_000,
    },
}
SEEDS = {"paper": 32, "book": 8, "tiny": 8}


# ---------------------------------------------------------------------- batching helpers


class StackedSet(FixedSet):
    """A :class:`~luckbook.data.FixedSet` whose seed axis repeats the same seeds (one copy per
    ``p``): the minibatch indices are drawn once per distinct seed and shared by its copies.

    The indices equal :meth:`FixedSet.batches`' (each copy would redraw the same stream from
    the seed's generator), so the training is unchanged; the random draw, which at 192
    networks of the smallest shapes cost as much as the SGD steps, shrinks by the number of
    copies.
    """

    def batches(
        self, seeds: Sequence[int], steps: int, batch: int | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if batch is None:
            yield from super().batches(seeds, steps, batch)
            return
        n_seeds, n = self.x1.shape[:2]
        distinct = list(dict.fromkeys(seeds))
        where = torch.tensor([distinct.index(s) for s in seeds])
        flat_x = self.x1.reshape(n_seeds * n, -1)
        flat_y = self.y.reshape(n_seeds * n, -1)
        offset = (torch.arange(n_seeds) * n)[:, None]
        gens = [generator(s, "batches") for s in distinct]
        chunk = max(1, CHUNK_VALUES // batch)  # as FixedSet.batches: whole chunks per seed
        done = 0
        while done < steps:
            k = min(chunk, steps - done)
            idx = torch.stack([torch.randint(n, (chunk, batch), generator=g) for g in gens], dim=1)
            idx = (idx[:k, where] + offset).reshape(k, n_seeds * batch).to(self.x1.device)
            for i in range(k):
                yield (
                    flat_x.index_select(0, idx[i]).view(n_seeds, batch, -1),
                    flat_y.index_select(0, idx[i]).view(n_seeds, batch, -1),
                )
            done += k


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
    x = x_train.to(device, teacher.dtype)
    y = torch.cat(
        [
            training_targets(settings.cell_settings(m, multi, p), seeds, t, x)
            for p, (t, _) in zip(settings.ps, nets, strict=True)
        ]
    )
    x = x.repeat(n_p, 1, 1)
    return teacher, student, StackedSet(x, y), Probe(teacher, x_eval.repeat(n_p, 1, 1))


def _train_program(
    student: Net,
    train_set: FixedSet,
    seeds: list[int],
    settings: TwoLayerSweepSettings,
    **kwargs: Any,
) -> Trajectory:
    """SGD of one program's networks. On a CPU the networks train in cache-sized blocks on one
    worker thread per torch thread (:func:`~luckbook.batched_sgd.train_blocked`: the same
    minibatches and updates, so the same numbers as :func:`~luckbook.train.train`, which
    took 4× longer with two threads than with one on a 2-core CPU); on an accelerator as one
    batched program."""
    if train_set.x1.device.type != "cpu":
        return train(
            student,
            train_set,
            seeds,
            lr=settings.lr,
            steps=settings.steps,
            batch=settings.batch,
            method="sgd",
            **kwargs,
        )
    members, n = train_set.x1.shape[:2]
    return train_blocked(
        student,
        train_set.x1.reshape(members * n, -1),
        train_set.y.reshape(members * n, -1),
        [n] * members,
        [i * n for i in range(members)],
        seeds,
        lr=settings.lr,
        steps=settings.steps,
        batch=settings.batch,
        **kwargs,
    )


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
                traj = _train_program(
                    student,
                    train_set,
                    list(seeds) * n_p,
                    settings,
                    snapshots=snaps,
                    on_snapshot=on_snapshot,
                    progress=progress,
                )
            except DivergenceError as err:
                err.args = (
                    f"{err} (sweep program m={m}, multi={multi}, "
                    f"which trains p in {list(settings.ps)})",
                )
                raise
            steps_taken = traj.steps
            stack = {k: v.numpy() for k, v in traj.stacked().items()}
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
    """``lb.claims("two-layer-sweep")``: the sweep (the run the chapter uses, cached), then
    its ``claims()`` — rows with every control beside each claim (the decay run and the
    control runs come from the cache or are made)."""
    result = experiment.run(
        scale=scale, seeds=seeds, device=device, progress=progress, cache=cache, **overrides
    )
    return result.claims(control=control)


CONTROL_CELLS = (
    f"; only the cells the claims read (m = claim_m, multi 1 and {ORDER_MULTI}, p = {ORDER_P:g}, "
    f"and the decay run at init_scale {DECAY_INIT_SCALE:g})"
)


def control_settings(name: str) -> Any:
    """A control run's settings: the sweep's, with ``control=name``, restricted to the cells
    the claims read (the whole grid would cost as much again)."""

    def apply(settings: TwoLayerSweepSettings) -> TwoLayerSweepSettings:
        new = dataclasses.replace(
            settings,
            control=name,
            ms=(settings.claim_m,),
            multis=tuple(sorted({1, ORDER_MULTI})),
            ps=(ORDER_P,),
        )
        new.validate()
        return new

    return apply


TWO_LAYER_SWEEP = register(
    Experiment(
        result_cls=TwoLayerSweepResult,
        name="two-layer-sweep",
        key="E4",
        summary="the released two-layer sweep: multi × m × p over seeds, "
        "one batched program per shape",
        settings_cls=TwoLayerSweepSettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=costs.two_layer_sweep,
        report=claims_report,
        run_controls={
            name: RunControl(desc + CONTROL_CELLS, control_settings(name))
            for name, desc in CONTROL_DESCRIPTIONS.items()
        },
    )
)
