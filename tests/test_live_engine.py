"""The book's JavaScript engine held to torch: goldens written here, replayed by ``node --test``.

``tests/js/goldens.json`` lists the settings (plain, strength decay p > 0, Leaky ReLU with log
snapshots and odd batch, a diverging learning rate); this module writes their goldens with
``luckbook golden`` (in-process) and runs ``node --test tests/js`` on them, so CI runs the
JavaScript tests through pytest. Also: the golden is the package's own run, the CLI's bad
input, ``lb.live_panel``, and ``lb.live_run``, the panel's run in Python: the same numbers as
``node luck-engine.js run`` for the same seed and settings, to 1e-9.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error

import luckbook as lb
from luckbook import cli
from luckbook.golden import golden_settings, two_layer_golden
from luckbook.live import (
    DEFAULTS,
    MAX_SEED,
    SLIDERS,
    EngineRandom,
    live_checkpoints,
    live_panel,
)

ROOT = Path(__file__).resolve().parents[1]
GOLDENS = json.loads((ROOT / "tests" / "js" / "goldens.json").read_text())
NODE_HINT = "node (>= 18) is needed for the JavaScript engine's tests: apt-get install -y nodejs"


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("goldens")
    for name, spec in GOLDENS.items():
        args = ["golden", "two-layer", "--steps", str(spec["steps"]), "--seeds", spec["seeds"]]
        for pair in spec["set"]:
            args += ["--set", pair]
        assert cli.main([*args, "--json", str(out / f"{name}.json")]) == 0
    return out


def test_node_replays_every_golden(golden_dir):
    node = shutil.which("node")
    if node is None:
        pytest.fail(NODE_HINT, pytrace=False)
    env = {**os.environ, "LUCKBOOK_GOLDEN_DIR": str(golden_dir)}
    proc = subprocess.run(
        [node, "--test", "tests/js/"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    diverging = json.loads((golden_dir / "diverging.json").read_text())
    assert diverging["runs"][0]["diverged_at"] is not None
    decay = json.loads((golden_dir / "decay.json").read_text())
    assert decay["settings"]["p"] > 0


def test_golden_is_the_packages_run():
    """The golden's trajectory is what ``lb.run`` computes for the same settings and seed."""
    settings = golden_settings("tiny", n_train=100, n_eval=50, steps=120, n_snapshots=3, p=0.5)
    golden = two_layer_golden(settings, [2])
    result = lb.get_experiment("two-layer").run_settings(settings, seeds=[2], cache=False)
    last = golden["runs"][0]["checkpoints"][-1]
    assert last["step"] == 120
    np.testing.assert_allclose(np.array(last["w1"]), result.student[0][0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.array(last["w2"]), result.student[1][0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(last["fanout"], result.fanout[-1, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(last["student_best"], result.student_best[-1, 0], atol=1e-12)
    assert [c["step"] for c in golden["runs"][0]["checkpoints"]] == list(result.steps)


G = ["golden", "two-layer", "--json", "x.json"]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["golden", "deep-teacher", "--steps", "5", "--json", "x.json"], "preset='deep-teacher'"),
        ([*G, "--steps", "0"], "--steps='0'"),
        ([*G, "--steps", "ten"], "--steps='ten'"),
        ([*G, "--steps", "5", "--set", "width=3"], "width"),
        ([*G, "--steps", "5", "--set", "steps=3"], "--steps N"),
        ([*G, "--steps", "5", "--set", "dtype=float32"], "dtype='float32'"),
        ([*G, "--steps", "5", "--set", "lr=-1"], "lr="),
        ([*G, "--steps", "5", "--seeds", "a"], "--seeds='a'"),
        ([*G, "--steps", "5", "--scale", "huge"], "--scale='huge'"),
        (["golden", "two-layer", "--steps", "5", "--json", "."], "it is a folder"),
        ([*G, "--steps", "100000000"], "at most"),
        (G, "--steps"),
    ],
)
def test_golden_bad_input_is_one_line(capsys, tmp_path, monkeypatch, args, text):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(capsys, args, text)


def test_live_panel_markup():
    panel = lb.live_panel(multi=4, p=1.0, seed=3)
    markup = panel._repr_html_()
    assert 'class="luck-live"' in markup and "&quot;multi&quot;: 4" in markup
    assert "_static/luckbook-live/" in markup and "http" not in markup
    inline = str(live_panel(inline=True))
    assert "luckEngineFactory" in inline and "<style>" in inline
    for bad, text in [
        ({"width": 3}, "width=3 is not allowed"),
        ({"multi": 0}, "multi"),
        ({"lr": 0.0}, "lr"),
        ({"p": -1.0}, "p"),
    ]:
        with pytest.raises(ValueError, match=text):
            live_panel(**bad)
    with pytest.raises(ValueError, match="preset='deep'"):
        live_panel("deep")


def test_playground_page_holds_the_panel():
    page = (ROOT / "book" / "playground.md").read_text()
    assert str(live_panel()) in page, "book/playground.md: paste str(lb.live_panel()) again"
    assert "book/playground" in (ROOT / "_toc.yml").read_text()


# ---------------------------------------------------------------------- lb.live_run
LIVE_CASES = [
    # (seed, settings): the panel's sliders and fixed settings, at few steps and samples
    (0, dict(steps=500, n_train=200, n_eval=100)),
    (7, dict(multi=3, p=1.0, init_scale=0.1, lr=0.05, steps=500, n_train=300, n_eval=150, batch=8)),
    # diverges at step 17
    (
        123456,
        dict(
            multi=1, p=0.5, init_scale=0.2, lr=0.5, steps=500, n_train=100, n_eval=80, d=8, m=3, c=4
        ),
    ),  # fmt: skip
]


def _deviation(ours: np.ndarray, js: list) -> float:
    """Largest ``|python - js| / max(1, |js|)``; JSON's null (non-finite) matches non-finite."""
    a = np.asarray(ours, dtype=float).ravel()
    b = np.array(js, dtype=float).ravel()  # None -> nan
    assert a.shape == b.shape
    finite = np.isfinite(b)
    assert np.array_equal(finite, np.isfinite(a))
    if not finite.any():
        return 0.0
    return float(np.max(np.abs(a[finite] - b[finite]) / np.maximum(1, np.abs(b[finite]))))


@pytest.mark.parametrize(("seed", "settings"), LIVE_CASES)
def test_live_run_is_the_page_run(tmp_path, seed, settings):
    """``lb.live_run`` with the panel's seed and settings gives the in-page engine's numbers."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(NODE_HINT, pytrace=False)
    out = tmp_path / "run.json"
    args = [node, "luckbook/assets/live/luck-engine.js", "run", "--seed", str(seed)]
    for name, value in settings.items():
        args += ["--set", f"{name}={value}"]
    subprocess.run([*args, "--json", str(out)], cwd=ROOT, check=True, timeout=60)
    js = json.loads(out.read_text())
    run = lb.live_run(seed=seed, **settings)
    assert run.steps.tolist() == js["steps"]
    assert js["steps"] == live_checkpoints(settings["steps"])[: len(js["steps"])]
    assert run.diverged_at == js["diverged_at"] == (17 if seed == 123456 else None)
    assert run.student_match.tolist() == js["student_match"]
    quantities = ["eval_loss", "train_loss", "corr", "teacher_best", "student_best", "fanout"]
    deviations = {
        q: _deviation(getattr(run, q), js[q]) for q in [*quantities, "batch_loss", "teacher_fanout"]
    }
    assert max(deviations.values()) <= 1e-9, deviations
    assert f"seed={seed}" in run.summary()


def test_live_random_streams_are_the_engines():
    """The ported sfc32 stream gives the engine's integers (fixed values of the JS engine)."""
    rng = EngineRandom(0, "teacher")
    first = [rng.uint32() for _ in range(3)]
    node = shutil.which("node")
    if node is None:
        pytest.fail(NODE_HINT, pytrace=False)
    script = (
        "const E = require('./luckbook/assets/live/luck-engine.js');"
        "const g = E.generator(0, 'teacher');"
        "console.log(JSON.stringify([g.uint32(), g.uint32(), g.uint32(), E.DEFAULTS]));"
    )
    got = json.loads(subprocess.check_output([node, "-e", script], cwd=ROOT, text=True))
    assert first == got[:3]
    defaults = {k: v for k, v in got[3].items() if k in DEFAULTS}
    assert defaults == DEFAULTS


def test_live_run_ranges_are_the_sliders():
    panel = (ROOT / "luckbook" / "assets" / "live" / "luck-panel.js").read_text()
    for name, (lo, hi) in SLIDERS.items():
        found = re.search(r'name: "' + name + r'".*values: \[([^\]]*)\]', panel)
        assert found, name
        values = [float(v) for v in found.group(1).split(",")]
        assert (min(values), max(values)) == (lo, hi), name
    assert f"var MAX_SEED = {MAX_SEED};" in panel


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"seed": -1}, r"seed=-1 is not allowed: expected an integer in \[0, 999999\]"),
        ({"multi": 2.0}, r"multi=2.0 is not allowed: expected an integer in \[1, 10\]"),
        ({"seed": 10**6}, r"seed=1000000 is not allowed: expected an integer in \[0, 999999\]"),
        ({"multi": 11}, r"multi=11 is not allowed: expected an integer in \[1, 10\]"),
        ({"p": 3.5}, "p=3.5 is not allowed"),
        ({"lr": 0.0}, "lr=0.0 is not allowed"),
        ({"init_scale": 2.0}, "init_scale=2.0 is not allowed"),
        ({"steps": 10}, r"steps=10 is not allowed: expected an integer in \[500, 32000\]"),
        ({"steps": 40000}, r"steps=40000 is not allowed: expected an integer in \[500, 32000\]"),
        ({"n_train": 1}, "n_train=1 is not allowed"),
        ({"width": 3}, "width=3 is not allowed: lb.live_run takes seed, multi"),
    ],
)
def test_live_run_bad_input_is_one_line(kwargs, text):
    with pytest.raises(ValueError, match=text) as err:
        lb.live_run(**kwargs)
    assert "\n" not in str(err.value)
