"""Shared fixtures: every test gets its own cache folder and the default cache/scale env."""

from __future__ import annotations

import pytest
import torch

# The test problems are tiny: intra-op threading only adds overhead, and on a loaded 2-core
# machine OpenMP spin-waiting made a tiny run 10-100x slower (0.5 s -> up to 60 s).
torch.set_num_threads(1)


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
