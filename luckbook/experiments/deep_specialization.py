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
  gate). :func:`~luckbook.gradients.beta_diagonal` computes ``E_x[β_kk]`` per hidden layer
  (``[S, n_l]``, the constant node left out); we average it over the first ``n_beta`` eval
  inputs. For the top hidden layer ``V`` is the fan-out weight matrix itself, so
  ``√E[β_kk]`` is the ordinary fan-out norm. With ``activation="leaky_relu"`` the gates are
  the Leaky ReLU's derivative (1 or ``slope``), so a node's β never vanishes through gates.

SS predicts an **L-shape** in every layer: a student node either specializes (best correlation
near 1) or its effective fan-out shrinks toward 0, so that nodes with low correlation carry
little weight. The pre-registered claims (``luckbook.claims``, section E6; ``result.claims()``):

- ``E6.lshape-bottom``: in the lowest hidden layer the ratio of medians ``r_0`` — median
  ``√E[β_kk]`` of student nodes with best correlation ``< 0.6`` over the median of those with
  best correlation ``> 0.95``, every seed's nodes pooled, at the end of training — is below ¼
  (:meth:`DeepSpecializationResult.lshape_ratio`), with a 90 % bootstrap interval over seeds;
- ``E6.sharpest-at-bottom``: ``r_0`` is below the ratio of every upper hidden layer
  (statistic ``r_0 − min_{l≥1} r_l < 0``).

Their negative control is the frozen student (step 0): no student node is specialized there,
so both statistics are undefined and the claims fail. Other numbers the chapter shows (``r_l``
of every layer with intervals, ``r_0`` early in training, the specialized fractions) are
descriptive statistics (:meth:`DeepSpecializationResult.descriptive`), not claims. The theorem
is about a converged student; the ``book`` run is an eighth of the released length.

**Which released version.** The released code changed between November and December 2019:
the newest version (December 2019), which this module follows, uses 9 code values,
standardises the teacher's outputs to mean 0 / variance 1, drops the learning rate once
(0.2, then 0.1 from epoch 20) and measures on a 10 240-sample eval set (``n_eval`` at
``paper`` scale); the November versions, whose output the released plotting script reads,
use 5 code values, no output standardisation, a second drop (0.05 from epoch 30) and measure
correlations and β on 1 344 training samples. Which version produced the paper's figure cannot
be told from the release; we follow the newest because it is the final state of the code the
published paper points to. β is averaged over the first ``n_beta`` eval inputs (1 024 at
``paper`` scale, not all 10 240: it costs ``c`` backward passes per input).

**The released run** (``recon_multilayer.py``, SS's multilayer config): teacher widths
``[50, 75, 100, 125]``, input 20, output 100, codes from the 9 values ``{-1, -0.75, …, 1}``
with bias ``U(-0.5, 0.5)``, each node's weights and bias divided by the norm of its weights
(:func:`~luckbook.experiments.deep_teacher.unit_weight_columns`, as E3); then the teacher is
**calibrated** on the eval inputs: bottom-up, each hidden bias is shifted by the median of its
pre-activation so every node is active on about half the inputs
(:func:`~luckbook.teacher.calibrate`), and each output is standardised to mean 0 and variance 1
(the released ``teacher_bias_last_layer_tune``; ``standardize_output``). Student ×10 wide with
PyTorch's default init (the released config asks for ``student_scale_down = 0.1``, but a later
``reset_parameters`` undoes it, so the published run used scale 1: ``init_scale = 1``). SGD,
batch 64, ``data_std = 10``, 200 000 samples, 100 epochs, learning rate 0.2 for epochs 0–19 and
0.1 from epoch 20 on (``lr``, ``lr_drop_epoch``, ``lr_after``); eval set of 10 240 inputs.
Learning rates are in the released ``MSELoss`` convention (mean over batch and outputs), as in
E3: the trainer steps with ``lr · 2 / d_output``.

