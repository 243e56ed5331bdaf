"""E9 (early directional convergence under small initialisation): the engine against autograd,
the KKT search, the time-rescaled integrator, claims at ``tiny`` scale, CLI and validation."""

from __future__ import annotations

import functools
import itertools
import json
import math

import numpy as np
import pytest
import torch

import luckbook as lb
from luckbook import cli, static
from luckbook.correlation_function import dedupe, kkt_directions, ncf, ncf_grad, projected_ascent
from luckbook.experiments.directional import phase_lengths
from luckbook.homogeneous_net import (
    backward,
    first_crossing,
    flow,
    forward,
    homogeneity,
    init_weights,
    sigma,
    sigma_grad,
    square_loss_sum,
    teacher_targets,
    widths_for,
)
from luckbook.plots import directional as plots
from luckbook.results.directional import DirectionalResult

CASES = [(2, "relu"), (3, "relu"), (3, "leaky_relu"), (2, "relu2"), (3, "relu2")]


def _problem(depth: int, seeds=(0, 1), delta: float = 0.5, width: int = 7, n: int = 13, d: int = 5):
    x = lb.unit_sphere(n, d, list(seeds))
    y = teacher_targets(x, list(seeds), 2)
    w = init_weights(widths_for(d, width, depth), list(seeds), delta)
    return x, y, w


@functools.cache
def _run(delta: float = 1e-4, depth: int = 2) -> DirectionalResult:
    return lb.run("directional", scale="tiny", delta=delta, depth=depth)


# ----------------------------------------------------------------------------- engine


@pytest.mark.parametrize("depth, activation", CASES)
def test_backward_matches_autograd(depth, activation):
    x, y, w = _problem(depth)
    out, pres = forward(w, x, activation, 0.1)
    grads = backward(w, x, pres, out - y, activation, 0.1)
    leaves = [wl.clone().requires_grad_(True) for wl in w]
    square_loss_sum(forward(leaves, x, activation, 0.1)[0], y).sum().backward()
    for g, leaf in zip(grads, leaves, strict=True):
        torch.testing.assert_close(g, leaf.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("depth, activation", CASES)
def test_network_is_homogeneous_of_the_stated_degree(depth, activation):
    x, _, w = _problem(depth)
    k = homogeneity(depth, activation)
    assert (
        k
        == {("relu", 2): 2, ("relu", 3): 3, ("leaky_relu", 3): 3, ("relu2", 2): 3, ("relu2", 3): 7}[
            (activation, depth)
        ]
    )
    h1 = forward(w, x, activation)[0]
    h2 = forward([2.5 * wl for wl in w], x, activation)[0]
    torch.testing.assert_close(h2, 2.5**k * h1, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("depth, activation", CASES)
def test_ncf_gradient_matches_autograd(depth, activation):
    x, y, w = _problem(depth)
    value, grads = ncf_grad(w, x, y, activation)
    leaves = [wl.clone().requires_grad_(True) for wl in w]
    total = ncf(leaves, x, y, activation)
    total.sum().backward()
    torch.testing.assert_close(value, total.detach())
    torch.testing.assert_close(value, (y * forward(w, x, activation)[0]).sum(-1))
    for g, leaf in zip(grads, leaves, strict=True):
        torch.testing.assert_close(g, leaf.grad, rtol=1e-10, atol=1e-12)


def test_fixed_step_flow_is_plain_gradient_descent():
    x, y, w = _problem(2, delta=0.3)
    ref = [wl.clone().requires_grad_(True) for wl in w]
    rec = flow(w, x, y, seeds=[0, 1], lr=0.01, steps=5)
    for _ in range(5):
        loss = square_loss_sum(forward(ref, x)[0], y).sum()
        grads = torch.autograd.grad(loss, ref)
        with torch.no_grad():
            for r, g in zip(ref, grads, strict=True):
                r -= 0.01 * g
    for a, b in zip(w, ref, strict=True):
        torch.testing.assert_close(a, b.detach())
    np.testing.assert_allclose(rec.time[-1].numpy(), 0.05)
    assert rec.steps == [0, 1, 2, 3, 4, 5]


def test_time_rescaled_steps_follow_the_same_flow():
    """Depth 3 from δ = 1e-2: plain GD (≈ 500 steps) and rescaled steps agree on the flow time
    at which the norm doubles and the loss falls by 1 %."""
    x = lb.unit_sphere(100, 10, [0])
    y = teacher_targets(x, [0], 2)
    times = {}
    for ref in (None, 1.0):
        w = init_weights(widths_for(10, 20, 3), [0], 1e-2)
        n0 = torch.sqrt(sum(wl.square().sum() for wl in w))
        l0 = square_loss_sum(forward(w, x)[0], y)
        rec = flow(
            w,
            x,
            y,
            seeds=[0],
            lr=5e-3,
            steps=5000,
            stretch_ref=ref,
            stop=lambda t, n, loss, l0=l0: bool((loss <= 0.9 * l0).all()),
        )
        t = torch.stack(rec.time)
        times[ref] = (
            float(first_crossing(t, torch.stack(rec.norm) / n0, 2.0)[0]),
            float(first_crossing(t, -torch.stack(rec.loss) / l0, -0.99)[0]),
            rec.steps[-1],
        )
    plain, fast = times[None], times[1.0]
    assert fast[2] < plain[2] / 3, times
    assert fast[0] == pytest.approx(plain[0], rel=0.02), times
    assert fast[1] == pytest.approx(plain[1], rel=0.02), times


def test_first_crossing_interpolates():
    t = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], dtype=torch.float64)
    v = torch.tensor([[1.0, 1.0], [1.5, 1.2], [2.5, 1.4]], dtype=torch.float64)
    out = first_crossing(t, v, 2.0)
    assert out[0].item() == pytest.approx(1.5)
    assert math.isnan(out[1].item())


def test_dedupe_matches_a_slow_reference(gen):
    base = torch.nn.functional.normalize(
        torch.randn(4, 6, generator=gen, dtype=torch.float64), dim=1
    )
    noisy = torch.nn.functional.normalize(
        base.repeat(3, 1) + 1e-5 * torch.randn(12, 6, generator=gen, dtype=torch.float64), dim=1
    )
    values = torch.randn(12, generator=gen, dtype=torch.float64)
    uniq, vals = dedupe(noisy, values, tol=1e-3)
    kept = []
    for i in sorted(range(12), key=lambda i: -float(values[i])):
        if all(float(noisy[i] @ noisy[k]) <= 1 - 1e-3 for k in kept):
            kept.append(i)
    assert len(uniq) == len(kept) == 4
    torch.testing.assert_close(vals, values[kept])


@pytest.mark.parametrize("depth", [2, 3])
def test_kkt_points_satisfy_the_kkt_condition(depth):
    """Projected ascent ends at ∇N(u) = λu on the sphere (per neuron block for depth 2)."""
    x, y, w = _problem(depth, seeds=(0,), width=6, n=40, d=4)
    starts = [wl.unsqueeze(0).expand(1, 5, *wl.shape[1:]).clone() for wl in w]
    g = torch.Generator().manual_seed(0)
    for s in starts:
        s[:, 1:] = torch.randn(s[:, 1:].shape, generator=g, dtype=torch.float64)
    (kkt,) = kkt_directions(starts, x, y, lr=0.2, steps=600)
    assert kkt.residual < 1e-3
    assert len(kkt.directions) >= 1
    torch.testing.assert_close(
        kkt.directions.norm(dim=1), torch.ones(len(kkt.directions), dtype=torch.float64)
    )
    asc = projected_ascent(w, x, y, lr=0.2, steps=600, per_neuron=depth == 2)
    assert (asc.value.max() <= kkt.max_value + 1e-9).all()


# ----------------------------------------------------------------------------- claims


E9_IDS = [
    "E9.loss-flat",
    "E9.direction-first",
    "E9.low-rank",
    "E9.norm-scale",
    "E9.time-L2",
    "E9.time-L3",
]


@functools.cache
def _report(control: str | None = None):
    return _run(1e-4).claims(control=control)


