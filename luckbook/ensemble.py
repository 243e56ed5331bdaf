"""A deep (Leaky) ReLU network whose every weight carries a leading *seed axis*.

Homogeneous coordinates (LM, SS): a constant 1 is appended to the input and to every hidden
layer, so layer ``l`` is one matrix ``W[l]`` of shape ``[S, in + 1, out]`` whose last row is
the bias. ``S`` independent networks (one per seed) are evaluated with one batched matmul.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from .config import check_choice, check_float, check_int

ACTIVATIONS = ("relu", "leaky_relu")


def with_ones(x: torch.Tensor) -> torch.Tensor:
    """``x [..., N, k] -> [..., N, k + 1]``: append the constant-1 coordinate."""
    return torch.cat([x, x.new_ones(*x.shape[:-1], 1)], dim=-1)


def activate(z: torch.Tensor, activation: str, slope: float) -> torch.Tensor:
    """ReLU, or Leaky ReLU with negative ``slope``, elementwise."""
    if activation == "relu":
        return z.clamp_min(0)
    return torch.where(z > 0, z, z * slope)


def gate(z: torch.Tensor, activation: str, slope: float) -> torch.Tensor:
    """Derivative of the activation at ``z`` (the on/off *gate* of LM, slope for Leaky ReLU)."""
    if activation == "relu":
        return (z > 0).to(z.dtype)
    return torch.where(z > 0, torch.ones_like(z), torch.full_like(z, slope))


@dataclasses.dataclass(frozen=True)
class Forward:
    """All activations of one forward pass (shapes for ``L`` layers, batch ``[S, N]``).

    Attributes:
        inputs: per layer, that layer's input with the constant 1, ``[S, N, in_l + 1]``.
        pre: per hidden layer, pre-activations ``[S, N, n_l]``.
        hidden: per hidden layer, post-activations ``[S, N, n_l]``.
        out: network output ``[S, N, c]`` (linear top layer).
    """

    inputs: list[torch.Tensor]
    pre: list[torch.Tensor]
    hidden: list[torch.Tensor]
    out: torch.Tensor


@dataclasses.dataclass
class Net:
    """An ensemble of ``S`` deep networks in homogeneous coordinates.

    Attributes:
        weights: ``W[l]`` of shape ``[S, in_l + 1, out_l]``; last row = bias.
        activation: ``"relu"`` or ``"leaky_relu"`` on every hidden layer; the top layer is linear.
        slope: negative slope of the Leaky ReLU (ignored for ReLU).
    """

    weights: list[torch.Tensor]
    activation: str = "relu"
    slope: float = 0.01

    def __post_init__(self) -> None:
        check_choice("activation", self.activation, ACTIVATIONS)
        check_float("slope", self.slope, low=0.0, high=1.0, high_open=True)
        if not self.weights:
            raise ValueError("weights=[] is not allowed: a network needs depth >= 1")
        s = self.weights[0].shape[0]
        for l, w in enumerate(self.weights):
            if w.ndim != 3 or w.shape[0] != s:
                raise ValueError(
                    f"weights[{l}] has shape {tuple(w.shape)}; expected [S={s}, in+1, out]"
                )
            if l and w.shape[1] != self.weights[l - 1].shape[2] + 1:
                raise ValueError(
                    f"weights[{l}] has {w.shape[1]} input rows; expected "
                    f"{self.weights[l - 1].shape[2] + 1} (previous width + 1 for the bias)"
                )

    @property
    def n_seeds(self) -> int:
        return self.weights[0].shape[0]

    @property
    def depth(self) -> int:
        """Number of weight layers (a two-layer network has depth 2)."""
        return len(self.weights)

    @property
    def widths(self) -> list[int]:
        """``[d, n_1, …, n_{L-1}, c]``."""
        return [self.weights[0].shape[1] - 1] + [w.shape[2] for w in self.weights]

    @property
    def dtype(self) -> torch.dtype:
        return self.weights[0].dtype

    @property
    def device(self) -> torch.device:
        return self.weights[0].device

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Net:
        return dataclasses.replace(
            self, weights=[w.to(device=device, dtype=dtype) for w in self.weights]
        )

    def clone(self) -> Net:
        return dataclasses.replace(self, weights=[w.clone() for w in self.weights])

    @staticmethod
    def stack(nets: Sequence[Net]) -> Net:
        """Stack ensembles along the seed axis: member ``i`` of ``nets[k]`` comes after every
        member of ``nets[:k]``. Widths, activation, slope and dtype must agree."""
        if not nets:
            raise ValueError("nets=[] is not allowed: expected at least one network")
        first = nets[0]
        for k, net in enumerate(nets[1:], start=1):
            for name in ("widths", "activation", "slope", "dtype"):
                mine, theirs = getattr(first, name), getattr(net, name)
                if theirs != mine:
                    raise ValueError(
                        f"nets[{k}] has {name}={theirs!r} but nets[0] has {name}={mine!r}: "
                        "Net.stack needs equal widths, activation, slope and dtype"
                    )
        weights = [torch.cat([net.weights[l] for net in nets]) for l in range(first.depth)]
        return dataclasses.replace(first, weights=weights)

    def select(self, seeds: Sequence[int] | slice) -> Net:
        """The sub-ensemble at seed positions ``seeds``."""
        return dataclasses.replace(self, weights=[w[seeds] for w in self.weights])

    def prune(self, layer: int, keep: torch.Tensor | np.ndarray) -> Net:
        """A copy with hidden nodes of ``layer`` removed where ``keep [S, n_layer]`` (a tensor or
        a NumPy array) is False.

        A removed node's ingoing column and fan-out row are set to zero, so it no longer
        affects the output (LM's lottery-ticket argument).
        """
        if not 0 <= layer < self.depth - 1:
            raise ValueError(
                f"layer={layer!r} is not allowed: hidden layers are 0..{self.depth - 2}"
            )
        n = self.weights[layer].shape[2]
        if tuple(keep.shape) != (self.n_seeds, n):
            raise ValueError(
                f"keep has shape {tuple(keep.shape)}; expected [S={self.n_seeds}, n={n}]"
            )
        net = self.clone()
        mask = torch.as_tensor(keep).to(device=self.device, dtype=self.dtype)
        net.weights[layer] *= mask[:, None, :]
        net.weights[layer + 1][:, :n, :] *= mask[:, :, None]
        return net

    def forward(self, x: torch.Tensor) -> Forward:
        """Run every network on ``x`` of shape ``[S, N, d]`` or shared ``[N, d]``."""
        if x.ndim == 2:
            x = x.unsqueeze(0).expand(self.n_seeds, -1, -1)
        d = self.widths[0]
        if x.shape[-1] == d:
            x = with_ones(x)
        elif x.shape[-1] != d + 1:
            raise ValueError(f"x has {x.shape[-1]} features; the network expects d={d}")
        inputs, pre, hidden = [x], [], []
        a = x
        for w in self.weights[:-1]:
            z = torch.bmm(a, w)
            h = activate(z, self.activation, self.slope)
            pre.append(z)
            hidden.append(h)
            a = with_ones(h)
            inputs.append(a)
        out = torch.bmm(a, self.weights[-1])
        return Forward(inputs=inputs, pre=pre, hidden=hidden, out=out)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x).out


def check_widths(widths: Sequence[int]) -> list[int]:
    """Validate ``[d, n_1, …, c]``: at least 2 entries (depth ≥ 1), every width ≥ 1."""
    widths = list(widths)
    if len(widths) < 2:
        raise ValueError(f"widths={widths!r} is not allowed: need [d, ..., c] with depth >= 1")
    for i, w in enumerate(widths):
        check_int(f"widths[{i}]", w, minimum=1)
    return widths
