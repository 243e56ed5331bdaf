"""Panels of E9, early directional convergence under small initialisation (``directional``;
the chapter ``notebooks/directional.ipynb``)."""

from __future__ import annotations

from ..plots import directional as plots
from ..results.directional import SWEEP
from . import Frames, Grid, Live, register

register(
    "directional",
    Frames(
        figure=plots.directional_frame,
        every=8,
        predict=(
            "Press Play and watch three things: the norm ‖θ‖/‖θ(0)‖, the growing neurons' cosine "
            "to their nearest KKT direction (middle panel) and the loss. In which order do they "
            "move?",
            "The norm doubles first, while the cosines are still rising; the growing (orange) "
            "neurons then reach a cosine close to 1 and climb to the right of the middle panel "
            "while the loss is still flat; only after that does the loss leave its plateau. "
            "Meanwhile a few singular values of W₁ separate from the rest: the first layer "
            "becomes nearly low rank.",
        ),
    ),
)

register(
    "directional",
    Grid(
        experiment="directional",
        values={"delta": list(SWEEP), "depth": [2, 3], "width": [20, 50]},
        figure=plots.directional_panel,
        initial={"delta": 1e-4, "depth": 2, "width": 50},
        seeds=4,
        predict=(
            "Shrink δ decade by decade, first at depth 2 and then at depth 3. Before you move "
            "it: how does the flow time until the loss falls change in each case, and what "
            "happens at the largest δ?",
            "At depth 2 each decade of δ adds about the same amount of flow time (the plateau "
            "is linear in ln(1/δ)), and the time to double the norm hardly changes. At depth 3 "
            "the plateau grows like 1/δ, so the time axis stretches by about a factor ten per "
            "decade. At the largest δ there is no plateau: the loss moves before the norm "
            "doubles, before the growing neurons have aligned with KKT directions.",
        ),
    ),
)

register(
    "directional",
    Live(
        experiment="directional",
        sliders={
            "delta": {"kind": "log", "min": -5, "max": -1, "step": 1, "description": "delta"},
            "depth": {"kind": "select", "options": [2, 3, 4], "description": "depth"},
            "width": {"kind": "select", "options": [10, 20, 50, 100], "description": "width"},
            "activation": {
                "kind": "select",
                "options": ["relu", "leaky_relu", "relu2"],
                "description": "σ",
            },
        },
        figure=plots.directional_panel,
        seeds=4,
    ),
)
