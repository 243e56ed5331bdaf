"""Binder (repo2docker) files: the repository opens with the package installed, CPU torch."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def _pins(path: Path) -> dict[str, str]:
    """``{name: specifier}`` of the requirement lines of a requirements file."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", line)
        if match and not line.startswith("-"):
            pins[match.group(1).lower()] = match.group(2).replace(" ", "")
    return pins


def test_binder_files_exist():
    assert (BINDER / "requirements.txt").is_file()
    post = BINDER / "postBuild"
    assert post.is_file() and os.access(post, os.X_OK), "binder/postBuild must be executable"
    assert re.search(r"pip install .*\s\.\s*$", post.read_text(), re.M), (
        "postBuild installs the package"
    )


def test_binder_pins_the_same_cpu_torch():
    binder, main = _pins(BINDER / "requirements.txt"), _pins(ROOT / "requirements.txt")
    assert binder["torch"].startswith("=="), f"binder torch is not pinned: {binder['torch']!r}"
    assert binder["torch"] == main["torch"], (binder["torch"], main["torch"])
    assert CPU_INDEX in (BINDER / "requirements.txt").read_text()
    for name in ("numpy", "matplotlib", "ipywidgets", "tqdm"):
        assert binder.get(name) == main.get(name), (
            f"{name}: binder {binder.get(name)} vs {main.get(name)}"
        )
    assert "jupyterlab-myst" in binder, (
        "MyST directives would show as raw text in Binder's JupyterLab"
    )


def test_jupyterlab_is_one_that_loads_jupyterlab_myst():
    """JupyterLab 4.6 bundles @jupyter/ydoc 4; jupyterlab-myst 2.7 needs 3 and is then inert
    (``jupyter labextension list``: "not compatible"). Binder, the lab extra and the dev
    environment (requirements.txt, which make lab uses) pin it."""
    binder = _pins(BINDER / "requirements.txt")
    assert binder["jupyterlab"] == ">=4,<4.6", binder["jupyterlab"]
    assert '"jupyterlab>=4,<4.6"' in (ROOT / "pyproject.toml").read_text()
    assert _pins(ROOT / "requirements.txt")["jupyterlab"] == ">=4,<4.6"
