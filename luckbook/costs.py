"""Cost models: what a run will take, told before it starts (``luckbook run --estimate``).

One function per experiment, named as the experiment, ``f(settings, n_seeds, device) ->
Estimate``; :meth:`~luckbook.experiments.base.Experiment.run` uses the estimate for its
memory pre-flight and to pick the torch thread count (:mod:`luckbook.resources`). Each model
counts the run's FLOPs and converts them at a rate that is either calibrated (constants below,
measured on the book's quiet 2-core CPU with one torch thread; the measurements are in
``benchmarks/README.md``) or timed just now at the run's shapes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import TYPE_CHECKING

import torch

from .config import resolve_dtype
from .data import boundary_augmented, gaussian
from .ensemble import Net
from .evaluate import SEED_GROUP
from .homogeneous_net import widths_for
from .resources import torch_threads
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


@dataclasses.dataclass(frozen=True)
class Estimate:
    """What a run will cost, told to the user before it starts (``luckbook run`` prints it).

    Attributes:
        seconds: expected wall time on ``device``.
        bytes: expected peak memory of the run's tensors.
        basis: one line on how the numbers were obtained (e.g. a measured rate).
    """

    seconds: float
    bytes: int
    basis: str

    def describe(self) -> str:
        sec = self.seconds
        when = (
            f"{sec:.0f} s"
            if sec < 120
            else f"{sec / 60:.0f} min"
            if sec < 7200
            else f"{sec / 3600:.1f} h"
        )
        mem = self.bytes / 2**30
        size = f"{mem:.1f} GiB" if mem >= 0.1 else f"{self.bytes / 2**20:.0f} MiB"
        return f"estimated time ≈ {when}, memory ≈ {size} ({self.basis})"


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
) -> Estimate:
    """Time and memory of training ``n_seeds`` networks of ``settings`` in one batched program.

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
    n_evals = len(snapshot_steps(s.steps, s.n_snapshots, s.spacing))
    per_seed_step = SEED_STEP_OVERHEAD_S + step_flops / (TRAIN_GFLOPS[dtype] * 1e9)
    seconds = s.steps * (STEP_OVERHEAD_S + n_seeds * per_seed_step)
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
        f"{step_flops / 1e6:.2f} MFLOP per seed-step at {TRAIN_GFLOPS[dtype]:g} GFLOP/s "
        f"+ {SEED_STEP_OVERHEAD_S * 1e6:.0f} µs per seed-step "
        f"+ {STEP_OVERHEAD_S * 1e6:.0f} µs per step, "
        f"{eval_flops / 1e6:.0f} MFLOP per seed-evaluation at {EVAL_GFLOPS[dtype]:g} GFLOP/s; "
        "rates "
        f"measured on a quiet 2-core CPU with one torch thread, {dtype}"
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
    seconds, peak, results = 0.0, 0, 0
    n_p = len(settings.ps)
    for m in settings.ms:
        for multi in settings.multis:
            cell = settings.cell_settings(m, multi, settings.ps[0])
            cost = two_layer_cost(cell, n_seeds * n_p, device, train_loss=False, draw_data=False)
            seconds += cost.seconds
            peak = max(peak, cost.bytes)
            t = len(snapshot_steps(settings.steps, settings.n_snapshots, settings.spacing))
            results += n_p * n_seeds * t * (m * 4 + multi * m * 10 + 8)
    seconds += n_seeds * (settings.n_train + settings.n_eval) * settings.d * RANDN_S
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


