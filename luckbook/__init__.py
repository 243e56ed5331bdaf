"""luckbook: executable companion to *Luck Matters* (Tian et al., 2019) and its follow-ups.

The flat public API: notebooks ``import luckbook as lb`` and use nothing deeper::

    result = lb.run("two-layer", scale="book", seeds=8, p=1.0)   # cached, batched over seeds
    lb.correlation_heatmap(result)                                # a figure
    result.claims()                                               # the pre-registered claims
    lb.static_explorer("two-layer")                               # a chapter's slider panel

Figures and panels import matplotlib / ipywidgets; they load on first use (``_LAZY``).
Layout (one name per experiment ``X``): ``experiments/X.py`` settings, presets, compute;
``results/X.py`` its result and analysis; ``plots/X.py`` its figures; ``panels/X.py`` its
sliders; ``notebooks/X.ipynb`` its chapter; ``tests/test_X.py`` its tests (README: Layout).
"""

from ._version import __version__

# ------------------------------------------------------------------ engine and data
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
from .costs import Estimate
from .course import course_plan, course_table
from .data import FixedSet, FreshGaussian, boundary_augmented, gaussian, unit_sphere
from .digits import ImageData, load_cifar10, load_digits
from .dynamics import (
    arrival_times,
    fanout_decay,
    gap_halving_times,
    log_gap_rates,
    rank_correlation,
)
from .ensemble import Forward, Net, with_ones
from .evaluate import Probe

# ------------------------------------------------------------------ experiments and results
from .experiments import REGISTRY, Experiment, claims, get_experiment, resolve_seeds, run
from .glance import results_at_a_glance
from .metrics import (
    activation_correlation,
    best_per_student,
    best_per_teacher,
    cosine,
    covered,
    effective_rank,
    fanout_norms,
    l_shape_medians,
    l_shape_ratio,
    observability,
    square_loss,
)
from .reproducibility import claims_overview, reproducibility_report
from .result import Result
from .student import make_student, student_widths
from .sweep import SweepResult, sweep
from .teacher import (
    apply_strength_decay,
    calibrate,
    make_teacher,
    normalize_columns,
    separated_codes,
)
from .train import (
    DivergenceError,
    Trajectory,
    project_columns,
    sgd_step,
    snapshot_steps,
    stack_records,
    train,
)

