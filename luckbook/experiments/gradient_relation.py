"""E0 — the gradient relation (LM, Lemma 1): exact per sample, approximate when batch-averaged.

A separated deep ReLU teacher ``d → m_1 → … → m_{L-1} → c`` (hidden widths the first
``depth − 1`` entries of ``m``; each hidden node's weights scaled to unit norm; the top layer
raw codes without bias) is compared with two students that are ``multi`` times as wide at
every hidden layer:

- a **random** student (PyTorch's default ``nn.Linear`` init times ``init_scale``, LM/E3), and
- an **aligned** student: an exact copy of the teacher, each teacher node replicated ``multi``
  times (incoming weights from replicated nodes and outgoing weights divided by ``multi``, so
  the copy computes the teacher's function), plus ``align_noise · N(0, 1)`` on every weight.

**Teacher bias in BatchNorm units.** Every hidden bias is set so that node ``j``'s
pre-activation has mean ``bias · σ_j`` and standard deviation ``σ_j`` on Gaussian inputs
(:func:`~luckbook.gradient_checks.standardise_biases`): a BatchNorm output shifted by
``bias``, on with probability ``≈ Φ(bias)`` at every layer (exactly, on Gaussian inputs, in
the first). A constant bias in absolute units would switch deep layers entirely off at
moderately negative values.

Per seed it measures (:mod:`luckbook.gradient_checks`; the arrays are described in
:mod:`luckbook.results.gradient_relation`): (a) the per-sample relation's gradient against
autograd's, (b) the drift of the batch-averaged matrix gradient from the exact one as the
batch grows, (c) the gated β matrices of both students and their structure, (d) the overlap
of teacher activations for every bias of ``biases``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from .. import costs
from ..config import check_choice, check_float, check_int, resolve_dtype
from ..data import gaussian
from ..ensemble import ACTIVATIONS, Net
from ..gradient_checks import (
    activation_overlap,
    aligned_student,
    drift,
    mean_relation_matrices,
    relation_errors,
    standardise_biases,
    structure,
    ungated_errors,
)
from ..metrics import square_loss
from ..results.gradient_relation import GradientRelationResult
from ..rng import generator
from ..student import make_student
from ..teacher import make_teacher
from .base import Experiment, register

TEACHER_HIDDEN = (10, 15, 20, 25)
"""Hidden widths of LM's released deep teacher (E3); the first ``depth − 1`` are used."""

STUDENTS = ("random", "aligned")
"""The two students every measurement is made for."""


