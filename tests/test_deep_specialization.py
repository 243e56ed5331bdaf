"""E6 (SS) — specialization in deep networks: the registered claims at ``tiny`` scale and their
frozen control, β machinery, calibration, learning-rate schedule, Leaky ReLU, CLI, estimate,
divergence, validation.

``E6.unspecialized-decay`` is checked on the statistic (its value by hand) and on synthetic
fan-out series: series that do not decay fail it, series that shrink tenfold pass it.
``E6.sharpest-at-bottom`` holds at ``tiny`` scale (layer 1's ratio: 0.72–0.84).
"""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np
import pytest
import torch

import luckbook as lb
from luckbook import cli
from luckbook.experiments import deep_specialization as e6
from luckbook.gradients import beta_diagonal, jacobians
from luckbook.metrics import fanout_norms
from luckbook.plots import deep_specialization as plots
from luckbook.results import deep_specialization as r6
from luckbook.results.deep_specialization import DeepSpecializationResult


@functools.cache
def _tiny(activation: str = "relu") -> DeepSpecializationResult:
    return lb.run("deep-specialization", scale="tiny", activation=activation, cache=False)


# ----------------------------------------------------------------------------- the claims


@functools.cache
def _report(control: str | None = None) -> lb.ClaimReport:
    return _tiny().claims(control=control)


@pytest.mark.claim
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_l_shape_direction_sharpest_at_the_bottom(activation):
    """SS: unspecialized student nodes lose effective fan-out, most clearly in the lowest layer."""
    result = _tiny(activation)
    assert result.n_layers == 2
    low, high = result.l_shape(0), result.l_shape(1)
    assert low["n_high"] >= 10 and low["n_low"] >= 10, low  # both groups are populated
    assert low["ratio"] < 0.5, f"layer-0 ratio of medians {low['ratio']:.3f}"
    assert low["ratio"] < high["ratio"] - 0.2, (low["ratio"], high["ratio"])
    assert result.teacher_mean()[0, -1].mean() > 0.95  # the lowest layer is recovered


@pytest.mark.claim
def test_claim_decay_is_the_pooled_median_of_never_specialized_nodes():
    """``E6.unspecialized-decay``: the median, over every seed's layer-0 nodes that never
    exceed 0.95, of end/start effective fan-out, inside its interval."""
    result = _tiny()
    row = _report()["E6.unspecialized-decay"]
    never = (result.student_best[0] <= r6.HIGH).all(0)
    ratio = result.fanout[0][-1] / result.fanout[0][0]
    assert row.stat.value == pytest.approx(np.median(ratio[never]))
    assert row.stat.ci_low <= row.stat.value <= row.stat.ci_high and row.stat.n_seeds == 3
    q = result.decay_numbers(0)
    assert q["n"] == int(never.sum()) and 0 <= q["shrunk10"] <= 1


@pytest.mark.claim
def test_claim_decay_fails_on_series_that_do_not_decay():
    """The statistic is a decay, not a level: fan-out series that end at their start, or grow,
    fail it however small they are; the same nodes shrunk a hundredfold between the first and
    the last snapshot pass it."""
    result = _tiny()
    fan0 = result.fanout[0]
    never = result.never_specialized(0)

    def with_end(factor: float, start_scale: float = 1.0) -> DeepSpecializationResult:
        start = fan0[0] * start_scale
        series = np.broadcast_to(start, fan0.shape).copy()
        series[-1] = np.where(never, start * factor, fan0[-1])
        return dataclasses.replace(result, fanout=[series, *result.fanout[1:]])

    for flat in (with_end(1.0), with_end(1.0, start_scale=1e-3), with_end(2.0, 1e-3)):
        assert flat.claims()["E6.unspecialized-decay"].verdict == "does not hold"
    decayed = with_end(0.01).claims()["E6.unspecialized-decay"]
    assert decayed.verdict == "holds" and decayed.stat.value == pytest.approx(0.01)
    assert with_end(0.01).decay_numbers(0)["shrunk10"] == 1.0


@pytest.mark.claim
def test_claim_sharpest_at_bottom_tiny():
    row = _report()["E6.sharpest-at-bottom"]
    result = _tiny()
    gap = result.l_shape_ratio(0) - result.l_shape_ratio(1)
    assert row.stat.value == pytest.approx(gap)
    assert row.verdict == "holds", row
    assert row.control_fails is True


