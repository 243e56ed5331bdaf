"""The reproducibility report: every pre-registered claim, evaluated, on one page.

:func:`collect` evaluates each experiment's claims on its held-out seeds (the same runs the
chapters make, so in a book build they come from the results cache); :func:`report_html`
renders the detailed page and :func:`claims_map` the short map of the introduction. Nothing
here computes a statistic: the numbers are the :class:`~luckbook.claims.ClaimReport` rows.
"""

from __future__ import annotations

import dataclasses
import html
import time
from collections.abc import Sequence

from .claims import CLAIMS, ClaimReport, ClaimRow, badge, claims_of, fmt_interval
from .claims import _fmt as fmt

CHAPTERS: dict[str, tuple[str, str]] = {
    "gradient-relation": ("notebooks/gradient_relation", "The gradient relation"),
    "fanout": ("notebooks/fanout", "Zero fan-out for unlucky nodes"),
    "lucky": ("notebooks/lucky", "Luck matters"),
    "deep-teacher": ("notebooks/deep_teacher", "A deep teacher"),
    "two-layer": ("notebooks/two_layer", "The teacher–student setting"),
    "two-layer-sweep": ("notebooks/two_layer_sweep", "Student specialization, two layers"),
    "sample-complexity": ("notebooks/sample_complexity", "Sample complexity"),
    "deep-specialization": ("notebooks/deep_specialization", "Specialization in every layer"),
    "bn-bias": ("notebooks/real_data", "Real data"),
    "real-teacher": ("notebooks/real_data", "Real data"),
    "directional": ("notebooks/directional", "Small initialisation"),
}
"""Experiment → (chapter docname, chapter title), in the book's order."""

PLANNED: list[tuple[str, str, str]] = []
"""Claims of the papers that no chapter tests yet (key, claim, source)."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One experiment's report (or why there is none) and how long getting it took."""

    experiment: str
    report: ClaimReport | None
    seconds: float
    error: str = ""


def collect(
    scale: str | None = None,
    device: str | None = None,
    experiments: Sequence[str] | None = None,
) -> list[Entry]:
    """Every experiment's claim report on its held-out seeds, in the book's order.

    A run that fails is reported as an entry with its error, never raised: the page shows it.
    """
    from .config import default_scale
    from .experiments import get_experiment

    names = [n for n in CHAPTERS if claims_of(n)] if experiments is None else list(experiments)
    key = (default_scale() if scale is None else scale, device, tuple(names))
    if key in _COLLECTED:  # one page executes several views of the same reports
        return list(_COLLECTED[key])
    out = []
    for name in names:
        start = time.perf_counter()
        try:
            report = get_experiment(name).claims(scale=scale, device=device)
            out.append(Entry(name, report, time.perf_counter() - start))
        except Exception as err:  # noqa: BLE001 - the page reports any failure
            out.append(
                Entry(name, None, time.perf_counter() - start, f"{type(err).__name__}: {err}")
            )
    _COLLECTED[key] = list(out)
    return out


_COLLECTED: dict[tuple, list[Entry]] = {}
"""Reports already collected in this process, by (scale, device, experiments)."""


def _href(experiment: str, base: str) -> str:
    doc, _ = CHAPTERS.get(experiment, ("", experiment))
    return f"{base}{doc}.html" if doc else "#"


def chapter_title(experiment: str) -> str:
    """The chapter's title as the sidebar shows it (its notebook's first heading), else the
    title in :data:`CHAPTERS`."""
    import json
    import re
    from pathlib import Path

    doc, title = CHAPTERS.get(experiment, ("", experiment))
    path = Path(__file__).resolve().parents[1] / f"{doc}.ipynb"
    if doc and path.is_file():
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] == "markdown":
                found = re.search(r"^# (.+)$", "".join(cell["source"]), re.M)
                if found:
                    return found.group(1).strip()
    return title


def _chapter_link(experiment: str, base: str) -> str:
    title = chapter_title(experiment)
    return f'<a href="{_href(experiment, base)}">{html.escape(title)}</a>'


STYLE = """<style>
.lb-repro .lb-scroll{overflow-x:auto}
.lb-repro table{border-collapse:collapse;width:100%;font-size:0.85em}
.lb-repro th,.lb-repro td{border-bottom:1px solid rgba(127,127,127,.35);padding:.3em .45em;
vertical-align:top;text-align:left}
.lb-repro td.num{white-space:nowrap;font-variant-numeric:tabular-nums}
.lb-repro details{margin:.2em 0 1.2em}
.lb-repro .muted{opacity:.75;font-size:.9em}
</style>"""


