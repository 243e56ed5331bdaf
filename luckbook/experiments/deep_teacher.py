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

**Claims.** :meth:`DeepTeacherResult.claim_stats` computes the pre-registered claims of
:mod:`luckbook.claims` (``E3.*``): the final level of layers 0 and 1, and "layer 0 first" as
the gap between the epochs at which layers 0 and 1 first reach
:data:`~luckbook.claims.E3_CROSSING_LEVEL`. The frozen control is the step-0 snapshot repeated
at every time: it never crosses (or crosses at epoch 0 in both layers), so it cannot pass.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ..claims import E3_CROSSING_LEVEL as CROSSING_LEVEL
from ..claims import Stat, seed_mean
from ..config import check_choice, check_float, check_int, resolve_dtype
from ..data import FixedSet, gaussian
from ..ensemble import ACTIVATIONS, Net
from ..evaluate import Probe
from ..metrics import best_per_teacher
from ..result import Result
from ..student import make_student
from ..teacher import make_teacher
from ..train import sgd_step, train
from .base import Experiment, register

TEACHER_HIDDEN = (10, 15, 20, 25)
"""Hidden widths of the released deep teacher (``--ks '[10, 15, 20, 25]'``)."""

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
    activation: str = "relu"  # "relu" or "leaky_relu" (teacher and student)
    slope: float = 0.01  # negative slope of the Leaky ReLU
    dtype: str = "float32"  # float32 as released; float64 gives the same curves (see tests)

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
        resolve_dtype(self.dtype)
        if self.snapshots_per_epoch > self.steps_per_epoch:
            raise ValueError(
                f"snapshots_per_epoch={self.snapshots_per_epoch!r} is not allowed: expected at most "
                f"the {self.steps_per_epoch} steps of an epoch"
            )


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # Measured on a 2-core CPU (float32, one thread): 10 of the released 40 epochs take 37-48 s
    # for 4 seeds; layer 0 then has mean best correlation 0.9997 and layer 1 0.936 over live
    # teacher nodes (0.920 counting dead ones as the released code did; seeds 0-3; 0.933 over
    # seeds 4-11): the first round epoch count at which layer 1 clears 0.90 with some margin.
    "book": {"epochs": 10, "snapshots_per_epoch": 2},
    # Depth 3 (hidden widths 10, 15), 16 epochs of 63 steps: about 1 s for 4 seeds. Over seeds
    # 0-31 every seed's layer-0 mean best correlation was >= 0.995 (mean 0.998).
    "tiny": {"depth": 3, "n_train": 4_000, "epochs": 16, "n_eval": 1024},
}
SEEDS = {"paper": 8, "book": 4, "tiny": 3}