@pytest.mark.claim
def test_frozen_control_fails_every_claim():
    frozen = _report("frozen")
    frozen.assert_fails()
    verdicts = {r.claim.id: r.verdict for r in frozen.rows}
    assert verdicts["E6.sharpest-at-bottom"] == "undefined"  # no node > 0.95 at step 0
    assert verdicts["E6.unspecialized-decay"] == "does not hold"  # every node's ratio is 1
    assert frozen.control == "frozen" and set(frozen.ids) == {
        "E6.unspecialized-decay",
        "E6.sharpest-at-bottom",
    }
    with pytest.raises(ValueError, match="control='large'"):
        _tiny().claims(control="large")


def test_pooled_statistics_by_hand():
    """``pooled_ratio`` pools the listed seeds' nodes; ``bottom_gap`` skips undefined upper
    layers."""
    seed_a = (np.array([0.1, 0.99, 0.5]), np.array([1.0, 4.0, 3.0]))
    seed_b = (np.array([0.97, 0.2]), np.array([2.0, 0.5]))
    assert r6.pooled_ratio([seed_a, seed_b]) == pytest.approx(np.median([1, 3, 0.5]) / 3.0)
    assert np.isnan(r6.pooled_ratio([(np.array([0.1]), np.array([1.0]))]))
    empty = (np.array([0.1, 0.2]), np.array([1.0, 1.0]))  # no node > 0.95
    upper = (np.array([0.1, 0.99]), np.array([2.0, 4.0]))
    gap = r6.bottom_gap([[seed_a, empty, upper]])
    assert gap == pytest.approx(r6.pooled_ratio([seed_a]) - 0.5)
    assert np.isnan(r6.bottom_gap([[seed_a, empty]]))


def test_descriptive_statistics():
    result = _tiny()
    d = result.descriptive()
    assert [r.value for r in d["r"]] == pytest.approx([result.l_shape_ratio(l) for l in range(2)])
    assert d["early step"] >= 0.1 * result.steps[-1]
    assert d["r_0 early"].value == pytest.approx(result.l_shape_ratio(0, d["early step"]))
    assert d["specialized"] == pytest.approx(result.specialized_fraction()[:, -1].mean(-1))
    text = result.descriptive_text()
    assert "not claims" in text and "layer 1" in text


@pytest.mark.claim
def test_different_teacher_control_is_scored_against_the_original():
    """The different-teacher control trains on an independent teacher of the same kind (its
    own calibrated teacher) and scores against the original: the lowest layer is no longer
    recovered, and neither claim holds under it."""
    short = {"seeds": 2, "epochs": 8, "cache": False}
    own = lb.run("deep-specialization", scale="tiny", **short)
    other = lb.run("deep-specialization", scale="tiny", control="different-teacher", **short)
    assert own.teacher_mean()[0, -1].mean() > 0.9 > other.teacher_mean()[0, -1].mean()
    for row in other.claims().rows:
        assert row.verdict != "holds", row
    shuffled = lb.run("deep-specialization", scale="tiny", control="shuffled-labels", **short)
    assert shuffled.teacher_mean()[0, -1].mean() < 0.9


def test_geometric_snapshots():
    s = lb.get_experiment("deep-specialization").settings("tiny")
    s = dataclasses.replace(s, log_snapshots=6, snapshot_every=s.epochs)
    steps = e6.snapshot_schedule(s)
    assert steps == sorted({0, s.steps, *lb.snapshot_steps(s.steps, 6, "log")})
    assert steps[:3] == [0, 1, 3]


# ----------------------------------------------------------------------------- machinery


