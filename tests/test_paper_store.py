"""Paper-scale runs stored as data (luckbook.paper_store, luckbook.replay).

A small store is made once per module from an experiment whose ``paper`` preset is replaced
by its ``tiny`` one; the package's own stored runs are checked at the end: they load without
pickles, re-evaluate to the stored report with no training, and one slice of one of them is
recomputed and compared.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import luckbook as lb
from luckbook import cli, paper_store, replay
from luckbook.experiments import REGISTRY

EXP = "fanout"
SEEDS = [5000, 5001, 5002]
ORIGINAL = dict(REGISTRY)  # the module's store fixture stands tiny settings in for EXP's paper


def _tiny_as_paper(name: str) -> lb.experiments.Experiment:
    exp = REGISTRY[name]
    return dataclasses.replace(
        exp,
        presets={**exp.presets, "paper": {**exp.presets["tiny"], "steps": 300}},
        default_seeds={**exp.default_seeds, "paper": len(SEEDS)},
    )


def _boom(*args, **kwargs):
    raise AssertionError("a stored report must not train")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A paper store with one experiment (tiny settings standing in for the paper's)."""
    folder = tmp_path_factory.mktemp("paper-store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LUCKBOOK_PAPER_STORE", str(folder))
        mp.setenv("LUCKBOOK_CACHE", "off")
        mp.setitem(REGISTRY, EXP, _tiny_as_paper(EXP))
        record = paper_store.refresh(EXP)
        yield folder, record


@pytest.fixture
def in_store(store, monkeypatch):
    folder, record = store
    monkeypatch.setenv("LUCKBOOK_PAPER_STORE", str(folder))
    monkeypatch.setenv("LUCKBOOK_CACHE", "off")
    monkeypatch.setitem(REGISTRY, EXP, _tiny_as_paper(EXP))
    return folder, record


def test_a_refresh_stores_every_run_as_data_with_its_provenance(in_store):
    folder, record = in_store
    assert record.seeds == SEEDS and record.scale == "paper"
    assert len(record.runs) >= 2  # the main run and its control runs
    assert record.runs[0]["settings"] == json.loads(
        json.dumps(lb.cache._jsonable(REGISTRY[EXP].settings("paper")))
    )
    for entry in record.runs:
        with np.load(folder / EXP / entry["file"], allow_pickle=False) as z:
            assert all(z[k] is not None for k in z.files)
        assert entry["wall_time_s"] > 0 and entry["threads"] >= 1
    assert record.commit and record.device == "cpu" and "cores" in record.device_model
    assert record.fingerprint == paper_store.code_fingerprint(EXP)
    assert paper_store.status(EXP) == "current"
    assert paper_store.stored() == [EXP]


def test_the_report_is_re_evaluated_from_the_stored_arrays_without_training(in_store, monkeypatch):
    _, record = in_store
    paper_store._report.cache_clear()
    monkeypatch.setitem(REGISTRY, EXP, dataclasses.replace(REGISTRY[EXP], compute=_boom))
    report = paper_store.report(EXP)
    assert report.scale == "paper" and report.seeds == SEEDS
    stored = {c["id"]: c for c in record.report["claims"]}
    for row in report.rows:
        value = stored[row.claim.id]["value"]
        assert (value is None and not math.isfinite(row.stat.value)) or math.isclose(
            row.stat.value, value, rel_tol=1e-9, abs_tol=1e-12
        )
        assert row.verdict == stored[row.claim.id]["verdict"]


def test_a_missing_run_is_refused_not_trained(in_store, tmp_path, monkeypatch):
    folder, record = in_store
    copy = tmp_path / "store"
    import shutil

    shutil.copytree(folder, copy)
    (copy / EXP / record.runs[-1]["file"]).unlink()
    monkeypatch.setenv("LUCKBOOK_PAPER_STORE", str(copy))
    record2 = dataclasses.replace(record, runs=record.runs[:-1])
    paper_store._write_record(record2)
    paper_store._report.cache_clear()
    with pytest.raises(replay.NotStored, match="not stored"):
        paper_store.report(EXP)


def test_verify_recomputes_one_seed_and_sees_a_tampered_array(in_store, tmp_path, monkeypatch):
    folder, record = in_store
    check = paper_store.verify(EXP)
    assert check["ok"] and check["arrays"] >= 3 and check["seed"] == SEEDS[0]
    assert check["max_rel_diff"] <= paper_store.RTOL

    import shutil

    copy = tmp_path / "store"
    shutil.copytree(folder, copy)
    monkeypatch.setenv("LUCKBOOK_PAPER_STORE", str(copy))
    path = copy / EXP / record.runs[0]["file"]
    run = replay.read_run(path)
    leaves = paper_store._leaves(run.value)
    name, arr = next((k, v) for k, v in leaves.items() if v.ndim >= 2 and v.dtype.kind == "f")
    arr[...] = arr * 1.01 + 0.01  # the same object inside run.value
    replay.write_run(path, run)
    bad = paper_store.verify(EXP)
    assert not bad["ok"] and name in bad["mismatched"]


