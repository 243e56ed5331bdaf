"""Panels of E5, sample complexity (``sample-complexity``; the chapter
``notebooks/sample_complexity.ipynb``): coverage against ``N`` over training time
(``lb.time_scrubber(result)``), an explorer over the sizes and data kinds of one result
(:func:`sample_complexity_explorer`) and the live panel (``lb.explorer("sample-complexity")``).
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from ..plots import sample_complexity as plots
from ..results.sample_complexity import SampleComplexityResult
from . import Frames, Live, register

register(
    "sample-complexity",
    Frames(
        figure=plots.coverage_frame,
        predict=(
            "Before you press Play: does coverage rise at the same pace at every training-set "
            "size N, and does it end at the same level?",
            "No. The large training sets cover every teacher node within the first few "
            "thousand steps; the small ones stop short however long they train, because the "
            "students fit their training set without finding every teacher node. At the small "
            "sizes the two kinds of data differ, and not always in the same direction.",
        ),
    ),
)

register(
    "sample-complexity",
    Live(
        experiment="sample-complexity",
        sliders={
            "data": {"kind": "select", "options": ["both", "gaussian", "augmented"]},
            "p": {
                "kind": "select",
                "options": [0.0, 0.5, 1.0, 2.0],
                "description": "strength decay p",
            },
            "multi": {"kind": "select", "options": [1, 2, 5], "description": "width multi"},
            "activation": {"kind": "select", "options": ["relu", "leaky_relu"]},
        },
        figure=plots.sample_complexity_figure,
        seeds=4,
    ),
)

EXPLORER_PREDICT = (
    "Set N to the smallest size and switch the data kind between gaussian and augmented. "
    "Before you do: which kind leaves more teacher nodes below the threshold, and what changes "
    "at the largest N?",
    "At the smallest N the Gaussian runs leave more teacher nodes uncovered: the augmented set "
    "puts points on and on both sides of every teacher boundary, which is what the theorem "
    "asks for. That does not hold at every small N (one size up the order can flip). At the "
    "largest N both kinds cover every teacher node, so the two frames look alike.",
)


def sample_complexity_explorer(result: SampleComplexityResult) -> Any:
    """A static panel over the training-set sizes and data kinds of ``result``: the best
    correlation of every teacher node (:func:`~luckbook.plots.sample_complexity.grid_frame`)
    and the covered counts per seed. Starts at the smallest ``N``, augmented data."""
    from ..static import static_panel

    s = result.settings

    def render(values: dict[str, Any]) -> tuple[Figure, str]:
        n, kind = values["N"], values["data"]
        return plots.grid_frame(result, n, kind), result.size_numbers(n, kind)

    panel = static_panel(
        render,
        {"N": list(s.n_trains), "data": list(s.kinds)},
        initial={"N": min(s.n_trains), "data": s.kinds[-1]},
        predict=EXPLORER_PREDICT,
    )
    panel.caption = (
        f"Served from the run above ({len(result.seeds)} seeds); drawn in "
        f"{panel.seconds:.0f} s. {result.provenance()}"
    )
    return panel