def counts(entries: Sequence[Entry], kind: str | None = None) -> dict[str, int]:
    """How many claims (of ``kind``, default every kind) have each verdict, plus ``"error"``
    for claims whose run failed."""
    out: dict[str, int] = {}
    for e in entries:
        if e.report is None:
            n = len([c for c in claims_of(e.experiment) if kind in (None, c.kind)])
            if n:
                out["error"] = out.get("error", 0) + n
            continue
        for row in e.report.rows:
            if kind in (None, row.claim.kind):
                out[row.verdict] = out.get(row.verdict, 0) + 1
    return out


def _tally(entries: Sequence[Entry], kind: str) -> str:
    tally = counts(entries, kind)
    total = sum(tally.values())
    rows = [r for e in entries if e.report is not None for r in e.report.rows]
    predicted = sum(1 for r in rows if r.claim.kind == kind and r.as_predicted)
    parts = ", ".join(f"{n} {v}" for v, n in sorted(tally.items())) or "none"
    label = (
        "evidence claims (about what training does)"
        if kind == "evidence"
        else ("identities (true by construction or numerical checks)")
    )
    return f"{total} {label}: {parts}; {predicted} of {total} as predicted"


def _reason(row: ClaimRow) -> str:
    """One line: why a claim does not hold or is inconclusive (or why a control passes)."""
    c, st = row.claim, row.stat
    where = {
        "undefined": "its statistic is undefined on these seeds",
        "does not hold": f"the whole interval lies on the wrong side of {c.rule()}",
        "inconclusive": f"the interval straddles the threshold ({c.rule()})",
        "holds": f"the interval lies on the claimed side of {c.rule()}",
    }.get(row.verdict, row.verdict)
    text = f"{fmt(st.value)} {fmt_interval(st)}: {where}; predicted: {c.expected}"
    leaks = [k.name for k in row.controls if c.verdict(k.stat) == "holds"]
    if leaks:
        text += f"; the control {', '.join(leaks)} passes it too"
    return text


def _controls_cell(row: ClaimRow) -> str:
    esc = html.escape
    if not row.controls:
        return "— (identity)" if row.claim.kind == "identity" else "—"
    return "<br>".join(
        f"{esc(k.name)}: {esc(fmt(k.stat.value))} {esc(fmt_interval(k.stat))} "
        f"{badge(row.claim.verdict(k.stat))}"
        for k in row.controls
    )


ABBREVIATIONS = (
    "LM = Tian, Jiang, Gong, Morcos, <i>Luck Matters</i> (arXiv:1905.13405); SS = Tian, "
    "<i>Student Specialization in Deep Rectified Networks</i> (arXiv:1909.13458, ICML 2020); "
    "OC = its earlier version, <i>Over-parameterization as a Catalyst</i> "
    "(arXiv:1909.13458v1); DC = Kumar &amp; Haupt, <i>Early Directional Convergence</i> "
    "(arXiv:2403.08121). E0–E9: the book's experiments (table below)."
)


