"""Panels: the sliders of every chapter, declared once per experiment in
``panels/<experiment>.py`` and opened by name.

Three kinds, one call each (notebook cells hold the call, never the specs):

* :class:`Grid` — a static panel over a grid of runs of one experiment, pre-rendered when the
  book is built (``lb.static_explorer(name, scale=...)``);
* :class:`Frames` — a static time scrubber over one result's snapshots
  (``lb.time_scrubber(result)``; by default the frames of its experiment, numbers from
  ``result.numbers(step)``);
* :class:`Live` — live ipywidgets sliders with a **Run** button (``lb.explorer(name, ...)``).

A panel module registers its specs with :func:`register`; this package imports the modules
listed in :data:`MODULES` on first lookup (they import matplotlib).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

MODULES = (
    "bn_bias",
    "deep_specialization",
    "deep_teacher",
    "directional",
    "fanout",
    "gradient_relation",
    "lucky",
    "real_teacher",
    "sample_complexity",
    "two_layer",
    "two_layer_sweep",
)
"""The panel modules, one per experiment (``luckbook/panels/<name>.py``)."""


@dataclasses.dataclass(frozen=True)
class Grid:
    """A static panel over a grid of runs of ``experiment``: every combination of ``values``
    is run (through the results cache) and drawn when the page is built.

    Attributes:
        experiment: the registered experiment name.
        values: setting name -> the values its slider takes; or a function of the
            experiment's settings at the panel's scale that returns them (for a grid whose
            values depend on the scale, e.g. the depths a scale's widths allow).
        figure: ``result -> Figure`` (a function of ``luckbook.plots.<experiment>``).
        numbers: ``result -> str`` shown under the figure (default ``result.numbers()``).
        initial: where each slider starts (default: its first value; its last when the
            value given is not among the scale's values).
        seeds: seeds per grid point.
        fixed: settings held constant at every grid point.
        predict: ``(question, answer)``: a prediction prompt above the panel, the answer in a
            drop-down.
        on_divergence: ``(error, values) -> Figure`` drawn for a grid point whose training
            diverges (its numbers say so) instead of failing the page.
    """

    experiment: str
    values: Mapping[str, Sequence[Any]] | Callable[[Any], Mapping[str, Sequence[Any]]]
    figure: Callable[[Any], Any]
    numbers: Callable[[Any], str] | None = None
    initial: Mapping[str, Any] | None = None
    seeds: int = 4
    fixed: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    predict: tuple[str, str] | None = None
    on_divergence: Callable[[Exception, dict[str, Any]], Any] | None = None


@dataclasses.dataclass(frozen=True)
class Frames:
    """A static time scrubber over a result's snapshots.

    Attributes:
        figure: ``(result, step) -> Figure``.
        numbers: ``(result, step) -> str`` (default ``result.numbers(step)``).
        every: show every ``every``-th snapshot (and the last).
        predict: ``(question, answer)`` prompt above the panel.
        start: ``"last"`` (the trained state) or ``"first"`` (step 0): the frame shown before
            the reader moves the slider. ``"first"`` where the chapter already shows the
            trained state in a figure above, so the panel does not repeat it.
    """

    figure: Callable[[Any, int], Any]
    numbers: Callable[[Any, int], str] | None = None
    every: int = 1
    predict: tuple[str, str] | None = None
    start: str = "last"


@dataclasses.dataclass(frozen=True)
class Live:
    """Live sliders over ``experiment``'s settings, a **Run** button and a figure.

    Attributes:
        experiment: the registered experiment name.
        sliders: setting name -> slider spec: ``{"kind": "select", "options": [...]}``,
            ``{"kind": "log", "min": -4, "max": -1, "step": 0.5}`` (log₁₀ slider) or
            ``{"kind": "float", "min", "max", "step"}``; optional ``"description"``.
        figure: ``result -> Figure``.
        seeds: seeds per run.
        fixed: settings held constant (they get no slider).
        initial: where sliders start (default: the scale's setting).
    """

    experiment: str
    sliders: Mapping[str, Mapping[str, Any]]
    figure: Callable[[Any], Any]
    seeds: int = 4
    fixed: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    initial: Mapping[str, Any] = dataclasses.field(default_factory=dict)


Spec = Grid | Frames | Live
PANELS: dict[str, Spec] = {}
_loaded = False


def register(name: str, spec: Spec) -> Spec:
    """Register ``spec`` under ``name`` (``"<experiment>"`` for an experiment's main panel of
    its kind, ``"<experiment>.<what>"`` for others)."""
    PANELS[f"{type(spec).__name__.lower()}:{name}"] = spec
    return spec


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in MODULES:
            importlib.import_module(f"{__name__}.{module}")
        _loaded = True


def names(kind: type) -> list[str]:
    """Registered panel names of one kind (:class:`Grid`, :class:`Frames` or :class:`Live`)."""
    _load()
    prefix = f"{kind.__name__.lower()}:"
    return sorted(k.removeprefix(prefix) for k in PANELS if k.startswith(prefix))


def get(kind: type, name: str) -> Any:
    """The registered spec ``name`` of ``kind``; a one-line ``ValueError`` listing the known
    ones otherwise."""
    _load()
    key = f"{kind.__name__.lower()}:{name}"
    if key not in PANELS:
        known = ", ".join(names(kind)) or "none"
        raise ValueError(f"panel={name!r} is not allowed: the {kind.__name__} panels are {known}")
    return PANELS[key]
