"""E8 (real-teacher): the digits and CIFAR-10 loaders, the claims at ``tiny`` scale with their
frozen control, batching, the chapter's numbers, figures and panels, CLI and validation."""

from __future__ import annotations

import functools
import json
import os
import pickle

import numpy as np
import pytest
import torch

import luckbook as lb
from luckbook import cli
from luckbook.digits import CIFAR_TEST, CIFAR_TRAIN, read_cifar_batch, student_inputs
from luckbook.plots.style import BookFigure
from luckbook.results.real_teacher import RealTeacherResult

# ----------------------------------------------------------------------------- data


def test_digits_split_is_seeded_and_standardised():
    a, b, c = lb.load_digits(0), lb.load_digits(0), lb.load_digits(1)
    assert a.x_train.shape == (1348, 64) and a.x_test.shape == (449, 64) and a.d == 64
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.y_test, c.y_test)
    assert a.x_train.mean(0).abs().max() < 1e-10
    live = a.x_train.std(0) > 0
    np.testing.assert_allclose(a.x_train.std(0)[live].numpy(), 1.0, rtol=1e-10)
    assert set(a.y_train.tolist()) == set(range(10))
    assert a.images(a.x_test).shape == (449, 1, 8, 8)
    with pytest.raises(ValueError, match="test_fraction=1.5 is not allowed"):
        lb.load_digits(0, test_fraction=1.5)


