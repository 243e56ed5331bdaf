"""One module per experiment (E0–E9), listed here; importing this package registers them all.

Adding an experiment is adding its module (which calls :func:`~luckbook.experiments.base.register`)
and its name to the import below.
"""

from . import (  # noqa: F401  (imported to register; the order is luckbook list's)
    bn_bias,
    deep_specialization,
    deep_teacher,
    directional,
    fanout,
    gradient_relation,
    lucky,
    real_teacher,
    sample_complexity,
    two_layer,
    two_layer_sweep,
)
from .base import REGISTRY, Estimate, Experiment, claims, get_experiment, resolve_seeds, run
from .two_layer import TwoLayerResult, TwoLayerSettings

__all__ = [
    "REGISTRY",
    "Estimate",
    "Experiment",
    "claims",
    "TwoLayerResult",
    "TwoLayerSettings",
    "get_experiment",
    "resolve_seeds",
    "run",
]