def test_status_says_stale_when_the_code_or_the_preset_changed(in_store, tmp_path, monkeypatch):
    folder, record = in_store
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(folder, copy)
    monkeypatch.setenv("LUCKBOOK_PAPER_STORE", str(copy))
    paper_store._write_record(dataclasses.replace(record, fingerprint="0" * 16 + "-" + "0" * 16))
    assert paper_store.status(EXP).startswith("stale: the package's computing code changed")
    paper_store.verify(EXP, write=True)
    assert paper_store.status(EXP) == "current"
    exp = REGISTRY[EXP]
    monkeypatch.setitem(
        REGISTRY,
        EXP,
        dataclasses.replace(exp, presets={**exp.presets, "paper": {**exp.presets["tiny"]}}),
    )
    assert paper_store.status(EXP).startswith("stale: the paper preset changed")


def test_a_book_report_shows_the_paper_column_and_where_verdicts_differ(in_store):
    report = REGISTRY[EXP].claims(scale="tiny", seeds=SEEDS[:2], cache=False)
    with_paper = REGISTRY[EXP]._with_paper_scale(report)
    assert with_paper.paper is not None
    text, page = str(with_paper), with_paper._repr_html_()
    assert "paper scale (value, verdict)" in text and "At paper scale (" in text
    assert "lb-claim-paper" in page
    rows = with_paper.to_json()["claims"]
    assert all("paper" in r for r in rows)
    diff = with_paper.paper_differences()
    assert all(with_paper[i].verdict == here for i, here, _ in diff)


def test_a_chapters_result_at_book_scale_on_the_held_out_seeds_shows_the_paper_column(
    in_store, monkeypatch
):
    exp = REGISTRY[EXP]
    as_book = dataclasses.replace(
        exp,
        presets={**exp.presets, "book": {**exp.presets["tiny"], "steps": 200}},
        default_seeds={**exp.default_seeds, "book": 2},
    )
    monkeypatch.setitem(REGISTRY, EXP, as_book)
    result = as_book.run(scale="book", seeds=as_book.claim_seeds("book"), cache=False)
    report = result.claims()  # what a chapter's claim cell calls
    assert report.scale == "book" and report.paper is not None
    assert "At paper scale (" in str(report) or not report.paper_differences()
    assert result.claims(control=result.control_names()[0]).paper is None
    other = as_book.run(scale="book", seeds=[int(s) + 1 for s in result.seeds], cache=False)
    assert other.claims().paper is None  # other seeds: not the book's run


def test_the_command_line_reports_verifies_and_refuses_bad_input(in_store, capsys):
    from tests.conftest import assert_one_line_error

    assert cli.main(["paper-results", EXP, "--json", "-"]) in (0, 1)
    out = json.loads(capsys.readouterr().out)
    assert out[EXP]["scale"] == "paper" and "held-out seeds" in out[EXP]["provenance"]
    assert cli.main(["paper-results", "--verify", EXP]) in (0, 1)
    assert "reproduced" in capsys.readouterr().out
    assert_one_line_error(capsys, ["paper-results", "nope"], "experiment='nope'")
    assert_one_line_error(capsys, ["paper-results", "lucky"], "experiment='lucky'")
    assert_one_line_error(capsys, ["paper-results", "--seeds", "3", EXP], "--seeds")
    assert_one_line_error(capsys, ["paper-results", "--refresh"], "--refresh")


# The package's own stored runs ---------------------------------------------------------

PACKAGED = sorted(p.parent.name for p in paper_store.STORE.glob(f"*/{paper_store.RECORD}"))


@pytest.mark.parametrize("name", PACKAGED)
def test_the_stored_paper_runs_reproduce_their_report_without_training(name, monkeypatch):
    monkeypatch.delenv("LUCKBOOK_PAPER_STORE", raising=False)
    monkeypatch.setitem(REGISTRY, name, ORIGINAL[name])
    record = paper_store.load_record(name)
    assert record is not None and record.report is not None
    for entry in record.runs:
        with np.load(paper_store.STORE / name / entry["file"], allow_pickle=False) as z:
            assert z.files
    paper_store._report.cache_clear()
    monkeypatch.setitem(REGISTRY, name, dataclasses.replace(ORIGINAL[name], compute=_boom))
    report = paper_store.report(name)
    stored = {c["id"]: c for c in record.report["claims"]}
    assert set(stored) == set(report.ids)
    for row in report.rows:
        value = stored[row.claim.id]["value"]
        assert (value is None and not math.isfinite(row.stat.value)) or math.isclose(
            row.stat.value, value, rel_tol=1e-9, abs_tol=1e-12
        ), row.claim.id
        assert row.verdict == stored[row.claim.id]["verdict"]


def test_the_cheapest_stored_run_is_reproduced_by_the_present_code(monkeypatch):
    """One seed of the stored run that is cheapest per seed, recomputed and compared within
    float tolerance: the stored data cannot silently go stale."""
    if not PACKAGED:
        pytest.skip("no paper-scale runs are stored in the package")
    monkeypatch.delenv("LUCKBOOK_PAPER_STORE", raising=False)

    def cost(name: str) -> float:  # seconds of the last verification, else per seed
        r = paper_store.load_record(name)
        if r.verified and r.verified.get("seconds"):
            return r.verified["seconds"]
        return r.runs[0]["wall_time_s"] / len(r.runs[0]["seeds"])

    for name in PACKAGED:
        monkeypatch.setitem(REGISTRY, name, ORIGINAL[name])
    name = min(PACKAGED, key=cost)
    check = paper_store.verify(name)
    assert check["ok"], check
