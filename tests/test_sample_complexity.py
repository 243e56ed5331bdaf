"""E5 sample complexity: the tiny-scale claim, the batched machinery, the augmentation
diagnostics, Leaky ReLU, figures, validation, divergence and the CLI."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import luckbook as lb
from luckbook import cli, static
from luckbook.experiments.sample_complexity import (
    StackedSets,
    boundary_sides,
    rescale_shift,
)
from luckbook.plots import sample_complexity as plots


@functools.cache
def _tiny(**overrides):
    return lb.run("sample-complexity", scale="tiny", cache=False, **overrides)


# ----------------------------------------------------------------------------- claim


def test_augmented_data_cover_at_least_as_many_teachers_at_the_smallest_n():
    result = _tiny()
    s = result.settings
    g_small = int(np.argmin(s.n_trains))
    frac = result.fraction_covered(0.95)  # [G, K, S]
    gauss = frac[g_small, s.kinds.index("gaussian")]
    aug = frac[g_small, s.kinds.index("augmented")]
    print(f"N={s.n_trains[g_small]}: covered gaussian {gauss.tolist()}, augmented {aug.tolist()}")
    assert aug.mean() >= gauss.mean(), (
        f"at N={s.n_trains[g_small]} augmented data covered {aug.mean():.2f} of the teachers "
        f"on average, Gaussian data {gauss.mean():.2f}"
    )
    # At the largest N both kinds have enough data: every teacher is covered.
    g_big = int(np.argmax(s.n_trains))
    assert (frac[g_big] >= 0.8).all(), frac[g_big]


# ----------------------------------------------------------------------------- machinery


def test_gaussian_member_reproduces_the_two_layer_run_and_seeds_are_independent():
    # One (N, gaussian) member of the batched run is E4's two-layer run with n_train = N, step
    # for step (same teacher, student, training set, minibatch indices) — alone or in an ensemble.
    settings = dict(d=50, m=5, multi=2, c=10, steps=600, n_eval=500, n_snapshots=2)
    batched = lb.run(
        "sample-complexity", scale="tiny", seeds=[3, 5], cache=False, n_trains=(40, 90), **settings
    )
    alone = lb.run(
        "sample-complexity",
        scale="tiny",
        seeds=[5],
        cache=False,
        n_trains=(90,),
        data="gaussian",
        **settings,
    )
    e4 = lb.run("two-layer", scale="tiny", seeds=[5], cache=False, n_train=90, **settings)
    g, k = batched.index(90, "gaussian")
    np.testing.assert_allclose(
        batched.teacher_best[:, g, k, 1], alone.teacher_best[:, 0, 0, 0], atol=1e-10
    )
    np.testing.assert_allclose(alone.teacher_best[:, 0, 0, 0], e4.teacher_best[:, 0], atol=1e-10)
    np.testing.assert_allclose(alone.eval_loss[:, 0, 0, 0], e4.eval_loss[:, 0], rtol=1e-9)
    np.testing.assert_allclose(alone.train_loss[:, 0, 0, 0], e4.train_loss[:, 0], rtol=1e-9)
    assert batched.teacher_best.shape == (3, 2, 2, 2, 5)
    assert batched.covered[0.95].shape == (3, 2, 2, 2)
    assert batched.student_best.shape == batched.fanout.shape == (2, 2, 2, 10)


def test_stacked_sets_draw_the_fixed_set_indices():
    gen = torch.Generator().manual_seed(0)
    xa, xb = torch.randn(2, 7, 3, generator=gen), torch.randn(2, 11, 3, generator=gen)
    ya, yb = xa[..., :1] * 2, xb[..., :1] * 2
    stacked = StackedSets([xa, xb], [ya, yb])
    fixed = lb.FixedSet(xb, yb)
    for (x1, y), (fx, fy) in zip(
        stacked.batches([4, 9, 4, 9], 5, 3), fixed.batches([4, 9], 5, 3), strict=True
    ):
        assert x1.shape == (4, 3, 4)
        torch.testing.assert_close(x1[2:], fx)
        torch.testing.assert_close(y[2:], fy)
        # every member's samples come from its own set: labels match its inputs
        torch.testing.assert_close(y, 2 * x1[..., :1])
    with pytest.raises(ValueError, match="seeds has 2 entries"):
        next(stacked.batches([4, 9], 1, 3))


def test_augmentation_diagnostics():
    result = _tiny()
    s = result.settings
    # The rescale moves boundary points off the boundary, but only a little: |b| · O(1/√d).
    assert result.shift.shape == (len(result.seeds), s.m)
    assert (result.shift > 0).all() and (result.shift < 0.2 * abs(s.bias)).all(), result.shift
    k_aug, k_gauss = s.kinds.index("augmented"), s.kinds.index("gaussian")
    n = np.asarray(s.n_trains)[:, None, None]
    # Augmented sets: about N/(3m) points on every boundary, so far more points near each one.
    near_aug = result.near[:, k_aug] / n
    near_gauss = result.near[:, k_gauss] / n
    assert near_aug.mean() > near_gauss.mean() + 0.5 / (3 * s.m)
    # Both kinds have points on both sides of every boundary.
    big = int(np.argmax(s.n_trains))
    assert ((result.positive[big] > 0.1) & (result.positive[big] < 0.9)).all()
    text = result.augmentation_numbers()
    assert f"{np.median(result.shift):.4f}" in text


def test_rescale_shift_is_zero_without_bias():
    teacher = lb.make_teacher([30, 4, 3], [0, 1], bias=0.0, normalize="weights")
    assert float(rescale_shift(teacher, [0, 1], data_std=1.5, points=50).abs().max()) < 1e-12
    x = lb.boundary_augmented(teacher, 120, [0, 1], data_std=1.5)
    sides = boundary_sides(teacher, x)
    assert sides["positive"].shape == sides["near"].shape == (2, 4)
    assert (sides["near"] >= 120 // (3 * 4)).all()


def test_leaky_relu_runs_and_is_used():
    result = _tiny(activation="leaky_relu", n_trains=(50, 400), steps=1500)
    relu = _tiny(activation="relu", n_trains=(50, 400), steps=1500)
    assert result.settings.activation == "leaky_relu" and result.settings.slope == 0.01
    assert np.isfinite(result.teacher_best).all() and np.isfinite(result.eval_loss).all()
    assert result.eval_loss[-1].mean() < 0.5 * result.eval_loss[0].mean()
    # Same teachers' weights, students and data, but a different nonlinearity: other numbers.
    np.testing.assert_array_equal(result.teacher[0], relu.teacher[0])
    assert not np.allclose(result.eval_loss, relu.eval_loss)
    print(result.coverage_table())


# ----------------------------------------------------------------------------- figures


def test_figures_have_alt_text_with_numbers():
    result = _tiny()
    frac = result.fraction_covered(0.95)
    small = min(result.settings.n_trains)
    figs = [
        plots.coverage_vs_n(result),
        plots.loss_vs_n(result),
        plots.sample_complexity_figure(result),
        plots.per_teacher(result, small),
        plots.augmentation_picture(result, small, nodes=(0, 2)),
        plots.coverage_frame(result, int(result.steps[1])),
    ]
    for fig in figs:
        assert fig.alt and fig.png_bytes()[:4] == b"\x89PNG"
    assert f"N={small} {frac[0, 1].mean():.2f}" in figs[0].alt
    assert "within 0.1 of boundary 0" in figs[4].alt
    panel = static.static_panel(
        lambda v: (
            plots.grid_frame(result, v["N"], v["data"]),
            plots.grid_numbers(result, v["N"], v["data"]),
        ),
        {"N": list(result.settings.n_trains), "data": list(result.settings.kinds)},
    )
    assert len(panel.frames) == 6 and "covered per seed" in panel.frames["0,1"]["text"]
    with pytest.raises(ValueError, match="n_train=7"):
        plots.per_teacher(result, 7)
    with pytest.raises(ValueError, match="nodes="):
        plots.augmentation_picture(result, nodes=(1, 1))


# ----------------------------------------------------------------------------- validation, divergence


@pytest.mark.parametrize(
    "overrides, text",
    [
        ({"n_trains": ()}, "n_trains=()"),
        ({"n_trains": (100, 0)}, "n_trains=0"),
        ({"n_trains": (100, 100)}, "n_trains=(100, 100)"),
        ({"data": "mnist"}, "data='mnist'"),
        ({"activation": "tanh"}, "activation='tanh'"),
        ({"lr": 0.0}, "lr=0.0"),
        ({"n_snapshots": 10**6}, "n_snapshots=1000000"),
    ],
)
def test_bad_settings_name_the_parameter(overrides, text):
    with pytest.raises(ValueError) as info:
        lb.run("sample-complexity", scale="tiny", seeds=1, cache=False, **overrides)
    assert text in str(info.value)


def test_divergence_raises():
    with pytest.raises(lb.DivergenceError, match="lr=50"):
        lb.run("sample-complexity", scale="tiny", seeds=1, cache=False, lr=50.0, steps=300)


# ----------------------------------------------------------------------------- CLI


def test_cli_json_estimate_and_errors(tmp_path, capsys):
    out = tmp_path / "e5.json"
    args = ["run", "sample-complexity", "--scale", "tiny", "--seeds", "2", "--set", "steps=300"]
    assert cli.main([*args, "--set", "n_trains=40,80", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["experiment"] == "sample-complexity"
    assert data["settings"]["n_trains"] == [40, 80]
    assert len(data["runs"]) == 2 * 2 * 2
    assert {(r["n_train"], r["kind"]) for r in data["runs"]} == {
        (n, k) for n in (40, 80) for k in ("gaussian", "augmented")
    }
    assert len(data["boundary_shift_median"]) == 2
    capsys.readouterr()
    assert cli.main(["run", "sample-complexity", "--scale", "paper", "--estimate"]) == 0
    text = capsys.readouterr()
    assert "GFLOP" in text.out + text.err and "measured" in text.out + text.err
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "luckbook",
            "run",
            "sample-complexity",
            "--scale",
            "tiny",
            "--set",
            "data=mnist",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "data='mnist'" in lines[0]


def test_estimate_counts_flops():
    exp = lb.get_experiment("sample-complexity")
    small = exp.plan(scale="tiny", seeds=2)
    big = exp.plan(scale="paper")
    assert 0 < small.seconds < big.seconds and 0 < small.bytes < big.bytes
    assert "GFLOP" in big.basis and "256 students" in big.basis


def test_live_explorer_runs():
    pytest.importorskip("ipywidgets")
    from luckbook import widgets

    panel = widgets.explorer(
        "sample-complexity",
        {"data": plots.SAMPLE_SLIDERS["data"]},
        plots.panel,
        scale="tiny",
        seeds=1,
        steps=200,
        n_trains=(40, 80),
    )
    status = panel.children[1].children[1]
    assert status.value.startswith("done"), status.value
