"""The batched trainer: against autograd, against a per-seed loop, and its edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import luckbook as lb
from luckbook.data import FixedSet, FreshGaussian

# ----------------------------------------------------------------------------- helpers


def random_net(widths, n_seeds, activation, gen, scale=0.7) -> lb.Net:
    weights = [
        scale * torch.randn(n_seeds, a + 1, b, generator=gen, dtype=torch.float64)
        for a, b in zip(widths[:-1], widths[1:], strict=True)
    ]
    return lb.Net(weights, activation=activation, slope=0.05)


def reference_forward(weights, x, activation, slope):
    """One seed, plain torch ops, autograd-friendly: weights [in+1, out], x [B, d]."""
    a = x
    for l, w in enumerate(weights):
        z = a @ w[:-1] + w[-1]
        if l == len(weights) - 1:
            return z
        a = torch.relu(z) if activation == "relu" else torch.nn.functional.leaky_relu(z, slope)
    raise AssertionError("unreachable")


def autograd_loss_and_grads(net: lb.Net, x, y):
    """Per seed: loss ½·mean_batch Σ_out (y − net(x))² and its gradient, by autograd."""
    losses, grads = [], []
    for s in range(net.n_seeds):
        ws = [w[s].detach().clone().requires_grad_(True) for w in net.weights]
        out = reference_forward(ws, x[s], net.activation, net.slope)
        loss = 0.5 * ((y[s] - out) ** 2).sum(dim=-1).mean()
        grads.append(torch.autograd.grad(loss, ws))
        losses.append(loss.detach())
    return torch.stack(losses), [torch.stack([g[l] for g in grads]) for l in range(net.depth)]


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


# ----------------------------------------------------------------------------- (a) vs autograd


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("widths", [[5, 7, 3], [5, 7, 6, 3], [4, 6, 5, 4, 2]])
def test_sgd_step_matches_autograd(widths, activation):
    gen = torch.Generator().manual_seed(len(widths) * 10 + len(activation))
    n_seeds, batch, lr = 3, 9, 0.037
    net = random_net(widths, n_seeds, activation, gen)
    x = torch.randn(n_seeds, batch, widths[0], generator=gen, dtype=torch.float64)
    y = torch.randn(n_seeds, batch, widths[-1], generator=gen, dtype=torch.float64)
    # precondition: both sides of the ReLU are exercised
    pre = net.forward(x).pre
    assert all(((z > 0).any() and (z < 0).any()) for z in pre)

    ref_loss, ref_grads = autograd_loss_and_grads(net, x, y)
    before = [w.clone() for w in net.weights]
    loss = lb.sgd_step(net, lb.with_ones(x), y, lr)

    assert loss.shape == (n_seeds,)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=0)
    for w_new, w_old, g in zip(net.weights, before, ref_grads, strict=True):
        assert rel_err(w_new - w_old, -lr * g) <= 1e-10


def test_sgd_step_seeds_are_independent():
    gen = torch.Generator().manual_seed(5)
    net = random_net([4, 6, 2], 3, "relu", gen)
    x = torch.randn(3, 8, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(3, 8, 2, generator=gen, dtype=torch.float64)
    alone = net.select([1])
    y2 = y.clone()
    y2[0] += 100.0  # changing seed 0's targets must not touch seed 1
    lb.sgd_step(net, lb.with_ones(x), y2, 0.01)
    lb.sgd_step(alone, lb.with_ones(x[1:2]), y[1:2], 0.01)
    for w, wa in zip(net.weights, alone.weights, strict=True):
        torch.testing.assert_close(w[1], wa[0], rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------- (b, c) runs

RUN = dict(scale="tiny", cache=False, steps=300, n_snapshots=3)
ARRAYS = (
    "teacher_best",
    "student_best",
    "fanout",
    "train_loss",
    "eval_loss",
    "corr",
    "observability",
    "teacher_fanout",
    "batch_loss",
)


@pytest.fixture(scope="module")
def batched():
    return lb.run("two-layer", seeds=[0, 1, 2], **RUN)


def test_batched_equals_per_seed_loop(batched):
    assert batched.teacher_best.shape == (4, 3, 5)
    for pos, seed in enumerate([0, 1, 2]):
        alone = lb.run("two-layer", seeds=[seed], **RUN)
        for name in ARRAYS:
            got = getattr(batched, name)
            ref = getattr(alone, name)
            axis = (
                1
                if got.ndim >= 2 and name not in ("corr", "observability", "teacher_fanout")
                else 0
            )
            np.testing.assert_allclose(
                np.take(got, [pos], axis=axis), ref, atol=1e-10, rtol=0, err_msg=name
            )
        for l in range(2):
            np.testing.assert_allclose(batched.student[l][pos], alone.student[l][0], atol=1e-10)
            np.testing.assert_array_equal(batched.teacher[l][pos], alone.teacher[l][0])
        for tau in batched.covered:
            np.testing.assert_array_equal(batched.covered[tau][:, pos], alone.covered[tau][:, 0])


def test_run_is_reproducible(batched):
    again = lb.run("two-layer", seeds=[0, 1, 2], **RUN)
    for name in ARRAYS + ("steps", "student_match"):
        assert np.array_equal(getattr(batched, name), getattr(again, name)), name
    for a, b in zip(batched.student, again.student, strict=True):
        assert np.array_equal(a, b)


def test_training_lowers_the_loss(batched):
    assert (np.diff(batched.eval_loss, axis=0) < 0).all()
    assert (np.diff(batched.train_loss, axis=0) < 0).all()
    assert (batched.eval_loss[-1] < 0.9 * batched.eval_loss[0]).all()
    assert list(batched.steps) == [0, 100, 200, 300]


def test_float32_close_to_float64(batched):
    f32 = lb.run("two-layer", seeds=[0, 1, 2], dtype="float32", **RUN)
    assert f32.student[0].dtype == np.float32
    assert f32.eval_loss.dtype == np.float32
    np.testing.assert_allclose(f32.eval_loss, batched.eval_loss, rtol=1e-4)
    np.testing.assert_allclose(f32.teacher_best, batched.teacher_best, atol=1e-4)
    np.testing.assert_allclose(f32.student[0], batched.student[0], atol=1e-5)
    assert not np.array_equal(f32.eval_loss, batched.eval_loss.astype(np.float32))


# ----------------------------------------------------------------------------- per-seed data


def _drain(source, seeds, steps, batch):
    xs, ys = zip(*source.batches(seeds, steps, batch), strict=True)
    return torch.stack(xs), torch.stack(ys)  # [steps, S, B, ...]


def test_fixed_set_batches_same_alone_or_in_ensemble():
    seeds = list(range(6))
    x = lb.gaussian(50, 3, seeds)
    y = x.sum(-1, keepdim=True)
    xs, ys = _drain(FixedSet(x, y), seeds, 40, 5)
    assert xs.shape == (40, 6, 5, 4)
    alone_x, alone_y = _drain(FixedSet(x[4:5], y[4:5]), [4], 40, 5)
    assert torch.equal(xs[:, 4], alone_x[:, 0])
    assert torch.equal(ys[:, 4], alone_y[:, 0])


def test_fixed_set_full_batch_for_gd():
    x = lb.gaussian(50, 3, [0])
    y = x[..., :1]
    xs, _ = _drain(FixedSet(x, y), [0], 3, None)
    assert xs.shape == (3, 1, 50, 4)
    assert torch.equal(xs[0, 0, :, :3], x[0])


def test_fresh_gaussian_short_run_same_alone_or_in_ensemble():
    seeds = [3, 1, 4]
    teacher = lb.make_teacher([5, 3, 2], seeds)
    together, y = _drain(FreshGaussian(teacher, data_std=2.0), seeds, 50, 3)
    alone, _ = _drain(FreshGaussian(teacher.select([2]), data_std=2.0), [4], 50, 3)
    assert torch.equal(together[:, 2], alone[:, 0])
    torch.testing.assert_close(y[0], teacher(together[0]))
    assert not torch.equal(together[:, 0], together[:, 1])
    assert together[..., :-1].std().item() == pytest.approx(2.0, rel=0.1)


def test_fresh_gaussian_same_alone_or_in_ensemble():
    """rng.py promises: seed s gets the same numbers alone or in an ensemble of 32.

    ``FreshGaussian`` draws its inputs in chunks whose length depends on the number of seeds,
    and torch's CPU ``randn`` gives different numbers for one draw of ``k`` values than for
    two draws of ``k1 + k2 = k`` unless the counts are multiples of 16 — so with batch·d not a
    multiple of 16 the promise breaks once ``steps`` exceeds the ensemble's chunk length.
    """
    seeds = list(range(32))
    teacher = lb.make_teacher([5, 3, 2], seeds)
    batch, steps = 3, 9000  # chunk: 8738 steps for 32 seeds, 279620 for one; differs from 8736 on
    together, _ = _drain(FreshGaussian(teacher), seeds, steps, batch)
    alone, _ = _drain(FreshGaussian(teacher.select([0])), [0], steps, batch)
    assert torch.equal(together[:, 0], alone[:, 0])


# ----------------------------------------------------------------------------- (d) divergence


def test_divergence_error_from_run():
    with pytest.raises(lb.DivergenceError) as info:
        lb.run("two-layer", seeds=[0, 1], lr=100, **RUN)
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert isinstance(err.step, int) and 0 <= err.step <= 300
    assert err.seed in (0, 1)
    assert err.lr == 100
    msg = str(err)
    assert f"step {err.step}" in msg
    assert f"seed {err.seed}" in msg
    assert "lr=100" in msg


class _PoisonedSource:
    """Finite batches, except that seed position ``pos`` gets a NaN target at ``bad_step``."""

    def __init__(self, bad_step, pos):
        self.bad_step, self.pos = bad_step, pos

    def batches(self, seeds, steps, batch):
        gen = torch.Generator().manual_seed(0)
        for t in range(steps):
            x = torch.randn(len(seeds), batch, 3, generator=gen, dtype=torch.float64)
            y = torch.zeros(len(seeds), batch, 2, dtype=torch.float64)
            if t >= self.bad_step:
                y[self.pos] = math.nan
            yield lb.with_ones(x), y


@pytest.mark.parametrize("check_every", [1, 4, 100])
def test_divergence_names_first_bad_step_and_seed(check_every):
    seeds = [7, 3, 11]
    net = random_net([3, 4, 2], 3, "relu", torch.Generator().manual_seed(0), scale=0.1)
    seen = []
    with pytest.raises(lb.DivergenceError) as info:
        lb.train(
            net,
            _PoisonedSource(9, pos=1),
            seeds,
            lr=0.01,
            steps=20,
            batch=4,
            snapshots=[0, 5, 10, 20],
            on_snapshot=lambda t, n: seen.append(t),
            check_every=check_every,
        )
    assert info.value.step == 9
    assert info.value.seed == 3
    assert "step 9" in str(info.value) and "seed 3" in str(info.value)
    assert seen == [0, 5], "no snapshot may be taken of a diverged student"


# ----------------------------------------------------------------------------- (e) methods


def _student_problem(seeds, multi=2):
    teacher = lb.make_teacher([6, 4, 3], seeds, bias=-0.1)
    student = lb.make_student(teacher, multi, seeds, init_scale=0.3)
    x = lb.gaussian(40, 6, seeds)
    return teacher, student, FixedSet(x, teacher(x)), x


def test_projected_keeps_hidden_columns_unit_norm():
    seeds = [0, 1]
    _, student, data, _ = _student_problem(seeds)
    norms = []

    def record(step, net):
        norms.append((step, net.weights[0].norm(dim=1).clone()))

    lb.train(
        student,
        data,
        seeds,
        lr=0.2,
        steps=30,
        batch=8,
        method="projected",
        snapshots=[0, 1, 10, 30],
        on_snapshot=record,
    )
    assert not torch.allclose(norms[0][1], torch.ones_like(norms[0][1]))  # init is not unit
    for step, n in norms[1:]:
        torch.testing.assert_close(n, torch.ones_like(n), rtol=1e-12, atol=0, msg=f"step {step}")
    # the top layer is not projected
    top = student.weights[1].norm(dim=1)
    assert not torch.allclose(top, torch.ones_like(top))


def test_project_columns():
    net = random_net([4, 5, 3, 2], 2, "relu", torch.Generator().manual_seed(1))
    top = net.weights[-1].clone()
    lb.project_columns(net)
    for w in net.weights[:-1]:
        torch.testing.assert_close(w.norm(dim=1), torch.ones(2, w.shape[2], dtype=torch.float64))
    assert torch.equal(net.weights[-1], top)


@pytest.mark.parametrize("batch", [None, 16])
def test_gd_uses_full_batch(batch):
    seeds = [0, 1]
    _, student, data, x = _student_problem(seeds)
    before = student.clone()
    lr = 0.05
    traj = lb.train(student, data, seeds, lr=lr, steps=1, batch=batch, method="gd")
    ref_loss, grads = autograd_loss_and_grads(before, x, data.y)
    torch.testing.assert_close(traj.batch_loss[0], ref_loss, rtol=1e-12, atol=0)
    for w_new, w_old, g in zip(student.weights, before.weights, grads, strict=True):
        assert rel_err(w_new - w_old, -lr * g) <= 1e-10


def test_sgd_batches_differ_from_full_batch():
    seeds = [0]
    _, student, data, _ = _student_problem(seeds)
    gd = student.clone()
    lb.train(student, data, seeds, lr=0.05, steps=1, batch=8, method="sgd")
    lb.train(gd, data, seeds, lr=0.05, steps=1, method="gd")
    assert not torch.allclose(student.weights[0], gd.weights[0])


def test_train_keep_weights_and_batch_loss():
    seeds = [0, 1]
    _, student, data, _ = _student_problem(seeds)
    traj = lb.train(
        student, data, seeds, lr=0.05, steps=12, batch=4, snapshots=[0, 6, 12], keep_weights=True
    )
    assert traj.steps == [0, 6, 12]
    assert traj.records == [None, None, None]
    assert len(traj.weights) == 3
    assert torch.equal(traj.weights[-1][0], student.weights[0])
    assert not torch.equal(traj.weights[0][0], traj.weights[-1][0])
    assert traj.batch_loss.shape == (12, 2)
    assert torch.isfinite(traj.batch_loss).all()
    assert traj.wall_time_s > 0


# ----------------------------------------------------------------------------- (f) snapshots


@pytest.mark.parametrize("spacing", ["linear", "log"])
@pytest.mark.parametrize(
    "steps, n", [(1, 1), (1, 5), (10, 3), (100, 7), (4000, 8), (10, 10), (7, 50)]
)
def test_snapshot_steps(steps, n, spacing):
    got = lb.snapshot_steps(steps, n, spacing)
    assert got[0] == 0 and got[-1] == steps
    assert got == sorted(set(got))
    assert all(isinstance(s, int) for s in got)
    assert len(got) <= n + 2
    if spacing == "linear" and n <= steps:
        assert len(got) == n + 1
        gaps = np.diff(got)
        assert gaps.max() - gaps.min() <= 1


def test_snapshot_steps_log_is_log_spaced():
    got = lb.snapshot_steps(10_000, 4, "log")
    assert got == [0, 1, 10, 100, 1000, 10_000]


@pytest.mark.parametrize(
    "args, name",
    [
        ((0, 3), "steps"),
        ((10, 0), "n_snapshots"),
        ((10, 2.5), "n_snapshots"),
        ((-5, 2), "steps"),
        ((10, 2, "cubic"), "spacing"),
    ],
)
def test_snapshot_steps_invalid(args, name):
    with pytest.raises(ValueError, match=rf"^{name}="):
        lb.snapshot_steps(*args)


@pytest.mark.parametrize("snapshots", [[-1, 5], [0, 11], [12]])
def test_train_rejects_snapshots_outside_range(snapshots):
    seeds = [0]
    _, student, data, _ = _student_problem(seeds)
    before = [w.clone() for w in student.weights]
    with pytest.raises(ValueError, match="snapshots"):
        lb.train(student, data, seeds, lr=0.05, steps=10, snapshots=snapshots)
    assert all(torch.equal(a, b) for a, b in zip(before, student.weights, strict=True))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"lr": 0}, "lr"),
        ({"lr": -1.0}, "lr"),
        ({"lr": math.inf}, "lr"),
        ({"lr": math.nan}, "lr"),
        ({"steps": 0}, "steps"),
        ({"batch": 0}, "batch"),
        ({"method": "adam"}, "method"),
        ({"check_every": 0}, "check_every"),
    ],
)
def test_train_validation(kwargs, name):
    seeds = [0]
    _, student, data, _ = _student_problem(seeds)
    args = {"lr": 0.05, "steps": 10} | kwargs
    with pytest.raises(ValueError, match=rf"^{name}="):
        lb.train(student, data, seeds, **args)


def test_train_seed_count_mismatch():
    _, student, data, _ = _student_problem([0, 1])
    with pytest.raises(ValueError, match="seeds"):
        lb.train(student, data, [0], lr=0.05, steps=3)
