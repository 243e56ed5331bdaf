"""Student and instructor editions of the notebooks, and the student book's solution filter.

All on copies: ``tools/notebooks.py student|instructor OUT --from <copy>``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "notebooks.py"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXERCISE_LABEL = re.compile(r"\{exercise\}[^\n]*\n:label:\s*(\S+)")  # a title may follow

spec = importlib.util.spec_from_file_location("luckbook_tools_notebooks", TOOL)
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def _text(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"])


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("editions")
    copy = tmp / "copy"
    copy.mkdir()
    for nb in NOTEBOOKS:
        shutil.copy2(nb, copy / nb.name)
    out = {"copy": copy}
    for kind in ("student", "instructor"):
        proc = subprocess.run(
            [sys.executable, TOOL, kind, tmp / kind, "--from", copy], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out[kind] = tmp / kind
    return out


@pytest.mark.parametrize("name", [nb.name for nb in NOTEBOOKS])
def test_student_edition_has_every_exercise_and_no_solution(editions, name):
    full = json.loads((editions["copy"] / name).read_text())
    student = json.loads((editions["student"] / name).read_text())
    assert full == json.loads((ROOT / "notebooks" / name).read_text()), "the source copy changed"
    text = _text(student)
    assert "{solution" not in text, f"{name}: a solution marker is left"
    assert EXERCISE_LABEL.findall(text) == EXERCISE_LABEL.findall(_text(full)), name

    # no code cell of a solution survives; every other code cell does, in order
    def is_install(cell):
        return "".join(cell["source"]).startswith(tool.INSTALL_MARKER)

    kept = [c["source"] for c in student["cells"] if c["cell_type"] == "code" and not is_install(c)]
    solution_code = _solution_code_cells(full)
    assert solution_code, f"{name}: expected solution code cells"
    others = [
        c["source"]
        for c in full["cells"]
        if c["cell_type"] == "code" and c["source"] not in solution_code and not is_install(c)
    ]
    assert kept == others
    code = [c for c in student["cells"] if c["cell_type"] == "code"]
    assert "".join(code[0]["source"]).startswith(tool.INSTALL_MARKER)
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def _solution_code_cells(nb: dict) -> list:
    out, inside = [], False
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            starts, ends = src.rfind("{solution-start}"), src.rfind("{solution-end}")
            if starts > ends:
                inside = True
            elif ends > starts:
                inside = False
        elif inside:
            out.append(cell["source"])
    return out


@pytest.mark.parametrize("name", [nb.name for nb in NOTEBOOKS])
def test_instructor_edition_keeps_everything(editions, name):
    full = json.loads((editions["copy"] / name).read_text())
    inst = json.loads((editions["instructor"] / name).read_text())

    def without_install(cells):
        return [c for c in cells if not tool._is_install_cell(c)]

    assert without_install(inst["cells"]) == without_install(tool.cleared(full)["cells"])
    assert sum(tool._is_install_cell(c) for c in inst["cells"]) == 1


def test_editions_are_idempotent(editions, tmp_path):
    for kind in ("student", "instructor"):
        again = tmp_path / kind
        tool.edition(kind, again, [editions["copy"]])
        tool.edition(kind, again, [editions["copy"]])
        for nb in editions[kind].glob("*.ipynb"):
            assert (again / nb.name).read_bytes() == nb.read_bytes(), (kind, nb.name)


def _nb(*cells: tuple[str, str]) -> dict:
    return {
        "cells": [{"cell_type": t, "metadata": {}, "source": s} for t, s in cells],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }


def test_strip_solutions_cases():
    fence = "````"
    nb = _nb(
        ("markdown", "```{exercise}\n:label: a\nDo A.\n```\n\n```{solution} a\nSecret A.\n```\n"),
        (
            "markdown",
            f"```{{exercise}}\n:label: b\nDo B.\n```\n\n"
            f"{fence}{{solution-start}} b\n:class: dropdown\n{fence}\n",
        ),
        ("code", "secret_b = 1"),
        ("markdown", f"Secret B.\n\n{fence}{{solution-end}}\n{fence}\n\nAfter B."),
        (
            "markdown",
            f"{fence}{{solution-start}} c\n{fence}\nSecret C.\n{fence}{{solution-end}}\n{fence}",
        ),
        ("code", "kept = 2"),
    )
    out = tool.strip_solutions(nb)
    text = _text(out)
    assert "Secret" not in text and "secret_b" not in text and "{solution" not in text
    assert "Do A." in text and "Do B." in text and "After B." in text
    assert [c["source"] for c in out["cells"] if c["cell_type"] == "code"] == ["kept = 2"]
    with pytest.raises(ValueError, match="without a"):
        tool.strip_solutions(
            _nb(("markdown", f"{fence}{{solution-start}} x\n{fence}"), ("code", "x"))
        )
    with pytest.raises(ValueError, match="without a"):
        tool.strip_solutions(_nb(("markdown", f"{fence}{{solution-end}}\n{fence}")))


DOC = """\
# Page

