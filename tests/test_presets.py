"""Every ``paper`` preset's first steps, on development seeds: a preset whose learning rate,
batch and widths make training diverge fails here in seconds, not hours into a paper run.

Each case keeps the paper preset's learning rate(s), batch, widths, initialisation and data
scale, and cuts only what sets the length of the run (steps, epochs, training-set size for
epoch-based runs) and the size of the evaluation. Training raises
:class:`~luckbook.train.DivergenceError` on a non-finite loss; runs without that check are
tested for finite results. ``gradient-relation`` trains nothing and is left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from luckbook.experiments import REGISTRY

DEV_SEEDS = [0, 1]
"""Development seeds (held-out seeds start at 5000 and are never used for tuning)."""

SHORT: dict[str, tuple[list[int], dict[str, Any]]] = {
    "bn-bias": (DEV_SEEDS, {"epochs": 1}),
    "deep-specialization": (
        DEV_SEEDS,
        {"epochs": 2, "n_train": 64 * 40, "n_eval": 256, "n_beta": 32},
    ),
    "deep-teacher": (DEV_SEEDS, {"epochs": 2, "n_train": 64 * 100, "n_eval": 256}),
    "directional": (
        DEV_SEEDS,
        {"max_steps": 2_000, "kkt_starts": 1, "kkt_steps": 50},
    ),
    "fanout": (
        DEV_SEEDS,
        {"steps": 400, "retrain_steps": 200, "n_eval": 256, "n_snapshots": 2},
    ),
    "lucky": (DEV_SEEDS, {"steps": 400, "n_eval": 256, "n_snapshots": 4, "permutations": 99}),
    # The paper run that diverged (issue 22): seed 1003's real-input multi=5 student blew up
    # at lr=0.01 after ≈ 4 400 steps; 5 000 steps of that student alone take about a second.
    "real-teacher": (
        [1003],
        {"multis": (5,), "inputs": "real", "steps": 5_000, "n_snapshots": 1},
    ),
    "sample-complexity": (DEV_SEEDS, {"steps": 300, "n_eval": 256, "n_snapshots": 1}),
    "two-layer": (DEV_SEEDS, {"steps": 300, "n_eval": 256, "n_snapshots": 1}),
    "two-layer-sweep": (
        DEV_SEEDS,
        {"steps": 300, "n_eval": 256, "n_snapshots": 1, "ms": (20,), "multis": (10,)},
    ),
}
"""Per experiment: the seeds and the overrides that shorten its paper preset."""

UNTRAINED = {"gradient-relation": "checks gradient identities; nothing is trained"}

LENGTH = {
    "steps", "epochs", "n_train", "n_eval", "n_beta", "n_snapshots", "retrain_steps",
    "max_steps", "kkt_starts", "kkt_steps", "permutations", "multis", "ms", "inputs",
}  # fmt: skip
"""Settings a case may override: the run's length and evaluation, and which cells run."""


def test_every_experiment_is_covered():
    assert set(SHORT) | set(UNTRAINED) == set(REGISTRY)
    for name, (_seeds, overrides) in SHORT.items():
        assert set(overrides) <= LENGTH, (name, set(overrides) - LENGTH)
        paper = REGISTRY[name].settings("paper")
        for key in ("lr", "batch", "m", "multi", "d", "init_scale", "data_std"):
            if hasattr(paper, key) and key not in overrides:
                assert getattr(REGISTRY[name].settings("paper", **overrides), key) == getattr(
                    paper, key
                )


def _finite(result: Any) -> bool:
    bias = getattr(result, "archs", None)
    if bias is None:
        return True
    return all(np.isfinite(b).all() for rec in bias.values() for b in rec.bias)


@pytest.mark.parametrize("name", sorted(SHORT))
def test_paper_preset_first_steps_do_not_diverge(name):
    seeds, overrides = SHORT[name]
    result = REGISTRY[name].run(scale="paper", seeds=seeds, cache=False, threads=1, **overrides)
    assert _finite(result)
