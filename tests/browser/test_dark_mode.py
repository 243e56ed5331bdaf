"""Dark mode of the built book: every figure stays readable.

Opens one chapter (the setting chapter, which has plain figures and both kinds of static
panel) with the theme's dark mode chosen the way a reader's toggle stores it
(``localStorage`` ``mode``/``theme`` = ``dark``, read by pydata-sphinx-theme before the page
paints), from disk and offline like ``test_book.py``. Every figure image is screenshotted as
rendered (CSS filters applied) and must not be mostly white (a glaring box on the dark page)
nor flat (black axes on a black background would be); the static panels must sit on a dark
surface. A full-page screenshot goes to ``_build/screenshots/dark__...png`` for a human look.
"""

from __future__ import annotations

import io
import shutil

import pytest
from test_book import HTML, SCREENSHOTS, SETTING, _new_visit, _settle, book, browser  # noqa: F401

pytestmark = pytest.mark.browser

MAX_WHITE = 0.5  # fraction of near-white pixels allowed in a figure in dark mode
MIN_SPREAD = 40  # luminance spread (p95 - p5, 0-255): axes and text stand out


@pytest.fixture
def dark_page(browser, book):  # noqa: F811
    visit = _new_visit(browser, SETTING)
    visit.page.context.add_init_script(
        "localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');"
    )
    visit.page.goto((HTML / SETTING).as_uri(), wait_until="load")
    _settle(visit)
    yield visit
    visit.page.context.close()


def _luminance_stats(png: bytes) -> tuple[float, float, float]:
    """(fraction of near-white pixels, mean luminance, p95 - p5 spread) of a screenshot."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float)
    lum = rgb @ np.array([0.299, 0.587, 0.114])
    white = float((rgb.min(axis=2) > 225).mean())
    p5, p95 = np.percentile(lum, [5, 95])
    return white, float(lum.mean()), float(p95 - p5)


def test_dark_mode_figures_are_readable(dark_page, tmp_path):
    page = dark_page.page
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark", (
        "the theme did not switch to dark mode"
    )
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    figures = page.locator("main .cell_output img, main img.luckbook-figure")
    assert figures.count() >= 3, f"expected the chapter's figures, found {figures.count()}"
    problems = []
    for i in range(figures.count()):
        img = figures.nth(i)
        if not img.is_visible():
            continue
        img.scroll_into_view_if_needed()
        white, mean, spread = _luminance_stats(img.screenshot())
        if white > MAX_WHITE:
            problems.append(f"figure {i}: {white:.0%} near-white pixels (a white box)")
        if spread < MIN_SPREAD:
            problems.append(f"figure {i}: luminance spread {spread:.0f} (unreadable)")
    panels = page.locator(".luckbook-static")
    for i in range(panels.count()):
        color = panels.nth(i).evaluate("p => getComputedStyle(p).backgroundColor")
        rgb = [int(c) for c in color[color.index("(") + 1 : color.index(")")].split(",")[:3]]
        if sum(rgb) / 3 > 100:
            problems.append(f"static panel {i} has a light background {color} (page: {background})")
    shot = tmp_path / "dark__notebooks__setting.png"
    page.screenshot(path=str(shot), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shot, SCREENSHOTS / shot.name)
    assert not problems, "\n".join(problems)
    assert not dark_page.blocked, dark_page.blocked
    assert not dark_page.errors, "\n".join(dark_page.errors)
