"""Goldens: torch runs of the two-layer setting (E4) that the JavaScript engine replays.

The live panel of the book (``luckbook/assets/live/luck-engine.js``) trains the two-layer
teacher–student setting in the reader's browser. It draws its own teacher, student and data
(torch's random streams cannot be reproduced in JavaScript), so what is held to the torch
engine is the *dynamics*: a golden carries the settings, torch's initial teacher and student
weights, the training and eval inputs, the minibatch indices of every step, and the float64
trajectory at the snapshot steps (weights, losses, correlations, fan-outs). ``node
luck-engine.js replay GOLDEN.json`` replays it and prints the largest deviation of each
quantity (``|js − torch| / max(1, |torch|)``).

The trajectory is computed with the package's own functions (:func:`make_nets`,
:func:`make_inputs`, :class:`~luckbook.data.FixedSet`, :func:`~luckbook.train.sgd_step`,
:class:`~luckbook.evaluate.Probe`), the minibatches are those
:meth:`~luckbook.data.FixedSet.batches` yields for the seed (checked batch by batch), and a
diverging run stops at the first step whose minibatch loss is not finite, the step that
:class:`~luckbook.train.DivergenceError` names.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch

from .data import FixedSet, _chunk_steps
from .evaluate import Probe
from .experiments import get_experiment
from .experiments.two_layer import TwoLayerSettings, make_inputs, make_nets
from .metrics import best_per_student, best_per_teacher
from .rng import generator
from .train import sgd_step, snapshot_steps

FORMAT = "luckbook-golden/1"
PRESETS = ("two-layer",)
MAX_VALUES = 5_000_000
"""A golden holds at most this many numbers (inputs, indices and checkpoints): JSON size."""


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _nested(t: torch.Tensor) -> list:
    return [[_num(v) for v in row] for row in t.tolist()]


def _flat(t: torch.Tensor) -> list:
    return [_num(v) for v in t.tolist()]


def batch_indices(settings: TwoLayerSettings, seed: int, steps: int) -> torch.Tensor:
    """``[steps, batch]``: the training-set rows of every minibatch of ``seed``, drawn as
    :meth:`~luckbook.data.FixedSet.batches` draws them (whole chunks from the seed's
    ``"batches"`` stream)."""
    gen = generator(seed, "batches")
    chunk = _chunk_steps(settings.batch)
    parts, done = [], 0
    while done < steps:
        k = min(chunk, steps - done)
        parts.append(torch.randint(settings.n_train, (chunk, settings.batch), generator=gen)[:k])
        done += k
    return torch.cat(parts)


def golden_settings(scale: str | None = None, **overrides: Any) -> TwoLayerSettings:
    """The two-layer settings of a golden (``float64`` only: the replay is held to 1e-9).
    Unless given, ``n_snapshots`` is the preset's, at most ``steps``."""
    experiment = get_experiment("two-layer")
    if "steps" in overrides and "n_snapshots" not in overrides:
        preset = experiment.presets.get(scale or "", {})
        n_snapshots = preset.get("n_snapshots", TwoLayerSettings.n_snapshots)
        if isinstance(overrides["steps"], int) and overrides["steps"] >= 1:
            overrides["n_snapshots"] = min(n_snapshots, overrides["steps"])
    settings = experiment.settings(scale, **overrides)
    if settings.dtype != "float64":
        raise ValueError(
            f"dtype={settings.dtype!r} is not allowed for a golden: expected 'float64' "
            "(the JavaScript engine is float64)"
        )
    n = (settings.n_train + settings.n_eval) * settings.d + settings.steps * settings.batch
    if n > MAX_VALUES:
        raise ValueError(
            f"the golden would hold {n} numbers (inputs and minibatch indices); at most "
            f"{MAX_VALUES} are allowed: lower steps, n_train or n_eval"
        )
    return settings


def two_layer_golden(settings: TwoLayerSettings, seeds: Sequence[int]) -> dict[str, Any]:
    """The golden of ``settings`` for every seed in ``seeds`` (JSON-ready; NaN/inf -> None)."""
    runs = []
    snaps = snapshot_steps(
        settings.steps, min(settings.n_snapshots, settings.steps), settings.spacing
    )
    device = torch.device("cpu")
    for seed in seeds:
        teacher, student = make_nets(settings, [seed], device)
        x_train, x_eval = make_inputs(settings, [seed])
        train_set = FixedSet(x_train, teacher(x_train))
        eval_probe, train_probe = Probe(teacher, x_eval), Probe(teacher, x_train)
        idx = batch_indices(settings, seed, settings.steps)
        run: dict[str, Any] = {
            "seed": int(seed),
            "teacher": [_nested(w[0]) for w in teacher.weights],
            "student": [_nested(w[0]) for w in student.weights],
            "x_train": _nested(x_train[0]),
            "x_eval": _nested(x_eval[0]),
            "batches": idx.tolist(),
        }
        checkpoints, losses, diverged_at = [], [], None
        batches = train_set.batches([seed], settings.steps, settings.batch)
        for t, (x1, y) in enumerate(batches):
            if t in snaps:
                checkpoints.append(_checkpoint(t, student, eval_probe, train_probe))
            if not torch.equal(x1[0], train_set.x1[0, idx[t]]):  # pragma: no cover - a guard
                raise RuntimeError(f"minibatch {t} of seed {seed} is not the recorded one")
            loss = float(sgd_step(student, x1, y, settings.lr)[0])
            losses.append(_num(loss))
            if not math.isfinite(loss):
                diverged_at = t
                break
        if diverged_at is None and settings.steps in snaps:
            checkpoints.append(_checkpoint(settings.steps, student, eval_probe, train_probe))
        run.update(checkpoints=checkpoints, batch_loss=losses, diverged_at=diverged_at)
        runs.append(run)
    return {
        "format": FORMAT,
        "experiment": "two-layer",
        "settings": dataclasses.asdict(settings),
        "tolerance": 1e-9,
        "deviation": "|js - torch| / max(1, |torch|)",
        "runs": runs,
    }


def _checkpoint(step: int, student: Any, eval_probe: Probe, train_probe: Probe) -> dict[str, Any]:
    ev = eval_probe.evaluate(student)
    corr = ev["corr"][0][0]
    best_s, match_s = best_per_student(corr)
    return {
        "step": step,
        "w1": _nested(student.weights[0][0]),
        "w2": _nested(student.weights[1][0]),
        "train_loss": _num(float(train_probe.loss(student)[0])),
        "eval_loss": _num(float(ev["loss"][0])),
        "corr": _nested(corr),
        "teacher_best": _flat(best_per_teacher(corr)),
        "student_best": _flat(best_s),
        "student_match": match_s.tolist(),
        "fanout": _flat(ev["fanout"][0][0]),
    }