def report_html(entries: Sequence[Entry], base: str = "../") -> str:
    """The reproducibility page: the abbreviations; what does not hold and what is
    inconclusive, each with its one-line reason; then per experiment a table with one row per
    claim (verdict, the paper's statement and source, kind, prediction, the book's value with
    its 90 % interval, the rule, every control's value and verdict), then the statistics,
    notes, registration, seeds, scale and time in a drop-down."""
    esc = html.escape
    parts = [STYLE, '<div class="lb-repro">']
    parts.append(f'<p class="muted">{ABBREVIATIONS}</p>')
    parts.append(
        f"<p><b>{esc(_tally(entries, 'evidence'))}.</b><br>{esc(_tally(entries, 'identity'))}.</p>"
    )
    parts.append(paper_scale_html(entries, base))
    rows = [(e, r) for e in entries if e.report is not None for r in e.report.rows]
    open_rows = [(e, r) for e, r in rows if r.verdict != "holds" or r.control_fails is False]
    failed = [e for e in entries if e.report is None]
    if open_rows or failed:
        parts.append("<p><b>What does not hold, what is inconclusive:</b></p><ul>")
        for e, r in open_rows:
            parts.append(
                f"<li>{badge(r.verdict)} <code>{esc(r.claim.id)}</code> "
                f"({_chapter_link(e.experiment, base)}): {esc(_reason(r))}</li>"
            )
        for e in failed:
            parts.append(f"<li><code>{esc(e.experiment)}</code>: the run failed</li>")
        parts.append("</ul>")
    for e in entries:
        key = claims_of(e.experiment)[0].key if claims_of(e.experiment) else ""
        parts.append(
            f"<h3>{esc(key)} · <code>{esc(e.experiment)}</code> — "
            f"{_chapter_link(e.experiment, base)}</h3>"
        )
        if e.report is None:
            parts.append(f"<p><b>The run failed:</b> <code>{esc(e.error)}</code></p>")
            continue
        r = e.report
        parts.append(f'<p class="muted">{esc(r.header())}</p>')
        if r.paper is not None or r.paper_source:
            parts.append(f'<p class="muted">{esc(_paper_provenance(e.experiment))}</p>')
        paper_head = (
            "<th>paper scale: value [90 % interval] verdict</th>" if r.paper is not None else ""
        )
        parts.append(
            '<div class="lb-scroll"><table><thead><tr><th>verdict</th><th>claim (paper)</th>'
            "<th>kind</th><th>predicted</th><th>book value [90 % interval]</th><th>rule</th>"
            f"<th>controls (value [interval] verdict)</th>{paper_head}</tr></thead><tbody>"
        )
        for row in r.rows:
            c = row.claim
            paper_cell = ""
            if r.paper is not None:
                p = r.paper_row(c.id)
                paper_cell = (
                    '<td class="num">—</td>'
                    if p is None
                    else f'<td class="num">{esc(fmt(p.stat.value))}<br>'
                    f"{esc(fmt_interval(p.stat))}<br>{badge(p.verdict)}</td>"
                )
            parts.append(
                "<tr>"
                f"<td>{badge(row.verdict)}</td>"
                f"<td><code>{esc(c.id)}</code> {esc(c.statement)}"
                f'<br><span class="muted">{esc(c.source)}</span></td>'
                f"<td>{esc(c.kind)}</td>"
                f"<td>{esc(c.expected)}</td>"
                f'<td class="num">{esc(fmt(row.stat.value))}<br>{esc(fmt_interval(row.stat))}</td>'
                f'<td class="num">{esc(c.rule())}</td>'
                f'<td class="num">{_controls_cell(row)}</td>'
                f"{paper_cell}</tr>"
            )
        parts.append("</tbody></table></div>")
        details = []
        for row in r.rows:
            c = row.claim
            bits = [f"<b>statistic:</b> {esc(c.statistic)}"]
            if row.stat.detail:
                bits.append(f"<b>measured:</b> {esc(row.stat.detail)}")
            if c.control:
                bits.append(f"<b>controls:</b> {esc(c.control)}")
            bits.append(f"<b>registered:</b> {esc(c.registered)}")
            if c.note:
                bits.append(f"<b>note:</b> {esc(c.note)}")
            details.append(f"<li><code>{esc(c.id)}</code> — " + "; ".join(bits) + "</li>")
        parts.append(
            "<details><summary>statistics, controls, registration and notes</summary><ul>"
            + "".join(details)
            + f"</ul><p class='muted'>Report obtained in {e.seconds:.1f} s "
            "(a results-cache hit when the chapter ran first).</p></details>"
        )
    parts.append("</div>")
    return "".join(parts)


def _paper_provenance(experiment: str) -> str:
    from . import paper_store

    return "Paper scale: " + paper_store.describe(experiment).split(": ", 1)[1] + "."


