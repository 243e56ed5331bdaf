"""The result of E1 (``fanout``) and the analysis of its stored arrays: the claim statistics
(the decay of each never-specialized unlucky node's fan-out relative to its own start, and
its contrast with the lucky nodes'), the descriptive ratio of medians, the lottery-ticket
numbers, summaries and the CLI's JSON.

Nothing here runs during :func:`~luckbook.experiments.fanout.compute`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from ..claims import ClaimReport, Stat, bootstrap, fmt_interval, pooled_median
from ..dynamics import fanout_decay
from ..ensemble import Net
from ..result import Result

if TYPE_CHECKING:
    from ..experiments.fanout import FanoutSettings  # noqa: F401 (Result["FanoutSettings"])


def geometric_mean(values: np.ndarray, axis: int | None = None) -> Any:
    """Geometric mean of positive ``values`` (losses span orders of magnitude): a float, or an
    array along ``axis``. Values are floored at ``1e-300`` so that a zero loss is finite."""
    mean = np.exp(np.log(np.maximum(values, 1e-300)).mean(axis))
    return float(mean) if axis is None else mean


def _ratio(lucky: float, unlucky: float) -> float:
    """Lucky median / unlucky median; ``inf`` when the unlucky median is zero."""
    return lucky / unlucky if unlucky > 0 else float("inf")


def _net(weights: list[np.ndarray]) -> Net:
    return Net([torch.from_numpy(w) for w in weights])


def _fmt(values: np.ndarray) -> str:
    return f"{geometric_mean(values):.2e} (geometric mean)"


@dataclasses.dataclass
class FanoutResult(Result["FanoutSettings"]):
    """Everything E1 measures, as NumPy arrays (``T`` snapshots, ``S`` seeds, ``n`` student
    nodes).

    Attributes:
        steps: ``[T]`` snapshot steps (log-spaced).
        fanout: ``[T, S, n]`` fan-out norm of every student hidden node.
        student_best, student_match: ``[T, S, n]`` each student node's best correlation with a
            teacher node and which one.
        teacher_best: ``[T, S, m]`` each teacher node's best correlation over students.
        eval_loss: ``[T, S]`` loss on the eval set.
        unlucky: ``[n]`` True for the nodes that started as pure noise (``j ≥ m``).
        keep, random_keep: ``[S, n]`` the nodes kept by pruning, and a random subset of the
            same size per seed.
        loss_before_prune, loss_after_prune: ``[S]`` eval loss of the trained student before
            and after pruning.
        retrain_steps: ``[R]`` snapshot steps of the retraining; ticket_loss, random_loss:
            ``[R, S]`` eval loss of the retrained ticket / random subnetwork.
        teacher, student_init, student: weights per layer ``[S, in+1, out]``.

    The wall time is that of both training phases.
    """

    EXPERIMENT: ClassVar[str] = "fanout"

    steps: np.ndarray
    fanout: np.ndarray
    student_best: np.ndarray
    student_match: np.ndarray
    teacher_best: np.ndarray
    eval_loss: np.ndarray
    unlucky: np.ndarray
    keep: np.ndarray
    random_keep: np.ndarray
    loss_before_prune: np.ndarray
    loss_after_prune: np.ndarray
    retrain_steps: np.ndarray
    ticket_loss: np.ndarray
    random_loss: np.ndarray
    teacher: list[np.ndarray]
    student_init: list[np.ndarray]
    student: list[np.ndarray]

    CLAIM_IDS: ClassVar[dict[str, dict[str, str]]] = {
        "projected-matrix": {
            "decay": "E1.unlucky-decay",
            "shrunk": "E1.unlucky-shrunk",
            "contrast": "E1.decay-contrast",
        },
        "sgd": {
            "decay": "E1.unlucky-decay-sgd",
            "shrunk": "E1.unlucky-shrunk-sgd",
            "contrast": "E1.decay-contrast-sgd",
        },
    }
    """The claims each dynamics' run computes (registry :mod:`luckbook.claims`, E1)."""

    TAU: ClassVar[float] = 0.95
    """Specialization level: a node is *specialized* once its best correlation with a teacher
    node (the original teacher, also in control runs) reaches ``TAU``."""

    SHRUNK: ClassVar[float] = 0.1
    """A node *shrank tenfold* when its fan-out at the end is below ``SHRUNK`` times its own
    fan-out at the start."""

    # ------------------------------------------------------------------ decay over time
    def never_specialized(self) -> np.ndarray:
        """``[S, n]`` bool: the unlucky nodes (started as pure noise) whose best correlation
        with any teacher node stays below :attr:`TAU` at every snapshot."""
        return self.unlucky[None, :] & (self.student_best.max(axis=0) < self.TAU)

    def decay(self, step: int | None = None) -> np.ndarray:
        """``[S, n]``: every node's fan-out at ``step`` (default: the last snapshot) over its own
        fan-out at step 0 (:func:`luckbook.dynamics.fanout_decay`)."""
        return fanout_decay(self.fanout[0], self.fanout[self.snapshot_index(step)])

    def _decay_groups(self, step: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
        ratio, never = self.decay(step), self.never_specialized()
        return [(ratio[i][never[i]], ratio[i][~self.unlucky]) for i in range(len(self.seeds))]

    def _where(self, step: int | None) -> str:
        return f"{self.settings.dynamics}, step {int(self.steps[self.snapshot_index(step)])}"

    def decay_stat(self, step: int | None = None) -> Stat:
        """Median of :meth:`decay` over the never-specialized unlucky nodes (pooled over seeds),
        with a 90 % bootstrap interval over seeds."""
        groups = self._decay_groups(step)
        per_seed = ", ".join(f"{np.median(g):.3g}" if len(g) else "—" for g, _ in groups)
        count = sum(len(g) for g, _ in groups)
        detail = f"{self._where(step)}; {count} nodes; median per seed {per_seed}"
        return bootstrap([g for g, _ in groups], lambda items: pooled_median(items), detail=detail)

    def shrunk_stat(self, step: int | None = None) -> Stat:
        """Fraction of the never-specialized unlucky nodes (pooled over seeds) whose fan-out
        shrank at least tenfold (:meth:`decay` below :attr:`SHRUNK`), bootstrap over seeds."""
        groups = [g for g, _ in self._decay_groups(step)]

        def fraction(items: list[np.ndarray]) -> float:
            total = sum(len(g) for g in items)
            return sum(int((g < self.SHRUNK).sum()) for g in items) / total if total else np.nan

        shrunk = sum(int((g < self.SHRUNK).sum()) for g in groups)
        detail = f"{self._where(step)}; {shrunk} of {sum(len(g) for g in groups)} nodes"
        return bootstrap(groups, fraction, detail=detail)

    def shrunk_fractions(self, step: int | None = None) -> np.ndarray:
        """``[S]``: per seed, the fraction of the never-specialized unlucky nodes whose fan-out
        shrank at least tenfold by ``step`` (NaN for a seed without such nodes)."""
        return np.array(
            [(g < self.SHRUNK).mean() if len(g) else np.nan for g, _ in self._decay_groups(step)]
        )

    def contrast_stat(self, step: int | None = None) -> Stat:
        """Median :meth:`decay` of the lucky nodes over that of the never-specialized unlucky
        nodes (each pooled over seeds), bootstrap over seeds: how much more the unlucky
        nodes' fan-out shrank than the lucky nodes'."""
        groups = self._decay_groups(step)

        def stat(items: list[tuple[np.ndarray, np.ndarray]]) -> float:
            never = pooled_median([g for g, _ in items])
            lucky = pooled_median([h for _, h in items])
            return _ratio(lucky, never)

        lucky = pooled_median([h for _, h in groups])
        detail = f"{self._where(step)}; lucky nodes' median decay {lucky:.3g}"
        return bootstrap(groups, stat, detail=detail)

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """The E1 claims on this run (``control="frozen"``: the same statistics with the end
        at step 0, where every node's fan-out equals its start).

        A run computes the claims of its own dynamics; the other dynamics' claims come from
        the partner run passed to :meth:`claims` (undefined without one)."""
        step = 0 if control == "frozen" else None
        stats: dict[str, Stat] = {}
        partner = getattr(self, "_partner", None)
        for dyn, ids in self.CLAIM_IDS.items():
            if dyn == self.settings.dynamics:
                run = self
            elif partner is not None and partner.settings.dynamics == dyn:
                run = partner
            else:
                nan = float("nan")
                stats.update(
                    {
                        cid: Stat(nan, nan, nan, 0, f"needs the dynamics={dyn!r} run")
                        for cid in ids.values()
                    }
                )
                continue
            stats[ids["decay"]] = run.decay_stat(step)
            stats[ids["shrunk"]] = run.shrunk_stat(step)
            stats[ids["contrast"]] = run.contrast_stat(step)
        return stats

    def control_stats(self, name: str) -> dict[str, Stat]:
        """The claims under control ``name``; for a control run, the partner run's control
        run supplies the other dynamics' claims."""
        if name in self.CONTROLS:
            return self.claim_stats(name)
        run = self.control_result(name)
        partner = getattr(self, "_partner", None)
        run._partner = None if partner is None else partner.control_result(name)
        try:
            return run.claim_stats(None)
        finally:
            del run._partner

    def claims(
        self, control: str | None = None, *, other: FanoutResult | None = None
    ) -> ClaimReport:
        """The E1 claim report. ``other``: the same run with the other ``dynamics`` (same
        seeds), for the claims of that dynamics; without it those rows are *undefined*."""
        if other is not None:
            if other.settings.dynamics == self.settings.dynamics:
                raise ValueError(
                    f"other has dynamics={other.settings.dynamics!r} like this run: "
                    "expected the other one"
                )
            if list(other.seeds) != list(self.seeds):
                raise ValueError(
                    f"other has seeds {other.seeds}; this run has {self.seeds}: expected the same"
                )
        self._partner = other
        try:
            return super().claims(control)
        finally:
            del self._partner

    # ------------------------------------------------------------------ the L-shape ratio
    def ratio_stat(self, step: int | None = None) -> Stat:
        """Descriptive, not a claim: median fan-out of the lucky nodes / median fan-out of the
        unlucky nodes at ``step`` (each pooled over seeds), 90 % bootstrap interval over
        seeds. The start alone can make it large (a top layer started near the teacher's), so
        it is no evidence of decay."""
        fan = self.fanout[self.snapshot_index(step)]
        per_seed = [(f[~self.unlucky], f[self.unlucky]) for f in fan]

        def stat(items: list[tuple[np.ndarray, np.ndarray]]) -> float:
            lucky = pooled_median([a for a, _ in items])
            unlucky = pooled_median([b for _, b in items])
            return _ratio(lucky, unlucky)

        return bootstrap(per_seed, stat, detail=self._where(step))

    def ratio_interval(self, step: int | None = None) -> str:
        """The 90 % bootstrap interval of :meth:`ratio_stat` as text, e.g. ``[120, 340]``."""
        return fmt_interval(self.ratio_stat(step))

    # ------------------------------------------------------------------ medians and ratios
    def medians(self, step: int | None = None) -> tuple[float, float]:
        """Median fan-out of the lucky and of the unlucky nodes at ``step``, pooled over seeds."""
        fan = self.fanout[self.snapshot_index(step)]
        return float(np.median(fan[:, ~self.unlucky])), float(np.median(fan[:, self.unlucky]))

    def ratio(self, step: int | None = None) -> float:
        """The E1 claim's number: median lucky fan-out / median unlucky fan-out (pooled)."""
        return _ratio(*self.medians(step))

    def seed_ratios(self, step: int | None = None) -> np.ndarray:
        """``[S]``: the ratio of medians per seed."""
        fan = self.fanout[self.snapshot_index(step)]
        return np.median(fan[:, ~self.unlucky], axis=1) / np.median(fan[:, self.unlucky], axis=1)

    def copies(self, threshold: float = 0.01) -> int:
        """How many unlucky nodes (over every seed) kept a fan-out of at least ``threshold``
        times their seed's largest at the last snapshot."""
        fan = self.fanout[-1]  # [S, n]
        high = fan >= threshold * fan.max(axis=1, keepdims=True)
        return int((high & self.unlucky).sum())

    # ------------------------------------------------------------------ the lottery ticket
    def lottery_numbers(self) -> str:
        """The lottery-ticket demo in four lines."""
        kept = self.keep.sum(1)
        kept_lucky = (self.keep & ~self.unlucky).sum(1)
        return (
            f"pruned nodes with fan-out < {self.settings.prune_below:g} × the largest: kept "
            f"{kept.tolist()} of {self.settings.n} per seed ({kept_lucky.tolist()} of them "
            "lucky)\n"
            f"eval loss before pruning {_fmt(self.loss_before_prune)}, "
            f"after {_fmt(self.loss_after_prune)}\n"
            f"retrained {int(self.retrain_steps[-1])} steps from the initial weights: ticket "
            f"{_fmt(self.ticket_loss[-1])}\n"
            f"random subnetwork of the same size {_fmt(self.random_loss[-1])}"
        )

    def check_lottery(self, tolerance: float = 1e-3) -> str:
        """Check the lottery-ticket demo and return the numbers checked (four lines): pruning
        keeps every lucky node; it changes the loss by at most ``tolerance`` times the initial
        loss in every seed; the retrained ticket beats the random subnetwork (geometric means
        over seeds). Raises ``AssertionError`` naming the first check that fails."""
        kept_lucky = bool(self.keep[:, ~self.unlucky].all())
        before, after = self.loss_before_prune, self.loss_after_prune
        initial = self.eval_loss[0]
        ticket, random = geometric_mean(self.ticket_loss[-1]), geometric_mean(self.random_loss[-1])
        if not kept_lucky:
            raise AssertionError("pruning by fan-out removed a lucky node")
        if not ((after - before) <= tolerance * initial).all():
            raise AssertionError("pruning changed the loss noticeably")
        if not ticket < random:
            raise AssertionError("the ticket did not beat a random subnetwork")
        return (
            f"every lucky node kept: {kept_lucky}\n"
            f"loss before pruning {geometric_mean(before):.2e}, after {geometric_mean(after):.2e}"
            f", initial {geometric_mean(initial):.3g}\n"
            "(after - before) / initial, largest over seeds: "
            f"{((after - before) / initial).max():.1e}\n"
            f"retrained: ticket {ticket:.2e}, random subnetwork {random:.2e}"
        )

    # ------------------------------------------------------------------ text and JSON
    def numbers(self, step: int | None = None) -> str:
        """Three lines of the key numbers at snapshot ``step``."""
        t = self.snapshot_index(step)
        fan = self.fanout[t]
        lucky, unlucky = fan[:, ~self.unlucky], fan[:, self.unlucky]
        lo, hi = self.medians(step)
        return (
            f"step {int(self.steps[t])} ({self.settings.dynamics}): fan-out of lucky nodes "
            f"{lucky.min():.3g} … {lucky.max():.3g} (median {lo:.3g})\n"
            f"unlucky nodes {unlucky.min():.2g} … {unlucky.max():.2g} (median {hi:.2g}); "
            f"ratio of medians {self.ratio(step):.3g}\n"
            f"eval loss (mean over {len(self.seeds)} seeds) {self.eval_loss[t].mean():.3g}"
        )

    def summary(self) -> str:
        """A per-seed table: lucky/unlucky fan-out medians, ratio, loss, lottery, decay."""
        s = self.settings
        lines = [
            f"fanout (E1): d={s.d}, m={s.m}, n={s.n}, c={s.c}, init_scale={s.init_scale:g}, "
            f"top_scale={s.top_scale:g} ({s.top_init}), "
            f"{s.dynamics}, lr={s.lr:g}, {s.steps} steps",
            self.made(),
            f"{'seed':>5} {'lucky med':>10} {'unlucky med':>12} {'ratio':>9} {'eval loss':>10} "
            f"{'pruned loss':>12} {'ticket':>9} {'random':>9} {'decay':>8}",
        ]
        decay, never = self.decay(), self.never_specialized()
        nan = np.full((1, len(self.seeds)), np.nan)
        ticket = self.ticket_loss if len(self.ticket_loss) else nan  # none in a control run
        random = self.random_loss if len(self.random_loss) else nan
        fan = self.fanout[-1]
        ratios = self.seed_ratios()
        for i, seed in enumerate(self.seeds):
            lines.append(
                f"{seed:>5} {np.median(fan[i, ~self.unlucky]):>10.3g} "
                f"{np.median(fan[i, self.unlucky]):>12.3g} {ratios[i]:>9.3g} "
                f"{self.eval_loss[-1, i]:>10.2e} {self.loss_after_prune[i]:>12.2e} "
                f"{ticket[-1, i]:>9.2e} {random[-1, i]:>9.2e} "
                f"{np.median(decay[i][never[i]]) if never[i].any() else np.nan:>8.3g}"
            )
        lines.append(
            f"pooled ratio of medians (descriptive): {self.ratio():.3g}; decay = median end/start "
            f"fan-out of the never-specialized unlucky nodes"
        )
        return "\n".join(lines)

    def networks(self) -> tuple[Net, Net, Net]:
        """``(teacher, student at init, trained student)`` rebuilt on the CPU."""
        return _net(self.teacher), _net(self.student_init), _net(self.student)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, timing, pooled claim numbers and per-seed final numbers."""
        lucky, unlucky = self.medians()
        ratios = self.seed_ratios()
        decay, never = self.decay(), self.never_specialized()
        return {
            **self.json_header(),
            "median_decay_never_specialized": float(np.median(decay[never]))
            if never.any()
            else None,
            "median_decay_lucky": float(np.median(decay[:, ~self.unlucky])),
            "median_fanout_lucky": lucky,
            "median_fanout_unlucky": unlucky,
            "ratio": self.ratio(),
            "seeds": [
                {
                    "seed": seed,
                    "fanout": self.fanout[-1, s].tolist(),
                    "unlucky": self.unlucky.tolist(),
                    "ratio": float(ratios[s]),
                    "decay": decay[s].tolist(),
                    "never_specialized": never[s].tolist(),
                    "student_best_corr": self.student_best[-1, s].tolist(),
                    "teacher_best_corr": self.teacher_best[-1, s].tolist(),
                    "covered": {"0.95": int((self.teacher_best[-1, s] > 0.95).sum())},
                    "eval_loss": float(self.eval_loss[-1, s]),
                    "kept": self.keep[s].tolist(),
                    "loss_after_prune": float(self.loss_after_prune[s]),
                    "ticket_loss": float(self.ticket_loss[-1, s]),
                    "random_subnetwork_loss": float(self.random_loss[-1, s]),
                }
                for s, seed in enumerate(self.seeds)
            ],
        }
