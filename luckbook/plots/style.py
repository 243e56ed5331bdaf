"""The book's figure style: rc settings, colours, the ``BookFigure`` (PNG with alt text) and
:func:`new_figure`. Every plot module draws through :func:`styled` on a :func:`new_figure`.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state), so they display once
in Jupyter, never leak, and are safe to redraw from a slider callback.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import io
import re
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

LEVELS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
"""Colours of discrete levels (noise levels, widths) in this order: the Okabe–Ito palette,
told apart with any colour vision; the first three are of middle lightness, so they stay
distinct on the dark page too (where figures are shown inverted, hue kept)."""
LEVEL_MARKERS = ("o", "s", "D", "P", "X", "v")
"""Marker shapes in the order of :data:`LEVELS`: a second cue besides colour."""


def number(value: float, spec: str = ".2f", reason: str = "") -> str:
    """``value`` formatted for a title or label: never ``nan`` on a figure. An undefined value
    reads ``—``, or ``not defined (reason)`` with ``reason``; an infinite one ``∞``."""
    import math

    value = float(value)
    if math.isnan(value):
        return f"not defined ({reason})" if reason else "\u2014"
    if math.isinf(value):
        return "\u221e" if value > 0 else "\u2212\u221e"
    return format(value, spec)


def styled(fn: Callable[P, R]) -> Callable[P, R]:
    """Draw inside the book's rc style (fonts, grid, spines)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with mpl.rc_context(STYLE):
            out = fn(*args, **kwargs)
        if isinstance(out, BookFigure):  # the outermost plot function names the figure
            out.name = _figure_name(fn)
            floor_fonts(out)
            no_nan(out)
        return out

    return wrapper


MIN_FONT_PT = 9.0
"""No text on a figure is smaller: at 110 dpi that is 13.75 px, and a slider panel never shows
its image at less than 0.66 of its natural size (``assets/static_panel.js``), so figure text
stays >= 9 px on screen."""


def floor_fonts(fig: Figure, minimum: float = MIN_FONT_PT) -> Figure:
    """Raise every text of ``fig`` (labels, titles, legends, annotations) to ``minimum`` pt."""
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        if text.get_fontsize() < minimum:
            text.set_fontsize(minimum)
    return fig


NAN_WORD = re.compile(r"(?<![\w.])nan(?![\w])", re.IGNORECASE)


def no_nan(fig: Figure) -> Figure:
    """The safety net behind :func:`number`: a ``nan`` left in a title, label or legend reads
    ``—``, in the alt text ``not defined``."""
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        value = text.get_text()
        if value and NAN_WORD.search(value):
            text.set_text(NAN_WORD.sub("\u2014", value))
    if isinstance(fig, BookFigure) and fig.alt:
        fig.alt = NAN_WORD.sub("not defined", fig.alt)
    return fig


def _figure_name(fn: Callable[..., object]) -> str:
    """``"<experiment>-<function>"``, the name ``luckbook figures`` gives the same figure."""
    module = getattr(fn, "__module__", "") or ""
    chapter = module.rsplit(".", 1)[-1].replace("_", "-") if module.startswith("luckbook.") else ""
    return f"{chapter}-{fn.__name__}" if chapter else fn.__name__


SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "luckbook"}
"""SVG for slides: text stays text (no embedded glyph paths), ids are reproducible."""

RASTERIZE_OVER = 20_000
"""An axes whose lines and markers hold more points than this has them rasterized in the
SVG (axes, ticks and text stay vector), so that no figure's SVG grows without bound."""

_SVGZ_CLICK = (
    "var a=this;if(a.dataset.ready){return true;}event.preventDefault();"
    "if(!window.DecompressionStream){a.textContent='SVG: needs a newer browser';return false;}"
    "var b=Uint8Array.from(atob(a.dataset.svgz),function(c){return c.charCodeAt(0);});"
    "new Response(new Blob([b]).stream().pipeThrough(new DecompressionStream('gzip')))"
    ".blob().then(function(x){a.href=window.URL.createObjectURL("
    "new Blob([x],{type:'image/svg+xml'}));a.dataset.ready='1';a.click();});return false;"
)
"""The download link's click handler: the SVG is stored gzipped (a fifth of its size) and
unpacked in the browser (``DecompressionStream``), from disk and offline like the rest. (In an
inline handler ``URL`` is ``document.URL``: hence ``window.URL``.)"""


