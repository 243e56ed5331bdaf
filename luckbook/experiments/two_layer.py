"""E4 — two-layer teacher–student: student specialization, strong teachers first (SS, OC).

A separated two-layer teacher ``d → m → c`` (unit-norm first-layer codes, bias ``bias``,
second-layer codes divided by ``(i+1)^p``) labels a fixed Gaussian training set; an
over-realized student ``d → multi·m → c``, initialised ``N(0, init_scale²)`` with zero bias, is
trained by SGD with minibatches drawn with replacement. At every snapshot we measure, on a
separate Gaussian eval set, the teacher×student activation correlations, the fan-out norms
and the train/eval losses; at step 0 and at the end also the correlations on the training
set.

Conventions of the released code (``catalyst/recon_two_layer.py``) that the book follows:
coverage and success rates use the **eval** set; the L-shape (best correlation against
fan-out, per student node) uses the **training** set; the loss the released code reports is
the mean of ``(y_teacher − y_student)²`` over samples *and outputs*, i.e. our
``½·Σ_outputs`` loss times ``2 / c``
(:func:`~luckbook.results.two_layer.released_loss`). Losses are stored in our
convention and printed in the released one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .. import costs
from ..config import (
    DEFAULT_TAUS,
    check_choice,
    check_float,
    check_int,
    check_taus,
    resolve_dtype,
)
from ..data import FixedSet, gaussian
from ..ensemble import ACTIVATIONS, Net
from ..evaluate import Probe, SnapshotWorker
from ..metrics import best_per_student, best_per_teacher, observability
from ..results.two_layer import TwoLayerResult
from ..rng import generator
from ..student import make_student
from ..teacher import DEFAULT_CHOICES, NINE_CHOICES, make_teacher
from ..train import SPACINGS, snapshot_steps, train
from .base import Experiment, RunControl, register, replace_settings


def check_samples(name: str, value: int) -> None:
    """A set on which correlations are measured needs at least two samples."""
    if value < 2:
        raise ValueError(
            f"{name}={value!r} is not allowed: expected an integer >= 2 "
            "(a correlation over fewer than two samples is undefined)"
        )


CONTROL_RUNS = ("none", "different-teacher", "shuffled-labels")
"""The values of the ``control`` setting: the run itself, or a run control — the student
trained on an independent teacher of the same kind (scored against the original one), or on
the training targets permuted within each seed's training set (inputs and outputs unpaired)."""


CODE_SETS = {9: NINE_CHOICES, 5: DEFAULT_CHOICES}
"""``n_codes`` → the teacher's code values: 9 as released for the two-layer sweep
(``catalyst/recon_two_layer.py``), 5 as in the book's first version."""


@dataclasses.dataclass(frozen=True)
class E4Common:
    """The settings every E4-family experiment shares (``two-layer``, ``two-layer-sweep``,
    ``sample-complexity``); the defaults are the released sweep's (``paper`` scale).

    Subclasses add their own fields and extend :meth:`validate`, calling
    :meth:`validate_common`.
    """

    d: int = 100  # input dimension
    c: int = 50  # output dimension
    bias: float = -0.1  # teacher hidden bias, after unit-normalising each node's weights
    output_bias: float = -0.1  # teacher output bias (released: -0.1, like the hidden one)
    n_codes: int = 9  # code values: 9 in [-1, 1] (released sweep) or 5 in [-0.5, 0.5] (older book)
    data_std: float = 1.5  # inputs x ~ N(0, data_std² I_d)
    init_scale: float = 0.005  # student weights ~ N(0, init_scale²), biases 0
    lr: float = 0.01  # SGD learning rate
    batch: int = 16  # minibatch size, drawn with replacement from the training set
    steps: int = 100_000  # SGD steps in all (released: 100 epochs × 1000 steps)
    n_eval: int = 10_000  # eval-set size (correlations and eval loss)
    n_snapshots: int = 100  # evaluations after step 0 (released: one per 1000-step epoch)
    spacing: str = "linear"  # snapshot spacing: "linear" or "log"
    activation: str = "relu"  # "relu" or "leaky_relu" (teacher and student)
    slope: float = 0.01  # negative slope of the Leaky ReLU
    dtype: str = "float64"  # "float64" (as released) or "float32"

    def common(self) -> dict[str, Any]:
        """The values of the shared fields, by name (to build another E4 settings object)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(E4Common)}

    def validate_common(self) -> None:
        """Check the shared fields; raise ``ValueError`` naming the first bad one."""
        for name in ("d", "c", "batch", "steps", "n_eval", "n_snapshots"):
            check_int(name, getattr(self, name), minimum=1)
        check_samples("n_eval", self.n_eval)
        check_float("bias", self.bias)
        check_float("output_bias", self.output_bias)
        check_choice("n_codes", self.n_codes, tuple(CODE_SETS))
        check_float("data_std", self.data_std, low=0.0, low_open=True)
        check_float("init_scale", self.init_scale, low=0.0, low_open=True)
        check_float("lr", self.lr, low=0.0, low_open=True)
        check_choice("spacing", self.spacing, SPACINGS)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_float("slope", self.slope, low=0.0, high=1.0, high_open=True)
        resolve_dtype(self.dtype)
        if self.n_snapshots > self.steps:
            raise ValueError(
                f"n_snapshots={self.n_snapshots!r} is not allowed: "
                f"expected at most steps={self.steps}"
            )

    def validate(self) -> None:
        self.validate_common()


@dataclasses.dataclass(frozen=True)
class TwoLayerSettings(E4Common):
    """Settings of E4; the defaults are the released sweep's (``paper`` scale)."""

    m: int = 10  # teacher hidden width (released sweep: 5, 10, 20)
    multi: int = 5  # width multiplier: the student has n = multi·m hidden nodes (1, 2, 5, 10)
    p: float = 0.0  # teacher strength decay: fan-out of teacher node i divided by (i+1)^p
    n_train: int = 10_000  # training-set size
    taus: tuple[float, ...] = DEFAULT_TAUS  # thresholds at which teachers count as covered
    control: str = "none"  # "none", or a run control: "different-teacher", "shuffled-labels"

    @property
    def n(self) -> int:
        """Student hidden width ``multi · m``."""
        return self.multi * self.m

    def validate(self) -> None:
        for name in ("m", "multi", "n_train"):
            check_int(name, getattr(self, name), minimum=1)
        check_samples("n_train", self.n_train)
        check_float("p", self.p, low=0.0)
        check_taus("taus", self.taus)
        check_choice("control", self.control, CONTROL_RUNS)
        self.validate_common()


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # 10 epochs: on development seeds 0-7 every teacher node at p = 0, multi = 5 was covered
    # by then. Snapshots spaced geometrically from step 1 (65 distinct steps, about 16 per
    # decade), so that the teacher nodes can be watched arriving one after another: at p = 0
    # they all arrive within half a decade of steps.
    "book": {"steps": 10_000, "n_snapshots": 72, "spacing": "log"},
    "tiny": {
        "d": 20,
        "m": 5,
        "multi": 2,
        "c": 10,
        "steps": 4_000,
        "n_train": 2_000,
        "n_eval": 2_000,
        "n_snapshots": 8,
    },
}
SEEDS = {"paper": 32, "book": 8, "tiny": 4}


