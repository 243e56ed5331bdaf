"""E7 (bn-bias): the BatchNorm-bias check on models built here, state dicts from disk, the
claims at ``tiny`` scale with their frozen control, the chapter's numbers, figures, CLI and
validation."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import luckbook as lb
from luckbook import cli
from luckbook.experiments.bn_bias import coactivation
from luckbook.plots.style import BookFigure
from luckbook.results.bn_bias import BNBiasResult


def _vgg_like() -> nn.Sequential:
    """A torchvision-VGG-shaped stack (conv, BN, ReLU, pool) with known biases."""
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 5, 3, padding=1),
        nn.BatchNorm2d(5),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(5 * 4 * 4, 3),
        nn.BatchNorm1d(3),  # not followed by a ReLU
    )
    with torch.no_grad():
        net[1].bias.copy_(torch.tensor([-1.0, -2.0, 0.5, -0.1]))
        net[1].weight.copy_(torch.tensor([2.0, -1.0, 1.0, 0.5]))
        net[5].bias.copy_(torch.tensor([1.0, 1.0, -1.0, 0.0, 2.0]))
        net[9].bias.copy_(torch.tensor([-1.0, -1.0, -1.0]))
    return net


def test_bn_bias_stats_on_a_model_built_here():
    stats = lb.bn_bias_stats(_vgg_like())
    assert [s.name for s in stats] == ["1", "5", "9"]
    assert [s.channels for s in stats] == [4, 5, 3]
    assert [s.followed_by_relu for s in stats] == [True, True, False]
    assert stats[0].frac_negative == pytest.approx(0.75)
    assert stats[1].frac_negative == pytest.approx(0.2)  # 0 is not negative
    assert stats[0].bias_mean == pytest.approx(np.mean([-1, -2, 0.5, -0.1]))
    thr = np.array([-1 / 2, -2 / 1, 0.5 / 1, -0.1 / 0.5])
    assert stats[0].threshold_mean == pytest.approx(thr.mean())
    assert stats[0].threshold_std == pytest.approx(thr.std())
    # pooled over the ReLU-followed layers, channel-weighted: (3 + 1) / 9
    assert lb.fraction_negative(stats) == pytest.approx(4 / 9)
    assert lb.fraction_negative(stats, relu_only=False) == pytest.approx(7 / 12)
    assert "pooled over ReLU layers" in lb.bn_bias_table(stats)


def test_bn_bias_stats_from_a_state_dict_on_disk(tmp_path):
    """Weights the user has on disk: loaded into a model (a copy), or read alone."""
    trained = _vgg_like()
    path = tmp_path / "weights.pth"
    torch.save({"module." + k: v for k, v in trained.state_dict().items()}, path)
    fresh = _vgg_like()
    with torch.no_grad():
        fresh[1].bias.zero_()
    via_model = lb.bn_bias_stats(fresh, state_dict=path)
    assert via_model[0].frac_negative == pytest.approx(0.75)
    assert float(fresh[1].bias.detach().abs().sum()) == 0.0  # the user's model is not modified
    alone = lb.bn_bias_stats(str(path))
    assert [s.name for s in alone] == ["1", "5", "9"]
    assert [s.frac_negative for s in alone] == [s.frac_negative for s in via_model]
    assert all(s.followed_by_relu is None for s in alone)
    assert lb.fraction_negative(alone) == pytest.approx(7 / 12)  # unknown: every layer


def test_bn_bias_stats_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        lb.bn_bias_stats(tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="model=int is not allowed"):
        lb.bn_bias_stats(3)
    assert lb.bn_bias_stats(nn.Linear(2, 2)) == []
    assert math.isnan(lb.fraction_negative([]))


def test_toy_vgg_is_seeded_and_leaves_the_global_generator_alone():
    torch.manual_seed(7)
    before = torch.rand(3)
    torch.manual_seed(7)
    a, b, c = lb.toy_vgg(), lb.toy_vgg(), lb.toy_vgg(seed=1)
    assert torch.equal(torch.rand(3), before)
    assert torch.equal(a[1].bias, b[1].bias) and not torch.equal(a[1].bias, c[1].bias)
    stats = lb.bn_bias_stats(a)
    assert [s.channels for s in stats] == [8, 16]
    assert all(s.followed_by_relu for s in stats)
    assert lb.fraction_negative(stats) > 0.5  # biases drawn around -0.1


def test_coactivation_of_known_gates():
    g = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 1, 1], [1, 1, 1]], dtype=torch.float64)
    p, co = coactivation(g)
    np.testing.assert_allclose(p, [0.75, 0.75, 0.5])
    # pairs: (0,1) 2/4, (0,2) 1/4, (1,2) 2/4 -> mean 5/12
    assert co == pytest.approx(5 / 12)


# ----------------------------------------------------------------------------- the claims


@functools.cache
def _tiny() -> BNBiasResult:
    return lb.run("bn-bias", scale="tiny", cache=False)


def _small(**overrides) -> BNBiasResult:
    """Two seeds, two epochs at tiny scale (through the cache: the claims' reference runs are
    cached runs too)."""
    return lb.run("bn-bias", scale="tiny", seeds=2, epochs=2, **overrides)


@pytest.mark.claim
def test_claim_statistics_are_paired_differences_with_their_reference_runs():
    """E7's claims compare a run with its shuffled-labels and frozen-bias runs, seed by seed;
    the shuffled-labels control compares two *independent* permutations (not 0 by
    construction), and the frozen evaluation (step 0) gives 0."""
    r = _small()
    shuffled, fixed = r.reference("shuffled-labels"), r.reference("frozen-bias")
    assert shuffled.settings.control == "shuffled-labels" and shuffled.settings.shuffle_stream == 0
    assert fixed.settings.freeze_bias
    stats = r.claim_stats()
    for arch in ("cnn", "mlp"):
        neg = r.archs[arch].pooled_negative() - shuffled.archs[arch].pooled_negative()
        assert stats[f"E7.{arch}-learned-negative"].value == pytest.approx(neg.mean())
        ov = r.coact_change(arch) - fixed.coact_change(arch)
        assert stats[f"E7.{arch}-bias-overlap"].value == pytest.approx(ov.mean())
    again = shuffled.reference("shuffled-labels")
    assert again.settings.shuffle_stream == 1
    assert not np.array_equal(again.archs["mlp"].bias[0], shuffled.archs["mlp"].bias[0])
    assert fixed.reference("frozen-bias") is fixed  # its own reference
    frozen = r.claim_stats("frozen")
    assert all(v.value == 0.0 for v in frozen.values())
    report = r.claims()  # every claim shows its shuffled-labels control
    assert all(row.controls[0].name == "shuffled-labels" for row in report.rows)


@pytest.mark.claim
def test_claims_fail_where_labels_and_biases_make_no_difference():
    """Synthetic case where the claims are false: a run whose shuffled-labels and frozen-bias
    references are the run itself (mostly negative biases, falling overlap, but no
    difference to the references). Both statistics are 0 and every claim fails, although
    the unpaired numbers (most biases negative, overlap falling) look like the paper's."""
    import copy

    r = copy.copy(_small())
    r.reference = lambda kind: r  # labels and biases "make no difference"
    report = r.claims()
    for row in report.rows:
        assert row.stat.value == 0.0 and row.verdict == "does not hold"


