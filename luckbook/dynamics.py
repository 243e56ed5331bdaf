"""The three theorems as statements about time: per-node events read from snapshot series.

LM (arXiv:1905.13405) and SS (arXiv:1909.13458) make three claims about *dynamics*: lucky
nodes converge **faster** (a rate, E2), unlucky nodes' fan-out **decays** (a change, E1, E4,
E6) and strong teacher nodes are learned **first** (an order in time, E4). An end state cannot
test any of them. These pure functions read the per-node series that the experiments record
at geometrically spaced snapshots (:func:`luckbook.snapshot_steps` with ``"log"``):

- :func:`arrival_times` — first snapshot at which a correlation reaches τ (NaN: censored);
- :func:`gap_halving_times` and :func:`log_gap_rates` — how fast the gap ``1 − ρ`` closes,
  independently of where it started (a node that starts closer arrives sooner even at an
  equal rate, so an arrival time is not a rate);
- :func:`fanout_decay` — a node's fan-out at the end over its own at the start;
- :func:`rank_correlation` — Spearman's ρ (ties averaged), NaN when undefined.

Arrays are NumPy; the time axis is first: ``steps [T]``, series ``[T, ...]``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "arrival_times",
    "fanout_decay",
    "gap_halving_times",
    "log_gap_rates",
    "rank_correlation",
]


def _series(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    steps = np.asarray(steps, dtype=float)
    values = np.asarray(values, dtype=float)
    if steps.ndim != 1 or values.shape[:1] != steps.shape:
        raise ValueError(
            f"values of shape {values.shape} do not fit steps of shape {steps.shape}: expected "
            "the time axis first"
        )
    if np.any(np.diff(steps) <= 0):
        raise ValueError("steps must increase strictly")
    return steps, values


def _first_index(mask: np.ndarray) -> np.ndarray:
    """Index along axis 0 of the first True (−1 where none)."""
    hit = mask.any(axis=0)
    return np.where(hit, mask.argmax(axis=0), -1)


def arrival_times(steps: np.ndarray, corr: np.ndarray, tau: float) -> np.ndarray:
    """First snapshot step at which ``corr >= tau``; NaN (censored) where it never does.

    Args:
        steps: ``[T]`` snapshot steps, increasing.
        corr: ``[T, ...]`` a correlation series per node.
        tau: the level.

    Returns:
        ``[...]`` arrival steps (float; NaN = never reached within the run).
    """
    steps, corr = _series(steps, corr)
    idx = _first_index(corr >= tau)
    return np.where(idx >= 0, steps[np.maximum(idx, 0)], np.nan)


def gap_halving_times(steps: np.ndarray, corr: np.ndarray) -> np.ndarray:
    """Time for a node's gap ``g = 1 − ρ`` to fall to half its starting value: the first
    snapshot step with ``g(t) <= g(0) / 2``, NaN (censored) where it never does.

    For exponential convergence ``g(t) = g(0) e^{−rt}`` it is ``ln 2 / r`` whatever ``g(0)``:
    a node that starts closer but converges at the same rate has the same halving time.
    """
    steps, corr = _series(steps, corr)
    gap = 1.0 - corr
    idx = _first_index(gap <= gap[0] / 2)
    return np.where(idx >= 0, steps[np.maximum(idx, 0)] - steps[0], np.nan)


def log_gap_rates(
    steps: np.ndarray, corr: np.ndarray, *, floor: float = 1e-4, min_points: int = 3
) -> np.ndarray:
    """The convergence rate of each node: the least-squares slope of ``−ln(1 − ρ)`` against
    the step, over the window where the node is converging — from the start to the first
    snapshot at which the gap ``1 − ρ`` reaches ``floor`` (where estimation noise takes
    over), exclusive. NaN when the window has fewer than ``min_points`` snapshots.

    For ``g(t) = g(0) e^{−rt}`` the slope is ``r`` whatever ``g(0)``. Larger = faster.
    """
    steps, corr = _series(steps, corr)
    gap = np.clip(1.0 - corr, floor, None)
    y = -np.log(gap)
    flat_y = y.reshape(len(steps), -1)
    reached = _first_index((gap <= floor).reshape(len(steps), -1))
    out = np.full(flat_y.shape[1], np.nan)
    for j in range(flat_y.shape[1]):
        end = len(steps) if reached[j] < 0 else reached[j]
        if end < min_points:
            continue
        t, v = steps[:end], flat_y[:end, j]
        tc = t - t.mean()
        out[j] = float((tc * (v - v.mean())).sum() / (tc * tc).sum())
    return out.reshape(corr.shape[1:])


def fanout_decay(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Each node's fan-out at the end over its own fan-out at the start (``[...]``); below 1
    the node's outgoing weights shrank, below 0.1 they shrank at least tenfold."""
    start = np.asarray(start, dtype=float)
    end = np.asarray(end, dtype=float)
    if start.shape != end.shape:
        raise ValueError(f"start {start.shape} and end {end.shape} must have one shape")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(start > 0, end / start, np.nan)


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ of paired values (average ranks for ties); NaN with fewer than three
    pairs, or when either side is constant. Pairs with a NaN are left out."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x {x.shape} and y {y.shape} must pair up")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3:
        return math.nan
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v), dtype=float)
    for value in np.unique(v):  # average the ranks of ties
        tied = v == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks
