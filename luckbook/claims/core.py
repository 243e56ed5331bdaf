"""The claims' machinery: the :class:`Claim` record, the bootstrap over seeds and the report
a result's ``claims()`` returns. The records themselves live beside their experiments, one
module per experiment in this package (``luckbook/claims/<experiment>.py``).

Each claim says where the paper makes it, the statistic we compute, the threshold and its
direction, its **kind** (``evidence``: about what training does; ``identity``: true by
construction or a numerical check), its **prediction** (``expected``: "holds" or "does not
hold", written before the held-out seeds were run) and the **controls** under which it must
not hold. A control is either an *evaluation* of the same run (``frozen``: the step-0
weights) or a *second run* that removes what the claim depends on (``different-teacher``,
``shuffled-labels``, ``equal-strength``, ``frozen-bias``; see each experiment). The commit
that registered each claim is recorded in ``registered.json`` (``tools/register_claims.py``).

A report row holds the statistic, its 90 % bootstrap interval over **seeds**, the verdict —
*holds* when the whole interval lies on the claimed side of the threshold, *does not hold*
when it lies on the other side, *inconclusive* when it straddles — and, beside it, each
control's value, interval and verdict.

Seeds: the book's claim cells evaluate the held-out block :func:`held_out_seeds` (seeds from
:data:`HELD_OUT_START` = 5000, a block first run after every claim of the dynamics revision
was registered); seeds below 1000 were used while choosing settings, and the block from 1000
was the earlier held-out block (now seen: nothing is asserted on it).
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

HELD_OUT_START = 5000
"""First seed of the held-out block the book's claim cells evaluate. Seeds 0–999 are for
development (every setting of the book was chosen on them); seeds 1000–4999 held the earlier
held-out block, which has been seen and is no longer used for verdicts."""

KINDS = ("evidence", "identity")
"""A claim's kind: ``evidence`` (about what training does; needs a control that could pass
it) or ``identity`` (true by construction, or a numerical check of an equation)."""

PREDICTIONS = ("holds", "does not hold")
"""What a claim's ``expected`` may say: the verdict predicted before the held-out run."""

LEVEL = 0.9
"""Confidence level of every interval (a percentile bootstrap over seeds)."""

N_BOOT = 2000
"""Bootstrap resamples per interval."""

VERDICTS = ("holds", "does not hold", "inconclusive", "undefined")

ASSERTED_SCALES = ("book", "paper")
"""Scales at which a chapter's claim cell (:meth:`ClaimReport.require`) asserts its claims."""


