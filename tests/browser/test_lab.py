"""A student's path through the setting chapter in JupyterLab, driven in headless Chromium.

Starts ``jupyter lab`` on 127.0.0.1 (a free port, a random token, no browser) over a temp
copy of ``notebooks/two_layer.ipynb``, with ``LUCKBOOK_SCALE=tiny``, a fresh results cache and
this checkout first on the kernel's ``PYTHONPATH``; Jupyter's config, data, settings and
IPython folders are temp folders too, so the user's settings do not leak in (the venv's
lab extensions still load). Then, as a student would: open the chapter, Run > Run All
Cells, wait for every cell to finish; check that jupyterlab-myst renders the MyST
directives (theorem and exercise boxes, no raw ``:label:`` or fences); find the live panel of
``lb.explorer("two-layer", ...)`` by its widgets (sliders multi, init_scale, p, lr and a
**Run** button, not by cell index), press Run and wait for a figure and "done: ...", move
the multi slider with the keyboard, Run again and check that the status and the figure
change, then push lr to its maximum (1e0) and Run: the panel must explain the divergence
("diverged", "lr=") and never show a traceback. The server is shut down even on failure.

Screenshots go to ``$TMPDIR/lab_*.png`` for a human look. Needs JupyterLab (< 4.6) with
jupyterlab-myst and ipywidgets (the ``lab`` extra of pyproject.toml, ``make lab``); skipped
with a message where they are missing. About 75 s at ``tiny`` scale on a loaded two-core
machine: 15 s to start the server, 45 s for the kernel to run the chapter, 10 s of panel runs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_book import ROOT, VIEWPORT

pytestmark = pytest.mark.browser

NOTEBOOK = "two_layer.ipynb"
SCREENSHOTS = Path(tempfile.gettempdir())
START_S = 90  # the server answers /api/status (a few seconds; more on a loaded machine)
OPEN_MS = 90_000  # the notebook opens and its kernel is idle
RUN_ALL_MS = 300_000  # every cell of the chapter has run (about 60 s at tiny scale)
PANEL_RUN_MS = 120_000  # one press of Run (4 seeds at tiny scale: a few seconds)
UI_MS = 30_000  # any other wait on the page
SLIDERS = ("multi", "init_scale", "p", "lr")
# Settings of the temp user-settings folder: no news/update toast over the notebook, no
# "Select Kernel" dialog (on a slow start JupyterLab may ask instead of starting the
# notebook's kernel), and every cell in the DOM (no windowing), so the checks see it all.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": (
        '{"autoStartDefaultKernel": true}'
    ),
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": (
        '{"fetchNews": "false", "checkForUpdates": false}'
    ),
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}',
}
# Every code cell has run (a number in its prompt), or Run All stopped at an error.
ALL_RUN_JS = """() => {
  const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
  const busy = prompts.some(p => p.textContent.includes('*'));
  const done = prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
  const failed = [...document.querySelectorAll('.jp-OutputArea-output')]
    .some(o => o.textContent.includes('Traceback (most recent call last)'));
  const idle = document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]');
  return !busy && (done || failed) && !!idle;
}"""


def _jupyter_script(name: str) -> str | None:
    """``jupyter-<name>`` of this interpreter's environment, else of $PATH."""
    local = Path(sys.executable).parent / f"jupyter-{name}"
    return str(local) if local.is_file() else shutil.which(f"jupyter-{name}")


