"""The live panel (``lb.live_panel``, the Playground page) in headless Chromium.

A standalone page made of ``lb.live_panel()``'s markup and the panel's files (laid out as in
the built book: ``_static/luckbook-live/``) is opened from ``file://`` and from a local
``http.server`` on 127.0.0.1: Train and Re-roll change the figures within 3 s, the keyboard
works, a shared URL restores the same run, a torch golden replays inside Chromium to 1e-9,
nothing is requested from another host and nothing is logged as an error. Screenshots in
light and dark mode and at 400 px width go to ``_build/screenshots/playground__*.png``. The
Playground page of the built book gets the same Train check (after ``make book``).
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import pytest
from test_book import SCREENSHOTS

from luckbook.golden import golden_settings, two_layer_golden
from luckbook.live import ASSETS, STATIC_DIR, asset, live_panel

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHANGE_MS = 3_000  # the figure must change this soon after a button press
DONE_MS = 20_000
KNOWN_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)  # every JB 1.0.4 page
DARK_VARS = (
    "html[data-theme='dark']{--pst-color-text-base:#ced6dd;--pst-color-surface:#29313d;"
    "--pst-color-border:#48566b;--pst-color-text-muted:#9ca4af;--pst-color-primary:#76a3ff;"
    "--pst-color-background:#14181e;background:#14181e;color:#ced6dd}"
)


# Pages with ipywidgets load require.js, whose global `define` breaks UMD bundles; the dark
# page carries a stand-in that fails loudly if the panel's scripts call it.
AMD = (
    "<script>window.define = function () { throw new Error('define() called'); };"
    "window.define.amd = {};</script>"
)


def _page(theme: str) -> str:
    return (
        f'<!doctype html><html lang="en" data-theme="{theme}" data-content_root="./">'
        '<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>live panel</title><style>{DARK_VARS}body{{margin:8px;font-family:sans-serif}}"
        f"</style>{AMD if theme == 'dark' else ''}</head><body><main>{live_panel(steps=1000)}"
        "</main></body></html>"
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("playground")
    static = root / "_static" / STATIC_DIR
    static.mkdir(parents=True)
    for name in ASSETS:
        (static / name).write_text(asset(name), encoding="utf-8")
    (root / "index.html").write_text(_page("light"), encoding="utf-8")
    (root / "dark.html").write_text(_page("dark"), encoding="utf-8")
    # a notebook output outside the book (JupyterLab): no _static, everything inline
    (root / "inline.html").write_text(
        f"<!doctype html><html><body>{live_panel(inline=True, steps=500)}</body></html>"
    )
    (root / "elsewhere.html").write_text(f"<!doctype html><html><body>{live_panel()}</body></html>")
    settings = golden_settings("tiny", n_train=120, n_eval=60, p=1.0, multi=3, steps=200)
    (root / "golden.json").write_text(json.dumps(two_layer_golden(settings, [4])))
    return root


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class Tab:
    """A page with the network cut off (except file:, data:, blob: and ``allowed``)."""

    def __init__(self, browser, allowed: str = "", width: int = 1100) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.blocked: list[str] = []
        self.errors: list[str] = []

        def route(r):
            url = r.request.url
            if url.startswith(("file:", "data:", "blob:")) or (allowed and url.startswith(allowed)):
                r.continue_()
            else:
                self.blocked.append(url)
                r.abort()

        self.page.route("**/*", route)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def open(self, url: str) -> Tab:
        self.page.goto(url, wait_until="load")
        self.page.wait_for_selector("div.luck-live.luck-live-ready")
        return self

    def wait_preview(self) -> None:
        """The step-0 picture of a new panel (its lucky nodes before training) is drawn."""
        self.page.wait_for_selector("div.luck-live[data-state='preview']", timeout=DONE_MS)

    def heat(self) -> str:
        return self.page.evaluate(
            "() => document.querySelector('canvas.luck-live-heat').toDataURL()"
        )

    def wait_change(self, before: str) -> None:
        self.page.wait_for_function(
            "b => document.querySelector('canvas.luck-live-heat').toDataURL() !== b",
            arg=before,
            timeout=CHANGE_MS,
        )

    def wait_done(self) -> None:
        self.page.wait_for_function(
            "() => /^(Done|Training diverged)/.test("
            "document.querySelector('.luck-live-status').textContent)",
            timeout=DONE_MS,
        )

    def check_clean(self) -> None:
        errors = [e for e in self.errors if not any(k in e for k in KNOWN_ERRORS)]
        assert not errors, f"console errors: {errors}"
        assert not self.blocked, f"requests to other hosts: {self.blocked}"

    def close(self) -> None:
        self.context.close()


@pytest.fixture(params=["file", "http"])
def tab(request, browser, site, server):
    url = (site / "index.html").as_uri() if request.param == "file" else server + "index.html"
    t = Tab(browser, allowed=server if request.param == "http" else "").open(url)
    yield t
    t.close()


def test_train_and_reroll_change_the_figure(tab):
    page = tab.page
    tab.wait_preview()
    assert "before any training): t0: student" in page.text_content(".luck-live-lucky")
    blank = tab.heat()
    page.focus("button.luck-live-train")
    page.keyboard.press("Enter")  # keyboard operable
    tab.wait_change(blank)
    tab.wait_done()
    assert page.locator("input[id$='-scrub']").is_enabled()
    trained, seed = tab.heat(), page.text_content("output.luck-live-seed")
    page.focus("button.luck-live-reroll")
    page.keyboard.press("Enter")
    tab.wait_change(trained)
    assert page.text_content("output.luck-live-seed") != seed
    tab.wait_done()
    # the scrubber replays the run: its first snapshot is step 0
    page.focus("input[id$='-scrub']")
    page.keyboard.press("Home")
    assert "(step 0)" in page.text_content("output[for$='-scrub']")
    code = page.text_content("pre.luck-live-code")
    seed = page.text_content("output.luck-live-seed")
    assert f"lb.live_run(seed={seed}, multi=2, p=0, init_scale=0.005, lr=0.01, steps=1000)" in code
    tab.check_clean()


def test_shared_url_restores_the_run(browser, site):
    a = Tab(browser).open((site / "index.html").as_uri())
    page = a.page
    a.wait_preview()
    page.focus("input[data-name='multi']")
    page.keyboard.press("ArrowRight")  # multi 2 -> 3
    assert "3 (15 student nodes)" in page.text_content("output[for$='-multi']")
    page.click("button.luck-live-reroll")
    a.wait_done()
    url, lucky, heat = page.url, page.text_content(".luck-live-lucky"), a.heat()
    assert "#lb0=seed:" in url and "multi:3" in url
    b = Tab(browser).open(url)
    b.wait_done()  # a shared URL trains the same run on arrival
    assert b.page.text_content(".luck-live-lucky") == lucky
    assert b.page.text_content("output.luck-live-seed") == page.text_content(
        "output.luck-live-seed"
    )
    assert b.heat() == heat
    a.check_clean()
    b.check_clean()
    a.close()
    b.close()


def test_golden_replays_in_chromium(browser, site):
    t = Tab(browser).open((site / "index.html").as_uri())
    golden = json.loads((site / "golden.json").read_text())
    report = t.page.evaluate("g => LuckEngine.replay(g)", golden)
    assert report["ok"] and report["max"] <= 1e-9, report
    t.check_clean()
    t.close()


def test_inline_panel_and_the_loader_outside_the_book(browser, site):
    t = Tab(browser).open((site / "inline.html").as_uri())
    t.wait_preview()
    t.check_clean()
    t.close()
    # outside a page of the built book the loader requests nothing (no 404 in JupyterLab)
    t = Tab(browser)
    requested: list[str] = []
    t.page.on("request", lambda r: requested.append(r.url))
    t.page.goto((site / "elsewhere.html").as_uri(), wait_until="load")
    assert requested == [(site / "elsewhere.html").as_uri()]
    assert "inline=True" in t.page.text_content("div.luck-live")
    t.check_clean()
    t.close()


def test_labelled_for_screen_readers(browser, site):
    t = Tab(browser).open((site / "index.html").as_uri())
    missing = t.page.evaluate(
        """() => [...document.querySelectorAll('.luck-live input')]
             .filter(i => !document.querySelector(`label[for="${i.id}"]`)).map(i => i.id)"""
    )
    assert not missing
    labels = t.page.evaluate(
        "() => [...document.querySelectorAll('.luck-live canvas')]"
        ".map(c => c.getAttribute('aria-label'))"
    )
    assert len(labels) == 3 and all(labels)
    t.close()


@pytest.mark.parametrize(("name", "width"), [("light", 1100), ("dark", 1100), ("light", 400)])
def test_screenshots_light_dark_narrow(browser, site, name, width):
    t = Tab(browser, width=width).open(
        (site / f"{'dark' if name == 'dark' else 'index'}.html").as_uri()
    )
    page = t.page
    t.wait_preview()
    before = t.heat()
    page.click("button.luck-live-train")
    t.wait_change(before)
    t.wait_done()
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= width, f"the panel overflows {width} px ({overflow} px)"
    if name == "dark":
        bg = page.evaluate(
            "() => getComputedStyle(document.querySelector('.luck-live')).backgroundColor"
        )
        fg = page.evaluate("() => getComputedStyle(document.querySelector('.luck-live')).color")
        assert _lum(bg) < 90 < _lum(fg), (bg, fg)
    shot = SCREENSHOTS / f"playground__{name}_{width}.png"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("div.luck-live").screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    t.check_clean()
    t.close()


def _lum(css: str) -> float:
    r, g, b = (float(c) for c in css[css.index("(") + 1 : -1].split(",")[:3])
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_playground_page_of_the_book(browser, book):
    """The built book's Playground page: the loader finds ``_static`` and Train works."""
    t = Tab(browser).open((book / "book" / "playground.html").as_uri())
    t.wait_preview()
    before = t.heat()
    t.page.click("button.luck-live-train")
    t.wait_change(before)
    t.wait_done()
    t.check_clean()
    t.close()


def test_assets_are_light_and_shipped_with_the_book():
    total = sum((ROOT / "luckbook" / "assets" / "live" / n).stat().st_size for n in ASSETS)
    assert total < 200_000, f"the live panel's files weigh {total} bytes"
    for name in ASSETS:
        shipped = ROOT / "book" / "_static" / STATIC_DIR / name
        assert shipped.read_text() == asset(name), f"{shipped} differs from the package's copy"
