"""One module per experiment (E0–E9); importing this package registers them all."""

from . import two_layer
from .base import REGISTRY, Experiment, get_experiment, resolve_seeds, run
from .two_layer import TwoLayerResult, TwoLayerSettings

__all__ = [
    "REGISTRY",
    "Experiment",
    "TwoLayerResult",
    "TwoLayerSettings",
    "get_experiment",
    "resolve_seeds",
    "run",
    "two_layer",
]
