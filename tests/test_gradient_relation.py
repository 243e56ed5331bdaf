"""E0 (LM, Lemma 1): the gradient-relation experiment, its claims at ``tiny`` scale, CLI,
figures and panels.

Claims measured at tiny scale over seeds 0–63 before being written down here:
- relation vs autograd: max relative error 2.8e-15 (float64);
- matrix gradient vs exact: max 1.0e-13 at batch 1; at batch 256 every hidden-layer mean
  distance ≥ 0.28 (both students), output layer ≤ 5e-15;
- overlap in hidden layer 1 strictly increasing in the bias in 64/64 seeds (smallest step
  0.089); in hidden layer 2 lower at bias −1 than at +0.5 in 64/64 seeds (smallest margin
  0.036) but *not* monotone: on average it is higher at −1 (0.39) than at −0.5 (0.35);
- concentration of β*: aligned > random in 64/64 seeds and both layers (smallest margin 0.10).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import luckbook as lb
from luckbook import cli
from luckbook import gradient_checks as C
from luckbook import gradients as G
from luckbook.experiments import gradient_relation as E
from luckbook.results.gradient_relation import GradientRelationResult

NAME = "gradient-relation"


@functools.cache
def _tiny(n_seeds: int = 8, **overrides) -> GradientRelationResult:
    return lb.run(NAME, scale="tiny", seeds=n_seeds, cache=False, **overrides)


# ----------------------------------------------------------------------------- claims


@pytest.mark.claim
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_relation_equals_autograd_in_every_layer(activation):
    """E0: the gradient built from g_l = D_l (A_l f*_l − B_l f_l) is autograd's, to rounding."""
    result = _tiny(activation=activation)
    for kind, err in result.relation_error.items():
        assert err.shape == (8, result.settings.depth), kind
        assert (err <= 1e-10).all(), (kind, err.max())
    assert result.max_relation_error() <= 1e-10


@pytest.mark.claim
def test_matrix_gradient_exact_at_batch_one_and_drifts_with_the_batch():
    result = _tiny()
    assert result.batch_sizes[0] == 1
    assert result.batch1_error() <= 1e-10
    for kind in E.STUDENTS:
        mean = result.mean_drift(kind)  # [S, K, L]
        assert (mean[:, -1, :-1] > 1e-3).all(), (kind, mean[:, -1])  # hidden layers: drift
        assert (result.drift[kind][..., -1] <= 1e-10).all()  # output layer: exact at every size
        cos = result.drift_cosine[kind]
        assert np.allclose(cos[:, :, 0], 1.0) and (np.abs(cos) <= 1 + 1e-12).all()


@pytest.mark.claim
def test_overlap_of_teacher_activations_falls_with_the_bias():
    """LM's small-overlap assumption: a more negative bias separates the activation regions.

    Holds strictly and for every bias step in the first hidden layer; in the second layer only
    between the ends of the range (see the module docstring).
    """
    result = _tiny()
    ov = result.overlap  # [S, Bi, L-1]
    assert not np.isnan(ov).any()
    assert (np.diff(ov[:, :, 0], axis=1) > 0).all(), ov[:, :, 0]
    assert (ov[:, 0, 1] < ov[:, -1, 1]).all(), ov[:, :, 1]
    # first layer on Gaussian inputs: P(active) = Φ(bias) up to sampling
    phi = 0.5 * (1 + np.vectorize(math.erf)(result.biases / math.sqrt(2)))
    assert np.abs(result.p_active[:, :, 0] - phi).max() < 0.03


@pytest.mark.claim
def test_aligned_student_has_a_concentrated_beta_star():
    result = _tiny()
    aligned, random = result.concentration["aligned"], result.concentration["random"]
    assert (aligned > random + 0.05).all(), (aligned, random)
    # and more so when the teacher's activations overlap less (seed mean)
    conc = result.aligned_concentration.mean(0)  # [Bi, L-1]
    assert (conc[0] > conc[-1]).all(), conc


