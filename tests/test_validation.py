"""Every public entry point rejects bad input with a ValueError naming the parameter and value,
before any work is done."""

from __future__ import annotations

import math
import re

import pytest
import torch

import luckbook as lb
import luckbook.experiments.two_layer as two_layer

TINY = {"scale": "tiny", "seeds": 1, "cache": False, "steps": 10, "n_snapshots": 1}

# (overrides for lb.run("two-layer", ...), text the message must contain)
BAD_RUN = [
    ({"multi": 0}, "multi=0"),
    ({"multi": -3}, "multi=-3"),
    ({"multi": 1.5}, "multi=1.5"),
    ({"multi": "2"}, "multi='2'"),
    ({"m": 0}, "m=0"),
    ({"d": 0}, "d=0"),
    ({"c": -1}, "c=-1"),
    ({"init_scale": 0}, "init_scale=0"),
    ({"init_scale": -0.01}, "init_scale=-0.01"),
    ({"lr": 0}, "lr=0"),
    ({"lr": -0.1}, "lr=-0.1"),
    ({"lr": math.inf}, "lr=inf"),
    ({"lr": math.nan}, "lr=nan"),
    ({"batch": 0}, "batch=0"),
    ({"steps": 0}, "steps=0"),
    ({"n_train": 0}, "n_train=0"),
    ({"p": -0.5}, "p=-0.5"),
    ({"data_std": 0}, "data_std=0"),
    ({"data_std": -1.5}, "data_std=-1.5"),
    ({"taus": (0.5, 1.0)}, "taus=1.0"),
    ({"taus": (0.0, 0.5)}, "taus=0.0"),
    ({"taus": (0.5, -0.2)}, "taus=-0.2"),
    ({"taus": ()}, "taus=()"),
    ({"spacing": "cubic"}, "spacing='cubic'"),
    ({"activation": "tanh"}, "activation='tanh'"),
    ({"slope": 1.0}, "slope=1.0"),
    ({"dtype": "float16"}, "dtype='float16'"),
    ({"dtype": "double"}, "dtype='double'"),
    ({"steps": 5, "n_snapshots": 6}, "n_snapshots=6"),
    ({"device": "tpu"}, "device='tpu'"),
    ({"device": "cuda:banana"}, "device='cuda:banana'"),
    ({"scale": "huge"}, "scale='huge'"),
    ({"seeds": 0}, "seeds=0"),
    ({"seeds": [1, 1]}, "seeds=[1, 1]"),
    ({"seeds": []}, "seeds=[]"),
    ({"seeds": [0, -1]}, "seeds=-1"),
    ({"seeds": 2.5}, "seeds=2.5"),
    ({"foo": 1}, "foo"),
]


def _run(**overrides):
    return lb.run("two-layer", **(TINY | overrides))


@pytest.mark.parametrize("overrides, text", BAD_RUN, ids=[t for _, t in BAD_RUN])
def test_run_rejects(overrides, text):
    with pytest.raises(ValueError, match=re.escape(text)) as info:
        _run(**overrides)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("overrides, text", BAD_RUN, ids=[t for _, t in BAD_RUN])
def test_validation_happens_before_any_work(monkeypatch, overrides, text):
    def boom(*args, **kwargs):
        raise AssertionError("build() was called before validation")

    monkeypatch.setattr(two_layer, "build", boom)
    with pytest.raises(ValueError, match=re.escape(text)):
        _run(**overrides)


def test_build_patch_is_effective(monkeypatch):
    """The patch above really intercepts the work (so the previous test can fail)."""

    def boom(*args, **kwargs):
        raise RuntimeError("work started")

    monkeypatch.setattr(two_layer, "build", boom)
    with pytest.raises(RuntimeError, match="work started"):
        _run()


def test_unknown_parameter_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown parameter 'foo'") as info:
        lb.run("two-layer", foo=1)
    assert "multi" in str(info.value) and "lr" in str(info.value)


