"""E9 — early directional convergence under small initialisation (DC: Kumar & Haupt 2024).

A bias-free, positively homogeneous student (:mod:`luckbook.homogeneous_net`; depth
``depth``, hidden width ``width``, scalar output) learns, by gradient flow on the summed square
loss, the targets of a bias-free ``m``-node ReLU teacher on ``n_train`` points uniform on the
unit sphere of ``R^d``. The student starts at ``θ(0) = δ·θ̄`` (``θ̄`` i.i.d. ``N(0, 1)``, the
same direction for every ``δ``). Before training we find KKT points of the neural correlation
function on the unit sphere (:mod:`luckbook.correlation_function`); during training we record,
at every record step, the flow time, ``‖θ‖/‖θ(0)‖``, the loss, every first-layer neuron's norm
ratio and cosine with its nearest KKT direction, and the singular values of the first layer.
The result and its analysis (phases, claims, the fit of the phase length against ``δ``) are
in :mod:`luckbook.results.directional`.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .. import costs
from ..cache import cached, file_fingerprint
from ..config import check_choice, check_float, check_int, resolve_dtype
from ..correlation_function import KKTSet, kkt_directions, nearest_cosine
from ..data import unit_sphere
from ..homogeneous_net import (
    ACTIVATIONS,
    flow,
    forward,
    homogeneity,
    init_weights,
    square_loss_sum,
    teacher_targets,
    total_norm,
    widths_for,
)
from ..metrics import effective_rank
from ..results.directional import DirectionalResult, PhaseLengths, fit_phase_lengths
from ..rng import generator, stream_seed
from .base import Experiment, register


@dataclasses.dataclass(frozen=True)
class DirectionalSettings:
    """Settings of E9; the defaults are the ``paper`` scale (the summary's setting, 16 seeds)."""

    d: int = 10  # input dimension; inputs uniform on the unit sphere of R^d
    n_train: int = 100  # training points
    m: int = 2  # teacher: y = Σ_k relu(w*_kᵀ x), m unit-norm directions w*_k, no bias
    width: int = 50  # student hidden width (every hidden layer)
    depth: int = 2  # number of weight matrices L >= 2 (ReLU: L-homogeneous)
    activation: str = "relu"  # "relu", "leaky_relu" or "relu2" (squared ReLU, higher degree)
    slope: float = 0.01  # negative slope of the Leaky ReLU
    delta: float = 1e-4  # init scale δ: every weight starts δ·N(0, 1)
    lr: float = 5e-3  # Euler step in flow time (plain GD when the degree is 2)
    stretch_ref: float = 1.0  # ρ of the time-rescaled steps for degree K > 2 (0: plain GD)
    max_stretch: float = 1e6  # cap of the step stretch (ρ/‖θ‖)^{K-2}
    stop_loss: float = (
        0.5  # stop once every seed's loss is at most this fraction of its initial loss
    )
    max_steps: int = 20_000  # the most Euler steps
    record_every: int = 1  # record metrics every this many steps
    kkt_starts: int = 32  # random starts of the KKT search per seed (plus the run's own start)
    kkt_steps: int = 1000  # projected-ascent steps of the KKT search
    kkt_lr: float = (
        0.1  # projected-ascent step (0.1 and 0.2 find the same points; 0.5 jumps basins)
    )
    dtype: str = "float64"  # float64 keeps δ = 1e-5 runs exact enough

    @property
    def degree(self) -> int:
        """Degree ``K`` of homogeneity of the student."""
        return homogeneity(self.depth, self.activation)

    def validate(self) -> None:
        for name in ("d", "n_train", "m", "width", "max_steps", "record_every", "kkt_steps"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("depth", self.depth, minimum=2)
        check_int("kkt_starts", self.kkt_starts, minimum=0)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_float("slope", self.slope, low=0.0, high=1.0, high_open=True)
        check_float("delta", self.delta, low=0.0, high=1.0, low_open=True)
        check_float("lr", self.lr, low=0.0, high=1.0, low_open=True)
        check_float("stretch_ref", self.stretch_ref, low=0.0)
        check_float("max_stretch", self.max_stretch, low=1.0)
        check_float("stop_loss", self.stop_loss, low=0.0, high=1.0, low_open=True)
        check_float("kkt_lr", self.kkt_lr, low=0.0, low_open=True)
        resolve_dtype(self.dtype)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "book": {"kkt_starts": 8, "kkt_steps": 400, "kkt_lr": 0.2},
    "tiny": {"kkt_starts": 2, "kkt_steps": 300, "kkt_lr": 0.2},
}
SEEDS = {"paper": 16, "book": 4, "tiny": 3}


def _starts(
    settings: DirectionalSettings, init: list[torch.Tensor], seeds: Sequence[int]
) -> list[torch.Tensor]:
    """Per seed: the run's own initial direction and ``kkt_starts`` random ones: ``[S, R, …]``."""
    shapes = [w.shape[1:] for w in init]
    out = []
    for layer, w in enumerate(init):
        rnd = [
            torch.randn(
                settings.kkt_starts,
                *shapes[layer],
                generator=generator(s, f"extra:kkt:{layer}"),
                dtype=torch.float64,
            ).to(w)
            for s in seeds
        ]
        out.append(torch.cat([w.unsqueeze(1), torch.stack(rnd)], dim=1))
    return out


def build(settings: DirectionalSettings, seeds: Sequence[int], device: torch.device):
    """Inputs ``[S, N, d]``, targets ``[S, N]`` and the initial weights (on ``device``)."""
    dtype = resolve_dtype(settings.dtype)
    x = unit_sphere(settings.n_train, settings.d, seeds).to(device, dtype)
    y = teacher_targets(x, seeds, settings.m)
    w = init_weights(
        widths_for(settings.d, settings.width, settings.depth),
        seeds,
        settings.delta,
        dtype=dtype,
        device=device,
    )
    return x, y, w


def kkt_sets(
    settings: DirectionalSettings,
    seeds: Sequence[int],
    x: torch.Tensor,
    y: torch.Tensor,
    weights: list[torch.Tensor],
    device: torch.device,
    targets: str = "teacher",
) -> list[KKTSet]:
    """The KKT sets of every seed, cached: they depend on the data, the init *direction* and the
    architecture, not on ``δ``, so a sweep over ``δ`` searches once. ``targets`` names the
    targets ``y`` are (``"teacher"`` or ``"different-teacher"``; part of the cache key)."""
    key = {
        "targets": targets,
        "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k in KKT_FIELDS},
        "seeds": list(seeds),
        "device": device.type,
        "module": [
            file_fingerprint(inspect.getsourcefile(f) or "") for f in (kkt_directions, compute)
        ],
    }

    def search() -> list[KKTSet]:
        return kkt_directions(
            _starts(settings, weights, seeds),
            x,
            y,
            activation=settings.activation,
            slope=settings.slope,
            lr=settings.kkt_lr,
            steps=settings.kkt_steps,
        )

    return cached("directional-kkt", key, search)


KKT_FIELDS = (
    "d",
    "n_train",
    "m",
    "width",
    "depth",
    "activation",
    "slope",
    "kkt_starts",
    "kkt_steps",
    "kkt_lr",
    "dtype",
)


def compute(
    settings: DirectionalSettings, seeds: list[int], device: torch.device, progress: bool = False
) -> DirectionalResult:
    """Run E9 for every seed at once; see :class:`DirectionalResult`."""
    start = time.perf_counter()
    x, y, weights = build(settings, seeds, device)
    kkt = kkt_sets(settings, seeds, x, y, weights, device)
    # the evaluation control "different-teacher": the KKT directions of the correlation
    # function of an independent teacher's targets on the same inputs
    alt_seeds = [stream_seed(s, "different-teacher") % 2**31 for s in seeds]
    y_alt = teacher_targets(x, alt_seeds, settings.m)
    kkt_alt = kkt_sets(settings, seeds, x, y_alt, weights, device, targets="different-teacher")
    w0 = weights[0].transpose(1, 2).norm(dim=-1).clone()  # [S, n]
    n0 = total_norm(weights)
    loss0 = square_loss_sum(forward(weights, x, settings.activation, settings.slope)[0], y)
    rec: dict[str, list[torch.Tensor]] = {
        "ratio": [],
        "cos": [],
        "cos_alt": [],
        "svals": [],
        "erank": [],
    }

    def on_record(step: int, t: torch.Tensor, w: list[torch.Tensor]) -> None:
        rows = w[0].transpose(1, 2)  # [S, n, d]
        rec["ratio"].append((rows.norm(dim=-1) / w0).float().cpu())
        rec["cos"].append(
            torch.stack([nearest_cosine(rows[i], kkt[i].directions) for i in range(len(seeds))])
            .float()
            .cpu()
        )
        rec["cos_alt"].append(
            torch.stack([nearest_cosine(rows[i], kkt_alt[i].directions) for i in range(len(seeds))])
            .float()
            .cpu()
        )
        rec["svals"].append(torch.linalg.svdvals(w[0]).cpu())
        rec["erank"].append(effective_rank(w[0]).cpu())

    traj = flow(
        weights,
        x,
        y,
        seeds=seeds,
        lr=settings.lr,
        steps=settings.max_steps,
        activation=settings.activation,
        slope=settings.slope,
        stretch_ref=settings.stretch_ref or None,
        max_stretch=settings.max_stretch,
        record_every=settings.record_every,
        on_record=on_record,
        stop=lambda t, n, loss: bool((loss <= settings.stop_loss * loss0).all()),
    )
    return DirectionalResult(
        settings=settings,
        seeds=list(seeds),
        device=str(device),
        wall_time_s=time.perf_counter() - start,
        steps=np.asarray(traj.steps),
        time=torch.stack(traj.time).cpu().numpy(),
        norm_ratio=(torch.stack(traj.norm) / n0).cpu().numpy(),
        loss=(torch.stack(traj.loss) / loss0).cpu().numpy(),
        neuron_ratio=torch.stack(rec["ratio"]).numpy(),
        neuron_cos=torch.stack(rec["cos"]).numpy(),
        neuron_cos_alt=torch.stack(rec["cos_alt"]).numpy(),
        svals=torch.stack(rec["svals"]).numpy(),
        erank=torch.stack(rec["erank"]).numpy(),
        n_kkt=np.array([k.directions.shape[0] for k in kkt]),
        n_star=np.array([k.max_value for k in kkt]),
        kkt_residual=np.array([k.residual for k in kkt]),
    )


def phase_lengths(
    deltas: Sequence[float],
    *,
    scale: str | None = None,
    seeds: int | Sequence[int] | None = None,
    fit_below: float = 1.0,
    **fixed: Any,
) -> PhaseLengths:
    """Run E9 (cached) at every ``δ`` and fit the phase length against the theory.

    Degree 2: ``t_escape`` against ``ln(1/δ)`` (linear; theory slope ``1/(2N*)``, the inverse
    growth rate at the top KKT point). Degree ``K > 2``: ``t_double`` against ``1/δ`` on log–log
    axes (theory slope ``K − 2``). Only ``δ <= fit_below`` enter the fit.
    """
    if len(deltas) < 2:
        raise ValueError(f"deltas={list(deltas)!r} is not allowed: give at least two values")
    runs = [DIRECTIONAL.run(scale=scale, seeds=seeds, delta=float(dl), **fixed) for dl in deltas]
    return fit_phase_lengths(runs, fit_below)


DIRECTIONAL = register(
    Experiment(
        result_cls=DirectionalResult,
        name="directional",
        key="E9",
        summary=(
            "small initialisation: homogeneous nets converge in direction (to a KKT point of "
            "the neural correlation function) before they grow"
        ),
        settings_cls=DirectionalSettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=costs.directional,
    )
)