def _lab_missing(env: dict[str, str]) -> str | None:
    """Why JupyterLab with jupyterlab-myst cannot run here, or None."""
    hint = 'pip install "jupyterlab>=4,<4.6" "jupyterlab-myst>=2.7" ipywidgets (or `make lab`)'
    if _jupyter_script("lab") is None:
        return f"jupyter-lab is not installed: {hint}"
    labextension = _jupyter_script("labextension")
    if labextension is None:
        return f"jupyter-labextension is not installed: {hint}"
    listed = subprocess.run(
        [labextension, "list"], env=env, capture_output=True, text=True, timeout=120
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)
    if not re.search(r"jupyterlab-myst\s.*enabled.*OK", text):
        return f"jupyterlab-myst is not enabled in `jupyter labextension list`: {hint}"
    if "@jupyter-widgets/jupyterlab-manager" not in text:
        return f"ipywidgets' JupyterLab extension is not installed: {hint}"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    base: str  # http://127.0.0.1:<port>
    token: str
    log: Path  # the server's log (stdout and stderr)

    @property
    def url(self) -> str:
        """The notebook in JupyterLab (token included, a fresh workspace)."""
        return f"{self.base}/lab/tree/{NOTEBOOK}?token={self.token}&reset"

    def kernel_state(self) -> str | None:
        """Execution state of the notebook's kernel (None: no session yet)."""
        url = f"{self.base}/api/sessions?token={self.token}"
        with urllib.request.urlopen(url, timeout=10) as response:
            sessions = json.load(response)
        for session in sessions:
            if session.get("path", "").endswith(NOTEBOOK) and session.get("kernel"):
                return session["kernel"].get("execution_state")
        return None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the server if pytest dies without cleaning up (killed by `timeout`)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(proc: subprocess.Popen, base: str, token: str) -> None:
    """Shut the server (and with it the kernel) down: politely, then by signal."""
    if proc.poll() is None:
        request = urllib.request.Request(
            f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
        )
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except (OSError, urllib.error.URLError):
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            proc.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, sig)
    proc.wait(timeout=20)


@pytest.fixture
def lab(tmp_path, cache_dir):
    """A JupyterLab server over a temp copy of the setting chapter; shut down afterwards."""
    dirs = {k: tmp_path / k for k in ("notebooks", "config", "data", "ipython", "runtime")}
    for d in dirs.values():
        d.mkdir()
    settings = tmp_path / "lab-settings"
    for rel, text in LAB_SETTINGS.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(text)
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, dirs["notebooks"] / NOTEBOOK)
    env = dict(
        os.environ,
        LUCKBOOK_SCALE="tiny",
        LUCKBOOK_CACHE_DIR=str(cache_dir),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
        IPYTHONDIR=str(dirs["ipython"]),
        OMP_NUM_THREADS="1",  # tiny runs: threads only spin on a loaded machine
    )
    env.pop("LUCKBOOK_CACHE", None)
    missing = _lab_missing(env)
    if missing:
        pytest.skip(missing)
    port, token = _free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    cmd = [
        _jupyter_script("lab"),
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--ServerApp.root_dir={dirs['notebooks']}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.password=",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI runners
    log = tmp_path / "server.log"
    with open(log, "w") as log_file:
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    try:
        deadline = time.monotonic() + START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5).close()
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer in {START_S} s:\n{log.read_text()}")
                time.sleep(0.5)
        yield Lab(base=base, token=token, log=log)
    finally:
        _stop(proc, base, token)


def _wait_for_kernel(page, lab: Lab) -> None:
    """Until the notebook's kernel has started and is idle (answering a kernel dialog)."""
    deadline = time.monotonic() + OPEN_MS / 1000
    select = page.locator(".jp-Dialog button", has_text=re.compile(r"^Select$"))
    while (state := lab.kernel_state()) != "idle":
        if time.monotonic() > deadline:
            pytest.fail(f"the notebook's kernel is not idle after {OPEN_MS // 1000} s: {state}")
        if select.count():  # "Select Kernel": take the notebook's own, as a student would
            select.first.click()
        page.wait_for_timeout(500)
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(
        state="attached", timeout=UI_MS
    )


def _shot(target, name: str) -> None:
    target.screenshot(path=str(SCREENSHOTS / f"lab_{name}.png"))


def _slider(scope, name: str):
    """The slider labelled ``name`` inside ``scope`` (a page or a locator)."""
    page = getattr(scope, "page", scope)
    label = page.locator(".widget-label", has_text=re.compile(f"^{re.escape(name)}$"))
    return scope.locator(".widget-slider").filter(has=label)


def _press_run(panel, previous: str) -> str:
    """Press the panel's Run and wait until its status changes and settles; return it."""
    page, status = panel.page, panel.locator(".widget-html").first
    panel.locator(".widget-button", has_text="Run").click()
    page.wait_for_function(
        """([el, before]) => {
             const t = el.textContent.trim();
             return t !== before && !t.startsWith('running') && !t.startsWith('press Run');
           }""",
        arg=[status.element_handle(), previous],
        timeout=PANEL_RUN_MS,
    )
    return status.inner_text().strip()


