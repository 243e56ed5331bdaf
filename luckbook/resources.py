"""The machine's resources: free memory (CPU or GPU) and the torch thread count of a run.

Every run is checked against these *before* it allocates anything (see
:meth:`~luckbook.experiments.base.Experiment.run`): a run whose estimated memory exceeds what
the device has free is refused with the estimate and what to lower; a small run gets one
torch thread (on a busy 2-core machine two spinning OpenMP threads slowed small runs
10–100×), a large one torch's default, and ``threads=`` / ``--threads`` /
``$LUCKBOOK_THREADS`` override the choice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import torch

SMALL_RUN_S = 10.0
"""Runs estimated to take less than this many seconds run on one torch thread."""

MEMORY_HEADROOM = 0.9
"""A run may use at most this fraction of the memory the device has free."""


def free_bytes(device: torch.device) -> int | None:
    """Memory available to a new run on ``device`` (``None`` if unknown)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 / 10 else f"{n / 2**20:.0f} MiB"


def largest_sizes(settings: Any, n_seeds: int, k: int = 3) -> str:
    """``"batch=100000000, d=100, seeds=8"``: the largest integer settings (a tuple of integers
    counts as its largest entry), what to lower."""
    sizes = [("seeds", n_seeds)]
    if dataclasses.is_dataclass(settings):
        for f in dataclasses.fields(settings):
            v = getattr(settings, f.name)
            if isinstance(v, tuple) and v and all(type(x) is int for x in v):
                v = max(v)  # a tuple of widths or sizes: its largest entry
            if isinstance(v, int) and not isinstance(v, bool) and f.name not in ("n_snapshots",):
                sizes.append((f.name, v))
    sizes.sort(key=lambda kv: -kv[1])
    return ", ".join(f"{name}={value}" for name, value in sizes[:k])


def check_memory(nbytes: int, device: torch.device, settings: Any, n_seeds: int) -> None:
    """Raise ``ValueError`` (one line) if ``nbytes`` exceeds what ``device`` has free."""
    if os.environ.get("LUCKBOOK_PREFLIGHT", "on").strip().lower() in ("0", "off", "false", "no"):
        return
    free = free_bytes(device)
    if free is None or nbytes <= MEMORY_HEADROOM * free:
        return
    raise ValueError(
        f"the run needs an estimated {_gib(nbytes)} but {device.type} has {_gib(free)} free: "
        f"lower one of {largest_sizes(settings, n_seeds)} "
        "(or set LUCKBOOK_PREFLIGHT=off to try anyway)"
    )


def machine_busy() -> bool:
    """Whether the other processes already keep every core busy: the 1-minute load average
    (minus this process's own thread) is at least the core count. There, extra torch threads
    only spin against them (``benchmarks/bench_threads.py``: 1.2–4× slower under load)."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return False
    return load - 1 >= (os.cpu_count() or 1)


def resolve_threads(threads: int | None, estimated_s: float | None) -> int:
    """The torch thread count of a run: ``threads`` if given, else ``$LUCKBOOK_THREADS``, else
    one thread for a run estimated under :data:`SMALL_RUN_S` seconds or when the machine is
    busy (:func:`machine_busy`), else torch's default (one per core)."""
    if threads is None:
        env = os.environ.get("LUCKBOOK_THREADS", "").strip()
        if env:
            try:
                threads = int(env)
            except ValueError:
                raise ValueError(
                    f"LUCKBOOK_THREADS={env!r} is not allowed: expected an integer >= 1"
                ) from None
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads={threads!r} is not allowed: expected an integer >= 1")
        return threads
    if estimated_s is not None and estimated_s < SMALL_RUN_S:
        return 1
    if machine_busy():
        return 1
    return torch.get_num_threads()


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (``None``: as they are), then restore
    the previous count."""
    before = torch.get_num_threads()
    if n is not None and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
