"""Paper claims of E4 (SS, arXiv:1909.13458) checked at ``tiny`` scale over several seeds."""

from __future__ import annotations

import functools

import pytest

import luckbook as lb

pytestmark = pytest.mark.claim


@functools.cache
def _two_layer_p(multi: int, p: float, n_seeds: int) -> lb.TwoLayerResult:
    return lb.run("two-layer", scale="tiny", p=p, multi=multi, seeds=n_seeds, cache=False)


def _two_layer(multi: int, n_seeds: int) -> lb.TwoLayerResult:
    return _two_layer_p(multi, 0.0, n_seeds)


@pytest.mark.parametrize("multi", [2, 3])
def test_over_realized_student_covers_every_teacher(multi):
    """E4 (SS): at p = 0 an over-realized student specializes a node to every teacher node."""
    result = _two_layer(multi, 4)
    m = result.settings.m
    assert result.settings.multi == multi and m == 5
    covered = result.final_covered(0.95)
    assert covered.tolist() == [m] * 4, f"teachers covered at 0.95 per seed: {covered}"
    # specialization is real, not a threshold artefact: the best correlations are near 1
    assert result.teacher_best[-1].min() > 0.95
    assert result.teacher_best[0].max() < 0.9  # ... and were not at initialisation


def test_setting_claim_holds_and_frozen_control_fails():
    """E4.setting-covers-all at tiny scale (p = 0, multi = 2, 4 development seeds): every
    teacher covered (1.0 [1, 1]); the frozen student (step 0) covers none."""
    result = _two_layer(2, 4)
    report = result.claims()
    report.assert_holds(["E4.setting-covers-all"])
    assert report["E4.setting-covers-all"].stat.value == 1.0
    frozen = result.claims(control="frozen")
    frozen.assert_fails()
    assert frozen["E4.setting-covers-all"].stat.value == 0.0


def test_more_over_realization_covers_more_teachers():
    """E4 (SS/OC): a student as wide as the teacher (multi = 1) gets stuck more often.

    Measured at tiny scale with the released teacher (9 code values, output bias -0.1),
    τ = 0.95, p = 1, development seeds 0-7: multi = 5 covered all 5 teachers in 8/8 seeds,
    multi = 1 in 0/8 (mean 3.125). (With this teacher the old setting of this test, p = 0 and
    multi 2 vs 1, no longer separates at tiny scale: over seeds 0-15 multi = 1 covered 4.81
    and multi = 2 4.94 of 5, so the test moved to p = 1, the sweep's claim (ii).)
    """
    one = _two_layer_p(1, 1.0, 8).final_covered(0.95)
    five = _two_layer_p(5, 1.0, 8).final_covered(0.95)
    assert (five == 5).all(), five.tolist()
    assert one.mean() <= five.mean() - 1, (one.tolist(), five.tolist())
    assert (one < 5).sum() >= 4, one.tolist()