CONTROLLED = ["E0.relation-exact", "E0.matrix-drift", "E0.beta-concentration"]
HOLDING = [
    "E0.relation-exact",
    "E0.matrix-batch1",
    "E0.matrix-output",
    "E0.matrix-drift",
    "E0.matrix-no-shrink",
    "E0.beta-concentration",
    "E0.overlap-first",
]


@pytest.mark.claim
@pytest.mark.parametrize("claim_id", HOLDING)
def test_registered_claim_holds_at_tiny_scale(claim_id):
    """Every registered E0 claim that the book asserts holds on 8 tiny seeds, and its null
    variant (where it has one) fails it."""
    report = _tiny().claims()
    report.assert_holds([claim_id])
    row = report[claim_id]
    assert row.control_fails is (True if claim_id in CONTROLLED else None), row


@pytest.mark.claim
def test_null_variants_fail_their_claims():
    """Gates dropped, batch of one, random student: each fails the claim it is the control of;
    the identities and teacher properties have no control (undefined, never 'holds')."""
    report = _tiny().claims(control="null")
    report.assert_fails([i for i in report.ids if i != "E0.overlap-first"])
    assert report["E0.overlap-first"].verdict == "holds"  # the random network: an identity
    for cid in CONTROLLED:
        assert report[cid].verdict == "does not hold", report
    assert report["E0.relation-exact"].stat.value > 0.1


def test_deep_overlap_claim_is_registered_and_reported():
    """E0.overlap-deep is expected not to hold (the chapter's finding); its value is defined,
    and so is its null (a random network of the same widths)."""
    row = _tiny().claims()["E0.overlap-deep"]
    assert row.stat.defined and row.control is not None and row.control.defined


@pytest.mark.claim
def test_first_layer_overlap_is_an_identity_a_random_network_passes_too():
    """E0.overlap-first is registered as an identity: the random network's first layer (the
    null) shows the same fall of the overlap with a negative bias."""
    from luckbook.claims.core import _REGISTRY

    claim = next(c for c in _REGISTRY if c.id == "E0.overlap-first")
    assert claim.kind == "identity"
    r = _tiny()
    null = r.overlap_random[:, 0, 0] / r.overlap_random[:, 1, 0]
    assert np.all(null < 0.5)
    assert r.overlap_random.shape == (len(r.seeds), 2, r.overlap.shape[-1])


# ----------------------------------------------------------------------------- engine pieces


def _setup(depth=3, seeds=(0, 1)):
    s = E.GradientRelationSettings(
        **{**E.PRESETS["tiny"], "depth": depth, "m": (4, 6, 5), "n_overlap": 2000}
    )
    teacher, students = E.build(s, list(seeds), torch.device("cpu"))
    return s, teacher, students


def test_aligned_student_without_noise_computes_the_teacher():
    s, teacher, _ = _setup(depth=4)
    student = C.aligned_student(teacher, 3, [0, 1], noise=0.0)
    assert student.widths == [s.d, 12, 18, 15, s.c]
    x = lb.gaussian(64, s.d, [0, 1])
    torch.testing.assert_close(student(x), teacher(x), rtol=1e-12, atol=1e-12)
    noisy = C.aligned_student(teacher, 3, [0, 1], noise=0.1)
    assert float((noisy(x) - teacher(x)).abs().max()) > 1e-3


def test_seed_groups_on_worker_threads_give_the_batched_numbers():
    """compute() measures 4 seeds in two groups (on two worker threads when torch has two):
    every array equals one batched compute_group over all seeds."""
    from luckbook.resources import torch_threads

    settings = E.GradientRelationSettings(**E.PRESETS["tiny"])
    seeds, cpu = [0, 1, 2, 3], torch.device("cpu")
    with torch_threads(1):
        ref = E.compute_group(settings, seeds, cpu)
    with torch_threads(2):
        two = E.compute(settings, seeds, cpu)
    assert two.seeds == seeds
    for r in (two,):
        for name in ("relation_error", "drift", "beta", "overlap", "aligned_concentration"):
            a, b = getattr(ref, name), getattr(r, name)
            if isinstance(a, dict):
                a, b = [a[k] for k in sorted(a)], [b[k] for k in sorted(b)]
            a = a if isinstance(a, list) else [a]
            b = b if isinstance(b, list) else [b]
            for x, y in zip(a, b, strict=True):
                for u, v in zip(
                    x if isinstance(x, list) else [x],
                    y if isinstance(y, list) else [y],
                    strict=True,
                ):
                    np.testing.assert_array_equal(u, v)