class BookFigure(Figure):
    """A ``Figure`` that shows itself in Jupyter and in the book as a PNG with alt text.

    ``alt`` describes the figure for readers who cannot see it; it is set by every plotting
    function of this module.
    """

    alt: str = ""
    name: str = "figure"

    def svg_bytes(self) -> bytes:
        """The figure as lean SVG (text as text, heavy data layers rasterized, no date)."""
        from matplotlib.collections import Collection
        from matplotlib.lines import Line2D

        changed = []
        for ax in self.axes:
            heavy = [a for a in ax.get_children() if isinstance(a, Collection | Line2D)]
            points = sum(_n_points(a) for a in heavy)
            if points > RASTERIZE_OVER:
                for a in heavy:
                    if not a.get_rasterized() and _n_points(a) > 2:
                        a.set_rasterized(True)
                        changed.append(a)
        buf = io.BytesIO()
        try:
            with mpl.rc_context(SVG_RC):
                self.savefig(buf, format="svg", dpi=STYLE["savefig.dpi"], metadata={"Date": None})
        finally:
            for a in changed:
                a.set_rasterized(False)
        return _round_paths(buf.getvalue())

    def svgz(self) -> str:
        """:meth:`svg_bytes` gzipped, base64: what a download link carries."""
        return base64.b64encode(gzip.compress(self.svg_bytes(), 9, mtime=0)).decode()

    def svg_link(self) -> str:
        """An ``<a download>`` that saves the figure as SVG, the SVG inline (gzipped, base64):
        it works in the static book, from disk, without a kernel."""
        return svg_anchor(self.svgz(), self.name)

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
            '<div class="luckbook-download" style="font-size:.8em;text-align:right">'
            f"{self.svg_link()}</div>"
        )


def svg_filename(name: str) -> str:
    """``name`` as a safe file name ending in ``.svg``."""
    return (re.sub(r"[^A-Za-z0-9_.=-]+", "-", name or "figure").strip("-") or "figure") + ".svg"


def svg_anchor(svgz: str, name: str, extra_class: str = "") -> str:
    """The download link for a gzipped, base64 SVG (see :data:`_SVGZ_CLICK`)."""
    cls = f"luckbook-svg {extra_class}".strip()
    return (
        f'<a class="{cls}" download="{html.escape(svg_filename(name), quote=True)}" href="#" '
        f'data-svgz="{svgz}" onclick="{html.escape(_SVGZ_CLICK, quote=True)}" '
        'title="download this figure as SVG (for slides)">\u2b07 SVG</a>'
    )


def _round_paths(svg: bytes) -> bytes:
    """Path coordinates to 0.1 pt (matplotlib writes six decimals): a third smaller, the same
    drawing at any slide size. Text is untouched."""

    def one(match: re.Match[bytes]) -> bytes:
        return re.sub(rb"(\d+\.\d)\d+", rb"\1", match.group(0))

    return re.sub(rb' d="[^"]*"', one, svg)


def _n_points(artist: object) -> int:
    """How many data points an artist draws (markers of a collection, vertices of a line)."""
    from matplotlib.collections import PathCollection
    from matplotlib.lines import Line2D

    if isinstance(artist, Line2D):
        return len(artist.get_xdata(orig=False))
    if isinstance(artist, PathCollection):
        return len(artist.get_offsets())
    paths = getattr(artist, "get_paths", lambda: [])()
    return sum(len(p.vertices) for p in paths)


def new_figure(width: float = 7.0, height: float = 3.2) -> BookFigure:
    """A blank figure (constrained layout); draw on it inside :func:`styled` functions."""
    return BookFigure(figsize=(width, height), layout="constrained")


def with_alt(fig: Figure, text: str) -> Figure:
    if isinstance(fig, BookFigure):
        fig.alt = (fig.alt + " " + text).strip() if fig.alt else text
    return fig
