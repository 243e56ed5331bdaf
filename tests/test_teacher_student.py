"""Separated teachers, over-realized students, bias calibration."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import torch

import luckbook as lb
from luckbook.rng import generator
from luckbook.teacher import DEFAULT_CHOICES

# ----------------------------------------------------------------------------- separated codes


@pytest.mark.parametrize(
    "n_in, n_out, choices",
    [
        (3, 20, DEFAULT_CHOICES),
        (2, 24, DEFAULT_CHOICES),
        (4, 15, (-1.0, 1.0)),
        (1, 2, (0.0, 1.0, 2.0)),
    ],
)
def test_separated_codes_distinct_nonzero_from_choices(n_in, n_out, choices):
    codes = lb.separated_codes(n_in, n_out, choices, generator(0, "teacher"))
    assert codes.shape == (n_in, n_out)
    assert codes.dtype == torch.float64
    assert set(codes.flatten().tolist()) <= set(choices)
    columns = [tuple(codes[:, j].tolist()) for j in range(n_out)]
    assert len(set(columns)) == n_out, "codes must be distinct"
    assert all(any(v != 0 for v in col) for col in columns), "codes must be non-zero"


def test_separated_codes_exhaust_the_code_set():
    # 2 inputs, 5 values, zero excluded: exactly 24 codes exist, and all are drawn
    codes = lb.separated_codes(2, 24, DEFAULT_CHOICES, generator(3, "teacher"))
    expected = {c for c in itertools.product(sorted(DEFAULT_CHOICES), repeat=2) if any(c)}
    assert {tuple(codes[:, j].tolist()) for j in range(24)} == expected


@pytest.mark.parametrize(
    "n_in, n_out, choices",
    [(1, 3, (-0.5, 0.0, 0.5)), (2, 25, DEFAULT_CHOICES), (3, 9, (0.0, 1.0)), (2, 1, (0.0,))],
)
def test_separated_codes_too_few_codes_raises(n_in, n_out, choices):
    with pytest.raises(ValueError, match="choices"):
        lb.separated_codes(n_in, n_out, choices, generator(0, "teacher"))


# ----------------------------------------------------------------------------- make_teacher


def _hidden(teacher: lb.Net):
    return teacher.weights[:-1]


@pytest.mark.parametrize("widths", [[6, 4, 3], [5, 4, 3, 2], [7, 5, 4, 3, 2]])
def test_teacher_normalize_weights(widths):
    t = lb.make_teacher(widths, [0, 1], bias=-0.1, normalize="weights")
    assert t.depth == len(widths) - 1
    assert t.widths == widths
    for w in _hidden(t):
        np.testing.assert_allclose(w[:, :-1, :].norm(dim=1).numpy(), 1.0, rtol=1e-12)
        assert (w[:, -1, :] == -0.1).all()
    # the output layer is the raw codes with the output bias (0 by default)
    top = t.weights[-1]
    assert set(top[:, :-1, :].flatten().tolist()) <= set(DEFAULT_CHOICES)
    assert (top[:, -1, :] == 0).all()


@pytest.mark.parametrize("widths", [[6, 4, 3], [5, 4, 3, 2]])
def test_teacher_normalize_all(widths):
    t = lb.make_teacher(widths, [0, 1, 2], bias=0.3, normalize="all")
    for w in _hidden(t):
        np.testing.assert_allclose(w.norm(dim=1).numpy(), 1.0, rtol=1e-12)
        assert (w[:, -1, :] != 0).all()  # the bias was scaled with the weights, not reset
        assert not torch.allclose(w[:, -1, :], torch.full_like(w[:, -1, :], 0.3))


def test_teacher_normalize_none_keeps_codes():
    t = lb.make_teacher([4, 3, 2], [5], bias=0.25, normalize="none")
    w = t.weights[0]
    assert set(w[0, :-1, :].flatten().tolist()) <= set(DEFAULT_CHOICES)
    assert (w[0, -1, :] == 0.25).all()


def test_teacher_bias_range():
    t = lb.make_teacher([4, 6, 2], [0, 1], bias=(-0.5, -0.2), normalize="none")
    b = t.weights[0][:, -1, :]
    assert ((b >= -0.5) & (b <= -0.2)).all()
    assert len(set(b.flatten().tolist())) > 1


@pytest.mark.parametrize("widths", [[6, 4, 3], [5, 4, 3, 2], [7, 5, 4, 3, 2]])
def test_teacher_strength_decay(widths):
    p = 2.0
    t0 = lb.make_teacher(widths, [4], p=0.0)
    t2 = lb.make_teacher(widths, [4], p=p)
    torch.testing.assert_close(t2.weights[0], t0.weights[0], rtol=0, atol=0)
    for l in range(1, len(widths) - 1):
        w0, w2 = t0.weights[l][0], t2.weights[l][0]
        for i in range(w0.shape[0] - 1):
            torch.testing.assert_close(w2[i], w0[i] / (i + 1) ** p, rtol=1e-14, atol=0)
        torch.testing.assert_close(w2[-1], w0[-1], rtol=0, atol=0)  # bias row untouched


def test_apply_strength_decay_loop():
    w = torch.arange(1.0, 13.0, dtype=torch.float64).reshape(4, 3)  # 3 nodes + bias row
    out = lb.apply_strength_decay(w, 1.5)
    for i in range(3):
        for j in range(3):
            assert out[i, j].item() == pytest.approx(w[i, j].item() / (i + 1) ** 1.5, rel=1e-14)
    assert out[3].tolist() == w[3].tolist()
    assert w[0, 0].item() == 1.0  # input not modified


def test_teacher_depth_one():
    t = lb.make_teacher([5, 3], [0])
    assert t.depth == 1
    assert t.widths == [5, 3]
    assert (t.weights[0][0, -1] == 0).all()


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_teacher_activation(activation):
    t = lb.make_teacher([4, 5, 2], [0], activation=activation, slope=0.1)
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    h = t.forward(x).hidden[0]
    z = t.forward(x).pre[0]
    if activation == "relu":
        torch.testing.assert_close(h, z.clamp_min(0))
    else:
        torch.testing.assert_close(h, torch.where(z > 0, z, 0.1 * z))
        assert (h < 0).any()


def test_teacher_same_seed_identical_and_different_seeds_differ():
    a = lb.make_teacher([6, 4, 3], [7, 8])
    b = lb.make_teacher([6, 4, 3], [7, 8])
    for wa, wb in zip(a.weights, b.weights, strict=True):
        assert torch.equal(wa, wb)
    for w in a.weights:
        assert not torch.equal(w[0], w[1])


def test_teacher_seed_independent_of_ensemble():
    together = lb.make_teacher([6, 4, 3, 2], [3, 0, 11], p=1.0)
    for pos, seed in enumerate([3, 0, 11]):
        alone = lb.make_teacher([6, 4, 3, 2], [seed], p=1.0)
        for wt, wa in zip(together.weights, alone.weights, strict=True):
            assert torch.equal(wt[pos], wa[0])


def test_teacher_dtype():
    t = lb.make_teacher([4, 3, 2], [0], dtype="float32")
    assert all(w.dtype == torch.float32 for w in t.weights)


# ----------------------------------------------------------------------------- make_student


@pytest.mark.parametrize("multi", [1, 2, 3])
@pytest.mark.parametrize("widths", [[6, 4, 3], [5, 4, 3, 2]])
def test_student_widths(multi, widths):
    t = lb.make_teacher(widths, [0, 1])
    s = lb.make_student(t, multi, [0, 1])
    assert s.widths == [widths[0]] + [multi * m for m in widths[1:-1]] + [widths[-1]]
    assert lb.student_widths(widths, multi) == s.widths
    assert s.n_seeds == 2
    assert s.dtype == t.dtype
    assert s.activation == t.activation


@pytest.mark.parametrize("init_scale", [0.005, 0.1, 2.0])
def test_student_gaussian_init(init_scale):
    t = lb.make_teacher([50, 10, 20], [0, 1])
    s = lb.make_student(t, 5, [0, 1], init="gaussian", init_scale=init_scale)
    for w in s.weights:
        assert (w[:, -1, :] == 0).all(), "biases start at zero"
        weights = w[:, :-1, :].flatten()
        assert weights.std().item() == pytest.approx(init_scale, rel=0.08)
        assert abs(weights.mean().item()) < 0.1 * init_scale


def test_student_torch_default_init():
    t = lb.make_teacher([16, 10, 4], [0])
    s = lb.make_student(t, 3, [0], init="torch_default", init_scale=1.0)
    for w in s.weights:
        bound = 1.0 / (w.shape[1] - 1) ** 0.5
        assert w.abs().max().item() <= bound
        assert w.abs().max().item() > 0.8 * bound


def test_student_teacher_noise_init():
    t = lb.make_teacher([10, 4, 3, 2], [0, 1], normalize="all", bias=0.2)
    scale = 1e-3
    s = lb.make_student(t, 3, [0, 1], init="teacher_noise", init_scale=scale)
    for l in range(t.depth - 1):
        wt, ws = t.weights[l], s.weights[l]
        m_in, m_out = wt.shape[1] - 1, wt.shape[2]
        diff_w = ws[:, :m_in, :m_out] - wt[:, :-1, :]
        diff_b = ws[:, -1, :m_out] - wt[:, -1, :]
        assert diff_w.abs().max().item() < 6 * scale
        assert diff_b.abs().max().item() < 6 * scale
        assert diff_w.abs().max().item() > 0, "noise was added"
        # the extra nodes are pure noise
        assert ws[:, :, m_out:].abs().max().item() < 6 * scale
    assert s.weights[-1].abs().max().item() < 6 * scale  # top layer: pure noise


def test_student_normalize_columns():
    t = lb.make_teacher([6, 4, 3, 2], [0])
    s = lb.make_student(t, 2, [0], init_scale=0.3, normalize_columns=True)
    for w in s.weights[:-1]:
        np.testing.assert_allclose(w.norm(dim=1).numpy(), 1.0, rtol=1e-12)


def test_student_seed_independent_of_ensemble():
    t = lb.make_teacher([6, 4, 3], [2, 9])
    together = lb.make_student(t, 2, [2, 9])
    alone = lb.make_student(t.select([1]), 2, [9])
    for wt, wa in zip(together.weights, alone.weights, strict=True):
        assert torch.equal(wt[1], wa[0])
    assert not torch.equal(together.weights[0][0], together.weights[0][1])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"multi": 0}, "multi"),
        ({"multi": 1.5}, "multi"),
        ({"multi": -2}, "multi"),
        ({"multi": 2, "init_scale": 0}, "init_scale"),
        ({"multi": 2, "init_scale": -0.1}, "init_scale"),
        ({"multi": 2, "init": "bogus"}, "init"),
    ],
)
def test_student_validation(kwargs, name):
    t = lb.make_teacher([6, 4, 3], [0])
    with pytest.raises(ValueError, match=rf"^{name}="):
        lb.make_student(t, seeds=[0], **kwargs)


def test_student_seed_count_mismatch():
    t = lb.make_teacher([6, 4, 3], [0, 1])
    with pytest.raises(ValueError, match="seeds"):
        lb.make_student(t, 2, [0])


# ----------------------------------------------------------------------------- calibrate


# Deeper ReLU layers are tested with Leaky ReLU: behind a ReLU layer, a node whose incoming
# code is all <= 0 has an atom of probability at its maximum (every input node off), so no
# bias shift can make it active on a given fraction. Leaky ReLU keeps pre-activations continuous.
@pytest.mark.parametrize("target", [0.5, 0.3])
@pytest.mark.parametrize(
    "widths, activation",
    [
        ([10, 6, 3], "relu"),
        ([10, 6, 3], "leaky_relu"),
        ([10, 6, 5, 3], "leaky_relu"),
        ([10, 6, 5, 4, 3], "leaky_relu"),
    ],
)
def test_calibrate_activity(widths, activation, target):
    seeds = [0, 1]

    def make():
        return lb.make_teacher(
            widths, seeds, bias=1.0, normalize="all", activation=activation, slope=0.2
        )

    teacher = make()
    x = lb.gaussian(4000, widths[0], seeds)
    calib = lb.calibrate(teacher, x, target_active=target)
    # the original is unchanged
    for wt, wf in zip(teacher.weights, make().weights, strict=True):
        assert torch.equal(wt, wf)
    # only biases move
    for wc, wo in zip(calib.weights, teacher.weights, strict=True):
        assert torch.equal(wc[:, :-1, :], wo[:, :-1, :])
    # on the calibration set: active on ``target`` of inputs (up to quantile interpolation)
    for z in calib.forward(x).pre:
        frac = (z > 0).double().mean(dim=1)
        np.testing.assert_allclose(frac.numpy(), target, atol=2e-3)
    # and on fresh inputs, approximately
    fresh = lb.gaussian(4000, widths[0], seeds, stream="eval_data")
    for z in calib.forward(fresh).pre:
        frac = (z > 0).double().mean(dim=1)
        np.testing.assert_allclose(frac.numpy(), target, atol=0.05)


def test_calibrate_changes_activity():
    seeds = [0]
    teacher = lb.make_teacher([10, 6, 3], seeds, bias=1.0, normalize="all")
    x = lb.gaussian(2000, 10, seeds)
    before = (teacher.forward(x).pre[0] > 0).double().mean(dim=1)
    assert (before > 0.6).all(), "precondition: a positive bias makes nodes mostly active"
    after = (lb.calibrate(teacher, x).forward(x).pre[0] > 0).double().mean(dim=1)
    np.testing.assert_allclose(after.numpy(), 0.5, atol=2e-3)


# ----------------------------------------------------------------------------- Net.stack


def test_net_concat_stacks_along_the_seed_axis():
    a = lb.make_teacher([4, 3, 2], [0, 1], activation="leaky_relu", slope=0.2)
    b = lb.make_teacher([4, 3, 2], [5], activation="leaky_relu", slope=0.2)
    both = lb.Net.stack([a, b])
    assert both.n_seeds == 3 and both.widths == [4, 3, 2]
    assert (both.activation, both.slope) == ("leaky_relu", 0.2)
    for l in range(both.depth):
        assert torch.equal(both.weights[l][:2], a.weights[l])
        assert torch.equal(both.weights[l][2:], b.weights[l])
    x = torch.randn(3, 7, 4, dtype=both.dtype)
    assert torch.equal(both(x)[2:], b(x[2:]))


@pytest.mark.parametrize(
    "other, name",
    [
        (lambda: lb.make_teacher([4, 5, 2], [1]), "widths"),
        (lambda: lb.make_teacher([4, 3, 2], [1], activation="leaky_relu"), "activation"),
        (lambda: lb.make_teacher([4, 3, 2], [1], activation="leaky_relu", slope=0.1), "slope"),
        (lambda: lb.make_teacher([4, 3, 2], [1], dtype=torch.float32), "dtype"),
    ],
)
def test_net_concat_names_what_differs(other, name):
    first = lb.make_teacher([4, 3, 2], [0], activation="leaky_relu" if name == "slope" else "relu")
    with pytest.raises(ValueError, match=rf"nets\[1\] has {name}=.* but nets\[0\] has {name}="):
        lb.Net.stack([first, other()])


def test_net_concat_needs_a_network():
    with pytest.raises(ValueError, match=re.escape("nets=[] is not allowed")):
        lb.Net.stack([])
