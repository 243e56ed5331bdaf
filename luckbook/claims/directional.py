"""E9 — early directional convergence (experiment "directional"): its pre-registered claims.

Sources cite the papers: LM = arXiv:1905.13405 (Tian et al., 2019), SS = arXiv:1909.13458
(Tian, ICML 2020), OC = arXiv:1909.13458v1, DC = arXiv:2403.08121 (Kumar & Haupt, 2024). A
threshold or prediction changes here only, with the reason in the commit message, and then
``tools/register_claims.py`` records the commit (``registered.json``).
"""

from __future__ import annotations

from .core import Claim, _register

# Setting: DC's summary setting (100 points on the unit sphere of R^10, GD step 5e-3), a
# 2-node ReLU teacher, a width-50 bias-free ReLU student, δ = 1e-4 unless a claim says otherwise.
# Thresholds: the 1 % and 0.99 of the chapter's plan, chosen before the held-out
# seeds; the time-scale tolerances from the development seeds 0–3 (book: slope 5 % off the
# depth-2 theory, 0.1 % off the depth-3 one) with room for the seed-to-seed spread.
_E9_CONTROL = "large initialisation δ = 0.1 (the same seeds and settings; the loss moves first)"
_register(
    Claim(
        id="E9.loss-flat",
        experiment="directional",
        kind="identity",
        source="DC (arXiv:2403.08121), §1 and Thm. 1: ‖θ(t)‖ = O(δ) over the early phase",
        statement="While the weights are still small (‖θ‖ ≤ 2‖θ(0)‖) the loss barely moves: the "
        "flow sits near the saddle at the origin.",
        statistic="seed mean of |1 − ℒ/ℒ(0)| at the last record with ‖θ‖ ≤ 2‖θ(0)‖ (depth 2, "
        "δ = 1e-4)",
        threshold=0.01,
        direction="<",
        control=_E9_CONTROL,
        note="An identity: the network's output is O(‖θ‖²) for a two-homogeneous network, so while"
        " ‖θ‖ ≤ 2‖θ(0)‖ = O(δ) the loss is ℒ(0) + O(δ²) whatever the weights do; it follows "
        "from the construction, not from the dynamics. "
        "1 %: the chapter's planned threshold. With δ = 0.1 the norm never doubles "
        "before the loss has halved, so the phase is the whole run.",
    ),
    Claim(
        id="E9.direction-first",
        experiment="directional",
        source="DC (arXiv:2403.08121), Thm. 1 (directional convergence to a KKT point of the "
        "neural correlation function)",
        statement="Before the loss moves, the growing neurons' directions converge to KKT "
        "directions of the constrained neural correlation function N(u) = Σ y_i H(x_i; u).",
        statistic="seed mean of the growing neurons' mean cosine to their nearest KKT direction "
        "(found by projected ascent of N) at the last record where the loss has changed by "
        "< 1 % (depth 2, δ = 1e-4)",
        threshold=0.99,
        direction=">",
        controls=("large-init", "different-teacher"),
        control=_E9_CONTROL,
        note="Controls: the large initialisation is evaluated at step 0 there (the loss moves "
        "at once), i.e. at the initial directions; the different-teacher evaluation scores the "
        "same neurons against the KKT directions of an independent teacher's correlation "
        "function on the same inputs, a control that could pass (development seeds 0-3: 0.43 "
        "[0.27, 0.58], per seed 0.17-0.68). "
        "0.99: the chapter's planned threshold. The plan put it at ‖θ‖ = 2‖θ(0)‖; the theorem "
        "only says ‖θ‖ = O(δ), and on development seeds the cosine there was 0.82–0.89 (it "
        "reaches 0.99 at a δ-independent norm ratio ≈ 8–23: claim E9.norm-scale). A neuron "
        "grows when ‖w_j‖/‖w_j(0)‖ ≥ ‖θ‖/‖θ(0)‖.",
    ),
    Claim(
        id="E9.low-rank",
        experiment="directional",
        source="DC (arXiv:2403.08121), §1 and §4 (sparse, low-rank structure of the KKT points)",
        statement="During the small-norm phase a few neurons grow and most do not, so the first "
        "layer becomes close to low rank.",
        statistic="seed mean of 1 − erank(W₁) at the end of the loss plateau / erank(W₁(0)) "
        "(effective rank = exp of the entropy of the normalised singular values; depth 2, "
        "δ = 1e-4)",
        threshold=0.2,
        direction=">",
        controls=("large-init",),
        control=_E9_CONTROL,
        note="20 %: the chapter's planned threshold. Measured at the end of the loss plateau "
        "(the plan put it at the norm doubling, where the drop is only a few %: the chapter "
        "shows it). The large-initialisation control reads the drop where its loss has halved "
        "(its plateau is empty, so its end would give 0 by construction); that reading was "
        "set after the held-out run of the claim itself, with the control's value unseen.",
    ),
    Claim(
        id="E9.norm-scale",
        experiment="directional",
        kind="identity",
        source="DC (arXiv:2403.08121), Thm. 1: the direction converges while ‖θ‖ = O(δ)",
        statement="For degree 2 the norm ratio ‖θ‖/‖θ(0)‖ at which the direction has converged "
        "does not depend on δ.",
        statistic="seed mean of |ln(r(1e-5)/r(1e-4))|, r(δ) = ‖θ‖/‖θ(0)‖ at the first record "
        "where the growing neurons' mean cosine reaches 0.99 (depth 2)",
        threshold=0.05,
        direction="<",
        control="the same at δ = 0.1 vs 0.01 (large initialisations; undefined when the cosine "
        "never reaches 0.99 there)",
        note="An identity: for a degree-2 flow started at δ·θ₀ the early phase is, after rescaling"
        " θ by δ and time, the same flow for every δ (a scaling law of the homogeneous flow),"
        " so the norm ratio at a given direction cannot depend on δ while ‖θ‖ = O(δ). "
        "5 %: the chapter's tolerance. Development seeds: equal to three digits.",
    ),
    Claim(
        id="E9.time-L2",
        experiment="directional",
        source="DC (arXiv:2403.08121), Thm. 1: the small-norm phase lasts ≈ ln(1/δ) for L = 2",
        statement="For a two-homogeneous network the plateau lasts ln(1/δ)/λ + const with "
        "λ = 2N*, twice the top value of N on the unit sphere.",
        statistic="|s/s_th − 1|: s = slope of the seed-mean time at which the loss has fallen "
        "by 1 % against ln(1/δ), δ ∈ {1e-2, …, 1e-5}, depth 2; s_th = seed mean of 1/(2N*); "
        "the bootstrap resamples seeds and refits",
        threshold=0.15,
        direction="<",
        controls=("large-init",),
        control="the same fit over the large initialisations δ ∈ {0.1, 0.01}",
        note="The paper states the order ln(1/δ), not the constant; 1/(2N*) is our derivation "
        "(growth at the top KKT point). 15 %: development seeds were 5 % off.",
    ),
    Claim(
        id="E9.time-L3",
        experiment="directional",
        kind="identity",
        source="DC (arXiv:2403.08121), Thm. 1: the small-norm phase lasts ≈ δ^−(L−2) for L > 2",
        statement="For a three-homogeneous network (depth 3, ReLU) the time to double the norm "
        "grows like 1/δ.",
        statistic="|s − 1|: s = log–log slope of the seed-mean time at which ‖θ‖ = 2‖θ(0)‖ "
        "against 1/δ, δ ∈ {1e-2, …, 1e-5}, depth 3; the bootstrap resamples seeds and refits",
        threshold=0.05,
        direction="<",
        control="the same fit over the large initialisations δ ∈ {0.1, 0.01} (undefined where "
        "the norm never doubles before the loss halves)",
        note="An identity: for a three-homogeneous network the early flow dθ/dt = O(‖θ‖²) rescales"
        " exactly under θ → δθ, t → t/δ, so the time to double the norm is c/δ by the scaling"
        " alone. "
        "5 %: development seeds were 0.1 % off; steps are time-rescaled near the origin "
        "(the same flow, checked against plain GD in the tests).",
    ),
)
