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

from .claims import ClaimReport, ClaimRow, ControlStat, Stat, claims_of

S = TypeVar("S")

FROZEN = "frozen student — the same run evaluated at its initial weights (step 0)"


@dataclasses.dataclass
class Result(Generic[S]):
    """What every result holds first: its settings, its seeds, the device and the wall time.

    Class attributes (set by each subclass):
        EXPERIMENT: the registered experiment name, e.g. ``"two-layer"``.
        CONTROLS: the *evaluation* controls :meth:`claim_stats` computes from this run (the
            first is a claim's default control); ``CONTROL_NAMES`` describes each in one line.
            Controls that need a second run are the experiment's ``run_controls``.
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
        student (``control=None``) or on the evaluation control named (one of ``CONTROLS``)."""
        raise NotImplementedError(f"{type(self).__name__} defines no claim_stats()")

    def control_names(self) -> tuple[str, ...]:
        """Every control this result's claims can be evaluated under: the evaluation controls
        (``CONTROLS``) and the experiment's control runs (``Experiment.run_controls``)."""
        from .experiments.base import get_experiment

        try:
            runs = tuple(get_experiment(self.EXPERIMENT).run_controls)
        except ValueError:
            runs = ()
        return tuple(self.CONTROLS) + tuple(r for r in runs if r not in self.CONTROLS)

    def control_description(self, name: str) -> str:
        """What control ``name`` is, in one line."""
        from .experiments.base import get_experiment

        if name in self.CONTROL_NAMES:
            return self.CONTROL_NAMES[name]
        run = get_experiment(self.EXPERIMENT).run_controls.get(name)
        return run.description if run is not None else name

    def control_result(self, name: str) -> Result:
        """The run of control ``name`` (one of the experiment's ``run_controls``): the same
        seeds and device, the settings the control prescribes; cached like any run."""
        from .experiments.base import get_experiment

        exp = get_experiment(self.EXPERIMENT)
        if name not in exp.run_controls:
            raise ValueError(
                f"control={name!r} is not allowed: expected one of "
                f"{', '.join(self.control_names())}"
            )
        settings = exp.run_controls[name].settings(self.settings)
        return exp.run_settings(settings, seeds=self.seeds, device=self.device)

    def control_stats(self, name: str) -> dict[str, Stat]:
        """``{claim id: Stat}`` under control ``name``: an evaluation of this run (``frozen``)
        or the claims of the control's own run."""
        if name in self.CONTROLS:
            return self.claim_stats(name)
        return self.control_result(name).claim_stats(None)

    def claims(self, control: str | None = None) -> ClaimReport:
        """The report of every registered claim of this experiment on this result.

        Args:
            control: ``None`` (default) evaluates the trained student and shows, beside each
                claim, its value and verdict under each of its controls (a control run is
                made, or loaded from the cache, when needed); a control's name evaluates
                that control instead, and then every evidence claim should fail.
        """
        allowed = self.control_names()
        if control is not None and control not in allowed:
            raise ValueError(
                f"control={control!r} is not allowed: expected one of {', '.join(allowed)}"
            )
        registered = claims_of(self.EXPERIMENT)
        stats = self.claim_stats(None) if control is None else self.control_stats(control)
        missing = [c.id for c in registered if c.id not in stats]
        if missing:
            raise RuntimeError(
                f"{self.EXPERIMENT}: claim_stats() computed no value for {', '.join(missing)}"
            )
        wanted: dict[str, list[str]] = {
            c.id: list(c.control_names(self.CONTROLS)) if control is None else []
            for c in registered
        }
        names = list(dict.fromkeys(n for ns in wanted.values() for n in ns))
        for n in names:
            if n not in allowed:
                raise RuntimeError(
                    f"{self.EXPERIMENT}: a claim names control {n!r}, not one of "
                    f"{', '.join(allowed)}"
                )
        beside = {n: self.control_stats(n) for n in names}
        rows = [
            ClaimRow(
                c,
                stats[c.id],
                tuple(ControlStat(n, beside[n][c.id]) for n in wanted[c.id] if c.id in beside[n]),
            )
            for c in registered
        ]
        if control is None:
            described = "; ".join(f"{n}: {self.control_description(n)}" for n in names)
        else:
            described = self.control_description(control)
        report = ClaimReport(
            experiment=self.EXPERIMENT,
            scale=self.scale(),
            seeds=list(self.seeds),
            device=str(self.device),
            control=control,
            control_name=described,
            wall_time_s=float(self.wall_time_s if self.wall_time_s is not None else math.nan),
            rows=rows,
        )
        return report if control is not None else self._with_paper_scale(report)

    def _with_paper_scale(self, report: ClaimReport) -> ClaimReport:
        """``report`` with the verdicts of the paper-scale runs stored in the package beside it
        (:mod:`luckbook.paper_store`) when this is the book's own run: ``book`` settings on the
        book's held-out seeds (so a chapter's claim cell shows both sizes)."""
        from .experiments.base import get_experiment

        try:
            exp = get_experiment(self.EXPERIMENT)
        except ValueError:
            return report
        if report.scale != "book" or [int(s) for s in self.seeds] != exp.claim_seeds("book"):
            return report
        return exp._with_paper_scale(report)
