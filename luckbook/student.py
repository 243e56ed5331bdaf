"""Over-realized students (LM, SS): ``multi`` times as wide as the teacher at every hidden layer."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .config import check_choice, check_float, check_int
from .ensemble import Net
from .rng import generator

INITS = ("gaussian", "torch_default", "teacher_noise")


def student_widths(teacher_widths: Sequence[int], multi: int) -> list[int]:
    """``[d, m_1, …, c] -> [d, multi·m_1, …, multi·m_{L-1}, c]``."""
    multi = check_int("multi", multi, minimum=1)
    w = list(teacher_widths)
    return [w[0]] + [multi * m for m in w[1:-1]] + [w[-1]]


def make_student(
    teacher: Net,
    multi: int,
    seeds: Sequence[int],
    *,
    init: str = "gaussian",
    init_scale: float = 0.005,
    normalize_columns: bool = False,
) -> Net:
    """An over-realized student per seed, on the teacher's device and dtype.

    Args:
        teacher: the ensemble of teachers (only its widths, activation and, for
            ``"teacher_noise"``, its weights are used).
        multi: width multiplier ``n_l = multi · m_l`` (integer ≥ 1).
        seeds: one student per seed, from that seed's ``"student"`` stream; ``len(seeds)``
            must equal ``teacher.n_seeds``.
        init: ``"gaussian"``: every weight ``N(0, init_scale²)``, biases 0 (SS/E4);
            ``"torch_default"``: PyTorch's ``nn.Linear`` default ``U(±1/√fan_in)`` times
            ``init_scale`` (LM/E3 with ``init_scale=1``); ``"teacher_noise"``: hidden node ``j <
            m_l`` starts at teacher node ``j`` plus ``init_scale·N(0, 1)`` noise, the others at pure
            noise (LM/E1, E2); the top layer is pure noise.
        init_scale: the scale above; must be > 0.
        normalize_columns: scale every hidden column (bias included) to unit norm (LM/E1).
    """
    check_int("multi", multi, minimum=1)
    check_choice("init", init, INITS)
    init_scale = check_float("init_scale", init_scale, low=0.0, low_open=True)
    if len(seeds) != teacher.n_seeds:
        raise ValueError(
            f"seeds has {len(seeds)} entries; the teacher ensemble has {teacher.n_seeds} seeds"
        )
    widths = student_widths(teacher.widths, multi)
    teacher_w = [w.detach().to("cpu", torch.float64) for w in teacher.weights]
    per_seed = []
    for s, seed in enumerate(seeds):
        gen = generator(seed, "student")
        layers = []
        for l in range(len(widths) - 1):
            n_in, n_out = widths[l], widths[l + 1]
            if init == "torch_default":
                bound = init_scale / math.sqrt(n_in)
                w = (
                    2 * torch.rand(n_in + 1, n_out, generator=gen, dtype=torch.float64) - 1
                ) * bound
            else:
                w = init_scale * torch.randn(n_in + 1, n_out, generator=gen, dtype=torch.float64)
                if init == "gaussian":
                    w[-1] = 0.0
            hidden = l < len(widths) - 2
            if init == "teacher_noise" and hidden:
                t = teacher_w[l][s]  # [m_in + 1, m_out]
                m_in, m_out = t.shape[0] - 1, t.shape[1]
                w[:m_in, :m_out] += t[:-1]
                w[-1, :m_out] += t[-1]
            if normalize_columns and hidden:
                w = w / w.norm(dim=0, keepdim=True).clamp_min(1e-12)
            layers.append(w)
        per_seed.append(layers)
    weights = [
        torch.stack([layers[l] for layers in per_seed]).to(teacher.device, teacher.dtype)
        for l in range(len(widths) - 1)
    ]
    return Net(weights, activation=teacher.activation, slope=teacher.slope)
