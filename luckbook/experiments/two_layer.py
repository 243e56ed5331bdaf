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
``½·Σ_outputs`` loss times ``2 / c`` (:func:`released_loss`). Losses are stored in our
convention and printed in the released one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from .. import costs
from ..claims import Stat, seed_mean
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
from ..evaluate import Probe
from ..metrics import best_per_student, best_per_teacher, observability
from ..result import Result
from ..student import make_student
from ..teacher import DEFAULT_CHOICES, NINE_CHOICES, make_teacher
from ..train import SPACINGS, snapshot_steps, train
from .base import Experiment, register


def check_samples(name: str, value: int) -> None:
    """A set on which correlations are measured needs at least two samples."""
    if value < 2:
        raise ValueError(
            f"{name}={value!r} is not allowed: expected an integer >= 2 "
            "(a correlation over fewer than two samples is undefined)"
        )


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
                f"n_snapshots={self.n_snapshots!r} is not allowed: expected at most steps={self.steps}"
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
        self.validate_common()


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # 20 epochs: a NumPy re-run of the released code at m = 10 covered every teacher at p = 0 by then.
    "book": {"steps": 20_000, "n_snapshots": 40},
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


def released_loss(loss: np.ndarray | float, c: int) -> np.ndarray | float:
    """Our loss ``½·E‖y_t − y_s‖²`` (summed over the ``c`` outputs) in the released code's
    convention, the mean of ``(y_t − y_s)²`` over samples and outputs: ``loss · 2 / c``."""
    return loss * (2.0 / c)


