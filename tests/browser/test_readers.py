"""What readers meet first, in a real browser: tables legible in light and dark mode, the
navigation working on a phone and on a desktop, nothing wider than a 400 px screen.

Opened from disk and offline like ``test_book.py``. Contrast is computed from the rendered
colours (WCAG relative luminance), for the text of every table cell of the claim reports,
the claim map and the reproducibility page.
"""

from __future__ import annotations

import pytest
from test_book import HTML, _new_visit, _settle

pytestmark = pytest.mark.browser

TABLE_PAGES = ["book/reproducibility.html", "book/intro.html", "notebooks/two_layer.html"]
MIN_CONTRAST = 4.5  # WCAG AA for body text

CONTRASTS_JS = """() => {
  function rgba(s) {
    const m = s.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(',').map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  function background(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let out = [255, 255, 255];
    if (!layers.length || layers[layers.length - 1][3] < 1) {
      out = document.documentElement.dataset.theme === 'dark' ? [0, 0, 0] : [255, 255, 255];
    }
    for (const c of layers.reverse()) out = out.map((v, i) => c[3] * c[i] + (1 - c[3]) * v);
    return out;
  }
  function lum(c) {
    const f = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * f[0] + 0.7152 * f[1] + 0.0722 * f[2];
  }
  const out = [];
  const cells = document.querySelectorAll(
    '.lb-claim-report td, .lb-claim-report th, .lb-repro td, .lb-repro th, ' +
    '.lb-claim-report code, .lb-repro code');
  for (const el of cells) {
    if (!el.textContent.trim() || el.closest('.lb-verdict')) continue;
    const fg = rgba(getComputedStyle(el).color);
    const bg = background(el);
    const a = fg[3];
    const mixed = fg.slice(0, 3).map((v, i) => a * v + (1 - a) * bg[i]);
    const l1 = lum(mixed), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    out.push([el.textContent.trim().slice(0, 40), ratio]);
  }
  return out;
}"""


def _visit(browser, rel: str, *, width: int = 1280, dark: bool = False):
    visit = _new_visit(browser, rel)
    visit.page.set_viewport_size({"width": width, "height": 900})
    if dark:
        visit.page.context.add_init_script(
            "localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');"
        )
    visit.page.goto((HTML / rel).as_uri(), wait_until="load")
    _settle(visit)
    return visit


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("rel", TABLE_PAGES)
def test_table_text_contrast(browser, book, rel, dark):
    visit = _visit(browser, rel, dark=dark)
    try:
        page = visit.page
        if dark:
            assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
        cells = page.evaluate(CONTRASTS_JS)
        assert cells, f"{rel}: no claim table found"
        low = [(text, round(c, 2)) for text, c in cells if c < MIN_CONTRAST]
        assert not low, f"{rel} ({'dark' if dark else 'light'}): low contrast {low[:8]}"
    finally:
        visit.page.context.close()


@pytest.mark.parametrize("width", [400, 1280])
def test_navigation_opens(browser, book, width):
    """The visible sidebar toggle opens the chapter list (a dialog on a phone) or collapses
    the sidebar (on a desktop)."""
    visit = _visit(browser, "book/intro.html", width=width)
    try:
        page = visit.page
        toggles = page.locator(".primary-toggle")
        visible = [i for i in range(toggles.count()) if toggles.nth(i).is_visible()]
        assert visible, "no visible sidebar toggle"
        toggles.nth(visible[0]).click()
        page.wait_for_timeout(300)
        if width < 992:
            assert page.evaluate("() => document.getElementById('pst-primary-sidebar-modal').open")
            assert page.locator(
                "#pst-primary-sidebar-modal a[href*='two_layer']"
            ).first.is_visible()
        else:
            assert page.evaluate(
                "() => document.getElementById('pst-primary-sidebar')"
                ".classList.contains('pst-sidebar-hidden')"
            )
    finally:
        visit.page.context.close()


@pytest.mark.parametrize("rel", TABLE_PAGES + ["book/teaching.html"])
def test_nothing_overflows_a_phone(browser, book, rel):
    """At 400 px the page does not scroll sideways: wide tables scroll inside their box."""
    visit = _visit(browser, rel, width=400)
    try:
        overflow = visit.page.evaluate(
            "() => document.scrollingElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 1, f"{rel}: the page is {overflow} px wider than a 400 px screen"
    finally:
        visit.page.context.close()


@pytest.mark.parametrize(
    "rel", ["notebooks/lucky.html", "notebooks/two_layer_sweep.html", "notebooks/fanout.html"]
)
def test_explorer_figure_text_stays_legible(browser, book, rel):
    """At 1280 px no slider panel shows its figure at less than 0.59 of its natural size: the
    book's base font (10 pt at 110 dpi, 15.3 px) then renders at >= 9 px; wider figures
    scroll sideways in their box."""
    visit = _visit(browser, rel)
    try:
        scales = visit.page.evaluate(
            "() => [...document.querySelectorAll('.luckbook-static img.lb-image')]"
            ".filter(i => i.naturalWidth)"
            ".map(i => i.getBoundingClientRect().width / i.naturalWidth)"
        )
        assert scales, f"{rel}: no slider panel image"
        small = [round(s, 2) for s in scales if s < 0.59]
        assert not small, f"{rel}: panel figures shown at {small} of their size (text < 9 px)"
    finally:
        visit.page.context.close()
