"""Cost models: what a run will take, told before it starts (``luckbook run --estimate``).

One function per experiment, named as the experiment, ``f(settings, n_seeds, device) ->
Estimate``; :meth:`~luckbook.experiments.base.Experiment.run` uses the estimate for its
memory pre-flight and to pick the torch thread count (:mod:`luckbook.resources`). Each model
counts the run's FLOPs and converts them at a rate that is either calibrated (constants below,
measured on the book's quiet 2-core CPU with one torch thread; the measurements are in
``benchmarks/README.md``) or measured at the run's shapes.

**Measured rates** are CPU time of the timing thread (:func:`time.thread_time`, one torch
thread), not wall time: on a busy machine wall time swings with the other processes' load,
CPU time hardly does, so an estimate made under load matches one made on a quiet machine.
A measurement is remembered (:func:`remembered`, a small JSON file in the cache folder, keyed
by what was timed, the shapes, the torch version and the CPU), so the same run is estimated
the same way every time. Estimates never allocate more than a few MiB: a shape too large to
time is timed scaled down and scaled back up by its FLOP count, so the memory pre-flight can
refuse a run that cannot fit before anything large exists (:func:`capped`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from .config import resolve_dtype
from .data import boundary_augmented, gaussian
from .ensemble import Net
from .evaluate import SEED_GROUP
from .resources import SMALL_RUN_S, resolve_threads, torch_threads
from .train import sgd_step, snapshot_steps

if TYPE_CHECKING:
    from .experiments.bn_bias import BNBiasSettings
    from .experiments.deep_specialization import DeepSpecializationSettings
    from .experiments.deep_teacher import DeepTeacherSettings
    from .experiments.directional import DirectionalSettings
    from .experiments.fanout import FanoutSettings
    from .experiments.gradient_relation import GradientRelationSettings
    from .experiments.lucky import LuckySettings
    from .experiments.real_teacher import RealTeacherSettings
    from .experiments.sample_complexity import SampleComplexitySettings
    from .experiments.two_layer import TwoLayerSettings
    from .experiments.two_layer_sweep import TwoLayerSweepSettings


# ---------- measuring: CPU time, remembered, at capped shapes ---------------------------
CALIBRATION_FILE = "calibration.json"
"""File in the cache folder (:func:`luckbook.cache.cache_dir`) holding remembered timings."""

TIMING_ELEMENTS = 2**20
"""Largest tensor (in elements) a timing may build; larger shapes are scaled down."""

_REMEMBERED: dict[str, float] = {}


@functools.lru_cache(maxsize=1)
def machine_name() -> str:
    """``"<CPU model>, <n> cores"`` (the CPU model from ``/proc/cpuinfo`` where there is one)."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return f"{model}, {os.cpu_count() or 1} cores"


def _calibration_path() -> os.PathLike[str] | None:
    from .cache import cache_dir, cache_enabled

    return cache_dir() / CALIBRATION_FILE if cache_enabled() else None


def remembered(key: str, measure: Callable[[], float], device: torch.device) -> float:
    """``measure()`` the first time ``key`` is asked for on this machine and torch version,
    then the stored value (in this process and in the cache folder's ``calibration.json``)."""
    if device.type != "cpu":  # accelerators differ from one run to the next: time each one
        return measure()
    full = f"{key}|torch {torch.__version__}|{machine_name()}"
    if full in _REMEMBERED:
        return _REMEMBERED[full]
    path = _calibration_path()
    table: dict[str, float] = {}
    if path is not None:
        try:
            with open(path) as f:
                table = json.load(f)
        except (OSError, ValueError):
            table = {}
    value = table.get(full)
    if not isinstance(value, (int, float)) or not value > 0:
        value = float(measure())
        if path is not None:
            table[full] = value
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                tmp = f"{path}.{os.getpid()}.tmp"
                with open(tmp, "w") as f:
                    json.dump(table, f, indent=0, sort_keys=True)
                os.replace(tmp, path)
            except OSError:
                pass
    _REMEMBERED[full] = float(value)
    return float(value)


def _clock(device: torch.device) -> Callable[[], float]:
    """CPU time of this thread on a CPU (load-independent), wall time on an accelerator."""
    return time.thread_time if device.type == "cpu" else time.perf_counter