@dataclasses.dataclass
class TwoLayerResult(Result[TwoLayerSettings]):
    """Everything E4 measures, as NumPy arrays (``T`` snapshots, ``S`` seeds).

    Attributes:
        settings, seeds, device, wall_time_s: how it was made.
        steps: ``[T]`` snapshot steps.
        teacher_best: ``[T, S, m]`` best correlation of each teacher node over students.
        student_best, student_match: ``[T, S, n]`` best correlation of each student node and
            the index of that teacher.
        fanout: ``[T, S, n]`` fan-out norms of the student's hidden nodes.
        train_loss, eval_loss: ``[T, S]``.
        covered: ``{tau: [T, S]}`` number of teachers covered at ``tau``.
        corr: ``[S, m, n]`` final correlation matrix; observability ``[S, m, n]`` final.
        teacher_fanout: ``[S, m]``; teacher, student: final weights per layer ``[S, in+1, out]``.
        batch_loss: ``[steps // stride, S]`` minibatch loss, every ``stride``-th step.
        student_best_train: ``[2, S, n]`` best correlation of each student node on the
            **training** set at step 0 and at the end (the released L-shape's convention).

    Losses are ``½·Σ_outputs`` means over samples; :func:`released_loss` converts them.
    """

    EXPERIMENT: ClassVar[str] = "two-layer"

    steps: np.ndarray
    teacher_best: np.ndarray
    student_best: np.ndarray
    student_match: np.ndarray
    fanout: np.ndarray
    train_loss: np.ndarray
    eval_loss: np.ndarray
    covered: dict[float, np.ndarray]
    corr: np.ndarray
    observability: np.ndarray
    teacher_fanout: np.ndarray
    teacher: list[np.ndarray]
    student: list[np.ndarray]
    batch_loss: np.ndarray
    batch_loss_stride: int
    student_best_train: np.ndarray | None = None

    def final_covered(self, tau: float = 0.95) -> np.ndarray:
        """``[S]`` teachers covered at ``tau`` after training (``tau`` must be one of ``settings.taus``)."""
        tau = check_float("tau", tau, low=0.0, high=1.0, low_open=True, high_open=True)
        if tau not in self.covered:
            return (self.teacher_best[-1] > tau).sum(-1)
        return self.covered[tau][-1]

    def networks(self) -> tuple[Net, Net]:
        """The final ``(teacher, student)`` ensembles rebuilt from the stored weights (CPU)."""
        kw = {"activation": self.settings.activation, "slope": self.settings.slope}
        return (
            Net([torch.from_numpy(w) for w in self.teacher], **kw),
            Net([torch.from_numpy(w) for w in self.student], **kw),
        )

    def summary(self, tau: float = 0.95) -> str:
        """A small per-seed table: teachers covered at ``tau``, losses, fan-out medians."""
        s = self.settings
        special = self.l_shape()[0] >= tau
        loss = released_loss(self.eval_loss[-1], s.c)
        lines = [
            f"two-layer (E4): d={s.d}, m={s.m}, multi={s.multi} (n={s.n}), c={s.c}, p={s.p:g}",
            f"{s.steps} SGD steps, {len(self.seeds)} seeds on {self.device}, {self.wall_time_s:.1f} s",
            "eval loss: mean of (y_t - y_s)^2 over samples and outputs, as released; "
            "fan-outs split by training-set correlation (L-shape, as released)",
            f"{'seed':>5} {'covered@' + str(tau):>14} {'eval loss':>10} {'fan-out (spec.)':>16} {'fan-out (rest)':>15}",
        ]
        for i, seed in enumerate(self.seeds):
            fan = self.fanout[-1, i]
            spec = f"{np.median(fan[special[i]]):.3f}" if special[i].any() else "-"
            rest = f"{np.median(fan[~special[i]]):.3f}" if (~special[i]).any() else "-"
            cov = f"{int(self.final_covered(tau)[i])}/{s.m}"
            lines.append(f"{seed:>5} {cov:>14} {loss[i]:>10.2e} {spec:>16} {rest:>15}")
        return "\n".join(lines)

    def l_shape(self, final: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``[S, n]`` best correlation on the **training** set (as released) and fan-out norm of
        every student node, at the end (``final``) or at step 0."""
        t = -1 if final else 0
        if self.student_best_train is None:  # pragma: no cover - results made before 2026-11-30
            return self.student_best[t], self.fanout[t]
        return self.student_best_train[t], self.fanout[t]

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """``E4.setting-covers-all``: the fraction of teacher nodes covered at τ = 0.95 after
        training (eval set), mean over seeds; the frozen control reads step 0."""
        t = 0 if control == "frozen" else -1
        m = self.settings.m
        covered = (self.teacher_best[t] > 0.95).sum(-1)
        frac = covered / m
        detail = f"teachers covered per seed {covered.tolist()} of {m}; step {int(self.steps[t])}"
        return {"E4.setting-covers-all": seed_mean(frac, detail=detail)}

    def numbers(self, step: int | None = None, tau: float = 0.95) -> str:
        """Three lines of the key numbers at snapshot ``step``: coverage, loss, fan-out medians."""
        t = self.snapshot_index(step)
        return snapshot_numbers(
            f"step {int(self.steps[t])}",
            self.teacher_best[t],
            self.student_best[t],
            self.fanout[t],
            released_loss(self.eval_loss[t], self.settings.c),
            tau,
        )

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, device, timing and per-seed final numbers."""
        return {
            "experiment": "two-layer",
            "settings": dataclasses.asdict(self.settings),
            "device": self.device,
            "wall_time_s": self.wall_time_s,
            "steps": self.steps.tolist(),
            "seeds": [
                {
                    "seed": seed,
                    "teacher_best_corr": self.teacher_best[-1, s].tolist(),
                    "student_best_corr": self.student_best[-1, s].tolist(),
                    "student_fanout": self.fanout[-1, s].tolist(),
                    "covered": {str(t): int(v[-1, s]) for t, v in self.covered.items()},
                    "train_loss": float(self.train_loss[-1, s]),
                    "eval_loss": float(self.eval_loss[-1, s]),
                    "eval_loss_history": self.eval_loss[:, s].tolist(),
                }
                for s, seed in enumerate(self.seeds)
            ],
        }


def snapshot_numbers(
    label: str,
    teacher_best: np.ndarray,
    student_best: np.ndarray,
    fanout: np.ndarray,
    eval_loss: np.ndarray,
    tau: float,
) -> str:
    """The three lines every E4 result prints for one snapshot (``[S, m]``, ``[S, n]``,
    ``[S, n]``, ``[S]`` arrays): teachers covered at ``tau`` per seed, the mean eval loss (pass
    it in the released convention, :func:`released_loss`), and the median fan-out of
    specialized (best correlation ≥ ``tau``) and other student nodes."""
    cov = (teacher_best > tau).sum(-1)
    special = student_best >= tau
    spec = f"{np.median(fanout[special]):.3f}" if special.any() else "-"
    rest = f"{np.median(fanout[~special]):.3f}" if (~special).any() else "-"
    return (
        f"{label}: teachers covered at {tau} per seed {cov.tolist()} of {teacher_best.shape[-1]} "
        f"(mean {cov.mean():.2f})\n"
        f"eval loss (mean over {len(eval_loss)} seeds; mean over samples × outputs, as released) "
        f"{eval_loss.mean():.3g}\n"
        f"median fan-out: specialized student nodes {spec}, others {rest}"
    )


def make_nets(
    settings: TwoLayerSettings, seeds: Sequence[int], device: torch.device
) -> tuple[Net, Net]:
    """E4's teacher and initial student for every seed (on ``device``, in ``settings.dtype``)."""
    teacher = make_teacher(
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
    )
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


def build(
    settings: TwoLayerSettings, seeds: Sequence[int], device: torch.device
) -> tuple[Net, Net, FixedSet, Probe, Probe]:
    """Teacher, student, training set, eval probe and train probe for E4 (:func:`make_nets`
    and :func:`make_inputs`; the training set on ``device``)."""
    teacher, student = make_nets(settings, seeds, device)
    x_train, x_eval = make_inputs(settings, seeds)
    x_train = x_train.to(device, teacher.dtype)
    train_set = FixedSet(x_train, teacher(x_train))
    return teacher, student, train_set, Probe(teacher, x_eval), Probe(teacher, x_train)


def compute(
    settings: TwoLayerSettings, seeds: list[int], device: torch.device, progress: bool = False
) -> TwoLayerResult:
    """Run E4 for every seed at once; see :class:`TwoLayerResult`."""
    teacher, student, train_set, eval_probe, train_probe = build(settings, seeds, device)
    train_best: dict[int, torch.Tensor] = {}  # step 0 and the end: training-set correlations

    def on_snapshot(step: int, net: Net) -> dict[str, torch.Tensor]:
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

    traj = train(
        student,
        train_set,
        seeds,
        lr=settings.lr,
        steps=settings.steps,
        batch=settings.batch,
        method="sgd",
        snapshots=snapshot_steps(settings.steps, settings.n_snapshots, settings.spacing),
        on_snapshot=on_snapshot,
        progress=progress,
    )
    records = traj.records
    stack = {k: torch.stack([r[k] for r in records]).numpy() for k in records[0] if k != "corr"}
    final_corr = records[-1]["corr"]
    z_t = eval_probe.t.pre[0]
    z_s = student.forward(eval_probe.x).pre[0]
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
        observability=observability(z_t, z_s).cpu().numpy(),
        teacher_fanout=teacher.weights[1][:, :-1, :].norm(dim=-1).cpu().numpy(),
        teacher=[w.cpu().numpy() for w in teacher.weights],
        student=[w.cpu().numpy() for w in student.weights],
        batch_loss=traj.batch_loss[::stride].cpu().numpy(),
        batch_loss_stride=stride,
        student_best_train=torch.stack([train_best[0], train_best[settings.steps]]).numpy(),
    )


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
    )
)
