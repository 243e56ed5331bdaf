"""E3 — a deep teacher, lowest layer first (experiment "deep-teacher"): its pre-registered claims.

Sources cite the papers: LM = arXiv:1905.13405 (Tian et al., 2019), SS = arXiv:1909.13458
(Tian, ICML 2020), OC = arXiv:1909.13458v1, DC = arXiv:2403.08121 (Kumar & Haupt, 2024). A
threshold or prediction changes here only, with the reason in the commit message, and then
``tools/register_claims.py`` records the commit (``registered.json``).
"""

from __future__ import annotations

from .core import Claim, _register

E3_CROSSING_LEVEL = 0.75
"""E3's crossing level: the "first" claim compares the epochs at which layers 0 and 1 first
reach this mean best correlation. Chosen on development seeds 0-7 at book scale, before the
held-out seeds were run: the highest of 0.75/0.8/0.85/0.9 that every one of the four hidden
layers reached in every seed within the 10 epochs (at 0.8 layer 2 of seed 6 never did: 0.79)."""

_E3_SOURCE = "LM arXiv:1905.13405, Sec. 5 (deep teacher experiment) and the released README"
_E3_BOOK = (
    "Book scale trains 10 of the released 40 epochs (evaluated every half epoch), 4 seeds; "
    "means over live teacher nodes (dead ones, never active on the eval set, are left out; "
    "the detail line gives the released convention that counts them as 0)."
)
_register(
    Claim(
        id="E3.layer0-level",
        experiment="deep-teacher",
        source=_E3_SOURCE,
        statement="the lowest hidden layer is recovered almost exactly: its teacher nodes' "
        "mean best correlation with a student node reaches 0.999",
        statistic="mean over seeds of layer 0's final mean (over live teacher nodes) best "
        "correlation with a student node of layer 0",
        threshold=0.99,
        direction=">",
        note="The paper reports 0.999; 0.99 allows for 10 instead of 40 epochs. " + _E3_BOOK,
    ),
    Claim(
        id="E3.layer1-level",
        experiment="deep-teacher",
        source=_E3_SOURCE,
        statement="the second-lowest layer is recovered less well: mean best correlation "
        "about 0.95 after 40 epochs",
        statistic="mean over seeds of layer 1's final mean (over live teacher nodes) best "
        "correlation",
        threshold=0.90,
        direction=">",
        note="The paper's 0.95 is after 40 epochs; at book scale (10 epochs) development seeds "
        "0-7 gave 0.951 (single seeds 0.912-0.980; 0.936 over seeds 0-3), so book scale may or "
        "may not reach 0.95 and a threshold of 0.95 would be a coin toss; the registered "
        "threshold is 0.90, the book's threshold before this registry (the value is reported "
        "beside the paper's 0.95). " + _E3_BOOK,
    ),
    Claim(
        id="E3.layer0-first",
        experiment="deep-teacher",
        source=_E3_SOURCE,
        statement="the lowest layer is recovered first (0.999 'in a few iterations'), the "
        "second-lowest later",
        statistic="mean over seeds of t1 - t0 (epochs), where tl is the first snapshot at which "
        "layer l's mean best correlation is >= E3_CROSSING_LEVEL; undefined (not passing) if "
        "either layer never reaches it in some seed",
        threshold=0.0,
        direction=">",
        note="A level every layer reaches, so that 'first' compares two crossing times rather "
        "than a crossing with a never (the book's earlier check 'layer 0 reaches 0.99 before "
        "the others', with never = infinity, could not fail). Snapshots every half epoch at "
        "book scale (every epoch at tiny), so a gap of 0 means both crossed within the same "
        "half epoch. Development seeds 0-7: layer 0 at epoch 0.5 in every seed, layer 1 at "
        "0.5-2 (gap 0 in one seed), mean gap 0.75 epochs. " + _E3_BOOK,
    ),
)
