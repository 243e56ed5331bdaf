"""The book's JavaScript engine held to torch: goldens written here, replayed by ``node --test``.

``tests/js/goldens.json`` lists the settings (plain, strength decay p > 0, Leaky ReLU with log
snapshots and odd batch, a diverging learning rate); this module writes their goldens with
``luckbook golden`` (in-process) and runs ``node --test tests/js`` on them, so CI runs the
JavaScript tests through pytest. Also: the golden is the package's own run, the CLI's bad
input, and ``lb.live_panel``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error

import luckbook as lb
from luckbook import cli
from luckbook.golden import golden_settings, two_layer_golden
from luckbook.live import live_panel

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
