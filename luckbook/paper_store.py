"""Paper-scale results stored in the package, as data, with their provenance.

Several experiments take minutes to hours at the size the papers used, too long for a book
build. Their runs at ``paper`` scale on the held-out seeds are stored under
``luckbook/paper/<experiment>/`` (``$LUCKBOOK_PAPER_STORE`` overrides the folder):

- one ``.npz`` file per run (the main run and every control run), written by
  :func:`luckbook.replay.write_run`: arrays and JSON, read with ``allow_pickle=False``;
- ``record.json``: the provenance — commit, code fingerprint, device and its model, torch
  threads, seeds, settings and wall time of each run, when it was recorded — and, after
  :func:`verify`, which code last reproduced a slice of it.

:func:`report` re-evaluates the registered claims from the stored arrays (nothing is
trained: :func:`luckbook.replay.replaying` refuses any run that is not stored).
:func:`status` says whether the stored runs are *current* (recorded or verified by the
package's present code and paper preset) or *stale*; :func:`verify` recomputes one seed of
the main run and compares it with the stored arrays; :func:`refresh` recomputes everything.
The command line: ``luckbook paper-results [EXP…] [--verify | --refresh]``.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import inspect
import json
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import replay
from ._version import __version__
from .cache import _jsonable, experiment_fingerprint, source_fingerprint

STORE = Path(__file__).parent / "paper"
RECORD = "record.json"
RTOL, ATOL = 1e-4, 1e-6
"""Tolerance of :func:`verify`: float32 kernels differ in their last digits between CPUs."""


def store_dir() -> Path:
    """The folder of stored paper-scale runs: ``$LUCKBOOK_PAPER_STORE`` or the package's."""
    env = os.environ.get("LUCKBOOK_PAPER_STORE")
    return Path(env) if env else STORE


def stored() -> list[str]:
    """The experiments with stored paper-scale runs, in the book's order."""
    from .reproducibility import CHAPTERS

    root = store_dir()
    have = {p.parent.name for p in root.glob(f"*/{RECORD}")} if root.is_dir() else set()
    return [n for n in CHAPTERS if n in have] + sorted(have - set(CHAPTERS))


def code_fingerprint(experiment: str) -> str:
    """The fingerprint of the code an experiment's results depend on (the results cache's
    key: the shared computing modules and the experiment's own)."""
    from .experiments import get_experiment

    module = inspect.getmodule(get_experiment(experiment).compute)
    own = experiment_fingerprint(module) if module else "-"
    return f"{source_fingerprint()[:16]}-{own[:16]}"


def device_model(device: str = "cpu") -> str:
    """The device in words: the CPU's model name and core count, or the GPU's name."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def git_commit() -> str:
    """The commit of the package's checkout, or ``"unknown"``."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclasses.dataclass(frozen=True)
class Record:
    """The provenance of one experiment's stored paper-scale runs (``record.json``)."""

    experiment: str
    scale: str
    seeds: list[int]
    device: str
    device_model: str
    threads: int | None
    commit: str
    fingerprint: str
    recorded: str
    wall_time_s: float
    luckbook: str
    torch: str
    runs: list[dict[str, Any]]
    load_average: str = ""
    verified: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    """The claim report as it was when the runs were stored (``ClaimReport.to_json``)."""

    @property
    def current_fingerprint(self) -> str:
        """The code fingerprint the stored arrays are known to match."""
        return self.verified["fingerprint"] if self.verified else self.fingerprint


def load_record(experiment: str) -> Record | None:
    """The provenance of ``experiment``'s stored runs, or ``None`` if none are stored."""
    path = store_dir() / experiment / RECORD
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Record(**data)


def _write_record(record: Record) -> None:
    path = store_dir() / record.experiment / RECORD
    path.write_text(json.dumps(dataclasses.asdict(record), indent=1) + "\n", encoding="utf-8")


def load_runs(experiment: str) -> list[replay.Run]:
    """Every stored run of ``experiment`` (read as data, ``allow_pickle=False``)."""
    record = load_record(experiment)
    if record is None:
        raise replay.NotStored(f"no paper-scale runs of {experiment!r} are stored")
    folder = store_dir() / experiment
    return [replay.read_run(folder / r["file"]) for r in record.runs]


