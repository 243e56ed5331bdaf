"""E0: the per-sample gradient relation equals autograd; the matrix gradient is its batch
average."""

from __future__ import annotations

import pytest
import torch

import luckbook as lb
from luckbook import gradients as G


def _pair(widths, activation="relu", seeds=(0, 1)):
    teacher = lb.make_teacher(widths, list(seeds), activation=activation, bias=-0.1)
    student = lb.make_student(teacher, 2, list(seeds), init="torch_default", init_scale=1.0)
    return teacher, student


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / a.norm())


@pytest.mark.parametrize("widths", [[6, 4, 3], [6, 4, 5, 3], [5, 3, 4, 3, 2]])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_relation_equals_autograd(widths, activation):
    teacher, student = _pair(widths, activation)
    x = lb.gaussian(64, widths[0], [0, 1])
    auto = G.autograd_delta(teacher, student, x)
    rel = G.relation_delta(teacher, student, x)
    assert len(auto) == len(rel) == len(widths) - 1
    for a, r in zip(auto, rel, strict=True):
        assert a.shape == r.shape
        assert _rel(a, r) <= 1e-10


def test_output_is_jacobian_times_activation():
    """``y = Ṽ_l f_l`` holds exactly at every hidden layer (the relation's premise)."""
    teacher, _ = _pair([5, 3, 4, 3, 2])
    x = lb.gaussian(16, 5, [0, 1])
    fwd = teacher.forward(x)
    for l, v in enumerate(G.jacobians(teacher, fwd)):
        y = (v @ fwd.inputs[l + 1].unsqueeze(-1)).squeeze(-1)
        torch.testing.assert_close(y, fwd.out, rtol=1e-12, atol=1e-12)


def test_matrix_gradient_exact_for_one_sample_and_top_layer_only_in_general():
    teacher, student = _pair([6, 4, 5, 3])
    one = lb.gaussian(1, 6, [0, 1])
    for a, m in zip(
        G.autograd_delta(teacher, student, one),
        G.matrix_gradient(teacher, student, one),
        strict=True,
    ):
        assert _rel(a, m) <= 1e-10
    many = lb.gaussian(256, 6, [0, 1])
    auto, mat = G.autograd_delta(teacher, student, many), G.matrix_gradient(teacher, student, many)
    assert _rel(auto[-1], mat[-1]) <= 1e-10  # top layer: no gates, exact
    assert _rel(auto[0], mat[0]) > 1e-3  # below: gates averaged, an approximation


def test_relation_of_student_equal_to_teacher_vanishes():
    teacher, _ = _pair([6, 4, 3])
    x = lb.gaussian(32, 6, [0, 1])
    for r in G.relation(teacher, teacher, x):
        assert float(r.g.abs().max()) <= 1e-12


def test_beta_diagonal_matches_fanout_for_two_layers():
    """For two layers, ``β_kk = ‖fan-out row k‖²`` whatever the input (Ṽ has no gates)."""
    teacher, student = _pair([6, 4, 3])
    x = lb.gaussian(8, 6, [0, 1])
    (beta,) = G.beta_diagonal(student, x)
    torch.testing.assert_close(beta.sqrt(), lb.fanout_norms(student.weights[1]))


def test_depth_mismatch_is_rejected():
    teacher, _ = _pair([6, 4, 3])
    deep, _ = _pair([6, 4, 4, 3])
    with pytest.raises(ValueError, match="depth"):
        G.relation(teacher, deep, lb.gaussian(4, 6, [0, 1]))


def test_matrix_step_drives_training_and_matches_its_gradient():
    teacher, student = _pair([6, 4, 3], seeds=(0,))
    before = student.clone()
    x = lb.gaussian(32, 6, [0])
    x1 = lb.with_ones(x)
    G.matrix_step(teacher)(student, x1, teacher(x1), 0.1)
    for w0, w1, d in zip(
        before.weights, student.weights, G.matrix_gradient(teacher, before, x), strict=True
    ):
        torch.testing.assert_close(w1 - w0, 0.1 * d)
    traj = lb.train(
        before,
        lb.FreshGaussian(teacher),
        [0],
        lr=0.05,
        steps=300,
        batch=32,
        step_fn=G.matrix_step(teacher),
    )
    assert float(traj.batch_loss[-20:].mean()) < float(traj.batch_loss[:20].mean())
