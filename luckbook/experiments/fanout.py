"""E1 — zero fan-out for unlucky nodes (LM, over-parameterized two-layer network).

The released setting (LM, ``test_multilayer.py --perturb --node_multi 2``): a separated
teacher ``10 → 20 → 30`` with bias row 0 and every column (bias included) scaled to unit
norm; a student ``10 → 40 → 30`` whose hidden nodes ``0…19`` start at the teacher's columns
plus ``init_scale·N(0, 1)`` noise ("lucky") and nodes ``20…39`` at pure noise ("unlucky").
The top layer is perturbed the same way (``top_init="teacher_noise"``, the released start):
its rows ``0…19`` are the teacher's fan-out rows plus ``top_scale·N(0, 1)``, rows ``20…39``
(and the bias row) pure ``top_scale·N(0, 1)`` noise; then every column of **both** layers,
bias included, is scaled to unit norm (released: ``top_scale = init_scale = 0.1``).
``top_init="noise"`` keeps an earlier version of this book's start (top layer pure
``top_scale·N(0, 1)`` noise, never normalised). Every step draws a fresh ``N(0, I)`` batch;
the update is the batch-averaged *matrix gradient* of E0 followed by re-normalising every
column of every layer (``dynamics="projected-matrix"``; with ``top_init="noise"`` only the
hidden columns, as before), or plain SGD with exact back-propagation and no projection
(``dynamics="sgd"``). We record every student node's fan-out norm at log-spaced
snapshots: the unlucky nodes' fan-out decays towards zero while the lucky nodes carry the
output.

Claims (registry :mod:`luckbook.claims`, section E1): the ratio of the median fan-out of
the lucky nodes to that of the unlucky nodes at the last snapshot, pooled over seeds with a
bootstrap over seeds, for the projected dynamics (``E1.fanout-ratio``) and for plain SGD
(``E1.fanout-ratio-sgd``, computed from a second run: :meth:`FanoutResult.claims` with
``sgd=``); the frozen control is the same statistic at step 0.

Lottery-ticket demo (LM §5): prune the nodes whose final fan-out is small (``Net.prune``)
and compare the loss before and after; then retrain the surviving subnetwork from its
*initial* weights, side by side with a random subnetwork of the same size per seed (same
initial network, same number of steps, same minibatches).

The helpers :func:`e1_teacher`, :func:`e1_student` and :func:`update_rule` are shared with E2
(:mod:`luckbook.experiments.lucky`). The result and its analysis are
:class:`~luckbook.results.fanout.FanoutResult`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .. import costs
from ..claims import ClaimReport
from ..config import check_choice, check_float, check_int, resolve_dtype
from ..data import FreshGaussian, gaussian
from ..ensemble import Net
from ..evaluate import Probe
from ..gradients import matrix_step
from ..metrics import best_per_student, best_per_teacher, fanout_norms
from ..results.fanout import FanoutResult
from ..rng import generator
from ..student import make_student
from ..teacher import make_teacher
from ..train import StepFn, snapshot_steps, train
from .base import Experiment, register

DYNAMICS = ("projected-matrix", "sgd")
"""``"projected-matrix"``: matrix gradient (E0) then unit hidden columns (LM's released E1
dynamics); ``"sgd"``: plain SGD with exact back-propagation, no projection."""


# ----------------------------------------------------------------------------- shared (E1, E2)


def e1_teacher(
    d: int, m: int, c: int, seeds: Sequence[int], *, bias: float, dtype: str, device: torch.device
) -> Net:
    """The E1/E2 teacher ``d → m → c``: separated codes (5 choices), hidden bias row ``bias``
    (output bias 0), every column of both layers (bias included) scaled to unit norm (LM's
    released setting)."""
    return make_teacher(
        [d, m, c],
        seeds,
        bias=bias,
        normalize="all",
        output_bias=0.0,
        normalize_output=True,
        dtype=dtype,
        device=device,
    )


TOP_INITS = ("teacher_noise", "noise")
"""Top-layer start of the E1/E2 student: ``"teacher_noise"`` (released): rows ``j < m`` at the
teacher's fan-out rows plus ``top_scale·N(0, 1)``, the rest pure noise, every column unit
norm; ``"noise"``: pure ``top_scale·N(0, 1)`` noise, not normalised (an earlier version of
this book)."""


def e1_student(
    teacher: Net,
    multi: int,
    seeds: Sequence[int],
    *,
    init_scale: float,
    top_scale: float,
    top_init: str = "teacher_noise",
) -> Net:
    """The E1/E2 student: hidden node ``j < m`` at teacher node ``j`` plus ``init_scale·N(0, 1)``
    noise, the others pure noise, every hidden column (bias included) scaled to unit norm.

    The top layer (see :data:`TOP_INITS`): with ``top_init="teacher_noise"`` (LM's released
    start) row ``j < m`` is the teacher's fan-out row ``j`` plus ``top_scale·N(0, 1)``, the
    other rows and the bias row pure ``top_scale·N(0, 1)`` noise, and every column (bias
    included) is scaled to unit norm; with ``"noise"`` it is pure ``top_scale·N(0, 1)``
    noise, not normalised. ``seeds`` name the ``"student"`` random streams (one per member).
    """
    check_choice("top_init", top_init, TOP_INITS)
    student = make_student(
        teacher, multi, seeds, init="teacher_noise", init_scale=init_scale, normalize_columns=True
    )
    top = student.weights[-1]
    top.mul_(top_scale / init_scale)  # make_student draws it as init_scale·N(0, 1)
    if top_init == "teacher_noise":
        t = teacher.weights[-1]  # [S, m + 1, c]
        m = t.shape[1] - 1
        top[:, :m] += t[:, :m]
        top[:, -1] += t[:, -1]
        project_top(student)
    return student


def project_top(net: Net) -> None:
    """Scale every column of the top layer (bias row included) to unit norm, in place."""
    w = net.weights[-1]
    w.div_(w.norm(dim=1, keepdim=True).clamp_min(1e-12))


def update_rule(
    dynamics: str, teacher: Net, *, project_top_layer: bool = True
) -> tuple[str, StepFn | None]:
    """``(method, step_fn)`` for :func:`~luckbook.train.train` implementing ``dynamics`` (E1).

    ``"projected-matrix"``: the matrix gradient, then unit columns in every hidden layer
    (:func:`~luckbook.train.train`'s ``"projected"``) and, with ``project_top_layer`` (the
    released dynamics), in the top layer too. ``"sgd"``: exact back-propagation, no projection.
    """
    check_choice("dynamics", dynamics, DYNAMICS)
    if dynamics == "sgd":
        return "sgd", None
    step = matrix_step(teacher)
    if not project_top_layer:
        return "projected", step

    def projected_step(student: Net, x1: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        loss = step(student, x1, y, lr)
        project_top(student)  # train() then projects the hidden columns
        return loss

    return "projected", projected_step


def unlucky_mask(n: int, m: int) -> np.ndarray:
    """``[n]`` bool: student nodes ``m…n-1`` start as pure noise ("unlucky", E1)."""
    return np.arange(n) >= m


# ----------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class FanoutSettings:
    """Settings of E1; the defaults are the released run's (``paper`` scale)."""

    d: int = 10  # input dimension
    m: int = 20  # teacher hidden width
    c: int = 30  # output dimension
    multi: int = 2  # student hidden width n = multi·m; nodes m…n-1 start as pure noise
    bias: float = 0.0  # teacher bias row before unit-normalising each column (released: 0)
    init_scale: float = 0.1  # hidden noise N(0, init_scale²), then unit columns (--init_std)
    top_scale: float = 0.1  # top-layer noise N(0, top_scale²) (released: 0.1)
    top_init: str = "teacher_noise"  # "teacher_noise" (released) or "noise" (pure, unnormalised)
    dynamics: str = "projected-matrix"  # "projected-matrix" (released) or "sgd" (no projection)
    lr: float = 0.05  # learning rate
    batch: int = 64  # fresh N(0, data_std² I) samples per step
    steps: int = 20_000  # training steps (released: 20 000)
    data_std: float = 1.0  # input standard deviation
    n_eval: int = 4096  # eval-set size (loss, correlations)
    n_snapshots: int = 40  # log-spaced snapshots after step 0
    prune_below: float = 0.01  # lottery: prune fan-out < prune_below × the seed's largest
    retrain_steps: int = 20_000  # lottery: steps to retrain ticket and random subnetwork
    dtype: str = "float64"  # "float64" or "float32"

    @property
    def n(self) -> int:
        """Student hidden width ``multi · m``."""
        return self.multi * self.m

    def validate(self) -> None:
        for name in ("d", "m", "c", "batch", "steps", "n_eval", "n_snapshots", "retrain_steps"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("multi", self.multi, minimum=2)  # E1 needs unlucky nodes: n > m
        check_float("bias", self.bias)
        check_float("init_scale", self.init_scale, low=0.0, low_open=True)
        check_float("top_scale", self.top_scale, low=0.0, low_open=True)
        check_choice("dynamics", self.dynamics, DYNAMICS)
        check_choice("top_init", self.top_init, TOP_INITS)
        check_float("lr", self.lr, low=0.0, low_open=True)
        check_float("data_std", self.data_std, low=0.0, low_open=True)
        check_float(
            "prune_below", self.prune_below, low=0.0, high=1.0, low_open=True, high_open=True
        )
        resolve_dtype(self.dtype)
        if self.n_snapshots > self.steps:
            raise ValueError(
                f"n_snapshots={self.n_snapshots!r} is not allowed: "
                f"expected at most steps={self.steps}"
            )


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # 12 000 steps, released start (development seeds 0–7, measured): ratio of medians 2.5e3
    # (bootstrap interval 1.7e3–3.1e3; per seed 945–5550), plain SGD 1.1e3; the earlier
    # pure-noise top layer gave 250 and 130. The retrained lottery arms are orders of
    # magnitude apart after 4000 steps.
    "book": {"steps": 12_000, "n_snapshots": 30, "n_eval": 2048, "retrain_steps": 4000},
    "tiny": {
        "steps": 6000,
        "n_snapshots": 12,
        "n_eval": 1024,
        "retrain_steps": 1500,
        "m": 8,
        "c": 12,
    },
}
SEEDS = {"paper": 8, "book": 4, "tiny": 3}


