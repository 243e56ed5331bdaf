"""E4 sweep (SS/OC): batching equivalence, the claims and their controls at ``tiny`` scale,
synthetic checks of the order statistic, Leaky ReLU,
the chapter's numbers, figures, panels, CLI and validation."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

import luckbook as lb
from luckbook import cli, panels
from luckbook.claims import claims_of
from luckbook.experiments.two_layer_sweep import TwoLayerSweepSettings
from luckbook.plots import two_layer_sweep as specialization
from luckbook.plots.style import BookFigure
from luckbook.results.two_layer import released_loss
from luckbook.results.two_layer_sweep import SweepCell, TwoLayerSweepResult

DEV_SEEDS = list(range(8, 16))
"""Development seeds of the tiny claim tests."""


def claim_by_id(claim_id: str):
    return next(c for c in claims_of("two-layer-sweep") if c.id == claim_id)


@functools.cache
def _tiny(activation: str = "relu") -> TwoLayerSweepResult:
    return lb.run(
        "two-layer-sweep", scale="tiny", seeds=DEV_SEEDS, activation=activation, cache=False
    )


# ----------------------------------------------------------------------------- batching


def test_cell_seed_matches_single_two_layer_run():
    """Stacking p-values × seeds along the seed axis changes no seed's numbers."""
    small = {"d": 12, "c": 6, "steps": 300, "n_train": 300, "n_eval": 300, "n_snapshots": 3}
    small["spacing"] = "log"
    sweep = lb.run(
        "two-layer-sweep",
        scale="tiny",
        seeds=[2, 7],
        ms=(4,),
        multis=(2,),
        ps=(0.0, 1.5),
        cache=False,
        **small,
    )
    for p in (0.0, 1.5):
        one = lb.run("two-layer", scale="tiny", seeds=[7], m=4, multi=2, p=p, cache=False, **small)
        cell = sweep.cell(4, 2, p)
        np.testing.assert_array_equal(sweep.steps, one.steps)
        # the sweep stores correlations and fan-outs in float32
        np.testing.assert_allclose(cell.teacher_best[:, 1], one.teacher_best[:, 0], atol=1e-6)
        np.testing.assert_allclose(cell.student_best[:, 1], one.student_best[:, 0], atol=1e-6)
        np.testing.assert_allclose(cell.fanout[:, 1], one.fanout[:, 0], rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(cell.student_match[:, 1], one.student_match[:, 0])
        np.testing.assert_allclose(cell.eval_loss[:, 1], one.eval_loss[:, 0], rtol=1e-12)
    # the two p-values really are different teachers
    assert not np.allclose(sweep.cell(4, 2, 0.0).eval_loss, sweep.cell(4, 2, 1.5).eval_loss)


# ----------------------------------------------------------------------------- the claims
# Tiny scale (d = 20, c = 10, m = 5, multi 1 and 5, p 0, 1, 2, 8 development seeds 8-15,
# 4000 steps, geometric snapshots; the decay run is the m = 5, multi = 5, p = 1 cell at
# init_scale 0.05). The thresholds were registered for book scale; these tests check that the
# statistics work and that the controls fail them, not the book's verdicts.


@functools.cache
def _report(control: str | None = None):
    return _tiny().claims(control=control)


@pytest.mark.claim
def test_strong_teachers_first_is_an_order_in_time():
    """Among the teachers covered by the end, stronger ones arrive earlier: per seed Spearman's
    ρ(strength, arrival) at multi 5, p 1, mean over seeds, below the threshold; the
    equal-strength control (p = 0, index order) and the different teacher fail it."""
    r = _tiny()
    row = _report()["E4.strong-first"]
    rho = r.order_correlations(5, 5, 1.0)
    assert row.stat.value == pytest.approx(np.nanmean(rho))
    assert row.verdict == "holds", row.stat
    assert row.control_names == ["equal-strength", "different-teacher"]
    assert row.control_fails is True, row.controls
    equal = _report("equal-strength")
    assert equal["E4.strong-first"].stat.value == pytest.approx(
        np.nanmean(r.order_correlations(5, 5, 0.0))
    )
    assert equal["E4.more-covers-more"].verdict == "undefined"


def _synthetic_sweep(arrival: np.ndarray) -> TwoLayerSweepResult:
    """A sweep result with one cell (m = 10, multi = 5, p = 1) whose teacher node ``i`` of seed
    ``s`` jumps from correlation 0.5 to 0.99 at step ``arrival[s, i]`` (NaN: never)."""
    steps = np.array([0] + [round(10 ** (k / 10)) for k in range(41)])
    steps = np.unique(steps)
    n_seeds, m = arrival.shape
    tb = np.where(steps[:, None, None] >= np.nan_to_num(arrival, nan=1e99)[None], 0.99, 0.5)
    t = len(steps)
    cell = SweepCell(
        teacher_best=tb,
        student_best=np.zeros((t, n_seeds, 5 * m)),
        student_match=np.zeros((t, n_seeds, 5 * m), dtype=int),
        fanout=np.ones((t, n_seeds, 5 * m)),
        eval_loss=np.ones((t, n_seeds)),
    )
    settings = TwoLayerSweepSettings(ms=(10,), multis=(5,), ps=(1.0,), claim_m=10, steps=10_000)
    return TwoLayerSweepResult(
        settings, list(range(n_seeds)), "cpu", 0.0, {(10, 5): 0.0}, steps, {(10, 5, 1.0): cell}
    )


def test_order_statistic_fails_on_random_arrival_order():
    """Synthetic: arrivals in random order (the theorem false) fail the order claim's statistic;
    arrivals in the order of strength pass it; nodes that never arrive are left out, so
    'never' is not read as 'last'."""
    claim = claim_by_id("E4.strong-first")
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(50, 5000, size=(8, 10)), axis=1)
    random_order = np.stack([rng.permutation(row) for row in times])
    stat = _synthetic_sweep(random_order)._order_stat(10, 5, 1.0, None)
    assert claim.verdict(stat) != "holds", stat
    ordered = _synthetic_sweep(times)._order_stat(10, 5, 1.0, None)
    assert claim.verdict(ordered) == "holds" and ordered.value < -0.9
    first_never = times.copy()
    first_never[:, 7:] = np.nan  # the weakest never arrive, the rest in random order
    first_never[:, :7] = np.stack([rng.permutation(row[:7]) for row in times])
    stat = _synthetic_sweep(first_never)._order_stat(10, 5, 1.0, None)
    assert claim.verdict(stat) != "holds", stat


