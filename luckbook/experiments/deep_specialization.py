"""E6 — specialization in deep networks: the L-shape in every layer (SS).

A separated deep teacher ``d → m_1 → … → m_{L-1} → c`` labels a fixed training set
``x ~ N(0, data_std² I_d)``; a student ``multi`` times as wide at every hidden layer is trained
by plain SGD on the teacher's outputs. At every snapshot we measure, per hidden layer ``l`` and
per **student** node ``k`` of that layer:

- its **best correlation** ``max_j ρ_jk``: the largest Pearson correlation (over the eval
  inputs) between its post-activation and that of any teacher node ``j`` of the same layer;
- its **effective fan-out** ``√E_x[β_kk]``, where ``β_l(x) = V_l(x)ᵀ V_l(x)`` and
  ``V_l(x) = ∂y/∂f_l`` (``[c, n_l]``) is the Jacobian of the student's output with respect to
  the post-activations ``f_l`` of layer ``l`` (SS, the E0 machinery). So ``β_kk(x) =
  ‖V_l(x)[:, k]‖²`` is the squared norm of the node's influence on the output at input ``x``:
  the product of the weights above it *and the gates of the layers above it* (not its own
  gate). :func:`mean_beta` averages :func:`~luckbook.gradients.beta_diagonal` over the first
  ``n_beta`` eval inputs. For the top hidden layer ``V`` is the fan-out weight matrix itself,
  so ``√E[β_kk]`` is the ordinary fan-out norm. With ``activation="leaky_relu"`` the gates are
  the Leaky ReLU's derivative (1 or ``slope``), so a node's β never vanishes through gates.

SS predicts an **L-shape** in every layer: a student node either specializes (best correlation
near 1) or its effective fan-out shrinks toward 0. The claims (``E6.*`` in
:mod:`luckbook.claims`) and their statistics live with the result
(:mod:`luckbook.results.deep_specialization`): the **decay** of each never-specialized
lowest-layer node's effective fan-out against its own start, and the ordering of the per-layer
ratios of medians ``r_l``. Controls: the frozen student, and the run controls of
``settings.control`` (``different-teacher``: trained on an independent teacher of the same
kind, scored against the original; ``shuffled-labels``: targets permuted within each seed's
training set).

**The released run** (``recon_multilayer.py``, SS's multilayer config, its newest version of
December 2019; the chapter says which version and why) is the ``paper`` preset, the settings'
defaults. Its teacher is E3's :func:`~luckbook.experiments.deep_teacher.released_teacher` with
9 code values, then **calibrated** on the eval inputs (:func:`build_teacher`: every hidden
node active on about half of them, every output standardised, as the released
``teacher_bias_last_layer_tune``). The student has PyTorch's default init (the released
``student_scale_down = 0.1`` is undone by a later ``reset_parameters``). Learning rates are in
the released ``MSELoss`` convention, as in E3 (the trainer steps with ``lr · 2 / d_output``);
an epoch is ``ceil(n_train / batch)`` steps of minibatches drawn with replacement.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .. import costs
from ..config import check_choice, check_float, check_int, resolve_dtype
from ..data import FixedSet, gaussian
from ..ensemble import ACTIVATIONS, Net
from ..evaluate import Probe
from ..gradients import beta_diagonal
from ..metrics import best_per_student, best_per_teacher
from ..results.deep_specialization import DeepSpecializationResult
from ..student import make_student
from ..teacher import calibrate
from ..train import sgd_step, snapshot_steps, train
from .base import Experiment, register
from .deep_teacher import CONTROL_RUNS, RUN_CONTROLS, control_targets, released_teacher

TEACHER_HIDDEN = (50, 75, 100, 125)
"""Hidden widths of the released multilayer specialization run (``ks: [50,75,100,125]``)."""

CHOICES = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)
"""The 9 code values of the released multilayer config (``weight_choices``)."""

BETA_CHUNK = 2**24
"""Elements of one ``[S, N, c, n_l + 1]`` Jacobian chunk in :func:`mean_beta` (64 MiB float32)."""


@dataclasses.dataclass(frozen=True)
class DeepSpecializationSettings:
    """Settings of E6; the defaults are the released run's (``paper`` scale)."""

    depth: int = 5  # weight layers counting the output (2–5): depth − 1 hidden layers
    m: tuple[int, ...] = TEACHER_HIDDEN  # teacher hidden widths; the first depth − 1 are used
    d: int = 20  # input dimension
    multi: int = 10  # width multiplier: student hidden widths are multi · m_l
    d_output: int = 100  # output dimension c
    choices: tuple[float, ...] = CHOICES  # value set of the teacher's separated codes
    teacher_bias: float = 0.5  # teacher biases ~ U(-b, b) before normalising and calibrating
    target_active: float = 0.5  # calibration: fraction of inputs on which each teacher node is on
    standardize_output: bool = True  # calibrate each teacher output to mean 0, variance 1
    init_scale: float = 1.0  # student init: PyTorch's default bounds times this (1 = released)
    data_std: float = 10.0  # inputs x ~ N(0, data_std² I_d)
    lr: float = 0.2  # SGD learning rate (MSELoss convention) before lr_drop_epoch
    lr_drop_epoch: int = 20  # from this epoch on the learning rate is lr_after (≥ epochs: never)
    lr_after: float = 0.1  # learning rate from lr_drop_epoch on
    batch: int = 64  # minibatch size
    epochs: int = 100  # training epochs of ceil(n_train / batch) steps each
    n_train: int = 200_000  # training-set size (released random_dataset_size)
    n_eval: int = 10_240  # eval inputs: calibration, correlations, eval loss (released: 10 240)
    n_beta: int = 1024  # the first n_beta eval inputs average β (its cost is c backward passes)
    snapshot_every: int = 1  # evaluate every this many epochs (and before training, and at the end)
    log_snapshots: int = 0  # n > 0: also n + 1 geometric snapshots from step 1
    activation: str = "relu"  # "relu" or "leaky_relu" (teacher and student)
    slope: float = 0.01  # negative slope of the Leaky ReLU
    dtype: str = "float32"  # float32 as released
    control: str = "none"  # "none", or a run control: "different-teacher", "shuffled-labels"

    def __post_init__(self) -> None:
        for name in ("m", "choices"):  # the Python API may pass lists; settings stay hashable
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    @property
    def hidden(self) -> list[int]:
        """Teacher hidden widths ``[m_1, …, m_{depth-1}]``."""
        return list(self.m[: self.depth - 1])

    @property
    def widths(self) -> list[int]:
        """Teacher widths ``[d, m_1, …, m_{depth-1}, d_output]``."""
        return [self.d, *self.hidden, self.d_output]

    @property
    def student_widths(self) -> list[int]:
        return [self.d, *(self.multi * m for m in self.hidden), self.d_output]

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.batch)

    @property
    def steps(self) -> int:
        """Total SGD steps: ``epochs · steps_per_epoch``."""
        return self.epochs * self.steps_per_epoch

    def lr_at(self, step: int) -> float:
        """The learning rate (MSELoss convention) of SGD step ``step`` (0-based)."""
        return self.lr if step < self.lr_drop_epoch * self.steps_per_epoch else self.lr_after

    def validate(self) -> None:
        if not isinstance(self.m, tuple) or not self.m:
            raise ValueError(f"m={self.m!r} is not allowed: expected a non-empty tuple of widths")
        for w in self.m:
            check_int("m", w, minimum=1)
        top = len(self.m) + 1
        check_int("depth", self.depth, minimum=2)
        if self.depth > top:
            raise ValueError(
                f"depth={self.depth!r} is not allowed: expected an integer in [2, {top}] "
                f"(weight layers counting the output; the teacher has {len(self.m)} hidden widths)"
            )
        if not isinstance(self.choices, tuple) or not any(
            isinstance(c, (int, float)) and c != 0 for c in self.choices
        ):
            raise ValueError(
                f"choices={self.choices!r} is not allowed: expected a tuple of numbers with a "
                "non-zero value"
            )
        for c in self.choices:
            check_float("choices", c)
        for name in ("d", "d_output", "batch", "epochs", "n_train", "snapshot_every"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("multi", self.multi, minimum=1)
        check_int("lr_drop_epoch", self.lr_drop_epoch, minimum=0)
        check_int("n_eval", self.n_eval, minimum=2)
        check_int("n_beta", self.n_beta, minimum=1)
        if self.n_beta > self.n_eval:
            raise ValueError(
                f"n_beta={self.n_beta!r} is not allowed: expected at most n_eval={self.n_eval}"
            )
        check_float("teacher_bias", self.teacher_bias, low=0.0)
        check_float(
            "target_active", self.target_active, low=0.0, high=1.0, low_open=True, high_open=True
        )
        if not isinstance(self.standardize_output, bool):
            raise ValueError(
                f"standardize_output={self.standardize_output!r} is not allowed: expected True or "
                "False"
            )
        check_float("init_scale", self.init_scale, low=0.0, low_open=True)
        check_float("data_std", self.data_std, low=0.0, low_open=True)
        check_float("lr", self.lr, low=0.0, low_open=True)
        check_float("lr_after", self.lr_after, low=0.0, low_open=True)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_float("slope", self.slope, low=0.0, high=1.0, high_open=True)
        check_int("log_snapshots", self.log_snapshots, minimum=0)
        check_choice("control", self.control, CONTROL_RUNS)
        resolve_dtype(self.dtype)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # The E3 widths (10, 15, 20, 25) x 10 and 40 000 samples (625 steps an epoch); 24 epochs
    # = 15 000 steps with the released rates, 0.2 then 0.1 after the first fifth of training
    # (epoch 5; released: epoch 20 of 100); 14 snapshots (0 and 13 geometric from step 1: the
    # claims compare each node's start with its end), β on 128 eval inputs; 4 seeds. Chosen on
    # development seeds 0-3 to fit the chapter, with its different-teacher control run, in
    # the CI budget; the claims' notes give the development numbers.
    "book": {
        "m": (10, 15, 20, 25),
        "n_train": 40_000,
        "epochs": 24,
        "lr_drop_epoch": 5,
        "n_eval": 512,
        "n_beta": 128,
        "snapshot_every": 24,
        "log_snapshots": 12,
    },
    # Depth 3 (hidden widths 10, 15), 5 000 samples (79 steps an epoch), 20 epochs.
    "tiny": {
        "depth": 3,
        "m": (10, 15),
        "n_train": 5_000,
        "epochs": 20,
        "lr_drop_epoch": 4,
        "n_eval": 512,
        "n_beta": 128,
        "snapshot_every": 5,
    },
}
SEEDS = {"paper": 4, "book": 4, "tiny": 3}