**Epochs** are ``ceil(n_train / batch)`` steps with minibatches drawn with replacement (E3).
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
from ..claims import Stat, bootstrap
from ..config import check_choice, check_float, check_int, resolve_dtype
from ..data import FixedSet, gaussian
from ..ensemble import ACTIVATIONS, Net
from ..evaluate import Probe
from ..gradients import beta_diagonal
from ..metrics import best_per_student, best_per_teacher
from ..result import Result
from ..student import make_student
from ..teacher import calibrate, make_teacher
from ..train import sgd_step, train
from .base import Experiment, register
from .deep_teacher import unit_weight_columns

TEACHER_HIDDEN = (50, 75, 100, 125)
"""Hidden widths of the released multilayer specialization run (``ks: [50,75,100,125]``)."""

CHOICES = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)
"""The 9 code values of the released multilayer config (``weight_choices``)."""

LOW, HIGH = 0.6, 0.95
"""The L-shape claim compares student nodes with best correlation < LOW and > HIGH."""

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
    activation: str = "relu"  # "relu" or "leaky_relu" (teacher and student)
    slope: float = 0.01  # negative slope of the Leaky ReLU
    dtype: str = "float32"  # float32 as released

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
                f"standardize_output={self.standardize_output!r} is not allowed: expected True or False"
            )
        check_float("init_scale", self.init_scale, low=0.0, low_open=True)
        check_float("data_std", self.data_std, low=0.0, low_open=True)
        check_float("lr", self.lr, low=0.0, low_open=True)
        check_float("lr_after", self.lr_after, low=0.0, low_open=True)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_float("slope", self.slope, low=0.0, high=1.0, high_open=True)
        resolve_dtype(self.dtype)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # The E3 widths (10, 15, 20, 25) x 10 and 40 000 samples (625 steps an epoch); 64 epochs
    # = 40 000 steps with the released rates, 0.2 then 0.1 after the first fifth of training
    # (epoch 13; released: epoch 20 of 100); β on 256 eval inputs every fourth epoch; 8 seeds.
    # About 100 s on a quiet 2-core CPU. (Until 2026-11 the book ran 20 epochs of 10 000
    # samples, 3 140 steps: too short for the L-shape; the chapter's slider grid still uses it.)
    "book": {
        "m": (10, 15, 20, 25),
        "n_train": 40_000,
        "epochs": 64,
        "lr_drop_epoch": 13,
        "n_eval": 1024,
        "n_beta": 256,
        "snapshot_every": 4,
    },
    # Depth 3 (hidden widths 10, 15), 5 000 samples (79 steps an epoch), 20 epochs: ~3 s.
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
SEEDS = {"paper": 4, "book": 8, "tiny": 3}


