"""The base of every experiment's result: how it was made, its snapshots and seeds, its JSON
header and its claim report.

Each experiment's result class (``luckbook/results/<experiment>.py``) is a dataclass that
derives from :class:`Result`, names its experiment in :attr:`Result.EXPERIMENT`, adds its
arrays as fields, and implements :meth:`Result.claim_stats`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from .claims import ClaimReport, ClaimRow, Stat, claims_of

S = TypeVar("S")

FROZEN = "frozen student — the same run evaluated at its initial weights (step 0)"


@dataclasses.dataclass
class Result(Generic[S]):
    """What every result holds first: its settings, its seeds, the device and the wall time.

    Class attributes (set by each subclass):
        EXPERIMENT: the registered experiment name, e.g. ``"two-layer"``.
        CONTROLS: the negative controls :meth:`claims` can evaluate (the first is printed
            beside the values); ``CONTROL_NAMES`` describes each in one line.
    """

    settings: S
    seeds: list[int]
    device: str
    wall_time_s: float

    EXPERIMENT: ClassVar[str] = ""
    CONTROLS: ClassVar[tuple[str, ...]] = ("frozen",)
    CONTROL_NAMES: ClassVar[Mapping[str, str]] = {"frozen": FROZEN}

    # ------------------------------------------------------------------ snapshots and seeds
    def _steps(self) -> np.ndarray:
        steps = getattr(self, "steps", None)
        if steps is None:
            raise TypeError(f"{type(self).__name__} has no snapshots")
        return np.asarray(steps)

    def snapshot_index(self, step: int | None = None) -> int:
        """Index into the snapshot axis of ``step`` (default: the last snapshot)."""
        steps = self._steps()
        if step is None:
            return len(steps) - 1
        hits = np.flatnonzero(steps == step)
        if not len(hits):
            raise ValueError(
                f"step={step!r} is not allowed: snapshots were taken at {steps.tolist()}"
            )
        return int(hits[0])

    def seed_rows(self, seeds: Sequence[int] | None = None) -> slice | list[int]:
        """Indices into the seed axis of ``seeds`` (default: every seed, as a slice).
        ``seeds`` must be a non-empty list of distinct seeds of this result."""
        have = self.seeds
        if seeds is None:
            return slice(None)
        allowed = f"expected a non-empty list of distinct seeds from {have}"
        if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
            raise ValueError(f"seeds={seeds!r} is not allowed: {allowed}")
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds={list(seeds)!r} is not allowed: {allowed}")
        rows = []
        for seed in seeds:
            if seed not in have:
                raise ValueError(f"seed={seed!r} is not in this result: seeds are {have}")
            rows.append(have.index(seed))
        return rows

    def seed_halves(self) -> list[list[int]]:
        """The first and the second half of the seeds (the first has the smaller half when the
        count is odd); no halves (``[]``) for a single seed."""
        half = len(self.seeds) // 2
        return [self.seeds[:half], self.seeds[half:]] if half else []

    # ------------------------------------------------------------------ text and JSON
    def made(self) -> str:
        """One line: seeds, device and wall time (every ``summary()`` prints it)."""
        return f"{len(self.seeds)} seeds on {self.device}, {self.wall_time_s:.1f} s"

    def json_header(self) -> dict[str, Any]:
        """The CLI JSON's first keys: experiment, settings, device, wall time (and the
        snapshot steps when the result has snapshots)."""
        head: dict[str, Any] = {
            "experiment": self.EXPERIMENT,
            "settings": dataclasses.asdict(self.settings),  # type: ignore[call-overload]
            "device": self.device,
            "wall_time_s": self.wall_time_s,
        }
        if getattr(self, "steps", None) is not None:
            head["steps"] = np.asarray(self._steps()).tolist()
        return head

    def provenance(self) -> str:
        """The provenance line of :func:`luckbook.provenance` at this result's scale (or
        "Computed at custom settings.")."""
        from .config import SCALES, provenance

        scale = self.scale()
        return provenance(scale) if scale in SCALES else "Computed at custom settings."

    # ------------------------------------------------------------------ claims
    def scale(self) -> str:
        """The scale whose settings this result was run at (``"custom"`` for any other)."""
        from .config import SCALES
        from .experiments.base import get_experiment

        try:
            exp = get_experiment(self.EXPERIMENT)
        except ValueError:
            return "custom"
        for scale in SCALES:
            if exp.settings(scale) == self.settings:
                return scale
        return "custom"

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """``{claim id: Stat}`` for every registered claim of the experiment, on the trained
        student (``control=None``) or on the control named (one of ``CONTROLS``)."""
        raise NotImplementedError(f"{type(self).__name__} defines no claim_stats()")

    def claims(self, control: str | None = None) -> ClaimReport:
        """The report of every registered claim of this experiment on this result.

        Args:
            control: ``None`` (default) evaluates the trained student and prints the first
                control's values beside; a name from ``CONTROLS`` (e.g. ``"frozen"``)
                evaluates that control instead, and then every claim should fail.
        """
        if control is not None and control not in self.CONTROLS:
            raise ValueError(
                f"control={control!r} is not allowed: expected one of {', '.join(self.CONTROLS)}"
            )
        registered = claims_of(self.EXPERIMENT)
        stats = self.claim_stats(control)
        ctrl_name = control or (self.CONTROLS[0] if self.CONTROLS else "")
        beside = self.claim_stats(ctrl_name) if control is None and ctrl_name else {}
        missing = [c.id for c in registered if c.id not in stats]
        if missing:
            raise RuntimeError(
                f"{self.EXPERIMENT}: claim_stats() computed no value for {', '.join(missing)}"
            )
        rows = [
            ClaimRow(c, stats[c.id], beside.get(c.id) if c.control else None) for c in registered
        ]
        return ClaimReport(
            experiment=self.EXPERIMENT,
            scale=self.scale(),
            seeds=list(self.seeds),
            device=str(self.device),
            control=control,
            control_name=self.CONTROL_NAMES.get(ctrl_name, ctrl_name),
            wall_time_s=float(self.wall_time_s if self.wall_time_s is not None else math.nan),
            rows=rows,
        )
