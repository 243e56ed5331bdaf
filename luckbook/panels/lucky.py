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
            "relative to its own gap, and at which noise levels the nodes on the right halve "
            "their gap sooner; the claim check measures exactly that (the halving-rate claims "
            "of E2), with intervals.",
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
            "They start with low initial correlation, on the left of the scatter; a hollow "
            "triangle is a node that never reaches 0.95 in the run. Count them at each noise "
            "level: where every teacher node already has a perturbed node with a head start, "
            "does an extra node still converge? At which noise level do the perturbed nodes "
            "lose enough of their head start for extra nodes to catch up, and onto which "
            "teacher node do those converge (one that another node already covers)?",
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
