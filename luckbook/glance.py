"""The start page's "Results at a glance": by paper, each chapter's key figure (small, drawn
at build time from the chapter's cached run), its evidence claims with their verdicts, and
for each claim that does not hold or is inconclusive the one-line reason.

Nothing is typed: the claims come from the registry, the verdicts from the same claim
reports the chapters print (in a book build, results-cache hits), the figures from the
chapters' own plot functions.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

from .claims import _fmt as fmt
from .claims import badge, claims_of, fmt_interval
from .reproducibility import CHAPTERS, Entry, Page, _reason, chapter_title, collect

PAPERS: list[tuple[str, str, list[str]]] = [
    (
        "LM",
        "Luck Matters (Tian, Jiang, Gong, Morcos, 2019; arXiv:1905.13405)",
        ["gradient-relation", "fanout", "lucky", "deep-teacher", "bn-bias"],
    ),
    (
        "SS",
        "Student Specialization (Tian, ICML 2020; arXiv:1909.13458) and its earlier version "
        "OC (arXiv:1909.13458v1)",
        [
            "two-layer",
            "two-layer-sweep",
            "sample-complexity",
            "deep-specialization",
            "real-teacher",
        ],
    ),
    (
        "DC",
        "Early Directional Convergence (Kumar & Haupt, 2024; arXiv:2403.08121)",
        ["directional"],
    ),
]
"""Which experiments answer which paper, in the order the start page shows them."""

KEY_FIGURES: dict[str, str] = {
    "two-layer": "setting_overview",
    "fanout": "fanout_traces",
    "lucky": "luck_overview",
    "deep-teacher": "deep_overview",
    "two-layer-sweep": "l_shape_figure",
    "sample-complexity": "sample_complexity_figure",
    "deep-specialization": "l_shape_panels",
    "bn-bias": "negative_fraction_curves",
    "real-teacher": "real_teacher_coverage",
    "directional": "directional_overview",
    "gradient-relation": "relation_vs_autograd",
}
"""The plot function drawn as each chapter's thumbnail (the chapter's first figure when the
name is not one of its figures)."""


def _thumbnail(experiment: str, scale: str | None) -> str:
    """A small PNG (data URL) of the chapter's key figure from its cached run ("" if the run
    is not cached or the figure fails)."""
    from .experiments import get_experiment
    from .figures import chapter_figures

    exp = get_experiment(experiment)
    try:
        result = exp.cached_result(scale=scale, seeds=exp.claim_seeds(scale))
    except ValueError:
        return ""
    if result is None:
        return ""
    figures = chapter_figures(experiment)
    fn = figures.get(KEY_FIGURES.get(experiment, "")) or next(iter(figures.values()), None)
    if fn is None:
        return ""
    try:
        fig = fn(result)
    except Exception:  # noqa: BLE001 - a thumbnail is decoration; the chapter shows the figure
        return ""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=48, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


STYLE = """<style>
.lb-glance{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.9rem;
margin:.4rem 0 1.4rem}
.lb-glance .lb-card{border:1px solid rgba(127,127,127,.35);border-radius:.5rem;padding:.6rem .7rem;
background:var(--pst-color-surface,transparent)}
.lb-glance .lb-card img{width:100%;height:auto;border-radius:.3rem;margin-bottom:.4rem}
.lb-glance .lb-card h4{font-size:1rem;margin:.1rem 0 .4rem}
.lb-glance ul{padding-left:1rem;margin:0;font-size:.88rem}
.lb-glance li{margin:.25rem 0}
.lb-glance .lb-why{opacity:.8;font-size:.82rem;display:block}
</style>"""


def glance_html(entries: Sequence[Entry], scale: str | None = None, base: str = "../") -> str:
    """The cards of :func:`results_at_a_glance`."""
    esc = html.escape
    by_name = {e.experiment: e for e in entries}
    parts = [STYLE]
    for key, title, names in PAPERS:
        cards = []
        for name in names:
            entry = by_name.get(name)
            claims = [c for c in claims_of(name) if c.kind == "evidence"]
            if entry is None or not claims:
                continue
            doc, _ = CHAPTERS.get(name, ("", name))
            items = []
            for c in claims:
                if entry.report is None:
                    items.append(f"<li>{badge('error')} {esc(c.statement)}</li>")
                    continue
                row = entry.report[c.id]
                why = ""
                if row.verdict != "holds" or row.control_fails is False:
                    why = f'<span class="lb-why">{esc(_reason(row))}</span>'
                paper = entry.report.paper_row(c.id)
                if paper is not None and paper.verdict != row.verdict:
                    why += (
                        f'<span class="lb-why">at the papers\' size: {badge(paper.verdict)} '
                        f"{esc(fmt(paper.stat.value))} {esc(fmt_interval(paper.stat))}</span>"
                    )
                items.append(
                    f"<li>{badge(row.verdict)} {esc(c.statement)} "
                    f"<code>{esc(c.id)}</code>{why}</li>"
                )
            src = _thumbnail(name, scale)
            img = (
                f'<img class="luckbook-figure" src="{src}" alt="key figure of '
                f'{esc(chapter_title(name))}">'
                if src
                else ""
            )
            cards.append(
                f'<div class="lb-card">{img}<h4><a href="{base}{doc}.html">'
                f"{esc(chapter_title(name))}</a></h4><ul>{''.join(items)}</ul></div>"
            )
        if cards:
            parts.append(f"<h3>{esc(key)} — {esc(title)}</h3>")
            parts.append(f'<div class="lb-glance lb-repro">{"".join(cards)}</div>')
    return "".join(parts)


def results_at_a_glance(scale: str | None = None, device: str | None = None) -> Page:
    """The start page's cards: by paper, each chapter's key figure and its evidence claims
    with their verdicts (see :func:`glance_html`)."""
    entries = collect(scale=scale, device=device)
    return Page(glance_html(entries, scale=scale), entries)