def standardize_outputs(teacher: Net, x: torch.Tensor) -> Net:
    """Scale and shift the teacher's top layer so every output has mean 0 and variance 1 on ``x``.

    The released ``teacher_bias_last_layer_tune`` (run after the hidden-bias calibration).
    """
    y = teacher(x)  # [S, N, c]
    mean, std = y.mean(dim=1), y.std(dim=1).clamp_min(1e-12)  # [S, c]
    w = teacher.weights[-1] / std[:, None, :]
    w[:, -1, :] -= mean / std
    return Net([*teacher.weights[:-1], w], activation=teacher.activation, slope=teacher.slope)


def build_teacher(
    settings: DeepSpecializationSettings,
    seeds: Sequence[int],
    x_cal: torch.Tensor,
    stream: str = "teacher",
) -> Net:
    """The calibrated E6 teacher (float64 on the CPU), calibrated on ``x_cal [S, N, d]``;
    ``stream``: each seed's random stream (``"teacher-2"``: the different-teacher control's)."""
    teacher = released_teacher(
        settings.widths,
        seeds,
        bias=settings.teacher_bias,
        activation=settings.activation,
        slope=settings.slope,
        choices=settings.choices,
        stream=stream,
    )
    # one seed at a time: torch.quantile refuses very large inputs
    teacher = Net.stack(
        [
            calibrate(teacher.select([s]), x_cal[s : s + 1], settings.target_active)
            for s in range(len(seeds))
        ]
    )
    if settings.standardize_output:
        teacher = standardize_outputs(teacher, x_cal)
    return teacher


