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
(``dynamics="sgd"``). We record every student node's fan-out norm and best correlation with
a teacher node at snapshots spaced geometrically from step 1 (at least 40).

Claims (registry :mod:`luckbook.claims.fanout`): a **decay**, not a level — for the unlucky
nodes that never specialize, each node's fan-out at the end over its own at the start
(median below 0.1, most shrinking tenfold), and the contrast with the lucky nodes, which keep
theirs; for the projected dynamics and (``-sgd``) for plain SGD, computed from a second run
(:meth:`FanoutResult.claims` with ``other=``). Controls: the frozen student, and two control
runs (``settings.control``): ``different-teacher`` (trained on an independent teacher, every
group scored against the original) and ``shuffled-labels`` (targets permuted within each
batch). The ratio of the lucky to the unlucky median fan-out at the end is descriptive only:
the start alone can make it large.

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
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from .. import costs
from ..claims import ClaimReport
from ..config import check_choice, check_float, check_int, default_scale, resolve_dtype
from ..data import FreshGaussian, gaussian
from ..ensemble import Forward, Net
from ..evaluate import Probe
from ..gradients import matrix_step
from ..metrics import best_per_student, best_per_teacher, fanout_norms
from ..results.fanout import FanoutResult
from ..rng import generator, stream_seed
from ..student import make_student
from ..teacher import make_teacher
from ..train import StepFn, snapshot_steps, train
from .base import Experiment, RunControl, register, replace_settings, resolve_seeds

