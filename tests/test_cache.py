"""The on-disk result cache: compute once, key on every setting, survive damage, write
atomically."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import pickle
import sys

import numpy as np
import pytest
import torch

import luckbook as lb
import luckbook.experiments.two_layer as two_layer
from luckbook import cache as cache_mod
from luckbook import codec


class Counter:
    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def _entries(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_cache_dir_comes_from_env(cache_dir):
    assert cache_mod.cache_dir() == cache_dir
    path = cache_mod.entry_path("ns", {"a": 1})
    assert cache_dir in path.parents


def test_computes_once_then_loads(cache_dir):
    compute = Counter({"x": np.arange(5.0), "t": torch.ones(3)})
    first = lb.cached("ns", {"a": 1}, compute)
    second = lb.cached("ns", {"a": 1}, compute)
    third = lb.cached("ns", {"a": 1}, compute)
    assert compute.calls == 1
    np.testing.assert_array_equal(second["x"], np.arange(5.0))
    assert torch.equal(third["t"], torch.ones(3))
    assert second is not first  # loaded from disk
    assert len(_entries(cache_dir)) == 1


@pytest.mark.parametrize(
    "key_a, key_b",
    [
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, {"a": 1, "b": 0}),
        ({"a": 1.0}, {"a": 1.5}),
        (
            {"s": lb.get_experiment("two-layer").settings("tiny")},
            {"s": lb.get_experiment("two-layer").settings("tiny", lr=0.02)},
        ),
        ({"seeds": [0, 1]}, {"seeds": [1, 0]}),
    ],
)
def test_key_includes_every_setting(key_a, key_b):
    ca, cb = Counter("A"), Counter("B")
    assert lb.cached("ns", key_a, ca) == "A"
    assert lb.cached("ns", key_b, cb) == "B"
    assert lb.cached("ns", key_a, ca) == "A"
    assert (ca.calls, cb.calls) == (1, 1)


def test_key_includes_namespace():
    ca, cb = Counter("A"), Counter("B")
    assert lb.cached("one", {"a": 1}, ca) == "A"
    assert lb.cached("two", {"a": 1}, cb) == "B"


def test_key_order_does_not_matter():
    c = Counter(1)
    lb.cached("ns", {"a": 1, "b": 2}, c)
    lb.cached("ns", {"b": 2, "a": 1}, c)
    assert c.calls == 1


def test_refresh_recomputes():
    c = Counter(1)
    lb.cached("ns", {"a": 1}, c)
    lb.cached("ns", {"a": 1}, c, refresh=True)
    assert c.calls == 2


def _damage_truncate(path):
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])


def _damage_flip_byte(path):
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0x01  # inside the payload
    path.write_bytes(bytes(blob))


def _damage_empty(path):
    path.write_bytes(b"")


def _damage_header(path):
    blob = bytearray(path.read_bytes())
    blob[0] ^= 0xFF
    path.write_bytes(bytes(blob))


@pytest.mark.parametrize(
    "damage", [_damage_truncate, _damage_flip_byte, _damage_empty, _damage_header]
)
def test_damaged_entry_warns_recomputes_and_rewrites(cache_dir, damage):
    value = {"x": list(range(100)), "y": "payload"}
    c = Counter(value)
    lb.cached("ns", {"a": 1}, c)
    (path,) = _entries(cache_dir)
    good = path.read_bytes()
    damage(path)
    assert path.read_bytes() != good
    with pytest.warns(lb.CacheWarning, match="unreadable"):
        again = lb.cached("ns", {"a": 1}, c)
    assert again == value
    assert c.calls == 2
    assert path.read_bytes() == good, "the entry is rewritten correctly"
    assert lb.cached("ns", {"a": 1}, c) == value  # and now loads without a warning
    assert c.calls == 2


def test_read_entry_detects_corruption(tmp_path):
    path = tmp_path / "e.entry"
    cache_mod.write_entry(path, [1, 2, 3])
    assert cache_mod.read_entry(path) == [1, 2, 3]
    _damage_flip_byte(path)
    with pytest.raises(ValueError, match="checksum"):
        cache_mod.read_entry(path)


def test_no_tmp_files_left_behind(cache_dir):
    for i in range(5):
        lb.cached("ns", {"i": i}, Counter(i))
    files = _entries(cache_dir)
    assert len(files) == 5
    assert not [p for p in files if p.name.endswith(".tmp")]


def test_value_that_is_not_data_keeps_old_entry(cache_dir):
    lb.cached("ns", {"a": 1}, Counter("old"))
    (path,) = _entries(cache_dir)
    old = path.read_bytes()
    with pytest.raises(codec.CodecError, match="cannot store"):
        lb.cached("ns", {"a": 1}, Counter(lambda: None), refresh=True)
    assert _entries(cache_dir) == [path], "no temporary file left behind"
    assert path.read_bytes() == old
    assert lb.cached("ns", {"a": 1}, Counter("new")) == "old"


def test_failure_mid_write_keeps_old_entry(cache_dir, monkeypatch):
    lb.cached("ns", {"a": 1}, Counter("old"))
    (path,) = _entries(cache_dir)
    old = path.read_bytes()

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        lb.cached("ns", {"a": 1}, Counter("new" * 1000), refresh=True)
    monkeypatch.undo()
    assert _entries(cache_dir) == [path], "the temporary file was removed"
    assert path.read_bytes() == old


@pytest.mark.parametrize("off", ["off", "0", "false", "no", "OFF"])
def test_cache_off(cache_dir, monkeypatch, off):
    monkeypatch.setenv("LUCKBOOK_CACHE", off)
    c = Counter(1)
    lb.cached("ns", {"a": 1}, c)
    lb.cached("ns", {"a": 1}, c)
    assert c.calls == 2
    assert _entries(cache_dir) == []


def test_source_change_invalidates(monkeypatch):
    c = Counter(1)
    lb.cached("ns", {"a": 1}, c)
    monkeypatch.setattr(cache_mod, "source_fingerprint", lambda: "edited")
    lb.cached("ns", {"a": 1}, c)
    assert c.calls == 2


# ----------------------------------------------------------------------------- lb.run


def _counting_build(monkeypatch):
    calls = []
    real = two_layer.build

    def build(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(two_layer, "build", build)
    return calls


RUN = dict(scale="tiny", seeds=[0, 1], steps=60, n_snapshots=2)


def test_run_cached(cache_dir, monkeypatch):
    calls = _counting_build(monkeypatch)
    first = lb.run("two-layer", **RUN)
    second = lb.run("two-layer", **RUN)
    assert len(calls) == 1, "the second run is loaded from the cache"
    assert len(_entries(cache_dir)) == 1
    assert second.settings == first.settings and second.seeds == first.seeds
    for name in (
        "teacher_best",
        "student_best",
        "fanout",
        "eval_loss",
        "train_loss",
        "corr",
        "steps",
    ):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    for tau in first.covered:
        assert np.array_equal(first.covered[tau], second.covered[tau])

    lb.run("two-layer", **(RUN | {"steps": 61}))  # a changed setting recomputes
    lb.run("two-layer", **(RUN | {"seeds": [0]}))  # so do other seeds
    assert len(calls) == 3
    lb.run("two-layer", cache=False, **RUN)
    assert len(calls) == 4


def test_experiment_key_includes_its_own_module_only(monkeypatch):
    """Editing an experiment's module invalidates its results; other experiments' modules do not."""
    assert cache_mod._is_core("train.py") and cache_mod._is_core("experiments/base.py")
    assert not cache_mod._is_core("experiments/two_layer.py")
    assert not cache_mod._is_core("plots/__init__.py") and not cache_mod._is_core("static.py")
    calls = _counting_build(monkeypatch)
    kwargs = {"scale": "tiny", "seeds": 1, "steps": 20, "n_snapshots": 2}
    lb.run("two-layer", **kwargs)
    lb.run("two-layer", **kwargs)
    assert len(calls) == 1
    monkeypatch.setattr(cache_mod, "file_fingerprint", lambda path: "edited")
    lb.run("two-layer", **kwargs)
    assert len(calls) == 2


def test_experiment_key_follows_the_experiment_modules_it_builds_on(monkeypatch):
    """An experiment that builds on another experiment's module (the E4 sweep and E5 on
    ``two_layer``, E6 on ``deep_teacher``) is keyed on both; unrelated ones are not."""
    import luckbook.experiments.deep_specialization as e6
    import luckbook.experiments.directional as e9
    import luckbook.experiments.two_layer_sweep as sweep

    prefix = "luckbook.experiments."
    assert prefix + "two_layer" in cache_mod.experiment_modules(sweep)
    assert prefix + "deep_teacher" in cache_mod.experiment_modules(e6)
    assert prefix + "two_layer" not in cache_mod.experiment_modules(e9)
    before = {m: cache_mod.experiment_fingerprint(m) for m in (sweep, e9)}
    real = cache_mod.file_fingerprint
    edited = sys.modules[prefix + "two_layer"].__file__
    monkeypatch.setattr(
        cache_mod, "file_fingerprint", lambda path: "edited" if path == edited else real(path)
    )
    assert cache_mod.experiment_fingerprint(sweep) != before[sweep]
    assert cache_mod.experiment_fingerprint(e9) == before[e9]


def test_experiment_modules_follow_imports_inside_functions(tmp_path):
    """Imports are found by parsing the source: a function-level import counts too."""
    import types

    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from .two_layer import make_nets\n    return make_nets\n")
    probe = types.ModuleType("luckbook.experiments.probe")
    probe.__file__ = str(source)
    found = cache_mod.experiment_modules(probe)
    assert "luckbook.experiments.probe" in found and "luckbook.experiments.two_layer" in found
    assert "luckbook.experiments.directional" not in found


# --- results are stored as data: a shared cache folder cannot run code -------------------


@dataclasses.dataclass(frozen=True)
class _Outside:  # a dataclass of the test module, not of luckbook
    x: int


def test_codec_round_trip_of_a_result_tree():
    from luckbook.claims import Stat

    value = {
        "arr": np.arange(6.0).reshape(2, 3),
        "ints": np.array([1, 2], dtype=np.int64),
        "tensor": torch.tensor([[1.5, float("nan")]], dtype=torch.float64),
        (10, 5): [np.float32(2.5), np.int64(3), float("inf"), None, True, "s"],
        "tuple": (1, (2.0, "x")),
        "stat": Stat(0.5, 0.25, 0.75, 4, "detail"),
        "device": torch.device("cpu"),
        "dtype": torch.float32,
    }
    back = codec.loads(codec.dumps(value))
    assert back.keys() == value.keys()
    np.testing.assert_array_equal(back["arr"], value["arr"])
    assert back["ints"].dtype == np.int64
    assert torch.equal(back["tensor"].nan_to_num(), value["tensor"].nan_to_num())
    assert back[(10, 5)][0].dtype == np.float32 and back[(10, 5)][2] == float("inf")
    assert back[(10, 5)][3:] == [None, True, "s"]
    assert back["tuple"] == (1, (2.0, "x"))
    assert back["stat"] == value["stat"] and back["device"] == value["device"]
    assert back["dtype"] is torch.float32


def test_codec_refuses_what_is_not_data():
    for bad in (lambda: None, object(), _Outside(1), np.array([object()])):
        with pytest.raises(codec.CodecError, match="cannot store"):
            codec.dumps(bad)


def _rewrite_with_valid_checksum(path, payload):
    path.write_bytes(
        cache_mod.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    )


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_crafted_pickle_entry_is_refused_and_recomputed_not_executed(
    cache_dir, tmp_path, monkeypatch
):
    """An attacker who can write the shared cache folder writes a pickle (with a valid
    checksum): it is refused as invalid data, recomputed, and never executed."""
    monkeypatch.chdir(tmp_path)
    c = Counter("good")
    lb.cached("ns", {"a": 1}, c)
    (path,) = _entries(cache_dir)
    _rewrite_with_valid_checksum(path, pickle.dumps(_Boom()))
    with pytest.warns(lb.CacheWarning, match="unreadable"):
        assert lb.cached("ns", {"a": 1}, c) == "good"
    assert c.calls == 2
    assert not (tmp_path / "pwned").exists()


def test_a_crafted_entry_naming_a_foreign_class_is_refused(cache_dir):
    """Valid data that names a class outside luckbook (e.g. os.system's module) is refused."""
    c = Counter("good")
    lb.cached("ns", {"a": 1}, c)
    (path,) = _entries(cache_dir)
    meta = json.dumps({"format": codec.FORMAT, "tree": {"__dc__": "os:system", "fields": {}}})
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.frombuffer(meta.encode(), dtype=np.uint8))
    _rewrite_with_valid_checksum(path, buf.getvalue())
    with pytest.raises(codec.CodecError, match="refusing"):
        cache_mod.read_entry(path)
    with pytest.warns(lb.CacheWarning, match="unreadable"):
        assert lb.cached("ns", {"a": 1}, c) == "good"