def test_window_counts_snapshots_between_first_and_last_arrival():
    r = _synthetic_sweep(np.array([[100.0, 1000.0, np.nan]]).repeat(2, 0).repeat(4, 1)[:, :10])
    first, last, inside = r.covering_window(10, 5, 1.0)
    assert (first, last) == (100.0, 1000.0)
    assert inside == int(((r.steps > 100) & (r.steps < 1000)).sum()) == 9


@pytest.mark.claim
def test_scrubber_shows_nodes_arriving():
    """The time scrubber (every snapshot) has at least 5 frames strictly between the first and
    the last teacher arrival of the cells it shows."""
    r = _tiny()
    assert panels.get(panels.Frames, "two-layer-sweep").every == 1
    for multi in r.settings.multis:
        assert r.covering_window(5, multi, 1.0)[2] >= 5, multi


@pytest.mark.claim
def test_over_realization_covers_more_and_controls_fail():
    """At p = 1, multi = 5 covers more teachers than multi = 1 in the same seeds; shuffled
    labels, a different teacher and the frozen student fail it."""
    row = _report()["E4.more-covers-more"]
    assert row.verdict == "holds", row.stat
    cov = _tiny().mean_covered(5, p=1.0)
    assert cov[5] - cov[1] == pytest.approx(row.stat.value)
    assert row.control_fails is True, row.controls
    shuffled = _report("shuffled-labels")
    assert shuffled["E4.more-covers-more"].verdict != "holds"


@pytest.mark.claim
def test_decay_statistic_reads_each_node_against_its_own_start():
    """The decay claim's statistic is the pooled median of end/start fan-out over the nodes
    that never specialize in the decay run; the frozen student (ratio 1) fails it."""
    r = _tiny()
    run = r.decay_run()
    assert run.settings.init_scale == 0.05 and run.settings.ms == (5,)
    ratio, never = run.fanout_ratios(5, 5, 1.0)
    row = _report()["E4.unspecialized-decay"]
    assert row.stat.value == pytest.approx(np.median(ratio[never]))
    frozen = _report("frozen")["E4.unspecialized-decay"]
    assert frozen.stat.value == 1.0 and frozen.verdict != "holds"
    numbers = r.decay_numbers()
    assert numbers["unspecialized_n"] == int(never.sum())


