"""E2, lucky nodes converge faster: every registered claim and its frozen control at ``tiny``
scale, the rank statistics against a slow reference, the result's analysis, figures and
panels, CLI JSON and validation."""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error

import luckbook as lb
from luckbook import panels, static
from luckbook.claims import claims_of
from luckbook.experiments import lucky
from luckbook.plots import lucky as plots
from luckbook.results.lucky import LuckyResult

PNG = b"\x89PNG\r\n\x1a\n"


@functools.cache
def _lucky(seeds: tuple[int, ...] = (0, 1, 2)) -> LuckyResult:
    return lb.run("lucky", scale="tiny", seeds=list(seeds), cache=False)


# ----------------------------------------------------------------------------- claims


E2_IDS = list(LuckyResult.claim_levels())


def _synthetic(rate_of, n_seeds=40, n=20, seed=0):
    """Exact exponential convergence ``g(t) = g(0) e^{-r t}`` of ``n`` nodes per seed at 60
    geometric snapshots, initial correlations uniform in [0.3, 0.9]; ``rate_of(init, rng)``
    gives each node's rate. Returns ``(steps, corr [T, S, n])``."""
    from luckbook.train import snapshot_steps

    rng = np.random.default_rng(seed)
    steps = np.asarray(snapshot_steps(4000, 60, "log"), dtype=float)
    init = rng.uniform(0.3, 0.9, size=(n_seeds, n))
    rate = rate_of(init, rng)
    corr = 1.0 - (1.0 - init)[None] * np.exp(-rate[None] * steps[:, None, None])
    return steps, corr


def _stats(steps, corr, tau=0.95):
    """Per seed: the claim's rho(initial corr, halving time), and the descriptive
    rho(initial corr, log-gap rate) and rho(initial corr, time to tau)."""
    from luckbook.dynamics import gap_halving_times, log_gap_rates
    from luckbook.results.lucky import arrival_rhos, censored_last, halving_rhos, rate_rhos

    halving = censored_last(gap_halving_times(steps, corr), steps[-1])
    time, _ = lucky.first_reach(corr, steps, tau)
    return (
        halving_rhos(corr[0], halving, tau)[0],
        rate_rhos(corr[0], log_gap_rates(steps, corr), tau),
        arrival_rhos(corr[0], time, tau),
    )


def _mean(values):
    return lb.bootstrap(list(values), lambda v: float(np.nanmean(v)))


def test_statistic_is_zero_when_every_node_converges_at_one_rate():
    """The theorem false: every node converges at the same rate up to a 2 % jitter that does
    not depend on where it starts. The arrival statistic still says -1 (a node that starts
    closer needs less distance); the registered halving statistic (and the rate) say ~0, and
    the claim does not pass."""
    steps, corr = _synthetic(lambda init, rng: 2e-3 * (1 + 0.02 * rng.standard_normal(init.shape)))
    rho_halving, rho_rate, rho_arrival = _stats(steps, corr)
    assert np.nanmean(rho_arrival) < -0.95
    for rho in (rho_halving, rho_rate):
        stat = _mean(rho)
        assert abs(stat.value) < 0.1 and stat.ci_low < 0 < stat.ci_high
    claim = claims_of("lucky")[0]
    assert claim.verdict(_mean(rho_halving)) != "holds"


def test_statistic_sees_lucky_nodes_converging_faster():
    """The theorem true: the rate grows with the initial correlation (plus a 20 % jitter)."""
    steps, corr = _synthetic(
        lambda init, rng: 1e-3 * (1 + 3 * init) * np.exp(0.2 * rng.standard_normal(init.shape))
    )
    rho_halving, rho_rate, _ = _stats(steps, corr)
    assert _mean(rho_halving).ci_high < -0.3 and _mean(rho_rate).ci_low > 0.3
    claim = claims_of("lucky")[0]
    assert claim.verdict(_mean(rho_halving)) == "holds"