def test_shuffled_labels_leave_nothing_learnable():
    """Permuted training labels: test accuracy at chance; the true labels are learned."""
    learned = _small()
    shuffled = _small(control="shuffled-labels")
    for arch in ("cnn", "mlp"):
        assert learned.archs[arch].test_acc[-1].mean() > 0.6
        assert shuffled.archs[arch].test_acc[-1].mean() < 0.3


def test_frozen_bias_setting_keeps_biases_at_zero():
    r = lb.run("bn-bias", scale="tiny", seeds=[0], epochs=1, freeze_bias=True, cache=False)
    for arch in ("cnn", "mlp"):
        assert all(float(np.abs(b).max()) == 0.0 for b in r.archs[arch].bias)
        assert float(r.archs[arch].frac_negative.max()) == 0.0


def test_result_is_seed_separable():
    """Seed 1 gives the same numbers alone and next to seed 0."""
    both = _tiny()
    alone = lb.run("bn-bias", scale="tiny", seeds=[1], cache=False)
    for arch in ("cnn", "mlp"):
        np.testing.assert_allclose(
            alone.archs[arch].frac_negative[:, 0], both.archs[arch].frac_negative[:, 1]
        )
        np.testing.assert_allclose(alone.archs[arch].bias[0][0], both.archs[arch].bias[0][1])


