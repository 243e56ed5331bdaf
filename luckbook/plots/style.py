"""The book's figure style: rc settings, colours, the ``BookFigure`` (PNG with alt text) and
:func:`new_figure`. Every plot module draws through :func:`styled` on a :func:`new_figure`.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state), so they display once
in Jupyter, never leak, and are safe to redraw from a slider callback.
"""

from __future__ import annotations

import base64
import functools
import html
import io
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import matplotlib as mpl
from matplotlib.figure import Figure

P = ParamSpec("P")
R = TypeVar("R")

STYLE = {
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "legend.frameon": False,
    "figure.dpi": 110,
    "savefig.dpi": 110,
}
"""Applied to every figure of the book by :func:`styled`."""

SPECIALIZED = "#c2410c"  # student nodes with best correlation ≥ τ
UNSPECIALIZED = "#64748b"  # the rest
TEACHER = "#1d4ed8"


def styled(fn: Callable[P, R]) -> Callable[P, R]:
    """Draw inside the book's rc style (fonts, grid, spines)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with mpl.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


class BookFigure(Figure):
    """A ``Figure`` that shows itself in Jupyter and in the book as a PNG with alt text.

    ``alt`` describes the figure for readers who cannot see it; it is set by every plotting
    function of this module.
    """

    alt: str = ""

    def png_bytes(self) -> bytes:
        """The figure as a palette PNG (256 colours): about a third of the size of RGBA,
        which keeps pages with many slider frames light."""
        from PIL import Image

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=STYLE["savefig.dpi"])
        image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
        palette = image.quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        out = io.BytesIO()
        palette.save(out, format="PNG", optimize=True)
        return out.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png_bytes()

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.png_bytes()).decode()
        alt = html.escape(self.alt or "figure", quote=True)
        return (
            f'<img class="luckbook-figure" src="data:image/png;base64,{data}" alt="{alt}" '
            'style="max-width:100%;height:auto">'
        )


def new_figure(width: float = 7.0, height: float = 3.2) -> BookFigure:
    """A blank figure (constrained layout); draw on it inside :func:`styled` functions."""
    return BookFigure(figsize=(width, height), layout="constrained")


def with_alt(fig: Figure, text: str) -> Figure:
    if isinstance(fig, BookFigure):
        fig.alt = (fig.alt + " " + text).strip() if fig.alt else text
    return fig