@pytest.mark.claim
@pytest.mark.parametrize("claim_id", E9_IDS)
def test_registered_claim_holds_at_tiny_scale(claim_id):
    """Every E9 claim holds on the 3 tiny seeds (δ = 1e-4, depth 2; the δ sweep at depths 2
    and 3 for the δ-dependence) and the large initialisation beside it fails it."""
    _report().assert_holds([claim_id])


@pytest.mark.claim
@pytest.mark.parametrize("claim_id", E9_IDS)
def test_large_initialisation_fails_the_claim(claim_id):
    """δ = 0.1: the loss moves before the norm doubles, the directions have not settled, the
    rank has not fallen, and the time-scale laws do not describe δ ∈ {0.1, 0.01}."""
    row = _report("large-init")[claim_id]
    assert row.verdict in ("does not hold", "undefined"), row
    assert _report()[claim_id].control_fails is True


def test_descriptive_numbers_behind_the_claims():
    """The cosine starts far from 1 (the alignment is learned); at the norm doubling it is not
    yet 0.99 (why E9.direction-first is measured at the end of the loss plateau); doubling the
    norm takes a δ-independent time at depth 2 and the loss change at alignment scales like δ²."""
    a, b = _run(1e-4).seed_numbers(), _run(1e-5).seed_numbers()
    assert (_run(1e-4).growing_cos()[0] < 0.7).all()
    assert (a["cos_2x"] < 0.99).all(), a["cos_2x"]
    np.testing.assert_allclose(a["t_double"], b["t_double"], rtol=0.05)
    np.testing.assert_allclose(
        b["loss_change_at_cos99"] / a["loss_change_at_cos99"], 1e-2, rtol=0.2
    )


def test_phase_lengths_fit_and_monotone():
    shallow = phase_lengths([1e-2, 1e-3, 1e-4], scale="tiny", depth=2)
    assert shallow.monotone(), shallow.describe()
    assert shallow.slope_error().n_seeds == 3


# ----------------------------------------------------------------------------- result, figures, CLI


def test_same_seed_same_numbers():
    a = lb.run("directional", scale="tiny", seeds=[1], cache=False)
    b = lb.run("directional", scale="tiny", seeds=[1], cache=False)
    np.testing.assert_array_equal(a.norm_ratio, b.norm_ratio)
    np.testing.assert_array_equal(a.neuron_cos, b.neuron_cos)


def test_figures_have_alt_text_with_numbers():
    r = _run(1e-4)
    figures = (
        lb.directional_overview(r),
        lb.directional_frame(r, int(r.steps[10])),
        lb.directional_panel(r),
    )
    for fig in figures:
        assert any(ch.isdigit() for ch in fig.alt), fig.alt
        assert fig.png_bytes().startswith(b"\x89PNG")
    panel = static.time_scrubber(
        r, plots.directional_frame, lambda res, step: res.numbers(step), every=40
    )
    assert panel.kind == "time" and len(panel.frames) >= 2


def test_registered_time_scrubber_has_a_prediction_prompt():
    r = _run(1e-4)
    panel = lb.time_scrubber(r)  # the registered Frames panel: every 8th record
    assert panel.kind == "time" and panel.predict is not None
    every = [int(t) for t in r.steps[::8]]
    assert len(panel.frames) == len(every) + (every[-1] != int(r.steps[-1]))
    assert "Predict first" in panel._repr_html_()


@pytest.mark.parametrize("scale", ["tiny", "book", "paper"])
def test_registered_grid_is_valid_at_every_scale(scale):
    """Every point of the chapter's static grid is a valid setting at every scale; its figure
    draws a tiny run; it has a prediction prompt."""
    from luckbook import panels

    spec = panels.get(panels.Grid, "directional")
    exp = lb.get_experiment("directional")
    for point in itertools.product(*spec.values.values()):
        exp.settings(scale, **spec.fixed, **dict(zip(spec.values, point, strict=True)))
    question, answer = spec.predict
    assert question.endswith("?") and len(answer) > 80
    assert spec.figure(_run(1e-4)).png_bytes().startswith(b"\x89PNG")


