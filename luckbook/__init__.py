"""luckbook: executable companion to *Luck Matters* (Tian et al., 2019) and its follow-ups.

Flat public API: ``import luckbook as lb``; ``lb.run("two-layer", seeds=8, p=1)``.
"""

__version__ = "0.1.0"

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
]