def test_chapter_numbers_and_thresholds():
    r = _small()
    numbers = r.glue_numbers()
    shuffled = r.reference("shuffled-labels")
    for arch in ("cnn", "mlp"):
        assert numbers[f"E7.{arch}.negative"] == float(r.archs[arch].pooled_negative().mean())
        assert numbers[f"E7.{arch}.shuffled.negative"] == float(
            shuffled.archs[arch].pooled_negative().mean()
        )
        assert numbers[f"E7.{arch}.frozen-bias.negative"] == 0.0
        assert numbers[f"E7.{arch}.shuffled-frozen-bias.negative"] == 0.0
    for arch in ("cnn", "mlp"):
        rec = r.archs[arch]
        assert numbers[f"E7.{arch}.acc"] == float(rec.test_acc[-1].mean())
        assert numbers[f"E7.{arch}.coact0"] == float(rec.coact0.mean(-1).mean())
        assert numbers[f"E7.{arch}.coact"] == float(rec.coact.mean(-1).mean())
        for l in range(len(rec.names)):
            assert numbers[f"E7.{arch}.layer{l}"] == float(rec.frac_negative[-1, :, l].mean())
        thr = rec.thresholds(0)
        assert thr.shape == rec.bias[0].shape
        np.testing.assert_array_equal(np.sign(thr), np.sign(rec.bias[0]))  # |γ| > 0


# ----------------------------------------------------------------------------- figures, CLI


def test_figures_have_alt_text():
    for fig in (
        lb.negative_fraction_curves(_tiny()),
        lb.bias_histograms(_tiny()),
        lb.bias_histograms(_tiny(), threshold=True),
        lb.overlap_vs_bias(_tiny()),
    ):
        assert isinstance(fig, BookFigure) and len(fig.alt) > 40
        assert fig.png_bytes()[:4] == b"\x89PNG"


def test_cli_json_and_estimate(capsys, tmp_path):
    assert cli.main(["run", "bn-bias", "--scale", "tiny", "--estimate"]) == 0
    assert "estimated time" in capsys.readouterr().out
    out = tmp_path / "r.json"
    args = ["run", "bn-bias", "--scale", "tiny", "--seeds", "1", "--set", "epochs=1"]
    assert cli.main([*args, "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["experiment"] == "bn-bias" and set(data["archs"]) == {"cnn", "mlp"}
    assert len(data["archs"]["cnn"]["seeds"]) == 1


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"channels": (4, 4, 4, 4)}, "channels=(4, 4, 4, 4) is not allowed"),
        ({"epochs": 0}, "epochs=0 is not allowed"),
        ({"momentum": 1.0}, "momentum=1.0 is not allowed"),
        ({"weight_decay": -1.0}, "weight_decay=-1.0 is not allowed"),
        ({"freeze_bias": 1}, "freeze_bias=1 is not allowed"),
        ({"control": "bogus"}, "control='bogus' is not allowed"),
        ({"shuffle_stream": -1}, "shuffle_stream=-1 is not allowed"),
        ({"dtype": "float16"}, "dtype='float16' is not allowed"),
    ],
)
def test_validation(overrides, text):
    with pytest.raises(ValueError, match=text.replace("(", r"\(").replace(")", r"\)")):
        lb.get_experiment("bn-bias").settings("tiny", **overrides)