def test_standardised_biases_are_batchnorm_shifts():
    s, teacher, _ = _setup()
    x = E.calibration_inputs(s, [0, 1])
    t = C.standardise_biases(teacher, x, -0.5)
    fwd = t.forward(x)
    for z in fwd.pre:
        z = z / z.std(1, keepdim=True)
        torch.testing.assert_close(z.mean(1), torch.full_like(z.mean(1), -0.5), rtol=0, atol=1e-9)
    torch.testing.assert_close(t.weights[-1], teacher.weights[-1])


def test_mean_matrices_equal_the_per_sample_relation_averaged():
    """E[D B D] and E[D A D*] by one matmul equal the mean of the per-sample matrices."""
    s, teacher, students = _setup()
    x = lb.gaussian(40, s.d, [0, 1])
    student = students["random"]
    beta, cross, t_beta = C.mean_relation_matrices(teacher, student, x)
    plain = C.mean_relation_matrices(teacher, student, x, gated=False)
    rel = G.relation(teacher, student, x)
    rel_t = G.relation(teacher, teacher, x)
    fs, ft = student.forward(x), teacher.forward(x)
    for l, r in enumerate(rel):
        d = (fs.pre[l] > 0).to(x.dtype)  # [S, N, n]
        dt = (ft.pre[l] > 0).to(x.dtype)
        b = r.B[..., :-1, :-1]
        a = r.A[..., :-1, :-1]
        torch.testing.assert_close(beta[l], (d[..., :, None] * b * d[..., None, :]).mean(1))
        torch.testing.assert_close(cross[l], (d[..., :, None] * a * dt[..., None, :]).mean(1))
        bt = rel_t[l].B[..., :-1, :-1]
        torch.testing.assert_close(t_beta[l], (dt[..., :, None] * bt * dt[..., None, :]).mean(1))
        torch.testing.assert_close(plain[0][l], b.mean(1))
        torch.testing.assert_close(plain[1][l], a.mean(1))


def test_overlap_matches_an_explicit_loop():
    s, teacher, _ = _setup()
    x = lb.gaussian(500, s.d, [0, 1])
    overlaps, actives, deads = C.activation_overlap(teacher, x)
    for l, z in enumerate(teacher.forward(x).pre):
        on = (z > 0).numpy()
        for si in range(2):
            p = on[si].mean(0)
            vals = []
            for i in range(on.shape[-1]):
                for j in range(i + 1, on.shape[-1]):
                    if min(p[i], p[j]) > 0:
                        vals.append((on[si, :, i] & on[si, :, j]).mean() / min(p[i], p[j]))
            assert math.isclose(float(overlaps[l][si]), float(np.mean(vals)), rel_tol=1e-12)
            assert math.isclose(float(actives[l][si]), float(p.mean()), rel_tol=1e-12)
            assert float(deads[l][si]) == float((p == 0).mean())


def test_structure_of_diagonal_and_uniform_matrices():
    eye = torch.eye(4, dtype=torch.float64).expand(1, 4, 4)
    conc, share = C.structure(eye, eye, eye)
    assert float(conc) == 1.0 and float(share) == 1.0
    flat = torch.ones(1, 4, 4, dtype=torch.float64)
    conc, _ = C.structure(flat, flat, flat)
    assert math.isclose(float(conc), 0.25)


