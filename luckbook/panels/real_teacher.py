"""Panels of E8, a teacher trained on real images (the Real-data chapter,
``notebooks/real_data.ipynb``): live sliders over the experiment's settings, and a static panel
over the cells of one result (:func:`real_teacher_cells`)."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from ..config import provenance
from ..plots import real_teacher as plots
from ..results.real_teacher import RealTeacherResult
from ..static import StaticPanel, result_call, seeds_text, static_panel
from . import Live, register

register(
    "real-teacher",
    Live(
        experiment="real-teacher",
        sliders={
            "multis": {
                "kind": "select",
                "options": [(1,), (2,), (5,), (10,), (1, 2, 5)],
                "description": "multi",
            },
            "depth": {"kind": "select", "options": [2, 3], "description": "depth"},
            "init_scale": {"kind": "log", "min": -2, "max": 0.5, "step": 0.5},
            "inputs": {"kind": "select", "options": ["both", "real", "gaussian"]},
        },
        figure=plots.real_teacher_coverage,
        seeds=4,
        initial={"multis": (1, 2, 5)},  # where the multi slider starts, at every scale
    ),
)

CELLS_PREDICT = (
    "Start at the widest student on real inputs, then move multi down to 1 and switch the "
    "input to gaussian. Before you move them: which hidden layer is covered first and best, "
    "and which kind of input teaches the student more of the teacher?",
    "The lowest layer: its coverage rises first and ends highest, and a narrower student "
    "covers less of it. Gaussian inputs with the digits' mean and covariance teach more than "
    "the digits themselves: the noisy copies of the training digits sit in small clouds, so "
    "many teacher boundaries are seen only from afar, while the Gaussian points fill the "
    "space around them.",
)
"""The prediction prompt of :func:`real_teacher_cells`."""


def real_teacher_cells(
    result: RealTeacherResult,
    *,
    scale: str | None = None,
    initial: dict[str, Any] | None = None,
) -> StaticPanel:
    """A static panel over the cells of one E8 ``result``: sliders ``input`` (its input kinds)
    and ``multi`` (its width multipliers), each position that cell drawn by
    :func:`~luckbook.plots.real_teacher.real_teacher_cell` with its numbers; no extra
    training. Starts at the first input kind and the largest multi (or ``initial``); the
    caption ends with the provenance of ``scale``."""
    s = result.settings

    def render(values: dict[str, Any]) -> tuple[Figure, str]:
        kind, multi = values["input"], values["multi"]
        return plots.real_teacher_cell(result, kind, multi), result.numbers(kind, multi)

    call = result_call(result)

    def code(values: dict[str, Any]) -> str:
        return f'{call}\nlb.real_teacher_cell(result, "{values["input"]}", {values["multi"]})'

    panel = static_panel(
        render,
        {"input": list(s.kinds), "multi": list(s.multis)},
        initial=initial or {"input": s.kinds[0], "multi": max(s.multis)},
        code=code if call else None,
        predict=CELLS_PREDICT,
    )
    panel.caption = (
        f"{len(panel.frames)} cells of one run × {seeds_text(result.seeds)}, drawn in "
        f"{panel.seconds:.0f} s when this page was built (no extra training). "
        f"{provenance(scale)}"
    )
    return panel
