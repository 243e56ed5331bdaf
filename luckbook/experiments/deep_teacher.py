"""E3 — deep teacher, layer by layer: the lowest layer is recovered first (LM).

A separated deep ReLU teacher ``d → m_1 → … → m_{L-1} → c`` (hidden widths the prefix of
``(10, 15, 20, 25)``; every layer, output included, made of separated codes with bias
``U(-b, b)``, then each node's weights and bias divided by the norm of its weights, as in the
released ``recon_multilayer.py``) labels a fixed training set ``x ~ N(0, data_std² I_d)``. A student
``multi`` times as wide at every hidden layer, with PyTorch's default ``nn.Linear`` init, is
trained by plain SGD on the teacher's outputs. After every (fraction of an) epoch we measure,
on a separate eval set, each teacher node's best activation correlation with a student node
of the same layer.

**Learning-rate convention.** The released code minimises ``torch.nn.MSELoss``, the mean over
the batch *and the* ``d_output`` *outputs* of the squared error; luckbook's trainer uses
``½ · mean_batch ‖y_t − y_s‖²``. The setting ``lr`` is in the released convention, so
``lr = 0.05`` means the released run's step; internally the trainer steps with
``lr · 2 / d_output``. (As in the released code, changing ``d_output`` therefore also
changes the per-output step size.)

**Dead teacher nodes.** A random deep teacher can have hidden nodes that are never active
on the eval inputs (a few per cent of the upper-layer nodes here). Such a node computes
nothing, and its correlation with anything is 0 by convention (the released code's too), which
caps its layer's mean: one dead node of 15 limits the mean to 14/15 = 0.933. The per-layer
means therefore leave dead nodes out by default (``include_dead=True`` gives the released
convention), and the result records which nodes were dead.

**Epochs.** One epoch is ``ceil(n_train / batch)`` SGD steps with minibatches drawn *with
replacement* from the training set (the released loader shuffles without replacement; over
an epoch the two differ only in which samples repeat).

**Claims.** The pre-registered claims (``E3.*`` in :mod:`luckbook.claims`) are computed by the
result (:mod:`luckbook.results.deep_teacher`): the final level of layers 0 and 1, and "layer 0
first" as an order in time: the log-ratio of the steps at which layers 0 and 1 first reach
:data:`~luckbook.claims.E3_CROSSING_LEVEL` (snapshots geometric from step 1). The frozen
control is the step-0 snapshot repeated at every time: it never crosses (or crosses at step 0
in both layers), so it cannot pass. The run controls (``settings.control``) train on an
independent teacher (``different-teacher``) or on shuffled targets (``shuffled-labels``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .. import costs
from ..config import check_choice, check_float, check_int, resolve_dtype
from ..data import FixedSet, gaussian
from ..ensemble import ACTIVATIONS, Net
from ..evaluate import Probe
from ..metrics import best_per_teacher
from ..results.deep_teacher import DeepTeacherResult
from ..rng import generator
from ..student import make_student
from ..teacher import DEFAULT_CHOICES, make_teacher, normalize_columns
from ..train import sgd_step, snapshot_steps, train
from .base import Experiment, RunControl, register, replace_settings

TEACHER_HIDDEN = (10, 15, 20, 25)
"""Hidden widths of the released deep teacher (``--ks '[10, 15, 20, 25]'``)."""

CONTROL_RUNS = ("none", "different-teacher", "shuffled-labels")
"""Allowed ``control`` settings: the trained student, or a run control (see :func:`build`)."""

MIN_DEPTH = 2
"""A depth-2 network (one hidden layer) is the smallest with a hidden layer to recover."""


@dataclasses.dataclass(frozen=True)
class DeepTeacherSettings:
    """Settings of E3; the defaults are the released run's (``paper`` scale)."""

    depth: int = 5  # weight layers counting the output (2–5): depth − 1 hidden layers
    m: tuple[int, ...] = TEACHER_HIDDEN  # teacher hidden widths; the first depth − 1 are used
    d: int = 20  # input dimension
    multi: int = 10  # width multiplier: student hidden widths are multi · m_l
    d_output: int = 100  # output dimension c (released ablation: 100 vs 10)
    init_scale: float = 1.0  # student init: PyTorch's default bounds times this (1 = released)
    teacher_bias: float = 0.5  # teacher biases ~ U(-b, b) before each node is normalised
    data_std: float = 10.0  # inputs x ~ N(0, data_std² I_d) (released ablation: 10 vs 1)
    lr: float = 0.05  # SGD learning rate for torch's MSELoss (mean over batch and outputs)
    batch: int = 64  # minibatch size
    epochs: int = 40  # training epochs of ceil(n_train / batch) steps each
    n_train: int = 100_000  # training-set size
    n_eval: int = 2048  # eval-set size for the correlations (released: 192 samples)
    snapshots_per_epoch: int = 1  # evaluations per epoch (plus one before training)
    log_snapshots: int = 0  # n > 0: also n + 1 geometric snapshots from step 1 (crossing times)
    activation: str = "relu"  # "relu" or "leaky_relu" (teacher and student)
    slope: float = 0.01  # negative slope of the Leaky ReLU
    dtype: str = "float32"  # float32 as released; float64 gives the same curves (see tests)
    control: str = "none"  # "none", or a run control: "different-teacher", "shuffled-labels"

    def __post_init__(self) -> None:
        if isinstance(self.m, list):  # the Python API may pass a list; settings stay hashable
            object.__setattr__(self, "m", tuple(self.m))

    @property
    def hidden(self) -> list[int]:
        """Teacher hidden widths ``[m_1, …, m_{depth-1}]``."""
        return list(self.m[: self.depth - 1])

    @property
    def widths(self) -> list[int]:
        """Teacher widths ``[d, m_1, …, m_{depth-1}, d_output]``."""
        return [self.d, *self.hidden, self.d_output]

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.batch)

    @property
    def steps(self) -> int:
        """Total SGD steps: ``epochs · steps_per_epoch``."""
        return self.epochs * self.steps_per_epoch

    def validate(self) -> None:
        if not isinstance(self.m, tuple) or not self.m:
            raise ValueError(f"m={self.m!r} is not allowed: expected a non-empty tuple of widths")
        for w in self.m:
            check_int("m", w, minimum=1)
        top = len(self.m) + 1
        depth = check_int("depth", self.depth, minimum=MIN_DEPTH)
        if depth > top:
            raise ValueError(
                f"depth={self.depth!r} is not allowed: expected an integer in [{MIN_DEPTH}, {top}] "
                f"(weight layers counting the output; the teacher has {len(self.m)} hidden widths)"
            )
        for name in ("d", "d_output", "batch", "epochs", "n_train", "snapshots_per_epoch"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("multi", self.multi, minimum=1)
        check_int("n_eval", self.n_eval, minimum=2)
        check_float("init_scale", self.init_scale, low=0.0, low_open=True)
        check_float("teacher_bias", self.teacher_bias, low=0.0)
        check_float("data_std", self.data_std, low=0.0, low_open=True)
        check_float("lr", self.lr, low=0.0, low_open=True)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_float("slope", self.slope, low=0.0, high=1.0, high_open=True)
        check_int("log_snapshots", self.log_snapshots, minimum=0)
        check_choice("control", self.control, CONTROL_RUNS)
        resolve_dtype(self.dtype)
        if self.snapshots_per_epoch > self.steps_per_epoch:
            raise ValueError(
                f"snapshots_per_epoch={self.snapshots_per_epoch!r} is not allowed: expected at "
                f"most the {self.steps_per_epoch} steps of an epoch"
            )


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # 5 of the released 40 epochs (7 815 steps), 4 seeds, evaluated once an epoch and at 25
    # geometric steps from step 1 (the crossing times of E3.layer0-first fall in the first
    # epochs), on 1024 eval inputs. Chosen on development seeds 0-3: at 10 epochs layer 1's
    # mean (0.938, interval 0.915-0.961) straddled the paper's 0.95, at 5 it is clearly below
    # (0.889, 0.859-0.915) while layer 0 is at 0.999; half the cost pays for the control run.
    "book": {"epochs": 5, "snapshots_per_epoch": 1, "log_snapshots": 24, "n_eval": 1024},
    # Depth 3 (hidden widths 10, 15), 16 epochs of 63 steps: about 1 s for 4 seeds. Over seeds
    # 0-31 every seed's layer-0 mean best correlation was >= 0.995 (mean 0.998).
    "tiny": {"depth": 3, "n_train": 4_000, "epochs": 16, "n_eval": 1024, "log_snapshots": 12},
}
SEEDS = {"paper": 8, "book": 4, "tiny": 3}


