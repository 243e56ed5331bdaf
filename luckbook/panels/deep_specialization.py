"""Panels of E6, specialization in deep networks (``notebooks/deep_specialization.ipynb``): a
time scrubber over the per-layer L-shape, a static grid over activation and width multiplier
(the chapter's shorter runs), and live sliders; :func:`deep_specialization_grid_numbers` gives
the grid's numbers that the chapter's prose quotes."""

from __future__ import annotations

from typing import Any

from ..experiments import run
from ..plots import deep_specialization as plots
from ..plots.deep_teacher import divergence_figure
from . import Frames, Grid, Live, get, register

register(
    "deep-specialization",
    Frames(
        figure=plots.l_shape_frame,
        every=2,
        predict=(
            "Before you press Play: in which layer does the L appear first, and where do the "
            "grey (unspecialized) nodes go over training?",
            "In the lowest layer: its orange, specialized nodes appear within the first few "
            "thousand steps. The grey nodes do not sink: every node's effective fan-out rises "
            "as the layers above learn the output's scale, the grey ones' less than the "
            "orange ones'. The upper layers follow later and stay blunter. Dead ReLU nodes "
            "(crosses) receive no gradient on their own weights.",
        ),
    ),
)

register(
    "deep-specialization",
    Grid(
        experiment="deep-specialization",
        values={"activation": ["relu", "leaky_relu"], "multi": [2, 10]},
        figure=plots.l_shape_panels,
        initial={"activation": "relu", "multi": 10},
        seeds=4,
        # evaluated at the start and the end only (the grid shows the end)
        fixed={
            "n_train": 10_000,
            "epochs": 20,
            "lr_drop_epoch": 4,
            "snapshot_every": 20,
            "log_snapshots": 0,
        },
        on_divergence=divergence_figure,
        predict=(
            "Switch from ReLU to Leaky ReLU, then move multi from 10 down to 2. What happens "
            "to the crosses (dead student nodes), and to the lowest layer's ratio of medians?",
            "With Leaky ReLU the crosses disappear: a gate is never exactly 0, so no student "
            "node is dead, while the lowest layer looks much the same. The ratio of medians "
            "moves with the width although the lowest layer's teacher nodes are recovered "
            "about equally well: compare the grey clouds of multi = 2 and multi = 10.",
        ),
    ),
)

register(
    "deep-specialization",
    Live(
        experiment="deep-specialization",
        sliders={
            "activation": {"kind": "select", "options": ["relu", "leaky_relu"]},
            "multi": {"kind": "select", "options": [1, 2, 5, 10]},
            "depth": {"kind": "select", "options": [2, 3, 4, 5]},
            "data_std": {"kind": "select", "options": [1.0, 3.0, 10.0]},
            "lr": {"kind": "select", "options": [0.05, 0.1, 0.2, 0.4]},
            "init_scale": {"kind": "log", "min": -1, "max": 0.5, "step": 0.5},
        },
        figure=plots.l_shape_panels,
        seeds=2,
        fixed={"n_train": 10_000, "epochs": 4, "lr_drop_epoch": 1},
    ),
)


def deep_specialization_grid_numbers(
    scale: str | None = None, seeds: int | None = None, **fixed: Any
) -> dict[str, float]:
    """The numbers of the grid panel's runs that the chapter quotes (glue key -> value): the
    lowest layer's ratio of medians ``E6.grid.r0.<activation>.<multi>`` at every grid point,
    and the range over ``multi`` of the lowest layer's teacher recovery with ReLU
    (``E6.grid.recovered_min`` / ``_max``). The runs are the panel's (from the results cache
    once the panel is drawn); ``seeds`` and ``fixed`` override the panel's, as in
    ``lb.static_explorer("deep-specialization", seeds=..., **fixed)``."""
    spec = get(Grid, "deep-specialization")
    seeds = spec.seeds if seeds is None else seeds
    fixed = {**spec.fixed, **fixed}
    multis = spec.values["multi"]
    runs = {
        (a, m): run(spec.experiment, scale=scale, seeds=seeds, activation=a, multi=m, **fixed)
        for a in spec.values["activation"]
        for m in multis
    }
    out = {f"E6.grid.r0.{a}.{m}": float(r.l_shape_ratio(0)) for (a, m), r in runs.items()}
    recovered = [float(runs["relu", m].final_recovery()[0]) for m in multis]
    out["E6.grid.recovered_min"] = min(recovered)
    out["E6.grid.recovered_max"] = max(recovered)
    return out