def test_drift_agrees_with_a_loop_over_batches():
    s, teacher, students = _setup(seeds=(0,))
    x = lb.gaussian(3 * 8, s.d, [0])
    rel, cos = C.drift(teacher, students["random"], x, 8)
    assert rel.shape == cos.shape == (1, 3, 3)
    for r in range(3):
        xb = x[:, r * 8 : (r + 1) * 8]
        mat = G.matrix_gradient(teacher, students["random"], xb)
        auto = G.autograd_delta(teacher, students["random"], xb)
        for l in range(3):
            want = float((mat[l] - auto[l]).norm() / auto[l].norm())
            assert math.isclose(float(rel[0, r, l]), want, rel_tol=1e-9, abs_tol=1e-15)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "overrides, text",
    [
        ({"batch_sizes": (4, 1)}, "batch_sizes="),
        ({"batch_sizes": (0, 4)}, "batch_sizes=0"),
        ({"batch_sizes": ()}, "batch_sizes=()"),
        ({"depth": 1}, "depth=1"),
        ({"depth": 4}, "depth=4"),  # tiny m = (4, 6): at most depth 3
        ({"biases": (0.5, -0.5)}, "biases="),
        ({"align_noise": 0.0}, "align_noise=0.0"),
        ({"multi": 0}, "multi=0"),
        ({"dtype": "float16"}, "dtype="),
    ],
)
def test_bad_settings_name_the_parameter(overrides, text):
    with pytest.raises(ValueError, match=text.replace("(", r"\(").replace(")", r"\)")):
        lb.get_experiment(NAME).settings("tiny", **overrides)


@pytest.mark.parametrize(
    "sets, text",
    [
        (["batch_sizes=16,4"], "batch_sizes="),
        (["batch_sizes=a,b"], "batch_sizes="),
        (["depth=1"], "depth=1"),
        (["depth=9"], "depth=9"),
    ],
)
def test_cli_bad_input_is_one_line(capsys, sets, text):
    args = ["run", NAME, "--scale", "tiny"]
    for s in sets:
        args += ["--set", s]
    assert cli.main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("luckbook: error:"), captured.err
    assert text in lines[0]


# ----------------------------------------------------------------------------- CLI and JSON


def _check_json(data, n_seeds, depth, batch_sizes):
    assert data["experiment"] == NAME
    assert data["settings"]["depth"] == depth
    assert data["settings"]["batch_sizes"] == list(batch_sizes)
    assert data["batch_sizes"] == list(batch_sizes)
    assert data["device"] == "cpu" and data["wall_time_s"] >= 0
    assert len(data["seeds"]) == n_seeds
    for row in data["seeds"]:
        for kind in E.STUDENTS:
            assert len(row["relation_error"][kind]) == depth
            assert max(row["relation_error"][kind]) <= 1e-10
            assert len(row["drift_mean"][kind]) == len(batch_sizes)
            assert len(row["concentration"][kind]) == depth - 1
        assert len(row["overlap"]) == len(data["biases"])
        assert all(len(v) == depth - 1 for v in row["overlap"])


def test_cli_run_writes_json(tmp_path):
    out = tmp_path / "out.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "luckbook", "run", NAME, "--scale", "tiny", "--seeds", "2",
         "--set", "depth=2", "--set", "batch_sizes=1,8,64", "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data = json.loads(out.read_text())
    assert data["scale"] == "tiny"
    _check_json(data, 2, 2, (1, 8, 64))