def test_statistic_is_defined_for_nodes_moving_away():
    """A student trained on another teacher loses correlation: rates are negative and
    defined; a gap that never halves is censored, ranked last. If some nodes do halve, the
    halving statistic is defined and can take either sign (the control could pass)."""
    steps, corr = _synthetic(lambda init, rng: -1e-4 * (1 + rng.uniform(size=init.shape)))
    rho_halving, rho_rate, _ = _stats(steps, corr)
    assert np.isfinite(rho_rate).all() and np.isnan(rho_halving).all()
    steps, corr = _synthetic(
        lambda init, rng: np.where(rng.uniform(size=init.shape) < 0.3, 1e-3, -1e-4)
    )
    rho_halving, _, _ = _stats(steps, corr)
    assert np.isfinite(rho_halving).all()


@functools.cache
def _dt() -> LuckyResult:
    return _lucky().control_result("different-teacher")


@pytest.mark.claim
def test_lucky_claims_and_controls_at_tiny_scale():
    """Every registered claim is computed at tiny scale with both controls; tiny is too small
    for a verdict (the chapter asserts them at book scale)."""
    result = _lucky()
    report = result.claims()
    assert report.ids == E2_IDS and E2_IDS
    for row in report.rows:
        assert {c.name for c in row.controls} == {"frozen", "different-teacher"}
        assert np.isfinite(row.stat.value)
    assert result.time.shape == result.reached.shape == result.rate.shape == (3, 3, 8)
    assert result.arrival.shape == result.halving.shape == (3, 3, 8)
    assert result.fanout.shape == (len(result.steps), 3, 3, 8)
    assert (result.time[~result.reached] == result.settings.steps).all()
    assert np.isnan(result.arrival[~result.reached]).all()


@pytest.mark.claim
def test_frozen_control_is_undefined():
    """A frozen student has rate 0 everywhere: every per-seed rho, and the statistic, is
    undefined (it cannot pass; the different-teacher control is the one that could)."""
    result = _lucky()
    frozen = result.claims(control="frozen")
    frozen.assert_fails()
    for row in frozen.rows:
        assert row.verdict == "undefined", frozen
    for v in result.init_stds:
        rhos, counts = result.seed_rhos(float(v), "frozen")
        assert np.isnan(rhos).all() and counts.shape == (3,)


@pytest.mark.claim
def test_different_teacher_control_is_defined_and_fails():
    """Trained on an independent teacher, the nodes drift away from the original one: the
    rates are defined (mostly negative) and no claim holds."""
    dt = _dt()
    assert dt.settings.control == "different-teacher"
    assert np.isfinite(dt.rate).all() and np.isnan(dt.halving).mean() > 0.5
    assert float(np.median(dt.corr[-1])) < float(np.median(_lucky().corr[-1]))
    report = _lucky().claims(control="different-teacher")
    report.assert_fails()
    assert np.isfinite(dt.rate_rhos(0.3)).all()  # defined: the nodes move, at their own rates


@pytest.mark.claim
def test_shuffled_labels_control_runs():
    """Trained on outputs permuted within each batch, the student drifts away from the teacher
    (a run control, not one of the registered claim's). Tiny is too small for its verdict: few
    gaps halve, the statistic is defined on one seed or none, and one seed's interval is a
    point (at book scale, seeds 5000-5007, it is +0.22 [0.13, 0.33]: does not hold)."""
    sl = _lucky().control_result("shuffled-labels")
    assert sl.settings.control == "shuffled-labels"
    assert float(np.median(sl.corr[-1])) < float(np.median(sl.corr[0]))
    assert np.isnan(sl.halving).mean() > 0.5
    report = _lucky().claims(control="shuffled-labels")
    assert report.control == "shuffled-labels" and report.ids == E2_IDS


