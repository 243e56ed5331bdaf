"""Panels of E2, lucky nodes converge faster (the chapter ``notebooks/lucky.ipynb``)."""

from __future__ import annotations

from ..plots import lucky as plots
from . import Frames, Grid, Live, register

register(
    "lucky",
    Frames(
        figure=plots.luck_frame,
        every=8,
        predict=(
            "Press Play and watch the dots rise towards the dotted line at 0.95. The nodes on "
            "the right cross it first. Does that mean they converge faster, or only that they "
            "had less distance to cover?",
            "Crossing first is mostly distance: at one common rate the node with the smaller "
            "gap crosses first. To see speed, compare how fast each dot leaves the diagonal "
            "relative to its own gap: at init_std 0.3 the nodes on the right halve their gap "
            "a little sooner; at 0.1 and 1 there is no such order (see the claim check).",
        ),
    ),
)

register(
    "lucky",
    Grid(
        experiment="lucky",
        values={"dynamics": ["projected-matrix", "sgd"], "multi": [1, 2]},
        figure=plots.luck_overview,
        initial={"dynamics": "projected-matrix", "multi": 1},
        seeds=4,
        predict=(
            "Set multi = 2: every student gets as many extra nodes as the teacher has, all "
            "starting as pure noise. Before you move it: where do those nodes appear in the "
            "scatter, and do they reach 0.95 as quickly as the perturbed nodes?",
            "They start with low initial correlation, on the left of the scatter. At the low "
            "noise levels none of them reaches 0.95 in the run (hollow triangles): every "
            "teacher node already has a perturbed node with a head start. Only at the noisiest "
            "level, where the perturbed nodes have lost most of that head start, do some of "
            "them converge, often onto a teacher node that another node also covers.",
        ),
    ),
)

register(
    "lucky",
    Live(
        experiment="lucky",
        sliders={
            "multi": {"kind": "select", "options": [1, 2, 3]},
            "top_scale": {"kind": "log", "min": -2, "max": 0, "step": 0.25},
            "lr": {"kind": "log", "min": -2, "max": 0, "step": 0.25},
        },
        figure=plots.luck_overview,
        seeds=4,
    ),
)
