"""The pre-registration: every claim the book checks, and the report a result's ``claims()``
returns.

Each claim is one :class:`Claim` record in :data:`CLAIMS` (bottom of this file): where the
paper makes it, the statistic we compute, the threshold and its direction, the seeds it is
evaluated on and its negative control. Thresholds live here and nowhere else, so changing
one is one visible diff (and its reason goes in the commit message).

A result's ``claims()`` (see :class:`luckbook.result.Result`) computes each statistic on the trained
student and on its negative control (by default the *frozen* student: the same run's weights
at step 0, an evaluation and not a second run) and returns a :class:`ClaimReport`: value,
90 % bootstrap interval over **seeds**, threshold, verdict, control value. The verdict is
*holds* when the whole interval lies on the claimed side of the threshold, *does not hold*
when it lies on the other side, and *inconclusive* when it straddles the threshold.

Seeds: the book's claim cells evaluate the held-out block :func:`held_out_seeds` (seeds from
:data:`HELD_OUT_START`); seeds below it were used while choosing settings.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

HELD_OUT_START = 1000
"""First seed of the held-out block the book's claim cells evaluate. Seeds 0–999 are for
development: every setting of the book was chosen on them."""

LEVEL = 0.9
"""Confidence level of every interval (a percentile bootstrap over seeds)."""

N_BOOT = 2000
"""Bootstrap resamples per interval."""

VERDICTS = ("holds", "does not hold", "inconclusive", "undefined")

ASSERTED_SCALES = ("book", "paper")
"""Scales at which a chapter's claim cell (:meth:`ClaimReport.require`) asserts its claims."""