def released_teacher(
    widths: Sequence[int],
    seeds: Sequence[int],
    *,
    bias: float,
    activation: str,
    slope: float,
    choices: Sequence[float] = DEFAULT_CHOICES,
    stream: str = "teacher",
) -> Net:
    """The released deep teacher (float64, on the CPU): every layer, output included, made of
    separated codes from ``choices`` with bias ``U(-bias, bias)``, then each node's column
    (weights *and* bias) divided by the norm of its weights alone.

    That is the released ``Model.init_w`` and ``Model.normalize`` (also for ``final_w``): the
    incoming weights become unit vectors and the bias is scaled by the same factor, so it is
    *not* the ``normalize="all"`` of :func:`~luckbook.teacher.make_teacher`, which folds the
    bias into the norm (with biases ``U(-0.5, 0.5)`` and weight norms above 1 the two differ
    by a few per cent in the bias only). E6 builds its teacher on this one too. ``stream``:
    each seed's random stream (another gives an independent teacher of the same kind).
    """
    raw = make_teacher(
        widths,
        seeds,
        choices=choices,
        bias=(-bias, bias),
        normalize="none",
        output_bias=None,
        activation=activation,
        slope=slope,
        dtype="float64",
        stream=stream,
    )
    return Net(
        [normalize_columns(w, slice(0, -1), scale="all") for w in raw.weights],
        activation=activation,
        slope=slope,
    )