def test_control_runs_cover_only_the_claimed_cells():
    """The run controls train only the cells the claims read and score against the original
    teacher: a different teacher covers (almost) nothing."""
    r = _tiny()
    for name in ("different-teacher", "shuffled-labels"):
        c = r.control_result(name)
        assert c.settings.control == name and c.settings.ms == (5,)
        assert c.settings.multis == (1, 5) and c.settings.ps == (1.0,)
    diff = r.control_result("different-teacher")
    assert diff.covered(5, 5, 1.0).mean() < r.covered(5, 5, 1.0).mean()
    report = _report("different-teacher")
    assert not any(row.verdict == "holds" for row in report.rows), report


def test_claims_report_hook_uses_the_chapter_runs():
    """``lb.claims("two-layer-sweep")`` runs the sweep (and, through the cache, its decay and
    control runs) on the held-out seeds."""
    over = {"steps": 400, "n_snapshots": 12, "ps": (0.0, 1.0)}
    report = lb.claims("two-layer-sweep", scale="tiny", seeds=[5000, 5001], **over)
    assert report.seeds == [5000, 5001] and report.ids == [
        "E4.strong-first",
        "E4.more-covers-more",
        "E4.unspecialized-decay",
    ]
    assert all(row.controls for row in report.rows)


def test_l_shape_medians_by_seed_and_multi():
    """``seeds=`` / ``multis=`` pool only those seeds / multipliers (default all); unknown ones
    are refused."""
    r = _tiny()
    assert r.l_shape_medians(5, seeds=r.seeds) == r.l_shape_medians(5)
    half = r.l_shape_medians(5, seeds=r.seeds[:4])
    other = r.l_shape_medians(5, seeds=r.seeds[4:])
    assert half[2] + other[2] == r.l_shape_medians(5)[2]  # node counts add up
    assert half != other
    with pytest.raises(ValueError, match="seed=99"):
        r.l_shape_medians(5, seeds=[99])
    narrow, wide = r.l_shape_medians(5, multis=(1,)), r.l_shape_medians(5, multis=(5,))
    assert narrow[2] + wide[2] == r.l_shape_medians(5)[2]
    with pytest.raises(ValueError, match="multi=3"):
        r.l_shape_medians(5, multis=(3,))


def test_l_shape_uses_training_set_at_the_end():
    """As released: the L-shape's correlations come from the training set at the end (and at
    step 0), from the eval set at the snapshots in between."""
    r = _tiny()
    cell = r.cell(5, 5, 1.0)
    corr, _ = r.l_shape(5, 5, 1.0)
    np.testing.assert_array_equal(corr, cell.train_best[1].ravel())
    assert not np.array_equal(corr, cell.student_best[-1].ravel())
    assert np.median(np.abs(corr - cell.student_best[-1].ravel())) < 0.02  # close, not equal
    mid = int(r.steps[5])
    np.testing.assert_array_equal(r.l_shape(5, 5, 1.0, mid)[0], cell.student_best[5].ravel())
    assert (r.l_shape_set(), r.l_shape_set(mid), r.l_shape_set(0)) == (
        "training",
        "eval",
        "training",
    )


def test_l_shape_ratios_descriptive():
    """The descriptive ratios beside claim (iii) agree with :meth:`l_shape_medians`."""
    r = _tiny()
    ratios = r.l_shape_ratios(5)
    lo_w, hi_w, _, _ = r.l_shape_medians(5, multis=(5,))
    assert ratios["over-realized"] == pytest.approx(lo_w / hi_w)
    lo_h, hi_h, _, _ = r.l_shape_medians(5, seeds=r.seeds[:4])
    assert ratios["first half"] == pytest.approx(lo_h / hi_h)
    assert np.isnan(r.l_shape_ratios(5, wide_from=10)["over-realized"])
    with pytest.raises(ValueError, match="wide_from=0"):
        r.l_shape_ratios(5, wide_from=0)
    one = lb.run(
        "two-layer-sweep", scale="tiny", seeds=1, steps=400, n_snapshots=4, ps=(0.0,), cache=False
    )
    assert "first half" not in one.l_shape_ratios(5)


def test_released_loss_convention():
    """The released loss is the mean over samples × outputs: ours (½·Σ outputs) × 2 / c."""
    r = _tiny()
    loss = r.cell(5, 5, 0.0).eval_loss[-1]
    assert released_loss(loss, 10) == pytest.approx(loss / 5)
    assert "as released" in r.summary()