def e5_training_rate(s: SampleComplexitySettings, device: torch.device, steps: int = 60) -> float:
    """FLOP/s of training at these shapes on ``device``, as E5 trains: one block per worker
    of :func:`~luckbook.batched_sgd.train_blocked` (minibatches gathered from stacked sets),
    the time of ``steps`` more steps after a warm-up call."""
    from .batched_sgd import BLOCK_VALUES, train_blocked
    from .experiments.sample_complexity import StackedSets

    dtype = resolve_dtype(s.dtype)
    gen = torch.Generator().manual_seed(0)

    def weights(k: int) -> Net:
        return Net(
            [
                0.01 * torch.randn(k, s.d + 1, s.n, generator=gen, dtype=dtype).to(device),
                0.01 * torch.randn(k, s.n + 1, s.c, generator=gen, dtype=dtype).to(device),
            ],
            activation=s.activation,
            slope=s.slope,
        )

    block = max(1, BLOCK_VALUES // _e5_layer_flops(s))  # members per block, as E5 trains
    k = block * torch.get_num_threads()
    net = weights(k)
    n = min(max(s.n_trains), 2_000)
    x = torch.randn(k, n, s.d, generator=gen, dtype=dtype).to(device)
    source = StackedSets([x], [torch.randn(k, n, s.c, generator=gen, dtype=dtype).to(device)])
    args = (source.flat_x, source.flat_y, source.member_sizes, source.offsets, list(range(k)))

    def timed(t: int) -> float:
        start = time.perf_counter()
        train_blocked(net, *args, lr=1e-4, steps=t, batch=s.batch, block=block)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    short = timed(20)
    per_step = max(timed(20 + steps) - short, 1e-9) / steps
    return 6 * k * s.batch * _e5_layer_flops(s) / per_step


def e5_setup_cost(s: SampleComplexitySettings, device: torch.device, points: int = 2_000) -> float:
    """Seconds per training point to build the training sets (one Gaussian and one augmented
    set of ``points`` points for one seed, labelled by the teacher, and stacked)."""
    from .experiments.sample_complexity import StackedSets
    from .experiments.two_layer import make_nets

    teacher = make_nets(s.two_layer(1), [0], device)[0]
    start = time.perf_counter()
    xs = [
        gaussian(points, s.d, [0], data_std=s.data_std).to(device, teacher.dtype),
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
    return (time.perf_counter() - start) / (2 * points)


def sample_complexity(
    settings: SampleComplexitySettings, n_seeds: int, device: torch.device
) -> Estimate:
    """Time from a FLOP count at the SGD-step rate measured now on ``device``, plus the set-up
    (training sets) at a per-point cost measured now; memory from the tensors the run holds
    (training sets, eval probe, evaluation temporaries) plus 15 % allocator slack."""
    s = settings
    groups = len(s.n_trains) * len(s.kinds)
    members = groups * n_seeds
    flops = 6 * s.steps * members * s.batch * _e5_layer_flops(s)  # forward + two backward matmuls
    per_eval = groups * n_seeds * s.n_eval * 2 * (_e5_layer_flops(s) + s.m * s.n)
    per_eval += 2 * n_seeds * len(s.kinds) * sum(s.n_trains) * _e5_layer_flops(s)
    flops += (s.n_snapshots + 2) * per_eval
    rate = e5_training_rate(s, device)
    points = n_seeds * len(s.kinds) * sum(s.n_trains)
    setup = points * e5_setup_cost(s, device)
    item = torch.empty((), dtype=resolve_dtype(s.dtype)).element_size()
    data = points * (s.d + 1 + s.c) * 2  # the sets and their stacked copy
    probe = n_seeds * s.n_eval * (2 * (s.d + 1) + 3 * s.m + s.c)
    temps = SEED_GROUP * max(s.n_eval, max(s.n_trains)) * (3 * s.n + 2 * s.c)
    weights = 3 * members * _e5_layer_flops(s)
    total = 1.15 * (data + probe + temps + weights) * item + 200 * 2**20
    return Estimate(
        seconds=flops / rate + setup,
        bytes=int(total),
        basis=(
            f"{flops / 1e9:.0f} GFLOP counted (SGD {members} students × {s.steps} steps, plus "
            f"{s.n_snapshots + 1} evaluations) at {rate / 1e9:.1f} GFLOP/s measured just now for "
            f"cache-blocked SGD steps with minibatch gathers at these shapes on {device.type}, "
            f"plus {setup:.0f} s "
            f"to build {points:,} training points (per-point cost measured just now); memory = "
            f"training sets + eval probe + temporaries + 15 % + 200 MiB"
        ),
    )


# ---------- E6 deep specialization --------------------------------------------
def _e6_flops(settings: DeepSpecializationSettings, n_seeds: int) -> tuple[float, float]:
    """Multiply-add FLOPs of (training, evaluation) for ``n_seeds`` seeds."""
    from .experiments.deep_specialization import snapshot_schedule

    w = settings.student_widths
    tw = settings.widths
    per_sample = sum(2 * (a + 1) * b for a, b in zip(w[:-1], w[1:], strict=True))
    train_flops = 3 * per_sample * settings.batch * settings.steps * n_seeds  # forward + 2× back
    hidden = w[1:-1]
    c = settings.d_output
    beta = 2 * c * sum((hidden[i] + 1) * (hidden[i + 1] + 1) for i in range(len(hidden) - 1))
    corr = 2 * sum(m * n for m, n in zip(tw[1:-1], hidden, strict=True))
    n_snap = len(snapshot_schedule(settings))
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
    """Seconds per SGD step and per β input, measured now on ``device`` at the run's widths.

    A random student of the run's widths (``k ≤ 4`` seeds) takes a few SGD steps on a random
    batch, and :func:`mean_beta` runs on a few inputs. Returns ``(step_s, beta_s_per_input, k)``
    for ``k`` seeds at once.
    """
    from .experiments.deep_specialization import mean_beta

    dtype = resolve_dtype(settings.dtype)
    w = settings.student_widths
    k = 4
    step_s = timed_sgd_step(tuple(w), settings.batch, settings.dtype, device.type, k, None)
    gen = torch.Generator().manual_seed(0)
    weights = [
        (torch.randn(k, a + 1, b, generator=gen) / math.sqrt(a + 1)).to(device, dtype)
        for a, b in zip(w[:-1], w[1:], strict=True)
    ]
    net = Net(weights, activation=settings.activation, slope=settings.slope)
    n_x = 8
    xb = torch.randn(k, n_x, w[0], generator=gen).to(device, dtype)
    mean_beta(net, xb)
    _sync(device)
    start = time.perf_counter()
    mean_beta(net, xb)
    _sync(device)
    return step_s, (time.perf_counter() - start) / n_x, k


def deep_specialization(
    settings: DeepSpecializationSettings, n_seeds: int, device: torch.device
) -> Estimate:
    """Time from SGD steps and a β evaluation timed now on ``device`` at the run's widths,
    scaled by the run's step, snapshot and seed counts (evaluation forward passes by their FLOP
    count at the measured training rate); memory from the tensor sizes."""
    from .experiments.deep_specialization import BETA_CHUNK, snapshot_schedule

    train_flops, eval_flops = _e6_flops(settings, n_seeds)
    step_s, beta_s, k = _e6_measure(settings, device)
    n_snap = len(snapshot_schedule(settings))
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
    mem = (data + 3 * weights + acts) * item + BETA_CHUNK * item * 3
    return Estimate(
        seconds=train_s + beta_s_total + other_s,
        bytes=int(mem),
        basis=(
            f"{settings.steps} SGD steps at {step_s * 1e3:.3g} ms per step timed for {k} seeds "
            f"(scaled to {n_seeds}) and β "
            f"on {settings.n_beta} inputs × {n_snap} snapshots, both timed now on {device.type} "
            f"at the run's widths; {train_flops / 1e12:.3g} TFLOP training + "
            f"{eval_flops / 1e12:.3g} TFLOP evaluation counted ({rate / 1e9:.0f} GFLOP/s)"
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
    basis = (
        f"{cnn:.2f} M multiply-adds per image (CNN), {mlp:.3f} M (MLP); rates measured on a quiet "
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
    nbytes = item * n_seeds * settings.n_train * (d + 11) * 2 + 2**22
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
    widths = widths_for(settings.d, settings.width, settings.depth)
    per_pass = (
        2 * settings.n_train * sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    )
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
    # calibrated on a shared 2-core CPU (float64, small batched matmuls): the paper-scale
    # depth-2 run (16 seeds, 33 KKT starts × 1000 ascent steps) took 118 s, the book run 3.2 s,
    # i.e. ≈ 1.5 GFLOP/s effective plus ≈ 0.4 ms of per-step overhead
    seconds = flops / 1.5e9 + 4e-4 * (steps + settings.kkt_steps) + 1.0
    n_rec = steps / settings.record_every
    nbytes = int(
        8
        * n_seeds
        * (
            n_rec * (2 * settings.width + settings.d + 4)
            + settings.n_train * (settings.d + 2 + 2 * settings.width) * (settings.kkt_starts + 1)
        )
    )
    return Estimate(
        seconds,
        nbytes,
        "FLOP count of forward+backward per Euler and KKT-ascent step at a "
        "measured ≈ 1.5 GFLOP/s plus 0.4 ms/step overhead (shared 2-core CPU, float64)",
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
    ``batch``, timed now on ``device`` with ``threads`` torch threads (``None``: torch's
    default, as runs estimated at 10 s or more get); about 0.1 s of timing, remembered per
    shape."""
    dev = torch.device(device)
    torch_dtype = resolve_dtype(dtype)
    gen = torch.Generator().manual_seed(0)
    weights = [
        (torch.randn(k, a + 1, b, generator=gen) / math.sqrt(a + 1)).to(dev, torch_dtype)
        for a, b in zip(widths[:-1], widths[1:], strict=True)
    ]
    net = Net(weights, activation="relu", slope=0.01)
    x1 = torch.ones(k, batch, widths[0] + 1, dtype=torch_dtype, device=dev)
    x1[..., :-1] = torch.randn(k, batch, widths[0], generator=gen).to(dev, torch_dtype)
    y = torch.randn(k, batch, widths[-1], generator=gen).to(dev, torch_dtype)
    with torch_threads(threads):
        for _ in range(3):
            sgd_step(net, x1, y, 1e-6)
        _sync(dev)
        reps, start = 0, time.perf_counter()
        while reps < 5 or time.perf_counter() - start < 0.1:
            sgd_step(net, x1, y, 1e-6)
            reps += 1
        _sync(dev)
    return (time.perf_counter() - start) / reps


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
) -> Estimate:
    """``steps`` SGD steps of ``members`` networks, plus ``n_evals`` evaluations of each on
    ``n_eval`` inputs (a forward pass costs about a third of a training step per sample)."""
    k = 4
    step_s = timed_sgd_step(tuple(widths), batch, dtype, device.type, k) * members / k
    eval_s = n_evals * (n_eval / batch) * step_s / 3
    item = resolve_dtype(dtype).itemsize
    params = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    acts = n_eval * sum(widths) * 3
    nbytes = item * members * (4 * params + acts + batch * sum(widths) * 3) + 2**24
    return Estimate(
        seconds=steps * step_s + eval_s,
        bytes=int(nbytes),
        basis=(
            f"{what}: {steps:,.0f} SGD steps of {members} networks at "
            f"{step_s * 1e3:.3g} ms per step (timed now at widths {list(widths)}, batch "
            f"{batch}, on {device.type}) + {n_evals} evaluations on {n_eval} inputs"
        ),
    )


PROJECTED_FACTOR = 4.0
"""A projected matrix-gradient step (E1/E2's default dynamics) costs about this many plain SGD
steps at the same widths (its expectations over the batch and the projection; measured at
``tiny`` scale on the book's 2-core CPU)."""


def _dynamics_factor(dynamics: str) -> float:
    return PROJECTED_FACTOR if dynamics.startswith("projected") else 1.0


def fanout(settings: FanoutSettings, n_seeds: int, device: torch.device) -> Estimate:
    """Training, then (not in a control run) the lottery ticket's retraining of ticket and
    random subnetwork."""
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
    factor = _dynamics_factor(s.dynamics)
    if s.control != "none":  # a control run has no lottery ticket to retrain
        return Estimate(
            factor * main.seconds,
            main.bytes,
            f"{main.basis}, × {factor:g} for {s.dynamics} steps ({s.control} control run)",
        )
    return Estimate(
        factor * main.seconds + retrain.seconds,
        max(main.bytes, retrain.bytes),
        f"{main.basis}, × {factor:g} for {s.dynamics} steps; then {retrain.basis}",
    )


def lucky(settings: LuckySettings, n_seeds: int, device: torch.device) -> Estimate:
    """Every noise level of ``init_stds`` trained side by side on every seed, evaluated at the
    geometric snapshots (duplicates of the small steps merged, so fewer than
    ``n_snapshots + 1``). A ``different-teacher`` control run costs the same: the second
    teacher only labels the batches."""
    from .train import snapshot_steps

    s = settings
    members = n_seeds * len(s.init_stds)
    n_evals = len(snapshot_steps(s.steps, s.n_snapshots, "log"))
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
    factor = _dynamics_factor(s.dynamics)
    return Estimate(
        factor * train_part.seconds + eval_part.seconds,
        train_part.bytes,
        f"{train_part.basis}, × {factor:g} for {s.dynamics} steps; {n_evals} geometric "
        f"snapshots evaluated on {s.n_eval} inputs",
    )


def deep_teacher(settings: DeepTeacherSettings, n_seeds: int, device: torch.device) -> Estimate:
    """SGD over ``epochs`` passes of the training set by the over-realized deep student,
    evaluated at every snapshot of its schedule (per epoch and geometric)."""
    from .experiments.deep_teacher import snapshot_schedule

    s = settings
    widths = [s.d, *(s.multi * m for m in s.hidden), s.d_output]
    return _sgd_estimate(
        widths,
        s.batch,
        n_seeds,
        s.steps,
        len(snapshot_schedule(s)),
        s.n_eval,
        s.dtype,
        device,
        "training",
    )


# ---------- E0 gradient relation ---------------------------------------------------------
E0_GFLOPS = 15.0
"""Rate of E0's measurements per torch thread (batched matmuls of a few hundred rows; 15–23
GFLOP/s per core-second in ``benchmarks/bench_gradient_relation.py`` on the book's 2-core CPU)."""


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
    nbytes = item * (inputs + temps) + 2**24
    return Estimate(
        flops / (E0_GFLOPS * 1e9) + 0.1,
        int(nbytes),
        f"{flops / 1e9:.1f} GFLOP counted ({samples:,} checked samples × 2 students, "
        f"{len(s.biases)} biases × {s.n_matrix:,} matrix samples) at {E0_GFLOPS:g} GFLOP/s "
        "(calibrated, one thread); memory: inputs + chunked temporaries",
    )
