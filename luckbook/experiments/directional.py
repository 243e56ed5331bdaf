"""E9 — early directional convergence under small initialisation (DC: Kumar & Haupt 2024).

A bias-free homogeneous student (depth ``depth``, hidden width ``width``, scalar output) learns,
by gradient flow on the summed square loss, the targets of a bias-free ``m``-node ReLU teacher
on ``n_train`` points uniform on the unit sphere of ``R^d``. The student starts at
``θ(0) = δ·θ̄`` (``θ̄`` i.i.d. ``N(0, 1)``, the same direction for every ``δ``). Before training
we find KKT points of the neural correlation function on the unit sphere
(:mod:`luckbook.correlation_function`); during training we record, at every record step, the
flow time, ``‖θ‖/‖θ(0)‖``, the loss, every first-layer neuron's norm ratio and cosine with its
nearest KKT direction, and the singular values of the first layer.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from .. import costs
from ..cache import cached, file_fingerprint
from ..claims import Stat, bootstrap, seed_mean
from ..config import check_choice, check_float, check_int, resolve_dtype
from ..correlation_function import KKTSet, kkt_directions, nearest_cosine
from ..data import unit_sphere
from ..homogeneous import (
    ACTIVATIONS,
    first_crossing,
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
from ..result import Result
from ..rng import generator
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

LOSS_FLAT = 0.01
"""The small-norm phase as seen by the loss: it ends when the loss has fallen by 1 %."""

SWEEP = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
"""The init scales of the time-scale study (the book's figure and the claims)."""

FIT_BELOW = 1e-2
"""Only ``δ <= FIT_BELOW`` enter the time-scale fits: ``δ = 0.1`` is not a small initialisation."""

LARGE_DELTA = 1e-1
"""The negative control's init scale: at ``δ = 0.1`` the loss falls before the norm doubles.
(``δ = 1`` diverges at the chapter's step ``lr = 5e-3``; ``δ = 0.1`` breaks the small-init
premise without changing the step, and its run is already part of :data:`SWEEP`.)"""


@dataclasses.dataclass
class DirectionalResult(Result[DirectionalSettings]):
    """Everything E9 measures, as NumPy arrays (``T`` records, ``S`` seeds, ``n`` = width).

    Attributes:
        settings, seeds, device, wall_time_s: how it was made.
        steps: ``[T]`` Euler step of each record; time: ``[T, S]`` elapsed flow time ``Σ dt``.
        norm_ratio: ``[T, S]`` ``‖θ(t)‖/‖θ(0)‖``; loss: ``[T, S]`` ``ℒ(θ(t))/ℒ(θ(0))``.
        neuron_ratio: ``[T, S, n]`` first-layer neuron norms ``‖w_j(t)‖/‖w_j(0)‖``.
        neuron_cos: ``[T, S, n]`` cosine of ``w_j(t)`` with its nearest KKT direction.
        svals: ``[T, S, min(d, n)]`` singular values of the first layer; erank: ``[T, S]`` its
            effective rank (:func:`luckbook.metrics.effective_rank`).
        n_kkt: ``[S]`` distinct KKT neuron directions found; n_star: ``[S]`` the largest ``N`` on
            the unit sphere; kkt_residual: ``[S]`` median relative KKT residual.

    :meth:`claims` (the pre-registered claims of DC, registry section E9) evaluates this run
    and, for the δ-dependence and the time-scale law, the same seeds and settings at every
    ``δ`` of :data:`SWEEP` and depths 2 and 3 (cached runs: the book's figure uses them too).
    Its negative control is a large initialisation, ``δ =`` :data:`LARGE_DELTA`.
    """

    EXPERIMENT: ClassVar[str] = "directional"

    CONTROLS: ClassVar[tuple[str, ...]] = ("large-init",)
    CONTROL_NAMES: ClassVar[Mapping[str, str]] = {
        "large-init": (
            "large initialisation: the same seeds and settings at δ = 0.1, where the loss moves "
            "before the norm doubles (time-scale laws: the fit over δ ∈ {0.1, 0.01}); no extra "
            "compute — these runs are part of the δ sweep"
        )
    }

    steps: np.ndarray
    time: np.ndarray
    norm_ratio: np.ndarray
    loss: np.ndarray
    neuron_ratio: np.ndarray
    neuron_cos: np.ndarray
    svals: np.ndarray
    erank: np.ndarray
    n_kkt: np.ndarray
    n_star: np.ndarray
    kkt_residual: np.ndarray

    # ---- derived quantities -------------------------------------------------------------
    def growing(self) -> np.ndarray:
        """``[T, S, n]``: neurons that have grown at least as much as the whole network."""
        return self.neuron_ratio >= np.maximum(self.norm_ratio, 1.0)[..., None]

    def growing_cos(self) -> np.ndarray:
        """``[T, S]`` mean cosine of the growing neurons with their nearest KKT direction."""
        g = self.growing()
        return (self.neuron_cos * g).sum(-1) / np.maximum(g.sum(-1), 1)

    def crossing(self, values: np.ndarray, level: float | np.ndarray) -> np.ndarray:
        """``[S]`` first flow time at which ``values [T, S]`` reaches ``level``, interpolated (nan: never)."""
        return first_crossing(
            torch.from_numpy(self.time), torch.from_numpy(values), torch.as_tensor(level)
        ).numpy()

    def first_index(self, values: np.ndarray, level: float) -> np.ndarray:
        """``[S]`` first record index with ``values >= level`` (``-1``: never)."""
        hit = values >= level
        return np.where(hit.any(0), hit.argmax(0), -1)

    def t_double(self) -> np.ndarray:
        """``[S]`` flow time at which ``‖θ‖`` first reaches ``2‖θ(0)‖``."""
        return self.crossing(self.norm_ratio, 2.0)

    def t_escape(self) -> np.ndarray:
        """``[S]`` flow time at which the loss has first fallen by 1 % (the end of the plateau)."""
        return self.crossing(-self.loss, -(1 - LOSS_FLAT))

    def at(self, index: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per seed, ``values[index[s], s]`` (nan where ``index`` is ``-1``)."""
        out = np.full(len(self.seeds), np.nan)
        for s, i in enumerate(index):
            if i >= 0:
                out[s] = values[i, s]
        return out

    def phase_index(self, norm_level: float = 2.0) -> np.ndarray:
        """``[S]`` the last record with ``‖θ‖ <= norm_level·‖θ(0)‖`` (the small-norm phase)."""
        over = self.first_index(self.norm_ratio, norm_level)
        return np.where(over > 0, over - 1, np.where(over == 0, 0, len(self.steps) - 1))

    def flat_index(self) -> np.ndarray:
        """``[S]`` the last record at which the loss has changed by less than 1 %."""
        moved = self.first_index(np.abs(1 - self.loss), LOSS_FLAT)
        return np.where(moved > 0, moved - 1, np.where(moved == 0, 0, len(self.steps) - 1))

    def cos_reached(self, level: float = 0.99) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per seed, at the first record where the growing neurons' mean cosine reaches ``level``:
        ``(norm ratio, relative loss change, effective rank)`` (nan where never)."""
        idx = self.first_index(self.growing_cos(), level)
        return (
            self.at(idx, self.norm_ratio),
            self.at(idx, np.abs(1 - self.loss)),
            self.at(idx, self.erank),
        )

    def seed_numbers(self) -> dict[str, np.ndarray]:
        """Per-seed numbers (descriptive; the claims are :meth:`claims`): at the norm doubling
        (``_2x``), at the end of the loss plateau (``_flat``), where the growing neurons' mean
        cosine first reaches 0.99 (``_at_cos99``), and the two phase lengths."""
        p = self.phase_index(2.0)
        f = self.flat_index()
        ratio99, loss99, erank99 = self.cos_reached(0.99)
        return {
            "loss_change_2x": self.at(p, np.abs(1 - self.loss)),
            "cos_2x": self.at(p, self.growing_cos()),
            "erank_0": self.erank[0],
            "erank_2x": self.at(p, self.erank),
            "cos_flat": self.at(f, self.growing_cos()),
            "norm_flat": self.at(f, self.norm_ratio),
            "erank_flat": self.at(f, self.erank),
            "norm_at_cos99": ratio99,
            "loss_change_at_cos99": loss99,
            "erank_at_cos99": erank99,
            "t_double": self.t_double(),
            "t_escape": self.t_escape(),
        }

    # ---- claims ----------------------------------------------------------------------------
    def sibling(self, **changes: Any) -> DirectionalResult:
        """The run (cached) with the same seeds and settings as this one except ``changes``."""
        if all(getattr(self.settings, k) == v for k, v in changes.items()):
            return self
        fields = {**dataclasses.asdict(self.settings), **changes}
        return DIRECTIONAL.run(scale="paper", seeds=self.seeds, device=self.device, **fields)

    def time_scales(self, depth: int) -> PhaseLengths:
        """Phase lengths over :data:`SWEEP` at ``depth`` (same seeds and other settings), fitted
        on ``δ <= FIT_BELOW``."""
        return fit_phase_lengths([self.sibling(delta=d, depth=depth) for d in SWEEP], FIT_BELOW)

    def claim_stats(self, control: str | None = None) -> dict[str, Stat]:
        """Every E9 claim on this run (``control=None``) or on the large initialisation."""
        if control not in (None, "large-init"):
            raise ValueError(f"control={control!r} is not allowed: expected None or 'large-init'")
        large = control is not None
        run = self.sibling(delta=LARGE_DELTA) if large else self
        c = run.seed_numbers()
        where = f"δ = {run.settings.delta:g}, depth {run.settings.depth}"
        out = {
            "E9.loss-flat": seed_mean(
                c["loss_change_2x"],
                detail=f"{where}; per seed {_short(c['loss_change_2x'])}",
            ),
            "E9.direction-first": seed_mean(
                c["cos_flat"],
                detail=f"{where}; per seed {_short(c['cos_flat'])} (at t = 0: "
                f"{_short(run.growing_cos()[0])})",
            ),
        }
        drop = 1 - c["erank_flat"] / c["erank_0"]
        out["E9.low-rank"] = seed_mean(
            drop,
            detail=f"{where}; effective rank {_short(c['erank_0'])} → {_short(c['erank_flat'])}",
        )
        small, smaller = (SWEEP[0], SWEEP[1]) if large else (SWEEP[-2], SWEEP[-1])
        a = self.sibling(delta=small).seed_numbers()["norm_at_cos99"]
        b = self.sibling(delta=smaller).seed_numbers()["norm_at_cos99"]
        out["E9.norm-scale"] = seed_mean(
            np.abs(np.log(b / a)),
            detail=f"‖θ‖/‖θ(0)‖ when the cosine reaches 0.99: δ = {small:g} {_short(a)}, "
            f"δ = {smaller:g} {_short(b)} (nan: never)",
        )
        for cid, depth in (("E9.time-L2", 2), ("E9.time-L3", 3)):
            pl = self.time_scales(depth)
            use = pl.deltas >= FIT_BELOW if large else pl.deltas <= FIT_BELOW
            out[cid] = pl.slope_error(use)
        return out

    def numbers(self, step: int | None = None) -> str:
        """Key numbers at record ``step`` (default: the last), means over seeds."""
        t = self.snapshot_index(step)
        g = self.growing()[t]
        return (
            f"step {int(self.steps[t])}, flow time {self.time[t].mean():.3g} (mean over {len(self.seeds)} seeds)\n"
            f"‖θ‖/‖θ(0)‖ = {self.norm_ratio[t].mean():.3g}, loss/initial = {self.loss[t].mean():.4g}\n"
            f"growing neurons {g.sum(-1).mean():.1f} of {self.settings.width}, their mean cosine to the nearest "
            f"KKT direction {self.growing_cos()[t].mean():.3f}; effective rank of W₁ {self.erank[t].mean():.2f}"
        )

    def summary(self) -> str:
        """A small per-seed table of the phase lengths and the claim numbers."""
        s = self.settings
        c = self.seed_numbers()
        lines = [
            f"directional (E9): depth {s.depth}, {s.activation} (degree {s.degree}), width {s.width}, "
            f"delta={s.delta:g}, {int(self.steps[-1])} Euler steps, {len(self.seeds)} seeds on {self.device}, "
            f"{self.wall_time_s:.1f} s",
            f"{'seed':>5} {'N*':>6} {'#KKT':>5} {'t(2x)':>8} {'t(esc)':>8} {'cos@2x':>7} {'cos@flat':>8} "
            f"{'erank 0→2x→flat':>17}",
        ]
        for i, seed in enumerate(self.seeds):
            lines.append(
                f"{seed:>5} {self.n_star[i]:>6.3f} {int(self.n_kkt[i]):>5} {c['t_double'][i]:>8.3g} "
                f"{c['t_escape'][i]:>8.3g} {c['cos_2x'][i]:>7.3f} {c['cos_flat'][i]:>8.3f} "
                f"{c['erank_0'][i]:>5.2f}→{c['erank_2x'][i]:.2f}→{c['erank_flat'][i]:.2f}"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON: settings, timing, per-seed claim numbers and curves."""
        c = self.seed_numbers()
        return {
            "experiment": "directional",
            "settings": dataclasses.asdict(self.settings),
            "device": self.device,
            "wall_time_s": self.wall_time_s,
            "steps": self.steps.tolist(),
            "seeds": [
                {
                    "seed": seed,
                    "n_star": float(self.n_star[s]),
                    "n_kkt": int(self.n_kkt[s]),
                    "kkt_residual": float(self.kkt_residual[s]),
                    **{k: float(v[s]) for k, v in c.items()},
                    "time": self.time[:, s].tolist(),
                    "norm_ratio": self.norm_ratio[:, s].tolist(),
                    "loss_ratio": self.loss[:, s].tolist(),
                    "growing_cos": self.growing_cos()[:, s].tolist(),
                    "erank": self.erank[:, s].tolist(),
                }
                for s, seed in enumerate(self.seeds)
            ],
        }


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
) -> list[KKTSet]:
    """The KKT sets of every seed, cached: they depend on the data, the init *direction* and the
    architecture, not on ``δ``, so a sweep over ``δ`` searches once."""
    key = {
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
    w0 = weights[0].transpose(1, 2).norm(dim=-1).clone()  # [S, n]
    n0 = total_norm(weights)
    loss0 = square_loss_sum(forward(weights, x, settings.activation, settings.slope)[0], y)
    rec: dict[str, list[torch.Tensor]] = {"ratio": [], "cos": [], "svals": [], "erank": []}

    def on_record(step: int, t: torch.Tensor, w: list[torch.Tensor]) -> None:
        rows = w[0].transpose(1, 2)  # [S, n, d]
        rec["ratio"].append((rows.norm(dim=-1) / w0).float().cpu())
        rec["cos"].append(
            torch.stack([nearest_cosine(rows[i], kkt[i].directions) for i in range(len(seeds))])
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
        svals=torch.stack(rec["svals"]).numpy(),
        erank=torch.stack(rec["erank"]).numpy(),
        n_kkt=np.array([k.directions.shape[0] for k in kkt]),
        n_star=np.array([k.max_value for k in kkt]),
        kkt_residual=np.array([k.residual for k in kkt]),
    )


# ---- the time scale of the small-norm phase ---------------------------------------------
@dataclasses.dataclass
class PhaseLengths:
    """Phase lengths over ``δ`` for one depth (means over seeds, per ``δ``).

    Attributes:
        depth, activation, degree, deltas: the runs.
        t_double, t_escape: ``[D, S]`` flow times (norm doubled; loss down 1 %).
        n_star: ``[S]`` largest ``N`` on the unit sphere (δ-independent).
        slope, intercept: the fit — degree 2: ``t_escape ≈ slope·ln(1/δ) + intercept``;
            degree ``K > 2``: ``log t_double ≈ slope·log(1/δ) + intercept``.
        theory_slope: degree 2: ``1/(2 N*)`` (mean over seeds); ``K > 2``: ``K − 2``.
    """

    depth: int
    activation: str
    degree: int
    deltas: np.ndarray
    t_double: np.ndarray
    t_escape: np.ndarray
    n_star: np.ndarray
    slope: float
    intercept: float
    theory_slope: float

    def fitted(self) -> np.ndarray:
        """``[D]`` the phase length the fit gives at every ``δ``."""
        u = np.log(1 / self.deltas)
        if self.degree == 2:
            return self.slope * u + self.intercept
        return np.exp(self.slope * u + self.intercept)

    def measured(self) -> np.ndarray:
        """``[D]`` the fitted quantity (mean over seeds): ``t_escape`` (K = 2) or ``t_double``."""
        return (self.t_escape if self.degree == 2 else self.t_double).mean(1)

    def monotone(self) -> bool:
        """Does the phase lengthen at every step to a smaller ``δ`` (mean over seeds)? ``δ`` whose
        phase never ended in the measured sense (``nan``: e.g. the loss fell before the norm
        doubled, so the initialisation was not small) are left out."""
        vals = self.measured()[np.argsort(-self.deltas)]
        vals = vals[np.isfinite(vals)]
        return bool(len(vals) >= 2 and np.all(np.diff(vals) > 0))

    def slope_error(self, use: np.ndarray | None = None) -> Stat:
        """``|slope / theory − 1|`` of the fit on the ``δ`` in ``use`` (default: every ``δ``),
        with a 90 % interval from a bootstrap over seeds: each resample of the seeds is
        averaged per ``δ`` and fitted again (claims E9.time-L2 and E9.time-L3)."""
        use = np.ones(len(self.deltas), dtype=bool) if use is None else np.asarray(use)

        def stat(cols: list[int]) -> float:
            slope, _, theory = fit_slope(
                self.deltas,
                self.t_double[:, cols],
                self.t_escape[:, cols],
                self.n_star[cols],
                self.degree,
                use,
            )
            return abs(slope / theory - 1)

        slope, _, theory = fit_slope(
            self.deltas, self.t_double, self.t_escape, self.n_star, self.degree, use
        )
        what = "t_escape vs ln(1/δ)" if self.degree == 2 else "ln t_double vs ln(1/δ)"
        detail = (
            f"depth {self.depth} (degree {self.degree}), δ ∈ "
            f"{{{', '.join(f'{d:g}' for d in self.deltas[use])}}}: slope of {what} "
            f"{slope:.4g}, theory {theory:.4g}"
        )
        return bootstrap(list(range(self.t_double.shape[1])), stat, detail=detail)

    def describe(self) -> str:
        what = "t_escape (loss down 1 %)" if self.degree == 2 else "t_double (‖θ‖ = 2‖θ(0)‖)"
        rows = ", ".join(
            f"δ={d:g}: {v:.3g}" for d, v in zip(self.deltas, self.measured(), strict=True)
        )
        law = "slope of t vs ln(1/δ)" if self.degree == 2 else "log–log slope of t vs 1/δ"
        return (
            f"depth {self.depth} {self.activation} (degree {self.degree}): {what}: {rows}\n"
            f"  {law}: fitted {self.slope:.3g}, theory {self.theory_slope:.3g}; "
            f"lengthens monotonically: {self.monotone()}"
        )


def _short(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in np.asarray(values, dtype=float)) + "]"


def fit_slope(
    deltas: np.ndarray,
    t_double: np.ndarray,
    t_escape: np.ndarray,
    n_star: np.ndarray,
    degree: int,
    use: np.ndarray,
) -> tuple[float, float, float]:
    """``(slope, intercept, theory)`` of the time-scale law on the means over seeds (columns).

    Degree 2: ``t_escape`` against ``ln(1/δ)``, theory ``mean(1/(2 N*))``. Degree ``K > 2``:
    ``ln t_double`` against ``ln(1/δ)``, theory ``K − 2``. Only ``δ`` in ``use`` enter; nan
    when fewer than two of them have a finite mean.
    """
    u = np.log(1 / deltas[use])
    if degree == 2:
        t, theory = t_escape[use].mean(1), float(np.mean(1 / (2 * n_star)))
    else:
        t, theory = np.log(t_double[use].mean(1)), float(degree - 2)
    ok = np.isfinite(t)
    if ok.sum() < 2:
        return math.nan, math.nan, theory
    slope, intercept = np.polyfit(u[ok], t[ok], 1)
    return float(slope), float(intercept), theory


def fit_phase_lengths(runs: Sequence[DirectionalResult], fit_below: float = 1.0) -> PhaseLengths:
    """:class:`PhaseLengths` of runs that differ only in ``δ`` (fit on ``δ <= fit_below``)."""
    s = runs[0].settings
    dl = np.asarray([r.settings.delta for r in runs], dtype=float)
    t2 = np.stack([r.t_double() for r in runs])
    te = np.stack([r.t_escape() for r in runs])
    slope, intercept, theory = fit_slope(dl, t2, te, runs[0].n_star, s.degree, dl <= fit_below)
    return PhaseLengths(
        s.depth, s.activation, s.degree, dl, t2, te, runs[0].n_star, slope, intercept, theory
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
        summary="small initialisation: homogeneous nets converge in direction (to a KKT point of the "
        "neural correlation function) before they grow",
        settings_cls=DirectionalSettings,
        presets=PRESETS,
        default_seeds=SEEDS,
        compute=compute,
        estimate=costs.directional,
    )
)
