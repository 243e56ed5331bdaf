"""Sphinx extension: drop every solution from the book when ``luckbook_hide_solutions`` is set.

The student edition of the book (``make book-student``) sets it. sphinx-exercise's own
``hide_solutions`` cannot be used: with *gated* solutions (``{solution-start}`` ...
``{solution-end}``, which the notebooks use to put code cells in a solution) it suppresses
only the start marker, so the build crashes on the orphaned end node
(executablebooks/sphinx-exercise#89) and the code in between would stay visible anyway.
This transform runs after sphinx-exercise has merged each gated solution into one solution
node (priority 10) and removes every solution node, gated or not, with all it contains;
when the build is done, the notebooks offered for download (``_sources``) lose their
solutions as well (``tools/notebooks.py``'s ``strip_solutions``).
"""

from __future__ import annotations

from sphinx.transforms import SphinxTransform
from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node


class RemoveSolutions(SphinxTransform):
    default_priority = 11  # after sphinx_exercise.transforms.MergeGatedSolutions (10)

    def apply(self, **kwargs) -> None:
        if not self.config.luckbook_hide_solutions:
            return
        for cls in (solution_node, solution_start_node, solution_end_node):
            for node in list(self.document.findall(cls)):
                node.parent.remove(node)


def strip_sources(app, exception) -> None:
    """The downloadable notebooks (``_sources/**/*.ipynb``) lose their solutions too."""
    if exception is not None or not app.config.luckbook_hide_solutions:
        return
    import importlib.util
    import json
    from pathlib import Path

    tool_path = Path(__file__).resolve().parents[2] / "tools" / "notebooks.py"
    spec = importlib.util.spec_from_file_location("luckbook_tools_notebooks", tool_path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    sources = Path(app.outdir, "_sources")
    for path in [*sources.rglob("*.ipynb"), *sources.rglob("*.ipynb.txt")]:
        nb = json.loads(path.read_text(encoding="utf-8"))
        tool.write_nb(path, tool.strip_solutions(nb))


def setup(app):
    app.setup_extension("sphinx_exercise")
    app.add_config_value("luckbook_hide_solutions", False, "env")
    app.add_transform(RemoveSolutions)
    app.connect("build-finished", strip_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
