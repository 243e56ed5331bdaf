"""E1, unlucky nodes lose their fan-out (and the lottery ticket): every registered claim and
its frozen control at ``tiny`` scale, the released student start and projection, the result's
analysis, figures and panels, CLI JSON and validation."""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error

import luckbook as lb
from luckbook import cli, panels, static
from luckbook.claims import claims_of
from luckbook.experiments import fanout
from luckbook.plots import fanout as plots
from luckbook.results.fanout import FanoutResult, geometric_mean

PNG = b"\x89PNG\r\n\x1a\n"


@functools.cache
def _fanout(dynamics: str, n_seeds: int = 3) -> FanoutResult:
    return lb.run("fanout", scale="tiny", dynamics=dynamics, seeds=n_seeds, cache=False)


def _geo(x: np.ndarray) -> float:
    return float(np.exp(np.log(x).mean()))


# ----------------------------------------------------------------------------- claims

IDS = [
    "E1.unlucky-decay",
    "E1.unlucky-shrunk",
    "E1.decay-contrast",
    "E1.unlucky-decay-sgd",
    "E1.unlucky-shrunk-sgd",
    "E1.decay-contrast-sgd",
]


def _fanout_report(control=None):
    return _fanout("projected-matrix").claims(control, other=_fanout("sgd"))


@pytest.mark.claim
def test_unlucky_nodes_lose_their_fanout():
    """E1 (LM): the never-specialized unlucky nodes' fan-out shrinks relative to its own start
    (median end/start < 0.1, most shrink tenfold) while the lucky nodes keep theirs, under both
    dynamics, at tiny scale."""
    report = _fanout_report()
    assert report.ids == IDS
    report.assert_holds(IDS)
    r = _fanout("projected-matrix")
    assert r.unlucky.tolist() == [False] * 8 + [True] * 8
    assert len(r.steps) >= 40 and r.steps[0] == 0 and r.steps[1] == 1
    never = r.never_specialized()
    assert never.sum() > 0 and not never[:, ~r.unlucky].any()
    ratio = r.fanout[-1] / r.fanout[0]
    assert report["E1.unlucky-decay"].stat.value == pytest.approx(np.median(ratio[never]))
    assert report["E1.unlucky-shrunk"].stat.value == pytest.approx((ratio[never] < 0.1).mean())
    assert np.median(r.fanout[-1][:, ~r.unlucky]) > 0.5  # the lucky nodes carry the output


@pytest.mark.claim
def test_fanout_controls_fail():
    """The frozen student (end = start: decay 1 by construction) and both control runs
    (different teacher, shuffled labels) fail every claim; the report shows them beside."""
    frozen = _fanout_report("frozen")
    frozen.assert_fails()
    for row in frozen.rows:
        expected = 0.0 if "shrunk" in row.claim.id else 1.0
        assert row.stat.value == pytest.approx(expected), frozen
    for name in ("different-teacher", "shuffled-labels"):
        control = _fanout_report(name)
        assert control.control == name
        control.assert_fails()
    trained = _fanout_report()
    for row in trained.rows:
        assert row.control_names == ["frozen", "different-teacher", "shuffled-labels"]
        assert row.control_fails, trained


@pytest.mark.claim
def test_untrained_released_top_layer_fails_the_decay_claims():
    """The review's case: an untrained student whose top layer starts near the teacher's
    (``top_scale=0.001``) already has an end-point ratio of medians in the hundreds, which
    passed the old claim; the decay claims see end = start and fail (decay 1, nothing
    shrank, contrast 1)."""
    assert lb.fanout_start_ratio("tiny", 3, top_scale=0.001) > 100
    r = lb.run("fanout", scale="tiny", seeds=3, top_scale=0.001, steps=60, retrain_steps=5)
    untrained = dataclasses.replace(r, fanout=np.repeat(r.fanout[:1], len(r.steps), axis=0))
    assert untrained.ratio() > 100  # the old statistic would pass
    report = untrained.claims(other=_untrained_sgd())
    for cid in IDS:
        assert report[cid].verdict == "does not hold", report
    assert report["E1.unlucky-decay"].stat.value == pytest.approx(1.0)
    assert report["E1.unlucky-shrunk"].stat.value == 0.0
    assert report["E1.decay-contrast"].stat.value == pytest.approx(1.0)