def _random_net(activation: str, gen: torch.Generator) -> lb.Net:
    widths = [5, 7, 6, 4, 3]
    ws = [
        torch.randn(2, a + 1, b, generator=gen, dtype=torch.float64)
        for a, b in zip(widths[:-1], widths[1:], strict=True)
    ]
    return lb.Net(ws, activation=activation, slope=0.1)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_mean_beta_chunks_and_top_layer_is_fanout(activation, gen, monkeypatch):
    net = _random_net(activation, gen)
    x = torch.randn(2, 37, 5, generator=gen, dtype=torch.float64)
    whole = beta_diagonal(net, x)
    monkeypatch.setattr(e6, "BETA_CHUNK", 3 * 8)  # a few samples per chunk
    chunked = e6.mean_beta(net, x)
    for a, b in zip(whole, chunked, strict=True):
        torch.testing.assert_close(a, b)
    # top hidden layer: V = W_topᵀ, so √E[β_kk] is the fan-out norm (bias row excluded)
    torch.testing.assert_close(chunked[-1].sqrt(), fanout_norms(net.weights[-1]))


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_beta_is_the_squared_output_jacobian_column(activation, gen):
    """E[β_kk] = E‖∂y/∂f_l[:, k]‖², checked against autograd; the Leaky ReLU's gate is its slope."""
    net = _random_net(activation, gen)
    x = torch.randn(1, 6, 5, generator=gen, dtype=torch.float64)
    sub = net.select([0])
    beta = beta_diagonal(sub, x)
    for l in range(net.depth - 1):
        total = torch.zeros(net.widths[l + 1], dtype=torch.float64)
        for i in range(x.shape[1]):
            fwd = sub.forward(x[:, i : i + 1])
            h = fwd.hidden[l].detach().requires_grad_(True)

            def top(h, l=l):
                a = lb.with_ones(h)
                for w in sub.weights[l + 1 : -1]:
                    z = torch.bmm(a, w)
                    a = lb.with_ones(
                        torch.where(
                            z > 0, z, z * (sub.slope if activation == "leaky_relu" else 0.0)
                        )
                    )
                return torch.bmm(a, sub.weights[-1]).reshape(-1)

            jac = torch.autograd.functional.jacobian(top, h).reshape(-1, net.widths[l + 1])
            total += jac.square().sum(0)
        torch.testing.assert_close(beta[l][0], total / x.shape[1])
    # the gates differ: ReLU and Leaky ReLU give different β below the top hidden layer
    other = lb.Net(
        net.weights, activation="relu" if activation == "leaky_relu" else "leaky_relu", slope=0.1
    )
    assert not torch.allclose(beta_diagonal(other.select([0]), x)[0], beta[0])
    assert len(jacobians(sub, sub.forward(x))) == net.depth - 1


def test_teacher_calibration_and_standardized_output():
    s = lb.get_experiment("deep-specialization").settings("tiny")
    x = lb.gaussian(s.n_eval, s.d, [0, 1], data_std=s.data_std, stream="eval_data")
    teacher = e6.build_teacher(s, [0, 1], x)
    fwd = teacher.forward(x)
    for z in fwd.pre:
        frac = (z > 0).double().mean(1)
        assert (frac - 0.5).abs().max() <= 1.5 / s.n_eval, frac
    y = fwd.out
    torch.testing.assert_close(y.mean(1), torch.zeros_like(y[:, 0]), atol=1e-9, rtol=0)
    torch.testing.assert_close(y.std(1), torch.ones_like(y[:, 0]), atol=1e-9, rtol=0)
    # the codes use the 9 released values, before the per-node normalisation
    assert s.choices == e6.CHOICES and len(s.choices) == 9


def test_result_shapes_schedule_and_lr():
    result = _tiny()
    s = result.settings
    steps = e6.snapshot_schedule(s)
    assert steps[0] == 0 and steps[-1] == s.steps == s.epochs * s.steps_per_epoch
    assert result.steps.tolist() == steps
    drop = s.lr_drop_epoch * s.steps_per_epoch
    assert [s.lr_at(t) for t in (0, drop - 1, drop, s.steps - 1)] == [0.2, 0.2, 0.1, 0.1]
    assert result.lr.tolist() == [0.2 if t < drop else 0.1 for t in steps]
    n_seeds, T = len(result.seeds), len(steps)
    for l, m in enumerate(s.hidden):
        n = s.multi * m
        for arr in (result.student_best[l], result.fanout[l], result.student_live[l]):
            assert arr.shape == (T, n_seeds, n)
        assert result.teacher_best[l].shape == (T, n_seeds, m)
        assert np.all((result.student_match[l] >= 0) & (result.student_match[l] < m))
        assert np.abs(result.teacher_active[l] - 0.5).max() < 0.01
    assert (
        np.isfinite(result.eval_loss).all()
        and result.eval_loss[-1].mean() < result.eval_loss[0].mean()
    )
    assert "layer 0" in result.numbers() and "deep-specialization" in result.summary()
    data = json.loads(json.dumps(result.to_json(), allow_nan=True))
    assert data["experiment"] == "deep-specialization" and len(data["l_shape"]) == 2


