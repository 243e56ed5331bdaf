"""``lb.sweep`` / ``luckbook sweep``: grid parsing, validation before a cluster starts, seed
blocks and their merge (bit for bit equal to one run of all the seeds, for every experiment),
and a two-worker local Dask cluster: a worker killed mid-sweep, resuming, failures."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import signal
import threading
import time

import numpy as np
import pytest
import torch

import luckbook as lb
from luckbook import cli
from luckbook.sweep import (
    SINGLE_BLOCK,
    MergeError,
    load_point,
    merge_blocks,
    parse_grid,
    plan,
    seed_blocks,
)

distributed = pytest.importorskip("distributed")
sweep_module = importlib.import_module("luckbook.sweep")  # lb.sweep is the function

SMALL = {"steps": 300, "n_snapshots": 3, "n_train": 300, "n_eval": 300}
"""A two-layer run of well under a second."""

# per experiment, settings on top of ``tiny`` that make the merge test quick
FAST = {
    "two-layer": SMALL,
    "two-layer-sweep": {"steps": 500, "n_snapshots": 3, "n_train": 300, "n_eval": 300},
    "fanout": {"steps": 300, "retrain_steps": 200, "n_snapshots": 4},
    "sample-complexity": {"steps": 500},
    "deep-specialization": {"epochs": 2, "lr_drop_epoch": 1, "snapshot_every": 1, "n_train": 1000},
    "deep-teacher": {"epochs": 2, "n_train": 1000},
}


def assert_same(a, b, path="result"):
    """Every field equal, recursively, arrays bit for bit (NaN = NaN); timings are skipped."""
    assert type(a) is type(b), f"{path}: {type(a)} vs {type(b)}"
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            if not f.name.endswith("time_s"):
                assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype, path
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=path, strict=True)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=path, strict=True)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), path
    else:
        assert a == b, path


# ----------------------------------------------------------------------------- no cluster


def test_parse_grid():
    assert parse_grid("two-layer", ["p=0,1.5", "multi=1,2"]) == {"p": [0.0, 1.5], "multi": [1, 2]}
    assert parse_grid("two-layer", ["taus=(0.5,0.9),(0.95)"]) == {"taus": [(0.5, 0.9), (0.95,)]}
    assert parse_grid("two-layer-sweep", ["m=5,10", "p=0"]) == {"m": [5, 10], "p": [0.0]}
    for bad, text in [
        (["p"], "--grid 'p'"),
        (["p="], "--grid 'p='"),
        (["foo=1"], "unknown parameter 'foo'"),
        (["multi=1.5"], "multi='1.5'"),
        (["p=0,,1"], "empty value"),
        (["p=0", "p=1"], "twice"),
    ]:
        with pytest.raises(ValueError, match=text):
            parse_grid("two-layer", bad)


def test_seed_blocks_have_two_sizes_of_even_length():
    sizes = lambda n, k: [len(b) for b in seed_blocks(range(n), k)]  # noqa: E731
    assert sizes(32, 8) == [10, 8, 8, 6]
    assert sizes(8, 2) == [4, 2, 2]
    assert sizes(10, 4) == [4, 4, 2]
    assert sizes(4, 2) == [4]  # [2, 2] would leave the seed axis ambiguous
    assert sizes(7, 2) == [7]  # an odd count is one block
    assert seed_blocks([5, 1, 9, 3, 7, 2], 4) == [[5, 1, 9, 3], [7, 2]]
    for block in (1, 3, 0, 2.0, "2"):
        with pytest.raises(ValueError, match="seed_block="):
            seed_blocks(range(8), block)


def _no_cluster(*args, **kwargs):
    raise AssertionError("a cluster was started before the input was validated")


@pytest.mark.parametrize(
    ("grid", "kwargs", "text"),
    [
        ({"multi": [1, 0]}, {}, "multi=0 is not allowed"),
        ({"lr": [0.01, float("inf")]}, {}, "lr=inf is not allowed"),
        ({"foo": [1]}, {}, "unknown parameter 'foo'"),
        ({"p": []}, {}, "non-empty list"),
        ({"p": [1.0, 1.0]}, {}, "distinct"),
        ({"p": [1.0]}, {"p": 2.0}, "both a grid name"),
        ({"p": [1.0]}, {"seeds": 0}, "seeds=0"),
        ({"p": [1.0]}, {"seed_block": 3}, "seed_block=3"),
        ({"p": [1.0]}, {"device": "tpu"}, "device='tpu'"),
        ({"p": [1.0]}, {"workers": 0}, "workers=0"),
        ({"p": [1.0]}, {"scale": "huge"}, "scale='huge'"),
    ],
)
def test_validation_before_start(monkeypatch, grid, kwargs, text):
    monkeypatch.setattr(sweep_module, "_cluster", _no_cluster)
    kwargs = {"scale": "tiny", **kwargs}
    with pytest.raises(ValueError, match=text) as err:
        lb.sweep("two-layer", grid, **kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--grid", "multi=1,0"], "multi=0"),
        (["--grid", "foo=1"], "foo"),
        (["--grid", "p"], "--grid 'p'"),
        (["--seed-block", "x"], "--seed-block='x'"),
        (["--seed-block", "3"], "seed_block=3"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not allowed with"),
        (["--scale", "huge"], "--scale='huge'"),
        (["--set", "lr=fast"], "lr="),
    ],
)
def test_cli_bad_input_exits_2(monkeypatch, capsys, args, text):
    monkeypatch.setattr(sweep_module, "_cluster", _no_cluster)
    code = cli.main(["sweep", "two-layer", "--scale", "tiny", *args])
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("luckbook: error:"), out.err
    assert text in lines[0]


def test_sweep_cache_off_is_refused(monkeypatch):
    monkeypatch.setattr(sweep_module, "_cluster", _no_cluster)
    monkeypatch.setenv("LUCKBOOK_CACHE", "off")
    with pytest.raises(ValueError, match="LUCKBOOK_CACHE=off"):
        lb.sweep("two-layer", {"p": [1.0]}, scale="tiny")


@pytest.mark.parametrize("name", sorted(lb.REGISTRY))
def test_merge_equals_single_run(name):
    """Every experiment, the sweep's way: its tasks for 6 seeds in blocks of 4 (blocks of 4 and
    2 seeds; for two-layer-sweep also one task per (m, multi) program), each run into the
    cache, merged from the cache = ``lb.run`` of all 6 seeds, every field bit for bit."""
    kw = FAST.get(name, {})
    seeds = list(range(6))
    (tasks,) = plan(name, [kw], seeds, 4, scale="tiny")
    if name in SINGLE_BLOCK:  # not mergeable: one block (see SINGLE_BLOCK for why)
        assert [t.seeds for t in tasks] == [tuple(seeds)]
        return
    assert sorted({len(t.seeds) for t in tasks}) == [2, 4]
    for task in tasks:
        lb.run(name, scale="tiny", seeds=list(task.seeds), **task.overrides)
    merged = load_point(name, kw, tasks, scale="tiny")
    assert_same(merged, lb.run(name, scale="tiny", seeds=seeds, cache=False, **kw))


def test_merge_refuses_ambiguous_blocks():
    a = lb.run("two-layer", scale="tiny", seeds=[0, 1], **SMALL)
    b = lb.run("two-layer", scale="tiny", seeds=[2, 3], **SMALL)
    with pytest.raises(MergeError, match="seed axis"):
        merge_blocks([a, b])  # two blocks of 2 seeds: m=5, multi=2 … any axis of length 2 fits


# ----------------------------------------------------------------------------- on a cluster


@pytest.fixture(scope="module")
def client():
    """The sweep's own local cluster: two worker processes, one thread each, on 127.0.0.1."""
    with sweep_module._cluster([None], "cpu", 2, None, None) as (c, threads):
        assert threads == max(1, torch.get_num_threads() // 2)
        yield c


def test_local_cluster_listens_on_loopback_only(client):
    psutil = pytest.importorskip("psutil")
    me = psutil.Process()
    listening = [
        conn.laddr.ip
        for proc in [me, *me.children(recursive=True)]
        for conn in proc.net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    ]
    assert len(client.scheduler_info()["workers"]) == 2
    assert listening and set(listening) == {"127.0.0.1"}, listening


def _entries(cache_dir):
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache_dir.rglob("*.entry")}


