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
    "Book scale trains 5 of the released 40 epochs (evaluated once an epoch and at 25 "
    "geometric steps from step 1), 4 seeds, 1024 eval inputs; means over live teacher nodes "
    "(dead ones, never active on the eval set, are left out; the detail line gives the released "
    "convention that counts them as 0)."
)
_CONTROLS = ("frozen", "different-teacher")
_CONTROL_TEXT = (
    "frozen student (the run's weights at step 0); different-teacher: the student trained on an "
    "independent teacher of the same kind, scored against the original teacher"
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
        expected="holds",
        controls=_CONTROLS,
        control=_CONTROL_TEXT,
        note="The paper reports 0.999; 0.99 allows for 5 instead of 40 epochs. Development seeds "
        "0-3 at book scale: 0.9991 (interval 0.9988-0.9993). Prediction: holds. " + _E3_BOOK,
    ),
    Claim(
        id="E3.layer1-level",
        experiment="deep-teacher",
        source=_E3_SOURCE,
        statement="the second-lowest layer is recovered less well: mean best correlation "
        "about 0.95 after 40 epochs",
        statistic="mean over seeds of layer 1's final mean (over live teacher nodes) best "
        "correlation",
        threshold=0.95,
        direction=">",
        expected="does not hold",
        controls=_CONTROLS,
        control=_CONTROL_TEXT,
        note="The paper's 0.95, registered as the paper reports it (after 40 epochs). Development "
        "seeds 0-3: after 10 epochs 0.938 (interval 0.915-0.961, per seed 0.91-0.96) straddles "
        "it, so book scale trains 5 epochs, where the evidence is clear: 0.889 (interval "
        "0.859-0.915, per seed 0.85-0.93). Prediction at book scale: does not hold (the "
        "paper's number is a 40-epoch number; --scale paper tests it). " + _E3_BOOK,
    ),
    Claim(
        id="E3.layer0-first",
        experiment="deep-teacher",
        source=_E3_SOURCE,
        statement="the lowest layer is recovered first (0.999 'in a few iterations'), the "
        "second-lowest later",
        statistic="mean over seeds of log10((t1 + 1) / (t0 + 1)), where tl is the first snapshot "
        "step (luckbook.dynamics.arrival_times; snapshots geometric from step 1) at which "
        "layer l's mean best correlation (live teacher nodes) is >= E3_CROSSING_LEVEL; > 0 "
        "when layer 0 crosses first; undefined (not passing) if either layer never reaches it "
        "in some seed",
        threshold=0.0,
        direction=">",
        expected="holds",
        controls=_CONTROLS,
        control=_CONTROL_TEXT,
        note="An order in time: two crossing times of one level that every layer reaches, on "
        "snapshots geometric from step 1 so that crossings within the first epoch are resolved "
        "(a tie, both in one snapshot, gives 0 and does not pass). Development seeds 0-3: "
        "layer 0 crossed at steps 418-935, layer 1 at 935-3126, layer 0 strictly first in 4 of "
        "4 seeds; statistic 0.52 (interval 0.44-0.61). Prediction: holds. " + _E3_BOOK,
    ),
)
