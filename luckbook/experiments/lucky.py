"""E2 — luck matters: student nodes that start closer to a teacher node converge faster (LM).

E1's setting (:mod:`luckbook.experiments.fanout`) with ``multi = 1`` by default: student
hidden node ``j`` starts at teacher node ``j`` plus ``init_std·N(0, 1)`` noise (hidden columns
then unit-normalised; the top layer as in E1, ``top_init``/``top_scale``, the same at every
level), for several noise levels ``init_std ∈ init_stds`` trained side by side on one seed
axis (each level has its own noise draw; the levels of one seed share the teacher and the
minibatches). At log-spaced snapshots we record every student node's best correlation with
any teacher node; a node's **time to τ** is the first snapshot step at which that
correlation is ≥ τ (0 if it starts there). Nodes that never reach τ are *censored*: their
time is set to ``steps``, i.e. they are ranked (tied) after every node that did reach τ.

The claims (registry :mod:`luckbook.claims`, section E2) are tested **within** a noise level
and inferred at **seed** level: for each seed, Spearman's ρ between initial best
correlation and time to τ over the nodes that start *below* τ (a node that starts at or
above τ has time 0 by definition, and would make ρ negative even for a student that never
moves); the claim statistic is the mean of the per-seed ρ over seeds, with a bootstrap
interval over seeds. A frozen student has no arrivals: every per-seed ρ is undefined, and
so is its statistic.

Descriptive only (not claims): :attr:`LuckyResult.test`, Spearman's ρ pooled over every
node, level and seed with a permutation p-value that treats nodes as independent, and
:attr:`LuckyResult.level_tests`, one pooled test per level over the nodes that start below
τ. SciPy is not needed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ..claims import Stat, bootstrap
from ..config import check_choice, check_float, check_int, check_taus, resolve_dtype
from ..data import FreshGaussian, gaussian
from ..ensemble import Net
from ..evaluate import Probe
from ..metrics import best_per_student
from ..result import Result
from ..rng import stream_seed
from ..train import snapshot_steps, train
from .base import Experiment, register
from .fanout import DYNAMICS, TOP_INITS, e1_student, e1_teacher, repeat, stack, update_rule

ALTERNATIVES = ("less", "greater", "two-sided")


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


def rank_corr(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's ρ of ``x [n]`` and ``y [n]`` (average ranks for ties); NaN when it is
    undefined: fewer than 3 pairs, or a constant variable (e.g. nobody arrived)."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x has {x.size} values and y has {y.size}; they must pair up")
    if x.size < 3:
        return math.nan
    rx = average_ranks(x)
    ry = average_ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / denom if denom > 0 else math.nan


def _nanmean(values: Sequence[float]) -> float:
    vals = np.asarray(values, dtype=float)
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if vals.size else math.nan


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
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x has {x.size} values and y has {y.size}; they must pair up")
    permutations = check_int("permutations", permutations, minimum=1)
    check_choice("alternative", alternative, ALTERNATIVES)
    n = x.size
    if n < 3:
        raise ValueError(f"n={n} is not allowed: Spearman's rho needs at least 3 pairs")
    rx = average_ranks(x)
    ry = average_ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
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
    """Time to ``tau``: ``corr [T, ...]`` at snapshot ``steps [T]`` -> ``(time [...], reached [...])``.

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
    init_stds: tuple[float, ...] = (0.05, 0.1, 0.3, 1.0)  # hidden noise levels (one run)
    top_scale: float = 0.1  # top-layer noise N(0, top_scale²), the same for every level
    top_init: str = "teacher_noise"  # top-layer start as in E1 (released) or "noise"
    dynamics: str = "projected-matrix"  # "projected-matrix" (LM's released E1 dynamics) or "sgd"
    lr: float = 0.05  # learning rate
    batch: int = 64  # fresh N(0, data_std² I) samples per step
    steps: int = 20_000  # training steps
    data_std: float = 1.0  # input standard deviation
    tau: float = 0.95  # a node has converged when its best correlation reaches tau
    n_eval: int = 4096  # eval-set size for the correlations
    n_snapshots: int = 200  # log-spaced snapshots after step 0 (the time resolution)
    permutations: int = 9999  # permutation-test draws for the p-value
    dtype: str = "float64"  # "float64" or "float32"

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
                f"init_stds={self.init_stds!r} is not allowed: expected at least one noise level > 0"
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
        resolve_dtype(self.dtype)
        if self.n_snapshots > self.steps:
            raise ValueError(
                f"n_snapshots={self.n_snapshots!r} is not allowed: expected at most steps={self.steps}"
            )


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # By 6000 steps all but ~1 of 320 nodes have reached 0.95 (4 seeds, measured).
    "book": {"steps": 6000, "n_snapshots": 120, "n_eval": 2048},
    "tiny": {
        "steps": 1500,
        "n_snapshots": 50,
        "n_eval": 1024,
        "m": 8,
        "c": 12,
        "permutations": 1999,
    },
}
SEEDS = {"paper": 8, "book": 4, "tiny": 3}


