"""Live ipywidgets panels for Jupyter: sliders -> cached ``run`` -> figure.

Each panel is a thin layer over a package function that the notebook also calls once with
the defaults, so the static book shows the same figure without a kernel. Runs go through
the results cache: moving a slider back to a value already computed is instant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from . import panels
from .experiments import get_experiment
from .train import DivergenceError

MAX_TOGGLES = 4
"""A categorical setting with at most this many values gets toggle buttons, not a slider."""


def is_categorical(options: Sequence[Any]) -> bool:
    """Two to :data:`MAX_TOGGLES` values that are not numbers (``top_init``, ``dynamics``,
    ``activation``): they have no order, so they get buttons, not a slider."""
    values = list(options)
    return 2 <= len(values) <= MAX_TOGGLES and all(
        isinstance(v, str | bool) or v is None for v in values
    )


def _slider(name: str, spec: Mapping[str, Any], value: Any) -> Any:
    import ipywidgets as w

    style = {"description_width": "80px"}
    if spec["kind"] == "select" and is_categorical(spec["options"]):
        return w.ToggleButtons(
            options=list(spec["options"]),
            value=value,
            description=spec.get("description", name),
            style={**style, "button_width": "auto"},
        )
    if spec["kind"] == "select":
        return w.SelectionSlider(
            options=spec["options"],
            value=value,
            description=spec.get("description", name),
            style=style,
        )
    if spec["kind"] == "log":
        return w.FloatLogSlider(
            value=value,
            base=10,
            min=spec["min"],
            max=spec["max"],
            step=spec["step"],
            description=spec.get("description", name),
            readout_format=".0e",
            style=style,
        )
    return w.FloatSlider(
        value=value,
        min=spec["min"],
        max=spec["max"],
        step=spec["step"],
        description=spec.get("description", name),
        style=style,
    )


def _replace_output(out: Any, fig: Figure | None = None) -> None:
    """Make ``fig`` (or nothing) the whole content of the Output widget ``out``.

    In a kernel this goes through the Output's capture (``with out:`` + ``clear_output``), in
    order with the progress bar a run displayed there. Setting ``out.outputs`` from the
    kernel after captured output races with the front end, which sends what it captured
    (the progress bar, closed by then) back to the kernel after the callback returns and so
    replaces the figure: JupyterLab then shows "Error displaying widget: model not found".
    Outside a kernel (plain Python, tests) nothing is captured and ``outputs`` is set.
    """
    with out:
        if out.msg_id:  # a kernel is capturing into ``out``
            from IPython.display import clear_output, display

            clear_output(wait=fig is not None)
            if fig is not None:
                display(fig)
            return
    out.outputs = ()
    if fig is not None:
        out.append_display_data(fig)


def explorer(
    experiment: str,
    sliders: Mapping[str, Mapping[str, Any]] | None = None,
    figure: Callable[[Any], Figure] | None = None,
    *,
    scale: str | None = None,
    seeds: int | None = None,
    device: str | None = None,
    autorun: bool = True,
    **fixed: Any,
) -> Any:
    """A panel of sliders over an experiment's settings with a Run button and a figure area.

    ``lb.explorer("two-layer", scale=SCALE)`` opens the registered
    :class:`~luckbook.panels.Live` panel of that name (its sliders, figure and seeds); with
    ``sliders`` and ``figure`` given, ``experiment`` is an experiment name.

    Args:
        experiment: a registered live panel, or an experiment name (with ``sliders``).
        sliders: setting name -> slider spec (``kind``: ``select``/``log``/``float``).
        figure: result -> ``Figure`` (a function of :mod:`luckbook.plots`).
        scale, seeds, device, fixed: passed to ``run``; ``fixed`` settings stay constant (a
            fixed setting gets no slider).
        autorun: run once with the defaults when the panel is created (``False``: wait for
            **Run**, so that an executed notebook does not store a figure in its widget state).

    A run that is not in the results cache shows its estimated time and a progress bar while
    it trains. Bad slider combinations and divergence are shown as a message in the panel,
    never as a traceback.
    """
    import ipywidgets as w

    if sliders is None:
        if figure is not None:
            raise ValueError("figure without sliders: give the sliders too, or a panel name only")
        spec = panels.get(panels.Live, experiment)
        experiment, sliders, figure = spec.experiment, spec.sliders, spec.figure
        seeds = spec.seeds if seeds is None else seeds
        fixed = {**spec.fixed, **fixed}
        initial = dict(spec.initial)
    else:
        initial = {}
    if figure is None:
        raise ValueError("sliders without figure: give the figure function too")
    seeds = 4 if seeds is None else seeds
    sliders = {k: v for k, v in sliders.items() if k not in fixed}  # a fixed setting wins
    draw = figure
    exp = get_experiment(experiment)
    defaults = exp.settings(scale, **fixed)
    controls = {
        name: _slider(name, spec, initial.get(name, getattr(defaults, name)))
        for name, spec in sliders.items()
    }
    button = w.Button(description="Run", button_style="primary", icon="play")
    status = w.HTML()
    out = w.Output()

    def update(_: Any = None) -> None:
        values = {name: c.value for name, c in controls.items()}
        button.disabled = True
        try:
            settings = {**fixed, **values}
            plan = exp.plan(scale=scale, seeds=seeds, device=device, **settings)
            when = f", estimated {plan.seconds:.0f} s" if plan else ""
            status.value = f"<i>running{when} (cached results are instant)…</i>"
            out.outputs = ()
            failure: Exception | None = None
            with out:  # a run that trains shows its progress bar here
                try:  # (Output swallows exceptions raised inside it: carry them out)
                    result = exp.run(
                        scale=scale, seeds=seeds, device=device, progress=True, **settings
                    )
                except (ValueError, DivergenceError) as err:
                    failure = err
            if failure is not None:
                raise failure
            _replace_output(out, draw(result))
            shown = (
                f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                for k, v in values.items()
            )
            status.value = "done: " + ", ".join(shown)
        except (ValueError, DivergenceError) as err:
            _replace_output(out)
            status.value = f"<b style='color:#b91c1c'>{err}</b>"
        finally:
            button.disabled = False

    button.on_click(update)
    if autorun:
        update()
    else:
        status.value = "<i>press Run to train this setting</i>"
    return w.VBox([w.HBox(list(controls.values())), w.HBox([button, status]), out])
