"""The package as a user gets it: a wheel, installed into a fresh venv outside the repository.

The wheel and sdist are built (``python -m build --no-isolation``) from a copy of the package
sources. Two venvs are made in a tmp folder; neither can reach the repository and neither
touches the network: they see the dependencies already installed in the running
interpreter's site-packages through a *shadow* folder of symlinks that leaves out every
luckbook entry (the editable install's ``__editable__*`` finder and its dist-info), listed
in a ``.pth`` file.

- venv A gets the wheel (``pip install --no-deps --no-index``): the ``luckbook`` console
  script lists and runs an experiment, and ``notebooks/two_layer.ipynb``, copied alone into an
  empty folder, runs top to bottom at ``LUCKBOOK_SCALE=tiny``.
- venv B has no luckbook: a copy of the setting notebook with the install cell (written by
  ``tools/notebooks.py install-cell``) installs it from the wheel through
  ``$LUCKBOOK_INSTALL_SOURCE`` and runs top to bottom.

In both, a last cell appended to the copy reports where ``luckbook`` was imported from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(sysconfig.get_paths()["purelib"])
NOTEBOOK = ROOT / "notebooks" / "two_layer.ipynb"
PROBE = (
    "import json, sys, luckbook\n"
    "print('LUCKBOOK-PROBE', json.dumps({'file': luckbook.__file__,"
    " 'version': luckbook.__version__, 'executable': sys.executable, 'path': sys.path}))"
)


def _run(cmd, *, env=None, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
        f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """Wheel and sdist built from a copy of the sources (nothing written into the repo)."""
    tmp = tmp_path_factory.mktemp("build")
    src = tmp / "src"
    src.mkdir()
    shutil.copytree(
        ROOT / "luckbook", src / "luckbook", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    out = tmp / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src])
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


def _shadow_site(tmp: Path) -> Path:
    """Symlinks to the running interpreter's site-packages, minus luckbook and .pth files."""
    shadow = tmp / "shadow-site-packages"
    shadow.mkdir()
    for entry in SITE.iterdir():
        name = entry.name.lower()
        if name.startswith(("luckbook", "__editable__")) or name.endswith(".pth"):
            continue
        (shadow / entry.name).symlink_to(entry)
    return shadow


def _venv(tmp: Path, name: str, shadow: Path) -> Path:
    venv = tmp / name
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    purelib = Path(
        _run(
            [
                venv / "bin" / "python",
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ]
        ).stdout.strip()
    )
    (purelib / "_shared_deps.pth").write_text(f"{shadow}\n")
    return venv


def _env(tmp: Path, cache: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER"))
    }
    jupyter = tmp / "jupyter"
    env.update(
        LUCKBOOK_SCALE="tiny",
        LUCKBOOK_CACHE_DIR=str(cache),
        OMP_NUM_THREADS="1",
        # no kernelspec but the venv's own python (ipykernel's native spec)
        JUPYTER_PATH=str(jupyter / "path"),
        JUPYTER_DATA_DIR=str(jupyter / "data"),
        JUPYTER_CONFIG_DIR=str(jupyter / "config"),
        JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
        IPYTHONDIR=str(jupyter / "ipython"),
        MPLCONFIGDIR=str(jupyter / "mpl"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        **extra,
    )
    return env


RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(sys.argv[2]))
resources = {"metadata": {"path": "."}}
NotebookClient(nb, timeout=600, kernel_name="python3", resources=resources).execute()
nbformat.write(nb, sys.argv[1])
"""


def _execute(venv: Path, notebook: Path, env: dict[str, str]) -> tuple[dict, list[str]]:
    """Run ``notebook`` in its folder with ``venv``'s python; (probe, text outputs per cell)."""
    _run(
        [venv / "bin" / "python", "-c", RUNNER, notebook.name, PROBE],
        env=env,
        cwd=notebook.parent,
        timeout=600,
    )
    nb = json.loads(notebook.read_text())
    texts = [
        "".join(
            "".join(o.get("text", ""))
            for o in cell.get("outputs", [])
            if o.get("output_type") == "stream"
        )
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
    ]
    line = next(x for x in texts[-1].splitlines() if x.startswith("LUCKBOOK-PROBE "))
    return json.loads(line.removeprefix("LUCKBOOK-PROBE ")), texts


