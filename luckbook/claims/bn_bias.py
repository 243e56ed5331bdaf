"""E7 — BatchNorm biases mostly negative (experiment "bn-bias"): its pre-registered claims.

Sources cite the papers: LM = arXiv:1905.13405 (Tian et al., 2019), SS = arXiv:1909.13458
(Tian, ICML 2020), OC = arXiv:1909.13458v1, DC = arXiv:2403.08121 (Kumar & Haupt, 2024). A
threshold or prediction changes here only, with the reason in the commit message, and then
``tools/register_claims.py`` records the commit (``registered.json``).
"""

from __future__ import annotations

from .core import Claim, _register

_E7_SOURCE = (
    "LM (arXiv:1905.13405), the BatchNorm-bias check behind its small-overlap assumption "
    "(percentage of negative biases per BatchNorm layer of pretrained vgg11/13/16/19_bn)"
)
_E7_CONTROL = "the same networks at step 0 (every BatchNorm bias 0)"
_E7_NOTE = (
    "Pretrained ImageNet weights cannot be downloaded here: the networks are trained on "
    "scikit-learn's digits (SGD, momentum 0.9, weight decay 5e-4, as for the ImageNet VGGs); "
    "the paper's own figure is the reference. In VGG-bn every BatchNorm layer is followed by "
    "a ReLU; our analogue pools the BatchNorm layers followed by a ReLU (all of them in both "
    "networks). Threshold 0.5: the paper's 'most'."
)
_register(
    Claim(
        id="E7.cnn-negative",
        experiment="bn-bias",
        source=_E7_SOURCE,
        statement="After training, most BatchNorm biases of a VGG-style network are negative.",
        statistic=(
            "fraction of BatchNorm biases < 0 in the VGG-style CNN (conv-BN-ReLU blocks), "
            "pooled over its BN layers followed by a ReLU (channel-weighted), after training; "
            "mean over seeds"
        ),
        threshold=0.5,
        direction=">",
        control=_E7_CONTROL,
        note=_E7_NOTE,
    ),
    Claim(
        id="E7.mlp-negative",
        experiment="bn-bias",
        source=_E7_SOURCE,
        statement="The same for a multilayer perceptron with BatchNorm (an architecture the "
        "paper did not check).",
        statistic=(
            "fraction of BatchNorm biases < 0 in the BatchNorm MLP (linear-BN-ReLU layers), "
            "pooled over its BN layers followed by a ReLU, after training; mean over seeds"
        ),
        threshold=0.5,
        direction=">",
        control=_E7_CONTROL,
        note=_E7_NOTE + " Development seeds 0-2 gave 0.31 (the second layer's biases are "
        "mostly positive): registered anyway, as the paper's claim is about BatchNorm layers "
        "in general.",
    ),
    Claim(
        id="E7.cnn-overlap",
        experiment="bn-bias",
        source="LM (arXiv:1905.13405), the lemma's assumption that activation regions overlap "
        "little, and its link to negative BatchNorm biases",
        statement="Training (which makes most biases negative) shrinks the overlap of the "
        "units' activation regions below that of the zero-bias start.",
        statistic=(
            "change from step 0 to the end of training of the mean pairwise co-activation "
            "(fraction of test inputs and positions where two units of a layer are both "
            "active), averaged over the CNN's ReLU-followed BN layers; mean over seeds"
        ),
        threshold=0.0,
        direction="<",
        control=_E7_CONTROL + " (its change is 0)",
        note="BatchNorm statistics for both measurements are the whole training split's. "
        "Development seeds 0-2: -0.004, a small effect (the first layer's overlap grows, the "
        "last layer's shrinks); threshold 0: the claim is only the direction.",
    ),
    Claim(
        id="E7.mlp-overlap",
        experiment="bn-bias",
        source="LM (arXiv:1905.13405), the lemma's assumption that activation regions overlap "
        "little, and its link to negative BatchNorm biases",
        statement="The same for the BatchNorm MLP.",
        statistic=(
            "change from step 0 to the end of training of the mean pairwise co-activation, "
            "averaged over the MLP's ReLU-followed BN layers; mean over seeds"
        ),
        threshold=0.0,
        direction="<",
        control=_E7_CONTROL + " (its change is 0)",
        note="As E7.cnn-overlap. Development seeds 0-2: -0.019.",
    ),
)
