"""E3 (LM) — deep teacher, layer by layer: claim at ``tiny`` scale, the released teacher, the
result's analysis, figures and panels, CLI, divergence, validation."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import luckbook as lb
from luckbook import cli
from luckbook.experiments.deep_teacher import snapshot_schedule
from luckbook.plots import deep_teacher as luck_deep
from luckbook.results.deep_teacher import DeepTeacherResult


@functools.cache
def _tiny(n_seeds: int = 4, dtype: str = "float32") -> DeepTeacherResult:
    return lb.run("deep-teacher", scale="tiny", seeds=n_seeds, dtype=dtype, cache=False)


# ----------------------------------------------------------------------------- the claims

E3_IDS = ("E3.layer0-level", "E3.layer1-level", "E3.layer0-first")


def test_claims_are_registered():
    from luckbook.claims import claims_of

    assert tuple(c.id for c in claims_of("deep-teacher")) == E3_IDS


@functools.cache
def _report(control: str | None = None):
    return _tiny().claims(control=control)


@pytest.mark.claim
@pytest.mark.parametrize("claim_id", E3_IDS)
def test_claim_holds_at_tiny_scale(claim_id):
    """E3 (LM) at tiny scale (depth 3, 16 epochs of 63 steps, seeds 0-3): each claim holds.

    Over tiny seeds 0-31 layer 0 ended at 0.998 (every seed >= 0.995), layer 1 at 0.971, and
    layer 0 reached 0.75 a mean 0.875 epochs before layer 1 (never after it)."""
    row = _report()[claim_id]
    assert row.verdict == "holds", str(_report())
    assert row.control_fails, str(_report())


@pytest.mark.claim
@pytest.mark.parametrize("claim_id", E3_IDS)
def test_frozen_control_fails_each_claim(claim_id):
    """The frozen student (step-0 weights at every time) fails every claim: its levels are the
    initial ones, and a frozen trajectory never crosses (the 'first' statistic is undefined)."""
    report = _report("frozen")
    report.assert_fails([claim_id])
    assert not report[claim_id].claim.passes(report[claim_id].stat.value)
    _report().assert_holds([claim_id])  # ... and the control column shows the same values
    shown, own = _report()[claim_id].control, report[claim_id].stat
    assert np.allclose(shown.value, own.value, equal_nan=True) and shown.detail == own.detail


def test_frozen_control_is_the_step0_snapshot():
    result = _tiny()
    frozen = result.layer_mean(control="frozen")
    assert np.allclose(frozen, result.layer_mean()[:, :1])
    assert np.isnan(result.first_epoch_reaching(0.75, "frozen")).all()
    with pytest.raises(ValueError, match="control='nope'"):
        result.layer_mean(control="nope")
    with pytest.raises(ValueError, match="control='nope'"):
        result.claims(control="nope")


def _with_layer_mean(result: DeepTeacherResult, mean: np.ndarray) -> DeepTeacherResult:
    """A copy of ``result`` whose live-node layer means are ``mean`` [L, T, S] (every node
    live and equal to its layer's mean)."""
    import dataclasses

    best = [np.repeat(mean[l][..., None], 3, -1) for l in range(mean.shape[0])]
    live = [np.ones(b.shape[1:], bool) for b in best]
    return dataclasses.replace(result, teacher_best=best, teacher_live=live)


def test_first_claim_can_fail_and_never_crossing_does_not_pass():
    """The 'first' statistic is an order in time: layer 1 crossing first gives a negative
    log-ratio of crossing steps; a layer that never reaches the level makes it undefined (a
    never counted as infinity would pass); a tie (one snapshot) gives 0 and does not pass."""
    result = _tiny()
    T, S = len(result.steps), len(result.seeds)
    ramp = np.linspace(0.3, 1.0, T)[:, None].repeat(S, 1)  # crosses 0.75 at some epoch
    late = np.concatenate([np.full((3, S), 0.3), ramp[:-3]])  # the same, 3 snapshots later
    flat = np.full((T, S), 0.5)  # never crosses
    swapped = _with_layer_mean(result, np.stack([late, ramp]))
    stat = swapped.claim_stats()["E3.layer0-first"]
    t = swapped.crossing_steps()
    assert (t[0] > t[1]).all()
    assert stat.value == pytest.approx(np.mean(np.log10((t[1] + 1) / (t[0] + 1))))
    assert swapped.claims()["E3.layer0-first"].verdict == "does not hold"
    tie = _with_layer_mean(result, np.stack([ramp, ramp]))
    assert tie.claim_stats()["E3.layer0-first"].value == 0
    assert tie.claims()["E3.layer0-first"].verdict != "holds"
    never = _with_layer_mean(result, np.stack([ramp, flat]))
    assert never.claims()["E3.layer0-first"].verdict == "undefined"
    ahead = _with_layer_mean(result, np.stack([ramp, late]))
    assert ahead.claims()["E3.layer0-first"].verdict == "holds"


def test_crossing_order_is_descriptive():
    order = _tiny().crossing_order()
    assert order["level"] == 0.75 and order["first"].shape == (2, 4)
    assert order["strictly_before"].shape == (1,) and 0 <= order["bottom_up"] <= 4


def test_crossing_table_and_chapter_numbers():
    result = _tiny()
    order = result.crossing_order()
    table = result.crossing_table()
    assert table.startswith("first epoch at 0.75") and f"of {len(result.seeds)} seeds" in table
    assert f"{order['mean_first'][1]:.2f}" in table.splitlines()[2]
    numbers = result.chapter_numbers()
    assert numbers["e3.n_seeds"] == 4 and numbers["e3.bottom_up"] == order["bottom_up"]
    assert numbers["e3.final0"] == pytest.approx(result.final_means()[0])
    assert numbers["e3.worst0"] == result.final_worst()[0]
    assert {f"e3.first{l}" for l in range(result.n_layers)} <= set(numbers)
    assert "e3.before0" in numbers and "e3.before1" not in numbers  # two hidden layers
    result.glue()  # outside a notebook: nothing to glue into, and no error


def test_float32_matches_float64():
    """The default float32 gives the same curves as float64 (the claim does not need fp64)."""
    f32, f64 = _tiny(2, "float32"), _tiny(2, "float64")
    assert f32.settings.dtype == "float32" and f64.settings.dtype == "float64"
    assert np.abs(f32.layer_mean() - f64.layer_mean()).max() < 0.01


def test_result_shapes_and_schedule():
    result = _tiny()
    s = result.settings
    assert s.widths == [20, 10, 15, 100]
    steps = snapshot_schedule(s)
    assert steps[0] == 0 and steps[-1] == s.steps == s.epochs * s.steps_per_epoch
    assert result.steps.tolist() == steps
    assert set(range(0, s.steps + 1, s.steps_per_epoch)) <= set(steps)  # every epoch
    assert set(lb.snapshot_steps(s.steps, s.log_snapshots, "log")) <= set(steps)  # geometric
    assert result.epochs == pytest.approx(result.steps / s.steps_per_epoch)
    for l, m in enumerate(s.hidden):
        assert result.teacher_best[l].shape == (len(steps), 4, m)
        assert result.corr[l].shape == (4, m, s.multi * m)
        assert np.allclose(result.corr[l].max(-1), result.teacher_best[l][-1])
    assert result.eval_loss.shape == (len(steps), 4)
    assert result.eval_loss[-1].mean() < result.eval_loss[0].mean() / 10
    assert "layer 0" in result.numbers() and "layer 1" in result.summary()


def test_dead_teacher_nodes_are_left_out_of_the_layer_means():
    """A never-active teacher node has correlation 0 by convention; it must not cap the mean."""
    result = _tiny()
    for l, (best, live) in enumerate(zip(result.teacher_best, result.teacher_live, strict=True)):
        assert live.shape == best.shape[1:]
        assert np.all(best[:, ~live] == 0)  # dead: [S, m] mask over nodes, zero at every snapshot
        for s in range(best.shape[1]):
            assert np.isclose(result.layer_mean()[l, -1, s], best[-1, s, live[s]].mean())
            assert np.isclose(result.layer_min()[l, -1, s], best[-1, s, live[s]].min())
            assert np.isclose(result.layer_mean(include_dead=True)[l, -1, s], best[-1, s].mean())
    assert result.dead_nodes().tolist() == [
        (~live).sum(-1).tolist() for live in result.teacher_live
    ]
    assert result.dead_nodes()[0].sum() == 0  # the lowest layer's nodes are all live


def test_teacher_is_normalised_like_the_released_code():
    """Every layer, output included: weights unit-norm per node, bias divided by the same norm."""
    from luckbook.experiments.deep_teacher import build

    settings = lb.get_experiment("deep-teacher").settings("tiny")
    teacher, student, _, _ = build(settings, [0, 1], lb.resolve_device("cpu"))
    for w in teacher.weights:
        assert np.allclose(w[:, :-1].norm(dim=1).numpy(), 1.0, atol=1e-6)
        assert (w[:, -1].abs() > 0).all()  # biases kept (scaled), not zeroed
    assert teacher.widths == [20, 10, 15, 100] and student.widths == [20, 100, 150, 100]


def test_released_teacher_uses_the_shared_column_normalisation():
    """``released_teacher`` = make_teacher(normalize="none") with every column divided by its
    weights' norm (bias row excluded), bit for bit the released ``Model.normalize``."""
    import torch

    from luckbook.experiments.deep_teacher import released_teacher

    widths, seeds = [20, 10, 15, 100], [0, 1]
    net = released_teacher(widths, seeds, bias=0.5, activation="relu", slope=0.01)
    raw = lb.make_teacher(widths, seeds, bias=(-0.5, 0.5), normalize="none", output_bias=None)
    for w, r in zip(net.weights, raw.weights, strict=True):
        old = r / r[:, :-1, :].norm(dim=1, keepdim=True).clamp_min(1e-12)
        assert torch.equal(w, old) and w.dtype == torch.float64


# ----------------------------------------------------------------------------- figures


def test_figures_have_alt_text_with_numbers():
    result = _tiny()
    final = result.layer_mean()[0, -1].mean()
    for fig in (
        luck_deep.layer_curves(result),
        luck_deep.layer_summary(result),
        luck_deep.deep_overview(result),
        luck_deep.deep_frame(result, int(result.steps[2])),
    ):
        assert fig.alt and "layer 0" in fig.alt
        assert fig.png_bytes()[:4] == b"\x89PNG"
    assert f"{final:.3f}" in luck_deep.layer_curves(result).alt


def test_static_grid_shows_divergence_instead_of_failing():
    panel = lb.static_explorer(
        "deep-teacher",
        {"lr": [0.05, 100.0]},
        luck_deep.deep_overview,
        scale="tiny",
        seeds=1,
        on_divergence=luck_deep.divergence_figure,
        depth=2,
        epochs=1,
    )
    assert len(panel.frames) == 2
    ok, bad = panel.frames["0"], panel.frames["1"]
    assert "layer 0" in ok["text"] and "diverged" not in ok["text"]
    assert "diverged" in bad["text"] and "lr=100" in bad["text"]
    assert "Training diverged" in bad["alt"] and bad["img"].startswith("data:image/png")
    with pytest.raises(ValueError, match="depth=9"):
        lb.static_explorer("deep-teacher", {"depth": [2, 9]}, luck_deep.deep_overview, scale="tiny")


def test_registered_grid_renders_at_tiny_scale_with_its_prompt():
    """The chapter's grid (``lb.static_explorer("deep-teacher")``): every point runs or shows
    its divergence (lr = 0.5 at data_std = 10), with the prediction prompt above."""
    panel = lb.static_explorer("deep-teacher", scale="tiny", seeds=1)
    assert panel.names == ["depth", "data_std", "lr"] and len(panel.frames) == 8
    texts = [f["text"] for f in panel.frames.values()]
    assert any("diverged" in t for t in texts) and any("layer 0" in t for t in texts)
    assert panel.predict and "Predict first" in panel._repr_html_()


def test_registered_scrubber_has_its_prompt():
    result = _tiny()
    panel = lb.time_scrubber(result)
    assert panel.kind == "time" and panel.predict
    assert panel.labels[0][-1] == str(int(result.steps[-1]))
    assert len(panel.frames) == len(result.steps[::2]) + (len(result.steps) % 2 == 0)
    with pytest.raises(ValueError, match="panel="):
        lb.time_scrubber(result, panel="nope")


# ----------------------------------------------------------------------------- divergence


def test_divergence_raises():
    with pytest.raises(lb.DivergenceError, match="lr=100"):
        lb.run("deep-teacher", scale="tiny", seeds=1, lr=100.0, cache=False)


def test_divergence_exit_code_in_process(capsys):
    args = ["run", "deep-teacher", "--scale", "tiny", "--seeds", "1", "--set", "lr=100"]
    assert cli.main([*args, "--no-cache"]) == 3
    err = capsys.readouterr().err
    assert "lr=100" in err and "diverged at step" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- CLI


def _luckbook(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "luckbook", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_json_with_overrides(tmp_path):
    out = tmp_path / "deep.json"
    proc = _luckbook(
        "run", "deep-teacher", "--scale", "tiny", "--seeds", "2",
        "--set", "depth=4", "--set", "epochs=2", "--set", "snapshots_per_epoch=2",
        "--set", "m=8,9,10", "--set", "d_output=12", "--set", "log_snapshots=0",
        "--json", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["experiment"] == "deep-teacher" and data["scale"] == "tiny"
    s = data["settings"]
    assert (s["depth"], s["epochs"], s["m"], s["d_output"]) == (4, 2, [8, 9, 10], 12)
    assert s["dtype"] == "float32" and s["lr"] == 0.05 and s["data_std"] == 10.0
    assert data["epochs"] == [0, 0.5, 1, 1.5, 2]
    assert [row["seed"] for row in data["seeds"]] == [0, 1]
    for row in data["seeds"]:
        assert len(row["layer_mean_best_corr"]) == 3
        assert [len(b) for b in row["teacher_best_corr"]] == [8, 9, 10]
        assert all(-1 <= c <= 1 for c in row["layer_mean_best_corr"])
        assert len(row["layer_mean_best_corr_history"][0]) == 5
        assert len(row["dead_teacher_nodes"]) == 3 and row["dead_teacher_nodes"][0] == []
        assert all(
            a <= b + 1e-12
            for a, b in zip(
                row["layer_mean_best_corr_all_nodes"], row["layer_mean_best_corr"], strict=True
            )
        )
        assert row["eval_loss"] > 0


def test_cli_claims_exit_codes(capsys):
    """``luckbook claims deep-teacher``: exit 0 when every verdict is as registered, 1 for a
    control. At tiny scale (16 epochs of depth 3) layer 1 passes the paper's 0.95, which the
    book-scale registration (5 epochs of depth 5) predicts it does not: exit 1, that row only."""
    args = ["claims", "deep-teacher", "--scale", "tiny", "--seeds", "4", "--no-cache"]
    assert cli.main([*args, "--json", "-"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in data["claims"]] == list(E3_IDS)
    assert all(row["verdict"] == "holds" and row["control_fails"] for row in data["claims"])
    off = [row["id"] for row in data["claims"] if not row["as_predicted"]]
    assert off == ["E3.layer1-level"]
    for control in ("frozen", "different-teacher", "shuffled-labels"):
        assert cli.main([*args, "--control", control, "--json", "-"]) == 1
        rows = json.loads(capsys.readouterr().out)["claims"]
        assert all(row["verdict"] != "holds" for row in rows), (control, rows)


def test_cli_bad_input_and_divergence_subprocess():
    proc = _luckbook("run", "deep-teacher", "--scale", "tiny", "--set", "depth=6")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("luckbook: error:") and "depth=6" in lines[0]
    proc = _luckbook("run", "deep-teacher", "--scale", "tiny", "--seeds", "1", "--set", "lr=50")
    assert proc.returncode == 3, proc.stderr
    assert "lr=50" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "overrides, text",
    [
        ({"depth": 1}, "depth=1"),
        ({"depth": 6}, "depth=6"),
        ({"depth": 3, "m": (10,)}, "depth=3"),
        ({"depth": 2.5}, "depth=2.5"),
        ({"multi": 0}, "multi=0"),
        ({"lr": 0.0}, "lr=0.0"),
        ({"lr": -0.1}, "lr=-0.1"),
        ({"data_std": 0.0}, "data_std=0.0"),
        ({"d_output": 0}, "d_output=0"),
        ({"epochs": 0}, "epochs=0"),
        ({"n_eval": 1}, "n_eval=1"),
        ({"m": ()}, "m=()"),
        ({"m": (10, 0)}, "m=0"),
        ({"teacher_bias": -1.0}, "teacher_bias=-1.0"),
        ({"init_scale": 0.0}, "init_scale=0.0"),
        ({"activation": "tanh"}, "activation='tanh'"),
        ({"dtype": "float16"}, "dtype='float16'"),
        ({"snapshots_per_epoch": 1000}, "snapshots_per_epoch=1000"),
    ],
)
def test_bad_settings_name_the_parameter(overrides, text):
    with pytest.raises(ValueError) as info:
        lb.run("deep-teacher", scale="tiny", seeds=1, cache=False, **overrides)
    assert text in str(info.value)


def test_live_explorer_trains_and_explains_divergence():
    pytest.importorskip("ipywidgets")
    panel = lb.explorer("deep-teacher", scale="tiny", seeds=1, epochs=1)
    sliders_box, (button, status), out = (
        panel.children[0],
        panel.children[1].children,
        panel.children[2],
    )
    sliders = {s.description: s for s in sliders_box.children}
    assert set(sliders) == {"depth", "multi", "data_std", "d_output", "lr", "init_scale"}
    assert status.value.startswith("done") and len(out.outputs) == 1
    sliders["lr"].value = 0.5  # too large at data_std = 10
    button.click()
    assert "diverged" in status.value and "lr=0.5" in status.value