def held_out_seeds(n: int) -> list[int]:
    """The first ``n`` seeds of the held-out block: ``[1000, …, 1000 + n − 1]``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} is not allowed: expected an integer >= 1")
    return list(range(HELD_OUT_START, HELD_OUT_START + n))


# --------------------------------------------------------------------------- statistics


@dataclasses.dataclass(frozen=True)
class Stat:
    """A claim's statistic: its value and a 90 % interval from a bootstrap over seeds.

    Attributes:
        value: the statistic on all seeds (NaN when undefined, e.g. an empty group).
        ci_low, ci_high: the interval's ends (equal to ``value`` with one seed).
        n_seeds: how many seeds it pools.
        detail: one short line shown under the report (counts, per-group values, …).
    """

    value: float
    ci_low: float
    ci_high: float
    n_seeds: int
    detail: str = ""

    @property
    def defined(self) -> bool:
        return math.isfinite(self.value)


def bootstrap(
    per_seed: Sequence[Any],
    statistic: Callable[[list[Any]], float],
    *,
    n_boot: int = N_BOOT,
    level: float = LEVEL,
    rng_seed: int = 0,
    detail: str = "",
) -> Stat:
    """``statistic`` over per-seed data, with a percentile bootstrap interval over seeds.

    Args:
        per_seed: one item per seed (an array of node values, a tuple, a number, ...).
        statistic: maps a list of per-seed items (a resample, with repeats) to a float; it
            pools them itself (e.g. a median over every node of every listed seed).
        n_boot, level: resamples and confidence level.
        rng_seed: seed of the resampling (fixed: the same data give the same interval).
        detail: carried into the :class:`Stat`.

    Resamples whose statistic is undefined (NaN) are dropped; if more than half are, the
    interval is undefined (NaN) too.
    """
    items = list(per_seed)
    if not items:
        raise ValueError("per_seed=[] is not allowed: expected at least one seed")
    value = float(statistic(items))
    if len(items) == 1:
        return Stat(value, value, value, 1, detail)
    rng = np.random.default_rng(rng_seed)
    idx = rng.integers(0, len(items), size=(n_boot, len(items)))
    draws = np.array([float(statistic([items[i] for i in row])) for row in idx])
    ok = np.isfinite(draws)
    if ok.sum() < n_boot / 2:
        return Stat(value, math.nan, math.nan, len(items), detail)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws[ok], [tail, 100 - tail])
    return Stat(value, float(low), float(high), len(items), detail)


def seed_mean(values: Sequence[float] | np.ndarray, *, detail: str = "") -> Stat:
    """Mean of one number per seed, with its bootstrap interval over seeds."""
    vals = np.asarray(values, dtype=float).ravel()
    return bootstrap(list(vals), lambda xs: float(np.mean(xs)), detail=detail)


def seed_median(values: Sequence[float] | np.ndarray, *, detail: str = "") -> Stat:
    """Median of one number per seed, with its bootstrap interval over seeds."""
    vals = np.asarray(values, dtype=float).ravel()
    return bootstrap(list(vals), lambda xs: float(np.median(xs)), detail=detail)


def pooled_median(groups: Sequence[np.ndarray]) -> float:
    """Median over the concatenation of per-seed arrays (NaN if all are empty)."""
    arrays = [np.asarray(g, dtype=float).ravel() for g in groups]
    pooled = np.concatenate(arrays) if arrays else np.array([])
    return float(np.median(pooled)) if pooled.size else math.nan


# --------------------------------------------------------------------------- claims


@dataclasses.dataclass(frozen=True)
class Claim:
    """One pre-registered claim.

    Attributes:
        id: short unique name, e.g. ``"E4.strong-first"``; used in reports, JSON and glue.
        experiment: the experiment that computes it (``luckbook list``).
        source: paper, arXiv id and where in it (section, figure, theorem).
        statement: what the paper says, in our words.
        statistic: what we compute, precisely enough to recompute it by hand.
        threshold, direction: the claim holds when ``value > threshold`` (``">"``) or
            ``value < threshold`` (``"<"``) over the whole interval.
        control: the negative control that must fail the claim ("" when the claim is not
            about training, e.g. an identity checked numerically).
        seeds: which seeds the book evaluates it on.
        note: deviations from the paper, and why the threshold is what it is.
    """

    id: str
    experiment: str
    source: str
    statement: str
    statistic: str
    threshold: float
    direction: str
    control: str = "frozen student (the run's weights at step 0)"
    seeds: str = "held-out block from 1000 (the book scale's seed count)"
    note: str = ""

    def __post_init__(self) -> None:
        if self.direction not in (">", "<"):
            raise ValueError(f"direction={self.direction!r} is not allowed: expected '>' or '<'")

    @property
    def key(self) -> str:
        """The experiment key, ``"E4"`` for ``"E4.strong-first"``."""
        return self.id.split(".", 1)[0]

    def passes(self, x: float) -> bool:
        """Is ``x`` on the claimed side of the threshold? (False for NaN.)"""
        if not math.isfinite(x):
            return False
        return x > self.threshold if self.direction == ">" else x < self.threshold

    def verdict(self, stat: Stat) -> str:
        """*holds* / *does not hold* / *inconclusive* (interval straddles) / *undefined*."""
        if not stat.defined:
            return "undefined"
        ends = (stat.ci_low, stat.ci_high)
        if not all(math.isfinite(e) for e in ends):
            return "inconclusive"
        passed = [self.passes(e) for e in ends] + [self.passes(stat.value)]
        if all(passed):
            return "holds"
        if not any(passed):
            return "does not hold"
        return "inconclusive"

    def rule(self) -> str:
        return f"{self.direction} {_fmt(self.threshold)}"


def get_claim(claim_id: str) -> Claim:
    """The registered claim ``claim_id``; ``ValueError`` listing the known ones otherwise."""
    if claim_id not in CLAIMS:
        raise ValueError(f"claim={claim_id!r} is not allowed: expected one of {', '.join(CLAIMS)}")
    return CLAIMS[claim_id]


def claims_of(experiment: str) -> list[Claim]:
    """Every registered claim that ``experiment`` computes, in registry order."""
    return [c for c in CLAIMS.values() if c.experiment == experiment]


# --------------------------------------------------------------------------- reports


@dataclasses.dataclass(frozen=True)
class ClaimRow:
    """One line of a report: the claim, its statistic, and its control's."""

    claim: Claim
    stat: Stat
    control: Stat | None

    @property
    def verdict(self) -> str:
        return self.claim.verdict(self.stat)

    @property
    def control_fails(self) -> bool | None:
        """Does the control fail the claim (value on the wrong side)? None without a control."""
        if self.control is None:
            return None
        return not self.claim.passes(self.control.value)


def _fmt(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    ax = abs(x)
    if ax != 0 and (ax < 1e-3 or ax >= 1e5):
        return f"{x:.2e}"
    if ax >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}" if ax < 1 else f"{x:.3f}".rstrip("0").rstrip(".")


def fmt_interval(stat: Stat) -> str:
    """``"[lo, hi]"`` with the report's number format."""
    return f"[{_fmt(stat.ci_low)}, {_fmt(stat.ci_high)}]"


BADGE_COLOURS = {
    "holds": "#1a7f37",
    "does not hold": "#cf222e",
    "inconclusive": "#9a6700",
    "undefined": "#6e7781",
}