def test_l_shape_groups_by_hand():
    result = _tiny()
    best, fan = result.student_best[0][-1].ravel(), result.fanout[0][-1].ravel()
    q = result.l_shape(0)
    assert q["n_low"] == int((best < 0.6).sum()) and q["n_high"] == int((best > 0.95).sum())
    assert q["ratio"] == pytest.approx(np.median(fan[best < 0.6]) / np.median(fan[best > 0.95]))
    first = result.l_shape(0, 0)  # at initialisation no student node is specialized
    assert first["n_high"] == 0 and np.isnan(first["ratio"])
    with pytest.raises(ValueError, match="layer=5"):
        result.l_shape(5)
    one = result.seeds[:1]  # seeds= pools only those seeds
    b1, f1 = result.student_best[0][-1][0], result.fanout[0][-1][0]
    q1 = result.l_shape(0, seeds=one)
    assert q1["n"] == b1.size and q1["n_low"] == int((b1 < 0.6).sum())
    assert q1["median_low"] == pytest.approx(np.median(f1[b1 < 0.6]))
    assert result.l_shape(0, seeds=result.seeds) == q
    with pytest.raises(ValueError, match="seed=99"):
        result.l_shape(0, seeds=[99])


def test_same_seed_same_numbers():
    a = lb.run("deep-specialization", scale="tiny", seeds=[1], epochs=2, cache=False)
    b = lb.run("deep-specialization", scale="tiny", seeds=[3, 1], epochs=2, cache=False)
    np.testing.assert_allclose(a.fanout[0][:, 0], b.fanout[0][:, 1], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        a.student_best[1][:, 0], b.student_best[1][:, 1], rtol=1e-4, atol=1e-6
    )


def test_figures_state_numbers():
    result = _tiny()
    q = result.l_shape(0)
    fig = plots.l_shape_panels(result)
    assert f"{q['ratio']:.3f}" in fig.alt and "layer 1" in fig.alt
    assert len(fig.axes) == 2
    assert "ratio" in plots.specialization_curves(result).alt
    frame = plots.l_shape_frame(result, int(result.steps[1]))
    assert f"epoch {result.epochs[1]:.3g}" in frame.alt


def test_l_shape_is_the_shared_metric():
    """``result.l_shape`` pools the seeds' nodes through ``luckbook.metrics.l_shape_medians``."""
    result = _tiny()
    q = result.l_shape(1)
    best, fan = result.student_best[1][-1], result.fanout[1][-1]
    assert (q["median_low"], q["median_high"], q["n_low"], q["n_high"]) == lb.l_shape_medians(
        best, fan, r6.LOW, r6.HIGH
    )
    assert q["ratio"] == lb.l_shape_ratio(best, fan)
    assert result.l_shape_ratios(0)[-1] == result.l_shape_ratio(0)
    assert np.isnan(result.l_shape_ratios(0)[0])  # nothing specialized at step 0


def test_chapter_numbers():
    result = _tiny()
    numbers = result.chapter_numbers()
    d = result.descriptive()
    assert numbers["E6.desc.r1"] == d["r"][1].value
    assert numbers["E6.desc.r0.interval"].startswith("[")
    assert numbers["E6.desc.early_step"] == d["early step"]
    path = result.l_shape_ratios(0)
    assert numbers["E6.desc.r0_min"] == np.nanmin(path)
    assert numbers["E6.desc.steps"] == int(result.steps[-1])
    result.glue()  # outside a notebook: nothing to glue into, and no error


