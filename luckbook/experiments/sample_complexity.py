"""E5 — sample complexity with the boundary augmentation (SS).

The two-layer teacher–student of E4 (same teacher, same student, same SGD), trained on a
*fixed* training set of size ``N`` that is either Gaussian or boundary-augmented
(:func:`~luckbook.data.boundary_augmented`: points on and on both sides of every teacher
boundary). Coverage (teachers with a student of correlation > τ) and the eval loss are
measured on a separate Gaussian eval set.

Every training-set size, both data kinds and every seed train together in one batched
program: the ensemble axis holds ``len(n_trains) · len(kinds) · S`` students. Member
``(N, kind, seed)`` has the teacher, the initial student and the minibatch indices of seed
``seed`` (so the two data kinds see paired minibatch positions, and a Gaussian member
reproduces E4's ``two-layer`` run with ``n_train = N`` step for step).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from .. import costs
from ..claims import E5_CLAIM_N, E5_GRIDS, E5_TAU, Stat, bootstrap, seed_mean
from ..config import DEFAULT_TAUS, check_choice, check_float, check_int, check_taus, resolve_dtype
from ..data import CHUNK_VALUES, boundary_augmented, gaussian
from ..ensemble import Net, with_ones
from ..evaluate import SEED_GROUP
from ..metrics import best_per_student, best_per_teacher
from ..result import Result
from ..rng import generator
from ..train import snapshot_steps, train
from .base import Experiment, register
from .two_layer import E4Common, TwoLayerSettings, build

KINDS = ("gaussian", "augmented")
NEAR = 0.1
"""A training point is "near" teacher boundary ``i`` when ``|w_iᵀx + b_i| < NEAR`` (with unit
``w_i`` this is a distance; 0.1 is the teacher's ``|bias|`` in the released setting)."""
SHIFT_POINTS = 1_000
"""Points per teacher node used to measure the off-boundary shift of the rescale."""


@dataclasses.dataclass(frozen=True)
class SampleComplexitySettings(E4Common):
    """Settings of E5; the defaults are the ``paper`` scale: the setting of SS's supplementary
    sample-complexity figure (arXiv:1909.13458, Fig. 9: d = 100, m = 5, p = 1, N from 30 to
    1110, α ~ U[2, 4], 20 epochs × 5 000 SGD steps) on E4's released two-layer teacher.

    Gaussian training and eval inputs are ``x ~ N(0, data_std² I)``; augmented inputs get norm
    ``data_std·√d``.
    """

    m: int = 5  # teacher hidden width
    multi: int = 5  # width multiplier: the student has n = multi·m hidden nodes
    p: float = 1.0  # teacher strength decay: fan-out of teacher node i divided by (i+1)^p
    n_trains: tuple[int, ...] = E5_GRIDS["paper"]  # training-set sizes N (SS Fig. 9)
    data: str = "both"  # training-set kinds: "both", "gaussian" or "augmented"
    alpha_mean: float = 2.0  # augmentation shift α = alpha_mean + alpha_sigma·U[0, 1] (Fig. 9: 2)
    alpha_sigma: float = 2.0  # (released defaults 1 and 1: α ~ U[1, 2]; Fig. 9: 2 and 2)
    n_snapshots: int = 20  # evaluations after step 0 (Fig. 9: one per epoch)
    taus: tuple[float, ...] = DEFAULT_TAUS  # thresholds at which teachers count as covered

    @property
    def n(self) -> int:
        """Student hidden width ``multi · m``."""
        return self.multi * self.m

    @property
    def kinds(self) -> tuple[str, ...]:
        """The data kinds trained: ``("gaussian", "augmented")`` for ``data="both"``."""
        return KINDS if self.data == "both" else (self.data,)

    def two_layer(self, n_train: int) -> TwoLayerSettings:
        """The E4 settings of one ``(N, gaussian)`` member (used to build teacher, student, eval set)."""
        return TwoLayerSettings(
            **self.common(), m=self.m, multi=self.multi, p=self.p, n_train=n_train, taus=self.taus
        )

    def validate(self) -> None:
        for name in ("m", "multi"):
            check_int(name, getattr(self, name), minimum=1)
        if not isinstance(self.n_trains, tuple) or not self.n_trains:
            raise ValueError(
                f"n_trains={self.n_trains!r} is not allowed: expected a non-empty tuple of sizes >= 1"
            )
        for n in self.n_trains:
            check_int("n_trains", n, minimum=1)
        if len(set(self.n_trains)) != len(self.n_trains):
            raise ValueError(
                f"n_trains={self.n_trains!r} is not allowed: the sizes must be distinct"
            )
        check_choice("data", self.data, ("both", *KINDS))
        check_float("p", self.p, low=0.0)
        check_float("alpha_mean", self.alpha_mean, low=0.0, low_open=True)
        check_float("alpha_sigma", self.alpha_sigma, low=0.0)
        check_taus("taus", self.taus)
        self.validate_common()


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"steps": 100_000},
    # E4's released two-layer setting (m = 10, p = 0, α ~ U[1, 2] as in the released code) at
    # E4's book length (20 000 steps). The sizes are the grid registered with the E5 claims
    # (luckbook.claims.E5_GRIDS); see the registry's note for how it was chosen.
    "book": {
        "m": 10,
        "p": 0.0,
        "alpha_mean": 1.0,
        "alpha_sigma": 1.0,
        "steps": 20_000,
        "n_trains": E5_GRIDS["book"],
        "n_eval": 4_000,
        "n_snapshots": 10,
    },
    # d = 50 rather than E4's tiny d = 20: at d = 20 (m = 5) the small-N regime where the
    # augmentation helps is not reached (see the chapter); d = 50 with m = 5 reaches it.
    "tiny": {
        "d": 50,
        "m": 5,
        "multi": 2,
        "c": 10,
        "p": 0.0,
        "alpha_mean": 1.0,
        "alpha_sigma": 1.0,
        "steps": 4_000,
        "n_trains": E5_GRIDS["tiny"],
        "n_eval": 2_000,
        "n_snapshots": 4,
    },
}
SEEDS = {"paper": 32, "book": 6, "tiny": 4}