def badge(verdict: str) -> str:
    """An inline HTML badge for a verdict (readable in light and dark themes)."""
    colour = BADGE_COLOURS.get(verdict, "#6e7781")
    return (
        f'<span class="lb-verdict" style="background:{colour};color:#fff;border-radius:0.6em;'
        f'padding:0.05em 0.55em;font-size:0.85em;white-space:nowrap">{html.escape(verdict)}</span>'
    )


@dataclasses.dataclass(frozen=True)
class ClaimReport:
    """What ``result.claims()`` returns: one :class:`ClaimRow` per registered claim.

    Prints as a table (and as HTML in a notebook); :meth:`assert_holds` is the claim cell's
    assertion; :meth:`to_json` is what ``luckbook claims --json`` writes.
    """

    experiment: str
    scale: str
    seeds: list[int]
    device: str
    control: (
        str | None
    )  # None: the trained student (control values beside); else the control's values
    control_name: str  # the control shown beside the values (or evaluated, see ``control``)
    wall_time_s: float
    rows: list[ClaimRow]

    def __getitem__(self, claim_id: str) -> ClaimRow:
        for row in self.rows:
            if row.claim.id == claim_id:
                return row
        ids = ", ".join(r.claim.id for r in self.rows)
        raise KeyError(f"claim {claim_id!r} is not in this report: it has {ids}")

    @property
    def ids(self) -> list[str]:
        return [r.claim.id for r in self.rows]

    @property
    def all_hold(self) -> bool:
        return all(r.verdict == "holds" for r in self.rows)

    def _seed_text(self) -> str:
        s = self.seeds
        if len(s) > 2 and s == list(range(s[0], s[0] + len(s))):
            return f"{s[0]}–{s[-1]}"
        return ", ".join(map(str, s))

    def header(self) -> str:
        what = "trained student" if self.control is None else f"CONTROL: {self.control_name}"
        return (
            f"{self.experiment} — {what}; scale {self.scale}, {len(self.seeds)} seeds "
            f"({self._seed_text()}), {self.device}, {self.wall_time_s:.0f} s; "
            f"{int(LEVEL * 100)} % intervals by bootstrap over seeds"
        )

    def __str__(self) -> str:
        cols = ["claim", "value", "90 % interval", "threshold", "verdict"]
        if self.control is None:
            cols += ["control", "control fails"]
        table = [cols]
        for r in self.rows:
            line = [r.claim.id, _fmt(r.stat.value), fmt_interval(r.stat), r.claim.rule(), r.verdict]
            if self.control is None:
                if r.control is None:
                    line += ["—", "(no control)"]
                else:
                    line += [_fmt(r.control.value), "yes" if r.control_fails else "NO"]
            table.append(line)
        widths = [max(len(str(row[i])) for row in table) for i in range(len(cols))]
        out = [self.header()]
        for k, row in enumerate(table):
            out.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
            if k == 0:
                out.append("  ".join("-" * w for w in widths))
        notes = [f"  {r.claim.id}: {r.stat.detail}" for r in self.rows if r.stat.detail]
        if notes:
            out += ["details:", *notes]
        if self.control is None and any(r.control is not None for r in self.rows):
            out.append(f"control: {self.control_name}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = ["claim", "value", "90 % interval", "threshold", "verdict"]
        if self.control is None:
            head += ["control", "control fails?"]
        rows = []
        for r in self.rows:
            cells = [
                f"<code>{esc(r.claim.id)}</code>",
                esc(_fmt(r.stat.value)),
                esc(fmt_interval(r.stat)),
                esc(r.claim.rule()),
                badge(r.verdict),
            ]
            if self.control is None:
                if r.control is None:
                    cells += ["—", "no control"]
                else:
                    cells += [esc(_fmt(r.control.value)), "yes" if r.control_fails else "<b>NO</b>"]
            title = esc(r.claim.statistic)
            rows.append(f'<tr title="{title}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        details = "".join(
            f"<li><code>{esc(r.claim.id)}</code>: {esc(r.stat.detail)}</li>"
            for r in self.rows
            if r.stat.detail
        )
        foot = f"<ul class='lb-claim-details'>{details}</ul>" if details else ""
        if self.control is None and any(r.control is not None for r in self.rows):
            foot += f"<p class='lb-claim-control'>Control: {esc(self.control_name)}.</p>"
        return (
            f"<div class='lb-claim-report'><p><b>{esc(self.header())}</b></p>"
            "<table><thead><tr>"
            + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>"
            + "".join(rows)
            + f"</tbody></table>{foot}</div>"
        )

    def assert_holds(self, ids: Iterable[str] | None = None) -> None:
        """Raise ``AssertionError`` unless every claim in ``ids`` (default: all) holds and
        every control shown fails its claim. The claim cell's one assertion."""
        wanted = self.ids if ids is None else list(ids)
        rows = [self[i] for i in wanted]
        bad = [
            f"{r.claim.id}: {r.verdict} ({_fmt(r.stat.value)} {fmt_interval(r.stat)}, "
            f"needs {r.claim.rule()})"
            for r in rows
            if r.verdict != "holds"
        ]
        leaky = [
            f"{r.claim.id}: the control passes ({_fmt(r.control.value)})"
            for r in rows
            if r.control_fails is False
        ]
        if bad or leaky:
            raise AssertionError("; ".join(bad + leaky))

    def require(self, ids: Iterable[str] | None = None) -> None:
        """A chapter's claim cell: :meth:`assert_holds` at the scales the claims were
        registered for (:data:`ASSERTED_SCALES`); at any other scale (``tiny``, custom
        settings) the thresholds were not chosen for the run, so it prints one line saying
        the verdicts are shown for information and returns (a ``tiny`` book still builds)."""
        if self.scale in ASSERTED_SCALES:
            self.assert_holds(ids)
            return
        print(
            f"at scale {self.scale!r} the claims are shown, not asserted: their thresholds were "
            f"registered for {' and '.join(ASSERTED_SCALES)} scale runs"
        )

    def assert_fails(self, ids: Iterable[str] | None = None) -> None:
        """Raise ``AssertionError`` if any claim in ``ids`` (default: all) holds: what a
        control report must show."""
        wanted = self.ids if ids is None else list(ids)
        passing = [i for i in wanted if self[i].verdict == "holds"]
        if passing:
            raise AssertionError(f"the control passes {', '.join(passing)}: {self}")

    def to_json(self) -> dict[str, Any]:
        """``experiment``, ``scale``, ``seeds``, ``control`` and ``claims`` (one dict per row)."""

        def num(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        rows = []
        for r in self.rows:
            c = r.claim
            rows.append(
                {
                    "id": c.id,
                    "source": c.source,
                    "statistic": c.statistic,
                    "value": num(r.stat.value),
                    "ci_low": num(r.stat.ci_low),
                    "ci_high": num(r.stat.ci_high),
                    "threshold": c.threshold,
                    "direction": c.direction,
                    "verdict": r.verdict,
                    "detail": r.stat.detail,
                    "control_value": None if r.control is None else num(r.control.value),
                    "control_fails": r.control_fails,
                }
            )
        return {
            "experiment": self.experiment,
            "scale": self.scale,
            "seeds": list(self.seeds),
            "device": self.device,
            "control": self.control,
            "control_name": self.control_name,
            "level": LEVEL,
            "wall_time_s": self.wall_time_s,
            "claims": rows,
        }

    def glue(self, prefix: str | None = None) -> None:
        """Glue every row's numbers for the chapter's prose (myst-nb): for claim ``E4.x`` the
        names ``E4.x.value``, ``.ci_low``, ``.ci_high``, ``.interval`` (text), ``.verdict``
        and ``.control``. Outside a book build it does nothing visible."""
        for r in self.rows:
            name = r.claim.id if prefix is None else f"{prefix}{r.claim.id}"
            glue(f"{name}.value", r.stat.value)
            glue(f"{name}.ci_low", r.stat.ci_low)
            glue(f"{name}.ci_high", r.stat.ci_high)
            glue(f"{name}.interval", fmt_interval(r.stat))
            glue(f"{name}.verdict", r.verdict)
            if r.control is not None:
                glue(f"{name}.control", r.control.value)


def glue(name: str, value: Any) -> None:
    """myst-nb's ``glue(name, value, display=False)`` when myst-nb is installed, else nothing:
    a number used in a chapter's prose comes from the computation, never typed by hand."""
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - myst-nb comes with jupyter-book
        return
    if isinstance(value, np.generic):
        value = value.item()
    _glue(name, value, display=False)


# =========================================================================== the registry
# One section per experiment. A threshold changes here only, with the reason in the commit
# message. Sources cite the papers: LM = arXiv:1905.13405 (Tian et al., 2019), SS =
# arXiv:1909.13458 (Tian, ICML 2020), OC = arXiv:1909.13458v1, DC = arXiv:2403.08121
# (Kumar & Haupt, 2024).

_REGISTRY: list[Claim] = []


def _register(*claims: Claim) -> None:
    for c in claims:
        if any(c.id == o.id for o in _REGISTRY):
            raise ValueError(f"claim {c.id!r} is registered twice")
        _REGISTRY.append(c)


# --- E0: gradient relation (experiment "gradient-relation") -------------------------- E0 ---
# E0 trains nothing: its claims are identities checked in float64 and measurements of an
# approximation and of an assumption. Identities have no control; a claim about a mechanism
# has a null variant that removes it (the result's control "null"). Thresholds: 1e-10 for
# identities (float64 rounding is ~1e-15; 1e-10 leaves room for sums of thousands of terms
# and still catches any real discrepancy); the others from the chapter's own words, set before
# the held-out seeds (development seeds 0–7 in the comments of each note).
_register(
    Claim(
        id="E0.relation-exact",
        experiment="gradient-relation",
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
        source="LM (arXiv:1905.13405), §3; the released code's matrix_gradient (our measurement)",
        statement="In hidden layers the batch-averaged matrix gradient is only an approximation: "
        "averaging inputs and gates separately decouples the gates from the inputs that switch "
        "them, and its distance to the exact batch gradient is of order one.",
        statistic="seed mean of ‖Δ_matrix − Δ_exact‖/‖Δ_exact‖ at the largest batch size "
        "(book: 1024), averaged over the hidden layers, the repeats and both students",
        threshold=0.1,
        direction=">",
        control="the same statistic on batches of one sample (where the approximation is exact)",
        note="'Order one' in the chapter; 0.1 is a tenth of that. Development seeds: 0.68–0.85.",
    ),
    Claim(
        id="E0.matrix-no-shrink",
        experiment="gradient-relation",
        source="LM (arXiv:1905.13405), §3; our measurement of the matrix gradient",
        statement="The matrix gradient's error is a population error: more data per batch does "
        "not remove it.",
        statistic="seed mean of the hidden-layer distance (as E0.matrix-drift) at the largest "
        "batch over that at the smallest batch above one (book: 1024 over 4)",
        threshold=0.5,
        direction=">",
        control="",
        note="A sampling error would shrink like 1/√B: a ratio 1/16 at book scale. 0.5 is "
        "between; development seeds: 0.81–0.94. No control: a property of the approximation.",
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
        control="the random student (PyTorch's default init)",
        note="0.6: between the random student (development: 0.33–0.36) and the aligned one "
        "(0.79–0.87); the paper states no number.",
    ),
    Claim(
        id="E0.overlap-first",
        experiment="gradient-relation",
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
        control="",
        note="No control: a property of the teacher, not of training. Development seeds: 0.17.",
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
        control="",
        note="Registered because LM's analysis assumes it at every layer; the chapter saw the "
        "deep overlap bottom out on development seeds (ratio 0.50–0.69): expected not to hold.",
    ),
)
# --- end E0 ---


# --- E1: zero fan-out for unlucky nodes (experiment "fanout") ------------------------ E1 ---
_E1_SOURCE = (
    "LM (arXiv:1905.13405): over-parameterized two-layer network, the fan-out of student "
    "nodes that start aligned with no teacher node converges to zero; released experiment "
    "test_multilayer.py --perturb --node_multi 2 (README: lucky fan-out 1.07-1.46, others "
    "4e-5 to 1.5e-3)"
)
_E1_STATISTIC = (
    "at the last snapshot, median fan-out norm (top-layer row norm, bias row excluded) of the "
    "lucky student nodes (j < m, started at teacher + noise) divided by the median fan-out of "
    "the unlucky nodes (j >= m, pure noise), each median pooled over every node of every seed; "
    "90 % interval by bootstrap over seeds"
)
_register(
    Claim(
        id="E1.fanout-ratio",
        experiment="fanout",
        source=_E1_SOURCE,
        statement=(
            "Under the projected dynamics (matrix gradient, unit columns), the unlucky nodes' "
            "fan-out decays towards zero while the lucky nodes carry the output."
        ),
        statistic=_E1_STATISTIC + "; dynamics='projected-matrix' (the released dynamics)",
        threshold=100.0,
        direction=">",
        note=(
            "Released start (both layers perturbed, every column of every layer unit norm, "
            "also after each step). The book runs 12 000 of the released 20 000 steps; the "
            "threshold 100 (the book's since its first version) is two orders of magnitude "
            "below the README's separation of about 1e4 and was kept, not tuned. Frozen "
            "control: the step-0 weights, whose ratio is of order 1."
        ),
    ),
    Claim(
        id="E1.fanout-ratio-sgd",
        experiment="fanout",
        source=_E1_SOURCE + "; the same phenomenon without projection is SS's L-shape (E4)",
        statement=(
            "With plain SGD (exact gradients, no projection) from the same start, the unlucky "
            "nodes' fan-out decays as well."
        ),
        statistic=_E1_STATISTIC + "; dynamics='sgd' (a second run on the same seeds)",
        threshold=100.0,
        direction=">",
        note=(
            "Not a released run: the book's plain-SGD variant of E1 (same teachers, starts and "
            "minibatches). Same threshold as the projected claim, chosen before the held-out "
            "seeds were run. Frozen control: the step-0 weights."
        ),
    ),
)
# --- end E1 ---


# --- E2: luck matters (experiment "lucky") ------------------------------------------- E2 ---
_E2_SOURCE = (
    "LM (arXiv:1905.13405): 'luck matters' - a student node initialised closer to a teacher "
    "node converges to it faster (no released script; E1's setting with multi = 1)"
)


def _e2_claim(level: str, dev: str, why: str) -> Claim:
    return Claim(
        id=f"E2.faster-{level}",
        experiment="lucky",
        source=_E2_SOURCE,
        statement=(
            f"Among student nodes started with the same noise (init_std = {level}), those that "
            "start with a higher correlation to a teacher node reach correlation 0.95 sooner."
        ),
        statistic=(
            f"noise level init_std = {level} only; per seed, Spearman's rho between a node's "
            "initial best correlation with a teacher node and its time to tau = 0.95 (first "
            "snapshot step with best correlation >= tau; nodes that never arrive are censored at "
            "the last step, tied), over the nodes that start BELOW tau (those at or above it "
            "have time 0 by definition and are left out); the statistic is the mean of the "
            "per-seed rho over seeds (seeds where rho is undefined left out), 90 % interval by "
            "bootstrap over seeds"
        ),
        threshold=0.0,
        direction="<",
        note=(
            f"{why} Development seeds 0-7, book scale: {dev}. Threshold 0 (a direction, as "
            "the paper states it); not tuned. Frozen control: the step-0 weights repeated - "
            "no node arrives, every per-seed rho is undefined, so the control's statistic is "
            "undefined (it cannot pass). Replaces the book's earlier pooled rho over all "
            "levels, seeds and nodes (nodes at tau counted with time 0), which a student that "
            "never moves also passed; the pooled rho is kept as a descriptive number only."
        ),
    )


_register(
    _e2_claim(
        "0.1",
        "-0.85 [-0.89, -0.80]",
        "The closest level with nodes to rank: about half the nodes start at or above tau "
        "(at init_std = 0.05 all of them do, so that level carries no claim).",
    ),
    _e2_claim("0.3", "-0.67 [-0.72, -0.62]", "Every node starts below tau; all arrive."),
    _e2_claim(
        "1",
        "-0.11 [-0.24, 0.03], i.e. inconclusive",
        "Far starts (initial best correlation about 0.5); registered because the paper's "
        "statement has no noise limit, although the development seeds suggest the effect is "
        "weak here.",
    ),
)
# --- end E2 ---


# --- E3: deep teacher, lowest layer first (experiment "deep-teacher") ---------------- E3 ---
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
# --- end E3 ---


# --- E4: two-layer specialization (experiments "two-layer", "two-layer-sweep") ------- E4 ---
# Conventions of the released code (catalyst/recon_two_layer.py) followed here: coverage and
# success rates on the eval set; the L-shape on the training set; teacher with 9 code values
# and output bias -0.1. Thresholds come from the papers (the 1/4 of the L-shape) or are
# directions (0); E4.strong-first's 0.5 was the book's earlier final-success threshold, moved
# to the early snapshot; all were fixed (commit "E4: pre-registered claims") before the
# held-out seeds were run; tiny-scale development seeds 0-15 checked that the statistics work.
_SS = "SS = arXiv:1909.13458 (Tian, ICML 2020) and its v1 OC"
_register(
    Claim(
        id="E4.setting-covers-all",
        experiment="two-layer",
        source=f"{_SS}: two-layer specialization theorem (every observed teacher node with "
        "non-zero fan-out is matched by a student node) and its experiments at p = 0",
        statement="With equally strong teacher nodes (p = 0) an over-realized student "
        "(multi = 5) trained by SGD covers every teacher node: some student node's activation "
        "correlates with it above 0.95.",
        statistic="fraction of the m = 10 teacher nodes whose best eval-set correlation with a "
        "student node exceeds 0.95 after training, mean over seeds (book: 20 000 steps)",
        threshold=0.95,
        direction=">",
        note="The theorem is about exact critical points, SGD only approaches one; 0.95 allows a "
        "miss in one seed in two of m = 10 nodes, not more. tau = 0.95 is the papers' strictest "
        "threshold.",
    ),
    Claim(
        id="E4.strong-first",
        experiment="two-layer-sweep",
        source=f"{_SS}: strong teacher nodes are learned first (success rate per teacher "
        "index after 5 epochs, dotted, and at the end, solid)",
        statement="A teacher node with a larger fan-out is specialized earlier: early in "
        "training the strongest teacher nodes are covered and the weakest are not.",
        statistic="m = 10, p = 2, at the 'early' snapshot (5 % of training: step 500 of 10 000 "
        "at book scale): per seed, the fraction of the strongest quarter (teachers 0, 1) "
        "covered at 0.95 minus that of the weakest quarter (8, 9), averaged over multi 1, 2, 5, "
        "10; mean over seeds",
        threshold=0.5,
        direction=">",
        note="A statement about time: the frozen trajectory never moves, so its early snapshot "
        "covers nothing (difference 0). 0.5 = the strongest quarter covered in at least half "
        "more of the cases than the weakest, as the released figure's dotted curves show "
        "(near 1 for the first indices, 0 for the last).",
    ),
    Claim(
        id="E4.more-covers-more",
        experiment="two-layer-sweep",
        source=f"{_SS}: over-realization recovers more teacher nodes (success rate per teacher "
        "index, one curve per multi)",
        statement="A more over-realized student covers more teacher nodes.",
        statistic="m = 10, p = 1, end of training: per seed, the mean number of teacher nodes "
        "covered at 0.95 over multi 5 and 10 minus the number covered at multi 1 (same teacher "
        "and data); mean over seeds",
        threshold=0.0,
        direction=">",
        note="Paired by seed. Zero: the claim is a direction, not a size.",
    ),
    Claim(
        id="E4.l-shape",
        experiment="two-layer-sweep",
        source=f"{_SS}: the L-shape figure (m = 10, p in 0, 1, 2, multi in 1, 2, 5, 10): "
        "unspecialized student nodes have small fan-out",
        statement="Student nodes that match no teacher node have (near) zero fan-out: their "
        "median fan-out is below a quarter of that of the specialized nodes.",
        statistic="the L-shape run (m = 10, p 0, 1, 2, multi 1, 2, 5, 10; 40 000 steps at book "
        "scale, the released 100 000 at paper scale), final snapshot, training-set correlations "
        "as released: median fan-out norm of the student nodes with best correlation < 0.6 "
        "divided by that of the nodes with best correlation > 0.95, nodes pooled over seeds, "
        "multi and p",
        threshold=0.25,
        direction="<",
        note="The papers' own criterion (a quarter), kept after it failed at the book's first "
        "run lengths; the interval resamples seeds (a ratio of medians over ~30 nodes below "
        "0.6 is noisy). On the frozen student no node exceeds 0.95: undefined, so it fails.",
    ),
)
# --- end E4 ---


# --- E5: sample complexity with augmentation (experiment "sample-complexity") -------- E5 ---
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
# --- end E5 ---


# --- E6: multilayer specialization (experiment "deep-specialization") ---------------- E6 ---
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
# --- end E6 ---


# --- E7: BatchNorm biases mostly negative (experiment "bn-bias") -------------------- E7 ---
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
# --- end E7 ---


# --- E8: a teacher trained on real data (experiment "real-teacher") ------------------ E8 ---
_E8_SOURCE = (
    "LM (arXiv:1905.13405) and SS (arXiv:1909.13458): teachers trained on CIFAR-10; "
    "the lowest layer specializes"
)
_E8_NOTE = (
    "The teacher-training script and data path were never released; the substitute is an MLP "
    "teacher trained on scikit-learn's digits (CIFAR-10 when a local copy is given, paper "
    "scale). Correlations on the digits test split; dead teacher nodes left out. tau = 0.9 "
    "and threshold 0.5 ('most lowest-layer teacher nodes') fixed before any run; development "
    "seeds 0-2 gave 0.81 (digits) and 1.0 (Gaussian) at multi 5."
)
_register(
    Claim(
        id="E8.real-lowest-layer",
        experiment="real-teacher",
        source=_E8_SOURCE,
        statement="A student trained on the teacher's outputs on real inputs recovers most of "
        "the teacher's lowest-layer nodes.",
        statistic=(
            "fraction of the teacher's live lowest-layer nodes covered at tau = 0.9 (some student "
            "node of the same layer with activation correlation > 0.9 on the digits test split) by "
            "the most over-realized student trained on real inputs (digits, noisy copies); "
            "mean over seeds"
        ),
        threshold=0.5,
        direction=">",
        note=_E8_NOTE,
    ),
    Claim(
        id="E8.gaussian-lowest-layer",
        experiment="real-teacher",
        source=_E8_SOURCE,
        statement="The same when the student sees Gaussian inputs with the digits' mean and "
        "covariance instead of digits (measured on real digits).",
        statistic=(
            "as E8.real-lowest-layer, for the student trained on Gaussian inputs with the "
            "digits training split's mean and covariance"
        ),
        threshold=0.5,
        direction=">",
        note=_E8_NOTE,
    ),
    Claim(
        id="E8.more-multi",
        experiment="real-teacher",
        source="SS (arXiv:1909.13458): more over-realization covers more teacher nodes "
        "(its two-layer and multilayer experiments)",
        statement="A wider student covers more of the teacher's lowest-layer nodes.",
        statistic=(
            "covered fraction at tau = 0.9 of the lowest layer (real inputs) with the largest "
            "multi minus with the smallest (multi 1); per seed, mean over seeds"
        ),
        threshold=0.0,
        direction=">",
        note="Threshold 0: the claim is the direction. Development seeds 0-2: 0.18 (multi 5 vs 1).",
    ),
)
# --- end E8 ---


# --- E9: early directional convergence (experiment "directional") -------------------- E9 ---
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
        source="DC (arXiv:2403.08121), §1 and Thm. 1: ‖θ(t)‖ = O(δ) over the early phase",
        statement="While the weights are still small (‖θ‖ ≤ 2‖θ(0)‖) the loss barely moves: the "
        "flow sits near the saddle at the origin.",
        statistic="seed mean of |1 − ℒ/ℒ(0)| at the last record with ‖θ‖ ≤ 2‖θ(0)‖ (depth 2, "
        "δ = 1e-4)",
        threshold=0.01,
        direction="<",
        control=_E9_CONTROL,
        note="1 %: the chapter's planned threshold. With δ = 0.1 the norm never doubles "
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
        control=_E9_CONTROL,
        note="0.99: the chapter's planned threshold. The plan put it at ‖θ‖ = 2‖θ(0)‖; the theorem "
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
        control=_E9_CONTROL,
        note="20 %: the chapter's planned threshold. Measured at the end of the loss plateau "
        "(the plan put it at the norm doubling, where the drop is only a few %: the chapter "
        "shows it).",
    ),
    Claim(
        id="E9.norm-scale",
        experiment="directional",
        source="DC (arXiv:2403.08121), Thm. 1: the direction converges while ‖θ‖ = O(δ)",
        statement="For degree 2 the norm ratio ‖θ‖/‖θ(0)‖ at which the direction has converged "
        "does not depend on δ.",
        statistic="seed mean of |ln(r(1e-5)/r(1e-4))|, r(δ) = ‖θ‖/‖θ(0)‖ at the first record "
        "where the growing neurons' mean cosine reaches 0.99 (depth 2)",
        threshold=0.05,
        direction="<",
        control="the same at δ = 0.1 vs 0.01 (large initialisations; undefined when the cosine "
        "never reaches 0.99 there)",
        note="5 %: the chapter's tolerance. Development seeds: equal to three digits.",
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
        control="the same fit over the large initialisations δ ∈ {0.1, 0.01}",
        note="The paper states the order ln(1/δ), not the constant; 1/(2N*) is our derivation "
        "(growth at the top KKT point). 15 %: development seeds were 5 % off.",
    ),
    Claim(
        id="E9.time-L3",
        experiment="directional",
        source="DC (arXiv:2403.08121), Thm. 1: the small-norm phase lasts ≈ δ^−(L−2) for L > 2",
        statement="For a three-homogeneous network (depth 3, ReLU) the time to double the norm "
        "grows like 1/δ.",
        statistic="|s − 1|: s = log–log slope of the seed-mean time at which ‖θ‖ = 2‖θ(0)‖ "
        "against 1/δ, δ ∈ {1e-2, …, 1e-5}, depth 3; the bootstrap resamples seeds and refits",
        threshold=0.05,
        direction="<",
        control="the same fit over the large initialisations δ ∈ {0.1, 0.01} (undefined where "
        "the norm never doubles before the loss halves)",
        note="5 %: development seeds were 0.1 % off; steps are time-rescaled near the origin "
        "(the same flow, checked against plain GD in the tests).",
    ),
)
# --- end E9 ---


CLAIMS: dict[str, Claim] = {c.id: c for c in _REGISTRY}
"""Every pre-registered claim, by id, in the book's order."""