def test_live_panel_waits_for_run():
    pytest.importorskip("ipywidgets")
    from luckbook import panels

    panel = lb.explorer("directional", scale="tiny", autorun=False)
    controls, buttons, out = panel.children
    assert len(controls.children) == len(panels.get(panels.Live, "directional").sliders)
    assert "press Run" in buttons.children[1].value and len(out.outputs) == 0


def test_chapter_tables_and_glue():
    r = _run(1e-4)
    assert len(r.plateau_table().splitlines()) == len(r.seeds)
    rates = r.growth_rates()
    assert rates.shape == (len(r.seeds),) and np.isfinite(rates).all()
    np.testing.assert_allclose(rates, 2 * r.n_star, rtol=0.1)
    assert "2 N* =" in r.growth_rate_table()
    at = r.at_doubling()
    assert 0 < at["cos"] < 0.99 and set(at) == {"cos", "rank_drop"}
    r.glue()  # outside a book build: nothing visible, no error


def test_positively_homogeneous_activation_and_its_derivative():
    z = torch.linspace(-2, 2, 8, dtype=torch.float64)  # off the kink at 0
    torch.testing.assert_close(sigma(z, "relu"), z.clamp_min(0))
    torch.testing.assert_close(sigma(z, "relu2"), z.clamp_min(0).square())
    torch.testing.assert_close(sigma(z, "leaky_relu", 0.1), torch.where(z > 0, z, 0.1 * z))
    for act in ("relu", "relu2", "leaky_relu"):
        leaf = z.clone().requires_grad_(True)
        sigma(leaf, act, 0.1).sum().backward()
        torch.testing.assert_close(sigma_grad(z, act, 0.1), leaf.grad)


@pytest.mark.parametrize(
    "override, text",
    [
        ({"delta": 0.0}, "delta=0.0"),
        ({"delta": -1e-3}, "delta=-0.001"),
        ({"depth": 1}, "depth=1"),
        ({"activation": "tanh"}, "activation='tanh'"),
        ({"width": 0}, "width=0"),
        ({"lr": 0.0}, "lr=0.0"),
    ],
)
def test_bad_settings_are_rejected(override, text):
    with pytest.raises(ValueError, match="not allowed") as err:
        lb.get_experiment("directional").settings("tiny", **override)
    assert text in str(err.value)


def test_divergence_is_caught():
    with pytest.raises(lb.DivergenceError, match="diverged"):
        lb.run("directional", scale="tiny", seeds=[0], delta=0.1, lr=0.9, cache=False)


def test_cli_json_estimate_and_bad_input(tmp_path, capsys):
    out = tmp_path / "out.json"
    assert (
        cli.main(
            [
                "run",
                "directional",
                "--scale",
                "tiny",
                "--seeds",
                "1",
                "--set",
                "delta=1e-3",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    data = json.loads(out.read_text())
    assert data["experiment"] == "directional" and data["settings"]["delta"] == 1e-3
    assert len(data["seeds"]) == 1 and data["seeds"][0]["t_escape"] > 0
    capsys.readouterr()
    assert cli.main(["run", "directional", "--scale", "paper", "--estimate"]) == 0
    assert "estimated time" in capsys.readouterr().out
    for bad in (["--set", "delta=0"], ["--set", "depth=1"], ["--set", "delta=-1"]):
        assert cli.main(["run", "directional", "--scale", "tiny", *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "not allowed" in err[0]


@pytest.mark.claim
def test_different_teacher_control_scores_the_same_neurons_against_other_kkt_directions():
    """E9.direction-first's different-teacher control: the same neurons at the same record,
    scored against the KKT directions of an independent teacher's correlation function. It
    fails at tiny scale, and it could pass: where those directions were the run's own, it
    would equal the claim's value."""
    import copy

    r = _run(1e-4)
    own = r.claim_stats()["E9.direction-first"]
    other = r.claim_stats("different-teacher")
    assert other["E9.direction-first"].value < own.value
    assert not other["E9.low-rank"].defined
    same = copy.copy(r)
    same.neuron_cos_alt = r.neuron_cos
    assert same.claim_stats("different-teacher")["E9.direction-first"].value == own.value