def test_failure_is_reported_and_the_rest_kept(client, cache_dir, tmp_path, capsys):
    """A diverging point fails after its retries; the CLI lists it (exit 1) and keeps the
    other point, equal to lb.run."""
    out = tmp_path / "sweep.json"
    args = ["sweep", "two-layer", "--scale", "tiny", "--grid", "lr=0.01,1000", "--seeds", "2"]
    for key, value in SMALL.items():
        args += ["--set", f"{key}={value}"]
    args += ["--scheduler", client.scheduler.address, "--retries", "1", "--no-progress"]
    assert cli.main([*args, "--json", str(out)]) == 1
    assert "DivergenceError" in capsys.readouterr().out
    data = json.loads(out.read_text())
    (failure,) = data["failures"]
    assert failure["setting"]["lr"] == 1000 and failure["seeds"] == [0, 1]
    assert failure["error"].startswith("DivergenceError: training diverged")
    ok, bad = data["points"]
    assert bad["result"] is None and ok["setting"]["lr"] == 0.01
    one = lb.run("two-layer", scale="tiny", seeds=2, lr=0.01, cache=False, **SMALL)
    assert ok["result"]["seeds"][1]["eval_loss"] == one.to_json()["seeds"][1]["eval_loss"]
    assert len(_entries(cache_dir)) == 1  # the finished point


