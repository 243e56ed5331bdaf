"""Panels of E0, the gradient relation (``gradient-relation``; the chapter
``notebooks/gradient_relation.ipynb``).

The static grid slides over the teacher's depth, and the depths a teacher can have depend on
the scale: ``depth − 1`` hidden widths must be among the scale's ``m`` (four at ``book`` and
``paper``, two at ``tiny``); its values are a function of the scale's settings.
"""

from __future__ import annotations

from typing import Any

from ..plots import gradient_relation as plots
from . import Grid, Live, register


def _grid(settings: Any) -> dict[str, list[Any]]:
    """Depth × teacher bias, at the depths whose hidden widths the scale's ``m`` provides
    (``depth <= len(m) + 1``: 2–5 at ``book`` and ``paper``, 2–3 at ``tiny``)."""
    return {"depth": [d for d in (2, 3, 4, 5) if d <= len(settings.m) + 1], "bias": [0.0, -1.0]}


register(
    "gradient-relation",
    Grid(
        experiment="gradient-relation",
        values=_grid,
        figure=plots.gradient_relation_panel,
        initial={"depth": 3, "bias": 0.0},
        seeds=4,
        predict=(
            "Switch the teacher's bias from 0 to −1, then make the teacher deeper. Before you do: "
            "in which hidden layers will the overlap of teacher activations fall, and what will "
            "the aligned student's β* heat-map do?",
            "In the first hidden layer the overlap falls steadily as the bias becomes negative, "
            "close to what independent nodes would give. In deeper layers it falls only part of "
            "the way and then rises again: a negative bias alone does not make deep activation "
            "regions disjoint. The aligned student's β* sharpens towards its (replicated) "
            "diagonal as the overlap falls. The matrix gradient stays far from the exact one in "
            "every hidden layer at every depth; only the output layer is exact.",
        ),
    ),
)


SLIDERS = {
    "depth": {"kind": "select", "options": [2, 3, 4, 5], "description": "depth"},
    "bias": {"kind": "float", "min": -1.5, "max": 0.5, "step": 0.25, "description": "bias"},
    "multi": {"kind": "select", "options": [1, 2, 3, 5], "description": "multi"},
    "init_scale": {"kind": "log", "min": -1, "max": 0.5, "step": 0.25, "description": "init_scale"},
    "align_noise": {
        "kind": "log",
        "min": -3,
        "max": -0.5,
        "step": 0.25,
        "description": "align_noise",
    },
}
"""Live sliders of the chapter: depth, teacher bias, width multiplier, the random student's
init scale (log₁₀) and the aligned student's noise (log₁₀). A depth the scale's ``m`` has no
widths for is reported in the panel, as any bad setting."""

register(
    "gradient-relation",
    Live(
        experiment="gradient-relation",
        sliders=SLIDERS,
        figure=plots.gradient_relation_panel,
        seeds=4,
    ),
)
