"""Panels of the E4 sweep (``two-layer-sweep``; the chapter ``notebooks/two_layer_sweep.ipynb``):
the L-shape over training time (``lb.time_scrubber(lshape)``), an explorer over the cells of
one sweep (:func:`sweep_cell_explorer`), one over the student's initial scale
(:func:`sweep_init_scale_explorer`) and the live panel (``lb.explorer("two-layer-sweep")``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from ..plots import two_layer_sweep as plots
from ..results.two_layer_sweep import INIT_SCALES, TwoLayerSweepResult
from . import Frames, Live, register

FRAMES_P = 1.0  # l_shape_frame's default p
"""The teacher strength decay of the time scrubber's frames."""


def _frame_numbers(result: TwoLayerSweepResult, step: int) -> str:
    return result.numbers(p=FRAMES_P, step=step)


register(
    "two-layer-sweep",
    Frames(
        figure=plots.l_shape_frame,  # every multi at p = 1, m = claim_m
        numbers=_frame_numbers,
        every=1,  # every geometric snapshot: nodes arrive one after another
        predict=(
            "At step 0 every student node sits near the origin: small best correlation, small "
            "fan-out. Before you press Play: which nodes move first, and where do the student "
            "nodes end up at each width?",
            "Nodes near the strongest teacher nodes move first: within a few hundred steps they "
            "reach correlation close to 1 and their fan-out grows, forming the vertical arm of "
            "the L; weaker teacher nodes are picked up one after another. From this small start "
            "most student nodes end on some teacher node, several sharing one, so the vertical "
            "arm is lower for the wide students; the few that match nothing stay low (the "
            "horizontal arm) — near the level they started at, from this small start — "
            "except at multi = 1, where every node is needed and "
            "the unmatched ones keep large fan-outs.",
        ),
    ),
)

register(
    "two-layer-sweep",
    Live(
        experiment="two-layer-sweep",
        sliders={
            "init_scale": {"kind": "log", "min": -4, "max": 0, "step": 0.5},
            "bias": {"kind": "float", "min": -0.5, "max": 0.5, "step": 0.1},
            "activation": {"kind": "select", "options": ["relu", "leaky_relu"]},
        },
        figure=plots.l_shape_grid,
        seeds=4,
        fixed={
            "ms": (10,),
            "multis": (1, 5),
            "ps": (0.0, 1.0, 2.0),
            "steps": 5000,
            "n_snapshots": 10,
            "lshape_steps": 5000,
            "claim_m": 10,
        },
    ),
)

CELL_PREDICT = (
    "Pick m = 10 and p = 2, and move multi from 1 to 10. Before you do: which teacher indices "
    "are covered at the end at each width, and how does the L-shape change?",
    "The strong teacher nodes (small indices) are covered at every width; the weak ones (high "
    "indices) are covered in more seeds as multi grows, so the success-rate curve drops later, "
    "though the weakest stay uncovered. In the L-shape most student nodes end on the vertical "
    "arm at every width, but the arm gets lower as multi grows: several student nodes share "
    "one teacher node and split its fan-out.",
)
INIT_PREDICT = (
    "The sweep starts every student at init_scale = 0.005. Before you move the slider: with "
    "larger initial weights, will more or fewer teacher nodes be covered after the same number "
    "of steps, and how many student nodes will specialize?",
    "Coverage changes little at first and drops at the largest scale, where the weakest "
    "teacher nodes are missed in some seeds and every teacher node is found later. The L "
    "changes more: from the small start almost every student node ends on some teacher node, "
    "while from a large start most student nodes match none and their fan-out shrinks to "
    "almost zero, so the vertical arm thins out and the horizontal one fills up.",
)


def sweep_cell_explorer(
    result: TwoLayerSweepResult, initial: Mapping[str, Any] | None = None
) -> Any:
    """A static panel over every cell ``(m, multi, p)`` of ``result``
    (:func:`~luckbook.plots.two_layer_sweep.cell_panel`: L-shape, success rate per teacher,
    eval loss). Starts at ``initial`` (default: ``result.default_m()``, the middle multi,
    p = 1)."""
    from ..static import static_panel

    s = result.settings

    def render(values: dict[str, Any]) -> tuple[Figure, str]:
        m, multi, p = values["m"], values["multi"], values["p"]
        return plots.cell_panel(result, m, multi, p), result.numbers(m, multi, p)

    start = initial or {
        "m": result.default_m(),
        "multi": s.multis[len(s.multis) // 2],
        "p": 1.0 if 1.0 in s.ps else s.ps[-1],
    }
    panel = static_panel(
        render,
        {"m": list(s.ms), "multi": list(s.multis), "p": list(s.ps)},
        initial=start,
        predict=CELL_PREDICT,
    )
    panel.caption = (
        f"{len(panel.frames)} cells × {len(result.seeds)} seeds from the sweep above. "
        f"{result.provenance()}"
    )
    return panel


def sweep_init_scale_explorer(
    result: TwoLayerSweepResult,
    scales: Sequence[float] = INIT_SCALES,
    m: int | None = None,
    multi: int = 5,
    p: float = 1.0,
) -> Any:
    """A static panel over the student's initial scale for one cell ``(m, multi, p)`` (``m``
    default: ``claim_m``) of ``result``'s settings and seeds (the runs of
    :meth:`~luckbook.results.two_layer_sweep.TwoLayerSweepResult.init_scale_runs`, cached)."""
    from ..static import static_panel

    m = result.settings.claim_m if m is None else m
    runs = result.init_scale_runs(list(scales), m, multi, p)

    def render(values: dict[str, Any]) -> tuple[Figure, str]:
        r = runs[values["init_scale"]]
        return plots.cell_panel(r, m, multi, p), r.numbers(m, multi, p)

    panel = static_panel(render, {"init_scale": list(scales)}, predict=INIT_PREDICT)
    panel.caption = (
        f"m = {m}, multi = {multi}, p = {p:g}, {len(result.seeds)} seeds per frame. "
        f"{result.provenance()}"
    )
    return panel
