"""The course kit's numbers: per chapter of the book, its reading length, its exercises and
the compute time its execution took when the book was built (measured, never typed).

Read by the "Teaching with this book" page (``lb.course_plan()``). Reading time is the
chapter's prose word count at 150 words a minute (technical reading with equations), plus
15 minutes per exercise; the compute time is the chapter's execution time recorded in the
book's execution cache (``_build/.jupyter_cache``) by ``tools/execute_notebooks.py``.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path

WORDS_PER_MINUTE = 150
MINUTES_PER_EXERCISE = 15

PREREQUISITES: dict[str, str] = {
    "two_layer": "none (start here)",
    "gradient_relation": "the setting",
    "fanout": "the setting",
    "lucky": "the setting; fan-out",
    "deep_teacher": "the setting",
    "two_layer_sweep": "the setting; fan-out",
    "sample_complexity": "the two-layer sweep",
    "deep_specialization": "deep teachers; the two-layer sweep",
    "real_data": "the setting; the gradient relation (for the BatchNorm part)",
    "directional": "the setting (independent of the others)",
}
"""Which chapters a chapter builds on (structure of the book, not a result)."""


@dataclasses.dataclass(frozen=True)
class ChapterPlan:
    """One chapter's line of the course plan."""

    doc: str  # docname, e.g. "notebooks/two_layer"
    title: str
    words: int
    exercises: int
    compute_s: float | None  # measured execution time of the last build (None: not built)

    @property
    def reading_min(self) -> int:
        return round(self.words / WORDS_PER_MINUTE)

    @property
    def exercise_min(self) -> int:
        return self.exercises * MINUTES_PER_EXERCISE


def _root(root: str | Path | None) -> Path:
    if root is not None:
        return Path(root)
    here = Path.cwd()
    for cand in (here, *here.parents):
        if (cand / "_toc.yml").exists():
            return cand
    raise ValueError(f"root={str(here)!r} is not allowed: no _toc.yml here or above")


def _toc_chapters(root: Path) -> list[str]:
    docs = re.findall(r"-\s*file:\s*(\S+)", (root / "_toc.yml").read_text(encoding="utf-8"))
    return [d for d in docs if (root / f"{d}.ipynb").exists()]


def _execution_seconds(root: Path) -> dict[str, float]:
    try:
        from jupyter_cache import get_cache
    except ImportError:  # pragma: no cover - jupyter-cache comes with jupyter-book
        return {}
    folder = root / "_build" / ".jupyter_cache"
    if not folder.exists():
        return {}
    out = {}
    for rec in get_cache(str(folder)).list_cache_records():
        seconds = (rec.data or {}).get("execution_seconds")
        if seconds is not None:
            out[str(Path(rec.uri).resolve())] = float(seconds)
    return out


def course_plan(root: str | Path | None = None) -> list[ChapterPlan]:
    """Every executable chapter of ``_toc.yml`` with its words, exercises and measured
    compute time."""
    base = _root(root)
    seconds = _execution_seconds(base)
    plans = []
    for doc in _toc_chapters(base):
        path = base / f"{doc}.ipynb"
        nb = json.loads(path.read_text(encoding="utf-8"))
        md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        title = re.search(r"^# (.+)$", md, re.M)
        exercises = len(re.findall(r"\{exercise(?:-start)?\}", md))
        prose = re.sub(r"\$[^$]*\$|`[^`]*`|```.*?```", " ", md, flags=re.S)
        plans.append(
            ChapterPlan(
                doc=doc,
                title=title.group(1).strip() if title else doc,
                words=len(prose.split()),
                exercises=exercises,
                compute_s=seconds.get(str(path.resolve())),
            )
        )
    return plans


class CoursePlanTable:
    """The plan as an HTML table (``_repr_html_``) and as text."""

    def __init__(self, plans: list[ChapterPlan], base: str = "../") -> None:
        self.plans = plans
        self.base = base

    def _rows(self) -> list[list[str]]:
        rows = []
        for p in self.plans:
            compute = "not measured" if p.compute_s is None else f"{p.compute_s:.0f} s"
            key = Path(p.doc).name
            rows.append(
                [
                    p.title,
                    PREREQUISITES.get(key, "the setting"),
                    f"{p.reading_min} min",
                    f"{p.exercises} ({p.exercise_min} min)",
                    compute,
                ]
            )
        return rows

    def _repr_html_(self) -> str:
        esc = html.escape
        head = ["chapter", "builds on", "reading", "exercises", "compute (measured)"]
        body = []
        for p, row in zip(self.plans, self._rows(), strict=True):
            link = f'<a href="{self.base}{p.doc}.html">{esc(row[0])}</a>'
            cells = [link] + [esc(c) for c in row[1:]]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        total_read = sum(p.reading_min + p.exercise_min for p in self.plans)
        measured = [p.compute_s for p in self.plans if p.compute_s is not None]
        foot = f"Reading and exercises together: about {total_read} min"
        if measured:
            foot += f"; compute of the whole book, one thread per chapter: {sum(measured):.0f} s"
        return (
            '<div class="lb-repro"><div class="lb-scroll"><table><thead><tr>'
            + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>"
            + "".join(body)
            + f'</tbody></table></div><p class="muted">{esc(foot)}.</p></div>'
        )

    def __repr__(self) -> str:
        return "\n".join(" | ".join(r) for r in self._rows())


def course_table(root: str | Path | None = None) -> CoursePlanTable:
    """The "Teaching with this book" table: one line per chapter (see :func:`course_plan`)."""
    return CoursePlanTable(course_plan(root))