@dataclasses.dataclass(frozen=True)
class GradientRelationSettings:
    """Settings of E0; the defaults are paper-like sizes (E3's deep teacher, ``paper`` scale)."""

    depth: int = 5  # weight layers counting the output (≥ 2): depth − 1 hidden layers
    m: tuple[int, ...] = TEACHER_HIDDEN  # teacher hidden widths; the first depth − 1 are used
    d: int = 20  # input dimension
    c: int = 100  # output dimension (E3: d_output = 100)
    multi: int = 10  # width multiplier: student hidden widths are multi · m_l (E3: 10)
    bias: float = 0.0  # teacher hidden bias in BatchNorm units: a node is on w.p. ≈ Φ(bias)
    data_std: float = 1.0  # inputs x ~ N(0, data_std² I_d) (the biases scale with it)
    init_scale: float = 1.0  # random student: PyTorch default init U(±1/√fan_in) times this
    align_noise: float = 0.05  # aligned student: teacher copy + align_noise · N(0, 1) per weight
    n_check: int = 256  # samples for the relation-vs-autograd check (a)
    batch_sizes: tuple[int, ...] = (1, 4, 16, 64, 256, 1024)  # batch sizes of the drift study (b)
    n_repeats: int = 16  # independent batches per batch size (b)
    n_matrix: int = 1024  # samples for the gated means β, β* (c)
    biases: tuple[float, ...] = (-1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5)  # (d), same units
    n_overlap: int = 100_000  # samples for the overlaps (d) and for setting the biases
    activation: str = "relu"  # "relu" or "leaky_relu" (teacher and students)
    slope: float = 0.01  # negative slope of the Leaky ReLU
    dtype: str = "float64"  # float64: the relation must match autograd to ~1e-16

    @property
    def hidden(self) -> list[int]:
        """Teacher hidden widths ``[m_1, …, m_{depth-1}]``."""
        return list(self.m[: self.depth - 1])

    @property
    def widths(self) -> list[int]:
        """Teacher widths ``[d, m_1, …, m_{depth-1}, c]``."""
        return [self.d, *self.hidden, self.c]

    def validate(self) -> None:
        check_int("depth", self.depth, minimum=2)
        if not isinstance(self.m, tuple) or not self.m:
            raise ValueError(f"m={self.m!r} is not allowed: expected a tuple of hidden widths")
        for width in self.m:
            check_int("m", width, minimum=1)
        if len(self.m) < self.depth - 1:
            raise ValueError(
                f"depth={self.depth!r} is not allowed: m={self.m!r} gives hidden widths for "
                f"depth <= {len(self.m) + 1}; give more widths in m or a smaller depth"
            )
        for name in ("d", "c", "multi", "n_check", "n_repeats", "n_matrix", "n_overlap"):
            check_int(name, getattr(self, name), minimum=1)
        check_float("bias", self.bias)
        check_float("data_std", self.data_std, low=0.0, low_open=True)
        check_float("init_scale", self.init_scale, low=0.0, low_open=True)
        check_float("align_noise", self.align_noise, low=0.0, low_open=True)
        if not isinstance(self.batch_sizes, tuple) or not self.batch_sizes:
            raise ValueError(
                f"batch_sizes={self.batch_sizes!r} is not allowed: expected a non-empty tuple of "
                "increasing integers >= 1"
            )
        for b in self.batch_sizes:
            check_int("batch_sizes", b, minimum=1)
        if list(self.batch_sizes) != sorted(set(self.batch_sizes)):
            raise ValueError(
                f"batch_sizes={self.batch_sizes!r} is not allowed: expected strictly increasing "
                "sizes"
            )
        if not isinstance(self.biases, tuple) or not self.biases:
            raise ValueError(f"biases={self.biases!r} is not allowed: expected a non-empty tuple")
        for b in self.biases:
            check_float("biases", b)
        if list(self.biases) != sorted(set(self.biases)):
            raise ValueError(
                f"biases={self.biases!r} is not allowed: expected strictly increasing values"
            )
        check_choice("activation", self.activation, ACTIVATIONS)
        check_float("slope", self.slope, low=0.0, high=1.0, high_open=True)
        resolve_dtype(self.dtype)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # Two hidden layers, students twice as wide: every measurement in a few seconds on a CPU.
    "book": {
        "depth": 3,
        "c": 20,
        "multi": 2,
        "n_check": 128,
        "n_repeats": 8,
        "n_overlap": 20_000,
    },
    "tiny": {
        "depth": 3,
        "m": (4, 6),
        "d": 8,
        "c": 6,
        "multi": 2,
        "n_check": 32,
        "batch_sizes": (1, 16, 256),
        "n_repeats": 4,
        "n_matrix": 512,
        "biases": (-1.0, -0.5, 0.0, 0.5),
        "n_overlap": 4000,
    },
}
SEEDS = {"paper": 32, "book": 8, "tiny": 4}


# ----------------------------------------------------------------------------- networks


def make_e0_teacher(
    settings: GradientRelationSettings,
    seeds: Sequence[int],
    device: torch.device,
    bias: float | None = None,
    x_calibrate: torch.Tensor | None = None,
) -> Net:
    """E0's teacher: unit-norm separated codes with standardised hidden biases.

    The codes come from each seed's ``"teacher"`` stream and do not depend on ``bias``
    (default ``settings.bias``); the biases are set by :func:`standardise_biases` on
    ``x_calibrate`` (default: :func:`calibration_inputs`). The top layer is raw codes
    without bias.
    """
    teacher = make_teacher(
        settings.widths,
        seeds,
        bias=0.0,
        normalize="weights",
        output_bias=0.0,
        activation=settings.activation,
        slope=settings.slope,
        dtype=settings.dtype,
        device=device,
    )
    x = calibration_inputs(settings, seeds) if x_calibrate is None else x_calibrate
    return standardise_biases(teacher, x, settings.bias if bias is None else bias)


def calibration_inputs(settings: GradientRelationSettings, seeds: Sequence[int]) -> torch.Tensor:
    """``n_overlap`` Gaussian samples per seed (stream ``"e0_calibrate"``) that fix the biases."""
    return gaussian(
        settings.n_overlap, settings.d, seeds, data_std=settings.data_std, stream="e0_calibrate"
    )


