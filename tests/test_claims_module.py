"""The claims machinery: bootstrap over seeds, verdicts, reports, JSON and the CLI contract."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import luckbook as lb
from luckbook.claims import (
    CLAIMS,
    Claim,
    ClaimReport,
    ClaimRow,
    ControlStat,
    Stat,
    bootstrap,
    pooled_median,
    seed_mean,
)

CLAIM = Claim(
    id="EX.demo",
    experiment="demo",
    source="nowhere",
    statement="x is large",
    statistic="mean of x over seeds",
    threshold=1.0,
    direction=">",
)


def test_held_out_block_is_disjoint_from_development_seeds():
    assert lb.held_out_seeds(3) == [5000, 5001, 5002]
    assert min(lb.held_out_seeds(64)) >= lb.HELD_OUT_START
    with pytest.raises(ValueError, match="n=0 is not allowed"):
        lb.held_out_seeds(0)


def test_bootstrap_resamples_seeds_not_nodes():
    """Two seeds with many nodes each: the interval reflects the two seed values only."""
    per_seed = [np.full(1000, 1.0), np.full(1000, 3.0)]
    stat = bootstrap(per_seed, pooled_median)
    assert stat.value == 2.0
    # a resample is {1,1}, {1,3} or {3,3}: medians 1, 2 or 3 — nothing else is possible
    assert stat.ci_low == 1.0 and stat.ci_high == 3.0
    assert stat.n_seeds == 2


def test_bootstrap_is_deterministic_and_one_seed_has_a_point_interval():
    vals = np.random.default_rng(0).normal(size=8)
    assert seed_mean(vals) == seed_mean(vals)
    one = seed_mean([2.5])
    assert (one.value, one.ci_low, one.ci_high) == (2.5, 2.5, 2.5)
    lo, hi = seed_mean(vals).ci_low, seed_mean(vals).ci_high
    assert lo < vals.mean() < hi


def test_bootstrap_undefined_statistic():
    stat = bootstrap([np.array([]), np.array([])], pooled_median)
    assert math.isnan(stat.value)
    with pytest.raises(ValueError, match="per_seed"):
        bootstrap([], pooled_median)


@pytest.mark.parametrize(
    ("stat", "verdict"),
    [
        (Stat(2.0, 1.5, 2.5, 4), "holds"),
        (Stat(0.5, 0.2, 0.8, 4), "does not hold"),
        (Stat(1.2, 0.9, 1.5, 4), "inconclusive"),
        (Stat(0.9, 0.8, 1.1, 4), "inconclusive"),
        (Stat(1.0, 1.0, 1.0, 4), "does not hold"),  # strict: 1.0 is not > 1.0
        (Stat(math.nan, math.nan, math.nan, 4), "undefined"),
        (Stat(2.0, math.nan, math.nan, 4), "inconclusive"),
    ],
)
def test_verdicts(stat, verdict):
    assert CLAIM.verdict(stat) == verdict
    below = dataclasses.replace(CLAIM, direction="<")
    flipped = {"holds": "does not hold", "does not hold": "holds"}
    if verdict in flipped and stat.value != 1.0:
        assert below.verdict(stat) == flipped[verdict]


def test_claim_refuses_a_bad_direction():
    with pytest.raises(ValueError, match="direction='>='"):
        dataclasses.replace(CLAIM, direction=">=")


def _report(stat: Stat, control: Stat | None) -> ClaimReport:
    return ClaimReport(
        experiment="demo",
        scale="tiny",
        seeds=[1000, 1001, 1002],
        device="cpu",
        control=None,
        control_name="frozen student",
        wall_time_s=1.0,
        rows=[ClaimRow(CLAIM, stat, () if control is None else (ControlStat("frozen", control),))],
    )


def test_report_prints_value_interval_threshold_verdict_and_control():
    report = _report(Stat(2.0, 1.5, 2.5, 3, detail="3 seeds"), Stat(0.1, 0.0, 0.2, 3))
    text = str(report)
    for part in ("EX.demo", "[1.5, 2.5]", "> 1", "holds", "frozen 0.1 does not hold", "1000–1002"):
        assert part in text, part
    assert "holds" in report._repr_html_()
    report.assert_holds()
    with pytest.raises(AssertionError, match="EX.demo"):
        report.assert_fails()


def test_assert_holds_fails_when_the_control_passes_too():
    report = _report(Stat(2.0, 1.5, 2.5, 3), Stat(3.0, 2.0, 4.0, 3))
    assert report["EX.demo"].control_fails is False
    with pytest.raises(AssertionError, match="control frozen passes"):
        report.assert_holds()
    with pytest.raises(AssertionError, match="inconclusive"):
        _report(Stat(1.2, 0.9, 1.5, 3), None).assert_holds()


def test_report_json_fields():
    data = _report(Stat(2.0, 1.5, 2.5, 3), Stat(0.1, 0.0, 0.2, 3)).to_json()
    assert {"experiment", "scale", "seeds", "control", "claims"} <= set(data)
    row = data["claims"][0]
    for key in (
        "id",
        "statistic",
        "value",
        "ci_low",
        "ci_high",
        "threshold",
        "direction",
        "verdict",
    ):
        assert key in row
    assert row["verdict"] == "holds" and row["control_fails"] is True
    assert row["kind"] == "evidence" and row["expected"] == "holds" and row["as_predicted"]
    assert row["controls"] == [
        {"name": "frozen", "value": 0.1, "ci_low": 0.0, "ci_high": 0.2, "verdict": "does not hold"}
    ]
    json.dumps(data)  # plain JSON
    nan = _report(Stat(math.nan, math.nan, math.nan, 3), None).to_json()
    assert nan["claims"][0]["value"] is None


def test_registry_records_are_complete_and_point_at_experiments():
    for cid, c in CLAIMS.items():
        assert cid == c.id and c.key.startswith("E"), cid
        assert c.experiment in lb.REGISTRY, cid
        for field in ("source", "statement", "statistic"):
            assert getattr(c, field).strip(), (cid, field)
        assert "arXiv" in c.source or "LM" in c.source or "SS" in c.source or "DC" in c.source


def test_unknown_claim_and_control_are_refused():
    with pytest.raises(ValueError, match="claim='nope' is not allowed"):
        lb.get_claim("nope")
    with pytest.raises(ValueError, match="control='nope' is not allowed"):
        lb.claims("two-layer", scale="tiny", control="nope")


def test_require_asserts_at_the_registered_scales_only(capsys):
    """A chapter's claim cell asserts at book (and paper) scale; at tiny it only reports, so a
    tiny-scale book builds."""
    report = _report(Stat(0.2, 0.1, 0.3, 3), None)  # a claim that does not hold
    with pytest.raises(AssertionError):
        dataclasses.replace(report, scale="book").require()
    report.require()  # tiny
    assert "shown, not asserted" in capsys.readouterr().out


def test_require_asserts_the_prediction_not_holding():
    """A claim registered as 'does not hold' passes its chapter's cell when it does not hold,
    and fails it when it holds."""
    no = dataclasses.replace(CLAIM, expected="does not hold")
    report = dataclasses.replace(_report(Stat(0.2, 0.1, 0.3, 3), None), scale="book")
    dataclasses.replace(report, rows=[ClaimRow(no, Stat(0.2, 0.1, 0.3, 3))]).require()
    with pytest.raises(AssertionError, match="predicted 'does not hold', came out 'holds'"):
        dataclasses.replace(report, rows=[ClaimRow(no, Stat(2.0, 1.5, 2.5, 3))]).require()


def test_kind_and_prediction_are_checked():
    with pytest.raises(ValueError, match="kind='fact'"):
        dataclasses.replace(CLAIM, kind="fact")
    with pytest.raises(ValueError, match="expected='maybe'"):
        dataclasses.replace(CLAIM, expected="maybe")
