"""E8's result and its analysis: coverage of a trained teacher's nodes per hidden layer, input
kind and width multiplier (see :mod:`luckbook.experiments.real_teacher`)."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from ..claims import Stat, glue, seed_mean
from ..config import check_choice
from ..digits import INPUT_KINDS, load, student_inputs
from ..ensemble import Net
from ..result import Result

if TYPE_CHECKING:
    from ..experiments.real_teacher import RealTeacherSettings  # noqa: F401 (Result[...])

CLAIM_TAU = 0.9
"""The threshold of E8's coverage claims (one of ``DEFAULT_TAUS``)."""


@dataclasses.dataclass
class Cell:
    """One (input kind, multi) student ensemble (``T`` snapshots, ``S`` seeds, per hidden
    layer).

    Attributes:
        teacher_best: per layer ``[T, S, m_l]`` each teacher node's best correlation.
        student_best: per layer ``[T, S, n_l]`` each student node's best correlation.
        fanout: per layer ``[T, S, n_l]`` student fan-out norms.
        eval_loss: ``[T, S]`` square loss on the digits test split.
    """

    kind: str
    multi: int
    teacher_best: list[np.ndarray]
    student_best: list[np.ndarray]
    fanout: list[np.ndarray]
    eval_loss: np.ndarray