def build(
    settings: GradientRelationSettings,
    seeds: Sequence[int],
    device: torch.device,
    x_calibrate: torch.Tensor | None = None,
) -> tuple[Net, dict[str, Net]]:
    """The teacher and the two students (``"random"``, ``"aligned"``) of E0."""
    teacher = make_e0_teacher(settings, seeds, device, x_calibrate=x_calibrate)
    students = {
        "random": make_student(
            teacher, settings.multi, seeds, init="torch_default", init_scale=settings.init_scale
        ),
        "aligned": aligned_student(teacher, settings.multi, seeds, settings.align_noise),
    }
    return teacher, students


def random_overlap(
    settings: GradientRelationSettings,
    seeds: Sequence[int],
    device: torch.device,
    x_calibrate: torch.Tensor,
    x_overlap: torch.Tensor,
) -> np.ndarray:
    """``[S, 2, L-1]``: the overlap (d) of a random network of the teacher's widths (i.i.d.
    ``N(0, 1)`` weights from each seed's ``"e0_random"`` stream, hidden biases set by
    :func:`standardise_biases`) at the most negative bias of ``settings.biases`` and at 0."""
    dtype = resolve_dtype(settings.dtype)
    w = settings.widths
    per_seed = []
    for seed in seeds:
        gen = generator(seed, "e0_random")
        shapes = [(w[l] + 1, w[l + 1]) for l in range(len(w) - 1)]
        per_seed.append([torch.randn(*sh, generator=gen, dtype=torch.float64) for sh in shapes])
    weights = [torch.stack([p[l] for p in per_seed]).to(device, dtype) for l in range(len(w) - 1)]
    net = Net(weights, activation=settings.activation, slope=settings.slope)
    out = []
    for b in (min(settings.biases), 0.0):
        o, _, _ = activation_overlap(standardise_biases(net, x_calibrate, b), x_overlap)
        out.append(torch.stack(o, -1))
    return torch.stack(out, 1).cpu().numpy()


# ----------------------------------------------------------------------------- compute


SEED_GROUPS = 2
"""E0 measures its seeds in this many groups (the book's CPU has two cores); a group has at
least two seeds (one seed alone takes other matmul paths, which round differently)."""

SHARED_FIELDS = ("settings", "seeds", "device", "wall_time_s", "batch_sizes", "biases")
"""Fields of :class:`GradientRelationResult` without a leading seed axis."""