def make_teacher_of(
    settings: Any, seeds: Sequence[int], device: torch.device, stream: str = "teacher"
) -> Net:
    """E4's teacher of ``settings`` (any settings with E4's fields, ``m`` and ``p``) for every
    seed, drawn from each seed's ``stream``."""
    return make_teacher(
        [settings.d, settings.m, settings.c],
        seeds,
        choices=CODE_SETS[settings.n_codes],
        bias=settings.bias,
        normalize="weights",
        output_bias=settings.output_bias,
        p=settings.p,
        activation=settings.activation,
        slope=settings.slope,
        dtype=resolve_dtype(settings.dtype),
        device=device,
        stream=stream,
    )


def make_nets(
    settings: TwoLayerSettings, seeds: Sequence[int], device: torch.device
) -> tuple[Net, Net]:
    """E4's teacher and initial student for every seed (on ``device``, in ``settings.dtype``)."""
    teacher = make_teacher_of(settings, seeds, device)
    student = make_student(
        teacher, settings.multi, seeds, init="gaussian", init_scale=settings.init_scale
    )
    return teacher, student


def make_inputs(
    settings: TwoLayerSettings, seeds: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and eval inputs ``[S, N, d]`` (float64, CPU); they depend only on ``d``,
    ``data_std``, ``n_train``, ``n_eval`` and the seed."""
    x_train = gaussian(settings.n_train, settings.d, seeds, data_std=settings.data_std)
    x_eval = gaussian(
        settings.n_eval, settings.d, seeds, data_std=settings.data_std, stream="eval_data"
    )
    return x_train, x_eval


def training_targets(
    settings: Any, seeds: Sequence[int], teacher: Net, x_train: torch.Tensor
) -> torch.Tensor:
    """The targets ``[S, N, c]`` the student is trained on, by ``settings.control``: the
    teacher's outputs (``"none"``); an independent teacher's of the same kind, drawn from each
    seed's ``"control_teacher"`` stream (``"different-teacher"``); or the teacher's outputs
    permuted within each seed's training set (``"shuffled-labels"``). ``seeds`` may repeat
    (the sweep stacks one copy per ``p``; ``teacher`` is then that stack)."""
    control = getattr(settings, "control", "none")
    if control == "different-teacher":
        other = make_teacher_of(settings, seeds, x_train.device, stream="control_teacher")
        return other(x_train)
    y = teacher(x_train)
    if control == "shuffled-labels":
        perms = [
            torch.randperm(y.shape[1], generator=generator(s, "shuffle_labels")) for s in seeds
        ]
        y = torch.stack([y[i, perm.to(y.device)] for i, perm in enumerate(perms)])
    return y


def build(
    settings: TwoLayerSettings, seeds: Sequence[int], device: torch.device
) -> tuple[Net, Net, FixedSet, Probe, Probe]:
    """Teacher, student, training set, eval probe and train probe for E4 (:func:`make_nets`
    and :func:`make_inputs`; the training set on ``device``, its targets by
    :func:`training_targets`). Probes always score against the original teacher."""
    teacher, student = make_nets(settings, seeds, device)
    x_train, x_eval = make_inputs(settings, seeds)
    x_train = x_train.to(device, teacher.dtype)
    train_set = FixedSet(x_train, training_targets(settings, seeds, teacher, x_train))
    return teacher, student, train_set, Probe(teacher, x_eval), Probe(teacher, x_train)


def compute(
    settings: TwoLayerSettings, seeds: list[int], device: torch.device, progress: bool = False
) -> TwoLayerResult:
    """Run E4 for every seed at once; see :class:`TwoLayerResult`.

    Each snapshot's evaluation runs on a copy of the weights on a background thread
    (:class:`~luckbook.evaluate.SnapshotWorker`) while training goes on: the same operations
    on the same numbers as evaluating in line, so the same results. ``wall_time_s`` runs from
    the start of training until the last evaluation is done."""
    teacher, student, train_set, eval_probe, train_probe = build(settings, seeds, device)
    train_best: dict[int, torch.Tensor] = {}  # step 0 and the end: training-set correlations

    def evaluate(step: int, net: Net) -> dict[str, torch.Tensor]:
        if step in (0, settings.steps):
            tr = train_probe.evaluate(net)
            train_best[step] = best_per_student(tr["corr"][0])[0].detach().cpu()
            train_loss = tr["loss"]
        else:
            train_loss = train_probe.loss(net)
        ev = eval_probe.evaluate(net)
        corr = ev["corr"][0]
        best_s, match_s = best_per_student(corr)
        rec = {
            "teacher_best": best_per_teacher(corr),
            "student_best": best_s,
            "student_match": match_s,
            "fanout": ev["fanout"][0],
            "eval_loss": ev["loss"],
            "train_loss": train_loss,
            "corr": corr,
        }
        return {k: v.detach().cpu() for k, v in rec.items()}

    start = time.perf_counter()
    with SnapshotWorker() as worker:
        traj = train(
            student,
            train_set,
            seeds,
            lr=settings.lr,
            steps=settings.steps,
            batch=settings.batch,
            method="sgd",
            snapshots=snapshot_steps(settings.steps, settings.n_snapshots, settings.spacing),
            on_snapshot=lambda step, net: worker.submit(evaluate, step, net.clone()),
            progress=progress,
        )
        # While the last evaluation runs: the student's hidden activations on the eval set
        # (a forward pass of its own, not the probe's work arrays).
        z_t = eval_probe.t.pre[0]
        z_s = student.forward(eval_probe.x).pre[0]
        obs = observability(z_t, z_s).cpu().numpy()
        traj.records = [future.result() for future in traj.records]
    traj.wall_time_s = time.perf_counter() - start
    keys = [k for k in traj.records[0] if k != "corr"]
    stack = {k: v.numpy() for k, v in traj.stacked(*keys).items()}
    final_corr = traj.records[-1]["corr"]
    stride = max(1, settings.steps // 2000)
    return TwoLayerResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=traj.wall_time_s,
        steps=np.asarray(traj.steps),
        teacher_best=stack["teacher_best"],
        student_best=stack["student_best"],
        student_match=stack["student_match"],
        fanout=stack["fanout"],
        train_loss=stack["train_loss"],
        eval_loss=stack["eval_loss"],
        covered={tau: (stack["teacher_best"] > tau).sum(-1) for tau in settings.taus},
        corr=final_corr.numpy(),
        observability=obs,
        teacher_fanout=teacher.weights[1][:, :-1, :].norm(dim=-1).cpu().numpy(),
        teacher=[w.cpu().numpy() for w in teacher.weights],
        student=[w.cpu().numpy() for w in student.weights],
        batch_loss=traj.batch_loss[::stride].cpu().numpy(),
        batch_loss_stride=stride,
        student_best_train=torch.stack([train_best[0], train_best[settings.steps]]).numpy(),
    )


CONTROL_DESCRIPTIONS = {
    "different-teacher": "the student trained on an independent teacher of the same kind "
    "(another random stream of each seed), scored against the original teacher",
    "shuffled-labels": "the student trained on the teacher's outputs permuted within each "
    "seed's training set (inputs and targets unpaired)",
}
CONTROL_EVAL = 2_000
"""Eval-set size of a control run (its claims read only the final coverage)."""
CONTROL_SNAPSHOTS = 8
"""Snapshots of a control run (geometric; only the last is read)."""


TWO_LAYER = register(
    Experiment(
        result_cls=TwoLayerResult,
        name="two-layer",
        key="E4",
        summary="two-layer teacher–student: over-realized students specialize to teacher nodes",
        settings_cls=TwoLayerSettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=costs.two_layer,
        run_controls={
            name: RunControl(
                desc,
                replace_settings(control=name, n_eval=CONTROL_EVAL, n_snapshots=CONTROL_SNAPSHOTS),
            )
            for name, desc in CONTROL_DESCRIPTIONS.items()
        },
    )
)