def write(
    experiment: str,
    runs: Sequence[replay.Run],
    *,
    seeds: Sequence[int],
    commit: str,
    fingerprint: str,
    wall_time_s: float,
    load_average: str = "",
    report: dict[str, Any] | None = None,
) -> Record:
    """Store ``runs`` (those of one claim report at paper scale) as ``experiment``'s
    paper-scale runs, replacing what was stored."""
    folder = store_dir() / experiment
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.npz"):
        old.unlink()
    from .experiments import get_experiment

    preset = _jsonable(get_experiment(experiment).settings("paper"))
    unique: dict[str, replay.Run] = {}
    ordered = sorted(
        (r for r in runs if r.experiment == experiment),
        key=lambda r: _jsonable(r.settings) != preset,  # the main run first
    )
    for run in ordered:
        unique.setdefault(run.key, run)
    entries = []
    for run in unique.values():
        name = f"{run.key}.npz"
        replay.write_run(folder / name, run)
        entries.append(
            {
                "file": name,
                "settings": _jsonable(run.settings),
                "seeds": list(run.seeds),
                "device": run.device,
                "wall_time_s": run.wall_time_s,
                "threads": run.threads,
            }
        )
    devices = sorted({r.device for r in unique.values()}) or ["cpu"]
    threads = sorted({r.threads for r in unique.values() if r.threads is not None})
    record = Record(
        experiment=experiment,
        scale="paper",
        seeds=[int(s) for s in seeds],
        device=devices[0],
        device_model=device_model(devices[0]),
        threads=threads[-1] if threads else None,
        commit=commit,
        fingerprint=fingerprint,
        recorded=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        wall_time_s=float(wall_time_s),
        luckbook=__version__,
        torch=torch.__version__,
        runs=entries,
        load_average=load_average,
        report=report,
    )
    _write_record(record)
    _report.cache_clear()
    return record


@functools.lru_cache(maxsize=32)
def _report(experiment: str, folder: str, stamp: float) -> Any:
    from .experiments import get_experiment

    record = load_record(experiment)
    assert record is not None
    exp = get_experiment(experiment)
    with replay.replaying(load_runs(experiment), only=True):
        out = exp.claims(scale="paper", seeds=record.seeds, device=record.device, cache=False)
    return dataclasses.replace(out, wall_time_s=record.wall_time_s)


def report(experiment: str) -> Any:
    """The claim report of ``experiment`` at paper scale, re-evaluated from the stored arrays
    (nothing is trained; :class:`~luckbook.replay.NotStored` if a run is missing). Its
    ``wall_time_s`` is the stored runs' training time."""
    path = store_dir() / experiment / RECORD
    if not path.is_file():
        raise replay.NotStored(f"no paper-scale runs of {experiment!r} are stored")
    return _report(experiment, str(store_dir()), path.stat().st_mtime)


def status(experiment: str) -> str:
    """``"current"``, or ``"stale: <why>"``, or ``"not stored"``."""
    from .experiments import get_experiment

    record = load_record(experiment)
    if record is None:
        return "not stored"
    exp = get_experiment(experiment)
    preset = _jsonable(exp.settings("paper"))
    if not any(r["settings"] == preset for r in record.runs):
        return "stale: the paper preset changed since the runs were stored"
    if record.current_fingerprint != code_fingerprint(experiment):
        return (
            "stale: the package's computing code changed since the runs were stored "
            f"(commit {record.commit[:7]}); run `luckbook paper-results --verify {experiment}`"
        )
    return "current"


def _leaves(value: Any, path: str = "") -> dict[str, np.ndarray]:
    """Every array of a result, by its path in the result."""
    out: dict[str, np.ndarray] = {}
    if isinstance(value, torch.Tensor):
        out[path] = value.detach().cpu().numpy()
    elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        out[path] = value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            out.update(_leaves(getattr(value, f.name), f"{path}.{f.name}"))
    elif isinstance(value, dict):
        for k, v in value.items():
            out.update(_leaves(v, f"{path}[{k!r}]"))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            out.update(_leaves(v, f"{path}[{i}]"))
    return out


def compare_slice(stored_value: Any, fresh_value: Any, n_seeds: int) -> dict[str, Any]:
    """Compare a one-seed recomputation with the stored ``n_seeds``-seed result: each array
    of the fresh result is matched with the stored array at the same path, cut to the first
    seed along the axis where their sizes are ``1`` and ``n_seeds``. Returns the number of
    arrays compared and the largest absolute and relative differences, and ``ok`` when all
    agree within :data:`RTOL` / :data:`ATOL`."""
    old, new = _leaves(stored_value), _leaves(fresh_value)
    compared, worst_abs, worst_rel, bad = 0, 0.0, 0.0, []
    for path, b in new.items():
        a = old.get(path)
        if a is None or a.ndim != b.ndim or a.ndim == 0:
            continue
        axes = [
            i
            for i in range(a.ndim)
            if a.shape[i] == n_seeds
            and b.shape[i] == 1
            and all(a.shape[j] == b.shape[j] for j in range(a.ndim) if j != i)
        ]
        if len(axes) != 1:
            continue
        a = np.take(a, [0], axis=axes[0]).astype(np.float64)
        b = b.astype(np.float64)
        both = np.isfinite(a) & np.isfinite(b)
        if not np.array_equal(np.isfinite(a), np.isfinite(b)):
            bad.append(path)
            continue
        diff = np.abs(a[both] - b[both])
        compared += 1
        if diff.size:
            worst_abs = max(worst_abs, float(diff.max()))
            scale = np.maximum(np.abs(a[both]), np.abs(b[both]))
            worst_rel = max(worst_rel, float((diff / np.maximum(scale, 1e-300)).max()))
            if not np.all(diff <= ATOL + RTOL * scale):
                bad.append(path)
    return {
        "arrays": compared,
        "max_abs_diff": worst_abs,
        "max_rel_diff": worst_rel,
        "mismatched": bad,
        "ok": compared > 0 and not bad,
    }