def test_cli_json_to_stdout_in_process(capsys):
    assert (
        cli.main(["run", NAME, "--scale", "tiny", "--seeds", "0,5", "--json", "-", "--no-cache"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert [row["seed"] for row in data["seeds"]] == [0, 5]
    _check_json(data, 2, 3, (1, 16, 256))


def test_numbers_and_summary_mention_the_claims():
    result = _tiny()
    text = result.summary()
    assert "relation vs autograd" in text and "batch 1" in text and "overlap" in text
    assert f"{result.max_relation_error():.1e}" in text


# ----------------------------------------------------------------------------- figures


PNG = b"\x89PNG\r\n\x1a\n"


FIGURES = [
    "relation_vs_autograd",
    "matrix_gradient_drift",
    "beta_matrices",
    "teacher_overlap",
    "gradient_relation_panel",
]


@pytest.mark.parametrize("name", FIGURES)
def test_figures_render_with_alt_text(name):
    result = _tiny(2)
    fig = getattr(lb, name)(result)  # the flat names of luckbook.plots.gradient_relation
    assert fig.png_bytes().startswith(PNG)
    assert len(fig.alt) > 80
    assert any(ch.isdigit() for ch in fig.alt)


def test_figure_arguments_are_validated():
    result = _tiny(2)
    with pytest.raises(ValueError, match="layer=3"):
        lb.beta_matrices(result, layer=3)
    with pytest.raises(ValueError, match="seed=99"):
        lb.beta_matrices(result, seed=99)
    assert f"{result.max_relation_error():.1e}" in lb.relation_vs_autograd(result).alt


# ----------------------------------------------------------------------------- panels


def test_live_explorer_waits_runs_and_reports_bad_depth():
    pytest.importorskip("ipywidgets")
    from luckbook.panels import gradient_relation as panels

    panel = lb.explorer(NAME, scale="tiny", seeds=1, autorun=False, n_overlap=1000)
    controls, buttons, out = panel.children
    button, status = buttons.children
    sliders = {c.description: c for c in controls.children}
    assert set(sliders) == set(panels.SLIDERS)
    assert "press Run" in status.value and len(out.outputs) == 0
    button.click()
    assert status.value.startswith("done") and len(out.outputs) == 1
    sliders["depth"].value = 5  # tiny m = (4, 6) has widths for depth <= 3
    button.click()
    assert "depth=5" in status.value and "Traceback" not in status.value


def _frames(panel) -> dict:
    html = panel._repr_html_()
    blob = html.split('<script type="application/json" class="lb-data">')[1].split("</script>")[0]
    return json.loads(blob)


@pytest.mark.parametrize("scale, depths", [("tiny", [2, 3]), ("book", [2, 3, 4, 5])])
def test_static_grid_keeps_the_depths_the_scale_allows(scale, depths):
    """The chapter's grid slides over the depths the scale's teacher widths ``m`` provide (tiny
    m has two widths: depth <= 3), with a prediction prompt; every frame is a valid run."""
    from luckbook import panels

    spec = panels.get(panels.Grid, "gradient-relation")
    exp = lb.get_experiment(spec.experiment)
    grid = spec.values(exp.settings(scale))
    assert grid["depth"] == depths and grid["bias"] == [0.0, -1.0]
    for point in itertools.product(*grid.values()):
        exp.settings(scale, **dict(zip(grid, point, strict=True)))
    assert spec.initial["depth"] in grid["depth"] and spec.seeds == 4
    question, answer = spec.predict
    assert question.endswith("?") and len(answer) > 80


def test_static_grid_renders_at_tiny_scale():
    panel = lb.static_explorer("gradient-relation", scale="tiny", seeds=1, n_overlap=1000)
    data = _frames(panel)
    assert data["names"] == ["depth", "bias"] and data["labels"][0] == ["2", "3"]
    assert len(data["frames"]) == 4
    assert all(f["alt"] and "lb.run(" in f["code"] for f in data["frames"].values())
    assert "Predict first" in panel._repr_html_()


# ----------------------------------------------------------------------------- exercises


def test_exercise_tables():
    result = _tiny(2)
    text = result.overlap_vs_independent()
    assert len(text.splitlines()) == len(result.biases) and "Phi(bias)" in text
    table = result.gated_vs_plain(biases=(0.0, -1.0), n_seeds=2)
    rows = table.splitlines()
    assert len(rows) == 4 and all("gated" in r and "plain" in r for r in rows)
    assert result.kinds == E.STUDENTS
