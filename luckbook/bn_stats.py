"""E7's measurement: the signs of BatchNorm biases, for any model (LM, arXiv:1905.13405).

LM backs its assumption that activation regions overlap little with the observation that
most BatchNorm biases of pretrained VGG networks are negative. A BatchNorm layer followed by
a ReLU computes ``relu(γ · x̂ + β)`` with ``x̂`` the normalised input, so a unit fires when
``sign(γ) · x̂ > −β/|γ|``: a negative bias ``β`` puts the threshold above the mean, and the unit
is active on fewer than half of the inputs (for a symmetric ``x̂``). :func:`bn_bias_stats`
reports, per BatchNorm layer, the number of channels, the fraction of negative biases, the
mean and spread of ``β`` and of ``β/|γ|``.

It takes any ``torch.nn.Module`` (BatchNorm1d/2d/3d layers, or any module with the
``running_mean``/``running_var``/``weight``/``bias`` of one), optionally with a state dict
from disk (``state_dict="vgg16_bn.pth"``: a file the user already has — nothing is ever
downloaded), or a state dict alone (a path or a mapping), whose BatchNorm layers are found by
their ``running_mean``/``running_var`` entries. torchvision is not needed: with it installed,
``bn_bias_stats(torchvision.models.vgg16_bn(), state_dict=path)`` gives the paper's check.
:func:`bn_bias_table` prints the statistics; :func:`toy_vgg` builds a small model to try it on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

RELU_TYPES = (torch.nn.ReLU, torch.nn.ReLU6, torch.nn.LeakyReLU)


@dataclasses.dataclass(frozen=True)
class BNLayerStats:
    """The bias statistics of one BatchNorm layer.

    Attributes:
        name: the layer's name in the model (or state-dict prefix).
        channels: number of channels (biases).
        frac_negative: fraction of biases ``β < 0``.
        bias_mean, bias_std: mean and standard deviation of ``β``.
        threshold_mean, threshold_std: mean and standard deviation of ``β/|γ|`` (the firing
            threshold in units of the normalised input, sign flipped: negative = fires on
            less than half of a symmetric input).
        followed_by_relu: whether the next leaf module in registration order is a ReLU
            (``None`` when unknown, e.g. for a bare state dict). A heuristic: it is right for
            ``Sequential`` stacks such as torchvision's VGG and for ResNet blocks' ``bn1``.
    """

    name: str
    channels: int
    frac_negative: float
    bias_mean: float
    bias_std: float
    threshold_mean: float
    threshold_std: float
    followed_by_relu: bool | None


def _is_bn(module: torch.nn.Module) -> bool:
    if isinstance(module, torch.nn.modules.batchnorm._NormBase):
        return getattr(module, "bias", None) is not None and module.track_running_stats
    return False


def _layer(name: str, weight: torch.Tensor, bias: torch.Tensor, relu: bool | None) -> BNLayerStats:
    w = weight.detach().to("cpu", torch.float64).ravel()
    b = bias.detach().to("cpu", torch.float64).ravel()
    thr = b / w.abs().clamp_min(1e-12)
    n = b.numel()
    sd = (lambda t: float(t.std(unbiased=False))) if n else (lambda t: math.nan)
    return BNLayerStats(
        name=name,
        channels=n,
        frac_negative=float((b < 0).double().mean()) if n else math.nan,
        bias_mean=float(b.mean()) if n else math.nan,
        bias_std=sd(b),
        threshold_mean=float(thr.mean()) if n else math.nan,
        threshold_std=sd(thr),
        followed_by_relu=relu,
    )


def _load_state_dict(path: str | Path) -> Mapping[str, torch.Tensor]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"state_dict={str(path)!r} is not allowed: no such file")
    # weights_only: tensors and containers only, never arbitrary objects
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, Mapping) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ValueError(f"state_dict={str(path)!r} is not allowed: the file holds no state dict")
    return state


def _from_state_dict(state: Mapping[str, Any]) -> list[BNLayerStats]:
    out = []
    for key in state:
        if not key.endswith(".running_var"):
            continue
        prefix = key[: -len(".running_var")]
        w, b = state.get(f"{prefix}.weight"), state.get(f"{prefix}.bias")
        if f"{prefix}.running_mean" in state and w is not None and b is not None:
            out.append(_layer(prefix.removeprefix("module."), w, b, None))
    return out


def bn_bias_stats(
    model: torch.nn.Module | str | Path | Mapping[str, Any],
    state_dict: str | Path | Mapping[str, Any] | None = None,
) -> list[BNLayerStats]:
    """Per BatchNorm layer (in the model's order), the statistics of its biases.

    Args:
        model: a ``torch.nn.Module``; or a state dict (a mapping, or the path of a file saved
            with ``torch.save``), whose BatchNorm layers are the prefixes with ``weight``,
            ``bias``, ``running_mean`` and ``running_var`` entries.
        state_dict: optional weights for ``model`` (a mapping or a path), loaded with
            ``load_state_dict`` (strict) before measuring; a ``"module."`` prefix (from
            ``DataParallel``) is removed. The model is not modified: a copy is loaded.

    Returns:
        one :class:`BNLayerStats` per BatchNorm layer (an empty list if there is none).
    """
    if isinstance(model, (str, Path)):
        return _from_state_dict(_load_state_dict(model))
    if isinstance(model, Mapping):
        return _from_state_dict(model)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(
            f"model={type(model).__name__} is not allowed: expected a torch.nn.Module, a state "
            "dict or the path of one"
        )
    if state_dict is not None:
        state = _load_state_dict(state_dict) if isinstance(state_dict, (str, Path)) else state_dict
        state = {k.removeprefix("module."): v for k, v in state.items()}
        import copy

        model = copy.deepcopy(model)
        model.load_state_dict(state)
    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    out = []
    for i, (name, module) in enumerate(leaves):
        if _is_bn(module):
            nxt = leaves[i + 1][1] if i + 1 < len(leaves) else None
            relu = isinstance(nxt, RELU_TYPES)
            out.append(_layer(name, module.weight, module.bias, relu))
    return out


def fraction_negative(stats: list[BNLayerStats], relu_only: bool = True) -> float:
    """Fraction of negative biases pooled over the layers (channel-weighted); with
    ``relu_only``, over the layers followed by a ReLU (all layers if that is unknown)."""
    use = [s for s in stats if s.followed_by_relu or not relu_only]
    if relu_only and not use and all(s.followed_by_relu is None for s in stats):
        use = stats
    total = sum(s.channels for s in use)
    if not total:
        return math.nan
    return sum(s.frac_negative * s.channels for s in use) / total


def bn_bias_table(stats: list[BNLayerStats]) -> str:
    """The per-layer statistics as a text table (the released check's printout, extended)."""
    head = (
        f"{'layer':<28} {'ch':>5} {'β<0':>6} {'mean β':>8} {'sd β':>7} {'mean β/|γ|':>11} "
        f"{'relu':>5}"
    )
    lines = [head, "-" * len(head)]
    for s in stats:
        relu = "?" if s.followed_by_relu is None else ("yes" if s.followed_by_relu else "no")
        lines.append(
            f"{s.name:<28} {s.channels:>5} {100 * s.frac_negative:>5.1f}% {s.bias_mean:>8.3f} "
            f"{s.bias_std:>7.3f} {s.threshold_mean:>11.3f} {relu:>5}"
        )
    lines.append(f"pooled over ReLU layers: {100 * fraction_negative(stats):.1f}% negative")
    return "\n".join(lines)


def toy_vgg(seed: int = 0) -> torch.nn.Sequential:
    """A small VGG-shaped stack to try :func:`bn_bias_stats` on: ``conv3×3 → BatchNorm → ReLU →
    max-pool → conv3×3 → BatchNorm → ReLU`` (3 → 8 → 16 channels), initialised from torch's
    generator seeded with ``seed`` (the global generator is left as it was), whose BatchNorm
    biases are then drawn from ``N(−0.1, 0.2²)``, as if training had moved them."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1),
            torch.nn.BatchNorm2d(8),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1),
            torch.nn.BatchNorm2d(16),
            torch.nn.ReLU(),
        )
        with torch.no_grad():
            for bn in (net[1], net[5]):
                bn.bias.normal_(-0.1, 0.2)
    return net