def test_seed_and_multi_filters_refuse_bad_lists():
    r = _tiny()
    for bad in ([0, 0], [], 3, "0"):
        with pytest.raises(ValueError, match="seeds="):
            r.l_shape_medians(5, seeds=bad)
    for bad in ([], 5):
        with pytest.raises(ValueError, match="multis="):
            r.l_shape_medians(5, multis=bad)


def test_leaky_relu_sweep():
    """``activation="leaky_relu"`` runs through the sweep, differs from ReLU, and (tiny scale)
    shows the same strong-teachers-first ordering."""
    leaky, relu = _tiny("leaky_relu"), _tiny()
    assert leaky.settings.activation == "leaky_relu"
    cell_l, cell_r = leaky.cell(5, 5, 1.0), relu.cell(5, 5, 1.0)
    assert np.isfinite(cell_l.eval_loss).all()
    assert not np.allclose(cell_l.eval_loss, cell_r.eval_loss)
    assert min(leaky.strong_first(5, p=2.0, when="final").values()) >= 0.5


# ----------------------------------------------------------------------------- results, figures


def test_result_shapes_and_text():
    r = _tiny()
    s = r.settings
    assert len(r.cells) == len(s.ms) * len(s.multis) * len(s.ps)
    assert set(r.group_time_s) == {(m, mu) for m in s.ms for mu in s.multis}
    cell = r.cell(5, 5, 2.0)
    t, n_seeds = len(r.steps), len(r.seeds)
    assert cell.teacher_best.shape == (t, n_seeds, 5)
    assert cell.student_best.shape == cell.fanout.shape == (t, n_seeds, 25)
    assert cell.eval_loss.shape == (t, n_seeds)
    assert int(r.steps[r.early_index]) == 191  # the snapshot nearest 5 % of 4000 steps
    assert r.success_rate(5, 5, 2.0, "early").shape == (5,)
    assert "covered early" in r.summary()
    assert "teachers covered" in r.numbers(step=int(r.steps[3]))
    data = json.loads(json.dumps(r.to_json()))
    assert data["experiment"] == "two-layer-sweep" and len(data["cells"]) == len(r.cells)
    assert data["cells"][0]["seeds"][0]["seed"] == r.seeds[0]
    with pytest.raises(ValueError, match="not in this sweep"):
        r.cell(7, 5, 2.0)
    with pytest.raises(ValueError, match="when="):
        r.success_rate(5, 5, 2.0, "middle")


def test_figures_state_numbers():
    r = _tiny()
    lo, hi, _, _ = r.l_shape_medians(5)
    figs = [
        specialization.l_shape_grid(r),
        specialization.sweep_success_rate(r),
        specialization.sweep_loss_curves(r),
        specialization.l_shape_frame(r, step=int(r.steps[2]), p=2.0),
        specialization.cell_panel(r, 5, 5, 1.0),
    ]
    for fig in figs:
        assert isinstance(fig, BookFigure) and len(fig.alt) > 80
    assert f"{lo:.3g}" in figs[0].alt and f"{hi:.3g}" in figs[0].alt
    assert "p = 2" in figs[1].alt
    assert "log10 eval loss" in figs[2].alt
    assert figs[0].png_bytes()[:4] == b"\x89PNG"


def test_chapter_numbers_agree_with_the_result():
    """The prose's descriptive numbers come from the same analysis as the claims."""
    r = _tiny()
    numbers = r.chapter_numbers(m=5)
    lo, hi, n_lo, n_hi = r.l_shape_medians(5)
    assert (numbers["lshape.lo"], numbers["lshape.hi"]) == (lo, hi)
    assert (numbers["lshape.n_lo"], numbers["lshape.n_hi"]) == (n_lo, n_hi)
    ratios = r.l_shape_ratios(5)
    assert numbers["lshape.first_half"] == ratios["first half"]
    assert numbers["lshape.over-realized"] == ratios["over-realized"]
    assert 0 < numbers["lshape.eval"] < 1
    assert numbers["order.frames"] == r.covering_window(5, 5, 1.0)[2]
    assert numbers["decay.unspecialized_median"] == r.decay_numbers()["unspecialized_median"]
    assert numbers["early_step"] == 191 and numbers["n_cells"] == len(r.cells)
    assert numbers["p1.m5.covered"] == pytest.approx(r.covered(5, 5, 1.0).mean())
    assert numbers["p2.early_strong"] == pytest.approx(
        np.mean([r.success_rate(5, k, 2.0, "early")[:1].mean() for k in r.settings.multis])
    )
    assert numbers["width.m5.multi5"] == pytest.approx(r.covered(5, 5, 2.0).mean() / 5)
    assert numbers["paper_hours"] > 1


