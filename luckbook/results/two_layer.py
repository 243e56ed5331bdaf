"""The result of E4, the two-layer teacher–student setting (``two-layer``), and its analysis.

Conventions of the released code (``catalyst/recon_two_layer.py``) that the book follows:
coverage and success rates use the **eval** set; the L-shape (best correlation against
fan-out, per student node) uses the **training** set; the loss the released code reports is
the mean of ``(y_teacher − y_student)²`` over samples *and outputs*, i.e. our
``½·Σ_outputs`` loss times ``2 / c`` (:func:`released_loss`). Losses are stored in our
convention and printed in the released one.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from .. import dynamics
from ..claims import Stat, seed_mean
from ..config import check_float
from ..ensemble import Net
from ..result import Result

if TYPE_CHECKING:
    from ..experiments.two_layer import TwoLayerSettings


def released_loss(loss: np.ndarray | float, c: int) -> np.ndarray | float:
    """Our loss ``½·E‖y_t − y_s‖²`` (summed over the ``c`` outputs) in the released code's
    convention, the mean of ``(y_t − y_s)²`` over samples and outputs: ``loss · 2 / c``."""
    return loss * (2.0 / c)


def arrivals(steps: np.ndarray, teacher_best: np.ndarray, tau: float = 0.95) -> np.ndarray:
    """``[S, m]`` the first snapshot step at which each teacher node's best correlation reaches
    ``tau`` (:func:`luckbook.dynamics.arrival_times`; NaN = censored, never within the run)."""
    return dynamics.arrival_times(steps, teacher_best, tau)


def covering_window(steps: np.ndarray, arrival: np.ndarray) -> tuple[float, float, int]:
    """The interval in which teacher nodes are being covered — the first and the last arrival
    over every seed and teacher node (``arrival`` from :func:`arrivals`) — and the number of
    snapshots strictly inside it: the frames a time scrubber shows while nodes arrive."""
    hit = arrival[np.isfinite(arrival)]
    if not hit.size:
        return math.nan, math.nan, 0
    first, last = float(hit.min()), float(hit.max())
    steps = np.asarray(steps)
    return first, last, int(((steps > first) & (steps < last)).sum())


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


@dataclasses.dataclass
class TwoLayerResult(Result["TwoLayerSettings"]):
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

    settings: TwoLayerSettings

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
        """``[S]`` teachers covered at ``tau`` after training (any ``tau`` in (0, 1); read from
        ``covered`` when ``tau`` is one of ``settings.taus``)."""
        tau = check_float("tau", tau, low=0.0, high=1.0, low_open=True, high_open=True)
        if tau not in self.covered:
            return (self.teacher_best[-1] > tau).sum(-1)
        return self.covered[tau][-1]

    def arrivals(self, tau: float = 0.95) -> np.ndarray:
        """``[S, m]`` each teacher node's arrival step at ``tau`` (eval set; NaN = never)."""
        return arrivals(self.steps, self.teacher_best, tau)

    def covering_window(self, tau: float = 0.95) -> tuple[float, float, int]:
        """First and last teacher arrival at ``tau`` (over seeds) and the number of snapshots
        strictly between them (:func:`covering_window`)."""
        return covering_window(self.steps, self.arrivals(tau))

    def start_fanout(self) -> float:
        """Median fan-out norm of the student nodes at step 0 (about ``init_scale·√c``)."""
        return float(np.median(self.fanout[0]))

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
        special = self.student_best[-1] >= tau  # eval-set correlation, as the chapter reads it
        loss = released_loss(self.eval_loss[-1], s.c)
        lines = [
            f"two-layer (E4): d={s.d}, m={s.m}, multi={s.multi} (n={s.n}), c={s.c}, p={s.p:g}",
            f"{s.steps} SGD steps, {self.made()}",
            "eval loss: mean of (y_t - y_s)^2 over samples and outputs, as released; "
            "fan-outs split by eval-set correlation (the chapter's definition)",
            f"{'seed':>5} {'covered@' + str(tau):>14} {'eval loss':>10} "
            f"{'fan-out (spec.)':>16} {'fan-out (rest)':>15}",
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
        training (eval set), mean over seeds; the frozen control reads step 0 (the run
        controls are this method on their own runs)."""
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
            **self.json_header(),
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