def _figure_src(panel) -> str:
    img = panel.locator(".widget-output img")
    img.first.wait_for(state="visible", timeout=UI_MS)
    assert img.count() == 1, f"expected one figure in the panel's output, found {img.count()}"
    return img.first.get_attribute("src") or ""


def _no_traceback(panel) -> None:
    text = panel.inner_text()
    assert "Traceback" not in text and not re.search(r"^\w*Error\b", text, re.M), (
        f"the live panel shows a Python error:\n{text[-2000:]}"
    )


def test_setting_chapter_in_jupyterlab(lab, browser):
    started = time.monotonic()
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # -- open the chapter and run every cell, as a student does
        page.goto(lab.url)
        page.locator(".jp-Notebook").first.wait_for(timeout=OPEN_MS)
        _wait_for_kernel(page, lab)
        page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        label = page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$"))
        page.locator(".lm-Menu-item").filter(has=label).click()
        page.wait_for_function(ALL_RUN_JS, timeout=RUN_ALL_MS)
        ran = time.monotonic() - started
        failed = page.locator(".jp-OutputArea-output", has_text="Traceback (most recent call")
        assert failed.count() == 0, f"a cell raised:\n{failed.first.inner_text()[-3000:]}"

        # -- MyST directives render (jupyterlab-myst): boxes, no raw directive syntax
        boxes = page.locator(".jp-MarkdownCell :is(.myst-exercise, .myst-proof)")
        assert boxes.count() >= 2, "no rendered MyST theorem/exercise box (jupyterlab-myst?)"
        boxes.first.scroll_into_view_if_needed()
        _shot(page, "myst")
        rendered = "\n".join(
            page.locator(".jp-MarkdownCell .jp-RenderedMarkdown").all_inner_texts()
        )
        for raw in (":label:", "```{", "{prf:theorem}", "{exercise}"):
            assert raw not in rendered, f"raw MyST {raw!r} visible in a rendered markdown cell"

        # -- the live panel of lb.explorer("two-layer", ...), found by its widgets
        panel = page.locator(".widget-vbox").filter(
            has=page.locator(".widget-button", has_text="Run")
        )
        for name in SLIDERS:
            panel = panel.filter(has=_slider(page, name))
        assert panel.count() == 1, f"expected one live panel with sliders {SLIDERS}"
        panel = panel.first
        panel.scroll_into_view_if_needed()
        status = panel.locator(".widget-html").first
        first = _press_run(panel, status.inner_text().strip())
        assert first.startswith("done: "), f"first Run: status {first!r}"
        src1 = _figure_src(panel)
        _shot(panel, "panel_1")

        # -- move multi one step with the keyboard, Run: new numbers, new figure
        multi = _slider(panel, "multi")
        before = multi.locator(".widget-readout").inner_text()
        multi.locator(".noUi-handle").first.press("ArrowRight")
        after = multi.locator(".widget-readout").inner_text()
        assert after != before, f"multi did not move with the arrow key ({before} -> {after})"
        second = _press_run(panel, first)
        assert second.startswith("done: ") and f"multi={after.strip()}" in second, (
            f"after moving multi {before} -> {after}: status {second!r} (was {first!r})"
        )
        src2 = _figure_src(panel)
        assert src2 != src1, "the figure did not change after moving multi and pressing Run"
        _shot(panel, "panel_2")
        _shot(page, "panel_page")  # the panel as it sits in the notebook
        _no_traceback(panel)

        # -- lr to its maximum (1e0): the panel explains the divergence, no traceback
        lr = _slider(panel, "lr")
        lr.locator(".noUi-handle").first.press("End")
        readout = lr.locator(".widget-readout").inner_text().strip()
        assert float(readout) == 1.0, f"lr slider at {readout!r} after End, expected 1e+00"
        third = _press_run(panel, second)
        _shot(panel, "diverged")
        assert "diverged" in third and "lr=" in third, f"lr={readout}: status {third!r}"
        _no_traceback(panel)
        assert not errors, "uncaught errors in the page:\n" + "\n".join(errors)
        print(f"run all: {ran:.0f} s; whole test: {time.monotonic() - started:.0f} s")
    except Exception:
        _shot(page, "failure")
        print(f"server log ({lab.log}):\n{lab.log.read_text()[-3000:]}")
        raise
    finally:
        context.close()