@dataclasses.dataclass
class DeepSpecializationResult(Result[DeepSpecializationSettings]):
    """Everything E6 measures, as NumPy arrays (``T`` snapshots, ``S`` seeds, ``L`` hidden layers).

    Attributes:
        settings, seeds, device, wall_time_s: how it was made.
        steps: ``[T]`` snapshot steps; epochs: ``[T]`` the same in epochs; lr: ``[T]`` the
            learning rate in force after each snapshot (MSELoss convention).
        student_best: per hidden layer ``l``, ``[T, S, n_l]``: each student node's best
            correlation with a teacher node of layer ``l``.
        student_match: per hidden layer, ``[T, S, n_l]``: which teacher node that is.
        fanout: per hidden layer, ``[T, S, n_l]``: ``√E_x[β_kk]``, the effective fan-out.
        student_live: per hidden layer, ``[T, S, n_l]`` bool: the student node's activation is
            not constant on the eval set (False: a dead node, correlation 0 by convention).
        teacher_best: per hidden layer, ``[T, S, m_l]``: each teacher node's best correlation.
        teacher_active: per hidden layer, ``[S, m_l]``: fraction of eval inputs on which the
            calibrated teacher node is active (≈ ``target_active``).
        eval_loss: ``[T, S]`` square loss ``½·mean‖y_t − y_s‖²`` on the eval set.
    """

    EXPERIMENT: ClassVar[str] = "deep-specialization"

    steps: np.ndarray
    epochs: np.ndarray
    lr: np.ndarray
    student_best: list[np.ndarray]
    student_match: list[np.ndarray]
    fanout: list[np.ndarray]
    student_live: list[np.ndarray]
    teacher_best: list[np.ndarray]
    teacher_active: list[np.ndarray]
    eval_loss: np.ndarray

    @property
    def n_layers(self) -> int:
        """Number of hidden layers (``depth − 1``)."""
        return len(self.student_best)

    def lshape(
        self,
        layer: int,
        step: int | None = None,
        low: float = LOW,
        high: float = HIGH,
        include_dead: bool = True,
        seeds: Sequence[int] | None = None,
    ) -> dict[str, float]:
        """The L-shape numbers of hidden ``layer`` at snapshot ``step``, pooled over ``seeds``
        (default: all of the run's).

        Returns ``median_low`` / ``median_high``: the median ``√E[β_kk]`` of student nodes with
        best correlation ``< low`` / ``> high``; ``ratio`` = their quotient (``nan`` when a group
        is empty); ``n_low`` / ``n_high`` the group sizes; ``n_dead`` dead nodes in the low group.
        ``include_dead=False`` leaves dead student nodes out.
        """
        if not 0 <= layer < self.n_layers:
            raise ValueError(
                f"layer={layer!r} is not allowed: hidden layers are 0..{self.n_layers - 1}"
            )
        check_float("low", low, low=-1.0, high=1.0)
        check_float("high", high, low=low, high=1.0)
        t = self.snapshot_index(step)
        rows = self.seed_rows(seeds)
        best, fan = self.student_best[layer][t][rows], self.fanout[layer][t][rows]
        live = self.student_live[layer][t][rows]
        keep = np.ones_like(live) if include_dead else live
        lo, hi = (best < low) & keep, (best > high) & keep
        med_lo = float(np.median(fan[lo])) if lo.any() else math.nan
        med_hi = float(np.median(fan[hi])) if hi.any() else math.nan
        return {
            "ratio": med_lo / med_hi if lo.any() and hi.any() and med_hi > 0 else math.nan,
            "median_low": med_lo,
            "median_high": med_hi,
            "n_low": int(lo.sum()),
            "n_high": int(hi.sum()),
            "n_dead": int((lo & ~live).sum()),
            "n": int(best.size),
        }

    def lshape_ratio(self, layer: int, step: int | None = None, **kwargs: Any) -> float:
        """``median √E[β_kk] (best < 0.6) / median √E[β_kk] (best > 0.95)`` (see :meth:`lshape`)."""
        return self.lshape(layer, step, **kwargs)["ratio"]

    def _nodes(self, layer: int, t: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per seed, ``(best correlation, √E[β_kk])`` of hidden ``layer``'s nodes at index ``t``."""
        best, fan = self.student_best[layer][t], self.fanout[layer][t]
        return [(best[s], fan[s]) for s in range(len(self.seeds))]

    def _ratio_stat(self, layer: int, t: int) -> Stat:
        """``r_layer`` at snapshot index ``t``, every seed's nodes pooled, with its interval."""
        nodes = self._nodes(layer, t)
        q = self.lshape(layer, int(self.steps[t]))
        return bootstrap(
            nodes,
            pooled_ratio,
            detail=(
                f"layer {layer}, step {int(self.steps[t])}: median √E[β] {q['median_low']:.3g} "
                f"({q['n_low']} nodes < {LOW}) / {q['median_high']:.3g} ({q['n_high']} nodes > "
                f"{HIGH})"
            ),
        )

    def _gap_stat(self, t: int) -> Stat:
        """``r_0 − min_{l≥1} r_l`` at snapshot index ``t`` with its interval."""
        per_seed = [
            [self._nodes(l, t)[s] for l in range(self.n_layers)] for s in range(len(self.seeds))
        ]
        ratios = [self.lshape_ratio(l, int(self.steps[t])) for l in range(self.n_layers)]
        return bootstrap(
            per_seed,
            bottom_gap,
            detail="r_l per layer " + ", ".join(f"{r:.3f}" for r in ratios),
        )

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """``E6.lshape-bottom`` (``r_0``) and ``E6.sharpest-at-bottom`` (``r_0 − min_{l≥1}
        r_l``) at the end of training; ``control="frozen"``: the same at step 0 (the student's
        initial weights), where no node is specialized and both are undefined."""
        if control not in (None, "frozen"):
            raise ValueError(f"control={control!r} is not allowed: expected None or 'frozen'")
        t = 0 if control == "frozen" else len(self.steps) - 1
        stats = {"E6.lshape-bottom": self._ratio_stat(0, t)}
        if self.n_layers >= 2:
            stats["E6.sharpest-at-bottom"] = self._gap_stat(t)
        else:  # depth 2: no upper layer to compare with
            stats["E6.sharpest-at-bottom"] = Stat(math.nan, math.nan, math.nan, len(self.seeds))
        return stats

    def early_index(self, fraction: float = 0.1) -> int | None:
        """Snapshot index of the first snapshot at or after ``fraction`` of training where
        ``r_0`` is defined (``None`` if there is none)."""
        check_float("fraction", fraction, low=0.0, high=1.0)
        for t, step in enumerate(self.steps):
            if step >= fraction * self.steps[-1] and np.isfinite(self.lshape_ratio(0, int(step))):
                return t
        return None

    def descriptive(self) -> dict[str, Any]:
        """Descriptive statistics the chapter shows (not pre-registered claims), at the end of
        training unless said otherwise, each ratio with its 90 % bootstrap interval over seeds:

        ``r`` (list of :class:`~luckbook.claims.Stat`, one per hidden layer), ``lshape`` (the
        :meth:`lshape` numbers per layer), ``specialized`` (per layer, the fraction of student
        nodes with best correlation > 0.95, all seeds), ``teacher`` (per layer, the mean best
        correlation of teacher nodes), ``early step`` and ``r_0 early`` (``r_0`` at
        :meth:`early_index`; ``None`` if undefined throughout).
        """
        last = len(self.steps) - 1
        t0 = self.early_index()
        return {
            "r": [self._ratio_stat(l, last) for l in range(self.n_layers)],
            "lshape": [self.lshape(l) for l in range(self.n_layers)],
            "specialized": self.specialized_fraction()[:, -1].mean(-1).tolist(),
            "teacher": self.teacher_mean()[:, -1].mean(-1).tolist(),
            "early step": None if t0 is None else int(self.steps[t0]),
            "r_0 early": None if t0 is None else self._ratio_stat(0, t0),
        }

    def descriptive_text(self) -> str:
        """:meth:`descriptive` as printable lines, labelled as descriptive."""
        d = self.descriptive()
        lines = [
            f"Descriptive statistics (not claims), {len(self.seeds)} seeds pooled, end of run:"
        ]
        for l, (r, q) in enumerate(zip(d["r"], d["lshape"], strict=True)):
            lines.append(
                f"  layer {l}: r = {r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]; median √E[β] "
                f"{q['median_low']:.3f} ({q['n_low']} nodes < {LOW}, {q['n_dead']} dead) / "
                f"{q['median_high']:.3f} ({q['n_high']} nodes > {HIGH}); specialized "
                f"{d['specialized'][l]:.3f}; teacher mean best corr {d['teacher'][l]:.3f}"
            )
        if d["r_0 early"] is not None:
            e = d["r_0 early"]
            lines.append(
                f"  r_0 at step {d['early step']} (first defined at ≥ 10 % of training): "
                f"{e.value:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]"
            )
        return "\n".join(lines)

    def teacher_mean(self) -> np.ndarray:
        """``[L, T, S]``: mean over each layer's teacher nodes of their best correlation."""
        return np.stack([b.mean(-1) for b in self.teacher_best])

    def specialized_fraction(self, tau: float = HIGH) -> np.ndarray:
        """``[L, T, S]``: fraction of each layer's student nodes with best correlation > ``tau``."""
        check_float("tau", tau, low=-1.0, high=1.0)
        return np.stack([(b > tau).mean(-1) for b in self.student_best])

    def numbers(self, step: int | None = None) -> str:
        """Per layer at snapshot ``step``: the L-shape ratio, group sizes and teacher recovery."""
        t = self.snapshot_index(step)
        mean = self.teacher_mean()[:, t]
        lines = [
            f"epoch {self.epochs[t]:g} (step {int(self.steps[t])}), {len(self.seeds)} seeds; "
            f"eval loss {self.eval_loss[t].mean():.3g}"
        ]
        for l in range(self.n_layers):
            q = self.lshape(l, int(self.steps[t]))
            lines.append(
                f"layer {l}: median √E[β] {q['median_low']:.3g} (corr < {LOW}, {q['n_low']} nodes)"
                f" / {q['median_high']:.3g} (corr > {HIGH}, {q['n_high']} nodes) = {q['ratio']:.3f};"
                f" teacher mean best corr {mean[l].mean():.3f}"
            )
        return "\n".join(lines)

    def summary(self) -> str:
        """Per layer at the end: the L-shape ratio and the teacher recovery."""
        s = self.settings
        head = (
            f"deep-specialization (E6): teacher {s.widths}, student ×{s.multi}, "
            f"{s.activation}, data_std={s.data_std:g}, lr={s.lr:g} then {s.lr_after:g} from epoch "
            f"{s.lr_drop_epoch}; {s.epochs} epochs × {s.steps_per_epoch} steps, "
            f"{len(self.seeds)} seeds on {self.device}, {self.wall_time_s:.1f} s"
        )
        return head + "\n" + self.numbers()

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, timing, per-layer L-shape numbers over time, per-seed data."""
        mean = self.teacher_mean()
        return {
            "experiment": "deep-specialization",
            "settings": dataclasses.asdict(self.settings),
            "device": self.device,
            "wall_time_s": self.wall_time_s,
            "steps": self.steps.tolist(),
            "epochs": self.epochs.tolist(),
            "lr": self.lr.tolist(),
            "lshape": [
                [self.lshape(l, int(step)) for step in self.steps] for l in range(self.n_layers)
            ],
            "seeds": [
                {
                    "seed": seed,
                    "layer_teacher_mean_best_corr": mean[:, -1, s].tolist(),
                    "layer_teacher_mean_best_corr_history": mean[:, :, s].tolist(),
                    "teacher_active_fraction": [a[s].tolist() for a in self.teacher_active],
                    "student_best_corr": [b[-1, s].tolist() for b in self.student_best],
                    "student_fanout": [f[-1, s].tolist() for f in self.fanout],
                    "student_live": [v[-1, s].tolist() for v in self.student_live],
                    "eval_loss": float(self.eval_loss[-1, s]),
                    "eval_loss_history": self.eval_loss[:, s].tolist(),
                }
                for s, seed in enumerate(self.seeds)
            ],
        }


def pooled_ratio(nodes: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """The ratio of medians over the pooled nodes of a list of seeds: median ``√E[β_kk]`` of
    nodes with best correlation ``< LOW`` over that of nodes ``> HIGH`` (``nan`` if a group is
    empty or the second median is 0). ``nodes``: per seed ``(best, fanout)`` arrays."""
    best = np.concatenate([np.asarray(b, dtype=float).ravel() for b, _ in nodes])
    fan = np.concatenate([np.asarray(f, dtype=float).ravel() for _, f in nodes])
    lo, hi = best < LOW, best > HIGH
    if not lo.any() or not hi.any():
        return math.nan
    den = float(np.median(fan[hi]))
    return float(np.median(fan[lo])) / den if den > 0 else math.nan


def bottom_gap(per_seed: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]]) -> float:
    """``r_0 − min_{l≥1} r_l`` over the pooled nodes of a list of seeds (``per_seed[s][l]`` is
    seed ``s``'s ``(best, fanout)`` of layer ``l``); upper layers with an undefined ratio are
    left out; ``nan`` if ``r_0`` or every upper ratio is undefined."""
    n_layers = len(per_seed[0])
    ratios = [pooled_ratio([seed[l] for seed in per_seed]) for l in range(n_layers)]
    upper = [r for r in ratios[1:] if math.isfinite(r)]
    if not math.isfinite(ratios[0]) or not upper:
        return math.nan
    return ratios[0] - min(upper)


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
    settings: DeepSpecializationSettings, seeds: Sequence[int], x_cal: torch.Tensor
) -> Net:
    """The calibrated E6 teacher (float64 on the CPU), calibrated on ``x_cal [S, N, d]``."""
    b = settings.teacher_bias
    raw = make_teacher(
        settings.widths,
        seeds,
        choices=settings.choices,
        bias=(-b, b),
        normalize="none",
        output_bias=None,
        activation=settings.activation,
        slope=settings.slope,
        dtype="float64",
    )
    teacher = Net(
        [unit_weight_columns(w) for w in raw.weights],
        activation=settings.activation,
        slope=settings.slope,
    )
    # one seed at a time: torch.quantile refuses very large inputs
    parts = [
        calibrate(teacher.select([s]), x_cal[s : s + 1], settings.target_active)
        for s in range(len(seeds))
    ]
    teacher = Net(
        [torch.cat([p.weights[l] for p in parts]) for l in range(teacher.depth)],
        activation=settings.activation,
        slope=settings.slope,
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
    """Snapshot steps: 0, every ``snapshot_every`` epochs, and the last step."""
    per = settings.steps_per_epoch
    points = {0, settings.steps}
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
    train_set = FixedSet(x_train, teacher(x_train))
    probe = Probe(teacher, x_eval)
    x_beta = probe.x[:, : settings.n_beta]
    scale = 2.0 / settings.d_output  # MSELoss (mean over outputs) -> ½·sum over outputs
    done = [0]

    def step_fn(net: Net, x1: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        rate = settings.lr_at(done[0])
        done[0] += 1
        return sgd_step(net, x1, y, rate * scale)

    def on_snapshot(step: int, net: Net) -> dict[str, Any]:
        ev = probe.evaluate(net)
        best, match = zip(*(best_per_student(c) for c in ev["corr"]), strict=True)
        fwd = net.forward(probe.x)
        return {
            "best": [b.cpu() for b in best],
            "match": [m.cpu() for m in match],
            "tbest": [best_per_teacher(c).cpu() for c in ev["corr"]],
            "fanout": [b.clamp_min(0).sqrt().cpu() for b in mean_beta(net, x_beta)],
            "live": [(h.amax(1) > h.amin(1)).cpu() for h in fwd.hidden],
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
    records = traj.records
    steps = np.asarray(traj.steps)
    n_layers = settings.depth - 1

    def stack(key: str, l: int) -> np.ndarray:
        return torch.stack([r[key][l] for r in records]).numpy()

    return DeepSpecializationResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=time.perf_counter() - start,
        steps=steps,
        epochs=steps / settings.steps_per_epoch,
        lr=np.array([settings.lr_at(int(s)) for s in steps]),
        student_best=[stack("best", l).astype(np.float64) for l in range(n_layers)],
        student_match=[stack("match", l) for l in range(n_layers)],
        fanout=[stack("fanout", l).astype(np.float64) for l in range(n_layers)],
        student_live=[stack("live", l) for l in range(n_layers)],
        teacher_best=[stack("tbest", l).astype(np.float64) for l in range(n_layers)],
        teacher_active=[(z > 0).double().mean(1).cpu().numpy() for z in probe.t.pre],
        eval_loss=torch.stack([r["loss"] for r in records]).double().numpy(),
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
    )
)
