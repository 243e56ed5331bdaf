"""The pre-registration: every claim the book checks, one module per experiment, and the
report a result's ``claims()`` returns (the machinery is in :mod:`luckbook.claims.core`).

A reader of an experiment finds its claims in ``luckbook/claims/<experiment>.py``, beside
``luckbook/experiments/<experiment>.py``; :data:`CLAIMS` lists them all in the book's order.
"""

from __future__ import annotations

from . import (  # noqa: F401  the registry, in the book's order (each module registers)
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
from .core import (
    _REGISTRY,
)
from .core import (
    ASSERTED_SCALES as ASSERTED_SCALES,
)
from .core import (
    BADGE_COLOURS as BADGE_COLOURS,
)
from .core import (
    HELD_OUT_START as HELD_OUT_START,
)
from .core import (
    KINDS as KINDS,
)
from .core import (
    LEVEL as LEVEL,
)
from .core import (
    N_BOOT as N_BOOT,
)
from .core import (
    PREDICTIONS as PREDICTIONS,
)
from .core import (
    VERDICTS as VERDICTS,
)
from .core import (
    Claim as Claim,
)
from .core import (
    ClaimReport as ClaimReport,
)
from .core import (
    ClaimRow as ClaimRow,
)
from .core import (
    ControlStat as ControlStat,
)
from .core import (
    Stat as Stat,
)
from .core import (
    _fmt as _fmt,
)
from .core import (
    badge as badge,
)
from .core import (
    bootstrap as bootstrap,
)
from .core import (
    fmt_interval as fmt_interval,
)
from .core import (
    glue as glue,
)
from .core import (
    held_out_seeds as held_out_seeds,
)
from .core import (
    pooled_median as pooled_median,
)
from .core import (
    registrations as registrations,
)
from .core import (
    seed_mean as seed_mean,
)
from .core import (
    seed_median as seed_median,
)
from .deep_teacher import E3_CROSSING_LEVEL as E3_CROSSING_LEVEL
from .sample_complexity import E5_CLAIM_N as E5_CLAIM_N
from .sample_complexity import E5_GRIDS as E5_GRIDS
from .sample_complexity import E5_TAU as E5_TAU

CLAIMS: dict[str, Claim] = {c.id: c for c in _REGISTRY}
"""Every pre-registered claim, by id, in the book's order."""


def get_claim(claim_id: str) -> Claim:
    """The registered claim ``claim_id``; ``ValueError`` listing the known ones otherwise."""
    if claim_id not in CLAIMS:
        raise ValueError(f"claim={claim_id!r} is not allowed: expected one of {', '.join(CLAIMS)}")
    return CLAIMS[claim_id]


def claims_of(experiment: str) -> list[Claim]:
    """Every registered claim that ``experiment`` computes, in registry order."""
    return [c for c in CLAIMS.values() if c.experiment == experiment]
