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


def _median(values: np.ndarray) -> float:
    """Median of the finite values (NaN, without a warning, when there is none)."""
    vals = np.asarray(values, dtype=float)
    vals = vals[np.isfinite(vals)]
    return float(np.median(vals)) if vals.size else math.nan


def censored_last(times: np.ndarray, last: float) -> np.ndarray:
    """Event times with the censored ones (NaN: never happened in the run) set just after the
    run's ``last`` step, so that they rank, tied, after every observed event."""
    times = np.asarray(times, dtype=float)
    return np.where(np.isnan(times), float(last) + 1.0, times)


def halving_rhos(
    init: np.ndarray, halving: np.ndarray, tau: float, among: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The E2 claim's per-seed numbers: ``init [S, n]`` initial best correlations and
    ``halving [S, n]`` gap halving times (censored ones already ranked last, see
    :func:`censored_last`) -> ``(rho [S], eligible [S])``: per seed, Spearman's ρ between them
    over the nodes that start below ``tau`` (and are in ``among``, ``[S, n]`` bool, when
    given); NaN where undefined (fewer than 3 nodes, or every time equal, as for a frozen
    student whose gaps never halve). Negative: lucky nodes halve their gap sooner.

    Why a halving time: with exponential convergence ``g(t) = g(0) e^{−rt}`` it is ``ln 2 / r``
    whatever ``g(0)``, so it measures speed, not distance; and it reads the *early* phase,
    where the theorem's attraction argument lives (close to convergence every node follows
    the same local dynamics)."""
    from ..dynamics import rank_correlation

    init, halving = np.asarray(init, dtype=float), np.asarray(halving, dtype=float)
    rhos, counts = [], []
    for s in range(init.shape[0]):
        keep = init[s] < tau
        if among is not None:
            keep = keep & among[s]
        rhos.append(rank_correlation(init[s][keep], halving[s][keep]))
        counts.append(int(keep.sum()))
    return np.asarray(rhos), np.asarray(counts)


def rate_rhos(init: np.ndarray, rate: np.ndarray, tau: float) -> np.ndarray:
    """DESCRIPTIVE: per seed, Spearman's ρ between ``init [S, n]`` and the convergence rate
    ``rate [S, n]`` (:func:`luckbook.dynamics.log_gap_rates`, larger = faster) over the nodes
    that start below ``tau``. The rate is a slope over the whole converging window, so the
    final approach, common to every node, weighs in as much as the start."""
    from ..dynamics import rank_correlation

    init, rate = np.asarray(init, dtype=float), np.asarray(rate, dtype=float)
    return np.asarray(
        [
            rank_correlation(init[s][init[s] < tau], rate[s][init[s] < tau])
            for s in range(init.shape[0])
        ]
    )


def arrival_rhos(init: np.ndarray, time: np.ndarray, tau: float) -> np.ndarray:
    """DESCRIPTIVE: per seed, Spearman's ρ between ``init [S, n]`` and time to ``tau``
    ``time [S, n]`` (censored nodes at the last step, tied) over the nodes that start below
    ``tau``. It tests "arrives sooner", not "converges faster": with equal rates
    ``g(t) = g(0) e^{−rt}`` the time to ``tau`` is ``ln(g(0) / (1 − tau)) / r``, smaller for
    every node that starts closer, so this ρ is −1 without any luck effect on speed."""
    from ..dynamics import rank_correlation

    init, time = np.asarray(init, dtype=float), np.asarray(time, dtype=float)
    out = []
    for s in range(init.shape[0]):
        below = init[s] < tau
        out.append(rank_correlation(init[s][below], time[s][below]))
    return np.asarray(out)


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
    fanout: np.ndarray
    arrival: np.ndarray
    rate: np.ndarray
    halving: np.ndarray

    CLAIM_PREFIX: ClassVar[str] = "E2.halving-"
    """Claim ``E2.halving-<level>`` (registry :mod:`luckbook.claims.lucky`) is tested within the
    noise level ``init_std = <level>``."""

    @classmethod
    def claim_levels(cls) -> dict[str, float]:
        """``{claim id: noise level}`` of the registered E2 claims."""
        from ..claims import claims_of

        return {
            c.id: float(c.id[len(cls.CLAIM_PREFIX) :])
            for c in claims_of(cls.EXPERIMENT)
            if c.id.startswith(cls.CLAIM_PREFIX)
        }

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
    def node_halving(self, init_std: float, control: str | None = None) -> np.ndarray:
        """``[S, n]`` each node's gap halving time at noise level ``init_std`` (first snapshot
        step with ``1 − ρ ≤ (1 − ρ(0)) / 2``), the censored ones ranked last
        (:func:`censored_last`). ``control="frozen"``: the student frozen at step 0, whose gaps
        never halve (every node censored)."""
        k = self.level_index(init_std)
        halving = np.full_like(self.halving[k], np.nan) if control == "frozen" else self.halving[k]
        return censored_last(halving, self.steps[-1])

    def seed_rhos(
        self,
        init_std: float,
        control: str | None = None,
        among: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(rho [S], eligible [S])`` at noise level ``init_std``: per seed, Spearman's ρ between
        a node's initial best correlation and its gap halving time (:meth:`node_halving`) over
        the nodes that start below ``tau`` (NaN where undefined), and how many nodes that is
        (:func:`halving_rhos`). ``among``: ``[S, n]`` bool, only these nodes (default: all)."""
        k = self.level_index(init_std)
        return halving_rhos(
            self.corr[0, k], self.node_halving(init_std, control), self.settings.tau, among
        )

    def seed_mean_rho(
        self, init_std: float, control: str | None = None, among: np.ndarray | None = None
    ) -> float:
        """The claim's number at ``init_std``: the mean over seeds of :meth:`seed_rhos`
        (seeds where ρ is undefined left out; NaN when every seed's is)."""
        return nanmean(self.seed_rhos(init_std, control, among)[0])

    def rate_rhos(self, init_std: float) -> np.ndarray:
        """DESCRIPTIVE ``[S]``: per seed, ρ(initial correlation, convergence rate) over the
        nodes that start below ``tau`` (:func:`rate_rhos`)."""
        k = self.level_index(init_std)
        return rate_rhos(self.corr[0, k], self.rate[k], self.settings.tau)

    def arrival_rhos(self, init_std: float) -> np.ndarray:
        """DESCRIPTIVE ``[S]``: per seed, Spearman's ρ between initial best correlation and
        time to ``tau`` over the nodes that start below it (censored nodes tied last). It mixes
        distance with speed — a node that starts closer arrives sooner even at an equal rate —
        so it is not a claim (see :func:`arrival_rhos`)."""
        k = self.level_index(init_std)
        return arrival_rhos(self.corr[0, k], self.time[k], self.settings.tau)

    def descriptive(self) -> dict[str, float]:
        """Per noise level ``v``, the seed means of the three per-seed rank correlations with
        the initial correlation: ``halving-v`` (the claim's statistic, at every level),
        ``rate-v`` and ``arrival-v`` (descriptive)."""
        out = {}
        for v in self.init_stds:
            v = float(v)
            out[f"halving-{v:g}"] = self.seed_mean_rho(v)
            out[f"rate-{v:g}"] = nanmean(self.rate_rhos(v))
            out[f"arrival-{v:g}"] = nanmean(self.arrival_rhos(v))
        return out

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """Per claim (one noise level each): the mean over seeds of the per-seed ρ of
        :meth:`seed_rhos`, with a bootstrap interval over seeds (undefined seeds left out)."""
        out = {}
        for cid, level in self.claim_levels().items():
            if not np.isclose(self.init_stds, level).any():
                nan = math.nan
                out[cid] = Stat(nan, nan, nan, 0, f"init_std={level:g} was not run")
                continue
            rhos, counts = self.seed_rhos(level, control)
            k = self.level_index(level)
            halving = self.halving[k] if control is None else np.full_like(self.halving[k], np.nan)
            below = self.corr[0, k] < self.settings.tau
            halved = int(np.isfinite(halving[below]).sum())
            detail = (
                f"init_std {level:g}: {int(counts.sum())} of {counts.size * self.settings.n} "
                f"nodes start below {self.settings.tau:g}, {halved} of them halve their gap; "
                "per seed rho " + ", ".join("—" if not np.isfinite(r) else f"{r:.2f}" for r in rhos)
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
        """Per noise level: initial correlation, median halving time and time to ``tau``,
        censored counts, and the per-seed rank correlations (seed means)."""
        s = self.settings
        lines = [
            f"lucky (E2): d={s.d}, m={s.m}, n={s.n}, c={s.c}, {s.dynamics}, lr={s.lr:g}, "
            f"{s.steps} steps, {len(self.steps)} geometric snapshots "
            f"({s.time_resolution:.1%} apart), tau={s.tau:g}",
            f"{len(self.init_stds)} noise levels × {self.made()}",
            f"{'init_std':>8} {'init corr':>10} {'start>=tau':>10} {'med halving':>11} "
            f"{'med arrival':>11} {'unhalved':>8} {'rho halving':>11} {'rho rate':>9} "
            f"{'rho arrival':>11}",
        ]
        desc = self.descriptive()
        for k, v in enumerate(self.init_stds):
            above = int((self.init_corr[k] >= s.tau).sum())
            lines.append(
                f"{v:>8g} {self.init_corr[k].mean():>10.3f} {above:>10d} "
                f"{_median(self.halving[k]):>11g} {_median(self.arrival[k]):>11g} "
                f"{int(np.isnan(self.halving[k]).sum()):>8d} {desc[f'halving-{v:g}']:>11.3f} "
                f"{desc[f'rate-{v:g}']:>9.3f} {desc[f'arrival-{v:g}']:>11.3f}"
            )
        lines.append(
            "rho: per seed, Spearman rho between initial best correlation and (halving) the "
            "time to halve the gap 1 - rho [the claim statistic: negative = lucky nodes "
            "converge faster], (rate) the log-gap rate [positive = faster], (arrival) the time "
            "to tau [descriptive: also negative at equal speed], over the nodes that start "
            "below tau, averaged over seeds"
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
                    "seed_rho_halving": [
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
                    "halving_time": [
                        [None if np.isnan(t) else float(t) for t in row]
                        for row in self.halving[:, s]
                    ],
                    "rate": self.rate[:, s].tolist(),
                    "eval_loss": float(self.eval_loss[-1, :, s].mean()),
                    "eval_loss_per_level": self.eval_loss[-1, :, s].tolist(),
                }
                for s, seed in enumerate(self.seeds)
            ],
        }
