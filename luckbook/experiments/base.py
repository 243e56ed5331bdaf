"""The experiment registry: settings class + scale presets + ``compute`` -> cached ``run``."""

from __future__ import annotations

import dataclasses
import inspect
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from .. import replay
from ..cache import cached, experiment_fingerprint
from ..claims import ClaimReport, held_out_seeds
from ..config import SCALES, check_int, default_scale, field_names, make_settings, resolve_device
from ..costs import Estimate
from ..resources import check_memory, resolve_threads, torch_threads
from ..result import Result

REGISTRY: dict[str, Experiment] = {}


def resolve_seeds(seeds: int | Sequence[int]) -> list[int]:
    """``8 -> [0, …, 7]``; a list of distinct non-negative integers is kept as given."""
    if isinstance(seeds, (int,)) and not isinstance(seeds, bool):
        return list(range(check_int("seeds", seeds, minimum=1)))
    try:
        seeds = [check_int("seeds", s, minimum=0) for s in seeds]
    except TypeError:
        raise ValueError(
            f"seeds={seeds!r} is not allowed: expected a count >= 1 or a list of seeds"
        ) from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(
            f"seeds={seeds!r} is not allowed: expected a non-empty list of distinct seeds"
        )
    return seeds


@dataclasses.dataclass(frozen=True)
class RunControl:
    """A control that needs a run of its own: the same seeds with the settings
    ``settings(original)`` returns (e.g. the student trained on an independent teacher).

    Attributes:
        description: one line for reports and ``luckbook claims --control``.
        settings: maps the experiment's settings to the control run's settings.
    """

    description: str
    settings: Callable[[Any], Any]


