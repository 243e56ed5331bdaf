"""Every metric against a slow, obvious reference (np.corrcoef, explicit loops)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import luckbook as lb


def _rand(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


def _corr_reference(h_t: np.ndarray, h_s: np.ndarray) -> np.ndarray:
    """[N, K_t], [N, K_s] -> [K_t, K_s] via np.corrcoef; a constant column gives 0."""
    kt, ks = h_t.shape[1], h_s.shape[1]
    out = np.zeros((kt, ks))
    for i in range(kt):
        for j in range(ks):
            a, b = h_t[:, i], h_s[:, j]
            if np.ptp(a) == 0 or np.ptp(b) == 0:
                out[i, j] = 0.0
            else:
                out[i, j] = np.corrcoef(a, b)[0, 1]
    return out


# ----------------------------------------------------------------------------- correlation


@pytest.mark.parametrize("n, kt, ks", [(7, 2, 3), (50, 4, 9), (200, 5, 5)])
def test_activation_correlation_matches_corrcoef(gen, n, kt, ks):
    h_t = _rand(gen, n, kt).relu()
    h_s = _rand(gen, n, ks).relu()
    got = lb.activation_correlation(h_t, h_s)
    assert got.shape == (kt, ks)
    np.testing.assert_allclose(got.numpy(), _corr_reference(h_t.numpy(), h_s.numpy()), atol=1e-8)


def test_activation_correlation_with_seed_axis(gen):
    s, n, kt, ks = 3, 40, 4, 6
    h_t = _rand(gen, s, n, kt)
    h_s = _rand(gen, s, n, ks)
    got = lb.activation_correlation(h_t, h_s)
    assert got.shape == (s, kt, ks)
    for k in range(s):
        ref = _corr_reference(h_t[k].numpy(), h_s[k].numpy())
        np.testing.assert_allclose(got[k].numpy(), ref, atol=1e-8)


def test_activation_correlation_dead_column_is_zero_not_nan(gen):
    h_t = _rand(gen, 30, 3)
    h_s = _rand(gen, 30, 4)
    h_t[:, 1] = 0.0  # a dead teacher node
    h_s[:, 2] = 3.7  # a constant student node
    got = lb.activation_correlation(h_t, h_s)
    assert torch.isfinite(got).all()
    assert (got[1] == 0).all()
    assert (got[:, 2] == 0).all()
    ref = _corr_reference(h_t.numpy(), h_s.numpy())
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-8)


def test_activation_correlation_perfect_and_anti(gen):
    h = _rand(gen, 25, 2)
    got = lb.activation_correlation(h, torch.stack([2 * h[:, 0] + 1, -h[:, 1]], dim=1))
    assert got[0, 0] == pytest.approx(1.0, abs=1e-9)
    assert got[1, 1] == pytest.approx(-1.0, abs=1e-9)


def test_activation_correlation_shape_mismatch_raises(gen):
    with pytest.raises(ValueError, match="h_t"):
        lb.activation_correlation(_rand(gen, 10, 2), _rand(gen, 11, 2))


# ----------------------------------------------------------------------------- best / covered


@pytest.mark.parametrize("shape", [(4, 6), (3, 4, 6), (2, 3, 5, 1)])
def test_best_per_teacher_and_student_vs_loops(gen, shape):
    corr = torch.rand(*shape, generator=gen, dtype=torch.float64) * 2 - 1
    flat = corr.reshape(-1, *shape[-2:]).numpy()
    best_t = lb.best_per_teacher(corr).reshape(-1, shape[-2]).numpy()
    best_s, match_s = lb.best_per_student(corr)
    best_s = best_s.reshape(-1, shape[-1]).numpy()
    match_s = match_s.reshape(-1, shape[-1]).numpy()
    for b, c in enumerate(flat):
        kt, ks = c.shape
        for i in range(kt):
            assert best_t[b, i] == max(c[i, j] for j in range(ks))
        for j in range(ks):
            values = [c[i, j] for i in range(kt)]
            assert best_s[b, j] == max(values)
            assert match_s[b, j] == int(np.argmax(values))


@pytest.mark.parametrize("taus", [(0.5,), (0.3, 0.8, 0.95), 0.7])
def test_covered_vs_loop(gen, taus):
    corr = torch.rand(3, 5, 8, generator=gen, dtype=torch.float64)
    got = lb.covered(corr, taus)
    tau_list = (taus,) if isinstance(taus, float) else taus
    assert sorted(got) == sorted(tau_list)
    for tau in tau_list:
        for s in range(3):
            expected = sum(1 for i in range(5) if any(corr[s, i, j].item() > tau for j in range(8)))
            assert int(got[tau][s]) == expected


def test_covered_is_strict_inequality():
    corr = torch.tensor([[0.5, 0.2], [0.1, 0.51]], dtype=torch.float64)
    assert int(lb.covered(corr, (0.5,))[0.5]) == 1


@pytest.mark.parametrize("tau", [0, 0.0, 1, 1.0, 1.5, -0.1, math.nan, math.inf])
def test_covered_rejects_bad_tau(tau):
    corr = torch.zeros(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"tau="):
        lb.covered(corr, (0.5, tau))


def test_covered_rejects_empty_taus():
    with pytest.raises(ValueError, match="tau"):
        lb.covered(torch.zeros(2, 3), ())


# ----------------------------------------------------------------------------- fan-out etc.


@pytest.mark.parametrize("shape", [(6, 3), (2, 6, 3), (2, 4, 5, 7)])
def test_fanout_norms_excludes_bias_row(gen, shape):
    w = _rand(gen, *shape)
    w[..., -1, :] = 1e6  # a huge bias row must not leak in
    got = lb.fanout_norms(w)
    assert got.shape == (*shape[:-2], shape[-2] - 1)
    flat_w = w.reshape(-1, *shape[-2:]).numpy()
    flat_got = got.reshape(-1, shape[-2] - 1).numpy()
    for b, m in enumerate(flat_w):
        for i in range(m.shape[0] - 1):
            ref = math.sqrt(sum(float(v) ** 2 for v in m[i]))
            assert flat_got[b, i] == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("lead", [(), (3,)])
def test_observability_vs_double_loop(gen, lead):
    n, kt, ks = 40, 3, 5
    z_t = _rand(gen, *lead, n, kt)
    z_s = _rand(gen, *lead, n, ks) + 0.5
    got = lb.observability(z_t, z_s)
    assert got.shape == (*lead, kt, ks)
    zt = z_t.reshape(-1, n, kt).numpy()
    zs = z_s.reshape(-1, n, ks).numpy()
    g = got.reshape(-1, kt, ks).numpy()
    for b in range(zt.shape[0]):
        for i in range(kt):
            for j in range(ks):
                on_on = off_on = 0
                for k in range(n):
                    if zs[b, k, j] > 0:
                        if zt[b, k, i] > 0:
                            on_on += 1
                        else:
                            off_on += 1
                assert g[b, i, j] == min(on_on, off_on)


def test_observability_zero_when_student_on_one_side_only():
    z_t = torch.tensor([[1.0], [2.0], [-1.0], [-2.0]], dtype=torch.float64)
    z_s = torch.tensor([[1.0, 1.0], [1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0]], dtype=torch.float64)
    got = lb.observability(z_t, z_s)
    assert got.tolist() == [[0.0, 2.0]]


@pytest.mark.parametrize("lead", [(), (4,), (2, 3)])
def test_square_loss_vs_numpy(gen, lead):
    y_t = _rand(gen, *lead, 11, 5)
    y_s = _rand(gen, *lead, 11, 5)
    got = lb.square_loss(y_t, y_s)
    ref = 0.5 * np.mean(np.sum((y_t.numpy() - y_s.numpy()) ** 2, axis=-1), axis=-1)
    assert got.shape == lead
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)


# ----------------------------------------------------------------------------- rank, cosine


@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_effective_rank_identity(k):
    assert lb.effective_rank(torch.eye(k, dtype=torch.float64)).item() == pytest.approx(k, rel=1e-9)


def test_effective_rank_rank_one(gen):
    u, v = _rand(gen, 6, 1), _rand(gen, 1, 4)
    assert lb.effective_rank(u @ v).item() == pytest.approx(1.0, abs=1e-6)


def test_effective_rank_vs_svd_formula(gen):
    w = _rand(gen, 3, 7, 5)
    got = lb.effective_rank(w)
    assert got.shape == (3,)
    for b in range(3):
        s = np.linalg.svd(w[b].numpy(), compute_uv=False)
        p = s / s.sum()
        ref = math.exp(-sum(pi * math.log(pi) for pi in p if pi > 0))
        assert got[b].item() == pytest.approx(ref, rel=1e-10)
        assert 1.0 <= got[b].item() <= 5.0


def test_effective_rank_zero_matrix_is_finite():
    got = lb.effective_rank(torch.zeros(3, 3, dtype=torch.float64))
    assert torch.isfinite(got).all()


def test_cosine(gen):
    a, b = _rand(gen, 4, 6), _rand(gen, 4, 6)
    got = lb.cosine(a, b)
    for i in range(4):
        x, y = a[i].numpy(), b[i].numpy()
        ref = float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))
        assert got[i].item() == pytest.approx(ref, rel=1e-12)
    assert lb.cosine(a[0], 3 * a[0]).item() == pytest.approx(1.0, rel=1e-12)
    assert lb.cosine(a[0], -a[0]).item() == pytest.approx(-1.0, rel=1e-12)
    e = torch.eye(3, dtype=torch.float64)
    assert lb.cosine(e[0], e[1]).item() == 0.0
    assert lb.cosine(torch.zeros(3), e[0]).item() == 0.0  # no NaN for a zero vector
