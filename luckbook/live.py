"""The live panel: re-roll the luck and train the two-layer setting in the reader's browser.

``lb.live_panel()`` returns an HTML block, a ``<div class="luck-live">`` whose data
attributes carry the settings, plus a small loader. In the built book the loader adds the
book's static scripts (``_static/luckbook-live/``: ``luck-engine.js``, the engine, and
``luck-panel.js``, the panel) once per page; they train in a Web Worker, so no kernel and no
server are needed, and nothing is requested from another host. In a notebook outside the book
(JupyterLab), pass ``inline=True`` to embed the scripts (about 40 kB) in the output.

The engine draws its own teacher, data and student from the seed (see ``luck-engine.js``);
its dynamics are held to the torch engine by goldens (:mod:`luckbook.golden`). Its twin here,
``lb.live_run(seed=..., multi=..., ...)``, reproduces a panel's run in Python: it draws the
teacher, student, data and minibatches from the engine's own random streams (sfc32 on a hash
of ``"luckbook:SEED:STREAM"``, Box–Muller normals, ported integer for integer), trains them
with :func:`~luckbook.train.sgd_step` in float64 and evaluates them with
:class:`~luckbook.evaluate.Probe` at the panel's checkpoints, so its numbers equal the
page's up to float rounding (``tests/test_live_engine.py`` runs both).
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from importlib import resources
from typing import Any

import numpy as np
import torch

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


# ---------------------------------------------------------------------- the engine's twin
DEFAULTS: dict[str, Any] = {
    "d": 20, "c": 10, "m": 5, "multi": 2, "bias": -0.1, "output_bias": -0.1, "n_codes": 9,
    "data_std": 1.5, "init_scale": 0.005, "lr": 0.01, "batch": 16, "steps": 4000,
    "n_train": 2000, "n_eval": 2000, "p": 0.0, "activation": "relu", "slope": 0.01,
}  # fmt: skip
"""The engine's ``DEFAULTS`` (the ``tiny`` preset of two-layer) that a live run uses."""
SLIDERS: dict[str, tuple[float, float]] = {
    "multi": (1, 10),
    "p": (0.0, 3.0),
    "init_scale": (0.001, 1.0),
    "lr": (0.001, 0.5),
    "steps": (500, 32000),
}
"""The range of each of the panel's sliders (``SLIDERS`` in ``luck-panel.js``)."""
MAX_SEED = 999_999
"""The largest seed the panel draws (``MAX_SEED`` in ``luck-panel.js``)."""
NINE_CHOICES = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)
_M32 = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    return (a * b) & _M32


def _hash(text: str) -> tuple[int, int, int, int]:
    """cyrb128 of ``text`` (ASCII), the engine's ``hashString``: four uint32."""
    h1, h2, h3, h4 = 1779033703, 3144134277, 1013904242, 2773480762
    for ch in text:
        k = ord(ch)
        h1 = h2 ^ _imul(h1 ^ k, 597399067)
        h2 = h3 ^ _imul(h2 ^ k, 2869860233)
        h3 = h4 ^ _imul(h3 ^ k, 951274213)
        h4 = h1 ^ _imul(h4 ^ k, 2716044179)
    h1 = _imul(h3 ^ (h1 >> 18), 597399067)
    h2 = _imul(h4 ^ (h2 >> 22), 2869860233)
    h3 = _imul(h1 ^ (h3 >> 17), 951274213)
    h4 = _imul(h2 ^ (h4 >> 19), 2716044179)
    return h1 ^ h2 ^ h3 ^ h4, h2 ^ h1, h3 ^ h1, h4 ^ h1


class EngineRandom:
    """One of the engine's random streams, ``generator(seed, stream)`` in ``luck-engine.js``:
    sfc32 seeded by the hash of ``"luckbook:SEED:STREAM"`` (15 draws discarded)."""

    def __init__(self, seed: int, stream: str) -> None:
        self._state = _hash(f"luckbook:{seed}:{stream}")
        for _ in range(15):
            self.uint32()

    def uint32(self) -> int:
        a, b, c, d = self._state
        t = (a + b) & _M32
        a = b ^ (b >> 9)
        b = (c + (c << 3)) & _M32
        c = ((c << 21) | (c >> 11)) & _M32
        d = (d + 1) & _M32
        t = (t + d) & _M32
        c = (c + t) & _M32
        self._state = (a, b, c, d)
        return t

    def uniform(self) -> float:
        """Uniform in [0, 1) with 53 random bits."""
        hi = self.uint32() >> 5
        return (hi * 67108864 + (self.uint32() >> 6)) / 9007199254740992

    def normal(self) -> float:
        """A standard normal (Box–Muller, the cosine branch)."""
        u = 1 - self.uniform()
        v = self.uniform()
        return math.sqrt(-2 * math.log(u)) * math.cos(2 * math.pi * v)

    def randint(self, n: int) -> int:
        """An integer in [0, n)."""
        return math.floor(self.uniform() * n)

    def normals(self, n: int, scale: float) -> np.ndarray:
        return np.array([scale * self.normal() for _ in range(n)], dtype=np.float64)