def replace_settings(**changes: Any) -> Callable[[Any], Any]:
    """A :attr:`RunControl.settings` that replaces fields, e.g.
    ``replace_settings(control="different-teacher")`` or ``replace_settings(p=0.0)``."""

    def apply(settings: Any) -> Any:
        new = dataclasses.replace(settings, **changes)
        validate = getattr(new, "validate", None)
        if callable(validate):
            validate()
        return new

    return apply


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One experiment of the book (E0–E9).

    Attributes:
        name: the CLI name, e.g. ``"two-layer"``.
        key: the experiment key (E0–E9, defined on the book's reproducibility page), e.g. ``"E4"``.
        summary: one line for ``luckbook list``.
        settings_cls: frozen dataclass of its settings (defaults = ``paper`` scale).
        presets: per scale, the settings that differ from the defaults.
        default_seeds: per scale, how many seeds a run uses by default.
        compute: ``compute(settings, seeds, device, progress) -> result``.
        estimate: optional ``estimate(settings, n_seeds, device) -> Estimate``; the CLI prints
            it before a run starts (and ``--estimate`` prints only it).
        report: optional ``report(experiment, *, scale, seeds, device, control, progress,
            cache, threads, **overrides) -> ClaimReport`` for experiments whose claims need more
            than
            one run; by default :meth:`claims` runs once and calls ``result.claims()``.
        result_cls: the class ``compute`` returns (a :class:`~luckbook.result.Result`).
        run_controls: the controls that need a run of their own, by name (see
            :class:`RunControl`); the evaluation controls are ``result_cls.CONTROLS``.
    """

    name: str
    key: str
    summary: str
    settings_cls: type
    presets: Mapping[str, Mapping[str, Any]]
    default_seeds: Mapping[str, int]
    compute: Callable[..., Any]
    estimate: Callable[..., Estimate] | None = None
    report: Callable[..., ClaimReport] | None = None
    result_cls: type[Result] = Result
    run_controls: Mapping[str, RunControl] = dataclasses.field(default_factory=dict)

    @property
    def controls(self) -> tuple[str, ...]:
        """Every control its claims can be evaluated under: the evaluation controls of its
        result (``frozen``, ...) and its control runs; ``luckbook claims --control`` takes
        one of them."""
        evals = tuple(self.result_cls.CONTROLS)
        return evals + tuple(n for n in self.run_controls if n not in evals)

    def control_description(self, name: str) -> str:
        """What control ``name`` is, in one line."""
        if name in self.run_controls:
            return self.run_controls[name].description
        return self.result_cls.CONTROL_NAMES.get(name, name)

    def plan(
        self,
        *,
        scale: str | None = None,
        seeds: int | Sequence[int] | None = None,
        device: str | torch.device | None = None,
        **overrides: Any,
    ) -> Estimate | None:
        """The cost estimate of :meth:`run` with the same arguments (``None`` if none is
        defined)."""
        scale = default_scale() if scale is None else scale
        settings = self.settings(scale, **overrides)
        seed_list = resolve_seeds(self.default_seeds[scale] if seeds is None else seeds)
        if self.estimate is None:
            return None
        dev = resolve_device(device)
        estimate = self.estimate(settings, len(seed_list), dev)
        if dev.type == "cpu" and hasattr(os, "getloadavg"):
            estimate = dataclasses.replace(estimate, load=os.getloadavg()[0])
        return estimate

    def settings(self, scale: str | None = None, **overrides: Any) -> Any:
        """The validated settings at ``scale`` (default ``$LUCKBOOK_SCALE`` or ``book``) with
        overrides."""
        try:
            return make_settings(self.settings_cls, scale, self.presets, **overrides)
        except TypeError as err:  # a wrong type inside the dataclass constructor
            raise ValueError(f"bad settings for experiment {self.name!r}: {err}") from None

    def run(
        self,
        *,
        scale: str | None = None,
        seeds: int | Sequence[int] | None = None,
        device: str | torch.device | None = None,
        progress: bool = False,
        cache: bool = True,
        threads: int | None = None,
        **overrides: Any,
    ) -> Any:
        """Validate everything, then compute (or load from the cache) the result.

        Before computing, the run's estimated memory is checked against what ``device`` has
        free (a one-line ``ValueError`` naming the sizes to lower); ``threads`` sets the torch
        thread count (default: one for a run estimated under 10 s, else torch's default; see
        :mod:`luckbook.resources`). Neither affects the cache key.
        """
        scale = default_scale() if scale is None else scale
        settings = self.settings(scale, **overrides)
        seed_list = self.default_seeds[scale] if seeds is None else seeds
        return self.run_settings(
            settings,
            seeds=seed_list,
            device=device,
            progress=progress,
            cache=cache,
            threads=threads,
        )

    def run_settings(
        self,
        settings: Any,
        *,
        seeds: int | Sequence[int],
        device: str | torch.device | None = None,
        progress: bool = False,
        cache: bool = True,
        threads: int | None = None,
    ) -> Any:
        """:meth:`run` for a settings object already made (a control run's, for example)."""
        if not isinstance(settings, self.settings_cls):
            raise ValueError(
                f"settings={settings!r} is not allowed: expected {self.settings_cls.__name__}"
            )
        seed_list = resolve_seeds(seeds)
        dev = resolve_device(device)
        stored = replay.lookup(self.name, settings, seed_list, dev)
        if stored is not None:  # replaying stored runs (luckbook.replay): nothing is trained
            return stored
        timing: dict[str, Any] = {}

        def compute() -> Any:  # the estimate is made only when there is something to compute
            plan = self.estimate(settings, len(seed_list), dev) if self.estimate else None
            if plan is not None:
                check_memory(plan.bytes, dev, settings, len(seed_list))
            n_threads = resolve_threads(threads, plan.seconds if plan else None)
            start = time.perf_counter()
            with torch_threads(n_threads):
                timing["threads"] = torch.get_num_threads()
                value = self.compute(settings, seed_list, dev, progress)
            timing["seconds"] = time.perf_counter() - start
            return value

        if not cache:
            value = compute()
        else:
            value = cached(self.name, self._cache_key(settings, seed_list, dev), compute)
        replay.note(
            replay.Run(
                self.name,
                settings,
                seed_list,
                dev.type,
                value,
                timing.get("seconds"),
                timing.get("threads"),
            )
        )
        return value

    def _cache_key(self, settings: Any, seeds: list[int], dev: torch.device) -> dict[str, Any]:
        module = inspect.getmodule(self.compute)
        return {
            "settings": settings,
            "seeds": seeds,
            "device": dev.type,
            "module": experiment_fingerprint(module) if module else None,
        }

    def cached_result(
        self,
        *,
        scale: str | None = None,
        seeds: int | Sequence[int] | None = None,
        device: str | torch.device | None = None,
        **overrides: Any,
    ) -> Any | None:
        """The result :meth:`run` would return if it is in the results cache, else ``None``
        (nothing is computed)."""
        from ..cache import entry_path, read_entry

        scale = default_scale() if scale is None else scale
        settings = self.settings(scale, **overrides)
        seed_list = resolve_seeds(self.default_seeds[scale] if seeds is None else seeds)
        path = entry_path(self.name, self._cache_key(settings, seed_list, resolve_device(device)))
        return read_entry(path) if path.exists() else None

    def claim_seeds(self, scale: str | None = None) -> list[int]:
        """The held-out seeds the book's claim cells use at ``scale``: the first
        ``default_seeds[scale]`` seeds from :data:`~luckbook.claims.HELD_OUT_START`."""
        scale = default_scale() if scale is None else scale
        if scale not in SCALES:
            raise ValueError(f"scale={scale!r} is not allowed: expected one of {', '.join(SCALES)}")
        return held_out_seeds(self.default_seeds[scale])

    def claims(
        self,
        *,
        scale: str | None = None,
        seeds: int | Sequence[int] | None = None,
        device: str | torch.device | None = None,
        control: str | None = None,
        progress: bool = False,
        cache: bool = True,
        threads: int | None = None,
        **overrides: Any,
    ) -> ClaimReport:
        """Run (or load from the cache) the experiment on the held-out seeds (default) and
        return its claim report; ``control="frozen"`` reports the negative control instead."""
        scale = default_scale() if scale is None else scale
        if control is not None and control not in self.controls:
            raise ValueError(
                f"control={control!r} is not allowed: expected one of {', '.join(self.controls)}"
            )
        seed_list = self.claim_seeds(scale) if seeds is None else seeds
        report = self._claims(
            scale, seed_list, device, control, progress, cache, threads, overrides
        )
        if scale == "book" and control is None and not overrides and seeds is None:
            report = self._with_paper_scale(report)  # a result's claims() may have added it
        return report

    def _with_paper_scale(self, report: ClaimReport) -> ClaimReport:
        """``report`` with the paper-scale verdicts of the runs stored in the package beside
        it (:mod:`luckbook.paper_store`), when there are any."""
        from .. import paper_store

        if report.paper is not None or paper_store.load_record(self.name) is None:
            return report
        try:
            paper = paper_store.report(self.name)
        except Exception as err:  # noqa: BLE001 - the book reports it instead of failing
            return dataclasses.replace(
                report, paper_source=f"stored paper-scale runs not readable: {err}"
            )
        return dataclasses.replace(
            report, paper=paper, paper_source=paper_store.describe_short(self.name)
        )

    def _claims(
        self,
        scale: str,
        seed_list: int | Sequence[int],
        device: str | torch.device | None,
        control: str | None,
        progress: bool,
        cache: bool,
        threads: int | None,
        overrides: dict[str, Any],
    ) -> ClaimReport:
        if self.report is not None:
            return self.report(
                self,
                scale=scale,
                seeds=seed_list,
                device=device,
                control=control,
                progress=progress,
                cache=cache,
                threads=threads,
                **overrides,
            )
        result = self.run(
            scale=scale,
            seeds=seed_list,
            device=device,
            progress=progress,
            cache=cache,
            threads=threads,
            **overrides,
        )
        return result.claims(control=control)

    def describe(self) -> str:
        """Multi-line help: summary, then every parameter with its default at each scale."""
        lines = [f"{self.name} ({self.key}): {self.summary}"]
        for name in field_names(self.settings_cls):
            values = [
                f"{scale}={getattr(make_settings(self.settings_cls, scale, self.presets), name)!r}"
                for scale in SCALES
            ]
            lines.append(f"    {name:<12} " + "  ".join(values))
        seeds = "  ".join(f"{s}={self.default_seeds[s]}" for s in SCALES)
        lines.append(f"    {'(seeds)':<12} {seeds}")
        return "\n".join(lines)


def register(experiment: Experiment) -> Experiment:
    REGISTRY[experiment.name] = experiment
    return experiment


def get_experiment(name: str) -> Experiment:
    """The registered experiment ``name``; ``ValueError`` listing the known ones otherwise."""
    if name not in REGISTRY:
        raise ValueError(
            f"experiment={name!r} is not allowed: expected one of {', '.join(sorted(REGISTRY))}"
        )
    return REGISTRY[name]


def run(name: str, **kwargs: Any) -> Any:
    """``run("two-layer", scale="book", seeds=8, multi=5, p=1)``: see :meth:`Experiment.run`."""
    return get_experiment(name).run(**kwargs)


def claims(name: str, **kwargs: Any) -> ClaimReport:
    """``claims("two-layer")``: the claim report on the held-out seeds; see
    :meth:`Experiment.claims`."""
    return get_experiment(name).claims(**kwargs)
