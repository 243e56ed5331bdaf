"""Sphinx extension: the proof index (``prf-prf.html``) lists theorems by their titles.

sphinx-proof's index shows each box's raw label (``thm-deep-bottom-up``). This replaces its
``generate`` with one that shows "Title" (the text after ``{prf:theorem}``), grouped by the
title's first letter, with the kind (theorem, assumption, …) and the chapter beside it. The
titles are read from the sources (``.md`` and ``.ipynb``) once per build.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

BOX = re.compile(r"```+\{prf:(\w+)\}[ \t]*([^\n]*)\n(?:(?::[\w-]+:[^\n]*\n)*?):label:\s*(\S+)")


def _titles(srcdir: Path) -> dict[str, str]:
    titles: dict[str, str] = {}
    for path in list(srcdir.glob("book/*.md")) + list(srcdir.glob("notebooks/*.ipynb")):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            cells = json.loads(text)["cells"]
            text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        for _kind, title, label in BOX.findall(text):
            if title.strip():
                titles[label] = title.strip()
    return titles


def _patch(app: Sphinx) -> None:
    from sphinx_proof.domain import ProofIndex

    titles = _titles(Path(app.srcdir))

    def generate(self: Any, docnames: Any = None) -> tuple[list[Any], bool]:
        content: dict[str, list[Any]] = defaultdict(list)
        proofs = getattr(self.domain.env, "proof_list", {})
        for anchor, values in proofs.items():
            name = titles.get(anchor, anchor)
            content[name[:1].upper()].append(
                (name, 0, values["docname"], anchor, values["docname"], "", values["realtype"])
            )
        for entries in content.values():
            entries.sort(key=lambda e: e[0].lower())
        return sorted(content.items()), True

    ProofIndex.generate = generate  # type: ignore[method-assign]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _patch)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