def compute(
    settings: GradientRelationSettings,
    seeds: list[int],
    device: torch.device,
    progress: bool = False,
) -> GradientRelationResult:
    """Run E0 (a)–(d) for every seed; see :class:`GradientRelationResult`.

    With at least ``2 · SEED_GROUPS`` seeds, the seeds are split into :data:`SEED_GROUPS`
    contiguous groups, each measured by :func:`compute_group`. On a CPU with more than one
    torch thread the groups run at once, each in its own Python thread with one torch thread
    (torch releases the GIL in its kernels, so they run on separate cores and no OpenMP thread
    spins waiting for another). The grouping depends only on the seeds, never on the threads,
    so the numbers do not either.
    """
    start = time.perf_counter()
    n_groups = SEED_GROUPS if len(seeds) >= 2 * SEED_GROUPS else 1
    if n_groups == 1:
        return compute_group(settings, seeds, device, progress)
    bounds = np.linspace(0, len(seeds), n_groups + 1).round().astype(int)
    groups = [list(seeds[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    threads = torch.get_num_threads()
    workers = min(threads, n_groups) if device.type == "cpu" else 1

    def one(i: int) -> GradientRelationResult:
        return compute_group(settings, groups[i], device, progress and i == 0)

    if workers == 1:
        parts = [one(i) for i in range(n_groups)]
    else:
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(one, range(n_groups)))
        finally:
            torch.set_num_threads(threads)
    merged = {
        f.name: _join([getattr(p, f.name) for p in parts])
        for f in dataclasses.fields(parts[0])
        if f.name not in SHARED_FIELDS
    }
    merged.update(seeds=list(seeds), wall_time_s=time.perf_counter() - start)
    return dataclasses.replace(parts[0], **merged)


def _join(values: list[Any]) -> Any:
    """Concatenate the per-group values of one result field along the seed axis (arrays, and
    dicts or lists of them)."""
    if isinstance(values[0], dict):
        return {k: _join([v[k] for v in values]) for k in values[0]}
    if isinstance(values[0], list):
        return [_join(list(layer)) for layer in zip(*values, strict=True)]
    return np.concatenate(values)


def compute_group(
    settings: GradientRelationSettings,
    seeds: list[int],
    device: torch.device,
    progress: bool = False,
) -> GradientRelationResult:
    """Run E0 (a)–(d) for the seeds ``seeds`` at once, batched over them."""
    start = time.perf_counter()
    dtype = resolve_dtype(settings.dtype)
    s = settings

    def data(n: int, stream: str) -> torch.Tensor:
        return gaussian(n, s.d, seeds, data_std=s.data_std, stream=stream).to(device, dtype)

    steps = 2 + len(s.batch_sizes) + len(s.biases)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="gradient-relation")

    def tick() -> None:
        if bar is not None:
            bar.update()

    x_calibrate = calibration_inputs(s, seeds)
    teacher, students = build(s, seeds, device, x_calibrate)
    x_check = data(s.n_check, "e0_check")
    relation_error, ungated, loss = {}, {}, {}
    y_t = teacher(x_check)
    for kind, student in students.items():
        relation_error[kind] = relation_errors(teacher, student, x_check).cpu().numpy()
        ungated[kind] = ungated_errors(teacher, student, x_check).cpu().numpy()
        loss[kind] = square_loss(y_t, student(x_check)).cpu().numpy()
    tick()

    drifts: dict[str, list[np.ndarray]] = {k: [] for k in STUDENTS}
    cosines: dict[str, list[np.ndarray]] = {k: [] for k in STUDENTS}
    for batch in s.batch_sizes:
        x = data(batch * s.n_repeats, f"e0_batches_{batch}")
        for kind, student in students.items():
            rel, cos = drift(teacher, student, x, batch)
            drifts[kind].append(rel.cpu().numpy())
            cosines[kind].append(cos.cpu().numpy())
        tick()

    x_matrix = data(s.n_matrix, "e0_matrix")
    beta, cross, conc, share = {}, {}, {}, {}
    teacher_beta: list[torch.Tensor] = []
    for kind, student in students.items():
        bs, as_, ts = mean_relation_matrices(teacher, student, x_matrix)
        teacher_beta = ts
        parts = [structure(b, a, t) for b, a, t in zip(bs, as_, ts, strict=True)]
        conc[kind] = torch.stack([p[0] for p in parts], -1).cpu().numpy()
        share[kind] = torch.stack([p[1] for p in parts], -1).cpu().numpy()
        beta[kind] = [b.cpu().numpy() for b in bs]
        cross[kind] = [a.cpu().numpy() for a in as_]
    tick()

    x_overlap = data(s.n_overlap, "e0_overlap")
    overlap, active, dead, aligned_conc = [], [], [], []
    for b in s.biases:
        t_b = make_e0_teacher(s, seeds, device, b, x_calibrate)
        o, a, dd = activation_overlap(t_b, x_overlap)
        overlap.append(torch.stack(o, -1))
        active.append(torch.stack(a, -1))
        dead.append(torch.stack(dd, -1))
        s_b = aligned_student(t_b, s.multi, seeds, s.align_noise)
        mats = mean_relation_matrices(t_b, s_b, x_matrix)
        aligned_conc.append(torch.stack([structure(*m)[0] for m in zip(*mats, strict=True)], -1))
        tick()
    overlap_random = random_overlap(s, seeds, device, x_calibrate, x_overlap)
    if bar is not None:
        bar.close()

    return GradientRelationResult(
        settings=s,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=time.perf_counter() - start,
        relation_error=relation_error,
        batch_sizes=np.asarray(s.batch_sizes),
        drift={k: np.stack(v, axis=2) for k, v in drifts.items()},
        drift_cosine={k: np.stack(v, axis=2) for k, v in cosines.items()},
        beta=beta,
        cross=cross,
        teacher_beta=[t.cpu().numpy() for t in teacher_beta],
        concentration=conc,
        block_share=share,
        biases=np.asarray(s.biases, dtype=float),
        overlap=torch.stack(overlap, 1).cpu().numpy(),
        p_active=torch.stack(active, 1).cpu().numpy(),
        dead=torch.stack(dead, 1).cpu().numpy(),
        aligned_concentration=torch.stack(aligned_conc, 1).cpu().numpy(),
        loss=loss,
        ungated_error=ungated,
        overlap_random=overlap_random,
    )


GRADIENT_RELATION = register(
    Experiment(
        result_cls=GradientRelationResult,
        name="gradient-relation",
        key="E0",
        summary="the gradient relation: per-sample form = autograd; batch-averaged form drifts",
        settings_cls=GradientRelationSettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=costs.gradient_relation,
    )
)