def test_registered_panels_have_predictions_and_render():
    r = _tiny()
    frames = panels.get(panels.Frames, "two-layer-sweep")
    assert frames.predict and frames.every == 1
    scrub = lb.time_scrubber(r)
    assert scrub.kind == "time" and scrub.predict == frames.predict
    last = scrub.frames[str(len(scrub.labels[0]) - 1)]
    assert last["text"].startswith(f"m=5, multi=5, p=1, step {int(r.steps[-1])}")
    cells = lb.sweep_cell_explorer(r)
    assert len(cells.frames) == len(r.cells) and cells.predict
    assert [cells.labels[i][j] for i, j in enumerate(cells.initial)] == ["5", "5", "1"]
    assert "6 cells × 8 seeds" in cells.caption
    live = panels.get(panels.Live, "two-layer-sweep")
    assert set(live.sliders) == {"init_scale", "bias", "activation"}
    assert live.figure is specialization.l_shape_grid and live.fixed["ms"] == (10,)


def test_init_scale_panel_and_numbers():
    """Other initial scales rerun one cell (cached); the sweep's own scale is the sweep."""
    r = _tiny()
    runs = r.init_scale_runs((0.005, 0.05), multi=5, p=1.0)
    assert runs[0.005] is r and runs[0.05].settings.ms == (5,)
    assert runs[0.05].settings.init_scale == 0.05
    covered = r.init_scale_covered((0.005, 0.05))
    assert covered[0.005] == pytest.approx(r.covered(5, 5, 1.0).mean())
    panel = lb.sweep_init_scale_explorer(r, (0.005, 0.05))
    assert panel.labels == [["0.005", "0.05"]] and panel.predict
    assert "m = 5, multi = 5, p = 1" in panel.caption


# ----------------------------------------------------------------------------- CLI, validation


def test_cli_json_and_estimate(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    args = ["run", "two-layer-sweep", "--scale", "tiny", "--seeds", "2", "--set", "steps=100"]
    assert cli.main([*args, "--set", "ps=0,2", "--set", "multis=1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [(c["multi"], c["p"]) for c in data["cells"]] == [(1, 0.0), (1, 2.0)]
    capsys.readouterr()
    assert cli.main(["run", "two-layer-sweep", "--scale", "paper", "--estimate"]) == 0
    text = capsys.readouterr().out
    assert (
        "estimated time" in text and "GiB" in text and "12 batched programs of 192 networks" in text
    )
    plan = lb.get_experiment("two-layer-sweep").plan(scale="paper")
    small = lb.get_experiment("two-layer-sweep").plan(scale="tiny")
    assert plan.seconds > 100 * small.seconds and plan.bytes > small.bytes


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ms": ()}, "ms=()"),
        ({"ms": (5, 5)}, "distinct"),
        ({"multis": (0,)}, "multis=0"),
        ({"ps": (-1.0,)}, "ps=-1.0"),
        ({"tau": 1.0}, "tau=1.0"),
        ({"early": 0.0}, "early=0.0"),
        ({"activation": "tanh"}, "activation='tanh'"),
        ({"n_snapshots": 10, "steps": 5}, "n_snapshots=10"),
    ],
)
def test_bad_settings(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        lb.get_experiment("two-layer-sweep").settings("tiny", **overrides)


def test_divergence_is_explained():
    with pytest.raises(lb.DivergenceError, match=r"lr=50.*sweep program m=5, multi=1"):
        lb.run("two-layer-sweep", scale="tiny", seeds=1, multis=(1,), lr=50.0, cache=False)


def test_live_panel_builds_without_running():
    pytest.importorskip("ipywidgets")
    from luckbook import widgets

    registered = lb.explorer("two-layer-sweep", scale="tiny", autorun=False)
    assert "press Run" in registered.children[1].children[1].value
    panel = widgets.explorer(
        "two-layer-sweep",
        {
            "init_scale": {
                "kind": "log",
                "min": -4,
                "max": 0,
                "step": 0.5,
                "description": "init_scale",
            }
        },
        specialization.l_shape_grid,
        scale="tiny",
        seeds=2,
        autorun=False,
        ms=(5,),
        multis=(1,),
        ps=(0.0,),
    )
    assert "Run" in repr(panel.children[1].children[0].description)


def test_cli_bad_input_one_line(capsys):
    assert cli.main(["run", "two-layer-sweep", "--scale", "tiny", "--set", "ms=5,x"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ms=" in err
