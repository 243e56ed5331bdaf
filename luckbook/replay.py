"""Runs recorded as data, and replayed instead of computed.

Every run goes through ``Experiment.run_settings`` (:mod:`luckbook.experiments.base`),
which asks :func:`lookup` first and tells :func:`note` what it returned. Two uses:

- :func:`recording` collects every run made inside it (its settings, seeds, device, wall
  time and result) — how :mod:`luckbook.paper_store` stores the paper-scale runs as data;
  ``$LUCKBOOK_RECORD_DIR`` does the same for a whole process, writing one ``.npz`` per run
  (:func:`write_run`).
- :func:`replaying` answers runs from stored ones, so a claim report is re-evaluated from
  stored arrays with no training; with ``only=True`` a run that is not stored raises
  :class:`NotStored` instead of training.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import codec
from .cache import _jsonable


class NotStored(LookupError):
    """A replay was asked for a run that is not stored."""


@dataclasses.dataclass(frozen=True)
class Run:
    """One run: what it was asked (experiment, settings, seeds, device) and what it gave."""

    experiment: str
    settings: Any
    seeds: list[int]
    device: str
    value: Any
    wall_time_s: float | None = None  # None: it came from the results cache, not computed
    threads: int | None = None

    @property
    def key(self) -> str:
        return run_key(self.experiment, self.settings, self.seeds, self.device)


def run_key(experiment: str, settings: Any, seeds: Sequence[int], device: Any) -> str:
    """A digest of what a run is asked: experiment, every setting, the seeds, the device type."""
    blob = json.dumps(
        {
            "experiment": experiment,
            "settings": _jsonable(settings),
            "seeds": [int(s) for s in seeds],
            "device": getattr(device, "type", str(device)).split(":")[0],
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


_RECORDERS: list[list[Run]] = []
_REPLAYS: list[tuple[dict[str, Run], bool]] = []


@contextlib.contextmanager
def recording() -> Iterator[list[Run]]:
    """Collect every run made inside the block (computed or from the cache), in order."""
    runs: list[Run] = []
    _RECORDERS.append(runs)
    try:
        yield runs
    finally:
        _RECORDERS.remove(runs)


@contextlib.contextmanager
def replaying(runs: Sequence[Run], *, only: bool = True) -> Iterator[None]:
    """Answer runs from ``runs`` inside the block; with ``only`` a run not among them raises
    :class:`NotStored` (nothing is trained)."""
    entry = ({r.key: r for r in runs}, only)
    _REPLAYS.append(entry)
    try:
        yield
    finally:
        _REPLAYS.remove(entry)


def lookup(experiment: str, settings: Any, seeds: Sequence[int], device: Any) -> Any | None:
    """The stored value of this run while :func:`replaying`, else ``None``."""
    if not _REPLAYS:
        return None
    stored, only = _REPLAYS[-1]
    found = stored.get(run_key(experiment, settings, seeds, device))
    if found is not None:
        return found.value
    if only:
        raise NotStored(
            f"the {experiment} run with seeds {list(seeds)} and these settings is not stored: "
            f"{_jsonable(settings)}"
        )
    return None


def note(run: Run) -> None:
    """Tell every active :func:`recording` (and ``$LUCKBOOK_RECORD_DIR``) about a run."""
    for runs in _RECORDERS:
        runs.append(run)
    folder = os.environ.get("LUCKBOOK_RECORD_DIR")
    if folder and run.wall_time_s is not None:
        write_run(Path(folder) / f"{run.experiment}-{run.key}.npz", run)


def write_run(path: Path, run: Run) -> None:
    """One run as one ``.npz`` file (:mod:`luckbook.codec`: arrays and JSON, no pickles)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(codec.dumps(run))
    os.replace(tmp, path)


def read_run(path: Path) -> Run:
    """A run written by :func:`write_run` (read with ``allow_pickle=False``)."""
    run = codec.loads(Path(path).read_bytes())
    if not isinstance(run, Run):
        raise codec.CodecError(f"{path} does not hold a run")
    return run