# ----------------------------------------------------------------------------- compute


def build(
    settings: FanoutSettings, seeds: Sequence[int], device: torch.device
) -> tuple[Net, Net, Probe]:
    """Teacher, student at initialisation and eval probe for E1 (every tensor on ``device``)."""
    s = settings
    teacher = e1_teacher(s.d, s.m, s.c, seeds, bias=s.bias, dtype=s.dtype, device=device)
    student = e1_student(
        teacher, s.multi, seeds, init_scale=s.init_scale, top_scale=s.top_scale, top_init=s.top_init
    )
    x_eval = gaussian(s.n_eval, s.d, seeds, data_std=s.data_std, stream="eval_data")
    return teacher, student, Probe(teacher, x_eval)


def random_subsets(keep: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
    """``[S, n]`` bool: per seed, a uniformly random set of as many nodes as ``keep`` has."""
    out = torch.zeros_like(keep)
    for s, seed in enumerate(seeds):
        k = int(keep[s].sum())
        out[s, torch.randperm(keep.shape[1], generator=generator(seed, "extra"))[:k]] = True
    return out


def compute(
    settings: FanoutSettings, seeds: list[int], device: torch.device, progress: bool = False
) -> FanoutResult:
    """Run E1 for every seed at once, then the lottery-ticket demo; see :class:`FanoutResult`."""
    teacher, student, probe = build(settings, seeds, device)
    init = student.clone()
    project = settings.top_init == "teacher_noise"
    method, step_fn = update_rule(settings.dynamics, teacher, project_top_layer=project)

    def on_snapshot(step: int, net: Net) -> dict[str, torch.Tensor]:
        ev = probe.evaluate(net)
        corr = ev["corr"][0]
        best, match = best_per_student(corr)
        rec = {
            "fanout": ev["fanout"][0],
            "student_best": best,
            "student_match": match,
            "teacher_best": best_per_teacher(corr),
            "eval_loss": ev["loss"],
        }
        return {k: v.detach().cpu().clone() for k, v in rec.items()}

    traj = train(
        student,
        FreshGaussian(teacher, settings.data_std),
        seeds,
        lr=settings.lr,
        steps=settings.steps,
        batch=settings.batch,
        method=method,
        step_fn=step_fn,
        snapshots=snapshot_steps(settings.steps, settings.n_snapshots, "log"),
        on_snapshot=on_snapshot,
        progress=progress,
    )
    rec = {k: v.numpy() for k, v in traj.stacked().items()}

    # Lottery ticket: prune small fan-out, then retrain ticket and random subnetwork together.
    fan = fanout_norms(student.weights[1])  # [S, n]
    keep = fan >= settings.prune_below * fan.amax(dim=1, keepdim=True)
    rand = random_subsets(keep.cpu(), seeds).to(keep.device)
    loss_before = probe.loss(student)
    loss_after = probe.loss(student.prune(0, keep))
    pair_teacher = Net.stack([teacher, teacher])
    pair = Net.stack([init.prune(0, keep), init.prune(0, rand)])
    pair_probe = Probe(pair_teacher, torch.cat([probe.x, probe.x]))
    pair_method, pair_step = update_rule(settings.dynamics, pair_teacher, project_top_layer=project)
    pair_traj = train(
        pair,
        FreshGaussian(pair_teacher, settings.data_std),
        list(seeds) * 2,  # both arms see the same minibatches
        lr=settings.lr,
        steps=settings.retrain_steps,
        batch=settings.batch,
        method=pair_method,
        step_fn=pair_step,
        snapshots=snapshot_steps(settings.retrain_steps, 12, "log"),
        on_snapshot=lambda step, net: pair_probe.loss(net).detach().cpu().clone(),
        progress=progress,
    )
    pair_loss = torch.stack(pair_traj.records).numpy()  # [R, 2S]
    s = len(seeds)
    cpu = lambda ws: [w.detach().cpu().numpy() for w in ws]  # noqa: E731
    return FanoutResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=traj.wall_time_s + pair_traj.wall_time_s,
        steps=np.asarray(traj.steps),
        fanout=rec["fanout"],
        student_best=rec["student_best"],
        student_match=rec["student_match"],
        teacher_best=rec["teacher_best"],
        eval_loss=rec["eval_loss"],
        unlucky=unlucky_mask(settings.n, settings.m),
        keep=keep.cpu().numpy(),
        random_keep=rand.cpu().numpy(),
        loss_before_prune=loss_before.cpu().numpy(),
        loss_after_prune=loss_after.cpu().numpy(),
        retrain_steps=np.asarray(pair_traj.steps),
        ticket_loss=pair_loss[:, :s],
        random_loss=pair_loss[:, s:],
        teacher=cpu(teacher.weights),
        student_init=cpu(init.weights),
        student=cpu(student.weights),
    )


def claim_report(
    experiment: Experiment,
    *,
    scale: str,
    seeds: Sequence[int],
    device: Any = None,
    control: str | None = None,
    progress: bool = False,
    cache: bool = True,
    **overrides: Any,
) -> ClaimReport:
    """The E1 claim report: the projected run and the plain-SGD run on ``seeds`` (both cached),
    every other setting shared (``Experiment.claims`` calls it)."""
    overrides.pop("dynamics", None)
    runs = {
        dyn: experiment.run(
            scale=scale,
            seeds=seeds,
            device=device,
            progress=progress,
            cache=cache,
            dynamics=dyn,
            **overrides,
        )
        for dyn in DYNAMICS
    }
    return runs["projected-matrix"].claims(control, other=runs["sgd"])


FANOUT = register(
    Experiment(
        result_cls=FanoutResult,
        name="fanout",
        key="E1",
        summary=(
            "unlucky student nodes lose their fan-out (projected matrix gradient or SGD); "
            "lottery ticket"
        ),
        settings_cls=FanoutSettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=costs.fanout,
        report=claim_report,
    )
)
