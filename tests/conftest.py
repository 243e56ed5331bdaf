"""Shared fixtures: every test gets its own cache folder and the default cache/scale env."""

from __future__ import annotations

import os

import pytest
import torch

# The test problems are tiny: intra-op threading only adds overhead, and on a loaded 2-core
# machine OpenMP spin-waiting made a tiny run 10-100x slower (0.5 s -> up to 60 s). Runs that
# the package would give more threads (estimated >= 10 s) keep one too: pytest-xdist already
# runs a worker per core.
torch.set_num_threads(1)
os.environ.setdefault("LUCKBOOK_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch ~/.cache: point LUCKBOOK_CACHE_DIR at a fresh tmp folder per test."""
    cache = tmp_path_factory.mktemp("luckbook-cache")
    monkeypatch.setenv("LUCKBOOK_CACHE_DIR", str(cache))
    monkeypatch.delenv("LUCKBOOK_CACHE", raising=False)
    monkeypatch.delenv("LUCKBOOK_SCALE", raising=False)
    return cache


@pytest.fixture
def cache_dir(_isolated_cache):
    """The per-test cache folder (already set as LUCKBOOK_CACHE_DIR)."""
    return _isolated_cache


@pytest.fixture
def gen():
    """A seeded CPU generator for test inputs."""
    return torch.Generator().manual_seed(1234)


def assert_one_line_error(capsys, args: list[str], text: str) -> None:
    """``luckbook ARGS`` exits 2 with one line on stderr, ``luckbook: error: …`` naming
    ``text`` (the parameter and its value), and no traceback anywhere."""
    from luckbook import cli

    assert cli.main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("luckbook: error:"), captured.err
    assert text in lines[0], lines[0]
    assert "Traceback" not in captured.err + captured.out


SMALL_TWO_LAYER = {"scale": "tiny", "steps": 200, "n_snapshots": 4, "seeds": 2}
"""A two-layer run small enough for figure and widget tests."""


@pytest.fixture(scope="module")
def small_two_layer():
    """One :data:`SMALL_TWO_LAYER` run per test module, computed without the cache."""
    import luckbook as lb

    mp = pytest.MonkeyPatch()
    mp.setenv("LUCKBOOK_CACHE", "off")
    try:
        return lb.run("two-layer", **SMALL_TWO_LAYER)
    finally:
        mp.undo()
