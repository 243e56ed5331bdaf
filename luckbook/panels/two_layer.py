"""Panels of E4, the two-layer setting (the setting chapter, ``notebooks/two_layer.ipynb``)."""

from __future__ import annotations

from ..plots import two_layer as plots
from . import Frames, Grid, Live, register

register(
    "two-layer",
    Frames(
        figure=plots.specialization_frame,
        every=1,  # every geometric snapshot: nodes arrive one after another
        predict=(
            "At step 0 every student node is weakly correlated with every teacher node and has "
            "a tiny fan-out. Before you press Play: what happens first, and what takes the rest "
            "of training?",
            "First the teacher nodes acquire students: the best correlations jump to almost 1 "
            "and those students' fan-outs grow, within the first frames when all teacher nodes "
            "are equally strong (p = 0). The slow part comes after, and the time axis is "
            "geometric: each frame is a fixed factor later than the last. The student nodes that "
            "match no teacher node stay low, near the small fan-out they started with, which "
            "is what makes the scatter an L.",
        ),
    ),
)

register(
    "two-layer",
    Grid(
        experiment="two-layer",
        values={"multi": [1, 5], "p": [0.0, 1.0, 2.0], "init_scale": [0.005, 0.1]},
        figure=plots.setting_panel,
        initial={"multi": 5, "p": 0.0, "init_scale": 0.005},
        seeds=4,
        fixed={"n_snapshots": 2, "spacing": "linear"},  # its frames read the end only
        predict=(
            "Set multi = 1 (a student exactly as wide as its teacher) and move p from 0 to 2, "
            "so the teacher's later nodes get weaker fan-out. Before you move it: which teacher "
            "nodes will the student miss, and will multi = 5 rescue them?",
            "The weak ones (the highest indices: the bottom rows of the heat-map, which lose "
            "their dark red cell) are missed "
            "first: their signal in the output is small, and a student node that drifted "
            "towards a strong teacher never comes back. With multi = 5 the spare student "
            "nodes give every teacher more lucky initial matches, so more of the weak ones are "
            "covered; compare how many heat-map rows keep a dark red cell in the two frames.",
        ),
    ),
)

register(
    "two-layer",
    Live(
        experiment="two-layer",
        sliders={
            "multi": {"kind": "select", "options": [1, 2, 3, 5, 10]},
            "init_scale": {"kind": "select", "options": [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1]},
            "p": {"kind": "float", "min": 0.0, "max": 2.5, "step": 0.5},
            "lr": {"kind": "select", "options": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]},
        },
        figure=plots.setting_overview,
        seeds=4,
    ),
)
