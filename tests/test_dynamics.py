"""The dynamics statistics (luckbook/dynamics.py) on synthetic trajectories: each must see
what its theorem says and must *not* pass where the theorem is false (equal rates, no decay,
random order)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import luckbook as lb
from luckbook.dynamics import (
    arrival_times,
    fanout_decay,
    gap_halving_times,
    log_gap_rates,
    rank_correlation,
)

STEPS = np.array(lb.snapshot_steps(10_000, 60, "log"), dtype=float)


def _trajectories(start_corr: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """``[T, K]``: ρ(t) = 1 − (1 − ρ0) e^{−r t}."""
    gap0 = 1.0 - start_corr
    return 1.0 - gap0[None, :] * np.exp(-rates[None, :] * STEPS[:, None])


def test_arrival_times_censor_and_first_crossing():
    corr = np.array([[0.1, 0.2], [0.96, 0.3], [0.99, 0.4]])
    t = arrival_times(np.array([0, 10, 100]), corr, 0.95)
    assert t[0] == 10 and math.isnan(t[1])


def test_equal_rates_different_starts_rate_statistics_are_flat_but_arrival_is_not():
    rng = np.random.default_rng(0)
    start = rng.uniform(0.1, 0.9, 40)
    corr = _trajectories(start, np.full(40, 1e-3))
    arrival = arrival_times(STEPS, corr, 0.95)
    # the old statistic: closer starts arrive sooner, rho = -1 although the rates are equal
    assert rank_correlation(start, arrival) < -0.95
    rates = log_gap_rates(STEPS, corr)
    assert np.allclose(rates, 1e-3, rtol=1e-6)
    assert abs(rank_correlation(start, rates)) < 0.2  # float rounding only: no ordering
    halving = gap_halving_times(STEPS, corr)
    rho = rank_correlation(start, halving)  # equal halving times: undefined (constant) or ~0
    assert math.isnan(rho) or abs(rho) < 0.5


def test_equal_rates_with_noise_give_no_rate_correlation():
    rng = np.random.default_rng(1)
    rhos = []
    for _ in range(20):
        start = rng.uniform(0.1, 0.9, 30)
        rates = 1e-3 * np.exp(rng.normal(0, 0.2, 30))  # independent of the start
        rhos.append(rank_correlation(start, log_gap_rates(STEPS, _trajectories(start, rates))))
    assert abs(np.mean(rhos)) < 0.1


def test_faster_when_closer_is_seen():
    rng = np.random.default_rng(2)
    start = rng.uniform(0.1, 0.9, 30)
    rates = 1e-3 * (0.5 + start)  # closer start -> faster rate
    corr = _trajectories(start, rates)
    assert rank_correlation(start, log_gap_rates(STEPS, corr)) > 0.95
    assert rank_correlation(start, gap_halving_times(STEPS, corr)) < -0.8


def test_log_gap_rate_window_stops_at_floor():
    corr = _trajectories(np.array([0.5]), np.array([5e-2]))  # reaches the floor early
    assert log_gap_rates(STEPS, corr, floor=1e-4)[0] == pytest.approx(5e-2, rel=0.05)


def test_fanout_decay_sees_shrinking_and_not_growth():
    start = np.full(10, 0.04)
    assert np.median(fanout_decay(start, start * 0.01)) == pytest.approx(0.01)
    grew = fanout_decay(start, start * 2.0)  # what the review saw: unspecialized nodes grew
    assert np.median(grew) > 1 and (grew <= 0.1).mean() == 0


def test_order_statistic_sees_order_and_not_random_order():
    strength = 1.0 / (np.arange(10) + 1.0) ** 1.0
    ordered = np.arange(10) * 100.0  # strongest first
    assert rank_correlation(strength, ordered) == pytest.approx(-1.0)
    rng = np.random.default_rng(3)
    rhos = [rank_correlation(strength, rng.permutation(ordered)) for _ in range(200)]
    assert abs(np.mean(rhos)) < 0.05


def test_rank_correlation_matches_scipy_with_ties():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 5, 30).astype(float)
    y = rng.normal(size=30)
    assert rank_correlation(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
