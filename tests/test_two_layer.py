"""E4, the two-layer setting (``two-layer``): the result's analysis (coverage, L-shape, text,
JSON, networks), its figures' numbers and arguments, and its registered panels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import luckbook as lb
from luckbook import panels
from luckbook.plots import two_layer as plots
from luckbook.results.two_layer import TwoLayerResult, released_loss


@pytest.fixture(scope="module")
def result(small_two_layer):
    return small_two_layer


# ----------------------------------------------------------------------------- the result


def test_result_lives_in_results_and_is_the_experiments(result):
    assert isinstance(result, TwoLayerResult) and lb.TwoLayerResult is TwoLayerResult
    assert lb.get_experiment("two-layer").result_cls is TwoLayerResult
    assert type(result.settings) is lb.TwoLayerSettings


def test_shapes_coverage_and_l_shape(result):
    s = result.settings
    t, n_seeds = len(result.steps), len(result.seeds)
    assert result.teacher_best.shape == (t, n_seeds, s.m)
    assert result.student_best.shape == result.fanout.shape == (t, n_seeds, s.n)
    assert result.corr.shape == result.observability.shape == (n_seeds, s.m, s.n)
    for tau in s.taus:
        np.testing.assert_array_equal(
            result.final_covered(tau), (result.teacher_best[-1] > tau).sum(-1)
        )
    np.testing.assert_array_equal(
        result.final_covered(0.42), (result.teacher_best[-1] > 0.42).sum(-1)
    )
    with pytest.raises(ValueError, match="tau=1.0"):
        result.final_covered(1.0)
    corr, fan = result.l_shape()
    np.testing.assert_array_equal(corr, result.student_best_train[-1])
    np.testing.assert_array_equal(fan, result.fanout[-1])
    np.testing.assert_array_equal(result.l_shape(final=False)[0], result.student_best_train[0])


def test_text_json_and_released_loss(result):
    s = result.settings
    assert f"{len(result.seeds)} seeds on {result.device}" in result.summary()
    assert "as released" in result.summary()
    text = result.numbers(int(result.steps[1]))
    assert text.startswith(f"step {int(result.steps[1])}: teachers covered at 0.95")
    with pytest.raises(ValueError, match="step=7"):
        result.numbers(7)
    data = json.loads(json.dumps(result.to_json()))
    assert list(data)[:5] == ["experiment", "settings", "device", "wall_time_s", "steps"]
    assert data["experiment"] == "two-layer" and data["settings"]["m"] == s.m
    assert [row["seed"] for row in data["seeds"]] == result.seeds
    assert data["seeds"][0]["eval_loss"] == pytest.approx(float(result.eval_loss[-1, 0]))
    assert released_loss(2.0, 4) == pytest.approx(1.0)


def test_networks_rebuild_the_final_student(result):
    teacher, student = result.networks()
    x = lb.gaussian(500, result.settings.d, result.seeds, data_std=result.settings.data_std)
    loss = lb.square_loss(teacher(x), student(x))
    # a fresh sample of the eval distribution: close to the stored eval loss
    np.testing.assert_allclose(loss.numpy(), result.eval_loss[-1], rtol=0.5)
    assert student.widths == [result.settings.d, result.settings.n, result.settings.c]


# ----------------------------------------------------------------------------- figures


def test_alt_text_states_measured_numbers(result):
    fig = plots.fanout_vs_correlation(result, tau=0.95)
    n_special = int((result.student_best_train[-1] >= 0.95).sum())
    assert f"{n_special} nodes reach correlation 0.95" in fig.alt


def test_plot_arguments_are_validated(result):
    with pytest.raises(ValueError, match="seed=99"):
        plots.correlation_heatmap(result, seed=99)
    with pytest.raises(ValueError, match="step=7"):
        plots.fanout_vs_correlation(result, step=7)


def test_heatmap_orders_students_by_matched_teacher():
    corr = np.array([[0.1, 0.9, 0.2], [0.8, 0.0, 0.95]])
    order = plots.student_order(corr)
    assert order.tolist() == [1, 2, 0]


# ----------------------------------------------------------------------------- panels


def test_registered_panels_have_predictions_and_render(result):
    assert panels.get(panels.Grid, "two-layer").predict
    frames = panels.get(panels.Frames, "two-layer")
    assert frames.predict
    panel = lb.time_scrubber(result)
    assert panel.kind == "time" and panel.predict == frames.predict
    shown = [int(step) for step in result.steps[:: frames.every]]
    shown += [] if shown[-1] == int(result.steps[-1]) else [int(result.steps[-1])]
    assert panel.labels == [[str(step) for step in shown]]
    live = panels.get(panels.Live, "two-layer")
    assert set(live.sliders) <= set(lb.TwoLayerSettings.__dataclass_fields__)


# ----------------------------------------------------------------------------- time and claims


def test_arrivals_are_first_snapshots_at_tau(result):
    arr = result.arrivals()
    assert arr.shape == (len(result.seeds), result.settings.m)
    for s in range(len(result.seeds)):
        for i in range(result.settings.m):
            hit = np.flatnonzero(result.teacher_best[:, s, i] >= 0.95)
            assert (np.isnan(arr[s, i]) and not hit.size) or arr[s, i] == result.steps[hit[0]]


def test_control_targets():
    """different-teacher: the targets of an independent teacher (the probes keep the original);
    shuffled-labels: the original targets permuted within each seed's training set."""
    from luckbook.experiments.two_layer import build, make_inputs

    settings = lb.get_experiment("two-layer").settings("tiny")
    seeds = [3, 4]
    _, _, plain, probe, _ = build(settings, seeds, torch.device("cpu"))
    import dataclasses

    for control in ("different-teacher", "shuffled-labels"):
        changed = dataclasses.replace(settings, control=control)
        teacher, _, data, probe_c, _ = build(changed, seeds, torch.device("cpu"))
        torch.testing.assert_close(probe_c.t.pre[0], probe.t.pre[0])  # scored on the original
        assert not torch.allclose(data.y, plain.y)
        if control == "shuffled-labels":
            for s in range(len(seeds)):
                a = plain.y[s].sum(1).sort().values
                torch.testing.assert_close(data.y[s].sum(1).sort().values, a)
    x_train, _ = make_inputs(settings, seeds)
    assert x_train.shape[1] == settings.n_train
    with pytest.raises(ValueError, match="control='other'"):
        lb.run("two-layer", scale="tiny", seeds=1, control="other")