def _untrained_sgd() -> FanoutResult:
    r = lb.run(
        "fanout", scale="tiny", seeds=3, top_scale=0.001, steps=60, retrain_steps=5, dynamics="sgd"
    )
    return dataclasses.replace(r, fanout=np.repeat(r.fanout[:1], len(r.steps), axis=0))


def test_decay_statistics_on_synthetic_series():
    """Synthetic fan-out series: unlucky nodes that do not decay (flat, or shrinking only
    twofold) fail the decay claims; a decay shared by lucky and unlucky nodes alike passes the
    decay claim but fails the contrast; only an unlucky-specific tenfold decay passes all."""
    r = _fanout("projected-matrix")
    t = np.asarray(r.steps, dtype=float)[:, None, None]
    start = r.fanout[:1]
    frac = np.log1p(t) / np.log1p(t[-1])  # 0 at the start, 1 at the end

    def with_decay(lucky_end: float, unlucky_end: float) -> FanoutResult:
        end = np.where(r.unlucky, unlucky_end, lucky_end)[None, None, :]
        return dataclasses.replace(r, fanout=start * end**frac)

    def verdicts(res: FanoutResult) -> dict[str, str]:
        stats = res.claim_stats()
        claims = {c.id: c for c in claims_of("fanout")}
        return {cid: claims[cid].verdict(stats[cid]) for cid in IDS[:3]}

    flat = verdicts(with_decay(1.0, 1.0))
    assert set(flat.values()) == {"does not hold"}, flat
    twofold = verdicts(with_decay(1.0, 0.5))
    assert set(twofold.values()) == {"does not hold"}, twofold
    shared = verdicts(with_decay(0.01, 0.01))
    assert shared["E1.unlucky-decay"] == "holds"
    assert shared["E1.decay-contrast"] == "does not hold"
    specific = verdicts(with_decay(1.0, 0.01))
    assert set(specific.values()) == {"holds"}, specific
    series = with_decay(1.0, 0.01)
    np.testing.assert_allclose(series.decay()[:, r.unlucky], 0.01)
    np.testing.assert_allclose(series.decay(0), 1.0)


def test_fanout_report_without_partner_is_undefined():
    report = _fanout("projected-matrix").claims()
    assert report["E1.unlucky-decay-sgd"].verdict == "undefined"
    assert report["E1.unlucky-decay"].verdict != "undefined"
    with pytest.raises(ValueError, match="like this run"):
        _fanout("sgd").claims(other=_fanout("sgd"))


def test_fanout_claims_via_experiment():
    """``lb.claims("fanout")`` runs both dynamics on the given seeds and reports every claim;
    ``--control`` evaluates a control run alone."""
    small = {"steps": 300, "n_snapshots": 3, "retrain_steps": 20, "cache": False}
    report = lb.claims("fanout", scale="tiny", seeds=[5, 6], **small)
    assert report.ids == IDS and report.seeds == [5, 6]
    assert all(r.stat.defined and len(r.controls) == 3 for r in report.rows)
    control = lb.claims("fanout", scale="tiny", seeds=[5, 6], control="shuffled-labels", **small)
    assert control.control == "shuffled-labels" and all(r.stat.defined for r in control.rows)


def test_every_evidence_claim_names_a_control_that_could_pass():
    for claim in claims_of("fanout"):
        assert claim.kind == "evidence"
        assert set(claim.controls) - {"frozen"}, claim.id


