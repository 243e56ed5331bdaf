"""Panels of E1, unlucky nodes lose their fan-out (the chapter ``notebooks/fanout.ipynb``)."""

from __future__ import annotations

from ..plots import fanout as plots
from . import Frames, Live, register

register(
    "fanout",
    Frames(
        figure=plots.fanout_frame,
        every=2,
        start="first",  # the trained state is the chapter's first figure (its left panel)
        predict=(
            "Before you press Play: at step 0, how far apart are the fan-outs of the lucky nodes "
            "(started near a teacher node) and of the unlucky ones (pure noise)? As training "
            "goes on, does the unlucky nodes' fan-out level off at some small value, or keep "
            "falling?",
            "At step 0 the two groups are already apart, but only modestly: the lucky nodes "
            "start near the teacher's fan-out rows, the unlucky ones with shrunken noise. The "
            "lucky nodes then stay where they are, while each unlucky node's fan-out falls "
            "far below its own start, faster and faster on the log-log axes, without "
            "levelling off.",
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
