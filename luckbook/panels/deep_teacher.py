"""Panels of E3, the deep teacher (the deep-teacher chapter, ``notebooks/deep_teacher.ipynb``):
a time scrubber over a run's snapshots, a static grid over depth, input scale and learning
rate (a diverging setting shows the divergence message), and live sliders."""

from __future__ import annotations

from ..plots import deep_teacher as plots
from . import Frames, Grid, Live, register

register(
    "deep-teacher",
    Frames(
        figure=plots.deep_frame,
        every=2,
        predict=(
            "Before you press Play: which layer's dots reach the top first, and do the upper "
            "layers climb together or one after another?",
            "Layer 0 jumps to the top within the first epochs: its nodes see the raw input, "
            "so their gradient points straight at the teacher's nodes. The layers above spread "
            "out and climb slowly, roughly bottom-up, since the features they are built from "
            "exist only once the layers below are recovered; the top two hidden layers can "
            "trade places from seed to seed.",
        ),
    ),
)

register(
    "deep-teacher",
    Grid(
        experiment="deep-teacher",
        values={"depth": [3, 5], "data_std": [1.0, 10.0], "lr": [0.05, 0.5]},
        figure=plots.deep_overview,
        initial={"depth": 5, "data_std": 10.0, "lr": 0.05},
        seeds=4,
        fixed={"epochs": 1, "snapshots_per_epoch": 4},
        on_divergence=plots.divergence_figure,
        predict=(
            "Start at the released depth 5, data_std = 10, lr = 0.05, then raise lr tenfold to "
            "0.5. What happens at data_std = 10, and what at data_std = 1?",
            "At data_std = 10 training diverges within the first steps (the panel says so): "
            "the gradients grow with the square of the input scale. At data_std = 1 they are "
            "about a hundred times smaller, so the same lr = 0.5 trains fine and recovers the "
            "layers better than lr = 0.05 does in one epoch: input scale and learning rate go "
            "together.",
        ),
    ),
)

register(
    "deep-teacher",
    Live(
        experiment="deep-teacher",
        sliders={
            "depth": {"kind": "select", "options": [2, 3, 4, 5]},
            "multi": {"kind": "select", "options": [1, 2, 5, 10, 20]},
            "data_std": {"kind": "select", "options": [0.3, 1.0, 3.0, 10.0]},
            "d_output": {"kind": "select", "options": [10, 30, 100, 300]},
            "lr": {"kind": "select", "options": [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]},
            "init_scale": {"kind": "log", "min": -2, "max": 0.5, "step": 0.5},
        },
        figure=plots.deep_overview,
        seeds=2,
        fixed={"epochs": 2},
    ),
)