@dataclasses.dataclass
class DeepTeacherResult(Result[DeepTeacherSettings]):
    """Everything E3 measures, as NumPy arrays (``T`` snapshots, ``S`` seeds, ``L`` hidden layers).

    Attributes:
        settings, seeds, device, wall_time_s: how it was made.
        steps: ``[T]`` snapshot steps; epochs: ``[T]`` the same in epochs.
        teacher_best: per hidden layer ``l``, ``[T, S, m_l]``: each teacher node's best
            correlation with a student node of layer ``l``.
        teacher_live: per hidden layer, ``[S, m_l]`` bool: the teacher node's activation is not
            constant on the eval set (False: a dead node, left out of the layer means).
        eval_loss: ``[T, S]`` square loss ``½·mean‖y_t − y_s‖²`` on the eval set.
        corr: per hidden layer, the final correlation matrix ``[S, m_l, n_l]``.
        batch_loss: ``[steps // stride, S]`` minibatch loss, every ``stride``-th step.
    """

    EXPERIMENT: ClassVar[str] = "deep-teacher"

    steps: np.ndarray
    epochs: np.ndarray
    teacher_best: list[np.ndarray]
    teacher_live: list[np.ndarray]
    eval_loss: np.ndarray
    corr: list[np.ndarray]
    batch_loss: np.ndarray
    batch_loss_stride: int

    @property
    def n_layers(self) -> int:
        """Number of hidden layers (``depth − 1``)."""
        return len(self.teacher_best)

    def layer_mean(self, include_dead: bool = False, control: str | None = None) -> np.ndarray:
        """``[L, T, S]``: mean over a layer's live teacher nodes of their best correlation
        (``include_dead=True``: over all of them, dead ones counting 0, as released).

        ``control="frozen"``: the frozen student, i.e. the step-0 snapshot repeated at every
        snapshot (the same run evaluated at its initial weights; nothing is retrained).
        """
        if include_dead:
            mean = np.stack([b.mean(-1) for b in self.teacher_best])
        else:
            mean = np.stack(
                [
                    (b * live).sum(-1) / live.sum(-1)
                    for b, live in zip(self.teacher_best, self.teacher_live, strict=True)
                ]
            )
        if control is None:
            return mean
        if control != "frozen":
            raise ValueError(f"control={control!r} is not allowed: expected None or 'frozen'")
        return np.broadcast_to(mean[:, :1], mean.shape).copy()

    def layer_min(self, include_dead: bool = False) -> np.ndarray:
        """``[L, T, S]``: the worst-recovered live teacher node of each layer."""
        if include_dead:
            return np.stack([b.min(-1) for b in self.teacher_best])
        return np.stack(
            [
                np.where(live, b, np.inf).min(-1)
                for b, live in zip(self.teacher_best, self.teacher_live, strict=True)
            ]
        )

    def dead_nodes(self) -> np.ndarray:
        """``[L, S]``: number of dead teacher nodes per layer and seed."""
        return np.stack([(~live).sum(-1) for live in self.teacher_live])

    def first_epoch_reaching(self, threshold: float, control: str | None = None) -> np.ndarray:
        """``[L, S]``: first snapshot epoch at which a layer's mean best correlation (live
        teacher nodes) is ≥ ``threshold`` (``nan`` if never; the frozen control never moves,
        so it crosses, at epoch 0, only if it starts above ``threshold``)."""
        threshold = check_float("threshold", threshold, low=-1.0, high=1.0)
        mean = self.layer_mean(control=control)  # [L, T, S]
        hit = mean >= threshold
        first = np.where(hit.any(1), hit.argmax(1), -1)  # [L, S]
        return np.where(first >= 0, self.epochs[np.maximum(first, 0)], np.nan)

    def crossing_order(self, level: float = CROSSING_LEVEL) -> dict[str, Any]:
        """Descriptive (not a claim): when each layer first reaches ``level``, and in how many
        seeds the layers do so bottom-up.

        Returns ``first`` (``[L, S]`` epochs, ``nan`` = never), ``mean_first`` (``[L]``, mean
        over the seeds that cross), ``never`` (``[L]`` seeds that never cross), ``strictly_before``
        (``[L − 1]``: seeds where layer ``l`` crosses strictly before layer ``l + 1``; a
        layer that never crosses is never before anything), ``bottom_up`` (seeds where every
        layer crosses strictly after the one below) and ``n_seeds``.
        """
        first = self.first_epoch_reaching(level)
        never = np.isnan(first)
        lower, upper = first[:-1], first[1:]
        with np.errstate(invalid="ignore"):
            before = ~np.isnan(lower) & (np.isnan(upper) | (lower < upper))
        crossed = np.where(never, np.nan, first)
        mean_first = np.array(
            [np.nanmean(row) if np.isfinite(row).any() else np.nan for row in crossed]
        )
        return {
            "level": level,
            "first": first,
            "mean_first": mean_first,
            "never": never.sum(-1),
            "strictly_before": before.sum(-1),
            "bottom_up": int((before.all(0) & ~never.any(0)).sum()),
            "n_seeds": len(self.seeds),
        }

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """The E3 claims (registered in :mod:`luckbook.claims`) on the trained student, or on
        the frozen student (``control="frozen"``).

        ``E3.layer0-level`` / ``E3.layer1-level``: mean over seeds of the layer's final mean
        best correlation (live teacher nodes). ``E3.layer0-first``: mean over seeds of
        ``t_1 − t_0``, the epochs between layer 0 and layer 1 first reaching
        :data:`CROSSING_LEVEL`; a seed in which either layer never reaches it makes the
        statistic undefined (so a never-crossing layer cannot make the claim hold).
        """
        if control not in (None, *self.CONTROLS):
            raise ValueError(
                f"control={control!r} is not allowed: expected None or one of {self.CONTROLS}"
            )
        final = self.layer_mean(control=control)[:, -1]  # [L, S]
        final_all = self.layer_mean(include_dead=True, control=control)[:, -1]

        def level(l: int) -> Stat:
            if l >= self.n_layers:
                return Stat(math.nan, math.nan, math.nan, len(self.seeds), "no such layer")
            return seed_mean(
                final[l],
                detail=f"per seed {_nums(final[l])}; counting dead teacher nodes as 0 (released "
                f"convention) {final_all[l].mean():.4f}",
            )

        stats = {"E3.layer0-level": level(0), "E3.layer1-level": level(1)}
        if self.n_layers < 2:
            stats["E3.layer0-first"] = Stat(
                math.nan, math.nan, math.nan, len(self.seeds), "no second layer"
            )
            return stats
        first = self.first_epoch_reaching(CROSSING_LEVEL, control)[:2]  # [2, S]
        gap = first[1] - first[0]  # nan where either layer never crosses
        with np.errstate(invalid="ignore"):
            ahead = int((first[0] < first[1]).sum())
        never = np.isnan(first).sum(-1)
        stats["E3.layer0-first"] = seed_mean(
            gap,
            detail=f"first epoch at >= {CROSSING_LEVEL:g}: layer 0 {_nums(first[0], '.3g')}, "
            f"layer 1 {_nums(first[1], '.3g')} (nan = never: {never[0]}, {never[1]} seeds); "
            f"layer 0 strictly first in {ahead} of {len(self.seeds)} seeds",
        )
        return stats

    def numbers(self, step: int | None = None) -> str:
        """The key numbers at snapshot ``step``: per layer, mean (seed range) and min best correlation."""
        t = self.snapshot_index(step)
        mean, low = self.layer_mean()[:, t], self.layer_min()[:, t]
        lines = [
            f"epoch {self.epochs[t]:g} (step {int(self.steps[t])}), {len(self.seeds)} seeds; "
            f"eval loss {self.eval_loss[t].mean():.3g}"
        ]
        dead = self.dead_nodes().sum(-1)
        for l in range(self.n_layers):
            note = f"; {dead[l]} dead teacher node(s) left out" if dead[l] else ""
            lines.append(
                f"layer {l} (m={self.teacher_best[l].shape[-1]}): mean best corr {mean[l].mean():.3f} "
                f"(seeds {mean[l].min():.3f}–{mean[l].max():.3f}), worst node {low[l].min():.3f}{note}"
            )
        return "\n".join(lines)

    def summary(self) -> str:
        """A per-seed table of every layer's final mean best correlation."""
        s = self.settings
        mean = self.layer_mean()[:, -1]  # [L, S]
        lines = [
            f"deep-teacher (E3): widths {s.widths}, multi={s.multi}, data_std={s.data_std:g}, "
            f"lr={s.lr:g}",
            f"{s.epochs} epochs × {s.steps_per_epoch} steps, {len(self.seeds)} seeds on "
            f"{self.device}, {self.wall_time_s:.1f} s",
            f"{'seed':>5} " + " ".join(f"{'layer ' + str(l):>9}" for l in range(self.n_layers)),
        ]
        for i, seed in enumerate(self.seeds):
            lines.append(
                f"{seed:>5} " + " ".join(f"{mean[l, i]:>9.4f}" for l in range(self.n_layers))
            )
        dead = self.dead_nodes()
        if dead.any():
            rows = ", ".join(f"layer {l}: {dead[l].tolist()}" for l in range(self.n_layers))
            lines.append(f"(means over live teacher nodes; dead teacher nodes per seed: {rows})")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, device, timing, per-seed per-layer curves and final numbers."""
        mean, low = self.layer_mean(), self.layer_min()
        mean_all = self.layer_mean(include_dead=True)
        return {
            "experiment": "deep-teacher",
            "settings": dataclasses.asdict(self.settings),
            "device": self.device,
            "wall_time_s": self.wall_time_s,
            "steps": self.steps.tolist(),
            "epochs": self.epochs.tolist(),
            "seeds": [
                {
                    "seed": seed,
                    "layer_mean_best_corr": mean[:, -1, s].tolist(),
                    "layer_min_best_corr": low[:, -1, s].tolist(),
                    "layer_mean_best_corr_all_nodes": mean_all[:, -1, s].tolist(),
                    "dead_teacher_nodes": [
                        np.flatnonzero(~live[s]).tolist() for live in self.teacher_live
                    ],
                    "layer_mean_best_corr_history": mean[:, :, s].tolist(),
                    "teacher_best_corr": [b[-1, s].tolist() for b in self.teacher_best],
                    "eval_loss": float(self.eval_loss[-1, s]),
                    "eval_loss_history": self.eval_loss[:, s].tolist(),
                }
                for s, seed in enumerate(self.seeds)
            ],
        }


def _nums(values: np.ndarray, spec: str = ".3f") -> str:
    return "[" + ", ".join(format(float(v), spec) for v in values) + "]"


def unit_weight_columns(w: torch.Tensor) -> torch.Tensor:
    """Divide each node's column (weights *and* bias) by the norm of its weights alone.

    ``w [S, in + 1, out]``. This is the released ``Model.normalize``: the incoming weights
    become unit vectors and the bias is scaled by the same factor (so it is *not* the
    ``normalize="all"`` of :func:`~luckbook.teacher.make_teacher`, which would fold the bias
    into the norm; with biases ``U(-0.5, 0.5)`` and weight norms above 1 the two differ by a
    few per cent in the bias only).
    """
    return w / w[:, :-1, :].norm(dim=1, keepdim=True).clamp_min(1e-12)


def build(settings: DeepTeacherSettings, seeds: Sequence[int], device: torch.device):
    """Teacher, student, training set and eval probe for E3 (every tensor on ``device``).

    The teacher's output layer is treated like its hidden layers (separated codes, bias
    ``U(-b, b)``, then :func:`unit_weight_columns`), as the released ``Model.init_w`` and
    ``Model.normalize`` do for ``final_w``.
    """
    dtype = resolve_dtype(settings.dtype)
    b = settings.teacher_bias
    raw = make_teacher(
        settings.widths,
        seeds,
        bias=(-b, b),
        normalize="none",
        output_bias=None,
        activation=settings.activation,
        slope=settings.slope,
        dtype="float64",
    )
    teacher = Net(
        [unit_weight_columns(w).to(device, dtype) for w in raw.weights],
        activation=settings.activation,
        slope=settings.slope,
    )
    student = make_student(
        teacher, settings.multi, seeds, init="torch_default", init_scale=settings.init_scale
    )
    x_train = gaussian(settings.n_train, settings.d, seeds, data_std=settings.data_std)
    x_train = x_train.to(device, dtype)
    train_set = FixedSet(x_train, teacher(x_train))
    x_eval = gaussian(
        settings.n_eval, settings.d, seeds, data_std=settings.data_std, stream="eval_data"
    )
    return teacher, student, train_set, Probe(teacher, x_eval)


def snapshot_schedule(settings: DeepTeacherSettings) -> list[int]:
    """Snapshot steps: 0, then ``snapshots_per_epoch`` evenly spaced points in every epoch."""
    per, k = settings.steps_per_epoch, settings.snapshots_per_epoch
    points = {0}
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
    records = traj.records
    n_layers = settings.depth - 1
    steps = np.asarray(traj.steps)
    k = settings.snapshots_per_epoch
    epochs = np.round(steps / settings.steps_per_epoch * k) / k  # nominal: 0, 1/k, 2/k, …
    stride = max(1, settings.steps // 2000)
    return DeepTeacherResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=traj.wall_time_s,
        steps=steps,
        epochs=epochs,
        teacher_best=[
            torch.stack([r["best"][l] for r in records]).double().numpy() for l in range(n_layers)
        ],
        teacher_live=[(h.amax(1) > h.amin(1)).cpu().numpy() for h in probe.t.hidden],
        eval_loss=torch.stack([r["loss"] for r in records]).double().numpy(),
        corr=[c.cpu().double().numpy() for c in records[-1]["corr"]],
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
    )
)
