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
from test_book import HTML, SCREENSHOTS, SETTING, _new_visit, _settle

pytestmark = pytest.mark.browser

MAX_LIGHT = 0.5  # fraction of light pixels (luminance > 180 of 255) allowed in a figure
MIN_INK = 0.01  # fraction of pixels that stand out from the figure's background (axes, text)


@pytest.fixture
def dark_page(browser, book):
    visit = _new_visit(browser, SETTING)
    visit.page.context.add_init_script(
        "localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');"
    )
    visit.page.goto((HTML / SETTING).as_uri(), wait_until="load")
    _settle(visit)
    yield visit
    visit.page.context.close()


def _luminance_stats(png: bytes) -> tuple[float, float]:
    """(fraction of light pixels, fraction of pixels far from the median) of a screenshot."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float)
    lum = rgb @ np.array([0.299, 0.587, 0.114])
    light = float((lum > 180).mean())
    ink = float((np.abs(lum - np.median(lum)) > 60).mean())
    return light, ink


def _lum(css_color: str) -> float:
    """Luminance (0-255) of a computed CSS ``rgb(...)``/``rgba(...)`` colour."""
    r, g, b = (float(c) for c in css_color[css_color.index("(") + 1 : -1].split(",")[:3])
    return 0.299 * r + 0.587 * g + 0.114 * b


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
        # the figure as the reader sees it: with the output box around it (themes put a card there)
        box = img.locator("xpath=ancestor::div[contains(@class, 'output')][1]")
        light, ink = _luminance_stats((box if box.count() else img).screenshot())
        if light > MAX_LIGHT:
            problems.append(f"figure {i}: {light:.0%} light pixels (a white box on the dark page)")
        if ink < MIN_INK:
            problems.append(f"figure {i}: only {ink:.1%} of pixels stand out (unreadable)")
    panels = page.locator(".luckbook-static")
    for i in range(panels.count()):
        color = panels.nth(i).evaluate("p => getComputedStyle(p).backgroundColor")
        if _lum(color) > 100:
            problems.append(f"static panel {i} has a light background {color} (page: {background})")
        # text in the panel (names, numbers, the reproduce code) stands out from its background
        for part in panels.nth(i).locator(".lb-name, .lb-value, pre.lb-numbers, pre.lb-code").all():
            fg, bg = part.evaluate(
                """el => { let b = el; let c = getComputedStyle(b).backgroundColor;
                   while (c === 'rgba(0, 0, 0, 0)' && b.parentElement) {
                     b = b.parentElement; c = getComputedStyle(b).backgroundColor; }
                   return [getComputedStyle(el).color, c]; }"""
            )
            if abs(_lum(fg) - _lum(bg)) < 100:
                problems.append(f"static panel {i}: text {fg} on {bg} is hard to read")
    shot = tmp_path / "dark__notebooks__setting.png"
    page.screenshot(path=str(shot), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shot, SCREENSHOTS / shot.name)
    assert not problems, "\n".join(problems)
    assert not dark_page.blocked, dark_page.blocked
    assert not dark_page.errors, "\n".join(dark_page.errors)