# ----------------------------------------------------------------------------- result


@dataclasses.dataclass
class LuckyResult(Result[LuckySettings]):
    """Everything E2 measures (``T`` snapshots, ``L`` noise levels, ``S`` seeds, ``n`` nodes).

    Attributes:
        settings, seeds, device, wall_time_s: how it was made.
        steps: ``[T]`` snapshot steps (log-spaced); init_stds: ``[L]``.
        corr, match: ``[T, L, S, n]`` each student node's best correlation with a teacher node,
            and which teacher node.
        eval_loss: ``[T, L, S]``.
        time, reached: ``[L, S, n]`` time to ``tau`` (``steps`` if never: censored) and whether
            it was reached.
        test: DESCRIPTIVE: the rank test pooled over every level, seed and node (nodes that
            start above ``tau`` included, with time 0); level_tests: DESCRIPTIVE: one pooled
            test per level over the nodes that start below ``tau``. Neither is a claim: the
            claims (:meth:`claim_stats`) are per seed and within a level.
    """

    EXPERIMENT: ClassVar[str] = "lucky"

    steps: np.ndarray
    init_stds: np.ndarray
    corr: np.ndarray
    match: np.ndarray
    eval_loss: np.ndarray
    time: np.ndarray
    reached: np.ndarray
    test: RankTest
    level_tests: list[RankTest | None]

    @property
    def init_corr(self) -> np.ndarray:
        """``[L, S, n]`` each node's best correlation at initialisation."""
        return self.corr[0]

    CLAIM_LEVELS: ClassVar[dict[str, float]] = {
        "E2.faster-0.1": 0.1,
        "E2.faster-0.3": 0.3,
        "E2.faster-1": 1.0,
    }
    """The noise level each E2 claim is tested within (registry :mod:`luckbook.claims`)."""

    def level_index(self, init_std: float) -> int:
        """Index of noise level ``init_std`` on the level axis."""
        hits = np.flatnonzero(np.isclose(self.init_stds, init_std))
        if not len(hits):
            raise ValueError(
                f"init_std={init_std!r} is not allowed: this run has levels {self.init_stds.tolist()}"
            )
        return int(hits[0])

    def seed_rhos(
        self, init_std: float, control: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(rho [S], eligible [S])`` at noise level ``init_std``: per seed, Spearman's ρ between
        initial best correlation and time to ``tau`` over the nodes that start below ``tau``
        (NaN where undefined), and how many nodes that is. ``control="frozen"``: the same on
        the student frozen at step 0 (no node ever arrives, so every ρ is undefined)."""
        k = self.level_index(init_std)
        corr = self.corr[:, k]  # [T, S, n]
        if control == "frozen":
            corr = np.broadcast_to(corr[:1], corr.shape)
        time, _ = first_reach(corr, self.steps, self.settings.tau)
        start = corr[0]
        rhos, counts = [], []
        for s in range(len(self.seeds)):
            below = start[s] < self.settings.tau
            rhos.append(rank_corr(start[s][below], time[s][below]))
            counts.append(int(below.sum()))
        return np.asarray(rhos), np.asarray(counts)

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """Per claim (one noise level each): the mean over seeds of the per-seed ρ of
        :meth:`seed_rhos`, with a bootstrap interval over seeds (undefined seeds left out)."""
        out = {}
        for cid, level in self.CLAIM_LEVELS.items():
            if not np.isclose(self.init_stds, level).any():
                nan = math.nan
                out[cid] = Stat(nan, nan, nan, 0, f"init_std={level:g} was not run")
                continue
            rhos, counts = self.seed_rhos(level, control)
            k = self.level_index(level)
            arrived = int(
                (self.reached[k] & (self.corr[0, k] < self.settings.tau)).sum()
                if control is None
                else 0
            )
            detail = (
                f"init_std {level:g}: {int(counts.sum())} of {counts.size * self.settings.n} nodes "
                f"start below {self.settings.tau:g}, {arrived} of them arrive; per seed rho "
                + ", ".join("—" if not np.isfinite(r) else f"{r:.2f}" for r in rhos)
            )
            out[cid] = bootstrap(list(rhos), _nanmean, detail=detail)
        return out

    def numbers(self, step: int | None = None) -> str:
        """The claim's numbers, plus how many nodes have reached ``tau`` by ``step``."""
        t = self.snapshot_index(step)
        tau = self.settings.tau
        done = (self.corr[: t + 1] >= tau).any(0)  # [L, S, n]
        per_level = ", ".join(
            f"{v:g}: {int(done[k].sum())}/{done[k].size}" for k, v in enumerate(self.init_stds)
        )
        return (
            f"step {int(self.steps[t])}: nodes that reached {tau} by init_std {per_level}\n"
            f"descriptive, pooled over every node: {self.test}"
        )

    def summary(self) -> str:
        """Per noise level: initial correlation, median time to ``tau``, censored count, ρ."""
        s = self.settings
        lines = [
            f"lucky (E2): d={s.d}, m={s.m}, n={s.n}, c={s.c}, {s.dynamics}, lr={s.lr:g}, "
            f"{s.steps} steps, tau={s.tau:g}",
            f"{len(self.seeds)} seeds × {len(self.init_stds)} noise levels on {self.device}, {self.wall_time_s:.1f} s",
            f"{'init_std':>8} {'init corr':>10} {'start >= tau':>12} {'median time':>12} "
            f"{'censored':>9} {'seed-mean rho':>14}",
        ]
        for k, v in enumerate(self.init_stds):
            rhos, _ = self.seed_rhos(float(v))
            above = int((self.init_corr[k] >= s.tau).sum())
            lines.append(
                f"{v:>8g} {self.init_corr[k].mean():>10.3f} {above:>12d} {np.median(self.time[k]):>12g} "
                f"{int((~self.reached[k]).sum()):>9d} {_nanmean(rhos):>14.3f}"
            )
        lines.append(
            "seed-mean rho: per seed, Spearman rho(initial corr, time to tau) over the nodes "
            "that start below tau, averaged over seeds (the claim statistic)"
        )
        lines.append(f"descriptive, pooled over every node (not a claim): {self.test}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, the pooled and per-level tests, per-seed node numbers."""
        return {
            "experiment": "lucky",
            "settings": dataclasses.asdict(self.settings),
            "device": self.device,
            "wall_time_s": self.wall_time_s,
            "steps": self.steps.tolist(),
            "spearman": dataclasses.asdict(self.test),
            "levels": [
                {
                    "init_std": float(v),
                    "spearman": None
                    if self.level_tests[k] is None
                    else dataclasses.asdict(self.level_tests[k]),
                    "seed_rho": [
                        None if not np.isfinite(r) else float(r)
                        for r in self.seed_rhos(float(v))[0]
                    ],
                }
                for k, v in enumerate(self.init_stds)
            ],
            "seeds": [
                {
                    "seed": seed,
                    "init_corr": self.init_corr[:, s].tolist(),
                    "time_to_tau": self.time[:, s].tolist(),
                    "reached": self.reached[:, s].tolist(),
                    "final_corr": self.corr[-1, :, s].tolist(),
                    "eval_loss": float(self.eval_loss[-1, :, s].mean()),
                    "eval_loss_per_level": self.eval_loss[-1, :, s].tolist(),
                }
                for s, seed in enumerate(self.seeds)
            ],
        }


# ----------------------------------------------------------------------------- compute


def level_seed(seed: int, init_std: float) -> int:
    """The student-noise stream of ``seed`` at noise level ``init_std`` (independent draws per level)."""
    return stream_seed(seed, f"lucky-init_std={init_std!r}")


def compute(
    settings: LuckySettings, seeds: list[int], device: torch.device, progress: bool = False
) -> LuckyResult:
    """Train every (noise level, seed) pair on one seed axis; see :class:`LuckyResult`."""
    levels = [float(v) for v in settings.init_stds]
    L, S = len(levels), len(seeds)
    teacher = e1_teacher(
        settings.d,
        settings.m,
        settings.c,
        seeds,
        bias=settings.bias,
        dtype=settings.dtype,
        device=device,
    )
    students = [
        e1_student(
            teacher,
            settings.multi,
            [level_seed(seed, v) for seed in seeds],
            init_scale=v,
            top_scale=settings.top_scale,
            top_init=settings.top_init,
        )
        for v in levels
    ]
    student = stack(students)  # member k·S + s: level k, seed s
    teachers = repeat(teacher, L)
    x_eval = gaussian(
        settings.n_eval, settings.d, seeds, data_std=settings.data_std, stream="eval_data"
    )
    probe = Probe(teachers, x_eval.repeat(L, 1, 1))
    method, step_fn = update_rule(
        settings.dynamics, teachers, project_top_layer=settings.top_init == "teacher_noise"
    )

    def on_snapshot(step: int, net: Net) -> dict[str, torch.Tensor]:
        ev = probe.evaluate(net)
        best, match = best_per_student(ev["corr"][0])
        return {
            "corr": best.cpu().clone(),
            "match": match.cpu().clone(),
            "loss": ev["loss"].cpu().clone(),
        }

    traj = train(
        student,
        FreshGaussian(teachers, settings.data_std),
        list(seeds) * L,  # the levels of one seed share its minibatches
        lr=settings.lr,
        steps=settings.steps,
        batch=settings.batch,
        method=method,
        step_fn=step_fn,
        snapshots=snapshot_steps(settings.steps, settings.n_snapshots, "log"),
        on_snapshot=on_snapshot,
        progress=progress,
    )
    steps = np.asarray(traj.steps)
    T = len(steps)
    corr = torch.stack([r["corr"] for r in traj.records]).numpy().reshape(T, L, S, -1)
    match = torch.stack([r["match"] for r in traj.records]).numpy().reshape(T, L, S, -1)
    loss = torch.stack([r["loss"] for r in traj.records]).numpy().reshape(T, L, S)
    time, reached = first_reach(corr, steps, settings.tau)
    kw = {"permutations": settings.permutations, "alternative": "less"}
    test = spearman(corr[0].ravel(), time.ravel(), **kw)
    level_tests = []
    for k in range(L):
        below = corr[0, k] < settings.tau
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
    )


LUCKY = register(
    Experiment(
        result_cls=LuckyResult,
        name="lucky",
        key="E2",
        summary="lucky nodes converge faster: initial correlation vs time to reach tau (Spearman test)",
        settings_cls=LuckySettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
    )
)