def test_killed_worker_loses_nothing_and_sweep_resumes(client, cache_dir):
    """SIGKILL a busy worker mid-sweep: the sweep finishes, no finished task is recomputed
    (its cache entry is untouched), and every point equals lb.run of all the seeds. A larger
    sweep afterwards computes only its new tasks."""
    kw = {**SMALL, "steps": 3000}
    grid = {"p": [0.0, 1.0, 2.0]}
    box = {}

    def run():
        try:
            box["result"] = lb.sweep(
                "two-layer", grid, scale="tiny", seeds=6, seed_block=4, client=client,
                progress=False, **kw,
            )  # fmt: skip
        except BaseException as err:  # noqa: BLE001
            box["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while len(_entries(cache_dir)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    before = _entries(cache_dir)
    busy = [w for w, keys in client.processing().items() if keys]
    assert 2 <= len(before) < 6 and busy, "the sweep was not in its middle"
    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
    os.kill(pid, signal.SIGKILL)
    thread.join(120)
    assert not thread.is_alive() and "error" not in box, box.get("error")
    result = box["result"]
    assert result.ok and result.tasks == 6, result.summary()
    after = _entries(cache_dir)
    assert len(after) == 6
    assert all(after[p] == before[p] for p in before), "a finished task was recomputed"
    for point, got in zip(result.points, result.results, strict=True):
        assert_same(got, lb.run("two-layer", scale="tiny", seeds=6, cache=False, **point))

    # resume: a larger grid computes only its new point (2 blocks)
    more = lb.sweep(
        "two-layer", {"p": [0.0, 1.0, 2.0, 3.0]}, scale="tiny", seeds=6, seed_block=4,
        client=client, progress=False, **kw,
    )  # fmt: skip
    assert (more.computed, more.cached) == (2, 6)
    assert all(_entries(cache_dir)[p] == after[p] for p in after)
    assert_same(more.results[1], result.results[1])


def test_unmergeable_blocks_rerun_as_one_block(client, cache_dir, monkeypatch):
    """If a point's blocks cannot be merged, the point is rerun as one block of all its seeds
    (the blocks stay in the cache)."""

    def refuse(parts):
        if len(parts) > 1:
            raise MergeError("test: refused")
        return parts[0]

    monkeypatch.setattr(sweep_module, "merge_blocks", refuse)
    result = lb.sweep(
        "two-layer", {"p": [1.0]}, scale="tiny", seeds=6, seed_block=4, client=client,
        progress=False, **SMALL,
    )  # fmt: skip
    assert result.ok and result.fallbacks == 1 and result.tasks == 3
    assert len(_entries(cache_dir)) == 3
    assert_same(
        result.result, lb.run("two-layer", scale="tiny", seeds=6, p=1.0, cache=False, **SMALL)
    )