def paper_scale_html(entries: Sequence[Entry], base: str = "../") -> str:
    """How many experiments have paper-scale verdicts (runs stored in the package, see
    :mod:`luckbook.paper_store`), and every claim whose verdict differs between the book's
    scale and the paper's."""
    esc = html.escape
    with_paper = [e for e in entries if e.report is not None and e.report.paper is not None]
    names = ", ".join(f"<code>{esc(e.experiment)}</code>" for e in with_paper) or "none"
    stale = [
        e.experiment for e in with_paper if "stale" in (e.report.paper_source if e.report else "")
    ]
    text = (
        f"<p><b>Paper scale.</b> {len(with_paper)} of {len(entries)} experiments have "
        f"verdicts at the size the papers used, from runs stored in the package and "
        f"re-evaluated here without training ({names}); the others take hours on a 2-core "
        "CPU (<code>luckbook paper-results --refresh EXPERIMENT</code> computes them)."
    )
    if stale:
        text += (
            f" Stale (the code changed since they were stored or last verified): "
            f"{esc(', '.join(stale))}."
        )
    diffs = [
        (e, cid, here, there)
        for e in with_paper
        if e.report is not None
        for cid, here, there in e.report.paper_differences()
    ]
    if diffs:
        text += " The verdict differs for:</p><ul>"
        for e, cid, here, there in diffs:
            text += (
                f"<li><code>{esc(cid)}</code> ({_chapter_link(e.experiment, base)}): "
                f"{badge(here)} at book scale, {badge(there)} at paper scale</li>"
            )
        text += "</ul>"
    else:
        text += " Every verdict is the same at both scales.</p>" if with_paper else "</p>"
    return text


def claims_map(
    entries: Sequence[Entry], base: str = "../", report_doc: str = "book/reproducibility"
) -> str:
    """The introduction's short map: claim → chapter → verdict badge, one line per claim,
    with the planned experiments last; the detail is on the reproducibility page."""
    esc = html.escape
    rows = []
    for kind in ("evidence", "identity"):
        for e in entries:
            for c in claims_of(e.experiment):
                if c.kind != kind:
                    continue
                verdict = "error" if e.report is None else e.report[c.id].verdict
                at_paper = None if e.report is None else e.report.paper_row(c.id)
                rows.append(
                    f"<tr><td>{esc(c.key)}</td><td>{esc(_paper(c.source))}</td>"
                    f"<td>{esc(c.statement)}</td><td>{esc(c.kind)}</td>"
                    f"<td>{_chapter_link(e.experiment, base)}</td><td>{badge(verdict)}</td>"
                    f"<td>{badge(at_paper.verdict) if at_paper is not None else '—'}</td></tr>"
                )
    for key, claim, _source in PLANNED:
        rows.append(
            f"<tr><td>{esc(key)}</td><td></td><td>{esc(claim)}</td><td></td><td>—</td>"
            f"<td>{badge('planned')}</td><td>—</td></tr>"
        )
    return (
        STYLE + '<div class="lb-repro"><div class="lb-scroll"><table><thead><tr><th>key</th>'
        "<th>paper</th><th>claim</th><th>kind</th><th>chapter</th><th>verdict</th>"
        "<th>at the papers' size</th></tr></thead>"
        "<tbody>"
        + "".join(rows)
        + f'</tbody></table></div><p class="muted">{esc(_tally(entries, "evidence"))}; '
        f"{esc(_tally(entries, 'identity'))}. Values, intervals, controls and seeds: "
        f'<a href="{base}{report_doc}.html">reproducibility report</a>.</p></div>'
    )


def _paper(source: str) -> str:
    """The paper abbreviations a claim's source names (LM, SS, OC, DC)."""
    found = [
        p for p in ("LM", "SS", "OC", "DC") if p in source.split(":")[0] or source.startswith(p)
    ]
    return ", ".join(found) or source.split(" ")[0]


def registered_ids() -> list[str]:
    """Every claim id, in registry order (the page lists each exactly once)."""
    return list(CLAIMS)


class Page:
    """HTML that a notebook displays (``_repr_html_``), with the entries it was made from."""

    def __init__(self, html_text: str, entries: Sequence[Entry]) -> None:
        self.html = html_text
        self.entries = list(entries)

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        lines = []
        for e in self.entries:
            if e.report is None:
                lines.append(f"{e.experiment}: run failed: {e.error}")
            else:
                lines += [f"{r.claim.id}: {r.verdict}" for r in e.report.rows]
        return "\n".join(lines)


def reproducibility_report(scale: str | None = None, device: str | None = None) -> Page:
    """The reproducibility page of the book (see :func:`report_html`)."""
    entries = collect(scale=scale, device=device)
    return Page(report_html(entries), entries)


def claims_overview(scale: str | None = None, device: str | None = None) -> Page:
    """The introduction's map of claims with verdict badges (see :func:`claims_map`)."""
    entries = collect(scale=scale, device=device)
    return Page(claims_map(entries), entries)
