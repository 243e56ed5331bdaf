"""Teachers with *separated* weights (LM §5, SS §6): distinct, non-zero codes per node.

Each teacher node's incoming weight vector is a code whose entries are drawn from a small
value set, every code distinct and non-zero, so no two teacher nodes share an activation
boundary. Optional strength decay ``p`` (SS): the fan-out (outgoing) weights of teacher node
``i`` (0-based) are divided by ``(i + 1) ** p``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .config import check_choice, check_float, resolve_device, resolve_dtype
from .ensemble import Net, activate, check_widths, with_ones
from .rng import generator

DEFAULT_CHOICES = (-0.5, -0.25, 0.0, 0.25, 0.5)
"""Value set of the released E1/E3 teachers (5 values in [-0.5, 0.5])."""

NINE_CHOICES = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)
"""Value set of the released two-layer sweep (SS/OC, E4) and multilayer (E6) teachers."""

NORMALIZE = ("none", "weights", "all")


def separated_codes(
    n_in: int, n_out: int, choices: Sequence[float], gen: torch.Generator
) -> torch.Tensor:
    """``n_out`` distinct non-zero codes of length ``n_in`` with entries from ``choices``.

    Returns ``[n_in, n_out]`` in float64; column ``j`` is node ``j``'s incoming weights.
    """
    values = torch.tensor(sorted(set(float(c) for c in choices)), dtype=torch.float64)
    n_values = len(values)
    available = n_values**n_in - (1 if bool((values == 0).any()) else 0)
    if n_values < 2 and bool((values == 0).all()):
        raise ValueError(f"choices={tuple(choices)!r} is not allowed: need a non-zero value")
    if available < n_out:
        raise ValueError(
            f"choices={tuple(choices)!r} is not allowed: only {available} distinct non-zero "
            "codes of "
            f"length {n_in} exist, but {n_out} teacher nodes need one each"
        )
    codes: list[torch.Tensor] = []
    seen: set[tuple[float, ...]] = set()
    while len(codes) < n_out:
        code = values[torch.randint(n_values, (n_in,), generator=gen)]
        key = tuple(code.tolist())
        if key in seen or not bool(code.any()):
            continue
        seen.add(key)
        codes.append(code)
    return torch.stack(codes, dim=1)


def _bias_row(n_out: int, bias: float | tuple[float, float], gen: torch.Generator) -> torch.Tensor:
    if isinstance(bias, tuple):
        low, high = bias
        return low + (high - low) * torch.rand(n_out, generator=gen, dtype=torch.float64)
    return torch.full((n_out,), float(bias), dtype=torch.float64)


def normalize_columns(
    w: torch.Tensor, rows: slice = slice(None), scale: str = "rows"
) -> torch.Tensor:
    """Unit-normalise every node (column) of ``w [..., in + 1, out]`` by the norm of its
    entries in ``rows`` (default: all, bias row included).

    ``scale="rows"`` divides only those entries (the others are kept); ``scale="all"`` divides
    the whole column, e.g. ``rows=slice(0, -1), scale="all"`` makes the incoming weights unit
    vectors and scales the bias by the same factor (the released deep teacher's
    ``Model.normalize``). Norms are clamped at ``1e-12``.
    """
    if scale not in ("rows", "all"):
        raise ValueError(f"scale={scale!r} is not allowed: expected 'rows' or 'all'")
    norms = w[..., rows, :].norm(dim=-2, keepdim=True).clamp_min(1e-12)
    if scale == "all":
        return w / norms
    out = w.clone()
    out[..., rows, :] = w[..., rows, :] / norms
    return out


def teacher_layer(
    n_in: int,
    n_out: int,
    gen: torch.Generator,
    *,
    choices: Sequence[float] = DEFAULT_CHOICES,
    bias: float | tuple[float, float] = 0.0,
    normalize: str = "weights",
) -> torch.Tensor:
    """One teacher layer ``[n_in + 1, n_out]`` (float64) of separated codes plus a bias row.

    ``normalize``: ``"weights"`` scales each column's weights (bias excluded) to unit norm and
    then sets the bias (SS two-layer); ``"all"`` scales weights and bias together to unit
    norm (LM E1/E3); ``"none"`` keeps the raw codes.
    """
    check_choice("normalize", normalize, NORMALIZE)
    w = torch.cat([separated_codes(n_in, n_out, choices, gen), _bias_row(n_out, bias, gen)[None]])
    if normalize == "weights":
        w = normalize_columns(w, slice(0, n_in))
    elif normalize == "all":
        w = normalize_columns(w)
    return w


def apply_strength_decay(w_next: torch.Tensor, p: float) -> torch.Tensor:
    """Divide the fan-out row of node ``i`` (rows of the next layer, bias excluded) by
    ``(i+1)**p``."""
    n = w_next.shape[-2] - 1
    scale = torch.arange(1, n + 1, dtype=w_next.dtype, device=w_next.device) ** (-p)
    out = w_next.clone()
    out[..., :n, :] = out[..., :n, :] * scale[:, None]
    return out


def make_teacher(
    widths: Sequence[int],
    seeds: Sequence[int],
    *,
    choices: Sequence[float] = DEFAULT_CHOICES,
    bias: float | tuple[float, float] = 0.0,
    normalize: str = "weights",
    output_bias: float | tuple[float, float] | None = 0.0,
    normalize_output: bool = False,
    p: float = 0.0,
    activation: str = "relu",
    slope: float = 0.01,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device | None = None,
    stream: str = "teacher",
) -> Net:
    """A separated teacher per seed (LM, SS): an ensemble ``Net`` with ``S = len(seeds)``.

    Args:
        widths: ``[d, m_1, …, m_{L-1}, c]``.
        seeds: one teacher per seed, drawn from that seed's ``"teacher"`` stream.
        choices: value set of the codes.
        bias: hidden-layer bias, a constant or a ``(low, high)`` uniform range.
        normalize: hidden layers, see :func:`teacher_layer`.
        output_bias: top-layer bias (``None``: same as ``bias``).
        normalize_output: normalise the top layer's columns like the hidden ones.
        p: strength decay (SS): fan-out of node ``i`` divided by ``(i + 1) ** p``, every
            hidden layer.
        activation, slope: ReLU or Leaky ReLU.
        dtype, device: of the returned weights (drawn in float64 on the CPU).
        stream: the random stream of each seed the teacher is drawn from (another name gives an
            independent teacher of the same kind, e.g. a ``different-teacher`` control).
    """
    widths = check_widths(widths)
    p = check_float("p", p, low=0.0)
    torch_dtype = resolve_dtype(dtype)
    dev = resolve_device(device)
    if not len(seeds):
        raise ValueError("seeds=[] is not allowed: need at least one seed")
    per_seed = []
    for seed in seeds:
        gen = generator(seed, stream)
        layers = []
        for l in range(len(widths) - 1):
            top = l == len(widths) - 2
            layers.append(
                teacher_layer(
                    widths[l],
                    widths[l + 1],
                    gen,
                    choices=choices,
                    bias=(bias if output_bias is None else output_bias) if top else bias,
                    normalize=(normalize if normalize_output else "none") if top else normalize,
                )
            )
        if p:
            layers = [layers[0]] + [apply_strength_decay(w, p) for w in layers[1:]]
        per_seed.append(layers)
    weights = [
        torch.stack([layers[l] for layers in per_seed]).to(device=dev, dtype=torch_dtype)
        for l in range(len(widths) - 1)
    ]
    return Net(weights, activation=activation, slope=slope)


def calibrate(teacher: Net, x: torch.Tensor, target_active: float = 0.5) -> Net:
    """Shift every hidden bias so each teacher node is active on ``target_active`` of ``x`` (E6).

    Layers are calibrated bottom-up, each on the already-calibrated activations below it.
    ``x``: ``[S, N, d]`` or shared ``[N, d]``.
    """
    check_float("target_active", target_active, low=0.0, high=1.0, low_open=True, high_open=True)
    net = teacher.clone()
    a = x if x.ndim == 3 else x.unsqueeze(0).expand(net.n_seeds, -1, -1)
    a = with_ones(a.to(net.dtype))
    for w in net.weights[:-1]:
        z = torch.bmm(a, w)
        w[:, -1, :] -= torch.quantile(z, 1.0 - target_active, dim=1)  # [S, n_l]
        a = with_ones(activate(torch.bmm(a, w), net.activation, net.slope))
    return net
