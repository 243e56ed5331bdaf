"""E5 sample complexity: the tiny-scale claim, the batched machinery, the augmentation
diagnostics, the chapter's numbers, Leaky ReLU, figures, panels, validation, divergence and the
CLI."""

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
from luckbook import cli, panels
from luckbook.experiments.sample_complexity import (
    StackedSets,
    boundary_sides,
    rescale_shift,
)
from luckbook.plots import sample_complexity as plots


@functools.cache
def _tiny(**overrides):
    return lb.run("sample-complexity", scale="tiny", cache=False, **overrides)


# ----------------------------------------------------------------------------- claims


def test_claims_hold_on_tiny_and_the_frozen_control_fails():
    # The registered claims at tiny scale (N = 50, 4 development seeds): the augmented runs
    # cover more teacher nodes than the Gaussian ones (paired by seed), and a fair share.
    result = _tiny()
    report = result.claims()
    print(report)
    assert report.ids == ["E5.aug-gain", "E5.aug-coverage", "E5.gain-reverses"]
    assert "smallest of the grid" in report["E5.aug-gain"].stat.detail
    report.assert_holds(["E5.aug-gain", "E5.aug-coverage"])
    assert np.isfinite(report["E5.gain-reverses"].stat.value)


def test_gain_reverses_is_the_minimum_over_the_grid_and_fails_without_a_reversal():
    """E5.gain-reverses: the minimum over N of the seed-mean gain. On a synthetic copy where
    the augmented runs never cover fewer teacher nodes than the Gaussian ones (the situation
    the claim denies), it fails."""
    import copy

    r = copy.copy(_tiny())
    stats = r.claim_stats()
    frac = (r.teacher_best[-1] > 0.95).mean(-1)
    gains = (frac[:, 1] - frac[:, 0]).mean(-1)
    assert stats["E5.gain-reverses"].value == pytest.approx(gains.min())
    best = r.teacher_best.copy()
    best[:, :, 1] = np.maximum(best[:, :, 1], best[:, :, 0])  # augmented >= Gaussian
    r.teacher_best = best
    row = r.claims()["E5.gain-reverses"]
    assert row.stat.value >= 0.0 and row.verdict == "does not hold"


def test_different_teacher_control_trains_on_an_independent_teacher():
    from luckbook.experiments.sample_complexity import independent_teacher

    exp = lb.get_experiment("sample-complexity")
    settings = exp.settings("tiny", control="different-teacher")
    alt = independent_teacher(settings, [0, 1], torch.device("cpu"))
    result = lb.run("sample-complexity", scale="tiny", seeds=[0, 1], steps=50, cache=False)
    assert not np.allclose(alt.weights[0].numpy(), result.teacher[0])
    with pytest.raises(ValueError, match="control='x' is not allowed"):
        exp.settings("tiny", control="x")


def test_frozen_control_fails_every_claim():
    # A frozen student covers no teacher node with either kind: 0 − 0 must not pass the gain.
    control = _tiny().claims(control="frozen")
    control.assert_fails()
    assert control["E5.aug-gain"].stat.value == 0.0
    assert control["E5.aug-coverage"].stat.value == 0.0


def test_claims_need_both_kinds_and_fall_back_to_the_smallest_n():
    result = _tiny(n_trains=(40, 80), steps=200, data="augmented")
    stats = result.claim_stats()
    assert not stats["E5.aug-gain"].defined and "data='both'" in stats["E5.aug-gain"].detail
    both = _tiny(n_trains=(40, 80), steps=200)
    n, where = both.claim_n()
    assert n == 40 and "smallest of the grid" in where


def test_registered_grids_are_the_presets():
    from luckbook.claims import E5_CLAIM_N, E5_GRIDS

    exp = lb.get_experiment("sample-complexity")
    for scale in ("paper", "book", "tiny"):
        settings = exp.settings(scale)
        assert settings.n_trains == E5_GRIDS[scale]
        assert E5_CLAIM_N[scale] in settings.n_trains
    paper = exp.settings("paper")  # SS supplementary Fig. 9
    assert (paper.d, paper.m, paper.p, paper.alpha_mean, paper.alpha_sigma) == (
        100,
        5,
        1.0,
        2.0,
        2.0,
    )
    assert paper.n_trains[0] == 30 and paper.n_trains[-1] == 1110 and len(paper.n_trains) == 20


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
    # The rescale moves boundary points off the boundary, but only a little: |b| times the
    # spread of the homogeneous projection's scale factor (about 0.11 |b| at the released setting).
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
    assert result.median_shift() == float(np.median(result.shift))
    assert result.median_shift(per_node=True) == np.median(result.shift, axis=0).tolist()
    # the prediction of the chapter's exercise: Gaussian fraction, plus 1/(3m) when augmented
    near = result.near_boundary()
    assert set(near) == set(s.kinds)
    gauss, aug = near["gaussian"], near["augmented"]
    assert aug["predicted"] - gauss["predicted"] == pytest.approx(
        (1 - gauss["predicted"]) / (3 * s.m)
    )
    assert abs(gauss["measured"] - gauss["predicted"]) < 0.02
    assert abs(aug["measured"] - aug["predicted"]) < 0.03
    assert near["gaussian"]["count"] == pytest.approx(result.near[0, k_gauss].mean())


