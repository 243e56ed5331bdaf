"""Paper-scale sweeps on a Dask cluster: a grid of settings × blocks of seeds.

A sweep of experiment ``E`` over a grid (every combination of the grid's values is a *point*)
is cut into *tasks*: one point with one block of seeds, trained as one batched program by
``lb.run(E, scale, seeds=block, device, **point)`` on a Dask worker, which stores the result
in the shared results cache (:mod:`luckbook.cache`) and returns only small metadata. The
client then loads every block from the cache and merges the blocks of a point into the
result ``lb.run(E, scale, seeds=all, device, **point)`` would give: seed ``s`` gets the same
numbers alone or in an ensemble, so merging blocks is concatenating along the seed axis
(:func:`merge_blocks`).

The E4 sweep (``two-layer-sweep``, itself a grid over ``m``, ``multi`` and ``p``) is cut further:
one task per ``(m, multi)`` program and seed block; the gathered result is the
:class:`~luckbook.results.two_layer_sweep.TwoLayerSweepResult` of ``lb.run`` with all the
seeds. Its grid names ``m``, ``multi`` and ``p`` set the sweep's ``ms``, ``multis`` and ``ps``.

Everything is validated before a cluster starts. Finished tasks are cache entries, so a
stopped or killed sweep resumes where it stopped; a failing task is retried, then reported
with its point, seed block and error, and the rest of the sweep goes on.

Needs ``dask[distributed]`` (``pip install luckbook[cluster]``), imported only when a sweep
starts a cluster.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import inspect
import itertools
import json
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cache import cache_dir, cache_enabled, entry_path, experiment_fingerprint, read_entry
from .config import SCALES, check_int, coerce, default_scale, field_names
from .evaluate import SEED_GROUP
from .experiments import get_experiment, resolve_seeds
from .resources import SMALL_RUN_S

TWO_LAYER_SWEEP = "two-layer-sweep"
SWEEP_AXES = {"m": "ms", "multi": "multis", "p": "ps"}
"""Grid names of ``two-layer-sweep`` that set its own axes instead of making grid points."""

SINGLE_BLOCK: dict[str, str] = {
    "directional": "its runs stop when every seed of the ensemble has reached the stop loss, "
    "so the snapshot steps (and every trajectory's length) depend on the other seeds",
    "lucky": "its rank test (result.test) is one statistic over all the seeds",
}
"""Experiments whose results cannot be merged from seed blocks, and why; their points run as
one block of all the seeds. Every other registered experiment passes
``tests/test_sweep.py::test_merge_equals_single_run``."""

DEVICE_TYPES = ("cpu", "cuda", "mps")


class ClusterError(RuntimeError):
    """The Dask cluster could not be started or reached."""


class MergeError(ValueError):
    """Seed blocks cannot be merged (no or more than one way to do it)."""


# ---------------------------------------------------------------------- the grid


def _split_values(raw: str) -> list[str]:
    """``"1,2,3" -> ["1", "2", "3"]``; commas inside brackets do not split, so tuple-valued
    settings are written ``(0.5,0.9),(0.95)``."""
    out, depth, current = [], 0, []
    for ch in raw:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return [v.strip() for v in out]


def parse_grid(experiment: str, pairs: Sequence[str]) -> dict[str, list[Any]]:
    """Parse ``--grid NAME=V1,V2`` options into ``{name: [v1, v2]}`` (values parsed by the type
    of the experiment's setting; a tuple-valued setting takes bracketed values, e.g.
    ``taus=(0.5,0.9),(0.95)``). One-line ``ValueError`` for bad input."""
    exp = get_experiment(experiment)
    cls = exp.settings_cls
    names = field_names(cls)
    allowed = list(names) + (list(SWEEP_AXES) if exp.name == TWO_LAYER_SWEEP else [])
    grid: dict[str, list[Any]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key or not raw.strip():
            raise ValueError(
                f"--grid {pair!r} is not allowed: expected NAME=V1,V2,..., e.g. --grid lr=0.01,0.05"
            )
        if key not in allowed:
            raise ValueError(
                f"unknown parameter {key!r} for experiment {exp.name!r}; "
                f"allowed: {', '.join(allowed)}"
            )
        if key in grid:
            raise ValueError(f"--grid {key}=... is given twice; give all its values at once")
        field = SWEEP_AXES.get(key, key) if exp.name == TWO_LAYER_SWEEP else key
        values = []
        for text in _split_values(raw):
            if not text:
                raise ValueError(f"--grid {pair!r} is not allowed: an empty value")
            value = coerce(cls, field, text)
            if field != key:  # m=5 -> one element of ms
                if len(value) != 1:
                    raise ValueError(f"{key}={text!r} is not allowed: expected one number")
                value = value[0]
            values.append(value)
        grid[key] = values
    return grid


def grid_points(
    experiment: str,
    grid: Mapping[str, Sequence[Any]] | None,
    *,
    scale: str | None = None,
    **overrides: Any,
) -> list[dict[str, Any]]:
    """Every combination of the grid's values as settings overrides (the first name varies
    slowest), each validated through the experiment's settings class: a one-line
    ``ValueError`` names the parameter, the value and what is allowed. For ``two-layer-sweep``
    the names ``m``, ``multi`` and ``p`` set ``ms``, ``multis`` and ``ps`` of every point."""
    exp = get_experiment(experiment)
    scale = default_scale() if scale is None else scale
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} is not allowed: expected one of {', '.join(SCALES)}")
    grid = dict(grid or {})
    axes: dict[str, tuple[Any, ...]] = {}
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(
                f"grid {name}={values!r} is not allowed: expected a non-empty list of values"
            )
        if len(set(map(repr, values))) != len(values):
            raise ValueError(
                f"grid {name}={list(values)!r} is not allowed: expected distinct values"
            )
        if name in overrides:
            raise ValueError(f"{name!r} is both a grid name and a fixed setting; give it once")
    if exp.name == TWO_LAYER_SWEEP:
        for short, field in SWEEP_AXES.items():
            if short in grid:
                if field in grid or field in overrides:
                    raise ValueError(f"give {short!r} or {field!r}, not both")
                axes[field] = tuple(grid.pop(short))
    names = list(grid)
    for name in names:  # each value alone first: the error names that value
        for value in grid[name]:
            exp.settings(scale, **overrides, **axes, **{name: value})
    points = [
        {**axes, **dict(zip(names, combo, strict=True))}
        for combo in itertools.product(*(grid[n] for n in names))
    ]
    for point in points:  # then every combination (settings that constrain each other)
        exp.settings(scale, **overrides, **point)
    return [{**overrides, **point} for point in points]


def check_seed_block(block: Any) -> int:
    """``seed_block`` must be a multiple of :data:`~luckbook.evaluate.SEED_GROUP` (2)."""
    allowed = (
        f"expected a multiple of {SEED_GROUP} (seeds are evaluated in groups of {SEED_GROUP}; "
        "other blocks do not reproduce a single run's numbers bit for bit)"
    )
    try:
        block = check_int("seed_block", block, minimum=SEED_GROUP)
    except ValueError:
        raise ValueError(f"seed_block={block!r} is not allowed: {allowed}") from None
    if block % SEED_GROUP:
        raise ValueError(f"seed_block={block!r} is not allowed: {allowed}")
    return block


def seed_blocks(seeds: Sequence[int], block: int) -> list[list[int]]:
    """Consecutive blocks of about ``block`` seeds (a multiple of ``SEED_GROUP``), each of a
    multiple of ``SEED_GROUP`` seeds, so that the seeds are evaluated in the same groups as in
    one run of them all. An odd number of seeds is one block. When the blocks would all be the
    same size, the first gets ``SEED_GROUP`` more and the last as many fewer (or, for blocks of
    ``SEED_GROUP``, the last two merge into the first), so that blocks of two sizes tell every
    array's seed axis apart by its length (see :func:`merge_blocks`)."""
    seeds = list(seeds)
    block = check_seed_block(block)
    n, g = len(seeds), SEED_GROUP
    if n % g or n <= block:
        return [seeds]
    sizes = [block] * (n // block) + ([n % block] if n % block else [])
    if len(sizes) >= 2 and len(set(sizes)) == 1:
        if block > g:
            sizes[0] += g
            sizes[-1] -= g
        else:
            sizes = [2 * g] + sizes[2:]
    out, start = [], 0
    for size in sizes:
        out.append(seeds[start : start + size])
        start += size
    return out


# ---------------------------------------------------------------------- merging seed blocks


def _is_timing(name: str) -> bool:
    return name.endswith("time_s")


def _same(a: Any, b: Any) -> bool:
    """Exact equality of two values of a result (NaN equals NaN; dtypes and types must match)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and _same(a.detach().cpu().numpy(), b.detach().cpu().numpy())
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, np.floating) and np.isnan(a):
        return bool(np.isnan(b))
    return bool(a == b)


def _merge(values: list[Any], counts: list[int], path: str, timing: bool = False) -> Any:
    """Merge one field across seed blocks (``counts[i]`` seeds in block ``i``); exactly one
    reading of the field must fit, else :class:`MergeError`."""
    first = values[0]
    kinds = {type(v) for v in values}
    if len(kinds) != 1:
        raise MergeError(f"{path}: the blocks hold different types")
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        if type(first).__dataclass_params__.frozen:  # settings: the same in every block
            if all(_same(first, v) for v in values[1:]):
                return first
            raise MergeError(f"{path}: differs across seed blocks")
        merged = copy.copy(first)
        for f in dataclasses.fields(first):
            value = _merge(
                [getattr(v, f.name) for v in values],
                counts,
                f"{path}.{f.name}",
                timing or _is_timing(f.name),
            )
            object.__setattr__(merged, f.name, value)
        return merged
    if isinstance(first, dict):
        if any(list(v) != list(first) for v in values):
            raise MergeError(f"{path}: the blocks have different keys")
        return {
            k: _merge(
                [v[k] for v in values], counts, f"{path}[{k!r}]", timing or _is_timing(str(k))
            )
            for k in first
        }
    if isinstance(first, (np.ndarray, torch.Tensor)):
        return _merge_array(values, counts, path)
    if isinstance(first, (list, tuple)):
        readings = {}
        if all(len(v) == n for v, n in zip(values, counts, strict=True)):
            readings["per seed"] = [x for v in values for x in v]
        errors = []
        if len({len(v) for v in values}) == 1:
            try:
                readings["per element"] = [
                    _merge([v[i] for v in values], counts, f"{path}[{i}]", timing)
                    for i in range(len(first))
                ]
            except MergeError as err:
                errors.append(str(err))
        if len(readings) != 1:
            why = "; ".join(errors) or (
                "it fits more than one reading" if readings else "no reading fits"
            )
            raise MergeError(f"{path}: cannot tell the seed axis of a list ({why})")
        (out,) = readings.values()
        return tuple(out) if isinstance(first, tuple) else out
    if timing and isinstance(first, (int, float)) and not isinstance(first, bool):
        return type(first)(sum(values))
    if all(_same(first, v) for v in values[1:]):
        return first
    raise MergeError(f"{path}: differs across seed blocks and has no seed axis")


def _merge_array(values: list[Any], counts: list[int], path: str) -> Any:
    first = values[0]
    shapes = [tuple(v.shape) for v in values]
    if len({len(s) for s in shapes}) != 1 or len({str(v.dtype) for v in values}) != 1:
        raise MergeError(f"{path}: the blocks' arrays differ in rank or dtype")
    shared = all(_same(first, v) for v in values[1:])
    axes = [
        a
        for a in range(len(shapes[0]))
        if all(s[a] == n for s, n in zip(shapes, counts, strict=True))
        and len({s[:a] + s[a + 1 :] for s in shapes}) == 1
    ]
    if shared and not axes:
        return first
    if len(axes) == 1 and not shared:
        if isinstance(first, torch.Tensor):
            return torch.cat(values, dim=axes[0])
        return np.concatenate(values, axis=axes[0])
    raise MergeError(
        f"{path}: cannot tell the seed axis of an array of shapes {shapes} "
        f"for blocks of {counts} seeds"
    )


def merge_blocks(parts: Sequence[Any]) -> Any:
    """The result of all the seeds from results of consecutive seed blocks (each with a
    ``seeds`` list): per-seed arrays, tensors and lists are concatenated along their seed axis,
    the axis whose length is the block's seed count in every block (there must be exactly one);
    everything else must be the same in every block; timings (``*time_s``) are summed.
    :class:`MergeError` when a field fits no reading or more than one."""
    parts = list(parts)
    if not parts:
        raise ValueError("parts=[] is not allowed: expected at least one block")
    if len(parts) == 1:
        return parts[0]
    counts = [len(p.seeds) for p in parts]
    return _merge(parts, counts, type(parts[0]).__name__)


def _union_programs(parts: Sequence[Any], settings: Any) -> Any:
    """``two-layer-sweep``: the results of its ``(m, multi)`` programs (same seeds) as one
    result of ``settings``, cells in the order of ``settings.cells``."""
    cells, group_time = {}, {}
    for part in parts:
        cells.update(part.cells)
        group_time.update(part.group_time_s)
    first = parts[0]
    for part in parts[1:]:
        if part.seeds != first.seeds or not _same(part.steps, first.steps):
            raise MergeError("two-layer-sweep programs differ in seeds or snapshot steps")
    return dataclasses.replace(
        first,
        settings=settings,
        wall_time_s=float(sum(p.wall_time_s for p in parts)),
        group_time_s={(m, k): group_time[(m, k)] for m in settings.ms for k in settings.multis},
        cells={cell: cells[cell] for cell in settings.cells},
    )


# ---------------------------------------------------------------------- tasks


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """One unit of work: ``lb.run(experiment, scale, seeds=seeds, device, **overrides)``."""

    point: int  # index into the sweep's points
    overrides: dict[str, Any]
    seeds: tuple[int, ...]

    def describe(self, points: Sequence[Mapping[str, Any]] | None = None) -> str:
        setting = points[self.point] if points is not None else self.overrides
        text = ", ".join(f"{k}={v!r}" for k, v in setting.items()) or "(defaults)"
        extra = {k: v for k, v in self.overrides.items() if k not in setting}
        if extra:
            text += " [" + ", ".join(f"{k}={v!r}" for k, v in extra.items()) + "]"
        return f"{text}; seeds {list(self.seeds)}"


@dataclasses.dataclass
class Failure:
    """A task that failed after its retries: its grid point, seed block and error."""

    point: dict[str, Any]
    seeds: list[int]
    error: str

    def __str__(self) -> str:
        setting = ", ".join(f"{k}={v!r}" for k, v in self.point.items()) or "(defaults)"
        return f"{setting}; seeds {self.seeds}: {self.error}"


def _entry_for(
    experiment: str,
    scale: str,
    seeds: Sequence[int],
    device_type: str,
    overrides: Mapping[str, Any],
) -> Path:
    """The cache entry ``lb.run`` writes for these arguments (the key of
    :meth:`Experiment.run <luckbook.experiments.base.Experiment.run>`)."""
    exp = get_experiment(experiment)
    module = inspect.getmodule(exp.compute)
    key = {
        "settings": exp.settings(scale, **overrides),
        "seeds": list(seeds),
        "device": device_type,
        "module": experiment_fingerprint(module) if module else None,
    }
    return entry_path(exp.name, key)


def _use_cache_folder(folder: str) -> None:
    """Point this worker process at the client's cache folder (a worker serves one sweep's
    client at a time; every task of a sweep sets the same folder)."""
    os.environ["LUCKBOOK_CACHE_DIR"] = folder
    os.environ["LUCKBOOK_CACHE"] = "on"


def run_task(
    experiment: str,
    scale: str,
    seeds: Sequence[int],
    device: str,
    overrides: Mapping[str, Any],
    cache_folder: str,
    threads: int | None = None,
) -> dict[str, Any]:
    """What a worker runs: ``lb.run`` into the cache folder ``cache_folder``; returns only
    metadata (the entry's name, whether it was already there, seconds, worker). ``threads``:
    the torch threads of a run estimated at 10 s or more (a smaller one gets one thread, as
    in ``lb.run``; ``$LUCKBOOK_THREADS`` wins); ``None``: ``lb.run``'s own choice."""
    from .experiments import run

    start = time.perf_counter()
    _use_cache_folder(cache_folder)
    path = _entry_for(experiment, scale, seeds, torch.device(device).type, overrides)
    hit = path.exists()
    if threads is not None and not hit and not os.environ.get("LUCKBOOK_THREADS", "").strip():
        # lb.run's rule (one thread for a small run), with the worker's share of the cores
        # for a large one: torch's default is 1 in a Dask worker (its nanny sets OMP_NUM_THREADS)
        plan = get_experiment(experiment).plan(
            scale=scale, seeds=list(seeds), device=device, **overrides
        )
        threads = 1 if plan is not None and plan.seconds < SMALL_RUN_S else threads
    elif threads is not None:
        threads = None
    run(experiment, scale=scale, seeds=list(seeds), device=device, threads=threads, **overrides)
    if not path.exists():
        raise RuntimeError(f"lb.run did not write the expected cache entry {path}")
    return {
        "entry": path.name,
        "hit": hit,
        "seconds": time.perf_counter() - start,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }


# ---------------------------------------------------------------------- the sweep


def plan(
    experiment: str,
    points: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    seed_block: int | None = None,
    *,
    scale: str | None = None,
) -> list[list[Task]]:
    """Per point, its tasks: one per seed block (:func:`seed_blocks`; one block of all the
    seeds for :data:`SINGLE_BLOCK` experiments, an odd number of seeds or no ``seed_block``)
    and, for ``two-layer-sweep``, per ``(m, multi)`` program."""
    exp = get_experiment(experiment)
    seeds = list(seeds)
    out = []
    for i, point in enumerate(points):
        split = seed_block is not None and exp.name not in SINGLE_BLOCK
        blocks = seed_blocks(seeds, seed_block) if split else [seeds]
        programs: list[dict[str, Any]] = [{}]
        if exp.name == TWO_LAYER_SWEEP:
            s = exp.settings(scale, **point)
            programs = [{"ms": (m,), "multis": (k,)} for m in s.ms for k in s.multis]
        out.append([Task(i, {**point, **prog}, tuple(b)) for b in blocks for prog in programs])
    return out


@dataclasses.dataclass
class SweepResult:
    """A finished sweep.

    Attributes:
        experiment, scale, seeds, device: what was run.
        points: the grid points (settings overrides), in grid order.
        results: per point, the result ``lb.run`` gives with all the seeds there (``None``
            where a task of the point failed).
        failures: the tasks that failed after their retries.
        tasks: how many tasks the sweep had; computed / cached: how many were trained now /
            found in the cache; fallbacks: points rerun as one block because their blocks
            could not be merged.
        wall_time_s: the sweep's wall time, cluster start included.
    """

    experiment: str
    scale: str
    seeds: list[int]
    device: str
    points: list[dict[str, Any]]
    results: list[Any]
    failures: list[Failure]
    tasks: int
    computed: int
    cached: int
    fallbacks: int
    wall_time_s: float

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def result(self) -> Any:
        """The only point's result (a one-point sweep, e.g. ``two-layer-sweep`` over its own
        axes); ``ValueError`` for a grid of several points or a failed one."""
        if len(self.points) != 1:
            raise ValueError(f"this sweep has {len(self.points)} points: use .results")
        if self.results[0] is None:
            raise ValueError(f"the sweep failed: {self.failures[0]}")
        return self.results[0]

    def summary(self) -> str:
        lines = [
            f"{self.experiment} sweep at scale {self.scale!r}: {len(self.points)} point(s) × "
            f"{len(self.seeds)} seeds on {self.device}; {self.tasks} tasks "
            f"({self.computed} computed, {self.cached} from the cache"
            + (f", {self.fallbacks} point(s) rerun as one block" if self.fallbacks else "")
            + f"), {self.wall_time_s:.1f} s"
        ]
        for point, result in zip(self.points, self.results, strict=True):
            setting = ", ".join(f"{k}={v!r}" for k, v in point.items()) or "(defaults)"
            lines.append(f"  {setting}: {'ok' if result is not None else 'FAILED'}")
        for failure in self.failures:
            lines.append(f"  failed: {failure}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "scale": self.scale,
            "seeds": self.seeds,
            "device": self.device,
            "tasks": self.tasks,
            "computed": self.computed,
            "cached": self.cached,
            "fallbacks": self.fallbacks,
            "wall_time_s": self.wall_time_s,
            "points": [
                {
                    "setting": json.loads(json.dumps(point, default=list)),
                    "result": None if result is None else result.to_json(),
                }
                for point, result in zip(self.points, self.results, strict=True)
            ],
            "failures": [
                {
                    "setting": json.loads(json.dumps(f.point, default=list)),
                    "seeds": f.seeds,
                    "error": f.error,
                }
                for f in self.failures
            ],
        }


def _check_device(device: str) -> str:
    """Syntax only: the workers, not the client, must have the device."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in DEVICE_TYPES:
        raise ValueError(
            f"device={device!r} is not allowed: expected 'cpu', 'cuda', 'cuda:<index>' or 'mps'"
        )
    return str(dev)


def _error_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def sweep(
    experiment: str,
    grid: Mapping[str, Sequence[Any]] | None = None,
    *,
    scale: str | None = None,
    seeds: int | Sequence[int] | None = None,
    seed_block: int | None = None,
    device: str = "cpu",
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    retries: int = 2,
    threads: int | None = None,
    progress: bool = True,
    **overrides: Any,
) -> SweepResult:
    """Run ``experiment`` over every point of ``grid`` × blocks of ``seed_block`` seeds on a
    Dask cluster and gather the results.

    ``lb.sweep("two-layer", {"p": [0.0, 1.0, 2.0], "multi": [1, 5]}, seeds=32, seed_block=8)``
    gives one result per point, equal (float64, bit for bit) to ``lb.run("two-layer", p=…,
    multi=…, seeds=32)``; ``lb.sweep("two-layer-sweep", scale="paper", seeds=32,
    seed_block=8).result`` is ``lb.run("two-layer-sweep", scale="paper", seeds=32)``.

    Args:
        grid: ``{name: [values]}``; every combination is a point (``overrides`` are fixed
            settings of every point). Validated before anything starts.
        seeds: a count or a list (default: the experiment's at ``scale``).
        seed_block: seeds per task (default: all of them, one task per point; the cache
            entries are then those of ``lb.run``).
        device: ``"cpu"``, ``"cuda"``, …: the workers' device; ``cuda`` tasks ask for the
            worker resource ``GPU`` (start GPU workers with ``--resources GPU=1``).
        workers: worker processes of the local cluster (default: one per CPU core, at most
            one per task; one for a GPU); ``scheduler``: the address of an existing cluster
            instead (its workers must see the same cache folder at the same path);
            ``client``: an existing ``distributed.Client`` instead.
        retries: Dask retries of a failing task before it is reported.
        threads: torch threads of a task estimated at 10 s or more (a smaller one gets one, as
            in ``lb.run``); default: for the local cluster, torch's thread count here (which
            honours ``OMP_NUM_THREADS``) shared out among its workers; for another cluster,
            ``lb.run``'s own choice.
        progress: a progress bar over the tasks (tqdm, on stderr).
    """
    start = time.perf_counter()
    exp = get_experiment(experiment)
    scale = default_scale() if scale is None else scale
    points = grid_points(exp.name, grid, scale=scale, **overrides)
    seed_list = resolve_seeds(exp.default_seeds[scale] if seeds is None else seeds)
    block = None if seed_block is None else check_seed_block(seed_block)
    device = _check_device(device)
    retries = check_int("retries", retries, minimum=0)
    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
    if sum(x is not None for x in (workers, scheduler, client)) > 1:
        raise ValueError("give at most one of workers, scheduler and client")
    if workers is not None:
        workers = check_int("workers", workers, minimum=1)
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ValueError(
            f"scheduler={scheduler!r} is not allowed: expected an address like tcp://host:8786"
        )
    if not cache_enabled():
        raise ValueError(
            "LUCKBOOK_CACHE=off is not allowed for a sweep: its tasks hand results over "
            "through the cache"
        )
    folder = str(cache_dir().resolve())
    dev_type = torch.device(device).type

    point_tasks = plan(exp.name, points, seed_list, block, scale=scale)
    tasks = [t for ts in point_tasks for t in ts]
    paths = {t: _entry_for(exp.name, scale, t.seeds, dev_type, t.overrides) for t in tasks}
    todo = [t for t in tasks if not paths[t].exists()]
    stats = {"computed": 0, "cached": len(tasks) - len(todo)}
    failures: dict[Task, Failure] = {}

    def failed(task: Task, error: str) -> None:
        failures[task] = Failure(dict(points[task.point]), list(task.seeds), error)

    fallbacks: list[Task] = []
    results: list[Any] = [None] * len(points)
    with contextlib.ExitStack() as stack:
        cluster: list[tuple[Any, int | None]] = []

        def run_round(batch: Sequence[Task], total: int, done: int) -> None:
            if not batch:
                return
            if not cluster:  # started on first need: a fully cached sweep starts none
                cluster.append(
                    stack.enter_context(_cluster(batch, device, workers, scheduler, client))
                )
            cl, local_threads = cluster[0]
            _submit_and_wait(
                cl, exp.name, scale, device, folder,
                threads if threads is not None else local_threads, retries, batch, paths,
                stats, failed, progress, total, done,
            )  # fmt: skip

        run_round(todo, len(tasks), len(tasks) - len(todo))
        for i, ts in enumerate(point_tasks):
            results[i] = _gather(exp, scale, points[i], ts, paths, failures, failed)
            if isinstance(results[i], MergeError):
                fallbacks.append(Task(i, dict(points[i]), tuple(seed_list)))
                results[i] = None
        if fallbacks:
            for t in fallbacks:
                paths[t] = _entry_for(exp.name, scale, t.seeds, dev_type, t.overrides)
            again = [t for t in fallbacks if not paths[t].exists()]
            stats["cached"] += len(fallbacks) - len(again)
            run_round(again, len(again), 0)
            for t in fallbacks:
                results[t.point] = _gather(
                    exp, scale, points[t.point], [t], paths, failures, failed
                )
    ordered = [failures[t] for t in tasks + fallbacks if t in failures]
    return SweepResult(
        experiment=exp.name,
        scale=scale,
        seeds=seed_list,
        device=device,
        points=points,
        results=results,
        failures=ordered,
        tasks=len(tasks) + len(fallbacks),
        computed=stats["computed"],
        cached=stats["cached"],
        fallbacks=len(fallbacks),
        wall_time_s=time.perf_counter() - start,
    )


@contextlib.contextmanager
def _cluster(
    todo: Sequence[Task], device: str, workers: int | None, scheduler: str | None, client: Any
) -> Iterator[tuple[Any, int | None]]:
    """The Dask client to submit ``todo`` to and the torch threads of a large task (for a
    local cluster: torch's thread count here shared out among its workers)."""
    if client is not None:
        yield client, None
        return
    try:
        import dask
        import distributed
    except ImportError:
        raise ValueError(
            "a sweep needs dask[distributed]: pip install 'dask[distributed]' "
            "(or luckbook[cluster])"
        ) from None
    stack = contextlib.ExitStack()
    try:
        if scheduler is not None:
            cl = stack.enter_context(distributed.Client(scheduler, timeout="30s"))
            n = None
        else:
            gpu = torch.device(device).type != "cpu"
            cores = os.cpu_count() or 1
            n = workers if workers is not None else (1 if gpu else max(1, min(cores, len(todo))))
            # what lb.run would use here (torch's default honours OMP_NUM_THREADS), shared out
            share = max(1, torch.get_num_threads() // n)
            # Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in their workers, which made
            # training about 20 % slower (book-scale two-layer: 16 s instead of 13 s); unset it
            stack.enter_context(
                dask.config.set(
                    {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
                )
            )
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    memory_limit=0,  # lb.run checks a run's memory itself
                    resources={"GPU": 1} if gpu else None,
                    silence_logs=logging.ERROR,
                    # no dashboard; the scheduler's HTTP routes on a free loopback port
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                )
            )
            cl = stack.enter_context(distributed.Client(cluster))
    except (OSError, RuntimeError, TimeoutError) as err:
        stack.close()
        where = f"the Dask scheduler {scheduler}" if scheduler else "a local Dask cluster"
        raise ClusterError(f"cannot start or reach {where}: {_error_line(err)}") from err
    with stack:
        yield cl, None if n is None else share


def _submit_and_wait(
    cl: Any,
    experiment: str,
    scale: str,
    device: str,
    folder: str,
    threads: int | None,
    retries: int,
    batch: Sequence[Task],
    paths: Mapping[Task, Path],
    stats: dict[str, int],
    failed: Any,
    progress: bool,
    total: int,
    done: int,
) -> None:
    import distributed
    from tqdm.auto import tqdm

    gpu = torch.device(device).type == "cuda"
    nonce = uuid.uuid4().hex[:8]
    futures = {}
    for task in batch:
        digest = hashlib.sha256(paths[task].name.encode()).hexdigest()[:16]
        future = cl.submit(
            run_task,
            experiment,
            scale,
            task.seeds,
            device,
            task.overrides,
            folder,
            threads,
            key=f"luckbook-sweep-{digest}-{nonce}",
            retries=retries,
            resources={"GPU": 1} if gpu else None,
            pure=False,
        )
        futures[future] = task
    with tqdm(
        total=total, initial=done, disable=not progress, desc=f"{experiment} sweep", unit="task"
    ) as bar:
        for future in distributed.as_completed(list(futures)):
            task = futures[future]
            try:
                meta = future.result()
            except Exception as err:  # noqa: BLE001 - any task error is reported, not raised
                failed(task, _error_line(err))
            else:
                if meta["entry"] != paths[task].name:
                    failed(
                        task,
                        f"the worker stored {meta['entry']}, "
                        f"the client expected {paths[task].name} "
                        "(different luckbook code or settings on the worker?)",
                    )
                else:
                    stats["cached" if meta["hit"] else "computed"] += 1
            finally:
                future.release()
            bar.update(1)


def _gather(
    exp: Any,
    scale: str,
    point: Mapping[str, Any],
    tasks: Sequence[Task],
    paths: Mapping[Task, Path],
    failures: Mapping[Task, Failure],
    failed: Any,
) -> Any:
    """The point's result from its tasks' cache entries; ``None`` if one failed, a
    :class:`MergeError` if its blocks cannot be merged."""
    if any(t in failures for t in tasks):
        return None
    parts = {}
    for task in tasks:
        try:
            parts[task] = read_entry(paths[task])
        except Exception as err:  # noqa: BLE001
            failed(task, f"cannot read its cache entry {paths[task]}: {_error_line(err)}")
            return None
    try:
        return _merge_point(exp, scale, point, tasks, parts)
    except MergeError as err:
        return err


def _merge_point(
    exp: Any, scale: str, point: Mapping[str, Any], tasks: Sequence[Task], parts: Mapping[Task, Any]
) -> Any:
    if exp.name == TWO_LAYER_SWEEP:
        settings = exp.settings(scale, **point)
        by_block: dict[tuple[int, ...], list[Any]] = {}
        for task in tasks:
            by_block.setdefault(task.seeds, []).append(parts[task])
        blocks = [_union_programs(p, settings) for p in by_block.values()]
    else:
        blocks = [parts[t] for t in tasks]
    return merge_blocks(blocks)


def load_point(
    experiment: str,
    point: Mapping[str, Any],
    tasks: Sequence[Task],
    *,
    scale: str | None = None,
    device: str = "cpu",
) -> Any:
    """A point's result, merged from its tasks' cache entries (:func:`plan`); raises if an
    entry is missing or unreadable, :class:`MergeError` if the blocks cannot be merged."""
    exp = get_experiment(experiment)
    scale = default_scale() if scale is None else scale
    dev_type = torch.device(device).type
    parts = {
        t: read_entry(_entry_for(exp.name, scale, t.seeds, dev_type, t.overrides)) for t in tasks
    }
    return _merge_point(exp, scale, point, tasks, parts)
