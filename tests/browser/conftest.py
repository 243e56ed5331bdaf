"""Session fixtures of the browser tests: the built book and one headless Chromium.

Shared by every module here (one Playwright instance per session: a second sync_playwright
in the same session fails). ``browser`` does not need the built book (``test_lab.py`` drives
a live JupyterLab instead); the tests over the book ask for ``book`` themselves.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_book import CHROMIUM_ARGS, HTML, INSTALL_HINT, NOT_BUILT, _find_chromium


@pytest.fixture(scope="session")
def book() -> Path:
    if not (HTML / "index.html").is_file():
        pytest.fail(NOT_BUILT, pytrace=False)
    return HTML


@pytest.fixture(scope="session")
def browser():
    executable = _find_chromium()
    if executable is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - requirements.txt installs it
        pytest.fail(f"playwright is not installed ({exc}); run `make test`", pytrace=False)
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Exception as exc:
            pytest.fail(f"could not start {executable}: {exc}\n{INSTALL_HINT}", pytrace=False)
        yield browser
        browser.close()