def _write_cifar(folder, n=6):
    """A tiny copy of CIFAR-10 in its official python format (a pickled dict per batch)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate((*CIFAR_TRAIN, CIFAR_TEST)):
        batch = {
            b"batch_label": f"batch {i}".encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img{j}.png".encode() for j in range(n)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)


def test_cifar10_loader_reads_the_python_batches(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder)
    data, labels = read_cifar_batch(folder / "data_batch_1")
    assert data.shape == (6, 3072) and data.dtype == np.uint8 and labels.shape == (6,)
    d = lb.load_cifar10(folder)
    assert d.x_train.shape == (30, 3072) and d.x_test.shape == (6, 3072)
    assert d.shape == (3, 32, 32) and d.images(d.x_test).shape == (6, 3, 32, 32)
    assert d.x_train.mean(0).abs().max() < 1e-10
    monkeypatch.setenv("LUCKBOOK_CIFAR10", str(folder))
    assert torch.equal(lb.load_cifar10().x_test, d.x_test)
    assert lb.load_cifar10(grey=True).d == 1024


def test_cifar10_loader_refuses_code_and_missing_files(tmp_path, monkeypatch):
    monkeypatch.delenv("LUCKBOOK_CIFAR10", raising=False)
    with pytest.raises(ValueError, match="no CIFAR-10 folder"):
        lb.load_cifar10()
    with pytest.raises(ValueError, match="lacks data_batch_1"):
        lb.load_cifar10(tmp_path)
    evil = tmp_path / "evil"

    class Boom:
        def __reduce__(self):
            return (os.getcwd, ())  # any callable: the unpickler must refuse to import it

    evil.write_bytes(pickle.dumps({b"data": Boom(), b"labels": []}))
    with pytest.raises(ValueError, match="refusing posix.getcwd|refusing os.getcwd|refusing nt"):
        read_cifar_batch(evil)
    wrong = tmp_path / "wrong"
    wrong.write_bytes(pickle.dumps({b"data": np.zeros((2, 5), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(ValueError, match="expected \\[N, 3072\\]"):
        read_cifar_batch(wrong)


def test_e8_runs_on_a_local_cifar10(tmp_path):
    folder = tmp_path / "cifar"
    _write_cifar(folder, n=8)
    r = lb.run(
        "real-teacher",
        scale="tiny",
        seeds=[0],
        dataset="cifar10",
        cifar10=str(folder),
        n_train=64,
        steps=20,
        n_snapshots=2,
        teacher_epochs=1,
        teacher_batch=8,
        cache=False,
    )
    assert r.cell("real", 4).teacher_best[0].shape == (3, 1, 12)
    with pytest.raises(ValueError, match="dataset='cifar10' is not allowed without a copy"):
        lb.get_experiment("real-teacher").settings("tiny", dataset="cifar10", cifar10="")


# ----------------------------------------------------------------------------- the claims


@functools.cache
def _tiny() -> RealTeacherResult:
    return lb.run("real-teacher", scale="tiny", cache=False)


@pytest.mark.claim
@pytest.mark.parametrize(
    "claim", ["E8.real-lowest-layer", "E8.gaussian-lowest-layer", "E8.more-multi"]
)
def test_claim_holds_and_frozen_fails(claim):
    """At tiny scale (one hidden layer of 12, multi 1 and 4, 3 seeds): digits 0.94, more-multi
    0.19."""
    report = _tiny().claims()
    print(report)
    assert report[claim].verdict == "holds"
    assert report[claim].controls[0].name == "frozen"
    _tiny().claims(control="frozen").assert_fails([claim])


def test_different_teacher_control_learns_from_an_independent_teacher():
    """The control's students regress an independently initialised teacher (same data, same
    recipe); scored against the original teacher they cover less of its lowest layer."""
    settings = dict(seeds=[0, 1], steps=400, n_train=500, teacher_epochs=5, multis=(2,))
    main = lb.run("real-teacher", scale="tiny", **settings)
    control = main.control_result("different-teacher")
    assert control.settings.control == "different-teacher"
    np.testing.assert_allclose(control.teacher_acc, main.teacher_acc)  # scored on the original
    for a, b in zip(control.teacher, main.teacher, strict=True):
        np.testing.assert_array_equal(a, b)
    for key, cell in main.cells.items():  # its students fit the original teacher worse
        assert control.cells[key].eval_loss[-1].mean() > cell.eval_loss[-1].mean(), key
    with pytest.raises(ValueError, match="control='x' is not allowed"):
        lb.get_experiment("real-teacher").settings("tiny", control="x")


def test_teacher_is_trained_and_seeds_are_separable():
    r = _tiny()
    assert (r.teacher_acc > 0.85).all(), r.teacher_acc
    alone = lb.run("real-teacher", scale="tiny", seeds=[r.seeds[1]], cache=False)
    np.testing.assert_allclose(alone.teacher_acc[0], r.teacher_acc[1])
    np.testing.assert_allclose(
        alone.cell("real", 4).teacher_best[0][:, 0],
        r.cell("real", 4).teacher_best[0][:, 1],
        atol=1e-4,
    )


def test_gaussian_inputs_have_the_digits_covariance():
    data = lb.load_digits(0)
    x = student_inputs("gaussian", data, 20_000, 0.1, [0])[0]
    cov = torch.cov(x.T)
    assert (cov - data.covariance()).abs().max() < 0.1
    d = student_inputs("real", data, 20_000, 0.1, [0])[0]
    assert torch.equal(d[: len(data.x_train)], data.x_train)  # the first copy is clean
    assert d.shape == (20_000, 64) and not torch.equal(d[len(data.x_train) :][:5], d[:5])
    with pytest.raises(ValueError, match="kind='mnist' is not allowed"):
        student_inputs("mnist", data, 10, 0.1, [0])


def test_result_rebuilds_its_inputs_and_teacher():
    r = _tiny()
    x = r.inputs("gaussian")
    assert x.shape == (len(r.seeds), r.settings.n_train, 64)
    data = lb.load_digits(r.settings.split_seed)
    expected = student_inputs("gaussian", data, r.settings.n_train, r.settings.noise, r.seeds)
    assert torch.equal(x, expected)
    teacher = r.teacher_net()
    assert teacher.widths == [64, 12, 10] and teacher.n_seeds == len(r.seeds)


def test_chapter_numbers():
    r = _tiny()
    numbers = r.glue_numbers()
    top, low = max(r.settings.multis), min(r.settings.multis)
    assert numbers["E8.top"] == top and numbers["E8.acc"] == float(r.teacher_acc.mean())
    for kind in ("real", "gaussian"):
        assert numbers[f"E8.{kind}.L0"] == float(r.covered_fraction(kind, top, 0).mean())
        assert numbers[f"E8.{kind}.L0.low"] == float(r.covered_fraction(kind, low, 0).mean())
        assert numbers[f"E8.{kind}.loss"] == float(r.cell(kind, top).eval_loss[-1].mean())


# ----------------------------------------------------------------------------- figures, CLI


def test_figures_and_static_frames():
    r = _tiny()
    for fig in (
        lb.real_teacher_coverage(r),
        lb.real_teacher_coverage_curves(r),
        lb.real_teacher_l_shape(r, "gaussian", 1),
        lb.real_teacher_cell(r, "real", 4),
    ):
        assert isinstance(fig, BookFigure) and len(fig.alt) > 40
    panel = lb.real_teacher_cells(r, scale="tiny")
    assert panel.names == ["input", "multi"] and len(panel.frames) == 4
    assert panel.initial == [0, 1]  # real inputs, the widest student
    assert "layer 0" in panel.frames["0,1"]["text"]
    assert 'lb.real_teacher_cell(result, "gaussian", 1)' in panel.frames["1,0"]["code"]
    assert panel.predict and "4 cells of one run" in panel.caption
    assert "Predict first" in panel._repr_html_()


def test_live_panel_runs_from_its_registration():
    pytest.importorskip("ipywidgets")
    panel = lb.explorer(
        "real-teacher",
        scale="tiny",
        seeds=1,
        autorun=False,
        n_train=64,
        steps=20,
        n_snapshots=2,
        teacher_epochs=1,
    )
    sliders_box, (button, status), out = (
        panel.children[0],
        panel.children[1].children,
        panel.children[2],
    )
    sliders = {s.description: s for s in sliders_box.children}
    assert set(sliders) == {"multi", "depth", "init_scale", "inputs"}
    assert sliders["multi"].value == (1, 2, 5)  # the same start at every scale
    sliders["multi"].value = (2,)
    sliders["inputs"].value = "real"
    button.click()
    assert status.value.startswith("done"), status.value
    assert len(out.outputs) == 1


def test_cifar10_runner_without_and_with_a_copy(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LUCKBOOK_CIFAR10", raising=False)
    assert lb.real_teacher_cifar10() is None
    assert "no local CIFAR-10" in capsys.readouterr().out
    folder = tmp_path / "cifar"
    _write_cifar(folder, n=8)
    monkeypatch.setenv("LUCKBOOK_CIFAR10", str(folder))
    small = {"n_train": 64, "steps": 20, "n_snapshots": 2, "teacher_epochs": 1}
    r = lb.real_teacher_cifar10(scale="tiny", seeds=[0], teacher_batch=8, **small)
    assert r.settings.dataset == "cifar10" and r.teacher_live[0].shape == (1, 12)
    out = capsys.readouterr().out
    assert "estimated time" in out and "real-teacher (E8): cifar10" in out


def test_cli_json_and_estimate(capsys, tmp_path):
    assert cli.main(["run", "real-teacher", "--scale", "tiny", "--estimate"]) == 0
    assert "estimated time" in capsys.readouterr().out
    out = tmp_path / "r.json"
    args = ["run", "real-teacher", "--scale", "tiny", "--seeds", "1", "--set", "steps=50"]
    assert cli.main([*args, "--set", "inputs=real", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["experiment"] == "real-teacher" and set(data["cells"]) == {"real/1", "real/4"}


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"depth": 4}, "depth=4 is not allowed"),
        ({"multis": (2, 2)}, "multis=(2, 2) is not allowed"),
        ({"inputs": "mnist"}, "inputs='mnist' is not allowed"),
        ({"dataset": "imagenet"}, "dataset='imagenet' is not allowed"),
        ({"noise": -0.1}, "noise=-0.1 is not allowed"),
        ({"n_snapshots": 10_000}, "n_snapshots=10000 is not allowed"),
    ],
)
def test_validation(overrides, text):
    with pytest.raises(ValueError, match=text.replace("(", r"\(").replace(")", r"\)")):
        lb.get_experiment("real-teacher").settings("tiny", **overrides)