@pytest.mark.parametrize("name", ["nope", "two_layer", ""])
def test_unknown_experiment(name):
    with pytest.raises(ValueError, match=re.escape(f"experiment={name!r}")) as info:
        lb.get_experiment(name)
    assert "two-layer" in str(info.value)
    with pytest.raises(ValueError, match="experiment="):
        lb.run(name, scale="tiny")


def test_bad_scale_env(monkeypatch):
    monkeypatch.setenv("LUCKBOOK_SCALE", "huge")
    with pytest.raises(ValueError, match="LUCKBOOK_SCALE='huge'"):
        lb.run("two-layer", seeds=1)


# ----------------------------------------------------------------------------- lower level


@pytest.mark.parametrize(
    "widths, text",
    [
        ([5], "widths=[5]"),
        ([], "widths=[]"),
        ([5, 0, 2], "widths[1]=0"),
        ([0, 3, 2], "widths[0]=0"),
        ([5, 3, -1], "widths[2]=-1"),
        ([5, 2.5, 2], "widths[1]=2.5"),
    ],
)
def test_make_teacher_widths(widths, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        lb.make_teacher(widths, [0])


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"p": -1.0}, "p=-1.0"),
        ({"p": math.nan}, "p=nan"),
        ({"dtype": "int8"}, "dtype='int8'"),
        ({"dtype": torch.int32}, "dtype=torch.int32"),
        ({"device": "tpu"}, "device='tpu'"),
        ({"normalize": "unit"}, "normalize='unit'"),
        ({"activation": "gelu"}, "activation='gelu'"),
    ],
)
def test_make_teacher_options(kwargs, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        lb.make_teacher([4, 3, 2], [0], **kwargs)


def test_make_teacher_no_seeds():
    with pytest.raises(ValueError, match="seeds"):
        lb.make_teacher([4, 3, 2], [])


@pytest.mark.parametrize(
    "data_std, text", [(0, "data_std=0"), (-1, "data_std=-1"), (math.inf, "data_std=inf")]
)
def test_data_std(data_std, text):
    with pytest.raises(ValueError, match=re.escape(text)):
        lb.gaussian(10, 3, [0], data_std=data_std)
    teacher = lb.make_teacher([3, 2, 1], [0])
    with pytest.raises(ValueError, match=re.escape(text)):
        lb.FreshGaussian(teacher, data_std=data_std)


@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda:x"])
def test_resolve_device_unknown(device):
    with pytest.raises(ValueError, match=re.escape(f"device={device!r}")):
        lb.resolve_device(device)


def test_resolve_device_cpu():
    assert lb.resolve_device(None) == torch.device("cpu")
    assert lb.resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_resolve_device_unavailable_cuda(device):
    with pytest.raises(ValueError, match=re.escape(f"device={device!r}")) as info:
        lb.resolve_device(device)
    assert "not available" in str(info.value)
    with pytest.raises(ValueError, match=re.escape(f"device={device!r}")):
        _run(device=device)


@pytest.mark.parametrize("dtype", ["float16", "int64", torch.float16, "Float64"])
def test_resolve_dtype_unknown(dtype):
    with pytest.raises(ValueError, match=r"^dtype="):
        lb.resolve_dtype(dtype)


@pytest.mark.parametrize(
    "dtype, expected",
    [("float32", torch.float32), ("float64", torch.float64), (torch.float64, torch.float64)],
)
def test_resolve_dtype_known(dtype, expected):
    assert lb.resolve_dtype(dtype) is expected


@pytest.mark.parametrize("seeds, expected", [(3, [0, 1, 2]), ([5, 2], [5, 2]), ((7,), [7])])
def test_resolve_seeds(seeds, expected):
    assert lb.resolve_seeds(seeds) == expected


@pytest.mark.parametrize("seeds", [0, -2, True, [], [3, 3], [1.5], None])
def test_resolve_seeds_rejects(seeds):
    with pytest.raises(ValueError, match="seeds="):
        lb.resolve_seeds(seeds)


def test_net_shape_validation():
    w0 = torch.zeros(2, 4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="weights"):
        lb.Net([])
    with pytest.raises(ValueError, match=re.escape("weights[1]")):
        lb.Net([w0, torch.zeros(2, 3, 2, dtype=torch.float64)])  # needs 3 + 1 input rows
    with pytest.raises(ValueError, match=re.escape("weights[1]")):
        lb.Net([w0, torch.zeros(3, 4, 2, dtype=torch.float64)])  # seed axis mismatch
    with pytest.raises(ValueError, match="activation='tanh'"):
        lb.Net([w0], activation="tanh")
    with pytest.raises(ValueError, match="x has 5 features"):
        lb.Net([w0])(torch.zeros(7, 5))


# ----------------------------------------------------------------------------- integral floats

# m, d: crash inside torch; steps: crash in two_layer.compute (stride slicing);
# multi, n_train: silently stored as floats (settings, cache key, JSON)
INT_FIELDS = {"d": 20, "m": 5, "multi": 2, "steps": 20, "n_train": 2000}


@pytest.mark.parametrize("name", sorted(INT_FIELDS))
def test_integral_float_is_rejected_or_normalised(name):
    """``m=5.0`` must either be refused up front (ValueError naming ``m``) or become ``5``.

    Today ``check_int`` accepts it and returns ``5``, but ``TwoLayerSettings.validate`` and
    ``check_widths`` discard the return value, so the float reaches torch (a raw ``TypeError``
    after validation "passed") or ends up in the settings, the cache key and the JSON.
    """
    value = float(INT_FIELDS[name])
    try:
        result = lb.run("two-layer", **(TINY | {"steps": 20, "n_snapshots": 2, name: value}))
    except ValueError as err:
        assert f"{name}=" in str(err)
        return
    assert type(getattr(result.settings, name)) is int


def test_make_teacher_integral_float_width():
    try:
        teacher = lb.make_teacher([4, 3.0, 2], [0])
    except ValueError as err:
        assert "widths[1]=" in str(err)
        return
    assert teacher.widths == [4, 3, 2]


# ----------------------------------------------------------------------------- E4 shared settings

E4_EXPERIMENTS = ["two-layer", "two-layer-sweep", "sample-complexity"]
BAD_COMMON = [
    ({"d": 0}, "d=0"),
    ({"c": -1}, "c=-1"),
    ({"lr": -1.0}, "lr=-1.0"),
    ({"init_scale": 0.0}, "init_scale=0.0"),
    ({"data_std": -1.5}, "data_std=-1.5"),
    ({"batch": 0}, "batch=0"),
    ({"n_eval": 0}, "n_eval=0"),
    ({"spacing": "cubic"}, "spacing='cubic'"),
    ({"slope": 1.0}, "slope=1.0"),
    ({"dtype": "float16"}, "dtype='float16'"),
    ({"steps": 5, "n_snapshots": 6}, "n_snapshots=6"),
]


@pytest.mark.parametrize("experiment", E4_EXPERIMENTS)
@pytest.mark.parametrize("overrides, text", BAD_COMMON, ids=[t for _, t in BAD_COMMON])
def test_e4_shared_settings_are_checked_by_every_e4_experiment(experiment, overrides, text):
    with pytest.raises(ValueError, match=re.escape(text)) as info:
        lb.get_experiment(experiment).settings("tiny", **overrides)
    assert "\n" not in str(info.value)


def test_e4_settings_share_one_base_with_the_released_defaults():
    common = two_layer.E4Common()
    for experiment in E4_EXPERIMENTS:
        cls = lb.get_experiment(experiment).settings_cls
        assert issubclass(cls, two_layer.E4Common)
        paper = cls().common()
        if experiment == "sample-complexity":  # E5 evaluates less often
            assert paper.pop("n_snapshots") == 20
        assert paper == {k: v for k, v in common.common().items() if k in paper}
    assert common.common()["steps"] == 100_000 and common.common()["lr"] == 0.01