def test_shuffled_teacher_permutes_within_each_batch():
    teacher = lucky.e1_teacher(4, 3, 5, [0, 1], bias=0.0, dtype="float64", device="cpu")
    shuffled = lucky.ShuffledTeacher(teacher.weights, seeds=(0, 1))
    x = torch.randn(2, 16, 4, dtype=torch.float64)
    y, ys = teacher(x), shuffled(x)
    assert not torch.allclose(y, ys)
    for s in range(2):  # the same outputs, in another order
        assert torch.allclose(y[s].sort(0).values, ys[s].sort(0).values)
    again = lucky.ShuffledTeacher(teacher.weights, seeds=(0, 1))(x)
    assert torch.equal(ys, again)  # reproducible per seed


def test_lucky_claim_leaves_out_nodes_that_start_at_tau():
    """Nodes at or above tau at step 0 are not ranked."""
    result = _lucky()
    k = result.level_index(0.1)
    rhos, counts = result.seed_rhos(0.1)
    assert counts.tolist() == (result.init_corr[k] < result.settings.tau).sum(1).tolist()
    assert np.isnan(rhos[counts < 3]).all()
    with pytest.raises(ValueError, match="init_std=0.7"):
        result.seed_rhos(0.7)


def test_rank_corr_undefined_cases():
    assert math.isnan(lucky.rank_corr([1, 2], [2, 1]))
    assert math.isnan(lucky.rank_corr([1, 2, 3], [5, 5, 5]))
    assert lucky.rank_corr([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    x = np.random.default_rng(1).normal(size=20)
    y = x + np.random.default_rng(2).normal(size=20)
    assert lucky.rank_corr(x, y) == pytest.approx(lucky.spearman(x, y, permutations=9).rho)


# ----------------------------------------------------------------------------- building blocks


def _slow_ranks(x):
    x = list(x)
    out = []
    for v in x:
        below = sum(1 for u in x if u < v)
        equal = sum(1 for u in x if u == v)
        out.append(below + (equal + 1) / 2)
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spearman_matches_slow_reference(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, size=40).astype(float)  # many ties
    y = -x + rng.normal(size=40)
    np.testing.assert_allclose(lucky.average_ranks(x), _slow_ranks(x))
    test = lucky.spearman(x, y, permutations=999, seed=3)
    ref = np.corrcoef(_slow_ranks(x), _slow_ranks(y))[0, 1]
    assert test.rho == pytest.approx(ref, abs=1e-12)
    # explicit permutation loop with the same generator draws
    r = test.rho
    assert test.p_permutation == lucky.spearman(x, y, permutations=999, seed=3).p_permutation
    assert 1 / 1000 <= test.p_permutation <= 1
    assert test.p_normal == pytest.approx(0.5 * math.erfc(-r * math.sqrt(39) / math.sqrt(2)))


def test_spearman_extremes_and_alternatives():
    x = np.arange(30.0)
    test = lucky.spearman(x, -(x**3), permutations=499)
    assert test.rho == pytest.approx(-1.0)
    assert test.p_permutation == pytest.approx(1 / 500)  # nothing beats a perfect ranking
    assert lucky.spearman(x, -x, permutations=499, alternative="greater").p_permutation == 1.0
    assert lucky.spearman(
        x, -x, permutations=499, alternative="two-sided"
    ).p_permutation == pytest.approx(1 / 500)
    independent = lucky.spearman(x, np.random.default_rng(0).permutation(30), permutations=999)
    assert independent.p_permutation > 0.05
    constant = lucky.spearman(x, np.ones(30))
    assert math.isnan(constant.rho) and constant.p_permutation == 1.0


def test_spearman_validation():
    with pytest.raises(ValueError, match="permutations=0"):
        lucky.spearman([1, 2, 3], [3, 2, 1], permutations=0)
    with pytest.raises(ValueError, match="alternative='less than'"):
        lucky.spearman([1, 2, 3], [3, 2, 1], alternative="less than")
    with pytest.raises(ValueError, match="pair up"):
        lucky.spearman([1, 2, 3], [3, 2])
    with pytest.raises(ValueError, match="n=2"):
        lucky.spearman([1, 2], [2, 1])


def test_first_reach_and_censoring():
    corr = np.array([[0.2, 0.96, 0.1], [0.5, 0.97, 0.2], [0.95, 0.9, 0.3]])  # [T=3, 3 nodes]
    time, reached = lucky.first_reach(corr, np.array([0, 10, 100]), 0.95)
    assert time.tolist() == [100, 0, 100]
    assert reached.tolist() == [True, True, False]


def test_levels_share_teacher_and_data_but_not_noise():
    result = _lucky()
    init = result.init_corr  # [L, S, n]
    assert (np.diff(init.mean(axis=(1, 2))) < 0).all()  # more noise, lower initial correlation
    assert lucky.level_seed(0, 0.1) != lucky.level_seed(0, 0.3) != lucky.level_seed(1, 0.1)


def test_figures_render_with_alt_text():
    r = _lucky()
    figures = [
        plots.luck_scatter(r),
        plots.luck_curves(r, seed=1),
        plots.luck_overview(r),
        plots.luck_frame(r, int(r.steps[10])),
        plots.luck_rates(r),
        plots.luck_gaps(r, 0.3),
    ]
    for fig in figures:
        assert fig._repr_png_().startswith(PNG)
        assert len(fig.alt) > 60
    assert "init_std 0.3: " in figures[0].alt and "mean over seeds" in figures[0].alt
    assert "rate" in figures[-1].alt
    with pytest.raises(ValueError, match="seed=9"):
        plots.luck_curves(r, seed=9)


# ----------------------------------------------------------------------------- result analysis


def test_result_analysis_helpers():
    """The analysis the chapter calls: seed means of rho, node subsets, the frozen pooled test."""
    r = _lucky()
    for v in r.init_stds:
        rhos, _ = r.seed_rhos(float(v))
        ok = rhos[np.isfinite(rhos)]
        want = ok.mean() if ok.size else math.nan
        assert r.seed_mean_rho(float(v)) == pytest.approx(want, nan_ok=True)
    k = r.level_index(1.0)
    same = r.match[0, k] == r.match[-1, k]
    rhos, counts = r.seed_rhos(1.0, among=same)
    for s in range(len(r.seeds)):
        sel = same[s] & (r.init_corr[k, s] < r.settings.tau)
        assert counts[s] == sel.sum()
        expected = lb.rank_corr(r.init_corr[k, s][sel], r.node_halving(1.0)[s][sel])
        assert rhos[s] == pytest.approx(expected, nan_ok=True)
    frozen = r.frozen_test(permutations=99)
    assert isinstance(frozen, lb.RankTest) and frozen.permutations == 99 and frozen.rho < 0
    final, shared = r.converged_nodes(0.1)
    assert final.shape == shared.shape == (3, 8) and not (shared & ~final).any()
    match = r.match[-1, r.level_index(0.1)]  # [S, n]
    for s in range(3):
        for j in np.flatnonzero(final[s]):
            twins = final[s] & (match[s] == match[s, j])
            assert shared[s, j] == (twins.sum() > 1)
    assert not r.noise_nodes.any()  # multi = 1: every node starts at a teacher node
    assert list(r.to_json())[:5] == ["experiment", "settings", "device", "wall_time_s", "steps"]
    assert r.made() in r.summary().splitlines()[1]


def test_flat_names():
    assert lb.LuckyResult is LuckyResult and lb.LuckySettings is lucky.LuckySettings
    assert lb.spearman is lucky.spearman and lb.rank_corr is lucky.rank_corr
    assert lb.first_reach is lucky.first_reach and lb.luck_frame is plots.luck_frame


def test_registered_panels_render_at_tiny_scale():
    """Every panel of the chapter opens by name, with a prediction prompt on the static ones."""
    r = _lucky()
    scrubber = lb.time_scrubber(r)
    assert scrubber.predict and len(scrubber.frames) >= len(r.steps) // 8
    tiny = {"steps": 100, "n_snapshots": 4, "permutations": 9, "init_stds": (0.1, 1.0)}
    grid = lb.static_explorer("lucky", scale="tiny", seeds=2, **tiny)
    assert len(grid.frames) == 4 and grid.predict
    for kind in (panels.Grid, panels.Frames):
        question, answer = panels.get(kind, "lucky").predict
        assert question.endswith("?") and len(answer) > 80
    pytest.importorskip("ipywidgets")
    live = lb.explorer("lucky", scale="tiny", seeds=1, autorun=False, **tiny)
    assert {s.description for s in live.children[0].children} == {"multi", "top_scale", "lr"}
    assert isinstance(static.time_scrubber(r, plots.luck_frame, every=20), static.StaticPanel)


# ----------------------------------------------------------------------------- CLI and validation

LUCKY_RUN = [
    "run",
    "lucky",
    "--scale",
    "tiny",
    "--set",
    "steps=200",
    "--set",
    "n_snapshots=5",
    "--set",
    "init_stds=0.1,0.5",
    "--set",
    "permutations=99",
    "--seeds",
    "2",
]


def test_cli_lucky_json_subprocess(tmp_path):
    out = tmp_path / "lucky.json"
    proc = subprocess.run(
        [sys.executable, "-m", "luckbook", *LUCKY_RUN, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["experiment"] == "lucky"
    assert data["settings"]["init_stds"] == [0.1, 0.5] and data["settings"]["steps"] == 200
    assert [lv["init_std"] for lv in data["levels"]] == [0.1, 0.5]
    assert -1 <= data["spearman"]["rho"] <= 1 and data["spearman"]["permutations"] == 99
    row = data["seeds"][0]
    assert len(row["init_corr"]) == 2 and len(row["init_corr"][0]) == 8
    assert all(t <= 200 for level in row["time_to_tau"] for t in level)


BAD = [
    (["run", "lucky", "--scale", "tiny", "--set", "init_stds=0.1,-1"], "init_stds=-1.0"),
    (["run", "lucky", "--scale", "tiny", "--set", "init_stds=0.1,0.1"], "init_stds=(0.1, 0.1)"),
    (["run", "lucky", "--scale", "tiny", "--set", "init_stds="], "init_stds=()"),
    (["run", "lucky", "--scale", "tiny", "--set", "tau=1"], "tau=1"),
    (["run", "lucky", "--scale", "tiny", "--set", "permutations=0"], "permutations=0"),
    (["run", "lucky", "--scale", "tiny", "--set", "multi=0"], "multi=0"),
    (["run", "lucky", "--scale", "tiny", "--set", "dynamics=gd"], "dynamics='gd'"),
    (["run", "lucky", "--scale", "tiny", "--set", "top_init=zero"], "top_init='zero'"),
    (["run", "lucky", "--scale", "tiny", "--set", "shape=1"], "shape"),
    (["run", "lucky", "--scale", "tiny", "--set", "control=other"], "shuffled-labels"),
    (["run", "lucky", "--scale", "tiny", "--set", "rate_floor=0"], "rate_floor=0"),
]


@pytest.mark.parametrize("args, text", BAD, ids=[" ".join(a[1:]) for a, _ in BAD])
def test_bad_input_names_the_parameter(capsys, args, text):
    assert_one_line_error(capsys, args, text)


def test_bad_input_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "luckbook", "run", "lucky", "--scale", "tiny", "--set", "tau=0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "tau=0" in proc.stderr


def test_validation_in_python_api():
    with pytest.raises(ValueError, match="init_stds=0.0"):
        lb.run("lucky", scale="tiny", init_stds=(0.0, 0.1), cache=False)