def verify(
    experiment: str,
    *,
    write: bool = False,
    device: str | None = None,
    threads: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Recompute the first seed of the stored main run with the present code and compare it
    with the stored arrays (:func:`compare_slice`); with ``write`` and a match, record in
    ``record.json`` that the present code reproduces the stored runs (so :func:`status`
    says *current*). Returns the comparison with the seconds it took."""
    from .experiments import get_experiment

    record = load_record(experiment)
    if record is None:
        raise replay.NotStored(f"no paper-scale runs of {experiment!r} are stored")
    exp = get_experiment(experiment)
    runs = load_runs(experiment)
    main = runs[0]
    start = time.perf_counter()
    fresh = exp.run_settings(
        main.settings,
        seeds=[main.seeds[0]],
        device=device or main.device,
        cache=False,
        threads=threads,
        progress=progress,
    )
    out = compare_slice(main.value, fresh, len(main.seeds))
    out["seconds"] = time.perf_counter() - start
    out["seed"] = main.seeds[0]
    if write and out["ok"]:
        verified = {
            "fingerprint": code_fingerprint(experiment),
            "commit": git_commit(),
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "seed": main.seeds[0],
            "arrays": out["arrays"],
            "max_rel_diff": out["max_rel_diff"],
            "seconds": round(out["seconds"], 1),
            "device_model": device_model(device or main.device),
        }
        _write_record(dataclasses.replace(record, verified=verified))
    return out


def refresh(
    experiment: str,
    *,
    seeds: Sequence[int] | None = None,
    device: str | None = None,
    threads: int | None = None,
    progress: bool = False,
) -> Record:
    """Recompute ``experiment``'s claim report at paper scale (on its held-out seeds by
    default; every run, controls included, trained afresh) and store its runs."""
    from .experiments import get_experiment

    exp = get_experiment(experiment)
    seed_list = exp.claim_seeds("paper") if seeds is None else list(seeds)
    start = time.perf_counter()
    with replay.recording() as runs:
        out = exp.claims(
            scale="paper",
            seeds=seed_list,
            device=device,
            cache=False,
            threads=threads,
            progress=progress,
        )
    return write(
        experiment,
        runs,
        seeds=seed_list,
        commit=git_commit(),
        fingerprint=code_fingerprint(experiment),
        wall_time_s=time.perf_counter() - start,
        load_average=_load(),
        report=out.to_json(),
    )


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""


def describe(experiment: str) -> str:
    """One line of provenance: seeds, wall time, device, commit, status."""
    record = load_record(experiment)
    if record is None:
        return f"{experiment}: no paper-scale runs stored"
    seeds = record.seeds
    span = (
        f"{seeds[0]}–{seeds[-1]}"
        if seeds == list(range(seeds[0], seeds[0] + len(seeds)))
        else ", ".join(map(str, seeds))
    )
    threads = (
        f", {record.threads} torch thread{'s' * (record.threads != 1)}" if record.threads else ""
    )
    return (
        f"{experiment}: paper scale, {len(seeds)} held-out seeds ({span}), "
        f"{len(record.runs)} runs in {record.wall_time_s / 60:.1f} min on {record.device} "
        f"({record.device_model}{threads}), commit {record.commit[:7]}, recorded "
        f"{record.recorded}; {status(experiment)}"
    )


def describe_short(experiment: str) -> str:
    """The provenance in a few words, for a claim report's footer."""
    record = load_record(experiment)
    if record is None:
        return "not stored"
    seeds = record.seeds
    state = status(experiment)
    return (
        f"{len(seeds)} held-out seeds from {seeds[0]}, trained in "
        f"{record.wall_time_s / 60:.1f} min on {record.device_model}"
        + ("" if state == "current" else f"; {state.split(';')[0]}")
    )
