"""The result of E2 (``lucky``) and the analysis of its stored arrays: the per-seed,
within-level rank correlations behind the claims, the descriptive pooled tests, summaries
and the CLI's JSON.

Nothing here runs during :func:`~luckbook.experiments.lucky.compute`. The rank statistics
(:func:`~luckbook.experiments.lucky.rank_corr`, :func:`~luckbook.experiments.lucky.spearman`,
:func:`~luckbook.experiments.lucky.first_reach`) live with ``compute``, which uses them and
imports this module, so the methods below import them when called.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..claims import Stat, bootstrap
from ..experiments.fanout import unlucky_mask
from ..result import Result

if TYPE_CHECKING:
    from ..experiments.lucky import (
        LuckySettings,  # noqa: F401 (Result["LuckySettings"])
        RankTest,
    )


def nanmean(values: Sequence[float] | np.ndarray) -> float:
    """Mean of the finite ``values`` (NaN when there is none): the seed mean of per-seed ρ,
    leaving out the seeds where ρ is undefined."""
    vals = np.asarray(values, dtype=float)
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if vals.size else math.nan


@dataclasses.dataclass
class LuckyResult(Result["LuckySettings"]):
    """Everything E2 measures (``T`` snapshots, ``L`` noise levels, ``S`` seeds, ``n`` nodes).

    Attributes:
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

    CLAIM_LEVELS: ClassVar[dict[str, float]] = {
        "E2.faster-0.1": 0.1,
        "E2.faster-0.3": 0.3,
        "E2.faster-1": 1.0,
    }
    """The noise level each E2 claim is tested within (registry :mod:`luckbook.claims`)."""

    @property
    def init_corr(self) -> np.ndarray:
        """``[L, S, n]`` each node's best correlation at initialisation."""
        return self.corr[0]

    @property
    def noise_nodes(self) -> np.ndarray:
        """``[n]`` bool: student nodes ``m…n-1`` start as pure noise (only with ``multi > 1``)."""
        return unlucky_mask(self.settings.n, self.settings.m)

    def level_index(self, init_std: float) -> int:
        """Index of noise level ``init_std`` on the level axis."""
        hits = np.flatnonzero(np.isclose(self.init_stds, init_std))
        if not len(hits):
            raise ValueError(
                f"init_std={init_std!r} is not allowed: this run has levels "
                f"{self.init_stds.tolist()}"
            )
        return int(hits[0])

    # ------------------------------------------------------------------ the claims
    def seed_rhos(
        self,
        init_std: float,
        control: str | None = None,
        among: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(rho [S], eligible [S])`` at noise level ``init_std``: per seed, Spearman's ρ between
        initial best correlation and time to ``tau`` over the nodes that start below ``tau``
        (NaN where undefined), and how many nodes that is. ``control="frozen"``: the same on
        the student frozen at step 0 (no node ever arrives, so every ρ is undefined).
        ``among``: ``[S, n]`` bool, only these nodes (default: every node)."""
        from ..experiments.lucky import first_reach, rank_corr  # (it imports this module)

        k = self.level_index(init_std)
        corr = self.corr[:, k]  # [T, S, n]
        if control == "frozen":
            corr = np.broadcast_to(corr[:1], corr.shape)
        time, _ = first_reach(corr, self.steps, self.settings.tau)
        start = corr[0]
        rhos, counts = [], []
        for s in range(len(self.seeds)):
            below = start[s] < self.settings.tau
            if among is not None:
                below = below & among[s]
            rhos.append(rank_corr(start[s][below], time[s][below]))
            counts.append(int(below.sum()))
        return np.asarray(rhos), np.asarray(counts)

    def seed_mean_rho(
        self, init_std: float, control: str | None = None, among: np.ndarray | None = None
    ) -> float:
        """The claim's number at ``init_std``: the mean over seeds of :meth:`seed_rhos`
        (seeds where ρ is undefined left out; NaN when every seed's is)."""
        return nanmean(self.seed_rhos(init_std, control, among)[0])

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
                f"init_std {level:g}: {int(counts.sum())} of {counts.size * self.settings.n} "
                f"nodes start below {self.settings.tau:g}, {arrived} of them arrive; per seed rho "
                + ", ".join("—" if not np.isfinite(r) else f"{r:.2f}" for r in rhos)
            )
            out[cid] = bootstrap(list(rhos), nanmean, detail=detail)
        return out

    # ------------------------------------------------------------------ descriptive
    def frozen_test(self, permutations: int = 999) -> RankTest:
        """DESCRIPTIVE: the pooled rank test of :attr:`test` on the student frozen at step 0
        (every node keeps its initial correlation: the ones that start at ``tau`` have time 0,
        the others are censored), with ``permutations`` draws."""
        from ..experiments.lucky import first_reach, spearman  # (it imports this module)

        frozen = np.broadcast_to(self.corr[:1], self.corr.shape)
        time, _ = first_reach(frozen, self.steps, self.settings.tau)
        return spearman(self.corr[0].ravel(), time.ravel(), permutations=permutations)

    def converged_nodes(
        self, init_std: float, tau: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(converged [S, n], shared [S, n])`` at noise level ``init_std``: the nodes whose
        best correlation is at least ``tau`` (default: the run's) at the last snapshot, and
        those of them whose best-matching teacher node also has another converged node."""
        k = self.level_index(init_std)
        tau = self.settings.tau if tau is None else tau
        final = self.corr[-1, k] >= tau  # [S, n]
        match = self.match[-1, k]  # [S, n]
        same = match[:, :, None] == match[:, None, :]  # [S, n, n]
        return final, final & ((same & final[:, None, :]).sum(-1) > 1)

    # ------------------------------------------------------------------ text and JSON
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
            f"{len(self.init_stds)} noise levels × {self.made()}",
            f"{'init_std':>8} {'init corr':>10} {'start >= tau':>12} {'median time':>12} "
            f"{'censored':>9} {'seed-mean rho':>14}",
        ]
        for k, v in enumerate(self.init_stds):
            above = int((self.init_corr[k] >= s.tau).sum())
            lines.append(
                f"{v:>8g} {self.init_corr[k].mean():>10.3f} {above:>12d} "
                f"{np.median(self.time[k]):>12g} {int((~self.reached[k]).sum()):>9d} "
                f"{self.seed_mean_rho(float(v)):>14.3f}"
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
            **self.json_header(),
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
