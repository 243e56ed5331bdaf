"""E2 — luck matters: student nodes that start closer to a teacher node converge faster (LM).

E1's setting (:mod:`luckbook.experiments.fanout`) with ``multi = 1`` by default: student
hidden node ``j`` starts at teacher node ``j`` plus ``init_std·N(0, 1)`` noise (hidden columns
then unit-normalised; the top layer as in E1, ``top_init``/``top_scale``, the same at every
level), for several noise levels ``init_std ∈ init_stds`` trained side by side on one seed
axis (each level has its own noise draw; the levels of one seed share the teacher and the
minibatches). At ``n_snapshots`` geometrically spaced snapshots (consecutive ones
``steps ** (1 / n_snapshots) − 1`` apart, :attr:`LuckySettings.time_resolution`) we record
every student node's best correlation ``ρ`` with any teacher node and its fan-out (the norm of
its top-layer row). Per node (:mod:`luckbook.dynamics`): its **arrival** at τ (first snapshot
with ``ρ ≥ τ``, NaN = censored), its **gap halving time** and its **convergence rate** — the
least-squares slope of ``−ln(1 − ρ)`` per step over its converging window
(:func:`~luckbook.dynamics.log_gap_rates`, window ending where the gap reaches
``rate_floor``).

The claims (registry :mod:`luckbook.claims.lucky`) are about the **rate**, within a noise
level, inferred at **seed** level: per seed, Spearman's ρ between a node's initial best
correlation and its rate over the nodes that start below τ; the mean over seeds with a
bootstrap interval. An arrival time is not a rate: at one common rate a node that starts
closer still arrives sooner, so ρ(initial correlation, arrival) is −1 with no luck effect on
speed; it is kept as a descriptive number (:meth:`LuckyResult.arrival_rhos`).

Controls: ``frozen`` (the step-0 student: every rate 0, the statistic undefined) and the run
control ``different-teacher`` (``control="different-teacher"``: the student starts near the
original teacher but is trained on the outputs of an independent teacher of the same kind,
drawn from the seed's ``"different-teacher"`` stream, and every correlation is scored against
the original teacher). Its rates are defined — nodes drift away at different speeds — and
their rank correlation with the initial correlation could take either sign. A
``shuffled-labels`` run (``control="shuffled-labels"``) permutes the teacher's outputs within
every fresh batch; under LM's matrix-gradient dynamics, which read the teacher's activations
rather than its labels, those activations are permuted alike (:class:`ShuffledTeacher`). It was
added after the claim's registration and is not one of its registered controls.

Descriptive only (not claims): :attr:`LuckyResult.test`, Spearman's ρ pooled over every
node, level and seed with a permutation p-value that treats nodes as independent, and
:attr:`LuckyResult.level_tests`, one pooled arrival test per level over the nodes that start
below τ. SciPy is not needed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .. import costs
from ..config import check_choice, check_float, check_int, check_taus, resolve_dtype
from ..data import FreshGaussian, gaussian
from ..dynamics import arrival_times, gap_halving_times, log_gap_rates
from ..ensemble import Forward, Net
from ..evaluate import Probe
from ..metrics import best_per_student
from ..results.lucky import LuckyResult
from ..rng import generator, stream_seed
from ..train import snapshot_steps, train
from .base import Experiment, RunControl, register, replace_settings
from .fanout import DYNAMICS, TOP_INITS, e1_student, e1_teacher, update_rule

ALTERNATIVES = ("less", "greater", "two-sided")
RUN_CONTROLS = ("none", "different-teacher", "shuffled-labels")
"""Values of :attr:`LuckySettings.control`: ``"different-teacher"`` trains the student on an
independent teacher of the same kind (the seed's ``"different-teacher"`` stream) and scores it
against the original one, which it started near; ``"shuffled-labels"`` trains it on the
original teacher with its outputs permuted within every fresh batch (:class:`ShuffledTeacher`)."""


@dataclasses.dataclass
class ShuffledTeacher(Net):
    """The trainer of the ``shuffled-labels`` control: a teacher whose every forward pass sees
    the batch in a fresh random order, one permutation per member drawn from its seed's
    ``"shuffled-labels"`` stream (the levels of one seed share them, as they share batches).
    Its outputs — the labels, and the teacher activations the matrix gradient pairs with the
    student's — are thus unpaired with the inputs the student sees."""

    seeds: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        self._gens = [generator(seed, "shuffled-labels") for seed in self.seeds]

    def forward(self, x: torch.Tensor) -> Forward:
        if x.ndim == 2:
            x = x.unsqueeze(0).expand(self.n_seeds, -1, -1)
        perm = torch.stack([torch.randperm(x.shape[1], generator=g) for g in self._gens])
        idx = perm.to(x.device).unsqueeze(-1).expand(-1, -1, x.shape[-1])
        return super().forward(torch.gather(x, 1, idx))


# ----------------------------------------------------------------------------- statistics


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks ``1…n`` of ``x [n]``, ties sharing the average of their ranks (Spearman's ties)."""
    x = np.asarray(x, dtype=float).ravel()
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.zeros(len(counts))
    np.add.at(sums, inverse, ranks)
    return (sums / counts)[inverse]


def _paired(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x has {x.size} values and y has {y.size}; they must pair up")
    return x, y


def _centred_ranks(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The centred average ranks of ``x`` and ``y`` and the product of their norms: Spearman's
    ρ is ``rx @ ry / denom`` (undefined when ``denom`` is 0, a constant variable)."""
    rx = average_ranks(x)
    ry = average_ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    return rx, ry, math.sqrt(float(rx @ rx) * float(ry @ ry))


def rank_corr(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's ρ of ``x [n]`` and ``y [n]`` (average ranks for ties); NaN when it is
    undefined: fewer than 3 pairs, or a constant variable (e.g. nobody arrived)."""
    x, y = _paired(x, y)
    if x.size < 3:
        return math.nan
    rx, ry, denom = _centred_ranks(x, y)
    return float(rx @ ry) / denom if denom > 0 else math.nan


@dataclasses.dataclass(frozen=True)
class RankTest:
    """Spearman's rank correlation with its p-values (E2).

    Attributes:
        rho: Spearman's ρ (Pearson correlation of the average ranks).
        p_permutation: Monte Carlo permutation p-value ``(1 + #{ρ_perm as extreme}) / (1 + K)``
            (never below ``1 / (1 + K)``).
        p_normal: the large-sample approximation ``z = ρ·√(n − 1) ~ N(0, 1)``.
        n, permutations, alternative: sample size, ``K``, and the alternative hypothesis.
    """

    rho: float
    p_permutation: float
    p_normal: float
    n: int
    permutations: int
    alternative: str

    def __str__(self) -> str:
        return (
            f"Spearman rho = {self.rho:.3f} (n = {self.n}); one-sided p ({self.alternative}): "
            f"permutation {self.p_permutation:.2g} ({self.permutations} permutations), "
            f"normal approximation {self.p_normal:.2g}"
        )


def spearman(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    permutations: int = 9999,
    seed: int = 0,
    alternative: str = "less",
) -> RankTest:
    """Spearman's ρ between ``x [n]`` and ``y [n]`` and its p-value, without SciPy (E2).

    The permutation test shuffles the ranks of ``y`` ``permutations`` times with
    ``numpy.random.default_rng(seed)`` (same inputs → same p-value). ``alternative``:
    ``"less"`` (ρ < 0, the E2 claim), ``"greater"`` or ``"two-sided"``.
    """
    x, y = _paired(x, y)
    permutations = check_int("permutations", permutations, minimum=1)
    check_choice("alternative", alternative, ALTERNATIVES)
    n = x.size
    if n < 3:
        raise ValueError(f"n={n} is not allowed: Spearman's rho needs at least 3 pairs")
    rx, ry, denom = _centred_ranks(x, y)
    if denom == 0:  # a constant variable: no evidence either way
        return RankTest(float("nan"), 1.0, 1.0, n, permutations, alternative)
    rho = float(rx @ ry) / denom
    rng = np.random.default_rng(seed)
    extreme = 0
    tol = 1e-12
    for start in range(0, permutations, 2000):
        k = min(2000, permutations - start)
        perm = rng.permuted(np.broadcast_to(ry, (k, n)), axis=1)
        r = perm @ rx / denom
        if alternative == "less":
            extreme += int((r <= rho + tol).sum())
        elif alternative == "greater":
            extreme += int((r >= rho - tol).sum())
        else:
            extreme += int((np.abs(r) >= abs(rho) - tol).sum())
    z = rho * math.sqrt(n - 1)
    if alternative == "less":
        p_normal = 0.5 * math.erfc(-z / math.sqrt(2))
    elif alternative == "greater":
        p_normal = 0.5 * math.erfc(z / math.sqrt(2))
    else:
        p_normal = math.erfc(abs(z) / math.sqrt(2))
    return RankTest(rho, (1 + extreme) / (1 + permutations), p_normal, n, permutations, alternative)


def first_reach(corr: np.ndarray, steps: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """Time to ``tau``: ``corr [T, ...]`` at snapshot ``steps [T]`` -> ``(time [...],
    reached [...])``.

    ``time`` is the first snapshot step with ``corr ≥ tau``; where it never happens,
    ``reached`` is False and ``time = steps[-1]`` (censored).
    """
    hit = corr >= tau
    reached = hit.any(axis=0)
    time = np.where(reached, np.asarray(steps)[hit.argmax(axis=0)], steps[-1])
    return time, reached


# ----------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class LuckySettings:
    """Settings of E2; the defaults are the ``paper`` scale (E1's released setting, multi = 1)."""

    d: int = 10  # input dimension
    m: int = 20  # teacher hidden width
    c: int = 30  # output dimension
    multi: int = 1  # student hidden width n = multi·m; nodes m…n-1 start as pure noise
    bias: float = 0.0  # teacher bias row before unit-normalising each column
    init_stds: tuple[float, ...] = (0.1, 0.3, 1.0)  # hidden noise levels (one run)
    top_scale: float = 0.1  # top-layer noise N(0, top_scale²), the same for every level
    top_init: str = "teacher_noise"  # top-layer start as in E1 (released) or "noise"
    dynamics: str = "projected-matrix"  # "projected-matrix" (LM's released E1 dynamics) or "sgd"
    lr: float = 0.05  # learning rate
    batch: int = 64  # fresh N(0, data_std² I) samples per step
    steps: int = 20_000  # training steps
    data_std: float = 1.0  # input standard deviation
    tau: float = 0.95  # a node has converged when its best correlation reaches tau
    n_eval: int = 4096  # eval-set size for the correlations
    n_snapshots: int = 200  # geometric snapshots after step 0: ratio steps**(1/n) between them
    rate_floor: float = 1e-4  # a node's rate window ends when its gap 1 - rho reaches this
    permutations: int = 9999  # permutation-test draws for the p-value
    dtype: str = "float64"  # "float64" or "float32"
    control: str = "none"  # "none" or "different-teacher" (a control run, see RUN_CONTROLS)

    @property
    def time_resolution(self) -> float:
        """Relative spacing of consecutive snapshots, ``steps ** (1 / n_snapshots) - 1``: an
        event (arrival, halving) is timed to within this fraction of its step."""
        return self.steps ** (1.0 / self.n_snapshots) - 1.0

    @property
    def n(self) -> int:
        """Student hidden width ``multi · m``."""
        return self.multi * self.m

    def validate(self) -> None:
        for name in ("d", "m", "c", "batch", "steps", "n_eval", "n_snapshots", "permutations"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("multi", self.multi, minimum=1)
        check_float("bias", self.bias)
        if isinstance(self.init_stds, (int, float)) or not len(self.init_stds):
            raise ValueError(
                f"init_stds={self.init_stds!r} is not allowed: "
                "expected at least one noise level > 0"
            )
        for v in self.init_stds:
            check_float("init_stds", v, low=0.0, low_open=True)
        if len(set(self.init_stds)) != len(self.init_stds):
            raise ValueError(
                f"init_stds={self.init_stds!r} is not allowed: expected distinct levels"
            )
        check_float("top_scale", self.top_scale, low=0.0, low_open=True)
        check_choice("dynamics", self.dynamics, DYNAMICS)
        check_choice("top_init", self.top_init, TOP_INITS)
        check_float("lr", self.lr, low=0.0, low_open=True)
        check_float("data_std", self.data_std, low=0.0, low_open=True)
        check_taus("tau", self.tau)
        check_float("rate_floor", self.rate_floor, low=0.0, high=1.0, low_open=True, high_open=True)
        check_choice("control", self.control, RUN_CONTROLS)
        resolve_dtype(self.dtype)
        if self.n_snapshots > self.steps:
            raise ValueError(
                f"n_snapshots={self.n_snapshots!r} is not allowed: "
                f"expected at most steps={self.steps}"
            )


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # 75 geometric snapshots over 1000 steps: consecutive snapshots 9.6 % apart. Every node of
    # levels 0.1 and 0.3 halves its gap within 200 steps and closes it to the rate floor within
    # 1000 (development seeds); at level 1 a few percent have not halved by step 1000.
    "book": {"steps": 1000, "n_snapshots": 75, "n_eval": 1024},
    "tiny": {
        "steps": 600,
        "n_snapshots": 40,
        "n_eval": 512,
        "m": 8,
        "c": 12,
        "permutations": 1999,
    },
}
SEEDS = {"paper": 8, "book": 8, "tiny": 3}


# ----------------------------------------------------------------------------- compute


def level_seed(seed: int, init_std: float) -> int:
    """The student-noise stream of ``seed`` at noise level ``init_std`` (independent draws per
    level)."""
    return stream_seed(seed, f"lucky-init_std={init_std!r}")


def compute(
    settings: LuckySettings, seeds: list[int], device: torch.device, progress: bool = False
) -> LuckyResult:
    """Train every (noise level, seed) pair on one seed axis; see :class:`LuckyResult`."""
    s = settings
    levels = [float(v) for v in s.init_stds]
    L, S = len(levels), len(seeds)
    teacher = e1_teacher(s.d, s.m, s.c, seeds, bias=s.bias, dtype=s.dtype, device=device)
    trainer = teacher  # the network whose outputs the student is trained on
    if s.control == "different-teacher":  # an independent teacher of the same kind
        other = [stream_seed(seed, "different-teacher") for seed in seeds]
        trainer = e1_teacher(s.d, s.m, s.c, other, bias=s.bias, dtype=s.dtype, device=device)
    elif s.control != "none":  # shuffled-labels
        trainer = None
    students = [
        e1_student(
            teacher,
            s.multi,
            [level_seed(seed, v) for seed in seeds],
            init_scale=v,
            top_scale=s.top_scale,
            top_init=s.top_init,
        )
        for v in levels
    ]
    student = Net.stack(students)  # member k·S + s: level k, seed s
    teachers = Net.stack([teacher] * L)  # scoring: always the original teacher
    if trainer is None:
        trainers: Net = ShuffledTeacher(
            teachers.weights, teachers.activation, teachers.slope, seeds=tuple(seeds) * L
        )
    else:
        trainers = Net.stack([trainer] * L)
    x_eval = gaussian(s.n_eval, s.d, seeds, data_std=s.data_std, stream="eval_data")
    probe = Probe(teachers, x_eval.repeat(L, 1, 1))
    method, step_fn = update_rule(
        s.dynamics, trainers, project_top_layer=s.top_init == "teacher_noise"
    )
    n = s.n

    def on_snapshot(step: int, net: Net) -> dict[str, torch.Tensor]:
        ev = probe.evaluate(net)
        best, match = best_per_student(ev["corr"][0])
        return {
            "corr": best.cpu().clone(),
            "match": match.cpu().clone(),
            "loss": ev["loss"].cpu().clone(),
            "fanout": net.weights[-1][:, :n].norm(dim=-1).cpu().clone(),  # [members, n]
        }

    traj = train(
        student,
        FreshGaussian(trainers, s.data_std),
        list(seeds) * L,  # the levels of one seed share its minibatches
        lr=s.lr,
        steps=s.steps,
        batch=s.batch,
        method=method,
        step_fn=step_fn,
        snapshots=snapshot_steps(s.steps, s.n_snapshots, "log"),
        on_snapshot=on_snapshot,
        progress=progress,
    )
    steps = np.asarray(traj.steps)
    T = len(steps)
    rec = traj.stacked("corr", "match", "loss", "fanout")
    corr = rec["corr"].numpy().reshape(T, L, S, -1)
    match = rec["match"].numpy().reshape(T, L, S, -1)
    loss = rec["loss"].numpy().reshape(T, L, S)
    fanout = rec["fanout"].numpy().reshape(T, L, S, -1)
    time, reached = first_reach(corr, steps, s.tau)
    kw = {"permutations": s.permutations, "alternative": "less"}
    test = spearman(corr[0].ravel(), time.ravel(), **kw)
    level_tests = []
    for k in range(L):
        below = corr[0, k] < s.tau
        level_tests.append(
            spearman(corr[0, k][below], time[k][below], **kw) if below.sum() >= 3 else None
        )
    return LuckyResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=traj.wall_time_s,
        steps=steps,
        init_stds=np.asarray(levels),
        corr=corr,
        match=match,
        eval_loss=loss,
        time=time,
        reached=reached,
        test=test,
        level_tests=level_tests,
        fanout=fanout,
        arrival=arrival_times(steps, corr, s.tau),
        rate=log_gap_rates(steps, corr, floor=s.rate_floor),
        halving=gap_halving_times(steps, corr),
    )


LUCKY = register(
    Experiment(
        result_cls=LuckyResult,
        name="lucky",
        key="E2",
        summary=(
            "lucky nodes converge faster: initial correlation vs gap halving time, within a "
            "noise level (Spearman, per seed)"
        ),
        settings_cls=LuckySettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=costs.lucky,
        run_controls={
            "different-teacher": RunControl(
                "the student starts near the original teacher but is trained on an independent "
                "teacher of the same kind, and is scored against the original",
                replace_settings(control="different-teacher"),
            ),
            "shuffled-labels": RunControl(
                "the student is trained on the original teacher's outputs permuted within every "
                "fresh batch (inputs and outputs unpaired)",
                replace_settings(control="shuffled-labels"),
            ),
        },
    )
)
