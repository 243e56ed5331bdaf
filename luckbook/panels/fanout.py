"""Panels of E1, unlucky nodes lose their fan-out (the chapter ``notebooks/fanout.ipynb``)."""

from __future__ import annotations

from ..plots import fanout as plots
from . import Frames, Grid, Live, register

register(
    "fanout",
    Frames(
        figure=plots.fanout_frame,
        every=2,
        predict=(
            "Before you press Play: at step 0, how far apart are the fan-outs of the lucky nodes "
            "(started near a teacher node) and of the unlucky ones (pure noise)? As training "
            "goes on, does the unlucky nodes' fan-out level off at some small value, or keep "
            "falling?",
            "At step 0 the two groups are already apart, but only modestly: the lucky nodes "
            "start near the teacher's fan-out rows, the unlucky ones with shrunken noise. The "
            "lucky nodes then stay where they are, while the unlucky nodes' fan-out falls "
            "faster and faster on the log-log axes and does not level off: by the last step "
            "the groups are orders of magnitude apart.",
        ),
    ),
)

register(
    "fanout",
    Grid(
        experiment="fanout",
        values={
            "top_init": ["teacher_noise", "noise"],
            "dynamics": ["projected-matrix", "sgd"],
        },
        figure=plots.fanout_panel,
        initial={"top_init": "teacher_noise", "dynamics": "projected-matrix"},
        seeds=4,
        predict=(
            "Switch the top layer's start from the released one (top_init = teacher_noise) to "
            "the earlier pure-noise start (noise). Before you move it: do the unlucky nodes "
            "still lose their fan-out, and is the ratio of medians at the end larger or "
            "smaller?",
            "They still lose it, under both dynamics, but the separation after the same number "
            "of steps is smaller: with a pure-noise top layer every node starts with the same "
            "small fan-out, so the lucky nodes must first grow theirs while the unlucky ones "
            "decay. With the released start the lucky nodes carry the output from step 0.",
        ),
    ),
)

register(
    "fanout",
    Live(
        experiment="fanout",
        sliders={
            "init_scale": {"kind": "log", "min": -2, "max": 0, "step": 0.25},
            "top_scale": {"kind": "log", "min": -2, "max": 0, "step": 0.25},
            "multi": {"kind": "select", "options": [2, 3, 4]},
            "lr": {"kind": "log", "min": -2, "max": 0, "step": 0.25},
        },
        figure=plots.fanout_panel,
        seeds=4,
    ),
)