@pytest.mark.claim
def test_setting_claim_and_its_controls():
    """At tiny scale (development seeds 0-3) every teacher is covered; shuffled labels and a
    different teacher cover none, so both run controls fail the claim. The scrubber shows at
    least five snapshots while teacher nodes arrive."""
    r = lb.run("two-layer", scale="tiny", seeds=[0, 1, 2, 3], spacing="log", n_snapshots=40)
    report = r.claims()
    row = report["E4.setting-covers-all"]
    assert row.verdict == "holds", row.stat
    assert row.control_names == ["shuffled-labels", "different-teacher", "frozen"]
    assert row.control_fails is True, row.controls
    for name in ("shuffled-labels", "different-teacher"):
        assert r.control_result(name).settings.n_eval == 2_000
    assert panels.get(panels.Frames, "two-layer").every == 1
    first, last, inside = r.covering_window()
    assert first < last and inside >= 5, (first, last, inside)


def test_background_evaluation_gives_the_inline_results(monkeypatch):
    """``compute`` evaluates snapshots on a worker thread; evaluating them in line on the
    training thread (as before) gives every array bit for bit."""
    import dataclasses

    from luckbook.experiments import two_layer

    settings = lb.get_experiment("two-layer").settings("tiny", steps=300, n_snapshots=3)
    seeds = [0, 1, 2]
    worker = two_layer.SnapshotWorker
    monkeypatch.setattr(
        two_layer, "SnapshotWorker", lambda *a, **k: worker(*a, **k, background=True)
    )
    background = two_layer.compute(settings, seeds, torch.device("cpu"))
    monkeypatch.setattr(
        two_layer, "SnapshotWorker", lambda *a, **k: worker(*a, **k, background=False)
    )
    inline = two_layer.compute(settings, seeds, torch.device("cpu"))
    for field in dataclasses.fields(TwoLayerResult):
        a, b = getattr(background, field.name), getattr(inline, field.name)
        if field.name == "wall_time_s":
            continue
        if isinstance(a, dict):
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        elif isinstance(a, list) and a and isinstance(a[0], np.ndarray):
            assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        elif isinstance(a, np.ndarray):
            assert np.array_equal(a, b), field.name
        else:
            assert a == b, field.name