class StackedSets:
    """Several fixed training sets of different sizes stacked along the ensemble axis.

    Group ``g`` holds ``x [S, N_g, d]`` and ``y [S, N_g, c]``; ensemble member ``g·S + s`` trains
    on sample set ``s`` of group ``g``. Minibatches are drawn with replacement; member ``(g, s)``
    uses the minibatch stream of seed ``s`` exactly as :class:`~luckbook.data.FixedSet` does,
    so a member sees the same indices as a :class:`~luckbook.data.FixedSet` run of that size.
    The sets are stored flat (no padding).
    """

    def __init__(self, xs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor]) -> None:
        if not xs or len(xs) != len(ys):
            raise ValueError("xs and ys must be non-empty lists of equal length")
        self.sizes = [int(x.shape[1]) for x in xs]
        self.n_seeds = int(xs[0].shape[0])
        self.flat_x = torch.cat([with_ones(x).reshape(-1, x.shape[-1] + 1) for x in xs])
        self.flat_y = torch.cat([y.reshape(-1, y.shape[-1]) for y in ys])
        starts = np.cumsum([0] + [self.n_seeds * n for n in self.sizes])[:-1]
        self.offsets = [
            int(starts[g]) + s * n for g, n in enumerate(self.sizes) for s in range(self.n_seeds)
        ]

    def batches(
        self, seeds: Sequence[int], steps: int, batch: int | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``steps`` pairs ``(x1 [M, B, d+1], y [M, B, c])`` for the ``M`` members."""
        if batch is None:
            raise ValueError("batch=None is not allowed here: the training sets differ in size")
        members = len(self.offsets)
        if len(seeds) != members:
            raise ValueError(
                f"seeds has {len(seeds)} entries; the stacked sets have {members} members"
            )
        chunk = max(1, CHUNK_VALUES // batch)  # FixedSet's chunking, so the indices agree
        sizes = [n for n in self.sizes for _ in range(self.n_seeds)]
        gens = [generator(s, "batches") for s in seeds]
        offset = torch.tensor(self.offsets)[:, None]
        done = 0
        while done < steps:
            k = min(chunk, steps - done)
            idx = torch.stack(
                [
                    torch.randint(n, (chunk, batch), generator=g)
                    for n, g in zip(sizes, gens, strict=True)
                ],
                dim=1,
            )[:k]
            idx = (idx + offset).reshape(k, members * batch).to(self.flat_x.device)
            for i in range(k):
                yield (
                    self.flat_x.index_select(0, idx[i]).view(members, batch, -1),
                    self.flat_y.index_select(0, idx[i]).view(members, batch, -1),
                )
            done += k


def tile(net: Net, k: int) -> Net:
    """The ensemble ``net`` repeated ``k`` times along the seed axis (group-major)."""
    return dataclasses.replace(net, weights=[w.repeat(k, 1, 1) for w in net.weights])


def boundary_sides(teacher: Net, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Where the points ``x [S, N, d]`` lie relative to every first-layer teacher boundary.

    Returns ``[S, m]`` tensors: ``positive`` (fraction with ``w_iᵀx + b_i > 0``) and ``near``
    (number with ``|w_iᵀx + b_i| < NEAR``).
    """
    z = torch.bmm(with_ones(x), teacher.weights[0].to(x.device, x.dtype))  # [S, N, m]
    return {
        "positive": (z > 0).double().mean(dim=1).cpu(),
        "near": (z.abs() < NEAR).sum(dim=1).cpu(),
    }


def rescale_shift(
    teacher: Net,
    seeds: Sequence[int],
    data_std: float,
    alpha_mean: float = 1.0,
    alpha_sigma: float = 1.0,
    points: int = SHIFT_POINTS,
) -> torch.Tensor:
    """``[S, m]``: median ``|w_iᵀx + b_i|`` of boundary-``i`` points after the final rescale.

    :func:`~luckbook.data.boundary_augmented` does not label its points, so for each teacher
    node ``i`` we run it on the one-node teacher ``{w_i, b_i}`` with ``3·points`` points: a third
    of them are projections onto the boundary (exactly on it before the rescale), the other
    two thirds are shifted by ``±α w_i`` (``|w_iᵀx + b_i| ≳ 0.8`` after the rescale), so the
    smallest third of ``|w_iᵀx + b_i|`` are the projected points. Their construction is the
    same as in a full augmented set, so the distribution of the shift is too.
    """
    w1 = teacher.weights[0].detach().to("cpu", torch.float64)  # [S, d + 1, m]
    n_seeds, m = w1.shape[0], w1.shape[2]
    out = torch.empty(n_seeds, m, dtype=torch.float64)
    for i in range(m):
        single = Net([w1[:, :, i : i + 1], torch.zeros(n_seeds, 2, 1, dtype=torch.float64)])
        x = boundary_augmented(
            single,
            3 * points,
            seeds,
            data_std=data_std,
            alpha_mean=alpha_mean,
            alpha_sigma=alpha_sigma,
            stream=f"shift:{i}",
        )
        z = (torch.bmm(with_ones(x), w1[:, :, i : i + 1])[..., 0]).abs()  # [S, 3·points]
        out[:, i] = z.sort(dim=1).values[:, :points].median(dim=1).values
    return out


@dataclasses.dataclass
class SampleComplexityResult(Result[SampleComplexitySettings]):
    """Everything E5 measures, as NumPy arrays. Axes: ``T`` snapshots, ``G = len(n_trains)``
    sizes, ``K = len(kinds)`` data kinds, ``S`` seeds.

    Attributes:
        settings, seeds, device, wall_time_s: how it was made.
        steps: ``[T]`` snapshot steps.
        teacher_best: ``[T, G, K, S, m]`` best correlation of each teacher node over students
            (on the Gaussian eval set).
        eval_loss, train_loss: ``[T, G, K, S]`` (train loss on each member's own training set).
        covered: ``{tau: [T, G, K, S]}`` number of teachers covered at ``tau``.
        student_best, fanout: ``[G, K, S, n]`` final best correlation and fan-out of each student node.
        positive, near: ``[G, K, S, m]`` where each training set lies relative to each teacher
            boundary (see :func:`boundary_sides`).
        shift: ``[S, m]`` median off-boundary shift of the augmentation's boundary points (see
            :func:`rescale_shift`).
        teacher: final teacher weights per layer ``[S, in+1, out]``.
    """

    EXPERIMENT: ClassVar[str] = "sample-complexity"

    steps: np.ndarray
    teacher_best: np.ndarray
    eval_loss: np.ndarray
    train_loss: np.ndarray
    covered: dict[float, np.ndarray]
    student_best: np.ndarray
    fanout: np.ndarray
    positive: np.ndarray
    near: np.ndarray
    shift: np.ndarray
    teacher: list[np.ndarray]

    def index(self, n_train: int, kind: str) -> tuple[int, int]:
        """``(g, k)`` of training-set size ``n_train`` and data kind ``kind``."""
        s = self.settings
        if n_train not in s.n_trains:
            raise ValueError(
                f"n_train={n_train!r} is not allowed: this run has n_trains={s.n_trains}"
            )
        if kind not in s.kinds:
            raise ValueError(f"kind={kind!r} is not allowed: this run has kinds={s.kinds}")
        return s.n_trains.index(n_train), s.kinds.index(kind)

    def fraction_covered(self, tau: float = 0.95, step: int | None = None) -> np.ndarray:
        """``[G, K, S]`` fraction of teachers covered at ``tau`` (any ``tau`` in (0, 1))."""
        tau = check_float("tau", tau, low=0.0, high=1.0, low_open=True, high_open=True)
        t = self.snapshot_index(step)
        return (self.teacher_best[t] > tau).mean(-1)

    def claim_n(self) -> tuple[int, str]:
        """The ``N`` the claims are evaluated at: the registered one of this run's scale
        (:data:`~luckbook.claims.E5_CLAIM_N`), else the smallest ``N`` of the run."""
        scale = self.scale()
        n = E5_CLAIM_N.get(scale)
        if n is not None and n in self.settings.n_trains:
            return n, f"N = {n} (registered for scale {scale})"
        n = min(self.settings.n_trains)
        return n, f"N = {n} (the smallest of this run; scale {scale} has no registered N)"

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """E5's claims at the registered ``N`` (:meth:`claim_n`), coverage at τ = 0.95 on the
        Gaussian eval set at the last snapshot (``control="frozen"``: at step 0).

        ``E5.aug-gain``: mean over seeds of (augmented − Gaussian) fraction of teacher nodes
        covered, paired by seed (same teacher, initial student and minibatch positions).
        ``E5.aug-coverage``: mean over seeds of the augmented fraction covered.
        """
        s = self.settings
        t = 0 if control == "frozen" else len(self.steps) - 1
        n, where = self.claim_n()
        if set(KINDS) - set(s.kinds):
            nan = Stat(np.nan, np.nan, np.nan, len(self.seeds), "needs data='both'")
            return {"E5.aug-gain": nan, "E5.aug-coverage": nan}
        g = s.n_trains.index(n)
        frac = (self.teacher_best[t, g] > E5_TAU).mean(-1)  # [K, S]
        gauss, aug = frac[s.kinds.index("gaussian")], frac[s.kinds.index("augmented")]
        per_seed = list(zip(gauss.tolist(), aug.tolist(), strict=True))
        counts = (
            f"{where}; teacher nodes covered per seed: augmented "
            f"{np.round(aug * s.m).astype(int).tolist()}, Gaussian "
            f"{np.round(gauss * s.m).astype(int).tolist()} (of {s.m})"
        )
        return {
            "E5.aug-gain": bootstrap(
                per_seed, lambda xs: float(np.mean([a - g_ for g_, a in xs])), detail=counts
            ),
            "E5.aug-coverage": seed_mean(aug, detail=where),
        }

    def coverage_table(self, tau: float = 0.95, step: int | None = None) -> str:
        """Mean ± std over seeds of the fraction covered, one row per ``N``."""
        frac = self.fraction_covered(tau, step)
        s = self.settings
        head = f"{'N':>7} " + " ".join(f"{k + ' @' + str(tau):>22}" for k in s.kinds)
        lines = [head]
        for g, n in enumerate(s.n_trains):
            cells = [
                f"{frac[g, k].mean():.3f} ± {frac[g, k].std():.3f} ({frac[g, k].mean() * s.m:.1f}/{s.m})"
                for k in range(len(s.kinds))
            ]
            lines.append(f"{n:>7} " + " ".join(f"{c:>22}" for c in cells))
        return "\n".join(lines)

    def numbers(self, step: int | None = None, tau: float = 0.95) -> str:
        """Key numbers at snapshot ``step``: coverage per N and kind, eval loss."""
        t = self.snapshot_index(step)
        s = self.settings
        frac = self.fraction_covered(tau, step)
        parts = []
        for g, n in enumerate(s.n_trains):
            cells = ", ".join(f"{kind} {frac[g, k].mean():.2f}" for k, kind in enumerate(s.kinds))
            parts.append(f"N={n}: {cells}")
        loss = ", ".join(
            f"{kind} {self.eval_loss[t, :, k].mean():.2g}" for k, kind in enumerate(s.kinds)
        )
        return (
            f"step {int(self.steps[t])}: fraction of teachers covered at {tau} (mean over "
            f"{len(self.seeds)} seeds) — "
            + "; ".join(parts)
            + f"\neval loss (mean over N and seeds): {loss}"
        )

    def augmentation_numbers(self) -> str:
        """The off-boundary shift of the rescale and the side fractions, per data kind."""
        s = self.settings
        lines = []
        for k, kind in enumerate(s.kinds):
            pos = self.positive[:, k]
            near = self.near[:, k] / np.asarray(s.n_trains)[:, None, None]
            line = (
                f"{kind}: fraction on the positive side of a boundary {pos.mean():.3f} "
                f"(range {pos.min():.3f}–{pos.max():.3f}); within {NEAR} of a boundary "
                f"{near.mean():.3f} of the points per boundary"
            )
            lines.append(line)
        lines.append(
            f"augmentation: boundary points sit at median |wᵀx+b| = {np.median(self.shift):.4f} after "
            f"the rescale (per teacher node and seed {self.shift.min():.4f}–{self.shift.max():.4f}; "
            f"the teacher bias is {s.bias:g})"
        )
        return "\n".join(lines)

    def summary(self, tau: float = 0.95) -> str:
        s = self.settings
        return "\n".join(
            [
                f"sample complexity (E5): d={s.d}, m={s.m}, multi={s.multi}, c={s.c}, p={s.p:g}, "
                f"{s.activation}; {s.steps} SGD steps; {len(self.seeds)} seeds × "
                f"{len(s.n_trains)} sizes × {len(s.kinds)} kinds on {self.device}, {self.wall_time_s:.1f} s",
                "fraction of teachers covered (mean ± std over seeds, mean count):",
                self.coverage_table(tau),
                self.augmentation_numbers(),
            ]
        )

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, timing, and per (N, kind, seed) final numbers."""
        s = self.settings
        rows = []
        for g, n in enumerate(s.n_trains):
            for k, kind in enumerate(s.kinds):
                for i, seed in enumerate(self.seeds):
                    rows.append(
                        {
                            "n_train": n,
                            "kind": kind,
                            "seed": seed,
                            "teacher_best_corr": self.teacher_best[-1, g, k, i].tolist(),
                            "covered": {
                                str(t): int(v[-1, g, k, i]) for t, v in self.covered.items()
                            },
                            "eval_loss": float(self.eval_loss[-1, g, k, i]),
                            "train_loss": float(self.train_loss[-1, g, k, i]),
                            "fraction_positive": self.positive[g, k, i].tolist(),
                            "near_boundary": self.near[g, k, i].tolist(),
                        }
                    )
        return {
            "experiment": "sample-complexity",
            "settings": dataclasses.asdict(s),
            "device": self.device,
            "wall_time_s": self.wall_time_s,
            "steps": self.steps.tolist(),
            "boundary_shift_median": self.shift.tolist(),
            "runs": rows,
        }


def training_sets(
    settings: SampleComplexitySettings, teacher: Net, seeds: Sequence[int], device: torch.device
) -> list[torch.Tensor]:
    """The ``G · K`` training inputs ``[S, N, d]`` in member-group order (``N`` major, kind minor)."""
    dtype = resolve_dtype(settings.dtype)
    xs = []
    for n in settings.n_trains:
        for kind in settings.kinds:
            if kind == "gaussian":
                x = gaussian(n, settings.d, seeds, data_std=settings.data_std)
            else:
                x = boundary_augmented(
                    teacher,
                    n,
                    seeds,
                    data_std=settings.data_std,
                    alpha_mean=settings.alpha_mean,
                    alpha_sigma=settings.alpha_sigma,
                )
            xs.append(x.to(device, dtype))
    return xs


def _loss(net: Net, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``[S]`` square loss of every member on its own set, two seeds at a time (small temporaries)."""
    out = []
    for lo in range(0, net.n_seeds, SEED_GROUP):
        sl = slice(lo, lo + SEED_GROUP)
        diff = net.select(sl)(x[sl]) - y[sl]
        out.append(0.5 * diff.square().sum(dim=(1, 2)) / x.shape[1])
    return torch.cat(out)


def compute(
    settings: SampleComplexitySettings,
    seeds: list[int],
    device: torch.device,
    progress: bool = False,
) -> SampleComplexityResult:
    """Run E5 for every size, kind and seed at once; see :class:`SampleComplexityResult`."""
    start = time.perf_counter()
    teacher, student, _, eval_probe, _ = build(
        settings.two_layer(min(settings.n_trains)), seeds, device
    )
    xs = training_sets(settings, teacher, seeds, device)
    ys = [teacher(x) for x in xs]
    groups = len(xs)
    n_seeds = len(seeds)
    source = StackedSets(xs, ys)
    members = tile(student, groups)
    member_seeds = [s for _ in range(groups) for s in seeds]
    shape = (len(settings.n_trains), len(settings.kinds), n_seeds)

    def on_snapshot(step: int, net: Net) -> dict[str, torch.Tensor]:
        best, ev_loss, tr_loss = [], [], []
        for g in range(groups):
            sub = net.select(slice(g * n_seeds, (g + 1) * n_seeds))
            ev = eval_probe.evaluate(sub)
            best.append(best_per_teacher(ev["corr"][0]))
            ev_loss.append(ev["loss"])
            tr_loss.append(_loss(sub, xs[g], ys[g]))
        return {
            "teacher_best": torch.stack(best).detach().cpu(),
            "eval_loss": torch.stack(ev_loss).detach().cpu(),
            "train_loss": torch.stack(tr_loss).detach().cpu(),
        }

    traj = train(
        members,
        source,
        member_seeds,
        lr=settings.lr,
        steps=settings.steps,
        batch=settings.batch,
        method="sgd",
        snapshots=snapshot_steps(settings.steps, settings.n_snapshots, settings.spacing),
        on_snapshot=on_snapshot,
        progress=progress,
    )
    rec = traj.records
    teacher_best = torch.stack([r["teacher_best"] for r in rec]).numpy()
    teacher_best = teacher_best.reshape(len(rec), *shape, settings.m)
    eval_loss = torch.stack([r["eval_loss"] for r in rec]).numpy().reshape(len(rec), *shape)
    train_loss = torch.stack([r["train_loss"] for r in rec]).numpy().reshape(len(rec), *shape)
    student_best, fanout = [], []
    for g in range(groups):
        sub = members.select(slice(g * n_seeds, (g + 1) * n_seeds))
        ev = eval_probe.evaluate(sub)
        student_best.append(best_per_student(ev["corr"][0])[0])
        fanout.append(ev["fanout"][0])
    stats = [boundary_sides(teacher, x) for x in xs]

    def per_member(key: str) -> np.ndarray:
        return torch.stack([st[key] for st in stats]).numpy().reshape(*shape, settings.m)

    return SampleComplexityResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=time.perf_counter() - start,
        steps=np.asarray(traj.steps),
        teacher_best=teacher_best,
        eval_loss=eval_loss,
        train_loss=train_loss,
        covered={tau: (teacher_best > tau).sum(-1) for tau in settings.taus},
        student_best=torch.stack(student_best).cpu().numpy().reshape(*shape, settings.n),
        fanout=torch.stack(fanout).cpu().numpy().reshape(*shape, settings.n),
        positive=per_member("positive"),
        near=per_member("near"),
        shift=rescale_shift(
            teacher, seeds, settings.data_std, settings.alpha_mean, settings.alpha_sigma
        ).numpy(),
        teacher=[w.cpu().numpy() for w in teacher.weights],
    )


SAMPLE_COMPLEXITY = register(
    Experiment(
        result_cls=SampleComplexityResult,
        name="sample-complexity",
        key="E5",
        summary="Gaussian vs boundary-augmented training sets of size N: teachers covered on Gaussian eval data",
        settings_cls=SampleComplexitySettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=costs.sample_complexity,
    )
)
