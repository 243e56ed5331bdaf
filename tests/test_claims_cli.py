"""``luckbook claims``: the report, its JSON, the control, exit codes 0/1/2, for every
experiment that registers claims (at ``tiny`` scale, on the held-out seeds)."""

from __future__ import annotations

import json

import pytest

from luckbook import cli
from luckbook.claims import CLAIMS, claims_of
from luckbook.reproducibility import CHAPTERS

WITH_CLAIMS = sorted({c.experiment for c in CLAIMS.values()})
# The CLI round trip for one experiment per kind of control (null variants, frozen student,
# large initialisation) and a report= hook; every experiment's own tests check each claim
# and its control at tiny scale through the same result.claims().
CLI_SAMPLE = ["gradient-relation", "two-layer", "two-layer-sweep", "directional"]


@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_claims_json_and_frozen_control(name, capsys):
    code = cli.main(["claims", name, "--scale", "tiny", "--json", "-"])
    data = json.loads(capsys.readouterr().out)
    assert code == (0 if all(c["verdict"] == "holds" for c in data["claims"]) else 1)
    assert data["experiment"] == name and data["scale"] == "tiny" and data["control"] is None
    assert min(data["seeds"]) >= 1000  # the held-out block
    ids = [c["id"] for c in data["claims"]]
    assert ids == [c.id for c in claims_of(name)]
    for row in data["claims"]:
        assert {
            "id",
            "statistic",
            "value",
            "ci_low",
            "ci_high",
            "threshold",
            "direction",
            "verdict",
        } <= set(row)
    control = data.get("control_name", "")
    assert control
    # the control, from the same (cached) run: no claim holds for it
    ctrl = cli.main(
        ["claims", name, "--scale", "tiny", "--control", _first_control(name), "--json", "-"]
    )
    cdata = json.loads(capsys.readouterr().out)
    assert ctrl == 1
    holding = [
        c["id"] for c in cdata["claims"] if c["verdict"] == "holds" and _has_control(c["id"])
    ]
    assert not holding, f"the control passes {holding}"


def _has_control(claim_id: str) -> bool:
    return bool(CLAIMS[claim_id].control)


def _first_control(name: str) -> str:
    from luckbook.experiments import get_experiment

    return get_experiment(name).controls[0]


def test_claims_prints_a_table(capsys):
    if not WITH_CLAIMS:
        pytest.skip("no claims registered")
    name = WITH_CLAIMS[0]
    cli.main(["claims", name, "--scale", "tiny"])
    out = capsys.readouterr().out
    assert "90 % interval" in out and "verdict" in out and "control" in out


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["claims", "nope"], "experiment='nope'"),
        (["claims", "two-layer", "--scale", "tiny", "--control", "nope"], "control='nope'"),
        (["claims", "two-layer", "--scale", "huge"], "--scale='huge'"),
        (["claims", "two-layer", "--scale", "tiny", "--seeds", "x"], "--seeds='x'"),
        (["claims", "two-layer", "--scale", "tiny", "--set", "multi=0"], "multi=0"),
    ],
)
def test_claims_bad_input_is_one_line_exit_2(args, text, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert text in err and err.count("\n") == 1


def test_every_experiment_with_claims_has_a_chapter():
    assert set(WITH_CLAIMS) <= set(CHAPTERS)


def test_experiment_controls_match_the_result_class():
    """`luckbook claims --control` accepts exactly the controls the result class computes,
    and the registered result class is the one `compute` returns."""
    from luckbook.experiments import REGISTRY
    from luckbook.result import Result

    for name in WITH_CLAIMS:
        exp = REGISTRY[name]
        assert issubclass(exp.result_cls, Result) and exp.result_cls is not Result, name
        assert exp.result_cls.EXPERIMENT == name
        runs = tuple(n for n in exp.run_controls if n not in exp.result_cls.CONTROLS)
        assert tuple(exp.controls) == tuple(exp.result_cls.CONTROLS) + runs, name