CONTROLS = ("none", "different-teacher", "shuffled-labels")
"""``settings.control``: ``"none"`` (the experiment); ``"different-teacher"`` (the student is
trained on an independent teacher of the same kind, every correlation and the eval loss still
scored against the original teacher); ``"shuffled-labels"`` (the targets of every fresh batch
are permuted across its samples, so inputs and outputs are unpaired)."""

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
    n_snapshots: int = 48  # log-spaced snapshots requested after step 0 (>= 40 distinct)
    prune_below: float = 0.01  # lottery: prune fan-out < prune_below × the seed's largest
    retrain_steps: int = 20_000  # lottery: steps to retrain ticket and random subnetwork
    dtype: str = "float64"  # "float64" or "float32"
    control: str = "none"  # "none", "different-teacher" or "shuffled-labels" (control runs)

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
        check_choice("control", self.control, CONTROLS)
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
    # 4000 steps at the released start, chosen on development seeds 0-7 (the claims' note in
    # luckbook.claims.fanout gives the numbers); 48 requested snapshots give >= 40 distinct.
    "book": {"steps": 4000, "n_eval": 1024, "retrain_steps": 3000},
    "tiny": {
        "steps": 2000,
        "n_eval": 512,
        "retrain_steps": 1000,
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


@dataclasses.dataclass
class BatchPermuted(Net):
    """A teacher whose forward pass on a batch is its forward pass on the same batch permuted
    by :attr:`perm` (``[S, N]``, set before each step): what the matrix gradient needs to
    train on targets permuted within the batch (sample ``i`` is labelled by the teacher at
    sample ``perm[i]``; per sample the gradient relation is exact for that pairing)."""

    perm: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> Forward:
        fwd = super().forward(x)
        if self.perm is None:
            return fwd
        idx = self.perm.to(fwd.out.device)

        def take(t: torch.Tensor) -> torch.Tensor:
            return torch.gather(t, 1, idx[..., None].expand_as(t))

        return Forward(
            inputs=[take(t) for t in fwd.inputs],
            pre=[take(t) for t in fwd.pre],
            hidden=[take(t) for t in fwd.hidden],
            out=take(fwd.out),
        )


class ShuffledFresh(FreshGaussian):
    """Fresh Gaussian batches whose targets are permuted within every batch (per seed, from
    its ``"extra"`` stream), so inputs and outputs are unpaired (control ``shuffled-labels``).
    :attr:`teacher` is a :class:`BatchPermuted` copy of the teacher holding the current
    batch's permutation, for the matrix gradient."""

    def __init__(self, teacher: Net, data_std: float = 1.0) -> None:
        super().__init__(
            BatchPermuted(teacher.weights, activation=teacher.activation, slope=teacher.slope),
            data_std,
        )

    def batches(
        self, seeds: Sequence[int], steps: int, batch: int | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gens = [generator(s, "extra") for s in seeds]
        plain = FreshGaussian(Net(self.teacher.weights), self.data_std)
        for x1, y in plain.batches(seeds, steps, batch):
            perm = torch.stack([torch.randperm(y.shape[1], generator=g) for g in gens])
            self.teacher.perm = perm
            yield x1, torch.gather(y, 1, perm.to(y.device)[..., None].expand_as(y))


def training_source(settings: FanoutSettings, teacher: Net, seeds: Sequence[int]) -> FreshGaussian:
    """Where the training batches come from under ``settings.control``: the teacher
    (``"none"``), an independent teacher of the same kind drawn from each seed's
    ``"different-teacher"`` stream (``"different-teacher"``), or the teacher with targets
    permuted within each batch (``"shuffled-labels"``). Its ``teacher`` is the one the matrix
    gradient uses."""
    s = settings
    if s.control == "different-teacher":
        other = e1_teacher(
            s.d,
            s.m,
            s.c,
            [stream_seed(seed, "different-teacher") for seed in seeds],
            bias=s.bias,
            dtype=s.dtype,
            device=teacher.device,
        )
        return FreshGaussian(other, s.data_std)
    if s.control == "shuffled-labels":
        return ShuffledFresh(teacher, s.data_std)
    return FreshGaussian(teacher, s.data_std)


def compute(
    settings: FanoutSettings, seeds: list[int], device: torch.device, progress: bool = False
) -> FanoutResult:
    """Run E1 for every seed at once, then (not in a control run) the lottery-ticket demo; see
    :class:`FanoutResult`. Correlations and losses are always scored against the original
    teacher."""
    teacher, student, probe = build(settings, seeds, device)
    init = student.clone()
    project = settings.top_init == "teacher_noise"
    source = training_source(settings, teacher, seeds)
    method, step_fn = update_rule(settings.dynamics, source.teacher, project_top_layer=project)

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
        source,
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
    s = len(seeds)
    cpu = lambda ws: [w.detach().cpu().numpy() for w in ws]  # noqa: E731
    if settings.control == "none":
        lottery = lottery_ticket(settings, seeds, teacher, init, student, probe, progress)
    else:  # a control run tests the claims only: no lottery
        nan = np.full(s, np.nan)
        lottery = {
            "keep": np.zeros((s, settings.n), bool),
            "random_keep": np.zeros((s, settings.n), bool),
            "loss_before_prune": nan,
            "loss_after_prune": nan,
            "retrain_steps": np.zeros(0, int),
            "ticket_loss": np.zeros((0, s)),
            "random_loss": np.zeros((0, s)),
            "wall_time_s": 0.0,
        }
    wall = lottery.pop("wall_time_s")
    return FanoutResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=traj.wall_time_s + wall,
        steps=np.asarray(traj.steps),
        fanout=rec["fanout"],
        student_best=rec["student_best"],
        student_match=rec["student_match"],
        teacher_best=rec["teacher_best"],
        eval_loss=rec["eval_loss"],
        unlucky=unlucky_mask(settings.n, settings.m),
        teacher=cpu(teacher.weights),
        student_init=cpu(init.weights),
        student=cpu(student.weights),
        **lottery,
    )


def lottery_ticket(
    settings: FanoutSettings,
    seeds: Sequence[int],
    teacher: Net,
    init: Net,
    student: Net,
    probe: Probe,
    progress: bool = False,
) -> dict[str, Any]:
    """The lottery-ticket demo (LM §5): prune the trained student's small fan-out, then retrain
    the ticket and a random subnetwork of the same size from the initial weights, side by
    side on the same minibatches. Returns :class:`FanoutResult`'s lottery fields and the
    retraining's ``wall_time_s``."""
    project = settings.top_init == "teacher_noise"
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
    return {
        "keep": keep.cpu().numpy(),
        "random_keep": rand.cpu().numpy(),
        "loss_before_prune": loss_before.cpu().numpy(),
        "loss_after_prune": loss_after.cpu().numpy(),
        "retrain_steps": np.asarray(pair_traj.steps),
        "ticket_loss": pair_loss[:, :s],
        "random_loss": pair_loss[:, s:],
        "wall_time_s": pair_traj.wall_time_s,
    }


def fanout_start_ratio(
    scale: str | None = None, seeds: Sequence[int] | int | None = None, **overrides: Any
) -> float:
    """The descriptive ratio of medians (lucky over unlucky fan-out, pooled over seeds) of the
    *untrained* student at ``scale`` with ``overrides`` (e.g. ``top_scale=0.001``): no step is
    taken. It shows what the start alone gives the end-point ratio."""
    exp = FANOUT
    settings = exp.settings(scale, **overrides)
    seed_list = resolve_seeds(
        exp.default_seeds[scale or default_scale()] if seeds is None else seeds
    )
    _, student, _ = build(settings, seed_list, torch.device("cpu"))
    fan = fanout_norms(student.weights[1]).numpy()  # [S, n]
    unlucky = unlucky_mask(settings.n, settings.m)
    return float(np.median(fan[:, ~unlucky]) / np.median(fan[:, unlucky]))


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
        run_controls={
            "different-teacher": RunControl(
                "the student trained on an independent teacher of the same kind; lucky, "
                "unlucky and specialized still scored against the original teacher",
                replace_settings(control="different-teacher"),
            ),
            "shuffled-labels": RunControl(
                "targets permuted within each fresh batch (inputs and outputs unpaired)",
                replace_settings(control="shuffled-labels"),
            ),
        },
    )
)