def test_registered_panels_render_at_tiny_scale():
    """The chapter's scrubber and grid (with prediction prompts) and the grid's numbers."""
    result = _tiny()
    scrub = lb.time_scrubber(result)
    assert scrub.kind == "time" and scrub.predict
    assert scrub.labels[0][-1] == str(int(result.steps[-1]))
    short = {"seeds": 1, "epochs": 1, "n_train": 1000}
    grid = lb.static_explorer("deep-specialization", scale="tiny", **short)
    assert grid.names == ["activation", "multi"] and len(grid.frames) == 4 and grid.predict
    assert all("layer 0" in f["text"] for f in grid.frames.values())
    numbers = lb.deep_specialization_grid_numbers("tiny", **short)
    fixed = {"n_train": 1000, "epochs": 1, "lr_drop_epoch": 4, "snapshot_every": 20}
    again = lb.run(
        "deep-specialization", scale="tiny", seeds=1, activation="leaky_relu", multi=2, **fixed
    )
    assert len(again.steps) == 2  # the grid evaluates the start and the end only
    assert numbers["E6.grid.r0.leaky_relu.2"] == pytest.approx(again.l_shape_ratio(0), nan_ok=True)
    assert numbers["E6.grid.recovered_min"] <= numbers["E6.grid.recovered_max"]


def test_live_panel_runs():
    pytest.importorskip("ipywidgets")
    panel = lb.explorer("deep-specialization", scale="tiny", seeds=1, epochs=1, n_train=1000)
    sliders = {s.description for s in panel.children[0].children}
    assert sliders == {"activation", "multi", "depth", "data_std", "lr", "init_scale"}
    assert panel.children[1].children[1].value.startswith("done")


# ----------------------------------------------------------------------------- CLI, validation

RUN = ["run", "deep-specialization", "--scale", "tiny", "--seeds", "1", "--set", "epochs=2"]


def test_cli_json(tmp_path, capsys):
    out = tmp_path / "out.json"
    assert cli.main([*RUN, "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["experiment"] == "deep-specialization" and data["scale"] == "tiny"
    assert len(data["seeds"]) == 1 and data["settings"]["epochs"] == 2
    assert "estimated time" not in capsys.readouterr().err  # short runs are not announced


def test_cli_estimate_paper(capsys):
    assert cli.main(["run", "deep-specialization", "--scale", "paper", "--estimate"]) == 0
    text = capsys.readouterr().out
    assert "estimated time" in text and "timed now" in text and "TFLOP" in text
    est = lb.get_experiment("deep-specialization").plan(scale="paper")
    assert est.seconds > 600 and est.bytes > 2**28  # hours of CPU and ~GiB of data


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--set", "activation=tanh"], "activation='tanh' is not allowed"),
        (["--set", "n_beta=100000"], "n_beta=100000 is not allowed"),
        (["--set", "lr_after=0"], "lr_after=0.0 is not allowed"),
        (["--set", "depth=4"], "depth=4 is not allowed"),
        (["--set", "standardize_output=maybe"], "standardize_output='maybe' is not allowed"),
        (["--set", "choices=0,0"], "choices=(0.0, 0.0) is not allowed"),
        (["--set", "control=other"], "control='other' is not allowed"),
        (["--set", "log_snapshots=-1"], "log_snapshots=-1 is not allowed"),
    ],
)
def test_bad_input(capsys, args, text):
    assert cli.main([*RUN, *args]) == 2
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1


def test_divergence(capsys):
    assert cli.main([*RUN, "--set", "lr=1000", "--no-cache"]) == 3
    assert "diverged" in capsys.readouterr().err
    with pytest.raises(lb.DivergenceError, match="lr=1000"):
        lb.run("deep-specialization", scale="tiny", seeds=1, epochs=1, lr=1000, cache=False)


def test_l_shape_can_leave_dead_nodes_out():
    result = _tiny()
    layer = 1  # the top hidden layer of the tiny run has dead ReLU nodes
    live = result.student_live[layer][-1].ravel()
    best, fan = result.student_best[layer][-1].ravel(), result.fanout[layer][-1].ravel()
    all_nodes, live_only = result.l_shape(layer), result.l_shape(layer, include_dead=False)
    assert all_nodes["n_dead"] == int((~live).sum()) > 0
    assert live_only["n_dead"] == 0 and live_only["n_low"] == int(((best < 0.6) & live).sum())
    assert np.all(best[~live] == 0.0)  # correlation 0 by convention
    assert live_only["median_low"] == pytest.approx(np.median(fan[(best < 0.6) & live]))
    assert not (~_tiny("leaky_relu").student_live[layer][-1]).any()  # Leaky ReLU: no dead nodes