def test_control_sources():
    """different-teacher trains on an independent teacher; shuffled-labels permutes each
    batch's targets (a permutation of the true targets), and the matrix gradient's teacher
    follows the same permutation (identity permutation = the teacher)."""
    seeds = [0, 1]
    cpu = torch.device("cpu")
    settings = fanout.FanoutSettings(m=4, c=5)
    teacher = fanout.e1_teacher(10, 4, 5, seeds, bias=0.0, dtype="float64", device=cpu)
    other = fanout.training_source(
        dataclasses.replace(settings, control="different-teacher"), teacher, seeds
    ).teacher
    assert not torch.allclose(other.weights[0], teacher.weights[0])
    shuffled = fanout.training_source(
        dataclasses.replace(settings, control="shuffled-labels"), teacher, seeds
    )
    plain = fanout.training_source(settings, teacher, seeds)
    for (x1, y), (x1p, yp) in zip(
        shuffled.batches(seeds, 3, 16), plain.batches(seeds, 3, 16), strict=True
    ):
        torch.testing.assert_close(x1, x1p)
        assert not torch.allclose(y, yp)
        torch.testing.assert_close(y.sort(dim=1).values, yp.sort(dim=1).values)
        torch.testing.assert_close(shuffled.teacher.forward(x1).out, y)
    ident = fanout.BatchPermuted(teacher.weights, perm=torch.arange(16).expand(2, 16))
    x1 = next(iter(plain.batches(seeds, 1, 16)))[0]
    torch.testing.assert_close(ident.forward(x1).out, teacher(x1))


@pytest.mark.claim
def test_lottery_ticket():
    """E1 lottery ticket (descriptive, not a registered claim): pruning small fan-out keeps
    every lucky node and costs almost no loss; retrained from its initial weights the ticket
    beats a random subnetwork of the same size."""
    for dynamics in fanout.DYNAMICS:
        result = _fanout(dynamics)
        assert (result.keep[:, ~result.unlucky]).all(), result.lottery_numbers()
        assert (result.keep.sum(1) == result.random_keep.sum(1)).all()
        assert (result.loss_after_prune <= 1e-3 * result.eval_loss[0]).all(), (
            result.lottery_numbers()
        )
        assert _geo(result.ticket_loss[-1]) < _geo(result.random_loss[-1]), result.lottery_numbers()


def test_e1_student_layout():
    teacher = fanout.e1_teacher(
        10, 6, 7, [0, 1], bias=0.0, dtype="float64", device=torch.device("cpu")
    )
    for w in teacher.weights:  # every column, bias included, unit norm
        torch.testing.assert_close(w.norm(dim=1), torch.ones(2, w.shape[2], dtype=w.dtype))
    student = fanout.e1_student(teacher, 2, [0, 1], init_scale=0.1, top_scale=0.1)
    w1, w2 = student.weights
    torch.testing.assert_close(w1.norm(dim=1), torch.ones(2, 12, dtype=w1.dtype))
    cos = (w1[:, :, :6] * teacher.weights[0]).sum(1)  # lucky columns point at their teacher
    assert cos.min() > 0.8
    assert (w1[:, :, 6:] * teacher.weights[0]).sum(1).abs().max() < 0.8
    # released top layer: rows 0-5 near the teacher's fan-out rows, every column unit norm
    torch.testing.assert_close(w2.norm(dim=1), torch.ones(2, 7, dtype=w2.dtype))
    t2 = teacher.weights[1]
    assert float((w2[:, :6] - t2[:, :6]).abs().max()) < 0.5
    fan = lb.fanout_norms(w2)
    assert float(fan[:, :6].min()) > 2 * float(fan[:, 6:].max())
    # the old start: pure noise of scale top_scale (bias row included), not normalised
    old = fanout.e1_student(
        teacher, 2, [0, 1], init_scale=0.1, top_scale=0.02, top_init="noise"
    ).weights[1]
    assert 0.01 < float(old.std()) < 0.03
    same = fanout.e1_student(
        teacher, 2, [0, 1], init_scale=0.1, top_scale=0.1, top_init="noise"
    ).weights[1]
    torch.testing.assert_close(old * 5, same)
    with pytest.raises(ValueError, match="top_init='teacher'"):
        fanout.e1_student(teacher, 2, [0, 1], init_scale=0.1, top_scale=0.1, top_init="teacher")


