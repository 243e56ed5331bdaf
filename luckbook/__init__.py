"""luckbook: executable companion to *Luck Matters* (Tian et al., 2019) and its follow-ups.

Flat public API: ``import luckbook as lb``; ``lb.run("two-layer", seeds=8, p=1)``.
"""

from ._version import __version__
from .bn_stats import BNLayerStats, bn_bias_stats, fraction_negative
from .cache import CacheWarning, cached
from .claims import (
    CLAIMS,
    HELD_OUT_START,
    Claim,
    ClaimReport,
    Stat,
    bootstrap,
    get_claim,
    glue,
    held_out_seeds,
)
from .config import DEFAULT_TAUS, SCALES, default_scale, provenance, resolve_device, resolve_dtype
from .data import FixedSet, FreshGaussian, boundary_augmented, gaussian, unit_sphere
from .digits import ImageData, load_cifar10, load_digits
from .ensemble import Forward, Net, with_ones
from .evaluate import Probe
from .experiments import (
    REGISTRY,
    Estimate,
    Experiment,
    TwoLayerResult,
    TwoLayerSettings,
    claims,
    get_experiment,
    resolve_seeds,
    run,
)
from .metrics import (
    activation_correlation,
    best_per_student,
    best_per_teacher,
    cosine,
    covered,
    effective_rank,
    fanout_norms,
    observability,
    square_loss,
)
from .reproducibility import claims_overview, reproducibility_report
from .student import make_student, student_widths
from .sweep import SweepResult, sweep
from .teacher import apply_strength_decay, calibrate, make_teacher, separated_codes
from .train import DivergenceError, Trajectory, project_columns, sgd_step, snapshot_steps, train

__all__ = [
    "CLAIMS",
    "HELD_OUT_START",
    "Claim",
    "ClaimReport",
    "Stat",
    "bootstrap",
    "claims",
    "claims_overview",
    "reproducibility_report",
    "get_claim",
    "glue",
    "held_out_seeds",
    "DEFAULT_TAUS",
    "REGISTRY",
    "SCALES",
    "CacheWarning",
    "DivergenceError",
    "Estimate",
    "Experiment",
    "FixedSet",
    "Forward",
    "FreshGaussian",
    "Net",
    "Probe",
    "Trajectory",
    "TwoLayerResult",
    "TwoLayerSettings",
    "__version__",
    "activation_correlation",
    "apply_strength_decay",
    "best_per_student",
    "best_per_teacher",
    "boundary_augmented",
    "cached",
    "calibrate",
    "cosine",
    "covered",
    "default_scale",
    "effective_rank",
    "fanout_norms",
    "gaussian",
    "get_experiment",
    "make_student",
    "make_teacher",
    "observability",
    "project_columns",
    "provenance",
    "resolve_device",
    "resolve_dtype",
    "resolve_seeds",
    "run",
    "separated_codes",
    "sgd_step",
    "snapshot_steps",
    "square_loss",
    "student_widths",
    "sweep",
    "SweepResult",
    "train",
    "unit_sphere",
    "with_ones",
    "BNLayerStats",
    "ImageData",
    "bn_bias_stats",
    "fraction_negative",
    "load_cifar10",
    "load_digits",
]

_LAZY = {
    # figures, static panels and live widgets import matplotlib / ipywidgets: loaded on use
    "bn_bias_plots": ("luckbook.plots.bn_bias", None),
    "real_teacher_plots": ("luckbook.plots.real_teacher", None),
    "static_explorer": ("luckbook.static", "static_explorer"),
    "static_panel": ("luckbook.static", "static_panel"),
    "time_scrubber": ("luckbook.static", "time_scrubber"),
    "explorer": ("luckbook.widgets", "explorer"),
}


def __getattr__(name: str):
    """Lazy attributes: ``lb.bn_bias_plots``, ``lb.real_teacher_plots``, ``lb.static_explorer``,
    ``lb.static_panel``, ``lb.time_scrubber``, ``lb.explorer``."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'luckbook' has no attribute {name!r}")