def _teacher_layer(n_in: int, n_out: int, rng: EngineRandom, bias: float, unit: bool):
    """``[n_in + 1, n_out]``: distinct non-zero codes (columns) plus a bias row; ``unit``
    scales each column's weights to unit norm (the engine's ``teacherLayer``)."""
    values = sorted(NINE_CHOICES)
    codes: list[list[float]] = []
    seen: set[tuple[float, ...]] = set()
    while len(codes) < n_out:
        code = tuple(values[rng.randint(len(values))] for _ in range(n_in))
        if not any(code) or code in seen:
            continue
        seen.add(code)
        codes.append(list(code))
    w = np.zeros((n_in + 1, n_out))
    for j, code in enumerate(codes):
        norm = 0.0
        for v in code:
            norm += v * v
        norm = max(math.sqrt(norm), 1e-12) if unit else 1.0
        w[:n_in, j] = [v / norm for v in code]
        w[n_in, j] = bias
    return w


def _engine_draws(s: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """Teacher, student, inputs and minibatch rows of ``seed``, as the engine draws them."""
    rng = EngineRandom(seed, "teacher")
    t1 = _teacher_layer(s["d"], s["m"], rng, s["bias"], True)
    t2 = _teacher_layer(s["m"], s["c"], rng, s["output_bias"], False)
    if s["p"]:
        for i in range(s["m"]):
            t2[i] *= math.pow(i + 1, -s["p"])
    rng = EngineRandom(seed, "student")
    n = s["multi"] * s["m"]
    s1, s2 = np.zeros((s["d"] + 1, n)), np.zeros((n + 1, s["c"]))
    s1[:-1] = rng.normals(s["d"] * n, s["init_scale"]).reshape(s["d"], n)
    s2[:-1] = rng.normals(n * s["c"], s["init_scale"]).reshape(n, s["c"])
    x = {}
    for key, stream in (("n_train", "train_data"), ("n_eval", "eval_data")):
        rng = EngineRandom(seed, stream)
        x[key] = rng.normals(s[key] * s["d"], s["data_std"]).reshape(s[key], s["d"])
    rng = EngineRandom(seed, "batches")
    rows = [rng.randint(s["n_train"]) for _ in range(s["steps"] * s["batch"])]
    batches = np.array(rows, dtype=np.int64).reshape(s["steps"], s["batch"])
    return {"teacher": (t1, t2), "student": (s1, s2), "x_train": x["n_train"],
            "x_eval": x["n_eval"], "batches": batches}  # fmt: skip


def live_checkpoints(steps: int) -> list[int]:
    """The panel's checkpoints: every ``max(50, round(steps / 40))`` steps from 0, and
    ``steps`` (the engine's ``liveCheckpoints``; its round is half up)."""
    every = max(50, math.floor(steps / 40 + 0.5))
    return [*range(0, steps, every), steps]


def _int_in(name: str, value: Any, lo: int, hi: int) -> int:
    try:
        checked = check_int(name, value, minimum=lo)
    except ValueError:
        checked = hi + 1
    if checked > hi:
        raise ValueError(f"{name}={value!r} is not allowed: expected an integer in [{lo}, {hi}]")
    return checked


def _check_live(seed: Any, settings: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    seed = _int_in("seed", seed, 0, MAX_SEED)
    out = dict(DEFAULTS)
    for name, value in settings.items():
        if name not in SETTINGS or name == "seed":
            allowed = ", ".join(n for n in SETTINGS if n != "seed")
            raise ValueError(f"{name}={value!r} is not allowed: lb.live_run takes seed, {allowed}")
        if name in SLIDERS:
            lo, hi = SLIDERS[name]
            if isinstance(lo, int):
                value = _int_in(name, value, lo, int(hi))
            else:
                value = check_float(name, value, low=lo, high=hi)
            out[name] = value
        else:
            out.update(_check({name: value}))
    return seed, out


@dataclasses.dataclass
class LiveRun:
    """A live panel's run reproduced in torch (:func:`live_run`), at the panel's checkpoints.

    ``steps [T]``; ``eval_loss``, ``train_loss [T]``; ``corr [T, m, n]`` (teacher × student,
    eval set); ``teacher_best [T, m]``; ``student_best``, ``student_match``, ``fanout [T, n]``;
    ``batch_loss`` (every step's minibatch loss, up to ``diverged_at``); ``teacher_fanout [m]``.
    """

    seed: int
    settings: dict[str, Any]
    steps: np.ndarray
    eval_loss: np.ndarray
    train_loss: np.ndarray
    corr: np.ndarray
    teacher_best: np.ndarray
    student_best: np.ndarray
    student_match: np.ndarray
    fanout: np.ndarray
    batch_loss: np.ndarray
    teacher_fanout: np.ndarray
    diverged_at: int | None

    def summary(self, tau: float = 0.95) -> str:
        """One paragraph: the setting, the last checkpoint's loss and coverage at ``tau``."""
        s = self.settings
        head = (
            f"live_run(seed={self.seed}, multi={s['multi']}, p={s['p']}, "
            f"init_scale={s['init_scale']}, lr={s['lr']}, steps={s['steps']})"
        )
        if not len(self.steps):
            return f"{head}: no checkpoint"
        best = self.teacher_best[-1]
        text = (
            f"{head}: step {int(self.steps[-1])}, eval loss {self.eval_loss[-1]:.4g}, "
            f"{int((best > tau).sum())} of {best.size} teacher nodes covered at {tau} "
            f"(best correlations {np.round(best, 3).tolist()})"
        )
        if self.diverged_at is not None:
            text += f"; diverged at step {self.diverged_at}"
        return text


def live_run(seed: int = 0, **settings: Any) -> LiveRun:
    """The live panel's run of ``seed`` in Python: ``lb.live_run(seed=3, multi=4, p=1.0)``.

    Draws the teacher, student, training and eval inputs and minibatch rows from the engine's
    random streams (as ``luck-engine.js`` does), trains with
    :func:`~luckbook.train.sgd_step` (float64, CPU) and evaluates at the panel's checkpoints
    (:func:`live_checkpoints`); a run stops at the first step whose minibatch loss is not finite.

    Args:
        seed: the panel's seed, an integer in [0, ``MAX_SEED``].
        settings: the sliders' ``multi``, ``p``, ``init_scale``, ``lr``, ``steps`` (ranges in
            ``SLIDERS``), and the panel's fixed ``d``, ``m``, ``c``, ``n_train``, ``n_eval``,
            ``batch``, ``data_std``, ``bias``, ``output_bias``; the rest is ``DEFAULTS``.
    """
    from .ensemble import Net, with_ones
    from .evaluate import Probe
    from .metrics import best_per_student, best_per_teacher
    from .train import sgd_step

    seed, s = _check_live(seed, settings)
    draws = _engine_draws(s, seed)

    def net(pair: tuple[np.ndarray, np.ndarray]) -> Net:
        weights = [torch.from_numpy(w.copy())[None] for w in pair]
        return Net(weights, activation=s["activation"], slope=s["slope"])

    teacher, student = net(draws["teacher"]), net(draws["student"])
    x_train = torch.from_numpy(draws["x_train"])[None]
    eval_probe = Probe(teacher, torch.from_numpy(draws["x_eval"])[None])
    train_probe = Probe(teacher, x_train)
    x1, y = with_ones(x_train), teacher(x_train)
    wanted = live_checkpoints(s["steps"])
    records: list[dict[str, Any]] = []

    def checkpoint(step: int) -> None:
        ev = eval_probe.evaluate(student)
        corr = ev["corr"][0][0]
        best_s, match_s = best_per_student(corr)
        records.append({
            "steps": step, "eval_loss": float(ev["loss"][0]),
            "train_loss": float(train_probe.loss(student)[0]), "corr": corr.numpy().copy(),
            "teacher_best": best_per_teacher(corr).numpy().copy(),
            "student_best": best_s.numpy().copy(), "student_match": match_s.numpy().copy(),
            "fanout": ev["fanout"][0][0].numpy().copy(),
        })  # fmt: skip

    losses, diverged_at = [], None
    batches = torch.from_numpy(draws["batches"])
    for t in range(s["steps"]):
        if t in wanted:
            checkpoint(t)
        idx = batches[t]
        loss = float(sgd_step(student, x1[:, idx], y[:, idx], s["lr"])[0])
        losses.append(loss)
        if not math.isfinite(loss):
            diverged_at = t
            break
    if diverged_at is None:
        checkpoint(s["steps"])
    stacked = {k: np.array([r[k] for r in records]) for k in records[0]}
    return LiveRun(
        seed=seed,
        settings=s,
        batch_loss=np.array(losses),
        teacher_fanout=np.sqrt(np.square(draws["teacher"][1][:-1]).sum(axis=1)),
        diverged_at=diverged_at,
        **stacked,
    )