@dataclasses.dataclass
class RealTeacherResult(Result["RealTeacherSettings"]):
    """E8's result.

    Attributes:
        steps: ``[T]`` snapshot steps.
        teacher_acc: ``[S]`` the teachers' test accuracy.
        teacher_live: per hidden layer ``[S, m_l]`` (False: dead on the test split).
        teacher_logit_std: ``[S]`` standard deviation of the teachers' logits on the test split.
        cells: ``{"real/5": Cell, …}`` one per input kind and multi.
        teacher: the trained teachers' weights per layer ``[S, in + 1, out]``.
    """

    EXPERIMENT: ClassVar[str] = "real-teacher"

    steps: np.ndarray
    teacher_acc: np.ndarray
    teacher_live: list[np.ndarray]
    teacher_logit_std: np.ndarray
    cells: dict[str, Cell]
    teacher: list[np.ndarray]

    def teacher_net(self) -> Net:
        """The trained teachers as an ensemble (CPU)."""
        return Net([torch.from_numpy(np.asarray(w)) for w in self.teacher])

    def inputs(self, kind: str) -> torch.Tensor:
        """The students' training inputs of ``kind`` ``[S, n_train, d]`` (float64), rebuilt."""
        check_choice("kind", kind, INPUT_KINDS)
        s = self.settings
        data = load(s.dataset, s.split_seed, s.cifar10)
        return student_inputs(kind, data, s.n_train, s.noise, self.seeds)

    def cell(self, kind: str, multi: int) -> Cell:
        key = f"{kind}/{multi}"
        if key not in self.cells:
            raise ValueError(
                f"(kind, multi)=({kind!r}, {multi!r}) is not allowed: this result has "
                f"{sorted(self.cells)}"
            )
        return self.cells[key]

    @property
    def n_layers(self) -> int:
        return len(self.teacher_live)

    def covered_fraction(
        self, kind: str, multi: int, layer: int = 0, tau: float = CLAIM_TAU, t: int = -1
    ) -> np.ndarray:
        """``[S]`` fraction of the live teacher nodes of ``layer`` covered at ``tau`` at
        snapshot ``t``."""
        best = self.cell(kind, multi).teacher_best[layer][t]
        live = self.teacher_live[layer]
        return ((best > tau) & live).sum(-1) / np.maximum(live.sum(-1), 1)

    def mean_best(self, kind: str, multi: int, layer: int = 0, t: int = -1) -> np.ndarray:
        """``[S]`` mean best correlation of the live teacher nodes of ``layer``."""
        best = self.cell(kind, multi).teacher_best[layer][t]
        live = self.teacher_live[layer]
        return (best * live).sum(-1) / np.maximum(live.sum(-1), 1)

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        t = 0 if control == "frozen" else -1
        top, low = max(self.settings.multis), min(self.settings.multis)
        out: dict[str, Stat] = {}
        for kind in INPUT_KINDS:
            if kind not in self.settings.kinds:
                nan = Stat(math.nan, math.nan, math.nan, len(self.seeds), f"{kind} inputs not run")
                out[f"E8.{kind}-lowest-layer"] = nan
                continue
            out[f"E8.{kind}-lowest-layer"] = seed_mean(
                self.covered_fraction(kind, top, 0, CLAIM_TAU, t),
                detail=f"multi {top}; mean best correlation of layer-0 teachers "
                f"{self.mean_best(kind, top, 0, t).mean():.3f}",
            )
        kind = "real" if "real" in self.settings.kinds else self.settings.kinds[0]
        gain = self.covered_fraction(kind, top, 0, CLAIM_TAU, t) - self.covered_fraction(
            kind, low, 0, CLAIM_TAU, t
        )
        out["E8.more-multi"] = seed_mean(
            gain, detail=f"{kind} inputs: covered fraction at multi {top} minus at multi {low}"
        )
        return out

    def numbers(
        self, kind: str | None = None, multi: int | None = None, tau: float = CLAIM_TAU
    ) -> str:
        """The key numbers of one cell (default: first input kind, largest multi)."""
        kind = kind or self.settings.kinds[0]
        multi = multi or max(self.settings.multis)
        c = self.cell(kind, multi)
        lines = [
            f"{kind} inputs, multi {multi}: teacher test accuracy {self.teacher_acc.mean():.3f}; "
            f"student eval loss {c.eval_loss[-1].mean():.3g} "
            f"(step 0: {c.eval_loss[0].mean():.3g})"
        ]
        for l in range(self.n_layers):
            cov = self.covered_fraction(kind, multi, l, tau)
            lines.append(
                f"layer {l}: covered at {tau} {cov.mean():.2f} of live teacher nodes "
                f"(seeds {cov.min():.2f}–{cov.max():.2f}); mean best corr "
                f"{self.mean_best(kind, multi, l).mean():.3f}"
            )
        return "\n".join(lines)

    def summary(self) -> str:
        s = self.settings
        lines = [
            f"real-teacher (E8): {s.dataset}, teacher hidden {s.hidden}, multis "
            f"{list(s.multis)}, {s.steps} student steps; {self.made()}",
        ]
        for kind in s.kinds:
            for multi in s.multis:
                cov = " ".join(
                    f"L{l} {self.covered_fraction(kind, multi, l).mean():.2f}"
                    for l in range(self.n_layers)
                )
                lines.append(f"  {kind:>8} multi {multi:>2}: covered at {CLAIM_TAU} {cov}")
        return "\n".join(lines)

    def glue_numbers(self) -> dict[str, float]:
        """Glue (and return) the numbers the Real-data chapter quotes beside the claims:
        ``E8.acc`` (teacher test accuracy), ``E8.top`` (the largest multi), and per input kind
        ``E8.<kind>.L<l>`` / ``.L<l>.low`` (covered fraction of layer ``l`` at the largest /
        smallest multi) and ``E8.<kind>.loss`` (eval loss at the largest multi), means over
        seeds."""
        top, low = max(self.settings.multis), min(self.settings.multis)
        out: dict[str, float] = {"E8.acc": float(self.teacher_acc.mean()), "E8.top": top}
        for kind in self.settings.kinds:
            for l in range(self.n_layers):
                out[f"E8.{kind}.L{l}"] = float(self.covered_fraction(kind, top, l).mean())
                out[f"E8.{kind}.L{l}.low"] = float(self.covered_fraction(kind, low, l).mean())
            out[f"E8.{kind}.loss"] = float(self.cell(kind, top).eval_loss[-1].mean())
        for key, value in out.items():
            glue(key, value)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            **self.json_header(),
            "teacher_test_accuracy": self.teacher_acc.tolist(),
            "cells": {
                key: {
                    "teacher_best_corr": [b[-1].tolist() for b in c.teacher_best],
                    "covered_fraction": [
                        self.covered_fraction(c.kind, c.multi, l).tolist()
                        for l in range(self.n_layers)
                    ],
                    "eval_loss": c.eval_loss[-1].tolist(),
                }
                for key, c in self.cells.items()
            },
        }
