"""The result of E3, the deep teacher (``deep-teacher``), and every analysis of its arrays:
per-layer recovery, dead teacher nodes, crossing times, the claims' statistics, the chapter's
numbers, text and JSON."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..claims import E3_CROSSING_LEVEL as CROSSING_LEVEL
from ..claims import Stat, glue, seed_mean
from ..config import check_float
from ..dynamics import arrival_times
from ..result import Result

if TYPE_CHECKING:
    from ..experiments.deep_teacher import DeepTeacherSettings


@dataclasses.dataclass
class DeepTeacherResult(Result["DeepTeacherSettings"]):
    """Everything E3 measures, as NumPy arrays (``T`` snapshots, ``S`` seeds, ``L`` hidden
    layers).

    Attributes:
        steps: ``[T]`` snapshot steps; epochs: ``[T]`` the same in epochs.
        teacher_best: per hidden layer ``l``, ``[T, S, m_l]``: each teacher node's best
            correlation with a student node of layer ``l``.
        teacher_live: per hidden layer, ``[S, m_l]`` bool: the teacher node's activation is not
            constant on the eval set (False: a dead node, left out of the layer means).
        eval_loss: ``[T, S]`` square loss ``½·mean‖y_t − y_s‖²`` on the eval set.
        corr: per hidden layer, the final correlation matrix ``[S, m_l, n_l]``.
        batch_loss: ``[steps // stride, S]`` minibatch loss, every ``stride``-th step.
    """

    EXPERIMENT: ClassVar[str] = "deep-teacher"

    steps: np.ndarray
    epochs: np.ndarray
    teacher_best: list[np.ndarray]
    teacher_live: list[np.ndarray]
    eval_loss: np.ndarray
    corr: list[np.ndarray]
    batch_loss: np.ndarray
    batch_loss_stride: int

    @property
    def n_layers(self) -> int:
        """Number of hidden layers (``depth − 1``)."""
        return len(self.teacher_best)

    def layer_mean(self, include_dead: bool = False, control: str | None = None) -> np.ndarray:
        """``[L, T, S]``: mean over a layer's live teacher nodes of their best correlation
        (``include_dead=True``: over all of them, dead ones counting 0, as released).

        ``control="frozen"``: the frozen student, i.e. the step-0 snapshot repeated at every
        snapshot (the same run evaluated at its initial weights; nothing is retrained).
        """
        if include_dead:
            mean = np.stack([b.mean(-1) for b in self.teacher_best])
        else:
            mean = np.stack(
                [
                    (b * live).sum(-1) / live.sum(-1)
                    for b, live in zip(self.teacher_best, self.teacher_live, strict=True)
                ]
            )
        if control is None:
            return mean
        if control != "frozen":
            raise ValueError(f"control={control!r} is not allowed: expected None or 'frozen'")
        return np.broadcast_to(mean[:, :1], mean.shape).copy()

    def layer_min(self, include_dead: bool = False) -> np.ndarray:
        """``[L, T, S]``: the worst-recovered live teacher node of each layer."""
        if include_dead:
            return np.stack([b.min(-1) for b in self.teacher_best])
        return np.stack(
            [
                np.where(live, b, np.inf).min(-1)
                for b, live in zip(self.teacher_best, self.teacher_live, strict=True)
            ]
        )

    def final_means(self) -> np.ndarray:
        """``[L]``: each layer's final mean best correlation (live teacher nodes), mean over
        seeds."""
        return self.layer_mean()[:, -1].mean(-1)

    def final_worst(self) -> np.ndarray:
        """``[L]``: each layer's worst live teacher node at the end, over all seeds."""
        return self.layer_min()[:, -1].min(-1)

    def dead_nodes(self) -> np.ndarray:
        """``[L, S]``: number of dead teacher nodes per layer and seed."""
        return np.stack([(~live).sum(-1) for live in self.teacher_live])

    def first_epoch_reaching(self, threshold: float, control: str | None = None) -> np.ndarray:
        """``[L, S]``: first snapshot epoch at which a layer's mean best correlation (live
        teacher nodes) is ≥ ``threshold`` (``nan`` if never; the frozen control never moves,
        so it crosses, at epoch 0, only if it starts above ``threshold``)."""
        threshold = check_float("threshold", threshold, low=-1.0, high=1.0)
        mean = self.layer_mean(control=control)  # [L, T, S]
        hit = mean >= threshold
        first = np.where(hit.any(1), hit.argmax(1), -1)  # [L, S]
        return np.where(first >= 0, self.epochs[np.maximum(first, 0)], np.nan)

    def crossing_order(self, level: float = CROSSING_LEVEL) -> dict[str, Any]:
        """Descriptive (not a claim): when each layer first reaches ``level``, and in how many
        seeds the layers do so bottom-up.

        Returns ``first`` (``[L, S]`` epochs, ``nan`` = never), ``mean_first`` (``[L]``, mean
        over the seeds that cross), ``never`` (``[L]`` seeds that never cross),
        ``strictly_before`` (``[L − 1]``: seeds where layer ``l`` crosses strictly before layer
        ``l + 1``; a layer that never crosses is never before anything), ``bottom_up`` (seeds
        where every layer crosses strictly after the one below) and ``n_seeds``.
        """
        first = self.first_epoch_reaching(level)
        never = np.isnan(first)
        lower, upper = first[:-1], first[1:]
        with np.errstate(invalid="ignore"):
            before = ~np.isnan(lower) & (np.isnan(upper) | (lower < upper))
        crossed = np.where(never, np.nan, first)
        mean_first = np.array(
            [np.nanmean(row) if np.isfinite(row).any() else np.nan for row in crossed]
        )
        return {
            "level": level,
            "first": first,
            "mean_first": mean_first,
            "never": never.sum(-1),
            "strictly_before": before.sum(-1),
            "bottom_up": int((before.all(0) & ~never.any(0)).sum()),
            "n_seeds": len(self.seeds),
        }

    def crossing_table(self, level: float = CROSSING_LEVEL) -> str:
        """:meth:`crossing_order` as a printable table: per layer and seed the first epoch at
        ``level``, then how many seeds cross in order."""
        order = self.crossing_order(level)
        first, n = order["first"], len(self.seeds)
        lines = [
            f"first epoch at {level:g}    "
            + "  ".join(f"seed {s:>4}" for s in self.seeds)
            + "   mean"
        ]
        for l in range(self.n_layers):
            row = "  ".join(f"{v:>9.3g}" for v in first[l])
            lines.append(f"layer {l}                {row}   {order['mean_first'][l]:.2f}")
        for l in range(self.n_layers - 1):
            lines.append(
                f"layer {l} strictly before layer {l + 1}: {order['strictly_before'][l]} of "
                f"{n} seeds"
            )
        lines.append(f"all layers in bottom-up order: {order['bottom_up']} of {n} seeds")
        return "\n".join(lines)

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """The E3 claims (registered in :mod:`luckbook.claims`) on the trained student, or on
        the frozen student (``control="frozen"``).

        ``E3.layer0-level`` / ``E3.layer1-level``: mean over seeds of the layer's final mean
        best correlation (live teacher nodes). ``E3.layer0-first``: mean over seeds of
        :func:`crossing_order_in_time` of the steps at which layers 0 and 1 first reach
        :data:`CROSSING_LEVEL` (:meth:`crossing_steps`); a seed in which either layer never
        reaches it makes the statistic undefined (so a never-crossing layer cannot make the
        claim hold). The run controls are runs of their own (``control_result``).
        """
        if control not in (None, *self.CONTROLS):
            raise ValueError(
                f"control={control!r} is not allowed: expected None or one of {self.CONTROLS}"
            )
        final = self.layer_mean(control=control)[:, -1]  # [L, S]
        final_all = self.layer_mean(include_dead=True, control=control)[:, -1]

        def level(l: int) -> Stat:
            if l >= self.n_layers:
                return Stat(math.nan, math.nan, math.nan, len(self.seeds), "no such layer")
            return seed_mean(
                final[l],
                detail=f"per seed {_nums(final[l])}; counting dead teacher nodes as 0 (released "
                f"convention) {final_all[l].mean():.4f}",
            )

        stats = {"E3.layer0-level": level(0), "E3.layer1-level": level(1)}
        if self.n_layers < 2:
            stats["E3.layer0-first"] = Stat(
                math.nan, math.nan, math.nan, len(self.seeds), "no second layer"
            )
            return stats
        first = self.crossing_steps(CROSSING_LEVEL, control)[:2]  # [2, S]
        gap = crossing_order_in_time(first[0], first[1])  # nan where either layer never crosses
        with np.errstate(invalid="ignore"):
            ahead = int((first[0] < first[1]).sum())
        never = np.isnan(first).sum(-1)
        stats["E3.layer0-first"] = seed_mean(
            gap,
            detail=f"first step at >= {CROSSING_LEVEL:g}: layer 0 {_nums(first[0], '.0f')}, "
            f"layer 1 {_nums(first[1], '.0f')} (nan = never: {never[0]}, {never[1]} seeds); "
            f"layer 0 strictly first in {ahead} of {len(self.seeds)} seeds",
        )
        return stats

    def crossing_steps(self, level: float = CROSSING_LEVEL, control: str | None = None):
        """``[L, S]``: the first snapshot step at which each layer's mean best correlation
        (live teacher nodes) is ``≥ level`` (:func:`luckbook.dynamics.arrival_times`; ``nan``:
        never)."""
        level = check_float("level", level, low=-1.0, high=1.0)
        mean = self.layer_mean(control=control)  # [L, T, S]
        return np.stack([arrival_times(self.steps, m, level) for m in mean])

    def chapter_numbers(self) -> dict[str, float | int | str]:
        """The numbers the deep-teacher chapter's prose quotes (glue key -> value): when layer
        0 passes 0.99, each layer's final and initial recovery, the crossing order, the seeds
        (``e3.seeds``, first–last) and the run's wall time (``e3.wall_s``)."""
        mean = self.layer_mean()  # [layer, snapshot, seed], live teacher nodes
        order = self.crossing_order()  # descriptive: first epoch at 0.75 per layer and seed
        out: dict[str, float | int | str] = {
            "e3.n_seeds": len(self.seeds),
            "e3.t99_layer0": float(np.nanmean(self.first_epoch_reaching(0.99)[0])),
            "e3.worst0": float(self.layer_min()[0, -1].min()),
            "e3.init_upper": float(mean[1:, 0].mean()),
        }
        for l in range(self.n_layers):
            out[f"e3.final{l}"] = float(mean[l, -1].mean())
            out[f"e3.first{l}"] = float(order["mean_first"][l])
        for l in range(self.n_layers - 1):
            out[f"e3.before{l}"] = int(order["strictly_before"][l])
        out["e3.bottom_up"] = order["bottom_up"]
        out["e3.top_above"] = int((mean[-1, -1] > mean[-2, -1]).sum())
        out["e3.seeds"] = f"{self.seeds[0]}–{self.seeds[-1]}"
        out["e3.wall_s"] = float(self.wall_time_s)
        return out

    def glue(self) -> None:
        """Glue :meth:`chapter_numbers` for the chapter's prose (myst-nb; nothing without it)."""
        for name, value in self.chapter_numbers().items():
            glue(name, value)

    def numbers(self, step: int | None = None) -> str:
        """The key numbers at snapshot ``step``: per layer, mean (seed range) and min best
        correlation."""
        t = self.snapshot_index(step)
        mean, low = self.layer_mean()[:, t], self.layer_min()[:, t]
        lines = [
            f"epoch {self.epochs[t]:g} (step {int(self.steps[t])}), {len(self.seeds)} seeds; "
            f"eval loss {self.eval_loss[t].mean():.3g}"
        ]
        dead = self.dead_nodes().sum(-1)
        for l in range(self.n_layers):
            note = f"; {dead[l]} dead teacher node(s) left out" if dead[l] else ""
            lines.append(
                f"layer {l} (m={self.teacher_best[l].shape[-1]}): mean best corr "
                f"{mean[l].mean():.3f} (seeds {mean[l].min():.3f}–{mean[l].max():.3f}), worst "
                f"node {low[l].min():.3f}{note}"
            )
        return "\n".join(lines)

    def summary(self) -> str:
        """A per-seed table of every layer's final mean best correlation."""
        s: DeepTeacherSettings = self.settings
        mean = self.layer_mean()[:, -1]  # [L, S]
        lines = [
            f"deep-teacher (E3): widths {s.widths}, multi={s.multi}, data_std={s.data_std:g}, "
            f"lr={s.lr:g}",
            f"{s.epochs} epochs × {s.steps_per_epoch} steps, {self.made()}",
            f"{'seed':>5} " + " ".join(f"{'layer ' + str(l):>9}" for l in range(self.n_layers)),
        ]
        for i, seed in enumerate(self.seeds):
            lines.append(
                f"{seed:>5} " + " ".join(f"{mean[l, i]:>9.4f}" for l in range(self.n_layers))
            )
        dead = self.dead_nodes()
        if dead.any():
            rows = ", ".join(f"layer {l}: {dead[l].tolist()}" for l in range(self.n_layers))
            lines.append(f"(means over live teacher nodes; dead teacher nodes per seed: {rows})")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, device, timing, per-seed per-layer curves and final
        numbers."""
        mean, low = self.layer_mean(), self.layer_min()
        mean_all = self.layer_mean(include_dead=True)
        return {
            **self.json_header(),
            "epochs": self.epochs.tolist(),
            "seeds": [
                {
                    "seed": seed,
                    "layer_mean_best_corr": mean[:, -1, s].tolist(),
                    "layer_min_best_corr": low[:, -1, s].tolist(),
                    "layer_mean_best_corr_all_nodes": mean_all[:, -1, s].tolist(),
                    "dead_teacher_nodes": [
                        np.flatnonzero(~live[s]).tolist() for live in self.teacher_live
                    ],
                    "layer_mean_best_corr_history": mean[:, :, s].tolist(),
                    "teacher_best_corr": [b[-1, s].tolist() for b in self.teacher_best],
                    "eval_loss": float(self.eval_loss[-1, s]),
                    "eval_loss_history": self.eval_loss[:, s].tolist(),
                }
                for s, seed in enumerate(self.seeds)
            ],
        }


def crossing_order_in_time(t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """Per seed ``log10((t1 + 1) / (t0 + 1))`` for crossing steps ``t0`` (layer 0) and ``t1``
    (layer 1): positive when layer 0 crosses first, 0 in the same snapshot, ``nan`` where
    either never crosses. (The +1 keeps a crossing at step 0 finite.)"""
    t0, t1 = np.asarray(t0, dtype=float), np.asarray(t1, dtype=float)
    return np.log10((t1 + 1.0) / (t0 + 1.0))


def _nums(values: np.ndarray, spec: str = ".3f") -> str:
    return "[" + ", ".join(format(float(v), spec) for v in values) + "]"
