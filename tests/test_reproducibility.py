"""The generated reproducibility page and the introduction's claim map."""

from __future__ import annotations

import dataclasses

from luckbook import reproducibility as rep
from luckbook.claims import CLAIMS, Claim, ClaimReport, ClaimRow, ControlStat, Stat

CLAIM = Claim(
    id="EX.demo",
    experiment="two-layer",
    source="SS (arXiv:1909.13458), Fig. 1",
    statement="over-realized students cover every teacher",
    statistic="mean covered",
    threshold=9.5,
    direction=">",
    note="a note",
)


def _entry(stat: Stat, control: Stat | None = None) -> rep.Entry:
    report = ClaimReport(
        experiment="two-layer",
        scale="book",
        seeds=[1000, 1001],
        device="cpu",
        control=None,
        control_name="frozen student",
        wall_time_s=3.0,
        rows=[ClaimRow(CLAIM, stat, () if control is None else (ControlStat("frozen", control),))],
    )
    return rep.Entry("two-layer", report, 0.01)


def test_report_page_lists_value_interval_rule_control_and_verdict(monkeypatch):
    monkeypatch.setattr(rep, "claims_of", lambda name: [CLAIM] if name == "two-layer" else [])
    page = rep.report_html([_entry(Stat(10.0, 9.8, 10.0, 2), Stat(0.0, 0.0, 0.0, 2))])
    for part in (
        "EX.demo",
        "10<br>[9.8, 10]",
        "&gt; 9.5",
        "holds",
        "a note",
        "1000, 1001",
        "SS (arXiv:1909.13458), Fig. 1",
        "../notebooks/two_layer.html",
    ):
        assert part in page, part
    assert "passes it too" not in page
    for part in ("evidence", "predicted", "frozen: 0", "What does not hold"):
        assert part in page or part == "What does not hold", part
    assert "What does not hold" not in page  # everything holds here


def test_a_passing_control_and_a_failed_run_are_shown(monkeypatch):
    monkeypatch.setattr(rep, "claims_of", lambda name: [CLAIM])
    page = rep.report_html([_entry(Stat(10.0, 9.8, 10.0, 2), Stat(10.0, 10.0, 10.0, 2))])
    assert "the control frozen passes it too" in page and "What does not hold" in page
    failed = rep.report_html([rep.Entry("two-layer", None, 1.0, "RuntimeError: boom")])
    assert "The run failed" in failed and "boom" in failed


def test_map_has_one_row_per_claim_and_the_planned_ones(monkeypatch):
    monkeypatch.setattr(rep, "claims_of", lambda name: [CLAIM])
    html = rep.claims_map([_entry(Stat(9.0, 8.0, 9.6, 2))])
    assert html.count("<tr>") == 1 + 1 + len(rep.PLANNED)  # header, the claim, planned
    assert "inconclusive" in html and "reproducibility.html" in html
    assert ("planned" in html) == bool(rep.PLANNED)


def test_every_registered_claim_belongs_to_a_chapter():
    for claim in CLAIMS.values():
        assert claim.experiment in rep.CHAPTERS, claim.id


def test_counts():
    e = _entry(Stat(10.0, 9.8, 10.0, 2))
    assert rep.counts([e]) == {"holds": 1}
    bad = dataclasses.replace(e, report=None, error="x")
    assert rep.counts([bad]) == {"error": len(rep.claims_of("two-layer"))}
