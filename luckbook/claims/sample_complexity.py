"""E5 — sample complexity with augmentation (experiment "sample-complexity"): its claims.

Sources cite the papers: LM = arXiv:1905.13405 (Tian et al., 2019), SS = arXiv:1909.13458
(Tian, ICML 2020), OC = arXiv:1909.13458v1, DC = arXiv:2403.08121 (Kumar & Haupt, 2024). A
threshold or prediction changes here only, with the reason in the commit message, and then
``tools/register_claims.py`` records the commit (``registered.json``).
"""

from __future__ import annotations

from .core import Claim, _register

E5_GRIDS: dict[str, tuple[int, ...]] = {
    # SS supplementary Fig. 9 (arXiv:1909.13458): the released sweep's 20 sizes.
    "paper": (30, 45, 60, 75, 90, 105, 120, 135, 150, 165, 180, 195)
    + (210, 270, 330, 390, 510, 630, 810, 1110),
    # Book (m = 10, p = 0, alpha ~ U[1, 2], 10 000 steps). The grid was first chosen on
    # development seeds 0-5 with an older teacher AFTER seeing its outcome; it is kept, and
    # the claims now cover all of it: the gain at its smallest N and its sign over the whole
    # grid. Development seeds 0-5 (released teacher, 10 000 steps; the book ran 20 000
    # before): teacher nodes covered at 0.95 of 10, Gaussian vs augmented: N = 200: 0.0 vs
    # 4.7; N = 400: 8.0 vs 4.0; N = 800: 10 vs 9.7; N = 3 000: 10 vs 10.
    "book": (200, 400, 800, 3_000),
    "tiny": (50, 100, 400),
}
"""The training-set sizes ``N`` of each scale of ``sample-complexity`` (its presets use them)."""

E5_CLAIM_N: dict[str, int] = {scale: min(grid) for scale, grid in E5_GRIDS.items()}
"""The ``N`` at which E5.aug-gain and E5.aug-coverage are evaluated: the smallest of each
scale's grid (E5.gain-reverses covers the whole grid)."""

E5_TAU = 0.95
"""Correlation above which a teacher node counts as covered (SS's strictest threshold)."""

_E5_SOURCE = (
    "SS (arXiv:1909.13458), the two-layer polynomial sample-complexity theorem (training data "
    "near every "
    "teacher boundary, on both sides) and supplementary Fig. 9 (augmented vs Gaussian training "
    "sets, N from 30 to 1110)"
)
_E5_WHERE = (
    "at the smallest N of the scale's grid (E5_GRIDS: paper N = {paper}, book N = {book}, tiny "
    "N = {tiny}), fraction of the m teacher nodes covered at tau = 0.95 (some student node with "
    "correlation > 0.95 on the Gaussian eval set) after the last SGD step"
).format(**E5_CLAIM_N)
_E5_CONTROL = (
    "frozen: the students at step 0; different-teacher: the same students trained on the "
    "training sets of an independent teacher (Gaussian, and augmented around its boundaries), "
    "scored against the original teacher"
)
_register(
    Claim(
        id="E5.aug-gain",
        experiment="sample-complexity",
        source=_E5_SOURCE,
        statement=(
            "At small N, a training set with points on and on both sides of every teacher "
            "boundary (the released augmentation) specializes more teacher nodes than a "
            "Gaussian training set of the same size."
        ),
        statistic=(
            _E5_WHERE + "; mean over seeds of (augmented - Gaussian), paired by seed (same "
            "teacher, initial student and minibatch positions); interval by bootstrap over seeds"
        ),
        threshold=0.1,
        direction=">",
        controls=("frozen", "different-teacher"),
        control=_E5_CONTROL,
        note=(
            "Strict margin 0.1 = one teacher node in ten (book, m = 10), half a node at m = 5: "
            "a tie (0 vs 0, as for a frozen student) fails. SS gives no number for this gap; "
            "development seeds 0-5 (book, 10 000 steps) gave 0.47 [per seed 0.3-0.6], the "
            "different-teacher control 0.00 (no node of the original teacher covered at any "
            "N). The claim is about the smallest N only; "
            "E5.gain-reverses covers the grid. Deviations: our augmented set keeps N of the "
            "3m*ceil(N/(3m)) points (the released code keeps all; equal when 3m divides N, as "
            "on the Fig. 9 grid); the book's 10 000 steps are fewer than Fig. 9's 100 000 (the "
            "gains at 10 000 and 20 000 steps differ by at most 0.05 per N on development "
            "seeds); the paper-scale verdict needs a GPU run."
        ),
    ),
    Claim(
        id="E5.aug-coverage",
        experiment="sample-complexity",
        source=_E5_SOURCE,
        statement=(
            "With the augmented training set the student specializes a substantial share of "
            "the teacher nodes at that small N (the gain is not a win of 1 over 0)."
        ),
        statistic=_E5_WHERE + "; mean over seeds of the augmented runs' fraction",
        threshold=0.2,
        direction=">",
        controls=("frozen", "different-teacher"),
        control=_E5_CONTROL,
        note=(
            "Minimum coverage 0.2: two teacher nodes of ten (book), more than one of five on "
            "average (paper, tiny), so that the gain is not made of near-empty coverage. "
            "Development seeds 0-5 (book, 10 000 steps) gave 0.47; the different-teacher "
            "control 0.00."
        ),
    ),
    Claim(
        id="E5.gain-reverses",
        experiment="sample-complexity",
        source=_E5_SOURCE,
        statement=(
            "The augmentation's advantage does not hold across sizes: at some N of the grid "
            "the Gaussian training set specializes more teacher nodes than the augmented one "
            "(by more than one teacher node in ten), although SS's Fig. 9 shows the augmented "
            "curve above the Gaussian one."
        ),
        statistic=(
            "minimum over the N of the scale's whole grid (E5_GRIDS) of the seed mean of "
            "(augmented - Gaussian) fraction of teacher nodes covered at tau = 0.95 after the "
            "last step, paired by seed; the bootstrap resamples seeds (the same resample for "
            "every N) and takes the minimum again"
        ),
        threshold=-0.1,
        direction="<",
        controls=("frozen", "different-teacher"),
        control=_E5_CONTROL,
        note=(
            "-0.1: one teacher node in ten (book), the margin of E5.aug-gain mirrored; a tie "
            "at every N (the frozen student: 0) fails. Development seeds 0-5 (book, 10 000 "
            "steps): per-N gains +0.47, -0.40, -0.03, 0.00 for N = 200, 400, 800, 3 000: "
            "minimum -0.40 at N = 400; the different-teacher control 0.00 (a tie at every N). "
            "Registered "
            "with the grid fixed, so the sign change is not a size picked after the fact."
        ),
    ),
)
