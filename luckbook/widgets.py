"""Live ipywidgets panels for Jupyter: sliders -> cached ``run`` -> figure.

Each panel is a thin layer over a package function that the notebook also calls once with
the defaults, so the static book shows the same figure without a kernel. Runs go through
the results cache: moving a slider back to a value already computed is instant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from matplotlib.figure import Figure

from . import plots
from .experiments import get_experiment
from .train import DivergenceError

TWO_LAYER_SLIDERS: dict[str, dict[str, Any]] = {
    "multi": {"kind": "select", "options": [1, 2, 3, 5, 10], "description": "multi"},
    "init_scale": {"kind": "log", "min": -4, "max": -1, "step": 0.5, "description": "init_scale"},
    "p": {"kind": "float", "min": 0.0, "max": 2.5, "step": 0.5, "description": "p"},
}
"""Width multiplier, student init scale (log₁₀ slider) and teacher strength decay ``p``."""


def _slider(name: str, spec: Mapping[str, Any], value: Any) -> Any:
    import ipywidgets as w

    style = {"description_width": "80px"}
    if spec["kind"] == "select":
        return w.SelectionSlider(
            options=spec["options"], value=value, description=spec["description"], style=style
        )
    if spec["kind"] == "log":
        return w.FloatLogSlider(
            value=value,
            base=10,
            min=spec["min"],
            max=spec["max"],
            step=spec["step"],
            description=spec["description"],
            readout_format=".0e",
            style=style,
        )
    return w.FloatSlider(
        value=value,
        min=spec["min"],
        max=spec["max"],
        step=spec["step"],
        description=spec["description"],
        style=style,
    )


def explorer(
    experiment: str,
    sliders: Mapping[str, Mapping[str, Any]],
    figure: Callable[[Any], Figure],
    *,
    scale: str | None = None,
    seeds: int = 4,
    device: str | None = None,
    autorun: bool = True,
    **fixed: Any,
) -> Any:
    """A panel of sliders over ``experiment``'s settings with a Run button and a figure area.

    Args:
        experiment: registered experiment name.
        sliders: setting name -> slider spec (``kind``: ``select``/``log``/``float``).
        figure: result -> ``Figure`` (a function of :mod:`luckbook.plots`).
        scale, seeds, device, fixed: passed to ``run``; ``fixed`` settings stay constant.
        autorun: run once with the defaults when the panel is created (``False``: wait for
            **Run**, so that an executed notebook does not store a figure in its widget state).

    Bad slider combinations and divergence are shown as a message in the panel, never as a
    traceback.
    """
    import ipywidgets as w

    exp = get_experiment(experiment)
    defaults = exp.settings(scale, **fixed)
    controls = {
        name: _slider(name, spec, getattr(defaults, name)) for name, spec in sliders.items()
    }
    button = w.Button(description="Run", button_style="primary", icon="play")
    status = w.HTML()
    out = w.Output()

    def update(_: Any = None) -> None:
        values = {name: c.value for name, c in controls.items()}
        status.value = "<i>running… (cached results are instant)</i>"
        button.disabled = True
        try:
            result = exp.run(scale=scale, seeds=seeds, device=device, **{**fixed, **values})
            fig = figure(result)
            out.outputs = ()
            out.append_display_data(fig)
            shown = (
                f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                for k, v in values.items()
            )
            status.value = "done: " + ", ".join(shown)
        except (ValueError, DivergenceError) as err:
            status.value = f"<b style='color:#b91c1c'>{err}</b>"
        finally:
            button.disabled = False

    button.on_click(update)
    if autorun:
        update()
    else:
        status.value = "<i>press Run to train this setting</i>"
    return w.VBox([w.HBox(list(controls.values())), w.HBox([button, status]), out])


def two_layer_explorer(
    scale: str | None = None, seeds: int = 4, autorun: bool = True, **fixed: Any
) -> Any:
    """Sliders for the setting chapter (E4): width multiplier, init scale and ``p``."""
    return explorer(
        "two-layer",
        TWO_LAYER_SLIDERS,
        plots.setting_overview,
        scale=scale,
        seeds=seeds,
        autorun=autorun,
        **fixed,
    )
