"""One module per experiment (E0–E9); importing this package registers them all.

Every module in this package except ``base`` is imported here, so adding an experiment is
adding a file that calls :func:`~luckbook.experiments.base.register`.
"""

import importlib
import pkgutil

from .base import REGISTRY, Estimate, Experiment, claims, get_experiment, resolve_seeds, run
from .two_layer import TwoLayerResult, TwoLayerSettings

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

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