def test_projected_dynamics_keeps_every_column_unit():
    """Released dynamics: after each step every column of every layer (top included) is unit."""
    seeds = [0, 1]
    teacher = fanout.e1_teacher(
        10, 5, 6, seeds, bias=0.0, dtype="float64", device=torch.device("cpu")
    )
    for top_init, top_unit in (("teacher_noise", True), ("noise", False)):
        student = fanout.e1_student(
            teacher, 2, seeds, init_scale=0.1, top_scale=0.1, top_init=top_init
        )
        method, step_fn = fanout.update_rule(
            "projected-matrix", teacher, project_top_layer=top_init == "teacher_noise"
        )
        lb.train(
            student,
            lb.FreshGaussian(teacher),
            seeds,
            lr=0.05,
            steps=30,
            batch=16,
            method=method,
            step_fn=step_fn,
        )
        w1, w2 = student.weights
        torch.testing.assert_close(w1.norm(dim=1), torch.ones_like(w1.norm(dim=1)))
        top_norms = w2.norm(dim=1)
        assert torch.allclose(top_norms, torch.ones_like(top_norms)) == top_unit


@pytest.mark.parametrize("dynamics", fanout.DYNAMICS)
def test_pruned_nodes_stay_pruned(dynamics):
    """The lottery retraining relies on it: a zeroed node gets zero update under both dynamics."""
    seeds = [0, 1]
    teacher = fanout.e1_teacher(
        10, 5, 6, seeds, bias=0.0, dtype="float64", device=torch.device("cpu")
    )
    student = fanout.e1_student(teacher, 2, seeds, init_scale=0.1, top_scale=0.1)
    keep = torch.ones(2, 10, dtype=torch.bool)
    keep[0, 7] = keep[1, 2] = False
    net = student.prune(0, keep)
    method, step_fn = fanout.update_rule(dynamics, teacher)
    lb.train(
        net,
        lb.FreshGaussian(teacher),
        seeds,
        lr=0.05,
        steps=50,
        batch=16,
        method=method,
        step_fn=step_fn,
    )
    assert net.weights[0][0, :, 7].abs().max() == 0 and net.weights[1][0, 7].abs().max() == 0
    assert net.weights[0][1, :, 2].abs().max() == 0 and net.weights[1][1, 2].abs().max() == 0
    assert net.weights[0][0, :, 2].abs().max() > 0


def test_figures_render_with_alt_text():
    f, g = _fanout("projected-matrix"), _fanout("sgd")
    figures = [
        plots.fanout_traces(f),
        plots.fanout_frame(f, int(f.steps[3])),
        plots.fanout_panel(f),
        plots.dynamics_comparison(f, g),
        plots.lottery_figure(f),
        plots.fanout_controls(f),
    ]
    for fig in figures:
        assert fig._repr_png_().startswith(PNG)
        assert len(fig.alt) > 60
    never = f.never_specialized()
    assert f"median {np.median(f.decay()[never]):.2g} times" in figures[0].alt
    assert "different-teacher" in figures[-1].alt and "shuffled-labels" in figures[-1].alt


# ----------------------------------------------------------------------------- result analysis


def test_result_analysis_helpers():
    """The analysis the chapter calls: copies, interval text, the checked lottery numbers."""
    r = _fanout("projected-matrix")
    fan = r.fanout[-1]
    expected = sum(
        int((r.unlucky & (fan[s] >= 0.01 * fan[s].max())).sum()) for s in range(len(r.seeds))
    )
    assert r.copies() == expected and r.copies(1e-12) == int(r.unlucky.sum()) * len(r.seeds)
    stat = r.ratio_stat()
    assert r.ratio_interval().startswith("[") and stat.ci_low <= r.ratio() <= stat.ci_high
    text = r.check_lottery()
    assert text.splitlines()[0] == "every lucky node kept: True" and len(text.splitlines()) == 4
    assert geometric_mean(np.array([1e-2, 1e-4])) == pytest.approx(1e-3)
    np.testing.assert_allclose(geometric_mean(np.array([[1.0, 4.0]]), axis=1), [2.0])
    worse = dataclasses.replace(r, ticket_loss=r.random_loss * 2)
    with pytest.raises(AssertionError, match="did not beat a random subnetwork"):
        worse.check_lottery()
    teacher, init, student = r.networks()
    assert teacher.widths == [10, 8, 12] and init.widths == student.widths == [10, 16, 12]
    head = list(r.to_json())[:5]
    assert head == ["experiment", "settings", "device", "wall_time_s", "steps"]
    assert r.summary().splitlines()[1] == r.made()