_LAZY: dict[str, str] = {
    # name -> the module that defines it, imported on first use (figures and panels import
    # matplotlib and ipywidgets). One section per experiment: its settings and result
    # classes, then the figures its chapter calls.
    # ---- panels (luckbook/panels): one call per slider panel
    "static_panel": "luckbook.static",
    "static_explorer": "luckbook.static",
    "time_scrubber": "luckbook.static",
    "explorer": "luckbook.widgets",
    "live_panel": "luckbook.live",
    "live_run": "luckbook.live",
    "LiveRun": "luckbook.live",
    # ---- E0 gradient-relation
    "GradientRelationSettings": "luckbook.experiments.gradient_relation",
    "GradientRelationResult": "luckbook.results.gradient_relation",
    "relation_vs_autograd": "luckbook.plots.gradient_relation",
    "matrix_gradient_drift": "luckbook.plots.gradient_relation",
    "beta_matrices": "luckbook.plots.gradient_relation",
    "teacher_overlap": "luckbook.plots.gradient_relation",
    "gradient_relation_panel": "luckbook.plots.gradient_relation",
    # ---- (end E0)
    # ---- E1 fanout
    "FanoutSettings": "luckbook.experiments.fanout",
    "fanout_start_ratio": "luckbook.experiments.fanout",
    "FanoutResult": "luckbook.results.fanout",
    "fanout_traces": "luckbook.plots.fanout",
    "fanout_strip": "luckbook.plots.fanout",
    "fanout_frame": "luckbook.plots.fanout",
    "fanout_panel": "luckbook.plots.fanout",
    "dynamics_comparison": "luckbook.plots.fanout",
    "lottery_figure": "luckbook.plots.fanout",
    "fanout_controls": "luckbook.plots.fanout",
    # ---- (end E1)
    # ---- E2 lucky
    "LuckySettings": "luckbook.experiments.lucky",
    "LuckyResult": "luckbook.results.lucky",
    "RankTest": "luckbook.experiments.lucky",
    "spearman": "luckbook.experiments.lucky",
    "rank_corr": "luckbook.experiments.lucky",
    "first_reach": "luckbook.experiments.lucky",
    "luck_scatter": "luckbook.plots.lucky",
    "luck_curves": "luckbook.plots.lucky",
    "luck_overview": "luckbook.plots.lucky",
    "luck_frame": "luckbook.plots.lucky",
    "luck_rates": "luckbook.plots.lucky",
    "luck_gaps": "luckbook.plots.lucky",
    # ---- (end E2)
    # ---- E3 deep-teacher
    "DeepTeacherSettings": "luckbook.experiments.deep_teacher",
    "DeepTeacherResult": "luckbook.results.deep_teacher",
    "deep_overview": "luckbook.plots.deep_teacher",
    "deep_frame": "luckbook.plots.deep_teacher",
    # ---- (end E3)
    # ---- E4 two-layer, two-layer-sweep; E5 sample-complexity
    "TwoLayerSettings": "luckbook.experiments.two_layer",
    "TwoLayerResult": "luckbook.results.two_layer",
    "correlation_heatmap": "luckbook.plots.two_layer",
    "fanout_vs_correlation": "luckbook.plots.two_layer",
    "training_curves": "luckbook.plots.two_layer",
    "setting_overview": "luckbook.plots.two_layer",
    "teacher_recovery": "luckbook.plots.two_layer",
    "specialization_frame": "luckbook.plots.two_layer",
    "setting_panel": "luckbook.plots.two_layer",
    "TwoLayerSweepSettings": "luckbook.experiments.two_layer_sweep",
    "TwoLayerSweepResult": "luckbook.results.two_layer_sweep",
    "l_shape_grid": "luckbook.plots.two_layer_sweep",
    "sweep_success_rate": "luckbook.plots.two_layer_sweep",
    "sweep_loss_curves": "luckbook.plots.two_layer_sweep",
    "arrival_order": "luckbook.plots.two_layer_sweep",
    "fanout_trajectories": "luckbook.plots.two_layer_sweep",
    "sweep_cell_explorer": "luckbook.panels.two_layer_sweep",
    "sweep_init_scale_explorer": "luckbook.panels.two_layer_sweep",
    "SampleComplexitySettings": "luckbook.experiments.sample_complexity",
    "SampleComplexityResult": "luckbook.results.sample_complexity",
    "sample_complexity_figure": "luckbook.plots.sample_complexity",
    "sample_complexity_per_teacher": "luckbook.plots.sample_complexity",
    "augmentation_picture": "luckbook.plots.sample_complexity",
    "sample_complexity_explorer": "luckbook.panels.sample_complexity",
    # ---- (end E4, E5)
    # ---- E6 deep-specialization
    "DeepSpecializationSettings": "luckbook.experiments.deep_specialization",
    "DeepSpecializationResult": "luckbook.results.deep_specialization",
    "l_shape_panels": "luckbook.plots.deep_specialization",
    "l_shape_frame": "luckbook.plots.deep_specialization",
    "specialization_curves": "luckbook.plots.deep_specialization",
    "fanout_decay_panel": "luckbook.plots.deep_specialization",
    "deep_specialization_grid_numbers": "luckbook.panels.deep_specialization",
    "beta_diagonal": "luckbook.gradients",
    # ---- (end E6)
    # ---- E7 bn-bias; E8 real-teacher
    "bn_bias_table": "luckbook.bn_stats",
    "toy_vgg": "luckbook.bn_stats",
    "cifar10_folder": "luckbook.digits",
    "BNBiasSettings": "luckbook.experiments.bn_bias",
    "BNBiasResult": "luckbook.results.bn_bias",
    "negative_fraction_curves": "luckbook.plots.bn_bias",
    "bias_histograms": "luckbook.plots.bn_bias",
    "overlap_vs_bias": "luckbook.plots.bn_bias",
    "RealTeacherSettings": "luckbook.experiments.real_teacher",
    "RealTeacherResult": "luckbook.results.real_teacher",
    "real_teacher_cifar10": "luckbook.experiments.real_teacher",
    "real_teacher_coverage": "luckbook.plots.real_teacher",
    "real_teacher_coverage_curves": "luckbook.plots.real_teacher",
    "real_teacher_l_shape": "luckbook.plots.real_teacher",
    "real_teacher_cell": "luckbook.plots.real_teacher",
    "real_teacher_cells": "luckbook.panels.real_teacher",
    # ---- (end E7, E8)
    # ---- E9 directional
    "DirectionalSettings": "luckbook.experiments.directional",
    "DirectionalResult": "luckbook.results.directional",
    "PhaseLengths": "luckbook.results.directional",
    "phase_lengths": "luckbook.experiments.directional",
    "directional_overview": "luckbook.plots.directional",
    "directional_frame": "luckbook.plots.directional",
    "directional_panel": "luckbook.plots.directional",
    "phase_length_figure": "luckbook.plots.directional",
    # ---- (end E9)
}

__all__ = [  # noqa: PLE0604 - the lazy names are listed in _LAZY
    "__version__",
    "BNLayerStats",
    "bn_bias_stats",
    "fraction_negative",
    "CacheWarning",
    "cached",
    "CLAIMS",
    "course_plan",
    "course_table",
    "arrival_times",
    "fanout_decay",
    "gap_halving_times",
    "log_gap_rates",
    "rank_correlation",
    "HELD_OUT_START",
    "Claim",
    "ClaimReport",
    "Stat",
    "bootstrap",
    "get_claim",
    "glue",
    "held_out_seeds",
    "DEFAULT_TAUS",
    "SCALES",
    "default_scale",
    "provenance",
    "resolve_device",
    "resolve_dtype",
    "Estimate",
    "FixedSet",
    "FreshGaussian",
    "boundary_augmented",
    "gaussian",
    "unit_sphere",
    "ImageData",
    "load_cifar10",
    "load_digits",
    "Forward",
    "Net",
    "with_ones",
    "Probe",
    "REGISTRY",
    "Experiment",
    "claims",
    "get_experiment",
    "resolve_seeds",
    "run",
    "activation_correlation",
    "best_per_student",
    "best_per_teacher",
    "cosine",
    "covered",
    "effective_rank",
    "fanout_norms",
    "l_shape_medians",
    "l_shape_ratio",
    "observability",
    "square_loss",
    "claims_overview",
    "results_at_a_glance",
    "reproducibility_report",
    "Result",
    "make_student",
    "student_widths",
    "SweepResult",
    "sweep",
    "apply_strength_decay",
    "calibrate",
    "make_teacher",
    "normalize_columns",
    "separated_codes",
    "DivergenceError",
    "Trajectory",
    "project_columns",
    "sgd_step",
    "snapshot_steps",
    "stack_records",
    "train",
    *_LAZY,
]


def __getattr__(name: str):
    """The lazy names of ``_LAZY`` (figures and panels), imported on first use."""
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'luckbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
