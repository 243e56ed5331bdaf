"""E6 — multilayer specialization (experiment "deep-specialization"): its pre-registered claims.

Sources cite the papers: LM = arXiv:1905.13405 (Tian et al., 2019), SS = arXiv:1909.13458
(Tian, ICML 2020), OC = arXiv:1909.13458v1, DC = arXiv:2403.08121 (Kumar & Haupt, 2024). A
threshold or prediction changes here only, with the reason in the commit message, and then
``tools/register_claims.py`` records the commit (``registered.json``).
"""

from __future__ import annotations

from .core import Claim, _register

_E6_SOURCE = (
    "SS (arXiv:1909.13458, ICML 2020): the deep-network specialization theorem (a student node "
    "of the lowest layer either specializes to a teacher node or has beta_kk = 0 on the data) "
    "and the multilayer experiment's figure (per student node, best correlation vs "
    "sqrt(E[beta_kk]) per layer: an L in every layer, sharpest at the bottom)"
)
_register(
    Claim(
        id="E6.lshape-bottom",
        experiment="deep-specialization",
        source=_E6_SOURCE,
        statement=(
            "In the lowest hidden layer, student nodes that do not specialize carry little "
            "effective fan-out: the per-layer scatter of best correlation against "
            "sqrt(E[beta_kk]) is an L."
        ),
        statistic=(
            "r_0 = median sqrt(E_x[beta_kk]) of the lowest layer's student nodes with best "
            "correlation < 0.6 divided by the median over those with best correlation > 0.95, "
            "at the end of training, every seed's nodes pooled (dead nodes included); interval: "
            "bootstrap over seeds, both medians recomputed over the resampled seeds' nodes"
        ),
        threshold=0.25,
        direction="<",
        note=(
            "The paper shows the L in a figure without a number; the quantitative criterion "
            "r_0 < 1/4 (the two-layer chapter's, medians of the groups < 0.6 and > 0.95) was the "
            "chapter's before any held-out seed was run and is kept unchanged. book scale: an "
            "eighth of the released steps on teacher widths 10-15-20-25 (released 50-75-100-125); "
            "on development seeds 0-7 r_0 ended at about 1/4. Frozen control: at step 0 no "
            "student node has best correlation > 0.95, so r_0 is undefined (fails)."
        ),
    ),
    Claim(
        id="E6.sharpest-at-bottom",
        experiment="deep-specialization",
        source=_E6_SOURCE + "; the theorem's 'specialization proceeds from the lowest layer up'",
        statement="The L is sharpest in the lowest layer: r_0 is below every upper layer's r_l.",
        statistic=(
            "r_0 - min over upper hidden layers l >= 1 of r_l (r_l as r_0, for layer l; layers "
            "with an undefined r_l left out), at the end of training, seeds pooled; interval: "
            "bootstrap over seeds"
        ),
        threshold=0.0,
        direction="<",
        note=(
            "Threshold 0: the paper's statement is an ordering, not a size. Frozen control: "
            "undefined at step 0 (no node > 0.95), so it fails."
        ),
    ),
)
