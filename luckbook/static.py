"""Sliders that work in the static book: precomputed frames switched by plain HTML/JS.

ipywidgets need a running kernel, so in the rendered book they are dead. Here every slider
position of a small grid is computed once (through the results cache), rendered to a PNG
and embedded in one self-contained HTML block; moving a slider only swaps the image, its alt
text and the numbers printed beside it. Nothing is fetched at view time: the page works
from disk, offline.

Two kinds of panel share the mechanism: ``"grid"`` (one slider per setting, the Cartesian
product precomputed) and ``"time"`` (one slider over training snapshots, with play/pause).
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

from matplotlib.figure import Figure

from . import panels
from .claims import held_out_seeds
from .config import check_choice, check_int, default_scale, provenance
from .experiments import get_experiment, resolve_seeds
from .plots.style import NAN_WORD, svg_anchor, svg_filename
from .train import DivergenceError
from .widgets import is_categorical

KINDS = ("grid", "time")
MAX_FRAMES = 200
"""A panel embeds at most this many images (page weight)."""

_ASSETS = resources.files("luckbook") / "assets"
_CSS = (_ASSETS / "static_panel.css").read_text(encoding="utf-8")
_JS = (_ASSETS / "static_panel.js").read_text(encoding="utf-8")  # "%(id)s" = the panel's id


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _png_data_url(fig: Figure) -> str:
    png = fig.png_bytes() if hasattr(fig, "png_bytes") else _fallback_png(fig)
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _fallback_png(fig: Figure) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _check_predict(predict: Any) -> tuple[str, str] | None:
    if predict is None:
        return None
    if (
        not isinstance(predict, tuple | list)
        or len(predict) != 2
        or not all(isinstance(p, str) and p.strip() for p in predict)
    ):
        raise ValueError(
            f"predict={predict!r} is not allowed: "
            "expected (question, answer), two non-empty strings"
        )
    return (predict[0], predict[1])


def _seeds_arg(seeds: Any) -> str:
    """Source for ``seeds``: ``n`` for ``[0, …, n-1]`` (what ``lb.run`` turns back into that
    list), ``lb.held_out_seeds(n)`` for the held-out block, else the list."""
    seeds = [int(s) for s in seeds]
    if seeds == list(range(len(seeds))):
        return str(len(seeds))
    if seeds == held_out_seeds(len(seeds)):
        return f"lb.held_out_seeds({len(seeds)})"
    return repr(seeds)


def seeds_text(seeds: int | Sequence[int]) -> str:
    """``"4 seeds"``, or ``"4 held-out seeds (1000–1003)"`` for the held-out block."""
    seed_list = resolve_seeds(seeds)
    n = len(seed_list)
    if n > 1 and seed_list == held_out_seeds(n):
        return f"{n} held-out seeds ({seed_list[0]}–{seed_list[-1]})"
    return f"{n} seed{'s' if n != 1 else ''}"


def _py(value: Any) -> str:
    """Python source for a setting value (strings in double quotes, as the notebooks write them)."""
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def run_call(experiment: str, *, scale: str, seeds: Any, **settings: Any) -> str:
    """The ``lb.run(...)`` line that recomputes a result (settings in the order given)."""
    args = [_py(experiment), f"scale={_py(scale)}", f"seeds={_seeds_arg(seeds)}"]
    args += [f"{k}={_py(v)}" for k, v in settings.items()]
    return "import luckbook as lb\n\nresult = lb.run(" + ", ".join(args) + ")"


def result_call(result: Any) -> str | None:
    """``lb.run(...)`` for a result: its experiment is found by its settings class, the
    scale is the preset closest to its settings, and every setting that differs is given.
    ``None`` if the result does not say enough (no ``settings``/``seeds``)."""
    import dataclasses

    from .config import SCALES
    from .experiments import REGISTRY

    settings, seeds = getattr(result, "settings", None), getattr(result, "seeds", None)
    if settings is None or seeds is None or not dataclasses.is_dataclass(settings):
        return None
    matches = [e for e in REGISTRY.values() if type(settings) is e.settings_cls]
    if len(matches) != 1:
        return None
    exp = matches[0]
    values = dataclasses.asdict(settings)
    best = None
    for scale in SCALES:
        try:
            preset = dataclasses.asdict(exp.settings(scale))
        except ValueError:
            continue
        diff = {k: v for k, v in values.items() if preset.get(k) != v}
        if best is None or len(diff) < len(best[1]):
            best = (scale, diff)
    if best is None:
        return None
    return run_call(exp.name, scale=best[0], seeds=list(seeds), **best[1])


class StaticPanel:
    """A precomputed slider panel; displays itself as self-contained HTML (``_repr_html_``).

    Attributes:
        names: slider names; labels: per slider, the value labels.
        frames: ``"i,j,…" -> {"img": data URL, "alt": str, "text": str}``.
        kind: ``"grid"`` or ``"time"``; seconds: time spent rendering/computing the frames.
        toggles: per slider, whether it is shown as a group of buttons (a categorical setting
            of two to four values); its range input stays, hidden, as the panel's state.
    """

    def __init__(
        self,
        names: list[str],
        labels: list[list[str]],
        frames: dict[str, dict[str, str]],
        *,
        kind: str,
        initial: list[int],
        caption: str = "",
        interval_ms: int = 400,
        seconds: float = 0.0,
        predict: tuple[str, str] | None = None,
        toggles: list[bool] | None = None,
    ) -> None:
        self.names, self.labels, self.frames = names, labels, frames
        self.toggles = list(toggles) if toggles is not None else [False] * len(names)
        self.kind, self.initial, self.caption = kind, initial, caption
        self.interval_ms, self.seconds = interval_ms, seconds
        self.predict = _check_predict(predict)

    @property
    def nbytes(self) -> int:
        """Size of the HTML block in bytes (what it adds to the page)."""
        return len(self._repr_html_().encode())

    def _repr_html_(self) -> str:
        payload = json.dumps(
            {
                "names": self.names,
                "labels": self.labels,
                "frames": self.frames,
                "interval": self.interval_ms,
            },
            separators=(",", ":"),
        ).replace("</", "<\\/")
        uid = "lb-" + hashlib.sha256(payload.encode()).hexdigest()[:12]
        first = self.frames[",".join(str(i) for i in self.initial)]
        controls = []
        for name, labels, start, toggle in zip(
            self.names, self.labels, self.initial, self.toggles, strict=True
        ):
            esc = html.escape(name)
            if toggle:  # buttons; the range input holds the state, out of sight
                buttons = "".join(
                    f'<button type="button" class="lb-option" data-name="{esc}" '
                    f'data-index="{i}" aria-pressed="{"true" if i == start else "false"}">'
                    f"{html.escape(label)}</button>"
                    for i, label in enumerate(labels)
                )
                controls.append(
                    '<div class="lb-control lb-toggle" role="group" '
                    f'aria-label="{esc}"><span class="lb-name">{esc}</span>'
                    f'<span class="lb-options">{buttons}</span>'
                    f'<input type="range" class="lb-slider lb-hidden" data-name="{esc}" '
                    f'min="0" max="{len(labels) - 1}" step="1" value="{start}" '
                    f'tabindex="-1" aria-hidden="true">'
                    f'<output class="lb-value" data-name="{esc}" hidden>'
                    f"{html.escape(labels[start])}</output>"
                    "</div>"
                )
                continue
            controls.append(
                '<label class="lb-control">'
                f'<span class="lb-name">{esc}</span>'
                f'<input type="range" class="lb-slider" data-name="{esc}" min="0" '
                f'max="{len(labels) - 1}" step="1" value="{start}" '
                f'aria-label="{esc}">'
                f'<output class="lb-value" data-name="{esc}">'
                f"{html.escape(labels[start])}</output>"
                "</label>"
            )
        if self.kind == "time":
            controls.append('<button type="button" class="lb-play">\u25b6 Play</button>')
        caption = (
            f'<div class="lb-caption">{html.escape(self.caption)}</div>' if self.caption else ""
        )
        predict = ""
        if self.predict:
            question, answer = self.predict
            predict = (
                '<div class="lb-predict">'
                f"<p><strong>Predict first:</strong> {html.escape(question)}</p>"
                f"<details><summary>Answer</summary><p>{html.escape(answer)}</p></details>"
                "</div>"
            )
        download = ""
        if first.get("svgz"):
            link = svg_anchor(first["svgz"], first["svg"].removesuffix(".svg"), "lb-svg")
            download = f'<div class="lb-download">{link}</div>'
        repro = ""
        if first.get("code"):
            repro = (
                '<div class="lb-repro"><div class="lb-repro-head">'
                "<span>Reproduce this frame:</span>"
                '<button type="button" class="lb-copy" title="copy the code">Copy</button></div>'
                f'<pre class="lb-code">{html.escape(first["code"])}</pre></div>'
            )
        return (
            f"<style>{_CSS}</style>"
            f'<div class="luckbook-static" data-kind="{self.kind}" id="{uid}">'
            f"{predict}"
            f'<div class="lb-controls">{"".join(controls)}</div>'
            f'<img class="lb-image luckbook-figure" src="{first["img"]}" '
            f'alt="{html.escape(first["alt"], quote=True)}">'
            f"{download}"
            f'<pre class="lb-numbers">{html.escape(first["text"])}</pre>'
            f"{repro}"
            f"{caption}"
            f'<script type="application/json" class="lb-data">{payload}</script>'
            f"<script>{_JS % {'id': json.dumps(uid)}}</script>"
            "</div>"
        )


def static_panel(
    render: Callable[[dict[str, Any]], tuple[Figure, str]],
    axes: Mapping[str, Sequence[Any]],
    *,
    kind: str = "grid",
    initial: Mapping[str, Any] | None = None,
    caption: str = "",
    interval_ms: int = 400,
    code: Callable[[dict[str, Any]], str] | None = None,
    predict: tuple[str, str] | None = None,
    svg: bool | None = None,
) -> StaticPanel:
    """Render every combination of ``axes`` with ``render(values) -> (figure, numbers)``.

    Args:
        render: draws one frame; receives ``{name: value}``.
        axes: slider name -> the values it can take (at least one each).
        kind: ``"grid"`` or ``"time"`` (one axis, with a play button).
        initial: the starting value of each slider (default: the first value).
        caption: a line under the figure (e.g. provenance).
        interval_ms: frame interval of the play button.
        code: ``code(values) -> str``, the Python that reproduces a frame; shown under the
            frame on screen with a Copy button ("Reproduce this frame").
        predict: ``(question, answer)``: a prediction prompt shown above the panel, the
            answer folded in a ``<details>`` drop-down.
        svg: give every frame an SVG download link (for slides; default: grid panels, whose
            few frames each cost a run anyway; a time panel's many frames would double its
            build time and add a third to its weight).
    """
    check_choice("kind", kind, KINDS)
    svg = kind == "grid" if svg is None else bool(svg)
    predict = _check_predict(predict)
    check_int("interval_ms", interval_ms, minimum=10)
    names = list(axes)
    values = [list(axes[n]) for n in names]
    if not names:
        raise ValueError("axes={} is not allowed: give at least one slider")
    for name, vals in zip(names, values, strict=True):
        if not vals:
            raise ValueError(f"axes[{name!r}]=[] is not allowed: a slider needs at least one value")
    if kind == "time" and len(names) != 1:
        raise ValueError(f"axes has {len(names)} sliders; a 'time' panel has exactly one")
    n_frames = 1
    for vals in values:
        n_frames *= len(vals)
    if n_frames > MAX_FRAMES:
        raise ValueError(
            f"the grid has {n_frames} frames; at most {MAX_FRAMES} are allowed (page weight)"
        )
    start_values = dict(initial or {})
    for key in start_values:
        if key not in names:
            raise ValueError(f"initial has unknown slider {key!r}; sliders: {', '.join(names)}")
    initial_idx = []
    for name, vals in zip(names, values, strict=True):
        if name in start_values:
            if start_values[name] not in vals:
                raise ValueError(f"initial[{name!r}]={start_values[name]!r} is not one of {vals!r}")
            initial_idx.append(vals.index(start_values[name]))
        else:
            initial_idx.append(0)
    start = time.perf_counter()
    frames: dict[str, dict[str, str]] = {}
    for idx in itertools.product(*(range(len(v)) for v in values)):
        point = {name: vals[i] for name, vals, i in zip(names, values, idx, strict=True)}
        fig, text = render(point)
        frames[",".join(map(str, idx))] = {
            "img": _png_data_url(fig),
            "alt": getattr(fig, "alt", "")
            or ", ".join(f"{k}={_label(v)}" for k, v in point.items()),
            "text": NAN_WORD.sub("\u2014", text),  # "r = nan" in a frame's numbers reads "r = —"
        }
        if svg and hasattr(fig, "svgz"):
            where = "-".join(f"{k}={_label(v)}" for k, v in point.items())
            frames[",".join(map(str, idx))]["svgz"] = fig.svgz()
            frames[",".join(map(str, idx))]["svg"] = svg_filename(f"{fig.name}-{where}")
        if code is not None:
            frames[",".join(map(str, idx))]["code"] = code(point)
    labels = [[_label(v) for v in vals] for vals in values]
    toggles = [kind == "grid" and is_categorical(vals) for vals in values]
    return StaticPanel(
        names,
        labels,
        frames,
        kind=kind,
        initial=initial_idx,
        caption=caption,
        interval_ms=interval_ms,
        seconds=time.perf_counter() - start,
        predict=predict,
        toggles=toggles,
    )


def static_explorer(
    experiment: str,
    grid: Mapping[str, Sequence[Any]] | Callable[[Any], Mapping[str, Sequence[Any]]] | None = None,
    figure: Callable[[Any], Figure] | None = None,
    numbers: Callable[[Any], str] | None = None,
    *,
    scale: str | None = None,
    seeds: int | Sequence[int] | None = None,
    initial: Mapping[str, Any] | None = None,
    on_divergence: Callable[[DivergenceError, dict[str, Any]], Figure] | None = None,
    predict: tuple[str, str] | None = None,
    **fixed: Any,
) -> StaticPanel:
    """A grid panel over an experiment: every grid point is run (cached) and drawn.

    ``lb.static_explorer("two-layer", scale=SCALE)`` opens the registered
    :class:`~luckbook.panels.Grid` panel of that name (its grid, figure, numbers, seeds and
    prediction prompt; arguments given here override them). With ``grid`` and ``figure``
    given, ``experiment`` is an experiment name and the panel is built from the arguments.

    Every grid value is validated (as settings) before anything runs. With
    ``on_divergence``, a grid point whose training diverges is drawn by
    ``on_divergence(error, values)`` (its numbers say it diverged) instead of failing the page.
    Each frame shows the ``lb.run(...)`` call that reproduces it; ``predict=(question,
    answer)`` adds a prediction prompt above the panel.
    """
    if grid is None:
        if figure is not None or numbers is not None:
            raise ValueError("figure/numbers without grid: give a grid too, or a panel name only")
        spec = panels.get(panels.Grid, experiment)
        experiment, grid, figure, numbers = spec.experiment, spec.values, spec.figure, spec.numbers
        initial = spec.initial if initial is None else initial
        seeds = spec.seeds if seeds is None else seeds
        predict = spec.predict if predict is None else predict
        on_divergence = spec.on_divergence if on_divergence is None else on_divergence
        fixed = {**spec.fixed, **fixed}
    elif figure is None:
        raise ValueError("grid without figure: give the figure function too")
    seeds = 4 if seeds is None else seeds
    numbers = numbers or _default_numbers
    exp = get_experiment(experiment)
    run_scale = default_scale() if scale is None else scale
    if callable(grid):  # values that depend on the scale's settings
        grid = grid(exp.settings(scale, **fixed))
        initial = {
            k: (v if v in grid.get(k, [v]) else list(grid[k])[-1])
            for k, v in (initial or {}).items()
        }
    for point in itertools.product(*grid.values()):
        exp.settings(scale, **fixed, **dict(zip(grid, point, strict=True)))

    def render(values: dict[str, Any]) -> tuple[Figure, str]:
        try:
            result = exp.run(scale=scale, seeds=seeds, **fixed, **values)
        except DivergenceError as err:
            if on_divergence is None:
                raise
            return on_divergence(err, values), f"diverged: {err}"
        return figure(result), numbers(result)

    def code(values: dict[str, Any]) -> str:
        return run_call(experiment, scale=run_scale, seeds=resolve_seeds(seeds), **fixed, **values)

    panel = static_panel(render, grid, kind="grid", initial=initial, code=code, predict=predict)
    panel.caption = (
        f"{len(panel.frames)} settings × {seeds_text(seeds)}, run (or loaded from the results "
        "cache) and "
        f"drawn in {panel.seconds:.0f} s when this page was built. {provenance(scale)}"
    )
    return panel


def _default_numbers(result: Any, *step: int) -> str:
    return result.numbers(*step)


def time_scrubber(
    result: Any,
    frame: Callable[[Any, int], Figure] | None = None,
    numbers: Callable[[Any, int], str] | None = None,
    *,
    panel: str | None = None,
    every: int | None = None,
    interval_ms: int = 300,
    predict: tuple[str, str] | None = None,
    start: str | None = None,
) -> StaticPanel:
    """A ``"time"`` panel over the snapshot steps of ``result`` (every ``every``-th snapshot).

    ``lb.time_scrubber(result)`` uses the registered :class:`~luckbook.panels.Frames` panel of
    the result's experiment (``panel`` names another); its numbers default to
    ``result.numbers(step)``. Each frame shows the ``lb.run(...)`` call that recomputes
    ``result`` (when its settings identify the experiment) and the step on screen;
    ``predict=(question, answer)`` adds a prediction prompt above the panel; ``start``
    (``"last"``, default, or ``"first"``) is the frame shown first.
    """
    if frame is None:
        spec = panels.get(panels.Frames, panel or getattr(result, "EXPERIMENT", ""))
        frame, numbers = spec.figure, numbers or spec.numbers
        every = spec.every if every is None else every
        predict = spec.predict if predict is None else predict
        start = spec.start if start is None else start
    start = check_choice("start", "last" if start is None else start, ("first", "last"))
    numbers = numbers or _default_numbers
    every = check_int("every", 1 if every is None else every, minimum=1)
    steps = [int(s) for s in result.steps[::every]]
    if steps[-1] != int(result.steps[-1]):
        steps.append(int(result.steps[-1]))

    def render(values: dict[str, Any]) -> tuple[Figure, str]:
        return frame(result, values["step"]), numbers(result, values["step"])

    call = result_call(result)

    def code(values: dict[str, Any]) -> str:
        return f"{call}\n# this frame: step {values['step']} (one of result.steps)"

    return static_panel(
        render,
        {"step": steps},
        kind="time",
        initial={"step": steps[-1] if start == "last" else steps[0]},
        interval_ms=interval_ms,
        code=code if call else None,
        predict=predict,
    )
