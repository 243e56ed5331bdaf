"""E0 — the gradient relation (experiment "gradient-relation"): its pre-registered claims.

Sources cite the papers: LM = arXiv:1905.13405 (Tian et al., 2019), SS = arXiv:1909.13458
(Tian, ICML 2020), OC = arXiv:1909.13458v1, DC = arXiv:2403.08121 (Kumar & Haupt, 2024). A
threshold or prediction changes here only, with the reason in the commit message, and then
``tools/register_claims.py`` records the commit (``registered.json``).
"""

from __future__ import annotations

from .core import Claim, _register

# E0 trains nothing: most of its claims are identities (numerical checks in float64, or
# properties of the matrix-gradient approximation and of thresholded layers that hold for any
# network, random ones included: kind="identity"). The two evidence claims have a null variant
# that could pass them (the result's control "null": the random student's β*; a random
# Gaussian network's overlap). Thresholds: 1e-10 for
# identities (float64 rounding is ~1e-15; 1e-10 leaves room for sums of thousands of terms
# and still catches any real discrepancy); the others from the chapter's own words, set before
# the held-out seeds (development seeds 0–7 in the comments of each note).
_register(
    Claim(
        id="E0.relation-exact",
        experiment="gradient-relation",
        kind="identity",
        source="LM (arXiv:1905.13405), §3, Lemma 1 (recursive gradient rule)",
        statement="Per sample, the gradient a hidden student layer receives is D_l (A_l f*_l − "
        "B_l f_l): teacher activations minus student activations with back-propagated "
        "coefficients; assembled over a batch it is the exact gradient.",
        statistic="worst relative Frobenius error ‖Δ_relation − Δ_autograd‖/‖Δ_autograd‖ over "
        "seeds, layers and both students (random, aligned), float64, 128 samples (book)",
        threshold=1e-10,
        direction="<",
        control="the same relation with the gates dropped (D_l = I)",
        note="An identity: the paper gives no number. Development seeds: 1.2e-15.",
    ),
    Claim(
        id="E0.matrix-batch1",
        experiment="gradient-relation",
        kind="identity",
        source="LM (arXiv:1905.13405), §3 (the batch-averaged 'matrix gradient' of the released "
        "code)",
        statement="On a batch of one sample the matrix gradient is the exact gradient (every "
        "batch mean is that sample).",
        statistic="worst relative error of the matrix gradient vs autograd at batch size 1 over "
        "seeds, layers, repeats and both students",
        threshold=1e-10,
        direction="<",
        control="",
        note="An identity. Development seeds: 9.0e-15.",
    ),
    Claim(
        id="E0.matrix-output",
        experiment="gradient-relation",
        kind="identity",
        source="LM (arXiv:1905.13405), §3 (matrix gradient with H_L = I)",
        statement="In the output layer (no gates) the matrix gradient is exact at every batch "
        "size.",
        statistic="worst relative error of the output layer's matrix gradient vs autograd over "
        "seeds, batch sizes (1–1024), repeats and both students",
        threshold=1e-10,
        direction="<",
        control="",
        note="An identity. Development seeds: 4.0e-15.",
    ),
    Claim(
        id="E0.matrix-drift",
        experiment="gradient-relation",
        kind="identity",
        source="LM (arXiv:1905.13405), §3; the released code's matrix_gradient (our measurement)",
        statement="In hidden layers the batch-averaged matrix gradient is only an approximation: "
        "averaging inputs and gates separately decouples the gates from the inputs that switch "
        "them, and its distance to the exact batch gradient is of order one.",
        statistic="seed mean of ‖Δ_matrix − Δ_exact‖/‖Δ_exact‖ at the largest batch size "
        "(book: 1024), averaged over the hidden layers, the repeats and both students",
        threshold=0.1,
        direction=">",
        control="the same statistic on batches of one sample (where the approximation is exact)",
        note="An identity in the sense of the book: a property of the approximation, true for "
        "the random student as for the aligned one (no training is involved), and its control "
        "is 0 by construction. 'Order one' in the chapter; 0.1 is a tenth of that. Development "
        "seeds: 0.68–0.85.",
    ),
    Claim(
        id="E0.matrix-no-shrink",
        experiment="gradient-relation",
        kind="identity",
        source="LM (arXiv:1905.13405), §3; our measurement of the matrix gradient",
        statement="The matrix gradient's error is a population error: more data per batch does "
        "not remove it.",
        statistic="seed mean of the hidden-layer distance (as E0.matrix-drift) at the largest "
        "batch over that at the smallest batch above one (book: 1024 over 4)",
        threshold=0.5,
        direction=">",
        control="",
        note="A sampling error would shrink like 1/√B: a ratio 1/16 at book scale. 0.5 is "
        "between; development seeds: 0.81–0.94. An identity in the sense of the book (a "
        "property of the approximation, for any network); no control.",
    ),
    Claim(
        id="E0.beta-concentration",
        experiment="gradient-relation",
        source="LM (arXiv:1905.13405), §4 (aligned students: β* close to diagonal under small "
        "overlap)",
        statement="For a student aligned with the teacher the gated cross coefficients β*_l are "
        "concentrated: each student node is driven by one teacher node.",
        statistic="seed mean over the hidden layers of the concentration of β* (mean over "
        "student rows of the largest squared cosine-normalised entry over the row's squared "
        "sum: 1 = one partner, 1/m_l = all alike) for the aligned student (teacher copy × "
        "multi + 0.05·N(0,1) noise), teacher bias 0",
        threshold=0.6,
        direction=">",
        controls=("null",),
        control="the random student (PyTorch's default init)",
        note="0.6: between the random student (development: 0.33–0.36) and the aligned one "
        "(0.79–0.87); the paper states no number.",
    ),
    Claim(
        id="E0.overlap-first",
        experiment="gradient-relation",
        kind="identity",
        source="LM (arXiv:1905.13405), §4 (assumption: teacher activation regions overlap "
        "little; evidence: negative BatchNorm biases)",
        statement="A negative bias makes the teacher's activation regions overlap little: in "
        "the first hidden layer the overlap at the most negative bias is less than half that "
        "at bias 0.",
        statistic="seed mean of ov(bias_min)/ov(0) in the first hidden layer, ov = mean over "
        "node pairs of P(both on)/min(P(i on), P(j on)), biases in BatchNorm units (book: "
        "bias_min = −1.5)",
        threshold=0.5,
        direction="<",
        controls=(),
        control="",
        note="An identity: a property of any thresholded layer, not of the teacher's codes or "
        "of training: a random network of the same widths (the null of E0.overlap-deep) "
        "passes it too (development seeds 0-7: 0.17, per seed 0.14-0.19), so it has no control: "
        "the chapter shows that number beside it. Development seeds (teacher): 0.17.",
    ),
    Claim(
        id="E0.overlap-deep",
        experiment="gradient-relation",
        source="LM (arXiv:1905.13405), §4 (the same assumption, at every layer)",
        statement="The same at the deepest hidden layer: a negative bias makes its activation "
        "regions overlap little.",
        statistic="as E0.overlap-first, in the deepest hidden layer (book: layer 2)",
        threshold=0.5,
        direction="<",
        controls=("null",),
        control="a random network of the same widths (i.i.d. N(0, 1) weights, biases set the "
        "same way)",
        note="Registered because LM's analysis assumes it at every layer; the chapter saw the "
        "deep overlap bottom out on development seeds (ratio 0.50–0.69): expected not to hold. "
        "Null (a random network of the same widths), development seeds 0-7: 0.55 (per seed "
        "0.52-0.58).",
    ),
)