def capped(widths: Sequence[int], batch: int) -> tuple[list[int], int, float]:
    """Widths and batch small enough to time (every tensor under :data:`TIMING_ELEMENTS`),
    and the factor by which the full shapes' matmul FLOPs exceed the timed ones."""
    full = [int(w) for w in widths]
    w = [min(x, 2048) for x in full]
    b = max(1, min(int(batch), 4096))
    while b > 1 and b * (max(w) + 1) > TIMING_ELEMENTS:
        b = max(1, b // 2)
    while max(a * c for a, c in zip(w[:-1], w[1:], strict=True)) * 4 > TIMING_ELEMENTS:
        w = [max(1, x // 2) for x in w]

    def macs(ws: Sequence[int], bb: int) -> float:
        return float(bb) * sum((a + 1) * c for a, c in zip(ws[:-1], ws[1:], strict=True))

    return w, b, macs(full, batch) / macs(w, b)


def gflops(rate: float) -> str:
    """A FLOP rate for people: ``"48 GFLOP/s"``, ``"0.43 GFLOP/s"``, ``"12 MFLOP/s"``."""
    if rate >= 1e9:
        return f"{rate / 1e9:.3g} GFLOP/s"
    return f"{rate / 1e6:.3g} MFLOP/s"


def n_snapshots_of(steps: int, n: int, spacing: str = "linear") -> int:
    """``len(snapshot_steps(steps, n, spacing))`` without building the list when it is huge."""
    if n <= 100_000:
        return len(snapshot_steps(steps, n, spacing))
    return min(n, steps) + 1


def _train_buffers(
    steps: float, n_seeds: int, item: int, n_snap: int = 0, per_snapshot: float = 0
) -> int:
    """Bytes :func:`~luckbook.train.train` keeps whatever the widths: the minibatch losses
    ``[steps, S]`` and ``per_snapshot`` numbers (float64 on the CPU) per seed and snapshot."""
    return int(item * steps * n_seeds + 8 * n_snap * n_seeds * per_snapshot)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """What a run will cost, told to the user before it starts (``luckbook run`` prints it).

    Attributes:
        seconds: expected wall time on ``device`` (on a CPU: on a quiet machine).
        bytes: expected peak memory of the run's tensors.
        basis: one line on how the numbers were obtained (e.g. a measured rate).
    """

    seconds: float
    bytes: int
    basis: str
    load: float | None = None
    """The machine's 1-minute load average when the estimate was made (CPU runs; ``None``
    where unknown or on an accelerator)."""

    @property
    def busy_factor(self) -> float:
        """How much longer than :attr:`seconds` the run should take at :attr:`load`: a thread
        of the run gets about ``cores / (load + 1)`` of a core once the other processes keep
        every core busy (1 on a quiet machine). The estimate itself stays a quiet-machine
        figure, measured in CPU time, so it does not move with the load."""
        if self.load is None:
            return 1.0
        return max(1.0, (self.load + 1.0) / (os.cpu_count() or 1))

    def describe(self) -> str:
        text = f"estimated time ≈ {_duration(self.seconds)}, memory ≈ {self._size()}"
        if self.busy_factor >= 1.25:
            text += (
                f"; about {_duration(self.seconds * self.busy_factor)} at the machine's present "
                f"load ({self.load:.1f} on {os.cpu_count() or 1} cores)"
            )
        return f"{text} ({self.basis})"

    def _size(self) -> str:
        mem = self.bytes / 2**30
        size = (
            f"{self.bytes / 2**20:.0f} MiB"
            if mem < 0.1
            else f"{mem:.1f} GiB"
            if mem < 1000
            else f"{mem:.2g} GiB"
        )
        return size


def _duration(sec: float) -> str:
    """``"45 s"``, ``"12 min"``, ``"3.3 h"``."""
    return (
        f"{sec:.0f} s"
        if sec < 120
        else f"{sec / 60:.0f} min"
        if sec < 7200
        else f"{sec / 3600:.1f} h"
        if sec < 1000 * 3600
        else f"{sec / 3600:.2g} h"
    )


# ---------- E4 two-layer (also the unit of the sweep and of E5) ---------------
# Cost model, calibrated on the book's 2-core CPU with one torch thread, float64 (quiet
# machine, 2026-11-23): a fixed cost per step, a cost per seed-step (gathers and elementwise
# work) plus its matmul FLOPs at a sustained rate, and per evaluation the FLOPs at a rate plus
# elementwise work per sample. float32 rates scaled by the float32/float64 ratios of
# benchmarks/README.md (training 1.6×, evaluation 2.3×).
TRAIN_GFLOPS = {"float64": 30.0, "float32": 48.0}


EVAL_GFLOPS = {"float64": 35.0, "float32": 80.0}


STEP_OVERHEAD_S = 60e-6


SEED_STEP_OVERHEAD_S = 10e-6


EVAL_SAMPLE_S = 0.25e-6


RANDN_S = 20e-9  # drawing one float64 Gaussian input coordinate


def two_layer_cost(
    settings: TwoLayerSettings,
    n_seeds: int,
    device: torch.device,
    train_loss: bool = True,
    draw_data: bool = True,
    workers: int = 1,
) -> Estimate:
    """Time and memory of training ``n_seeds`` networks of ``settings`` in one batched program
    (its SGD steps shared by ``workers`` threads, as :func:`~luckbook.batched_sgd.train_blocked`
    shares them; the evaluations on one).

    FLOPs per seed-step count the matmuls of forward and backward (``B`` = batch):
    ``2·(2B(d+1)n + 2B(n+1)c) + 2Bcn``; an evaluation costs ``2N((d+1)n + (n+1)c) + 2Nmn``
    per seed on the eval set (and the forward again on the train set if ``train_loss``);
    drawing the inputs (``draw_data``) costs ``RANDN_S`` per coordinate.
    """
    s = settings
    dtype = "float32" if s.dtype == "float32" else "float64"
    item = 4 if dtype == "float32" else 8
    b, n = s.batch, s.n
    step_flops = 2 * (2 * b * (s.d + 1) * n + 2 * b * (n + 1) * s.c) + 2 * b * s.c * n
    forward = 2 * ((s.d + 1) * n + (n + 1) * s.c)
    eval_flops = s.n_eval * (forward + 2 * s.m * n) + (s.n_train * forward if train_loss else 0)
    eval_samples = s.n_eval + (s.n_train if train_loss else 0)
    n_evals = n_snapshots_of(s.steps, s.n_snapshots, s.spacing)
    per_seed_step = SEED_STEP_OVERHEAD_S + step_flops / (TRAIN_GFLOPS[dtype] * 1e9)
    seconds = s.steps * (STEP_OVERHEAD_S + n_seeds * per_seed_step) / max(1, workers)
    per_eval = eval_flops / (EVAL_GFLOPS[dtype] * 1e9) + eval_samples * EVAL_SAMPLE_S
    seconds += n_evals * n_seeds * per_eval
    if draw_data:
        seconds += n_seeds * (s.n_train + s.n_eval) * s.d * RANDN_S
    data = s.n_train * (s.d + 1 + s.c) + s.n_eval * (2 * s.d + 2 + 3 * s.m + s.c)
    work = SEED_GROUP * s.n_eval * 3 * n
    # one SGD step: the minibatch, hidden and output activations and their gradients
    step = 3 * s.batch * (s.d + 1 + 2 * (n + 1) + 2 * s.c)
    nbytes = item * (n_seeds * (int(1.5 * data) + s.steps + step) + work)
    basis = (
        f"{step_flops / 1e6:.3g} MFLOP per seed-step at {TRAIN_GFLOPS[dtype]:g} GFLOP/s "
        f"+ {SEED_STEP_OVERHEAD_S * 1e6:.0f} µs per seed-step "
        f"+ {STEP_OVERHEAD_S * 1e6:.0f} µs per step, "
        f"{eval_flops / 1e6:.3g} MFLOP per seed-evaluation at {EVAL_GFLOPS[dtype]:g} GFLOP/s; "
        "rates "
        f"measured on a quiet 2-core CPU with one torch thread, {dtype}"
        + (f"; training on {workers} worker threads" if workers > 1 else "")
        + ("" if device.type == "cpu" else f"; on {device.type} expect much less time")
    )
    return Estimate(seconds, nbytes, basis)


def two_layer(settings: TwoLayerSettings, n_seeds: int, device: torch.device) -> Estimate:
    """The cost of :func:`compute` (see :func:`two_layer_cost`)."""
    return two_layer_cost(settings, n_seeds, device)


# ---------- E4 the released two-layer sweep -----------------------------------
def two_layer_sweep(
    settings: TwoLayerSweepSettings, n_seeds: int, device: torch.device
) -> Estimate:
    """Sum of the per-program costs of :func:`two_layer_cost` (programs run one after another),
    plus drawing the inputs once; memory: the largest program plus the stored results."""
    n_p = len(settings.ps)

    def total(workers: int) -> tuple[float, int, int, Estimate]:
        seconds, peak, results = 0.0, 0, 0
        for m in settings.ms:
            for multi in settings.multis:
                cell = settings.cell_settings(m, multi, settings.ps[0])
                cost = two_layer_cost(
                    cell, n_seeds * n_p, device, train_loss=False, draw_data=False, workers=workers
                )
                seconds += cost.seconds
                peak = max(peak, cost.bytes)
                t = n_snapshots_of(settings.steps, settings.n_snapshots, settings.spacing)
                results += n_p * n_seeds * t * (m * 4 + multi * m * 10 + 8)
        seconds += n_seeds * (settings.n_train + settings.n_eval) * settings.d * RANDN_S
        return seconds, peak, results, cost

    seconds, peak, results, cost = total(1)
    # on a CPU the programs train on one worker thread per torch thread the run gets
    # (luckbook.resources: one for a short run or on a busy machine)
    workers = 1 if device.type != "cpu" else resolve_threads(None, seconds)
    if workers > 1:
        seconds, peak, results, cost = total(workers)
    n_programs = len(settings.ms) * len(settings.multis)
    return Estimate(
        seconds,
        peak + results,
        f"{n_programs} batched programs of {n_p * n_seeds} networks; last program: {cost.basis}",
    )


# ---------- E5 sample complexity ----------------------------------------------
def _e5_layer_flops(s: SampleComplexitySettings) -> int:
    """Multiply-adds of one forward pass of one sample through the student."""
    return (s.d + 1) * s.n + (s.n + 1) * s.c


def e5_training_rate(s: SampleComplexitySettings, device: torch.device, steps: int = 200) -> float:
    """FLOP/s of training at these shapes on ``device``, as E5 trains: one block of
    :func:`~luckbook.batched_sgd.train_blocked` (minibatches gathered from stacked sets), timed
    with one torch thread by :func:`~luckbook.batched_sgd.step_seconds` (CPU time of ``steps``
    steps after a warm-up, the fastest of three, plus the drawing of a chunk of minibatch
    indices spread over the chunk's steps as a long run pays it), at shapes :func:`capped` to
    a few MiB; remembered per shape."""
    from .batched_sgd import BLOCK_VALUES, step_seconds
    from .experiments.sample_complexity import StackedSets

    (d, width, c), b, _factor = capped([s.d, s.n, s.c], s.batch)
    layer = (d + 1) * width + (width + 1) * c
    k = max(1, BLOCK_VALUES // layer)  # members per block, as E5 trains

    def measure() -> float:
        dtype = resolve_dtype(s.dtype)
        gen = torch.Generator().manual_seed(0)
        net = Net(
            [
                0.01 * torch.randn(k, d + 1, width, generator=gen, dtype=dtype).to(device),
                0.01 * torch.randn(k, width + 1, c, generator=gen, dtype=dtype).to(device),
            ],
            activation=s.activation,
            slope=s.slope,
        )
        n = max(1, min(max(s.n_trains), 2_000, TIMING_ELEMENTS // (k * (d + c))))
        x = torch.randn(k, n, d, generator=gen, dtype=dtype).to(device)
        y = torch.randn(k, n, c, generator=gen, dtype=dtype).to(device)
        source = StackedSets([x], [y])
        args = (source.flat_x, source.flat_y, source.member_sizes, source.offsets, list(range(k)))

        def timed(t: int) -> float:
            return step_seconds(
                net,
                *args,
                lr=1e-4,
                steps=t,
                batch=b,
                clock=_clock(device),
                sync=lambda: _sync(device),
            )

        with torch_threads(1):
            timed(5)  # warm-up: the first call pays one-off costs (allocations, kernel set-up)
            # the fastest of three timings (a loaded machine slows some), each of whole
            # stretches (never a difference of two readings, which a coarse thread-time clock
            # could make zero)
            per_step = min(timed(steps) for _ in range(3))
        return 6 * k * b * layer / max(per_step, 1e-7)

    # "v3": the preallocated step of luckbook.batched_sgd, timed without a whole chunk's draw
    # per 60 steps; timings stored by earlier versions are not reused
    key = f"e5 train_blocked v3 d {d} n {width} c {c} batch {b} {s.dtype} {s.activation}"
    return remembered(key, measure, device)


def e5_setup_cost(s: SampleComplexitySettings, device: torch.device, points: int = 2_000) -> float:
    """Seconds (CPU time, one torch thread) per training point to build the training sets
    (one Gaussian and one augmented set of ``points`` points for one seed, labelled by the
    teacher, and stacked), at ``d`` and ``m`` capped to a few MiB and scaled back by ``d·m``;
    remembered per shape."""
    from .experiments.sample_complexity import StackedSets
    from .experiments.two_layer import make_nets

    d, m = min(s.d, 1024), min(s.m, 256)
    small = dataclasses.replace(s, d=d, m=m, multi=1) if (d, m, 1) != (s.d, s.m, s.multi) else s
    points = max(1, min(points, TIMING_ELEMENTS // (d + m)))

    def measure() -> float:
        teacher = make_nets(small.two_layer(1), [0], device)[0]
        clock = _clock(device)
        with torch_threads(1):
            start = clock()
            xs = [
                gaussian(points, d, [0], data_std=s.data_std).to(device, teacher.dtype),
                boundary_augmented(
                    teacher,
                    points,
                    [0],
                    data_std=s.data_std,
                    alpha_mean=s.alpha_mean,
                    alpha_sigma=s.alpha_sigma,
                ).to(device, teacher.dtype),
            ]
            StackedSets(xs, [teacher(x) for x in xs])
            return (clock() - start) / (2 * points)

    key = f"e5 setup d {d} m {m} points {points} {s.dtype}"
    return remembered(key, measure, device) * (s.d * s.m) / (d * m)


def sample_complexity(
    settings: SampleComplexitySettings, n_seeds: int, device: torch.device
) -> Estimate:
    """Time from a FLOP count at the SGD-step rate measured (CPU time) on ``device``, plus the
    set-up (training sets) at a per-point cost measured likewise; memory from the tensors the
    run holds (training sets, eval probe, evaluation temporaries) plus 15 % allocator slack."""
    s = settings
    groups = len(s.n_trains) * len(s.kinds)
    members = groups * n_seeds
    flops = 6 * s.steps * members * s.batch * _e5_layer_flops(s)  # forward + two backward matmuls
    per_eval = groups * n_seeds * s.n_eval * 2 * (_e5_layer_flops(s) + s.m * s.n)
    per_eval += 2 * n_seeds * len(s.kinds) * sum(s.n_trains) * _e5_layer_flops(s)
    flops += (s.n_snapshots + 2) * per_eval
    rate = e5_training_rate(s, device)
    # E5 trains its blocks on one worker thread per torch thread (luckbook.batched_sgd), and a
    # run of this size gets the machine's threads unless it is busy (luckbook.resources)
    workers = 1 if device.type != "cpu" else resolve_threads(None, SMALL_RUN_S)
    points = n_seeds * len(s.kinds) * sum(s.n_trains)
    setup = points * e5_setup_cost(s, device)
    item = torch.empty((), dtype=resolve_dtype(s.dtype)).element_size()
    data = points * (s.d + 1 + s.c) * 2  # the sets and their stacked copy
    probe = n_seeds * s.n_eval * (2 * (s.d + 1) + 3 * s.m + s.c)
    temps = SEED_GROUP * max(s.n_eval, max(s.n_trains)) * (3 * s.n + 2 * s.c)
    weights = 3 * members * _e5_layer_flops(s)
    batch = 3 * members * s.batch * (s.d + 2 * s.n + 2 * s.c + 3)  # a minibatch's activations
    total = 1.15 * (data + probe + temps + weights + batch) * item + 200 * 2**20
    total += _train_buffers(s.steps, members, item)
    return Estimate(
        seconds=flops / (rate * workers) + setup,
        bytes=int(total),
        basis=(
            f"{flops / 1e9:.3g} GFLOP counted (SGD {members} students × {s.steps} steps, plus "
            f"{s.n_snapshots + 1} evaluations) at {gflops(rate)} measured (CPU time, one thread) "
            f"for cache-blocked SGD steps with minibatch gathers at these shapes on "
            f"{device.type}, on {workers} worker thread{'s' * (workers != 1)}, "
            f"plus {setup:.0f} s "
            f"to build {points:,} training points (per-point cost measured likewise); memory = "
            f"training sets + eval probe + temporaries + 15 % + 200 MiB"
        ),
    )


# ---------- E6 deep specialization --------------------------------------------
def _e6_n_snap(settings: DeepSpecializationSettings) -> int:
    """Number of snapshots (counted without building a huge schedule)."""
    from .experiments.deep_specialization import snapshot_schedule

    bound = settings.epochs // settings.snapshot_every + settings.log_snapshots + 4
    return len(snapshot_schedule(settings)) if bound <= 100_000 else bound


def _e6_flops(settings: DeepSpecializationSettings, n_seeds: int) -> tuple[float, float]:
    """Multiply-add FLOPs of (training, evaluation) for ``n_seeds`` seeds."""
    w = settings.student_widths
    tw = settings.widths
    per_sample = sum(2 * (a + 1) * b for a, b in zip(w[:-1], w[1:], strict=True))
    train_flops = 3 * per_sample * settings.batch * settings.steps * n_seeds  # forward + 2× back
    hidden = w[1:-1]
    c = settings.d_output
    beta = 2 * c * sum((hidden[i] + 1) * (hidden[i + 1] + 1) for i in range(len(hidden) - 1))
    corr = 2 * sum(m * n for m, n in zip(tw[1:-1], hidden, strict=True))
    n_snap = _e6_n_snap(settings)
    eval_flops = (
        n_snap * n_seeds * (settings.n_eval * (2 * per_sample + corr) + settings.n_beta * beta)
    )
    return float(train_flops), float(eval_flops)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _e6_measure(
    settings: DeepSpecializationSettings, device: torch.device
) -> tuple[float, float, int]:
    """Seconds per SGD step and per β input at the run's widths (CPU time, one torch thread;
    widths :func:`capped` to a few MiB and scaled back by their FLOPs; remembered per shape).

    A random student of the run's widths (``k = 4`` seeds) takes a few SGD steps on a random
    batch, and :func:`mean_beta` runs on a few inputs. Returns ``(step_s, beta_s_per_input, k)``
    for ``k`` seeds at once.
    """
    from .experiments.deep_specialization import mean_beta

    w = list(settings.student_widths)
    k = 4
    step_s = timed_sgd_step(tuple(w), settings.batch, settings.dtype, device.type, k)
    small, _b, _f = capped(w, 8)

    def beta_macs(ws: Sequence[int]) -> float:
        return float(ws[-1]) * sum((ws[i] + 1) * (ws[i + 1] + 1) for i in range(len(ws) - 1))

    def measure() -> float:
        dtype = resolve_dtype(settings.dtype)
        gen = torch.Generator().manual_seed(0)
        weights = [
            (torch.randn(k, a + 1, b, generator=gen) / math.sqrt(a + 1)).to(device, dtype)
            for a, b in zip(small[:-1], small[1:], strict=True)
        ]
        net = Net(weights, activation=settings.activation, slope=settings.slope)
        n_x = 8
        xb = torch.randn(k, n_x, small[0], generator=gen).to(device, dtype)
        clock = _clock(device)
        with torch_threads(1):
            mean_beta(net, xb)
            _sync(device)
            reps, start = 0, clock()
            while reps < 2 or clock() - start < 0.05:
                mean_beta(net, xb)
                reps += 1
            _sync(device)
        return (clock() - start) / (reps * n_x)

    key = f"e6 beta {small} {settings.dtype} {settings.activation} k {k}"
    beta_s = remembered(key, measure, device) * max(1.0, beta_macs(w) / beta_macs(small))
    return step_s, beta_s, k


def deep_specialization(
    settings: DeepSpecializationSettings, n_seeds: int, device: torch.device
) -> Estimate:
    """Time from SGD steps and a β evaluation timed (CPU time) on ``device`` at the run's
    widths, scaled by the run's step, snapshot and seed counts (evaluation forward passes by
    their FLOP count at the measured training rate); memory from the tensor sizes."""
    from .experiments.deep_specialization import BETA_CHUNK

    train_flops, eval_flops = _e6_flops(settings, n_seeds)
    step_s, beta_s, k = _e6_measure(settings, device)
    n_snap = _e6_n_snap(settings)
    seeds = n_seeds / k
    train_s = settings.steps * step_s * seeds
    beta_s_total = n_snap * settings.n_beta * beta_s * seeds
    w = settings.student_widths
    beta_flops = (
        n_snap
        * n_seeds
        * settings.n_beta
        * 2
        * settings.d_output
        * sum((w[i] + 1) * (w[i + 1] + 1) for i in range(1, len(w) - 2))
    )
    rate = train_flops / train_s
    other_s = max(eval_flops - beta_flops, 0.0) / rate
    item = resolve_dtype(settings.dtype).itemsize
    data = n_seeds * (settings.n_train + settings.n_eval) * (settings.d + 1 + settings.d_output)
    weights = n_seeds * sum((a + 1) * b for a, b in zip(w[:-1], w[1:], strict=True))
    acts = n_seeds * settings.n_eval * sum(w[1:]) * 3
    corr = n_seeds * sum(a * b for a, b in zip(settings.widths[1:-1], w[1:-1], strict=True))
    acts += n_seeds * settings.batch * (sum(w) + len(w)) * 3  # one minibatch's activations
    mem = (data + 3 * weights + acts + 2 * corr) * item + BETA_CHUNK * item * 3
    mem += _train_buffers(settings.steps, n_seeds, item, n_snap, 6 * sum(w[1:-1]))
    return Estimate(
        seconds=train_s + beta_s_total + other_s,
        bytes=int(mem),
        basis=(
            f"{settings.steps} SGD steps at {step_s * 1e3:.3g} ms per step timed for {k} seeds "
            f"(scaled to {n_seeds}) and β "
            f"on {settings.n_beta} inputs × {n_snap} snapshots, both timed now or remembered "
            f"(CPU time, one thread) on {device.type} "
            f"at the run's widths; {train_flops / 1e12:.3g} TFLOP training + "
            f"{eval_flops / 1e12:.3g} TFLOP evaluation counted ({gflops(rate)})"
        ),
    )


# ---------- E7 BatchNorm biases -----------------------------------------------
# Cost model: CPU seconds per (seed, epoch, 1 347 training images) measured on a quiet 2-core
# machine with one torch thread, float32, scaled by the networks' multiply-adds per image.
CNN_S_PER_MMAC = 0.055  # per million multiply-adds per image of the CNN, per epoch


MLP_S_PER_MMAC = 0.9  # the MLP's layers are tiny: overhead dominates


def _e7_macs(settings: BNBiasSettings) -> tuple[float, float]:
    cnn, c_in, side = 0.0, 1, 8
    for c in settings.channels:
        for _ in range(2):
            cnn += 9 * c_in * c * side * side
            c_in = c
        side //= 2
    mlp, n_in = 0.0, 64
    for w in settings.hidden:
        mlp += n_in * w
        n_in = w
    return cnn / 1e6, mlp / 1e6 + 0.01


def bn_bias(settings: BNBiasSettings, n_seeds: int, device: torch.device) -> Estimate:
    """Time and memory of :func:`compute` (see the cost model's constants)."""
    cnn, mlp = _e7_macs(settings)
    seconds = n_seeds * settings.epochs * (CNN_S_PER_MMAC * cnn * 10 + MLP_S_PER_MMAC * mlp)
    seconds += 1.0 + 0.1 * n_seeds  # loading the digits, measurements
    width = max(settings.channels) * 64 + max(settings.hidden)
    nbytes = 4 * (1797 * 64 * 4 + 1797 * width * 6) + 2**22
    # per seed: the two networks' weights, gradients and momenta; per epoch, the recorded
    # statistics of every BatchNorm channel
    cnn_params = sum(
        9 * a * b for a, b in zip((1, *settings.channels), settings.channels, strict=False)
    )
    cnn_params += sum(9 * c * c for c in settings.channels)
    mlp_params = sum(
        a * b for a, b in zip((64, *settings.hidden), (*settings.hidden, 10), strict=True)
    )
    bn = 2 * sum(settings.channels) + sum(settings.hidden)
    nbytes += n_seeds * (4 * 3 * (cnn_params + mlp_params) + 8 * (settings.epochs + 1) * 4 * bn)
    basis = (
        f"{cnn:.3g} M multiply-adds per image (CNN), {mlp:.3g} M (MLP); rates measured on a quiet "
        "2-core CPU with one torch thread"
        + ("" if device.type == "cpu" else f"; on {device.type} expect less time")
    )
    return Estimate(seconds, int(nbytes), basis)


# ---------- E8 real teacher ---------------------------------------------------
# Cost model (quiet 2-core CPU, one torch thread, float32): a fixed cost per SGD step plus the
# matmul FLOPs at a sustained rate; the teacher's Adam steps likewise.
E8_STEP_OVERHEAD_S = 120e-6


E8_GFLOPS = 40.0


def real_teacher(settings: RealTeacherSettings, n_seeds: int, device: torch.device) -> Estimate:
    """Time and memory of :func:`compute` (see the cost model's constants)."""
    d = 3072 if settings.dataset == "cifar10" else 64
    n_split = 50_000 if settings.dataset == "cifar10" else 1348
    widths = [d, *settings.hidden, 10]

    def flops(mult: int, batch: int) -> float:
        w = [widths[0]] + [mult * h for h in widths[1:-1]] + [widths[-1]]
        return 6.0 * batch * sum((w[i] + 1) * w[i + 1] for i in range(len(w) - 1))

    teacher_steps = settings.teacher_epochs * (n_split // settings.teacher_batch)
    seconds = teacher_steps * (
        3 * E8_STEP_OVERHEAD_S + n_seeds * flops(1, settings.teacher_batch) / (E8_GFLOPS * 1e9)
    )
    for multi in settings.multis:
        per = E8_STEP_OVERHEAD_S + n_seeds * flops(multi, settings.batch) / (E8_GFLOPS * 1e9)
        seconds += len(settings.kinds) * settings.steps * per
    item = 4 if settings.dtype == "float32" else 8
    n_test = 10_000 if settings.dataset == "cifar10" else 449
    top = max(settings.multis)
    wide = [widths[0]] + [top * h for h in widths[1:-1]] + [widths[-1]]
    params = sum((wide[i] + 1) * wide[i + 1] for i in range(len(wide) - 1))
    hidden = sum(wide[1:-1])
    nbytes = item * n_seeds * settings.n_train * (d + 11) * 2 + 2**22
    # weights (+ teacher, Adam's moments), one minibatch's activations, the test-split probe
    nbytes += item * n_seeds * (4 * params + 3 * settings.batch * (sum(wide) + len(wide)))
    nbytes += item * n_seeds * n_test * (3 * hidden + 2 * sum(settings.hidden))
    nbytes += item * n_seeds * sum(settings.hidden) * hidden  # correlation matrices
    teacher_batch = min(settings.teacher_batch, n_split)  # a larger one takes no step at all
    nbytes += item * n_seeds * 3 * teacher_batch * (d + sum(settings.hidden) + 10)
    n_snap = min(settings.n_snapshots, settings.steps) + 1
    nbytes += _train_buffers(settings.steps, n_seeds, item, n_snap, 3 * hidden)
    basis = (
        f"{len(settings.kinds)} input kind(s) × {len(settings.multis)} multipliers × "
        f"{settings.steps} SGD steps at {E8_STEP_OVERHEAD_S * 1e6:.0f} µs + FLOPs at "
        f"{E8_GFLOPS:g} GFLOP/s (quiet 2-core CPU, "
        "one torch thread)"
        + ("" if device.type == "cpu" else f"; on {device.type} expect less time")
    )
    return Estimate(seconds, int(nbytes), basis)


# ---------- E9 directional convergence ----------------------------------------
def directional(settings: DirectionalSettings, n_seeds: int, device: torch.device) -> Estimate:
    """Cost from a FLOP count and a measured rate (see ``basis``)."""
    d, w, depth = settings.d, settings.width, settings.depth
    # widths_for(d, w, depth) = [d, w, …, w, 1], summed in closed form (depth may be huge)
    macs = d * w + (depth - 2) * w * w + w
    per_pass = 2 * settings.n_train * macs
    # Euler steps: degree 2 needs about (ln(1/δ) + 3)/(2 N*·lr) steps with N* ≈ 3–5 here; the
    # time-rescaled steps of degree > 2 need a δ-independent number, measured ≈ 700–1500.
    if settings.degree == 2:
        steps = min(
            settings.max_steps, (math.log(1 / settings.delta) + 3) / (2 * 3.0 * settings.lr)
        )
    else:
        steps = min(settings.max_steps, 1500)
    kkt = settings.kkt_steps * (settings.kkt_starts + 1)
    flops = n_seeds * 3 * per_pass * (steps + kkt)
    # calibrated on the book's 2-core CPU (float64, small batched matmuls, one thread): the
    # paper-scale depth-2 run (16 seeds, 33 KKT starts × 1000 ascent steps) took ≈ 90 s of CPU,
    # the book run 1.9 s (benchmarks/results/estimates.md), i.e. ≈ 2 GFLOP/s effective plus
    # ≈ 0.4 ms of per-step overhead
    seconds = flops / 2e9 + 4e-4 * (steps + settings.kkt_steps) + 0.5
    n_rec = steps / settings.record_every
    nbytes = int(
        8
        * n_seeds
        * (
            n_rec * (2 * settings.width + settings.d + 4)
            + settings.n_train * (settings.d + 2 + 2 * settings.width) * (settings.kkt_starts + 1)
            # weights, gradients and activations of every layer, per start; the teacher
            + (settings.kkt_starts + 2) * (4 * macs + 2 * settings.n_train * (d + depth * w + 1))
            + 2 * (d + 2) * settings.m
        )
    )
    return Estimate(
        seconds,
        nbytes,
        "FLOP count of forward+backward per Euler and KKT-ascent step at a "
        "measured ≈ 2 GFLOP/s plus 0.4 ms/step overhead (2-core CPU, one thread, float64)",
    )


# ---------- E1 fanout, E2 lucky, E3 deep-teacher: timed SGD steps -------------------------
@functools.lru_cache(maxsize=128)
def timed_sgd_step(
    widths: tuple[int, ...],
    batch: int,
    dtype: str,
    device: str,
    k: int = 4,
    threads: int | None = 1,
) -> float:
    """Seconds of one SGD step of ``k`` seed-networks of ``widths`` on a minibatch of
    ``batch``: CPU time of about 0.1 s of steps with one torch thread (``threads`` is kept for
    callers; the timing always uses one thread so that CPU time is the step's cost), at
    shapes :func:`capped` to a few MiB and scaled back by the FLOP ratio; remembered per
    shape (:func:`remembered`)."""
    dev = torch.device(device)
    w, b, factor = capped(widths, batch)

    def measure() -> float:
        torch_dtype = resolve_dtype(dtype)
        gen = torch.Generator().manual_seed(0)
        weights = [
            (torch.randn(k, a + 1, c, generator=gen) / math.sqrt(a + 1)).to(dev, torch_dtype)
            for a, c in zip(w[:-1], w[1:], strict=True)
        ]
        net = Net(weights, activation="relu", slope=0.01)
        x1 = torch.ones(k, b, w[0] + 1, dtype=torch_dtype, device=dev)
        x1[..., :-1] = torch.randn(k, b, w[0], generator=gen).to(dev, torch_dtype)
        y = torch.randn(k, b, w[-1], generator=gen).to(dev, torch_dtype)
        clock = _clock(dev)
        with torch_threads(1):
            for _ in range(3):
                sgd_step(net, x1, y, 1e-6)
            _sync(dev)
            reps, start = 0, clock()
            while reps < 5 or clock() - start < 0.1:
                sgd_step(net, x1, y, 1e-6)
                reps += 1
            _sync(dev)
        return (clock() - start) / reps

    key = f"sgd_step {w} batch {b} {dtype} k {k}"
    return remembered(key, measure, dev) * max(factor, 1.0)


def _sgd_estimate(
    widths: list[int],
    batch: int,
    members: int,
    steps: float,
    n_evals: int,
    n_eval: int,
    dtype: str,
    device: torch.device,
    what: str,
    n_train: int = 0,
) -> Estimate:
    """``steps`` SGD steps of ``members`` networks, plus ``n_evals`` evaluations of each on
    ``n_eval`` inputs (a forward pass costs about a third of a training step per sample);
    memory: weights, activations, the eval (and ``n_train``-point training) inputs drawn in
    float64, the minibatch losses and the snapshot records."""
    k = max(1, min(members, 32))  # timed at up to 32 networks: the per-step overhead is shared
    step_s = timed_sgd_step(tuple(widths), batch, dtype, device.type, k) * members / k
    eval_s = n_evals * (n_eval / batch) * step_s / 3
    item = resolve_dtype(dtype).itemsize
    params = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    acts = n_eval * sum(widths) * 3
    data = 8 * (n_eval + n_train) * (widths[0] + 1 + widths[-1]) * 2
    nbytes = item * members * (4 * params + acts + batch * sum(widths) * 3) + 2**24
    nbytes += members * data + _train_buffers(steps, members, item, n_evals, 4 * params)
    return Estimate(
        seconds=steps * step_s + eval_s,
        bytes=int(nbytes),
        basis=(
            f"{what}: {steps:,.0f} SGD steps of {members} networks at "
            f"{step_s * 1e3:.3g} ms per step (CPU time, one thread, timed now or remembered, at "
            f"widths {list(widths)}, batch {batch}, on {device.type}) + {n_evals} evaluations "
            f"on {n_eval} inputs"
        ),
    )


@functools.lru_cache(maxsize=128)
def projected_factor(m: int, widths: tuple[int, ...], batch: int, dtype: str, device: str) -> float:
    """How many plain SGD steps (:func:`timed_sgd_step`) one projected matrix-gradient step of
    E1/E2 costs at these shapes (teacher of width ``m``, student ``widths``): the matrix
    gradient (:func:`luckbook.gradients.matrix_step`) and the unit-column projections, CPU time
    with one torch thread at :func:`capped` shapes; remembered per shape."""
    from .experiments.fanout import project_top
    from .gradients import matrix_step
    from .train import project_columns

    dev = torch.device(device)
    w, b, _factor = capped(widths, batch)
    tm = max(1, min(m, w[1]))
    k = 4

    def measure() -> float:
        torch_dtype = resolve_dtype(dtype)
        gen = torch.Generator().manual_seed(0)

        def net(ws: list[int]) -> Net:
            return Net(
                [
                    (torch.randn(k, a + 1, c, generator=gen) / math.sqrt(a + 1)).to(
                        dev, torch_dtype
                    )
                    for a, c in zip(ws[:-1], ws[1:], strict=True)
                ]
            )

        teacher, student = net([w[0], tm, w[-1]]), net(w)
        step = matrix_step(teacher)
        x1 = torch.ones(k, b, w[0] + 1, dtype=torch_dtype, device=dev)
        x1[..., :-1] = torch.randn(k, b, w[0], generator=gen).to(dev, torch_dtype)
        y = teacher(x1[..., :-1])
        clock = _clock(dev)
        with torch_threads(1):
            for _ in range(3):
                step(student, x1, y, 1e-6)
            reps, start = 0, clock()
            while reps < 5 or clock() - start < 0.1:
                step(student, x1, y, 1e-6)
                project_columns(student)
                project_top(student)
                reps += 1
            _sync(dev)
        return (clock() - start) / reps

    key = f"projected_step m {tm} {w} batch {b} {dtype} k {k}"
    projected = remembered(key, measure, dev)
    plain = timed_sgd_step(tuple(w), b, dtype, device, k)
    return max(1.0, projected / plain)


def _dynamics_factor(
    dynamics: str, m: int, widths: list[int], batch: int, dtype: str, device: torch.device
) -> float:
    if not dynamics.startswith("projected"):
        return 1.0
    return projected_factor(m, tuple(widths), batch, dtype, device.type)


def fanout(settings: FanoutSettings, n_seeds: int, device: torch.device) -> Estimate:
    """Training, then (not in a control run) the lottery ticket's retraining of ticket and
    random subnetwork, both with the run's dynamics (:func:`projected_factor`)."""
    s = settings
    widths = [s.d, s.multi * s.m, s.c]
    main = _sgd_estimate(
        widths,
        s.batch,
        n_seeds,
        s.steps,
        s.n_snapshots + 1,
        s.n_eval,
        s.dtype,
        device,
        "training",
    )
    retrain = _sgd_estimate(
        widths,
        s.batch,
        2 * n_seeds,
        s.retrain_steps,
        2,
        s.n_eval,
        s.dtype,
        device,
        "retraining",
    )
    factor = _dynamics_factor(s.dynamics, s.m, widths, s.batch, s.dtype, device)
    if s.control != "none":  # a control run has no lottery ticket to retrain
        return Estimate(
            factor * main.seconds,
            main.bytes,
            f"{main.basis}, × {factor:.3g} for {s.dynamics} steps ({s.control} control run)",
        )
    return Estimate(
        factor * (main.seconds + retrain.seconds),  # the retraining uses the same dynamics
        max(main.bytes, retrain.bytes),
        f"{main.basis}; then {retrain.basis}; both × {factor:.3g} for {s.dynamics} steps",
    )


def lucky(settings: LuckySettings, n_seeds: int, device: torch.device) -> Estimate:
    """Every noise level of ``init_stds`` trained side by side on every seed, evaluated at the
    geometric snapshots (duplicates of the small steps merged, so fewer than
    ``n_snapshots + 1``). A ``different-teacher`` control run costs the same: the second
    teacher only labels the batches."""
    s = settings
    members = n_seeds * len(s.init_stds)
    n_evals = n_snapshots_of(s.steps, s.n_snapshots, "log")
    train_part = _sgd_estimate(
        [s.d, s.multi * s.m, s.c],
        s.batch,
        members,
        s.steps,
        0,
        s.n_eval,
        s.dtype,
        device,
        "training",
    )
    eval_part = _sgd_estimate(
        [s.d, s.multi * s.m, s.c], s.batch, members, 0, n_evals, s.n_eval, s.dtype, device, "eval"
    )
    factor = _dynamics_factor(s.dynamics, s.m, [s.d, s.multi * s.m, s.c], s.batch, s.dtype, device)
    return Estimate(
        factor * train_part.seconds + eval_part.seconds,
        train_part.bytes + eval_part.bytes,
        f"{train_part.basis}, × {factor:.3g} for {s.dynamics} steps; {n_evals} geometric "
        f"snapshots evaluated on {s.n_eval} inputs",
    )


def deep_teacher(settings: DeepTeacherSettings, n_seeds: int, device: torch.device) -> Estimate:
    """SGD over ``epochs`` passes of the training set by the over-realized deep student,
    evaluated at every snapshot of its schedule (per epoch and geometric)."""
    from .experiments.deep_teacher import snapshot_schedule

    s = settings
    widths = [s.d, *(s.multi * m for m in s.hidden), s.d_output]
    bound = s.epochs * s.snapshots_per_epoch + s.log_snapshots + 2
    n_snap = len(snapshot_schedule(s)) if bound <= 100_000 else bound
    return _sgd_estimate(
        widths,
        s.batch,
        n_seeds,
        s.steps,
        n_snap,
        s.n_eval,
        s.dtype,
        device,
        "training",
        n_train=s.n_train,
    )


# ---------- E0 gradient relation ---------------------------------------------------------
E0_GFLOPS = 15.0
"""Rate of E0's measurements per torch thread (batched matmuls of a few hundred rows; 15–23
GFLOP/s per core-second in ``benchmarks/bench_gradient_relation.py`` on the book's 2-core CPU)."""


E0_DRIFT_SAMPLE_S = 25e-6
"""Seconds per drift-study sample and seed beyond its matmuls (one thread, book's CPU)."""


def _e0_flops(s: GradientRelationSettings) -> float:
    """Matmul FLOPs of E0 for one seed: per-sample relation terms (Jacobians ``Ṽ_l`` of both
    nets and the ``[n, n]``, ``[n, m]``, ``[m, m]`` products) on the check set (relation and
    its ungated control, both students), the matrix set (both students and the aligned
    student at every bias); the drift study's forward/backward passes per sample and its
    ``H_l`` recursion per batch; the overlaps' teacher passes."""
    student = [s.d, *(s.multi * m for m in s.hidden), s.c]
    teacher = [s.d, *s.hidden, s.c]
    hidden = range(1, len(student) - 1)
    jac = sum(
        2 * s.c * (w[l + 1] + 1) * (w[l] + 1)
        for w in (student, teacher)
        for l in range(1, len(w) - 2)
    )
    grams = sum(
        2 * s.c * ((student[l] + 1) ** 2 + (student[l] + 1) * (teacher[l] + 1) + teacher[l] ** 2)
        for l in hidden
    )
    relation = jac + grams  # per sample and student
    pairs = list(zip(student[:-1], student[1:], strict=True))
    forward = 2 * sum((a + 1) * b for a, b in pairs)
    t_forward = 2 * sum((a + 1) * b for a, b in zip(teacher[:-1], teacher[1:], strict=True))
    drift_sample = 5 * forward + 2 * sum(
        (a + 1) * (a + 1 + t + 1) for a, t in zip(student[:-1], teacher[:-1], strict=True)
    )
    drift_batch = 2 * sum(2 * (a + 1) * (b + 1) * (a + b + 2) for a, b in pairs)
    n_drift = s.n_repeats * sum(s.batch_sizes)
    drift = n_drift * drift_sample + s.n_repeats * len(s.batch_sizes) * drift_batch
    overlap = (2 * len(s.biases) + 3) * s.n_overlap * t_forward
    matrices = (2 + len(s.biases)) * s.n_matrix * relation
    return float(2 * 2 * s.n_check * relation + matrices + 2 * drift + overlap)


def gradient_relation(
    settings: GradientRelationSettings, n_seeds: int, device: torch.device
) -> Estimate:
    """Matmul FLOPs counted by :func:`_e0_flops` at :data:`E0_GFLOPS` on one thread; memory:
    the inputs plus the chunked temporaries (at most ``MAX_ELEMENTS`` numbers each,
    :mod:`luckbook.gradient_checks`)."""
    from .gradient_checks import MAX_ELEMENTS

    s = settings
    student = [s.d, *(s.multi * m for m in s.hidden), s.c]
    samples = s.n_check + s.n_repeats * sum(s.batch_sizes) + s.n_matrix
    flops = n_seeds * _e0_flops(s)
    item = resolve_dtype(s.dtype).itemsize
    inputs = n_seeds * (samples + s.n_overlap) * (s.d + 1 + s.c)
    largest = max(s.n_check, s.n_repeats * max(s.batch_sizes), s.n_matrix)
    temps = min(2 * MAX_ELEMENTS, n_seeds * largest * s.c * (max(student) + 1))
    teacher = [s.d, *s.hidden, s.c]
    pairs = sum((a + 1) * (b + 1) for a, b in zip(student[:-1], student[1:], strict=True))
    t_pairs = sum((a + 1) * b for a, b in zip(teacher[:-1], teacher[1:], strict=True))
    params = 4 * n_seeds * (pairs + t_pairs)  # teacher and two students, with gradients
    nbytes = item * (inputs + temps + params) + 2**24
    # the drift study's per-sample work beside its matmuls (elementwise, memory-bound):
    # ≈ 25 µs per sample and seed, measured at book scale (bench_estimates.py, 2026-12-07)
    drift = n_seeds * s.n_repeats * sum(s.batch_sizes) * E0_DRIFT_SAMPLE_S
    return Estimate(
        flops / (E0_GFLOPS * 1e9) + drift + 0.15,
        int(nbytes),
        f"{flops / 1e9:.3g} GFLOP counted ({samples:,} checked samples × 2 students, "
        f"{len(s.biases)} biases × {s.n_matrix:,} matrix samples) at {E0_GFLOPS:g} GFLOP/s "
        f"(calibrated, one thread) + {drift:.0f} s of the drift study's per-sample work; "
        "memory: inputs + chunked temporaries",
    )
