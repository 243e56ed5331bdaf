"""The live panel: re-roll the luck and train the two-layer setting in the reader's browser.

``lb.live_panel()`` returns an HTML block, a ``<div class="luck-live">`` whose data
attributes carry the settings, plus a small loader. In the built book the loader adds the
book's static scripts (``_static/luckbook-live/``: ``luck-engine.js``, the engine, and
``luck-panel.js``, the panel) once per page; they train in a Web Worker, so no kernel and no
server are needed, and nothing is requested from another host. In a notebook outside the book
(JupyterLab), pass ``inline=True`` to embed the scripts (about 40 kB) in the output.

The engine draws its own teacher, data and student from the seed (see ``luck-engine.js``);
its dynamics are held to the torch engine by goldens (:mod:`luckbook.golden`).
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

from .config import check_float, check_int

PRESETS = ("two-layer",)
STATIC_DIR = "luckbook-live"
"""Folder of the scripts under the book's ``_static`` (``book/_static/luckbook-live``)."""
ASSETS = ("luck-engine.js", "luck-panel.js", "luck-panel.css")

SETTINGS: dict[str, tuple[type, float | None]] = {
    # name -> (type, lower bound); the panel's sliders: multi, p, init_scale, lr, steps
    "seed": (int, 0),
    "multi": (int, 1),
    "p": (float, 0.0),
    "init_scale": (float, None),
    "lr": (float, None),
    "steps": (int, 1),
    # fixed for the panel (no slider): the reduced setting
    "d": (int, 1),
    "m": (int, 1),
    "c": (int, 1),
    "n_train": (int, 2),
    "n_eval": (int, 2),
    "batch": (int, 1),
    "data_std": (float, None),
    "bias": (float, None),
    "output_bias": (float, None),
}
"""What ``live_panel`` accepts; every other two-layer setting keeps the ``tiny`` preset's
value (the engine's ``DEFAULTS``)."""

_LOADER = """<script>(function(){
if (window.LuckPanel) { window.LuckPanel.mountAll(); return; }
if (window.__luckLiveLoading) { return; }
window.__luckLiveLoading = true;
var root = document.documentElement.getAttribute("data-content_root");
if (root === null) {
  var opt = document.querySelector('script[src*="_static/documentation_options.js"]');
  if (!opt) { return; }  /* not a page of the built book (JupyterLab): see inline=True */
  root = opt.getAttribute("src").replace(/_static\\/documentation_options\\.js.*$/, "");
}
var base = root + "_static/%(dir)s/";
var css = document.createElement("link");
css.rel = "stylesheet"; css.href = base + "luck-panel.css";
document.head.appendChild(css);
["luck-engine.js", "luck-panel.js"].forEach(function (name) {
  var s = document.createElement("script");
  s.src = base + name; s.async = false;
  document.head.appendChild(s);
});
})();</script>"""


def asset(name: str) -> str:
    """The text of one of the panel's files (``ASSETS``)."""
    if name not in ASSETS:
        raise ValueError(f"name={name!r} is not allowed: expected one of {', '.join(ASSETS)}")
    return (resources.files("luckbook") / "assets" / "live" / name).read_text(encoding="utf-8")


def _check(settings: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in settings.items():
        if name not in SETTINGS:
            raise ValueError(
                f"{name}={value!r} is not allowed: the live panel takes {', '.join(SETTINGS)}"
            )
        kind, low = SETTINGS[name]
        if kind is int:
            out[name] = check_int(name, value, minimum=int(low))
        elif low is None and name in ("init_scale", "lr", "data_std"):
            out[name] = check_float(name, value, low=0.0, low_open=True)
        else:
            out[name] = check_float(name, value, low=low)
    return out


class LivePanel:
    """An HTML display object (``_repr_html_``) holding the panel's markup."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


def live_panel(preset: str = "two-layer", *, inline: bool = False, **settings: Any) -> LivePanel:
    """A live training panel for a chapter: ``lb.live_panel(multi=4, p=1.0)``.

    Args:
        preset: the setting; only ``"two-layer"`` (E4 at reduced size, ``tiny`` preset).
        inline: embed the scripts and styles in the output (for JupyterLab; the built book
            loads them from ``_static`` instead, once per page).
        settings: the panel's starting point, names as in ``TwoLayerSettings``: the sliders'
            ``multi``, ``p``, ``init_scale``, ``lr``, ``steps``, a ``seed``, and the fixed
            ``d``, ``m``, ``c``, ``n_train``, ``n_eval``, ``batch``, ``data_std``, ``bias``,
            ``output_bias`` (see ``SETTINGS``).
    """
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r} is not allowed: expected one of {', '.join(PRESETS)}")
    if not isinstance(inline, bool):
        raise ValueError(f"inline={inline!r} is not allowed: expected True or False")
    data = json.dumps(_check(settings), sort_keys=True)
    div = (
        f'<div class="luck-live" data-preset="{html.escape(preset)}" '
        f'data-settings="{html.escape(data)}">'
        "<p>The live training panel runs in the rendered book (in a notebook: "
        "<code>lb.live_panel(..., inline=True)</code>).</p>"
        "</div>"
    )
    if inline:
        scripts = "".join(
            f"<script>{asset(n)}</script>" for n in ("luck-engine.js", "luck-panel.js")
        )
        return LivePanel(f"<style>{asset('luck-panel.css')}</style>{div}{scripts}")
    return LivePanel(div + _LOADER % {"dir": STATIC_DIR})
