"""Pre-flight checks before any work: memory against what the device has free, and the torch
thread count of a run (one thread for small runs, an override for everything)."""

from __future__ import annotations

import pytest
import torch

import luckbook as lb
from luckbook import cli, resources


def test_a_run_too_big_for_the_machine_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(resources, "free_bytes", lambda device: 1 << 20)  # 1 MiB free
    calls = []
    monkeypatch.setattr(torch, "randn", lambda *a, **k: calls.append(a))  # no data drawn
    with pytest.raises(
        ValueError, match=r"needs an estimated .* but cpu has 1 MiB free: lower one of"
    ):
        lb.run("two-layer", scale="tiny", seeds=2, cache=False)
    assert not calls


def test_huge_input_dimension_is_refused_in_one_line(capsys):
    assert cli.main(["run", "two-layer", "--set", "d=3000000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("luckbook: error: the run needs an estimated")
    assert "d=3000000" in err[-1]


def test_preflight_can_be_switched_off(monkeypatch):
    monkeypatch.setattr(resources, "free_bytes", lambda device: 1)
    monkeypatch.setenv("LUCKBOOK_PREFLIGHT", "off")
    resources.check_memory(1 << 40, torch.device("cpu"), None, 1)  # no error


def test_free_bytes_on_this_machine():
    free = resources.free_bytes(torch.device("cpu"))
    assert free is None or free > 0


@pytest.mark.parametrize(
    ("threads", "env", "estimate", "expected"),
    [
        (3, None, 1.0, 3),  # explicit wins
        (None, "2", 1.0, 2),  # then the environment
        (None, None, 1.0, 1),  # small run: one thread
        (None, None, None, torch.get_num_threads()),  # no estimate: torch's default
        (None, None, 1e4, torch.get_num_threads()),  # large run: torch's default
    ],
)
def test_thread_choice(monkeypatch, threads, env, estimate, expected):
    monkeypatch.setattr(resources.os, "getloadavg", lambda: (0.0, 0.0, 0.0))  # a quiet machine
    if env is None:
        monkeypatch.delenv("LUCKBOOK_THREADS", raising=False)
    else:
        monkeypatch.setenv("LUCKBOOK_THREADS", env)
    assert resources.resolve_threads(threads, estimate) == expected


def test_a_busy_machine_gets_one_thread_for_a_large_run(monkeypatch):
    monkeypatch.delenv("LUCKBOOK_THREADS", raising=False)
    busy = float(resources.os.cpu_count() or 1) + 1.5
    monkeypatch.setattr(resources.os, "getloadavg", lambda: (busy, busy, busy))
    assert resources.machine_busy()
    assert resources.resolve_threads(None, 1e4) == 1
    assert resources.resolve_threads(4, 1e4) == 4  # an explicit count still wins


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_thread_counts(bad):
    with pytest.raises(ValueError, match="threads="):
        resources.resolve_threads(bad, None)


def test_cli_threads_flag(capsys):
    assert cli.main(["run", "two-layer", "--scale", "tiny", "--threads", "0"]) == 2
    assert "--threads='0'" in capsys.readouterr().err


def test_threads_are_restored_after_a_run():
    before = torch.get_num_threads()
    lb.run("two-layer", scale="tiny", seeds=1, steps=50, n_snapshots=1, threads=2, cache=False)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    ("setting", "text"),
    [
        ("n_eval=1", "n_eval=1 is not allowed: expected an integer >= 2"),
        ("n_train=1", "n_train=1 is not allowed: expected an integer >= 2"),
        ("batch=100000000", "lower one of batch=100000000"),
        ("d=3000000", "lower one of d=3000000"),
    ],
)
def test_degenerate_and_oversized_runs_get_one_line_before_work(setting, text, capsys):
    """The cases a new user hit: each is refused in one line (exit 2) before any work."""
    assert cli.main(["run", "two-layer", "--set", setting]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert text in err[-1] and err[-1].startswith("luckbook: error:")