def _assert_outside_repo(probe: dict, venv: Path) -> None:
    assert Path(probe["file"]).resolve().is_relative_to(venv.resolve()), (
        f"luckbook imported from {probe['file']}, not from the wheel installed in {venv}"
    )
    assert Path(probe["executable"]).parent.parent.resolve() == venv.resolve(), probe["executable"]
    leaks = [p for p in probe["path"] if p and Path(p).resolve().is_relative_to(ROOT)]
    assert not leaks, f"the repository is on the kernel's sys.path: {leaks}"


def test_wheel_and_sdist_metadata(dist):
    with zipfile.ZipFile(dist["wheel"]) as whl:
        names = whl.namelist()
        meta = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = whl.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    assert "luckbook/__init__.py" in names and "luckbook/experiments/__init__.py" in names
    assert any(n.endswith("licenses/LICENSE") for n in names), names
    assert "License-Expression: MIT" in meta
    for field in (
        "Summary: Executable companion",
        "Project-URL: Repository",
        "Classifier: ",
        "Provides-Extra: widgets",
    ):
        assert field in meta, f"{field!r} missing from METADATA"
    assert "luckbook = luckbook.cli:main" in entry
    with tarfile.open(dist["sdist"]) as sdist:
        members = sdist.getnames()
    assert any(m.endswith("/LICENSE") for m in members) and any(
        m.endswith("/README.md") for m in members
    )


def test_wheel_in_fresh_venvs(dist, tmp_path):
    shadow = _shadow_site(tmp_path)
    cache = tmp_path / "cache"

    # venv A: the wheel installed; the console script and the bare notebook.
    venv = _venv(tmp_path, "venv-wheel", shadow)
    py = venv / "bin" / "python"
    env = _env(tmp_path, cache)
    probe = _run(
        [py, "-c", "import importlib.util as u; print(u.find_spec('luckbook'))"],
        env=env,
        cwd=tmp_path,
    )
    assert probe.stdout.strip() == "None", f"luckbook importable before install: {probe.stdout}"
    _run(
        [py, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", dist["wheel"]],
        env=env,
        cwd=tmp_path,
    )
    listing = _run([venv / "bin" / "luckbook", "list"], env=env, cwd=tmp_path).stdout
    assert "two-layer" in listing
    run = _run(
        [
            venv / "bin" / "luckbook",
            "run",
            "two-layer",
            "--scale",
            "tiny",
            "--set",
            "steps=200",
            "--set",
            "n_snapshots=2",
            "--seeds",
            "2",
            "--json",
            "-",
        ],
        env=env,
        cwd=tmp_path,
    )
    result = json.loads(run.stdout[run.stdout.index("{") :])
    assert result, "empty JSON from luckbook run"

    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy2(NOTEBOOK, bare / NOTEBOOK.name)
    probe, _ = _execute(venv, bare / NOTEBOOK.name, env)
    _assert_outside_repo(probe, venv)

    # venv B: no luckbook; the notebook's install cell installs the wheel.
    venv_b = _venv(tmp_path, "venv-empty", shadow)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy2(NOTEBOOK, fresh / NOTEBOOK.name)
    _run([sys.executable, ROOT / "tools" / "notebooks.py", "install-cell", fresh / NOTEBOOK.name])
    env_b = _env(
        tmp_path,
        cache,
        LUCKBOOK_INSTALL_SOURCE=str(dist["wheel"]),
        PIP_NO_INDEX="1",
        PIP_NO_DEPS="1",
    )
    probe, texts = _execute(venv_b, fresh / NOTEBOOK.name, env_b)
    _assert_outside_repo(probe, venv_b)
    assert f"installed from {dist['wheel']}" in texts[0], f"install cell said: {texts[0]!r}"
    assert len(texts[0].strip().splitlines()) == 1, texts[0]
