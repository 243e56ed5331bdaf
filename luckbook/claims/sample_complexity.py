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
    # Book (m = 10, p = 0, alpha ~ U[1, 2], 20 000 steps). Chosen on development seeds 0-5
    # with an older teacher (5 codes, no output bias) AFTER seeing its outcome: every
    # N >= 800 covered all 10 teacher nodes with both kinds (a tie) and N = 400 reversed the
    # order. Fixed here since and not re-chosen. Re-measured on seeds 0-5 with the released
    # teacher (9 codes, output bias -0.1) and the released homogeneous projection: teacher
    # nodes covered at 0.95, Gaussian vs augmented, N = 200: 0.0 vs 5.2 of 10; N = 400:
    # 8.2 vs 4.5 (reversed again); N = 800 and 3 000: 10 vs 10.
    "book": (200, 400, 800, 3_000),
    "tiny": (50, 100, 400),
}
"""The training-set sizes ``N`` of each scale of ``sample-complexity`` (its presets use them)."""

E5_CLAIM_N: dict[str, int] = {"paper": 105, "book": 200, "tiny": 50}
"""The registered small ``N`` at which the E5 claims are evaluated, per scale: book and tiny
the smallest size of their grid; paper N = 105 (the first Fig. 9 size above d = 100) chosen
before any paper-scale run, from the development runs where the gap appeared (N = d to 2d)."""

E5_TAU = 0.95
"""Correlation above which a teacher node counts as covered (SS's strictest threshold)."""

_E5_SOURCE = (
    "SS (arXiv:1909.13458), the two-layer polynomial sample-complexity theorem (training data "
    "near every "
    "teacher boundary, on both sides) and supplementary Fig. 9 (augmented vs Gaussian training "
    "sets, N from 30 to 1110)"
)
_E5_WHERE = (
    "at the registered N of the scale (E5_CLAIM_N: paper N = {paper}, book N = {book}, tiny "
    "N = {tiny}), fraction of the m teacher nodes covered at tau = 0.95 (some student node with "
    "correlation > 0.95 on the Gaussian eval set) after the last SGD step"
).format(**E5_CLAIM_N)
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
        note=(
            "Strict margin 0.1 = one teacher node in ten (book, m = 10), half a node at m = 5: "
            "a tie (0 vs 0, as for a frozen student) fails. SS gives no number for this gap; "
            "development seeds 0-5 (book) gave 0.52, seeds 0-3 (tiny) 0.40. The claim is "
            "about small N only: at book N = 400 development seeds showed the reverse and at "
            "N >= 800 a tie (see E5_GRIDS); the chapter shows every N. Deviations: our "
            "augmented set keeps N of the 3m*ceil(N/(3m)) points (the released code keeps "
            "all; equal when 3m divides N, as on the Fig. 9 grid); the book's 20 000 steps "
            "are fewer than Fig. 9's 100 000; the paper-scale verdict needs a GPU run (about "
            "9 h on the 2-core CPU per --estimate)."
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
        note=(
            "Minimum coverage 0.2: two teacher nodes of ten (book), more than one of five on "
            "average (paper, tiny), so that the gain is not made of near-empty coverage. "
            "Development seeds 0-5 (book) gave 0.52, seeds 0-3 (tiny) 0.40."
        ),
    ),
)
