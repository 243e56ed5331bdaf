"""One source of truth for where the book lives: ``_config.yml``'s ``repository:`` block.

README's links, pyproject's ``[project.urls]`` and the notebooks' install cells are derived
from it by ``python tools/notebooks.py sync`` (and ``install-cell``); these tests fail when
they disagree, and check on a copy of the repository that a fork needs one edit and one
command.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "notebooks.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("luckbook_tools_notebooks", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def _cli(*args, root: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(root / "tools" / "notebooks.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_readme_and_pyproject_match_config():
    problems = tool.sync(check=True)
    assert not problems, "\n".join(problems) + "\nrun `python tools/notebooks.py sync`"


def test_every_notebook_has_the_current_install_cell():
    stale = tool.install_cell([tool.NOTEBOOKS], check=True)
    assert not stale, (
        "notebooks without the current install cell: "
        + ", ".join(p.name for p in stale)
        + "\nrun `python tools/notebooks.py install-cell`"
    )


def test_launch_links_derive_from_config():
    url, branch = tool.repository()
    assert url.startswith("https://") and branch
    readme = (ROOT / "README.md").read_text()
    assert f"git+{url}@{branch}" in readme
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'Repository = "{url}"' in pyproject


@pytest.fixture
def fork(tmp_path) -> Path:
    """A copy of what the sync touches: config, README, pyproject, two notebooks, the tool and
    the version file."""
    for name in ("_config.yml", "README.md", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / "tools").mkdir()
    shutil.copy2(TOOL, tmp_path / "tools" / "notebooks.py")
    (tmp_path / "luckbook").mkdir()
    shutil.copy2(ROOT / "luckbook" / "_version.py", tmp_path / "luckbook" / "_version.py")
    (tmp_path / "notebooks").mkdir()
    for name in ("two_layer.ipynb", "lucky.ipynb"):
        shutil.copy2(ROOT / "notebooks" / name, tmp_path / "notebooks" / name)
    return tmp_path


def test_a_fork_edits_one_line_and_runs_one_command(fork):
    assert _cli("install-cell", root=fork).returncode == 0
    assert _cli("sync", root=fork).returncode == 0
    assert _cli("sync", "--check", root=fork).returncode == 0
    config = fork / "_config.yml"
    text = config.read_text()
    assert "url: https://github.com/luckbook/luckbook\n" in text
    config.write_text(
        text.replace(
            "url: https://github.com/luckbook/luckbook\n",
            "url: https://github.com/someone/coursebook\n",
        ).replace("branch: main\n", "branch: fall-2026\n")
    )
    check = _cli("sync", "--check", root=fork)
    assert check.returncode == 1
    for name in ("README.md", "pyproject.toml", "two_layer.ipynb", "lucky.ipynb"):
        assert name in check.stdout, f"sync --check did not flag {name}:\n{check.stdout}"

    assert _cli("sync", root=fork).returncode == 0
    assert _cli("sync", "--check", root=fork).returncode == 0
    new = "https://github.com/someone/coursebook"
    assert f"git+{new}@fall-2026" in (fork / "README.md").read_text()
    assert "mybinder.org/v2/gh/someone/coursebook/fall-2026" in (fork / "README.md").read_text()
    assert f'Source = "{new}/tree/fall-2026"' in (fork / "pyproject.toml").read_text()
    for nb in (fork / "notebooks").glob("*.ipynb"):
        cells = json.loads(nb.read_text())["cells"]
        install = next(c for c in cells if c["cell_type"] == "code")
        assert f"git+{new}@fall-2026" in "".join(install["source"]), nb.name
        assert install["metadata"]["tags"] == ["remove-cell"]
    assert "luckbook/luckbook" not in (fork / "pyproject.toml").read_text()


def test_install_cell_is_first_code_cell_and_idempotent(fork):
    nb_path = fork / "notebooks" / "two_layer.ipynb"
    original = json.loads(nb_path.read_text())
    assert _cli("install-cell", nb_path, root=fork).returncode == 0
    once = nb_path.read_bytes()
    assert _cli("install-cell", "--check", nb_path, root=fork).returncode == 0
    assert _cli("install-cell", nb_path, root=fork).returncode == 0
    assert nb_path.read_bytes() == once
    cells = json.loads(once)["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "".join(code[0]["source"]).startswith(tool.INSTALL_MARKER)
    assert sum(tool._is_install_cell(c) for c in cells) == 1
    # everything else is untouched, byte for byte once the cell is taken out again
    others = [c for c in original["cells"] if not tool._is_install_cell(c)]
    assert [c for c in cells if not tool._is_install_cell(c)] == others


def test_install_cell_source_passes_ruff(tmp_path):
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff not installed next to this interpreter")
    code = tmp_path / "cell.py"
    code.write_text(tool.install_cell_source("https://github.com/a/b", "main", "0.1.0") + "\n")
    config = ["--config", str(ROOT / "pyproject.toml")]
    assert subprocess.run([ruff, "check", *config, code], capture_output=True).returncode == 0
    fmt = subprocess.run([ruff, "format", "--check", *config, code], capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_install_cell_does_nothing_when_luckbook_is_importable(capsys):
    exec(
        compile(
            tool.install_cell_source("https://example.invalid/x", "main", tool.version()),
            "cell",
            "exec",
        ),
        {},
    )
    assert capsys.readouterr().out == ""
