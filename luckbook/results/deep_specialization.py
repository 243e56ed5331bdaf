"""The result of E6, specialization in deep networks (``deep-specialization``), and every
analysis of its arrays: the L-shape of each layer (ratio of medians, pooled over seeds), the
claims' statistics with their bootstrap intervals, descriptive statistics, the chapter's
numbers, text and JSON."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..claims import Stat, bootstrap, fmt_interval, glue, pooled_median
from ..config import check_float
from ..dynamics import fanout_decay
from ..metrics import L_SHAPE_HIGH, L_SHAPE_LOW, l_shape_medians, l_shape_ratio, ratio_of_medians
from ..result import Result

if TYPE_CHECKING:
    from ..experiments.deep_specialization import DeepSpecializationSettings

LOW, HIGH = L_SHAPE_LOW, L_SHAPE_HIGH
"""The L-shape ratio compares student nodes with best correlation < LOW and > HIGH; a node
that never exceeds HIGH never specializes."""

DECAY_FACTOR = 0.1
"""A node's fan-out "shrank at least tenfold" when its end/start ratio is ≤ this."""


@dataclasses.dataclass
class DeepSpecializationResult(Result["DeepSpecializationSettings"]):
    """Everything E6 measures, as NumPy arrays (``T`` snapshots, ``S`` seeds, ``L`` hidden
    layers).

    Attributes:
        steps: ``[T]`` snapshot steps; epochs: ``[T]`` the same in epochs; lr: ``[T]`` the
            learning rate in force after each snapshot (MSELoss convention).
        student_best: per hidden layer ``l``, ``[T, S, n_l]``: each student node's best
            correlation with a teacher node of layer ``l``.
        student_match: per hidden layer, ``[T, S, n_l]``: which teacher node that is.
        fanout: per hidden layer, ``[T, S, n_l]``: ``√E_x[β_kk]``, the effective fan-out.
        student_live: per hidden layer, ``[T, S, n_l]`` bool: the student node's activation is
            not constant on the eval set (False: a dead node, correlation 0 by convention).
        teacher_best: per hidden layer, ``[T, S, m_l]``: each teacher node's best correlation.
        teacher_active: per hidden layer, ``[S, m_l]``: fraction of eval inputs on which the
            calibrated teacher node is active (≈ ``target_active``).
        eval_loss: ``[T, S]`` square loss ``½·mean‖y_t − y_s‖²`` on the eval set.
    """

    EXPERIMENT: ClassVar[str] = "deep-specialization"

    steps: np.ndarray
    epochs: np.ndarray
    lr: np.ndarray
    student_best: list[np.ndarray]
    student_match: list[np.ndarray]
    fanout: list[np.ndarray]
    student_live: list[np.ndarray]
    teacher_best: list[np.ndarray]
    teacher_active: list[np.ndarray]
    eval_loss: np.ndarray

    @property
    def n_layers(self) -> int:
        """Number of hidden layers (``depth − 1``)."""
        return len(self.student_best)

    # ------------------------------------------------------------------ the L-shape
    def l_shape(
        self,
        layer: int,
        step: int | None = None,
        low: float = LOW,
        high: float = HIGH,
        include_dead: bool = True,
        seeds: Sequence[int] | None = None,
    ) -> dict[str, float]:
        """The L-shape numbers of hidden ``layer`` at snapshot ``step``, pooled over ``seeds``
        (default: all of the run's), by :func:`~luckbook.metrics.l_shape_medians`.

        Returns ``median_low`` / ``median_high``: the median ``√E[β_kk]`` of student nodes with
        best correlation ``< low`` / ``> high``; ``ratio`` = their quotient (``nan`` when a
        group is empty); ``n_low`` / ``n_high`` the group sizes; ``n_dead`` dead nodes in the
        low group. ``include_dead=False`` leaves dead student nodes out.
        """
        if not 0 <= layer < self.n_layers:
            raise ValueError(
                f"layer={layer!r} is not allowed: hidden layers are 0..{self.n_layers - 1}"
            )
        check_float("low", low, low=-1.0, high=1.0)
        check_float("high", high, low=low, high=1.0)
        t = self.snapshot_index(step)
        rows = self.seed_rows(seeds)
        best, fan = self.student_best[layer][t][rows], self.fanout[layer][t][rows]
        live = self.student_live[layer][t][rows]
        keep = np.ones_like(live) if include_dead else live
        med_lo, med_hi, n_lo, n_hi = l_shape_medians(best[keep], fan[keep], low, high)
        return {
            "ratio": ratio_of_medians(med_lo, med_hi, n_lo, n_hi),
            "median_low": med_lo,
            "median_high": med_hi,
            "n_low": n_lo,
            "n_high": n_hi,
            "n_dead": int(((best < low) & keep & ~live).sum()),
            "n": int(best.size),
        }

    def l_shape_ratio(self, layer: int, step: int | None = None, **kwargs: Any) -> float:
        """``median √E[β_kk] (best < 0.6) / median √E[β_kk] (best > 0.95)`` (see
        :meth:`l_shape`)."""
        return self.l_shape(layer, step, **kwargs)["ratio"]

    def l_shape_ratios(self, layer: int) -> np.ndarray:
        """``[T]``: :meth:`l_shape_ratio` of ``layer`` at every snapshot (``nan`` where a group
        is empty)."""
        return np.array([self.l_shape_ratio(layer, int(s)) for s in self.steps])

    # ------------------------------------------------------------------ fan-out decay
    def never_specialized(self, layer: int = 0, tau: float = HIGH) -> np.ndarray:
        """``[S, n_l]`` bool: the student node's best correlation stays ``≤ tau`` at every
        snapshot of the run (it never specializes)."""
        check_float("tau", tau, low=-1.0, high=1.0)
        return (self.student_best[layer] <= tau).all(0)

    def fanout_decay(self, layer: int = 0) -> np.ndarray:
        """``[S, n_l]``: each node's effective fan-out ``√E[β_kk]`` at the end over its own at
        step 0 (:func:`luckbook.dynamics.fanout_decay`; ``nan`` where it started at 0)."""
        fan = self.fanout[layer]
        return fanout_decay(fan[0], fan[-1])

    def decay_groups(self, layer: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per seed, ``(decay of never-specialized nodes, decay of nodes specialized at the
        end)`` of ``layer`` (:meth:`fanout_decay`, groups by :meth:`never_specialized` and best
        correlation ``> HIGH`` at the last snapshot)."""
        decay, never = self.fanout_decay(layer), self.never_specialized(layer)
        spec = self.student_best[layer][-1] > HIGH
        return [(decay[s][never[s]], decay[s][spec[s]]) for s in range(len(self.seeds))]

    def decay_numbers(self, layer: int = 0) -> dict[str, float]:
        """Pooled over seeds: ``median`` end/start fan-out of never-specialized nodes,
        ``shrunk10`` the fraction of them that shrank at least tenfold (ratio ≤ 0.1),
        ``grew`` the fraction that grew, ``n``; ``median_spec`` / ``n_spec`` the same median
        and count for nodes specialized at the end; ``start`` / ``end`` the median fan-out of
        the never-specialized nodes at step 0 and at the end."""
        groups = self.decay_groups(layer)
        never = np.concatenate([g for g, _ in groups])
        spec = np.concatenate([g for _, g in groups])
        mask = self.never_specialized(layer)
        fan = self.fanout[layer]
        ok = never[np.isfinite(never)]
        return {
            "median": pooled_median([never]),
            "shrunk10": float((ok <= DECAY_FACTOR).mean()) if ok.size else math.nan,
            "grew": float((ok > 1).mean()) if ok.size else math.nan,
            "n": int(never.size),
            "median_spec": pooled_median([spec]),
            "n_spec": int(spec.size),
            "start": float(np.median(fan[0][mask])) if mask.any() else math.nan,
            "end": float(np.median(fan[-1][mask])) if mask.any() else math.nan,
        }

    def _decay_stat(self) -> Stat:
        """``E6.unspecialized-decay``: the pooled median end/start fan-out of layer 0's
        never-specialized nodes, bootstrap over seeds."""
        q = self.decay_numbers(0)
        return bootstrap(
            [g for g, _ in self.decay_groups(0)],
            lambda xs: pooled_median([x[np.isfinite(x)] for x in xs]),
            detail=(
                f"layer 0: {q['n']} never-specialized nodes, median √E[β] {q['start']:.3g} at "
                f"step 0 -> {q['end']:.3g} at the end; shrunk ≥ 10x: {q['shrunk10']:.3f}, grew: "
                f"{q['grew']:.3f}; {q['n_spec']} nodes specialized at the end: median end/start "
                f"{q['median_spec']:.3g}"
            ),
        )

    # ------------------------------------------------------------------ claims
    def _nodes(self, layer: int, t: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per seed, ``(best correlation, √E[β_kk])`` of hidden ``layer``'s nodes at index
        ``t``."""
        best, fan = self.student_best[layer][t], self.fanout[layer][t]
        return [(best[s], fan[s]) for s in range(len(self.seeds))]

    def _ratio_stat(self, layer: int, t: int) -> Stat:
        """``r_layer`` at snapshot index ``t``, every seed's nodes pooled, with its interval."""
        nodes = self._nodes(layer, t)
        q = self.l_shape(layer, int(self.steps[t]))
        return bootstrap(
            nodes,
            pooled_ratio,
            detail=(
                f"layer {layer}, step {int(self.steps[t])}: median √E[β] {q['median_low']:.3g} "
                f"({q['n_low']} nodes < {LOW}) / {q['median_high']:.3g} ({q['n_high']} nodes > "
                f"{HIGH})"
            ),
        )

    def _gap_stat(self, t: int) -> Stat:
        """``r_0 − min_{l≥1} r_l`` at snapshot index ``t`` with its interval."""
        per_seed = [
            [self._nodes(l, t)[s] for l in range(self.n_layers)] for s in range(len(self.seeds))
        ]
        ratios = [self.l_shape_ratio(l, int(self.steps[t])) for l in range(self.n_layers)]
        return bootstrap(
            per_seed,
            bottom_gap,
            detail="r_l per layer " + ", ".join(f"{r:.3f}" for r in ratios),
        )

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """``E6.unspecialized-decay`` (median end/start fan-out of layer 0's never-specialized
        nodes) and ``E6.sharpest-at-bottom`` (``r_0 − min_{l≥1} r_l``) at the end of training;
        ``control="frozen"``: the student at its initial weights (decay 1 for every node, ``r_l``
        undefined). The run controls (different teacher, shuffled labels) are runs of their
        own."""
        if control not in (None, "frozen"):
            raise ValueError(f"control={control!r} is not allowed: expected None or 'frozen'")
        t = 0 if control == "frozen" else len(self.steps) - 1
        if control == "frozen":  # every node's fan-out over itself: 1
            stats = {"E6.unspecialized-decay": Stat(1.0, 1.0, 1.0, len(self.seeds), "step 0")}
        else:
            stats = {"E6.unspecialized-decay": self._decay_stat()}
        if self.n_layers >= 2:
            stats["E6.sharpest-at-bottom"] = self._gap_stat(t)
        else:  # depth 2: no upper layer to compare with
            stats["E6.sharpest-at-bottom"] = Stat(math.nan, math.nan, math.nan, len(self.seeds))
        return stats

    # ------------------------------------------------------------------ descriptive statistics
    def early_index(self, fraction: float = 0.1) -> int | None:
        """Snapshot index of the first snapshot at or after ``fraction`` of training where
        ``r_0`` is defined (``None`` if there is none)."""
        check_float("fraction", fraction, low=0.0, high=1.0)
        for t, step in enumerate(self.steps):
            if step >= fraction * self.steps[-1] and np.isfinite(self.l_shape_ratio(0, int(step))):
                return t
        return None

    def descriptive(self) -> dict[str, Any]:
        """Descriptive statistics the chapter shows (not pre-registered claims), at the end of
        training unless said otherwise, each ratio with its 90 % bootstrap interval over seeds:

        ``r`` (list of :class:`~luckbook.claims.Stat`, one per hidden layer), ``l_shape`` (the
        :meth:`l_shape` numbers per layer), ``specialized`` (per layer, the fraction of student
        nodes with best correlation > 0.95, all seeds), ``teacher`` (per layer, the mean best
        correlation of teacher nodes), ``early step`` and ``r_0 early`` (``r_0`` at
        :meth:`early_index`; ``None`` if undefined throughout).
        """
        last = len(self.steps) - 1
        t0 = self.early_index()
        return {
            "r": [self._ratio_stat(l, last) for l in range(self.n_layers)],
            "l_shape": [self.l_shape(l) for l in range(self.n_layers)],
            "specialized": self.specialized_fraction()[:, -1].mean(-1).tolist(),
            "teacher": self.teacher_mean()[:, -1].mean(-1).tolist(),
            "early step": None if t0 is None else int(self.steps[t0]),
            "r_0 early": None if t0 is None else self._ratio_stat(0, t0),
        }

    def descriptive_text(self) -> str:
        """:meth:`descriptive` as printable lines, labelled as descriptive."""
        d = self.descriptive()
        lines = [
            f"Descriptive statistics (not claims), {len(self.seeds)} seeds pooled, end of run:"
        ]
        for l, (r, q) in enumerate(zip(d["r"], d["l_shape"], strict=True)):
            lines.append(
                f"  layer {l}: r = {_num(r.value)} [{_num(r.ci_low)}, {_num(r.ci_high)}]; "
                "median √E[β] "
                f"{q['median_low']:.3f} ({q['n_low']} nodes < {LOW}, {q['n_dead']} dead) / "
                f"{q['median_high']:.3f} ({q['n_high']} nodes > {HIGH}); specialized "
                f"{d['specialized'][l]:.3f}; teacher mean best corr {d['teacher'][l]:.3f}"
            )
        if d["r_0 early"] is not None:
            e = d["r_0 early"]
            lines.append(
                f"  r_0 at step {d['early step']} (first defined at ≥ 10 % of training): "
                f"{e.value:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]"
            )
        return "\n".join(lines)

    def chapter_numbers(self) -> dict[str, Any]:
        """The numbers the chapter's prose quotes (glue key -> value): :meth:`descriptive`
        per layer (``E6.desc.r0``, ``E6.desc.r0.interval``, medians, specialized fraction,
        teacher recovery), ``r_0`` early in training, its lowest value over the run and the
        step of it, the run's last step, snapshots, wall time and seeds, and layer 0's
        :meth:`decay_numbers` (``E6.decay.*``)."""
        desc = self.descriptive()
        out: dict[str, Any] = {}
        for l, (r, q) in enumerate(zip(desc["r"], desc["l_shape"], strict=True)):
            out[f"E6.desc.r{l}"] = r.value
            out[f"E6.desc.r{l}.interval"] = fmt_interval(r)
            out[f"E6.desc.median_low{l}"] = q["median_low"]
            out[f"E6.desc.median_high{l}"] = q["median_high"]
            out[f"E6.desc.specialized{l}"] = desc["specialized"][l]
            out[f"E6.desc.teacher{l}"] = desc["teacher"][l]
        if desc["r_0 early"] is not None:
            out["E6.desc.early_step"] = desc["early step"]
            out["E6.desc.r0_early"] = desc["r_0 early"].value
            out["E6.desc.r0_early.interval"] = fmt_interval(desc["r_0 early"])
        path = self.l_shape_ratios(0)
        if np.isfinite(path).any():
            k = int(np.nanargmin(path))
            out["E6.desc.r0_min"] = float(path[k])
            out["E6.desc.r0_min_step"] = int(self.steps[k])
        out["E6.desc.steps"] = int(self.steps[-1])
        out["E6.desc.snapshots"] = len(self.steps)
        out["E6.desc.wall_s"] = float(self.wall_time_s)
        out["E6.desc.n_seeds"] = len(self.seeds)
        out["E6.desc.seeds"] = f"{self.seeds[0]}–{self.seeds[-1]}"
        for name, value in self.decay_numbers(0).items():
            out[f"E6.decay.{name}"] = value
        return out

    def glue(self) -> None:
        """Glue :meth:`chapter_numbers` for the chapter's prose (myst-nb; nothing without it)."""
        for name, value in self.chapter_numbers().items():
            glue(name, value)

    def teacher_mean(self) -> np.ndarray:
        """``[L, T, S]``: mean over each layer's teacher nodes of their best correlation."""
        return np.stack([b.mean(-1) for b in self.teacher_best])

    def final_recovery(self) -> np.ndarray:
        """``[L]``: each layer's final mean best teacher correlation, mean over seeds."""
        return self.teacher_mean()[:, -1].mean(-1)

    def specialized_fraction(self, tau: float = HIGH) -> np.ndarray:
        """``[L, T, S]``: fraction of each layer's student nodes with best correlation >
        ``tau``."""
        check_float("tau", tau, low=-1.0, high=1.0)
        return np.stack([(b > tau).mean(-1) for b in self.student_best])

    # ------------------------------------------------------------------ text and JSON
    def numbers(self, step: int | None = None) -> str:
        """Per layer at snapshot ``step``: the L-shape ratio, group sizes and teacher
        recovery."""
        t = self.snapshot_index(step)
        mean = self.teacher_mean()[:, t]
        lines = [
            f"epoch {self.epochs[t]:g} (step {int(self.steps[t])}), {len(self.seeds)} seeds; "
            f"eval loss {self.eval_loss[t].mean():.3g}"
        ]
        for l in range(self.n_layers):
            q = self.l_shape(l, int(self.steps[t]))
            lines.append(
                f"layer {l}: median √E[β] {q['median_low']:.3g} (corr < {LOW}, {q['n_low']} "
                f"nodes) / {q['median_high']:.3g} (corr > {HIGH}, {q['n_high']} nodes) = "
                f"{q['ratio']:.3f}; teacher mean best corr {mean[l].mean():.3f}"
            )
        return "\n".join(lines)

    def summary(self) -> str:
        """Per layer at the end: the L-shape ratio and the teacher recovery."""
        s: DeepSpecializationSettings = self.settings
        head = (
            f"deep-specialization (E6): teacher {s.widths}, student ×{s.multi}, "
            f"{s.activation}, data_std={s.data_std:g}, lr={s.lr:g} then {s.lr_after:g} from epoch "
            f"{s.lr_drop_epoch}; {s.epochs} epochs × {s.steps_per_epoch} steps, {self.made()}"
        )
        return head + "\n" + self.numbers()

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, timing, per-layer L-shape numbers over time, per-seed
        data."""
        mean = self.teacher_mean()
        return {
            **self.json_header(),
            "epochs": self.epochs.tolist(),
            "lr": self.lr.tolist(),
            "l_shape": [
                [self.l_shape(l, int(step)) for step in self.steps] for l in range(self.n_layers)
            ],
            "seeds": [
                {
                    "seed": seed,
                    "layer_teacher_mean_best_corr": mean[:, -1, s].tolist(),
                    "layer_teacher_mean_best_corr_history": mean[:, :, s].tolist(),
                    "teacher_active_fraction": [a[s].tolist() for a in self.teacher_active],
                    "student_best_corr": [b[-1, s].tolist() for b in self.student_best],
                    "student_fanout": [f[-1, s].tolist() for f in self.fanout],
                    "student_live": [v[-1, s].tolist() for v in self.student_live],
                    "eval_loss": float(self.eval_loss[-1, s]),
                    "eval_loss_history": self.eval_loss[:, s].tolist(),
                }
                for s, seed in enumerate(self.seeds)
            ],
        }


def pooled_ratio(nodes: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """The ratio of medians over the pooled nodes of a list of seeds
    (:func:`~luckbook.metrics.l_shape_ratio`: median ``√E[β_kk]`` of nodes with best
    correlation ``< LOW`` over that of nodes ``> HIGH``; ``nan`` if a group is empty or the
    second median is 0). ``nodes``: per seed ``(best, fanout)`` arrays."""
    best = np.concatenate([np.asarray(b, dtype=float).ravel() for b, _ in nodes])
    fan = np.concatenate([np.asarray(f, dtype=float).ravel() for _, f in nodes])
    return l_shape_ratio(best, fan, LOW, HIGH)


def bottom_gap(per_seed: Sequence[Sequence[tuple[np.ndarray, np.ndarray]]]) -> float:
    """``r_0 − min_{l≥1} r_l`` over the pooled nodes of a list of seeds (``per_seed[s][l]`` is
    seed ``s``'s ``(best, fanout)`` of layer ``l``); upper layers with an undefined ratio are
    left out; ``nan`` if ``r_0`` or every upper ratio is undefined."""
    n_layers = len(per_seed[0])
    ratios = [pooled_ratio([seed[l] for seed in per_seed]) for l in range(n_layers)]
    upper = [r for r in ratios[1:] if math.isfinite(r)]
    if not math.isfinite(ratios[0]) or not upper:
        return math.nan
    return ratios[0] - min(upper)


def _num(x: float) -> str:
    """``x`` to three decimals, or "—" when it is not defined (nan)."""
    return "—" if x is None or not np.isfinite(x) else f"{x:.3f}"