```{exercise}
:label: ex1

EXERCISE-ONE
```

```{solution} ex1
:class: dropdown

SOLUTION-PLAIN
```

```{exercise}
:label: ex2

EXERCISE-TWO
```

````{solution-start} ex2
:class: dropdown
````

SOLUTION-GATED

```python
print("SOLUTION-CODE")
```

````{solution-end}
````

AFTER-THE-SOLUTION
"""


@pytest.mark.slow
@pytest.mark.parametrize("hide", [False, True])
def test_sphinx_extension_drops_gated_and_plain_solutions(tmp_path, hide):
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.md").write_text(DOC)
    (src / "conf.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(ROOT / "book" / "_ext")!r})
            extensions = ["myst_parser", "sphinx_exercise", "luckbook_solutions"]
            myst_enable_extensions = ["colon_fence"]
            luckbook_hide_solutions = {hide}
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", src, tmp_path / "html"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = (tmp_path / "html" / "index.html").read_text()
    for word in ("EXERCISE-ONE", "EXERCISE-TWO", "AFTER-THE-SOLUTION"):
        assert word in html
    for word in ("SOLUTION-PLAIN", "SOLUTION-GATED", "SOLUTION-CODE"):
        assert (word in html) is not hide, (word, hide)


@pytest.mark.slow
def test_sphinx_extension_strips_downloadable_notebooks(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy2(ROOT / "notebooks" / "two_layer.ipynb", src / "index.ipynb")
    (src / "conf.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(ROOT / "book" / "_ext")!r})
            extensions = ["myst_nb", "sphinx_exercise", "luckbook_solutions"]
            myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath"]
            nb_execution_mode = "off"
            suppress_warnings = ["myst.domains", "myst.xref_missing", "myst.role_unknown"]
            luckbook_hide_solutions = True
            html_sourcelink_suffix = ""  # as Jupyter Book sets it
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", src, tmp_path / "html"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    source = json.loads((tmp_path / "html" / "_sources" / "index.ipynb").read_text())
    assert "{solution" not in _text(source)
    assert "ex-setting-prune" in _text(source)
    html = (tmp_path / "html" / "index.html").read_text()
    assert "Net.prune" in html  # the exercise stays
    assert "student_net.prune" not in html  # its solution's code does not


def test_student_config(tmp_path):
    import yaml

    path = tool.student_config(tmp_path / "_config.yml")
    data = yaml.safe_load(path.read_text())
    assert data["sphinx"]["config"]["luckbook_hide_solutions"] is True
    assert "luckbook_solutions" in data["sphinx"]["config"]["extensions"]
    ext = Path(data["sphinx"]["local_extensions"]["luckbook_solutions"])
    assert ext.is_absolute() and (ext / "luckbook_solutions.py").is_file()
    assert Path(data["execute"]["cache"]) == ROOT / "_build" / ".jupyter_cache"
    # the launch buttons (Binder, Colab) open the branch of student notebooks
    assert data["repository"]["branch"] == tool.STUDENT_BRANCH
    assert data["repository"]["url"] == tool.repository()[0]


def test_student_branch_holds_the_notebooks_without_solutions(tmp_path):
    """`student-branch` commits the student edition to a local branch, beside the current one,
    without touching the working tree; its notebooks have every exercise and no solution."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    tool_in_clone = clone / "tools" / "notebooks.py"
    shutil.copy2(TOOL, tool_in_clone)  # the tool under test, even if not committed yet
    before = subprocess.run(
        ["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True
    ).stdout
    out = subprocess.run(
        [sys.executable, str(tool_in_clone), "student-branch", "--branch", "handout"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "git push origin handout" in out

    def show(ref: str, path: str) -> str:
        return subprocess.run(
            ["git", "show", f"{ref}:{path}"],
            cwd=clone,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        student = show("handout", f"notebooks/{nb.name}")
        full = show("HEAD", f"notebooks/{nb.name}")
        assert "solution-start" not in student and "{solution}" not in student, nb.name
        assert student.count("{exercise}") == full.count("{exercise}"), nb.name
    assert show("handout", "README.md") == show("HEAD", "README.md")  # the rest is HEAD's
    after = subprocess.run(
        ["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True
    ).stdout
    assert after == before  # the working tree is untouched