def mean_beta(net: Net, x: torch.Tensor) -> list[torch.Tensor]:
    """``E_x[β_kk]`` per hidden layer (``[S, n_l]``), :func:`~luckbook.gradients.beta_diagonal`
    evaluated in chunks of seeds and inputs so the ``[S, N, c, n_l + 1]`` Jacobians stay small."""
    n_seeds, n = x.shape[:2]
    per_sample = net.widths[-1] * (max(net.widths[1:-1]) + 1)
    rows = max(1, BETA_CHUNK // per_sample)
    out: list[list[torch.Tensor]] = []
    for s in range(n_seeds):
        sub = net.select([s])
        sums = None
        for lo in range(0, n, rows):
            chunk = x[s : s + 1, lo : lo + rows]
            part = [b * chunk.shape[1] for b in beta_diagonal(sub, chunk)]
            sums = part if sums is None else [a + p for a, p in zip(sums, part, strict=True)]
        out.append([v / n for v in sums])
    return [torch.cat([o[l] for o in out]) for l in range(net.depth - 1)]


def snapshot_schedule(settings: DeepSpecializationSettings) -> list[int]:
    """Snapshot steps: 0, every ``snapshot_every`` epochs, the last step, and ``log_snapshots +
    1`` geometric ones from step 1 (:func:`~luckbook.train.snapshot_steps`) when
    ``log_snapshots`` > 0."""
    per = settings.steps_per_epoch
    points = {0, settings.steps}
    if settings.log_snapshots:
        points.update(snapshot_steps(settings.steps, settings.log_snapshots, "log"))
    points.update(e * per for e in range(0, settings.epochs + 1, settings.snapshot_every))
    return sorted(points)


def compute(
    settings: DeepSpecializationSettings,
    seeds: list[int],
    device: torch.device,
    progress: bool = False,
) -> DeepSpecializationResult:
    """Run E6 for every seed at once; see :class:`DeepSpecializationResult`.

    Raises :class:`~luckbook.train.DivergenceError` (naming ``lr``) if the loss becomes NaN or
    infinite.
    """
    dtype = resolve_dtype(settings.dtype)
    x_eval = gaussian(
        settings.n_eval, settings.d, seeds, data_std=settings.data_std, stream="eval_data"
    )
    teacher = build_teacher(settings, seeds, x_eval).to(device, dtype)
    student = make_student(
        teacher, settings.multi, seeds, init="torch_default", init_scale=settings.init_scale
    )
    x_train = gaussian(settings.n_train, settings.d, seeds, data_std=settings.data_std)
    x_train = x_train.to(device, dtype)
    targets = control_targets(
        settings.control,
        seeds,
        teacher,
        x_train,
        lambda: build_teacher(settings, seeds, x_eval, stream="teacher-2"),
    )
    train_set = FixedSet(x_train, targets)
    probe = Probe(teacher, x_eval)
    x_beta = probe.x[:, : settings.n_beta]
    scale = 2.0 / settings.d_output  # MSELoss (mean over outputs) -> ½·sum over outputs
    done = [0]

    def step_fn(net: Net, x1: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        rate = settings.lr_at(done[0])
        done[0] += 1
        return sgd_step(net, x1, y, rate * scale)

    def on_snapshot(step: int, net: Net) -> dict[str, Any]:
        ev = probe.evaluate(net, live=True)  # one forward pass gives the live flags too
        best, match = zip(*(best_per_student(c) for c in ev["corr"]), strict=True)
        return {
            "best": [b.cpu() for b in best],
            "match": [m.cpu() for m in match],
            "tbest": [best_per_teacher(c).cpu() for c in ev["corr"]],
            "fanout": [b.clamp_min(0).sqrt().cpu() for b in mean_beta(net, x_beta)],
            "live": [v.cpu() for v in ev["live"]],
            "loss": ev["loss"].cpu(),
        }

    start = time.perf_counter()
    traj = train(
        student,
        train_set,
        seeds,
        lr=settings.lr,
        steps=settings.steps,
        batch=settings.batch,
        snapshots=snapshot_schedule(settings),
        on_snapshot=on_snapshot,
        progress=progress,
        step_fn=step_fn,
    )
    stacked = traj.stacked("best", "match", "tbest", "fanout", "live", "loss")
    steps = np.asarray(traj.steps)
    return DeepSpecializationResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=time.perf_counter() - start,
        steps=steps,
        epochs=steps / settings.steps_per_epoch,
        lr=np.array([settings.lr_at(int(s)) for s in steps]),
        student_best=[b.numpy().astype(np.float64) for b in stacked["best"]],
        student_match=[m.numpy() for m in stacked["match"]],
        fanout=[f.numpy().astype(np.float64) for f in stacked["fanout"]],
        student_live=[v.numpy() for v in stacked["live"]],
        teacher_best=[b.numpy().astype(np.float64) for b in stacked["tbest"]],
        teacher_active=[(z > 0).double().mean(1).cpu().numpy() for z in probe.t.pre],
        eval_loss=stacked["loss"].double().numpy(),
    )


DEEP_SPECIALIZATION = register(
    Experiment(
        result_cls=DeepSpecializationResult,
        name="deep-specialization",
        key="E6",
        summary="specialization in deep networks: best correlation vs effective fan-out per layer",
        settings_cls=DeepSpecializationSettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=costs.deep_specialization,
        run_controls=RUN_CONTROLS,
    )
)