def test_chapter_numbers_and_boundary_coordinates():
    result = _tiny()
    s = result.settings
    numbers = result.chapter_numbers()
    frac = result.fraction_covered(0.95)
    for g, n in enumerate(s.n_trains):
        for k, kind in enumerate(s.kinds):
            assert numbers[f"covered.{n}.{kind}"] == pytest.approx(frac[g, k].mean() * s.m)
            assert numbers[f"eval_loss.{n}.{kind}"] == pytest.approx(
                result.eval_loss[-1, g, k].mean()
            )
            assert 0 <= numbers[f"covered.{n}.{kind}"] <= numbers[f"covered80.{n}.{kind}"] <= s.m
    assert numbers["shift"] == result.median_shift()
    assert 0 < numbers["positive.gaussian"] < 100 and 0 < numbers["near.augmented"] < 100
    small = min(s.n_trains)
    z = result.boundary_coordinates(small, seed=result.seeds[1])
    points = result.training_points(small, seed=result.seeds[1])
    assert set(z) == set(s.kinds) and z["augmented"].shape == (small, s.m)
    x1 = lb.with_ones(points["gaussian"]).numpy()
    np.testing.assert_allclose(z["gaussian"], x1 @ result.teacher[0][1])
    with pytest.raises(ValueError, match="seed=99"):
        result.training_points(small, seed=99)


def test_projection_is_homogeneous_as_released():
    # The released augmentation projects (x, 1) onto (w, b)ᵀ(x, 1) = 0 and divides by the last
    # coordinate: before the rescale the point is exactly on the boundary. After the rescale to
    # norm 1.5·√d the median |wᵀx + b| is about 0.011 at d = 100, b = −0.1 (not |b|·0.674/√(2d)
    # ≈ 0.0048, which a projection in input space would give).
    teacher = lb.make_teacher([100, 5, 3], [0, 1], bias=-0.1, normalize="weights")
    shift = rescale_shift(teacher, [0, 1], data_std=1.5, points=2_000)
    assert 0.009 < float(shift.median()) < 0.013, shift
    # α's range is a setting: α = alpha_mean + alpha_sigma·U[0, 1].
    single = lb.Net([teacher.weights[0][:, :, :1], torch.zeros(2, 2, 1, dtype=torch.float64)])
    w = teacher.weights[0][:, :, :1].double()
    for (mean, sigma), low in (((2.0, 2.0), 1.2), ((1.0, 1.0), 0.6)):
        x = lb.boundary_augmented(
            single, 300, [0, 1], data_std=1.5, alpha_mean=mean, alpha_sigma=sigma
        )
        z = torch.bmm(lb.with_ones(x), w)[..., 0].abs().sort(dim=1).values  # [2, 300]
        shifted = z[:, 100:]  # the ±α copies: two thirds of the points
        assert float(shifted.min()) > low and float(z[:, :100].max()) < 0.1
    assert float(shifted.min()) < 1.2  # U[1, 2] reaches closer than U[2, 4]
    with pytest.raises(ValueError, match="alpha_sigma"):
        lb.boundary_augmented(teacher, 30, [0, 1], alpha_sigma=-1.0)


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
        plots.sample_complexity_per_teacher(result, small),
        plots.augmentation_picture(result, small, nodes=(0, 2)),
        plots.coverage_frame(result, int(result.steps[1])),
    ]
    for fig in figs:
        assert fig.alt and fig.png_bytes()[:4] == b"\x89PNG"
    assert f"N={small} {frac[0, 1].mean():.2f}" in figs[0].alt
    assert "within 0.1 of boundary 0" in figs[4].alt
    with pytest.raises(ValueError, match="n_train=7"):
        plots.sample_complexity_per_teacher(result, 7)
    with pytest.raises(ValueError, match="nodes="):
        plots.augmentation_picture(result, nodes=(1, 1))


# ------------------------------------------------------------------------- validation, divergence


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
    assert "GFLOP" in big.basis and "1280 students" in big.basis  # 20 sizes × 2 kinds × 32 seeds
    # the rate it was converted at is one a CPU can reach (a timing once read 7e17 FLOP/s)
    flops = float(big.basis.split(" GFLOP counted")[0]) * 1e9
    assert big.seconds > flops / ((os.cpu_count() or 1) * 200e9)


def test_live_explorer_runs():
    pytest.importorskip("ipywidgets")
    from luckbook import widgets

    live = panels.get(panels.Live, "sample-complexity")
    assert set(live.sliders) == {"data", "p", "multi", "activation"}
    panel = widgets.explorer(
        "sample-complexity",
        {"data": live.sliders["data"]},
        live.figure,
        scale="tiny",
        seeds=1,
        steps=200,
        n_trains=(40, 80),
    )
    status = panel.children[1].children[1]
    assert status.value.startswith("done"), status.value
    registered = lb.explorer("sample-complexity", scale="tiny", autorun=False)
    assert "press Run" in registered.children[1].children[1].value


# ----------------------------------------------------------------------------- panels


def test_registered_panels_have_predictions_and_render():
    result = _tiny()
    frames = panels.get(panels.Frames, "sample-complexity")
    assert frames.predict
    scrub = lb.time_scrubber(result)
    assert scrub.kind == "time" and scrub.predict == frames.predict
    assert scrub.labels == [[str(int(step)) for step in result.steps]]
    panel = lb.sample_complexity_explorer(result)
    assert len(panel.frames) == 6 and panel.predict
    assert "covered per seed" in panel.frames["0,1"]["text"]
    assert [panel.labels[i][j] for i, j in enumerate(panel.initial)] == ["50", "augmented"]
    small = min(result.settings.n_trains)
    line = result.size_numbers(small)
    assert line.startswith(f"N={small}, τ=0.95") and "gaussian" in line and "augmented" in line