def test_flat_names():
    assert lb.FanoutResult is FanoutResult and lb.FanoutSettings is fanout.FanoutSettings
    assert lb.fanout_panel is plots.fanout_panel and lb.lottery_figure is plots.lottery_figure


def test_registered_panels_render_at_tiny_scale():
    """The chapter's live panel opens by name; the scrubber panel renders with its prompt."""
    r = _fanout("projected-matrix")
    question, answer = panels.get(panels.Frames, "fanout").predict
    assert question.endswith("?") and len(answer) > 80
    scrubber = static.time_scrubber(r, plots.fanout_frame, every=16)  # a few frames: fast
    assert isinstance(scrubber, static.StaticPanel) and len(scrubber.frames) >= 3
    pytest.importorskip("ipywidgets")
    tiny = {"steps": 300, "n_snapshots": 3, "retrain_steps": 20}
    live = lb.explorer("fanout", scale="tiny", seeds=1, autorun=False, **tiny)
    assert {s.description for s in live.children[0].children} == {
        "init_scale",
        "top_scale",
        "multi",
        "lr",
    }


# ----------------------------------------------------------------------------- CLI and validation

FANOUT_RUN = [
    "run",
    "fanout",
    "--scale",
    "tiny",
    "--set",
    "steps=300",
    "--set",
    "n_snapshots=3",
    "--set",
    "retrain_steps=50",
    "--set",
    "dynamics=sgd",
    "--seeds",
    "2",
]


def test_cli_fanout_json(capsys):
    assert cli.main([*FANOUT_RUN, "--json", "-", "--no-cache"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["experiment"] == "fanout" and data["scale"] == "tiny"
    s = data["settings"]
    assert s["steps"] == 300 and s["retrain_steps"] == 50 and s["dynamics"] == "sgd" and s["m"] == 8
    assert data["ratio"] == pytest.approx(
        data["median_fanout_lucky"] / data["median_fanout_unlucky"]
    )
    assert [row["seed"] for row in data["seeds"]] == [0, 1]
    for row in data["seeds"]:
        assert len(row["fanout"]) == 16 and sum(row["unlucky"]) == 8
        assert row["eval_loss"] > 0 and row["ticket_loss"] > 0 and row["random_subnetwork_loss"] > 0


BAD = [
    (["run", "fanout", "--scale", "tiny", "--set", "multi=1"], "multi=1"),
    (["run", "fanout", "--scale", "tiny", "--set", "dynamics=adam"], "dynamics='adam'"),
    (["run", "fanout", "--scale", "tiny", "--set", "init_scale=0"], "init_scale=0"),
    (["run", "fanout", "--scale", "tiny", "--set", "top_scale=-1"], "top_scale=-1"),
    (["run", "fanout", "--scale", "tiny", "--set", "top_init=zero"], "top_init='zero'"),
    (["run", "fanout", "--scale", "tiny", "--set", "prune_below=1"], "prune_below=1"),
    (["run", "fanout", "--scale", "tiny", "--set", "retrain_steps=0"], "retrain_steps=0"),
    (["run", "fanout", "--scale", "tiny", "--set", "lr=nan"], "lr=nan"),
    (["run", "fanout", "--scale", "tiny", "--set", "steps=5"], "n_snapshots=48"),
    (["run", "fanout", "--scale", "tiny", "--set", "control=none2"], "control='none2'"),
]


@pytest.mark.parametrize("args, text", BAD, ids=[" ".join(a[1:]) for a, _ in BAD])
def test_bad_input_names_the_parameter(capsys, args, text):
    assert_one_line_error(capsys, args, text)


def test_validation_in_python_api():
    with pytest.raises(ValueError, match="multi=1"):
        lb.run("fanout", scale="tiny", multi=1, cache=False)
    with pytest.raises(ValueError, match="dynamics='adam'"):
        fanout.update_rule("adam", None)