def build(settings: DeepTeacherSettings, seeds: Sequence[int], device: torch.device):
    """Teacher, student, training set and eval probe for E3 (every tensor on ``device``).

    The teacher is :func:`released_teacher` (its output layer treated like the hidden ones).
    Run controls (``settings.control``): ``"different-teacher"`` trains the student on the
    outputs of an independent teacher of the same kind (each seed's ``"teacher-2"`` stream)
    while the probe still scores it against the original; ``"shuffled-labels"`` permutes the
    targets within each seed's training set (inputs and outputs unpaired).
    """
    dtype = resolve_dtype(settings.dtype)

    def teacher_from(stream: str) -> Net:
        return released_teacher(
            settings.widths,
            seeds,
            bias=settings.teacher_bias,
            activation=settings.activation,
            slope=settings.slope,
            stream=stream,
        )

    teacher = teacher_from("teacher").to(device, dtype)
    student = make_student(
        teacher, settings.multi, seeds, init="torch_default", init_scale=settings.init_scale
    )
    x_train = gaussian(settings.n_train, settings.d, seeds, data_std=settings.data_std)
    x_train = x_train.to(device, dtype)
    train_set = FixedSet(
        x_train,
        control_targets(
            settings.control, seeds, teacher, x_train, lambda: teacher_from("teacher-2")
        ),
    )
    x_eval = gaussian(
        settings.n_eval, settings.d, seeds, data_std=settings.data_std, stream="eval_data"
    )
    return teacher, student, train_set, Probe(teacher, x_eval)


def control_targets(
    control: str, seeds: Sequence[int], teacher: Net, x_train: torch.Tensor, other: Any = None
) -> torch.Tensor:
    """The training targets ``[S, N, c]`` under ``control`` (E3 and E6): the teacher's outputs;
    those of ``other()``, an independent teacher of the same kind (``different-teacher``); or
    the teacher's outputs permuted within each seed's training set (``shuffled-labels``, each
    seed's ``"shuffle"`` stream)."""
    check_choice("control", control, CONTROL_RUNS)
    if control == "different-teacher":
        return other().to(x_train.device, x_train.dtype)(x_train)
    y = teacher(x_train)
    if control == "shuffled-labels":
        perms = [torch.randperm(y.shape[1], generator=generator(s, "shuffle")) for s in seeds]
        y = torch.stack([y[i, p.to(y.device)] for i, p in enumerate(perms)])
    return y


