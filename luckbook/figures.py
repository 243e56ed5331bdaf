"""Figures for slides: every figure of a chapter, drawn from the cached results and written
as SVG, PDF or PNG (``luckbook figures EXPERIMENT --format svg --out DIR``).

A chapter's figures are the public functions of ``luckbook/plots/<experiment>.py`` that take
the experiment's result as their only required argument (frames that need a step, panels that
need a second result, are left out). Nothing is trained: the result must be in the results
cache (the book build, or ``luckbook run``, put it there).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

FORMATS = ("svg", "pdf", "png")


def chapter_figures(experiment: str) -> dict[str, Callable[[Any], Any]]:
    """``{name: function(result) -> Figure}`` for ``experiment``'s chapter (E0–E9)."""
    from .experiments import get_experiment

    exp = get_experiment(experiment)
    module = importlib.import_module(f"luckbook.plots.{experiment.replace('-', '_')}")
    out: dict[str, Callable[[Any], Any]] = {}
    for name, fn in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != module.__name__:
            continue
        params = list(inspect.signature(fn).parameters.values())
        if not params or params[0].kind not in (
            params[0].POSITIONAL_ONLY,
            params[0].POSITIONAL_OR_KEYWORD,
        ):
            continue
        required = [p for p in params[1:] if p.default is inspect.Parameter.empty]
        hints = getattr(fn, "__annotations__", {})
        first = hints.get(params[0].name)
        wanted = exp.result_cls.__name__
        if required or first is None:
            continue
        if (isinstance(first, str) and first != wanted) or (
            not isinstance(first, str) and getattr(first, "__name__", "") != wanted
        ):
            continue
        out[name] = fn
    return out


def write_figures(
    experiment: str,
    out: str | Path,
    *,
    fmt: str = "svg",
    scale: str | None = None,
    seeds: int | Sequence[int] | None = None,
    device: str | None = None,
) -> list[Path]:
    """Write every figure of ``experiment``'s chapter from its cached result into ``out``
    (one file per figure, named after the function); ``ValueError`` in one line when the
    format is unknown or the result is not cached."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .config import default_scale
    from .experiments import get_experiment

    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is not allowed: expected one of {', '.join(FORMATS)}")
    exp = get_experiment(experiment)
    scale = default_scale() if scale is None else scale
    seed_list = exp.claim_seeds(scale) if seeds is None else seeds
    result = exp.cached_result(scale=scale, seeds=seed_list, device=device)
    if result is None:
        raise ValueError(
            f"experiment={experiment!r} at scale {scale!r} is not in the results cache: run "
            f"`luckbook run {experiment} --scale {scale}` (or build the book) first"
        )
    figures = chapter_figures(experiment)
    if not figures:
        raise ValueError(f"experiment={experiment!r} has no figure that takes its result alone")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fn in figures.items():
        fig = fn(result)
        path = folder / f"{experiment}-{name}.{fmt}"
        if fmt == "svg" and hasattr(fig, "svg_bytes"):  # the same lean SVG as the book's links
            path.write_bytes(fig.svg_bytes())
        else:
            fig.savefig(path, format=fmt, bbox_inches="tight", metadata=_metadata(fmt))
        plt.close(fig)
        written.append(path)
    return written


def _metadata(fmt: str) -> dict[str, Any] | None:
    """Reproducible files: no creation date in SVG/PDF."""
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"CreationDate": None}
    return None