def held_out_seeds(n: int) -> list[int]:
    """The first ``n`` seeds of the held-out block: ``[5000, …, 5000 + n − 1]``."""
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
        kind: ``"evidence"`` (about what training does) or ``"identity"`` (true by
            construction or a numerical check; reported apart, needs no control).
        expected: the prediction, ``"holds"`` or ``"does not hold"``, registered before the
            held-out run; a chapter asserts that the verdict matches it.
        controls: the names of the controls under which the claim must not hold (each an
            evaluation of the same run, such as ``"frozen"``, or a second run, such as
            ``"different-teacher"``; see :attr:`luckbook.Experiment.controls`). ``None``:
            the experiment's first control when ``control`` describes one, else none.
        control: what the controls are, in words ("" for none).
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
    kind: str = "evidence"
    expected: str = "holds"
    controls: tuple[str, ...] | None = None
    control: str = "frozen student (the run's weights at step 0)"
    seeds: str = "held-out block from 5000 (the scale's seed count)"
    note: str = ""

    def __post_init__(self) -> None:
        if self.direction not in (">", "<"):
            raise ValueError(f"direction={self.direction!r} is not allowed: expected '>' or '<'")
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r} is not allowed: expected one of {KINDS}")
        if self.expected not in PREDICTIONS:
            raise ValueError(
                f"expected={self.expected!r} is not allowed: expected one of {PREDICTIONS}"
            )

    @property
    def key(self) -> str:
        """The experiment key, ``"E4"`` for ``"E4.strong-first"``."""
        return self.id.split(".", 1)[0]

    def control_names(self, default: Sequence[str] = ()) -> tuple[str, ...]:
        """The controls this claim is evaluated under: :attr:`controls`, or (when ``None``)
        the first of ``default`` if :attr:`control` describes one."""
        if self.controls is not None:
            return tuple(self.controls)
        return tuple(default[:1]) if self.control and default else ()

    def fingerprint(self) -> str:
        """A hash of what the claim predicts (statistic, threshold, direction, kind, expected,
        controls): changing any of these is a new registration."""
        import hashlib

        text = repr(
            (
                self.id,
                self.experiment,
                self.statistic,
                float(self.threshold),
                self.direction,
                self.kind,
                self.expected,
                self.controls,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def registered(self) -> str:
        """The commit that registered this claim as it now reads (``registered.json``), or
        ``"unregistered"`` when the record changed since (run ``tools/register_claims.py``
        after committing it)."""
        entry = registrations().get(self.id)
        if not entry or entry.get("fingerprint") != self.fingerprint():
            return "unregistered"
        return str(entry["commit"])

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


_REGISTRATIONS: dict[str, dict[str, str]] | None = None


def registrations() -> dict[str, dict[str, str]]:
    """``registered.json``: claim id → ``{"commit", "date", "fingerprint"}``."""
    global _REGISTRATIONS
    if _REGISTRATIONS is None:
        import json
        from pathlib import Path

        path = Path(__file__).with_name("registered.json")
        _REGISTRATIONS = json.loads(path.read_text()) if path.exists() else {}
    return _REGISTRATIONS


_REGISTRY: list[Claim] = []


def _register(*claims: Claim) -> None:
    """Add claims to the registry (each experiment's module calls it once)."""
    for c in claims:
        if any(c.id == o.id for o in _REGISTRY):
            raise ValueError(f"claim {c.id!r} is registered twice")
        _REGISTRY.append(c)


# --------------------------------------------------------------------------- reports


@dataclasses.dataclass(frozen=True)
class ControlStat:
    """A claim's statistic under one control, with the control's name."""

    name: str
    stat: Stat


@dataclasses.dataclass(frozen=True)
class ClaimRow:
    """One line of a report: the claim, its statistic, and its controls' statistics."""

    claim: Claim
    stat: Stat
    controls: tuple[ControlStat, ...] = ()

    @property
    def verdict(self) -> str:
        return self.claim.verdict(self.stat)

    @property
    def as_predicted(self) -> bool:
        """Does the verdict equal the registered prediction (``claim.expected``)?"""
        return self.verdict == self.claim.expected

    @property
    def control(self) -> Stat | None:
        """The first control's statistic (None without a control)."""
        return self.controls[0].stat if self.controls else None

    def control_verdict(self, name: str) -> str:
        for c in self.controls:
            if c.name == name:
                return self.claim.verdict(c.stat)
        raise KeyError(f"control {name!r} is not in this row: it has {self.control_names}")

    @property
    def control_names(self) -> list[str]:
        return [c.name for c in self.controls]

    @property
    def control_fails(self) -> bool | None:
        """Does every control fail the claim (its verdict is not *holds*)? None without a
        control."""
        if not self.controls:
            return None
        return all(self.claim.verdict(c.stat) != "holds" for c in self.controls)


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


def _control_text(row: ClaimRow) -> str:
    if not row.controls:
        return "— (identity)" if row.claim.kind == "identity" else "—"
    return "; ".join(
        f"{c.name} {_fmt(c.stat.value)} {row.claim.verdict(c.stat)}" for c in row.controls
    )


@dataclasses.dataclass(frozen=True)
class ClaimReport:
    """What ``result.claims()`` returns: one :class:`ClaimRow` per registered claim.

    Prints as a table (and as HTML in a notebook); :meth:`require` is the claim cell's
    assertion (each verdict as predicted, each control failing); :meth:`to_json` is what
    ``luckbook claims --json`` writes.
    """

    experiment: str
    scale: str
    seeds: list[int]
    device: str
    control: str | None  # None: the trained student (controls beside); else the control's
    control_name: str  # what ``control`` is, in words (or the controls shown beside)
    wall_time_s: float
    rows: list[ClaimRow]
    paper: ClaimReport | None = None
    """The same claims at ``paper`` scale, re-evaluated from the runs stored in the package
    (:mod:`luckbook.paper_store`), when they are stored; shown in a column of their own."""
    paper_source: str = ""
    """Where :attr:`paper` comes from: seeds, wall time, device, commit and whether current."""

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

    @property
    def as_predicted(self) -> bool:
        """Every verdict equals its prediction and every evidence claim's controls fail."""
        return not self._mismatches(self.ids)

    def _seed_text(self) -> str:
        s = self.seeds
        if len(s) > 2 and s == list(range(s[0], s[0] + len(s))):
            return f"{s[0]}–{s[-1]}"
        return ", ".join(map(str, s))

    def header(self) -> str:
        what = "trained student" if self.control is None else f"CONTROL: {self.control_name}"
        few = " (few seeds: read the intervals as rough)" if len(self.seeds) < 8 else ""
        return (
            f"{self.experiment} — {what}; scale {self.scale}, {len(self.seeds)} seeds "
            f"({self._seed_text()}), {self.device}, {self.wall_time_s:.0f} s; "
            f"{int(LEVEL * 100)} % intervals by bootstrap over seeds{few}"
        )

    def paper_row(self, claim_id: str) -> ClaimRow | None:
        """The claim's row at paper scale (:attr:`paper`), or ``None``."""
        if self.paper is None or claim_id not in self.paper.ids:
            return None
        return self.paper[claim_id]

    def paper_differences(self) -> list[tuple[str, str, str]]:
        """``(claim id, verdict here, verdict at paper scale)`` where the two differ."""
        out = []
        for r in self.rows:
            p = self.paper_row(r.claim.id)
            if p is not None and p.verdict != r.verdict:
                out.append((r.claim.id, r.verdict, p.verdict))
        return out

    def _paper_footer(self) -> str:
        if self.paper is None:
            return ""
        diff = self.paper_differences()
        if not diff:
            what = "every verdict is the same as here"
        else:
            what = "the verdict differs for " + "; ".join(
                f"{i} ({here} here, {there} at paper scale)" for i, here, there in diff
            )
        return f"At paper scale ({self.paper_source}) {what}."

    def _cells(self, r: ClaimRow) -> list[str]:
        cells = [r.claim.id, r.claim.kind, _fmt(r.stat.value), fmt_interval(r.stat)]
        cells += [r.claim.rule(), r.claim.expected, r.verdict]
        if self.control is None:
            cells.append(_control_text(r))
        if self.paper is not None:
            p = self.paper_row(r.claim.id)
            cells.append(
                "—" if p is None else f"{_fmt(p.stat.value)} {fmt_interval(p.stat)} {p.verdict}"
            )
        return cells

    def _head(self) -> list[str]:
        cols = ["claim", "kind", "value", "90 % interval", "threshold", "predicted", "verdict"]
        cols += ["controls (value, verdict)"] if self.control is None else []
        return cols + (["paper scale (value, verdict)"] if self.paper is not None else [])

    def __str__(self) -> str:
        table = [self._head()] + [self._cells(r) for r in self.rows]
        widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
        out = [self.header()]
        for k, row in enumerate(table):
            out.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
            if k == 0:
                out.append("  ".join("-" * w for w in widths))
        notes = [f"  {r.claim.id}: {r.stat.detail}" for r in self.rows if r.stat.detail]
        if notes:
            out += ["details:", *notes]
        if self.control is None and self.control_name:
            out.append(f"controls: {self.control_name}")
        if self.paper is not None:
            out.append(self._paper_footer())
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = []
        for r in self.rows:
            cells = [
                f"<code>{esc(r.claim.id)}</code>",
                esc(r.claim.kind),
                esc(_fmt(r.stat.value)),
                esc(fmt_interval(r.stat)),
                esc(r.claim.rule()),
                esc(r.claim.expected),
                badge(r.verdict),
            ]
            if self.control is None:
                if r.controls:
                    cells.append(
                        "<br>".join(
                            f"{esc(c.name)}: {esc(_fmt(c.stat.value))} "
                            f"{esc(fmt_interval(c.stat))} {badge(r.claim.verdict(c.stat))}"
                            for c in r.controls
                        )
                    )
                else:
                    cells.append("— (identity)" if r.claim.kind == "identity" else "—")
            if self.paper is not None:
                p = self.paper_row(r.claim.id)
                cells.append(
                    "—"
                    if p is None
                    else f"{esc(_fmt(p.stat.value))} {esc(fmt_interval(p.stat))} {badge(p.verdict)}"
                )
            title = esc(r.claim.statistic)
            rows.append(f'<tr title="{title}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        details = "".join(
            f"<li><code>{esc(r.claim.id)}</code>: {esc(r.stat.detail)}</li>"
            for r in self.rows
            if r.stat.detail
        )
        foot = f"<ul class='lb-claim-details'>{details}</ul>" if details else ""
        if self.control is None and self.control_name:
            foot += f"<p class='lb-claim-control'>Controls: {esc(self.control_name)}.</p>"
        if self.paper is not None:
            foot += f"<p class='lb-claim-paper'>{esc(self._paper_footer())}</p>"
        return (
            f"<div class='lb-claim-report'><p><b>{esc(self.header())}</b></p>"
            "<div class='lb-table-scroll'><table><thead><tr>"
            + "".join(f"<th>{esc(h)}</th>" for h in self._head())
            + "</tr></thead><tbody>"
            + "".join(rows)
            + f"</tbody></table></div>{foot}</div>"
        )

    def _leaky(self, rows: list[ClaimRow]) -> list[str]:
        return [
            f"{r.claim.id}: the control {c.name} passes it ({_fmt(c.stat.value)} "
            f"{fmt_interval(c.stat)})"
            for r in rows
            for c in r.controls
            if r.claim.verdict(c.stat) == "holds"
        ]

    def assert_holds(self, ids: Iterable[str] | None = None) -> None:
        """Raise ``AssertionError`` unless every claim in ``ids`` (default: all) holds and
        every control shown fails it."""
        rows = [self[i] for i in (self.ids if ids is None else list(ids))]
        bad = [
            f"{r.claim.id}: {r.verdict} ({_fmt(r.stat.value)} {fmt_interval(r.stat)}, "
            f"needs {r.claim.rule()})"
            for r in rows
            if r.verdict != "holds"
        ]
        bad += self._leaky(rows)
        if bad:
            raise AssertionError("; ".join(bad))

    def _mismatches(self, ids: Iterable[str]) -> list[str]:
        rows = [self[i] for i in ids]
        bad = [
            f"{r.claim.id}: predicted {r.claim.expected!r}, came out {r.verdict!r} "
            f"({_fmt(r.stat.value)} {fmt_interval(r.stat)}, rule {r.claim.rule()})"
            for r in rows
            if not r.as_predicted
        ]
        return bad + self._leaky([r for r in rows if r.claim.expected == "holds"])

    def assert_expected(self, ids: Iterable[str] | None = None) -> None:
        """Raise ``AssertionError`` unless every claim in ``ids`` (default: all) came out as
        registered (``expected``) and no control passes a claim predicted to hold."""
        bad = self._mismatches(self.ids if ids is None else list(ids))
        if bad:
            raise AssertionError("; ".join(bad))

    def require(self, ids: Iterable[str] | None = None) -> None:
        """A chapter's claim cell: :meth:`assert_expected` — each verdict as predicted
        before the held-out run, each control failing — at the scales the claims were
        registered for (:data:`ASSERTED_SCALES`); at any other scale (``tiny``, custom
        settings) the thresholds were not chosen for the run, so it prints one line saying
        the verdicts are shown for information and returns (a ``tiny`` book still builds)."""
        if self.scale in ASSERTED_SCALES:
            self.assert_expected(ids)
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
        """``experiment``, ``scale``, ``seeds``, ``control`` and ``claims`` (one dict per row,
        with ``kind``, ``expected``, ``registered`` and ``controls``)."""

        def num(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        rows = []
        for r in self.rows:
            c = r.claim
            rows.append(
                {
                    "id": c.id,
                    "kind": c.kind,
                    "expected": c.expected,
                    "registered": c.registered,
                    "source": c.source,
                    "statistic": c.statistic,
                    "value": num(r.stat.value),
                    "ci_low": num(r.stat.ci_low),
                    "ci_high": num(r.stat.ci_high),
                    "threshold": c.threshold,
                    "direction": c.direction,
                    "verdict": r.verdict,
                    "as_predicted": r.as_predicted,
                    "detail": r.stat.detail,
                    "controls": [
                        {
                            "name": k.name,
                            "value": num(k.stat.value),
                            "ci_low": num(k.stat.ci_low),
                            "ci_high": num(k.stat.ci_high),
                            "verdict": c.verdict(k.stat),
                        }
                        for k in r.controls
                    ],
                    "control_value": None if r.control is None else num(r.control.value),
                    "control_fails": r.control_fails,
                }
            )
            p = self.paper_row(c.id)
            if p is not None:
                rows[-1]["paper"] = {
                    "value": num(p.stat.value),
                    "ci_low": num(p.stat.ci_low),
                    "ci_high": num(p.stat.ci_high),
                    "verdict": p.verdict,
                }
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
            **({"paper_source": self.paper_source} if self.paper is not None else {}),
        }

    def glue(self, prefix: str | None = None) -> None:
        """Glue every row's numbers and words for the chapter's prose (myst-nb): for claim
        ``E4.x`` the names ``E4.x.value``, ``.ci_low``, ``.ci_high``, ``.interval`` (text),
        ``.verdict``, ``.expected``, ``.outcome`` ("as predicted" / "not as predicted"),
        ``.control`` (first control's value) and, per control ``NAME``,
        ``E4.x.control.NAME.value`` and ``E4.x.control.NAME.verdict``. Outside a book build
        it does nothing visible."""
        for r in self.rows:
            name = r.claim.id if prefix is None else f"{prefix}{r.claim.id}"
            glue(f"{name}.value", r.stat.value)
            glue(f"{name}.ci_low", r.stat.ci_low)
            glue(f"{name}.ci_high", r.stat.ci_high)
            glue(f"{name}.interval", fmt_interval(r.stat))
            glue(f"{name}.verdict", r.verdict)
            glue(f"{name}.expected", r.claim.expected)
            glue(f"{name}.outcome", "as predicted" if r.as_predicted else "not as predicted")
            if r.control is not None:
                glue(f"{name}.control", r.control.value)
            for c in r.controls:
                glue(f"{name}.control.{c.name}.value", c.stat.value)
                glue(f"{name}.control.{c.name}.interval", fmt_interval(c.stat))
                glue(f"{name}.control.{c.name}.verdict", r.claim.verdict(c.stat))
            p = self.paper_row(r.claim.id)
            if p is not None:
                glue(f"{name}.paper.value", p.stat.value)
                glue(f"{name}.paper.interval", fmt_interval(p.stat))
                glue(f"{name}.paper.verdict", p.verdict)


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