RUN_CONTROLS = {
    "different-teacher": RunControl(
        "student trained on an independent teacher of the same kind (each seed's 'teacher-2' "
        "stream), scored against the original teacher",
        replace_settings(control="different-teacher"),
    ),
    "shuffled-labels": RunControl(
        "targets permuted within each seed's training set (inputs and outputs unpaired), "
        "scored against the teacher",
        replace_settings(control="shuffled-labels"),
    ),
}
"""E3's and E6's run controls (``luckbook claims EXP --control NAME``)."""


def snapshot_schedule(settings: DeepTeacherSettings) -> list[int]:
    """Snapshot steps: 0, then ``snapshots_per_epoch`` evenly spaced points in every epoch,
    and ``log_snapshots + 1`` geometric ones from step 1 (:func:`~luckbook.train.snapshot_steps`)
    when ``log_snapshots`` > 0."""
    per, k = settings.steps_per_epoch, settings.snapshots_per_epoch
    points = {0}
    if settings.log_snapshots:
        points.update(snapshot_steps(settings.steps, settings.log_snapshots, "log"))
    for e in range(settings.epochs):
        points.update(e * per + round((j + 1) * per / k) for j in range(k))
    return sorted(points)


def compute(
    settings: DeepTeacherSettings, seeds: list[int], device: torch.device, progress: bool = False
) -> DeepTeacherResult:
    """Run E3 for every seed at once; see :class:`DeepTeacherResult`.

    Raises :class:`~luckbook.train.DivergenceError` (naming ``lr`` in the released convention)
    if the loss becomes NaN or infinite.
    """
    teacher, student, train_set, probe = build(settings, seeds, device)
    scale = 2.0 / settings.d_output  # MSELoss (mean over outputs) -> ½·sum over outputs

    def step_fn(net: Net, x1: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        return sgd_step(net, x1, y, lr * scale)

    def on_snapshot(step: int, net: Net) -> dict[str, Any]:
        ev = probe.evaluate(net)
        return {
            "best": [best_per_teacher(c).cpu() for c in ev["corr"]],
            "loss": ev["loss"].cpu(),
            "corr": ev["corr"],
        }

    snaps = snapshot_schedule(settings)
    traj = train(
        student,
        train_set,
        seeds,
        lr=settings.lr,
        steps=settings.steps,
        batch=settings.batch,
        snapshots=snaps,
        on_snapshot=on_snapshot,
        progress=progress,
        step_fn=step_fn,
    )
    stacked = traj.stacked("best", "loss")
    steps = np.asarray(traj.steps)
    k = settings.snapshots_per_epoch
    if settings.log_snapshots:
        epochs = steps / settings.steps_per_epoch
    else:
        epochs = np.round(steps / settings.steps_per_epoch * k) / k  # nominal: 0, 1/k, 2/k, …
    stride = max(1, settings.steps // 2000)
    return DeepTeacherResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=traj.wall_time_s,
        steps=steps,
        epochs=epochs,
        teacher_best=[b.double().numpy() for b in stacked["best"]],
        teacher_live=[(h.amax(1) > h.amin(1)).cpu().numpy() for h in probe.t.hidden],
        eval_loss=stacked["loss"].double().numpy(),
        corr=[c.cpu().double().numpy() for c in traj.records[-1]["corr"]],
        batch_loss=traj.batch_loss[::stride].cpu().double().numpy(),
        batch_loss_stride=stride,
    )


DEEP_TEACHER = register(
    Experiment(
        result_cls=DeepTeacherResult,
        name="deep-teacher",
        key="E3",
        summary="deep teacher, layer by layer: the lowest layer is recovered first",
        settings_cls=DeepTeacherSettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=costs.deep_teacher,
        run_controls=RUN_CONTROLS,
    )
)
