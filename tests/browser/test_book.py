"""Drive headless Chromium over the built book (``_build/html``), opened from disk.

The rendered book must work with no kernel, no server and no network. For every HTML page
of the build these tests open ``file://.../page.html`` with every request that is not a
``file:`` or ``data:`` URL aborted (and recorded), then check: nothing left the machine,
no console error or uncaught exception, every equation is typeset by the vendored MathJax,
every image loads, each chapter shows its main figure, and the page with everything it
loads weighs at most 8 MB. A full-page screenshot of each page goes to the test's tmp
folder and to ``_build/screenshots/`` for humans.

The static slider panels (``luckbook.static``) are checked against their contract on every
chapter (each must have at least one): moving a slider changes the figure (and for grid
panels the numbers), and play/pause animates time panels.

Run after ``make book`` (``make test`` builds the book first). Chromium comes from the
system: Debian's ``chromium`` (``apt-get install -y chromium``) or ``$LUCKBOOK_CHROMIUM``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
SETTING = "notebooks/two_layer.html"
TOC_PAGES = ("book/intro.html", SETTING, "book/references.html")
MAX_PAGE_BYTES = 8_000_000  # 8 MB: the page plus every file it loads
VIEWPORT = {"width": 1280, "height": 900}
SETTLE_MS = 20_000  # MathJax typesets the longest page in about a second
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
INSTALL_HINT = (
    "no Chromium/Chrome binary found for the browser tests; install Debian's with "
    "`apt-get update && apt-get install -y chromium` (as root), or point $LUCKBOOK_CHROMIUM "
    "at a Chromium or Chrome executable"
)
NOT_BUILT = f"the book is not built ({HTML / 'index.html'} is missing): run `make book` first"
# TeX that MathJax should have consumed; found in the visible text it means untypeset math.
RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{")


def _pages() -> list[str]:
    """Every HTML page of the build except the redirecting index.html (tested on its own)."""
    if not (HTML / "index.html").is_file():
        return ["<book not built>"]
    pages = [
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if p.relative_to(HTML).parts[0] not in {"_static", "_sources", "_images"}
    ]
    return sorted(p for p in pages if p != "index.html")


PAGES = _pages()


def _find_chromium() -> str | None:
    explicit = os.environ.get("LUCKBOOK_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


# The session fixtures `book` and `browser` live in conftest.py (shared with test_dark_mode).


@dataclass
class Visit:
    """One page opened from disk, with everything it tried to do."""

    rel: str
    page: object
    blocked: list[str] = field(default_factory=list)  # non-local URLs, aborted
    files: set[Path] = field(default_factory=set)  # local files requested
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    problems: list[str] = field(default_factory=list)  # MathJax or images did not settle

    def block(self, url: str) -> None:
        if url not in self.blocked:
            self.blocked.append(url)

    def weight(self) -> int:
        return sum(p.stat().st_size for p in self.files if p.is_file())


def _new_visit(browser, rel: str) -> Visit:
    """A fresh page with the network cut off and every request and error recorded."""
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    context.set_default_timeout(SETTLE_MS)
    page = context.new_page()
    visit = Visit(rel, page)

    def route(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            visit.block(url)
            route.abort()

    def on_request(request):
        url = request.url
        if url.startswith("file:"):
            visit.files.add(Path(unquote(urlsplit(url).path)))
        elif not url.startswith("data:"):
            visit.block(url)

    page.route("**/*", route)
    page.on("request", on_request)
    page.on("websocket", lambda ws: visit.block(ws.url))
    page.on(
        "console",
        lambda msg: (
            visit.errors.append(f"console.error: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: visit.errors.append(f"uncaught: {exc}"))
    return visit


def _settle(visit: Visit) -> None:
    """Wait until MathJax (where the page loads it) has typeset and images have decoded.

    A page that never settles is not an error here: what went wrong is recorded in
    ``visit.problems`` and the checks below report it (untypeset math, blocked requests).
    """
    page = visit.page
    if page.evaluate("() => !!document.querySelector('script[src*=\"mathjax\"]')"):
        try:
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                timeout=SETTLE_MS,
            )
            page.evaluate("() => MathJax.startup.promise.then(() => true)")
        except Exception as exc:
            visit.problems.append(f"MathJax did not start or finish typesetting: {exc}")
    try:
        page.wait_for_function(
            "() => [...document.images].every(img => img.complete)", timeout=SETTLE_MS
        )
    except Exception as exc:
        visit.problems.append(f"images still loading after {SETTLE_MS} ms: {exc}")


def _open(browser, rel: str) -> Visit:
    """Open ``_build/html/<rel>`` from disk, offline, and wait for it to settle."""
    visit = _new_visit(browser, rel)
    visit.page.goto((HTML / rel).as_uri(), wait_until="load")
    _settle(visit)
    return visit


@pytest.fixture(scope="session")
def visits(browser):
    """Pages opened once per session and shared by the per-page checks (read-only)."""
    cache: dict[str, Visit] = {}

    def get(rel: str) -> Visit:
        if rel not in cache:
            cache[rel] = _open(browser, rel)
        return cache[rel]

    yield get
    for visit in cache.values():
        visit.page.context.close()


@pytest.fixture
def visit(request, visits, book) -> Visit:
    return visits(request.param)


per_page = pytest.mark.parametrize("visit", PAGES, indirect=True)


# --------------------------------------------------------------------------- the build


def test_book_has_the_toc_pages(book):
    missing = [rel for rel in TOC_PAGES if rel not in PAGES]
    assert not missing, f"pages of _toc.yml missing from {HTML}: {missing}"


def test_index_redirects_to_intro_offline(browser, book):
    visit = _new_visit(browser, "index.html")
    try:
        visit.page.goto((HTML / "index.html").as_uri())
        visit.page.wait_for_url("**/book/intro.html", timeout=10_000)
        visit.page.wait_for_load_state("load")
        _settle(visit)
        assert visit.page.locator("main h1").first.inner_text().strip()
        assert not visit.blocked, f"requests that would leave the machine: {visit.blocked}"
        assert not visit.errors, "\n".join(visit.errors)
    finally:
        visit.page.context.close()


def test_mathjax_is_vendored(book):
    """MathJax is served from the build (no CDN), licence alongside."""
    mathjax = book / "_static" / "mathjax"
    assert (mathjax / "tex-svg-full.js").is_file(), "vendored MathJax missing from the build"
    assert (mathjax / "LICENSE").is_file()


# --------------------------------------------------------------------------- every page


@per_page
def test_no_request_leaves_the_machine(visit):
    assert not visit.blocked, (
        f"{visit.rel} requested non-local URLs (aborted; the book must work offline): "
        f"{visit.blocked}"
    )


@per_page
def test_no_console_errors(visit):
    assert not visit.errors, f"{visit.rel}: " + "\n".join(visit.errors)


@per_page
def test_math_is_typeset(visit):
    page = visit.page
    n_math = page.evaluate("() => document.querySelectorAll('.math').length")
    if n_math == 0:
        return
    assert page.evaluate("() => !!window.MathJax"), (
        f"{visit.rel} has math but MathJax did not load: {visit.problems}"
    )
    untypeset = page.evaluate(
        """() => [...document.querySelectorAll('.math')]
              .filter(el => !el.closest('mjx-container') && !el.querySelector('mjx-container'))
              .map(el => el.textContent.trim().slice(0, 80))"""
    )
    assert not untypeset, f"{visit.rel}: math left untypeset: {untypeset} {visit.problems}"
    assert page.locator("mjx-container").count() >= n_math
    tex_errors = page.evaluate(
        """() => [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
              .map(el => el.getAttribute('data-mjx-error') || el.textContent)"""
    )
    assert not tex_errors, f"{visit.rel}: MathJax could not typeset: {tex_errors}"
    # Visible prose only: code and outputs may legitimately contain backslashes.
    text = page.evaluate(
        """() => {
            const main = document.querySelector('main');
            let text = main.innerText;
            for (const el of main.querySelectorAll('pre, code')) {
                const s = el.innerText;
                if (s) text = text.split(s).join('');
            }
            return text;
        }"""
    )
    raw = sorted({m.group(0) for m in RAW_TEX.finditer(text)})
    assert not raw, f"{visit.rel}: raw TeX delimiters left in the visible text: {raw}"


@per_page
def test_images_load(visit):
    broken = visit.page.evaluate(
        """() => [...document.images]
              .filter(img => !(img.complete && img.naturalWidth > 0))
              .map(img => img.currentSrc.slice(0, 100) || img.outerHTML.slice(0, 100))"""
    )
    assert not broken, f"{visit.rel}: images that did not load: {broken}"


@per_page
def test_chapter_figure(visit):
    """A notebook chapter shows its main figure: a loaded luckbook figure with alt text."""
    if not visit.rel.startswith("notebooks/"):
        return
    figures = visit.page.evaluate(
        """() => [...document.querySelectorAll('img.luckbook-figure')].map(img => ({
              alt: (img.getAttribute('alt') || '').trim(), width: img.naturalWidth}))"""
    )
    good = [f for f in figures if f["alt"] and f["width"] > 0]
    assert good, f"{visit.rel}: no loaded img.luckbook-figure with alt text (found {figures})"


@pytest.fixture(scope="session")
def weight_log(book):
    """_build/screenshots/page-weights.txt, rewritten by each session: one line a page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with open(SCREENSHOTS / "page-weights.txt", "w") as log:
        log.write(f"# page weights (page + every local file it loads), {time.ctime()}\n")
        yield log


def _repository() -> tuple[str, str]:
    """``owner/name`` and branch from _config.yml's ``repository:`` (the one source of truth)."""
    import yaml

    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    url = repo["url"].rstrip("/").removesuffix(".git")
    return url.removeprefix("https://github.com/"), repo.get("branch", "main")


@per_page
def test_chapter_launch_and_download_links(visit):
    """Notebook chapters link to Binder, Colab and their .ipynb; plain links, never fetched."""
    if not visit.rel.startswith("notebooks/"):
        return
    notebook = visit.rel.removesuffix(".html") + ".ipynb"
    hrefs = visit.page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    slug, branch = _repository()
    wanted = {
        "Binder": f"https://mybinder.org/v2/gh/{slug}/{branch}?urlpath=lab/tree/{notebook}",
        "Colab": f"https://colab.research.google.com/github/{slug}/blob/{branch}/{notebook}",
        "download": (HTML / "_sources" / notebook).as_uri(),
    }
    missing = {name: url for name, url in wanted.items() if url not in hrefs}
    assert not missing, f"{visit.rel}: links missing from the page header: {missing}"
    assert (HTML / "_sources" / notebook).is_file(), f"{notebook} not in the build's _sources"


@per_page
def test_page_weight(visit, weight_log):
    weight = visit.weight()
    line = f"{visit.rel}: {weight / 1e6:.2f} MB in {len(visit.files)} files"
    weight_log.write(line + "\n")
    weight_log.flush()
    print(line)
    assert weight <= MAX_PAGE_BYTES, (
        f"{visit.rel} weighs {weight / 1e6:.2f} MB with what it loads (budget "
        f"{MAX_PAGE_BYTES / 1e6:.0f} MB); largest: "
        + ", ".join(
            f"{p.name} {p.stat().st_size / 1e6:.2f} MB"
            for p in sorted(visit.files, key=lambda p: -p.stat().st_size)[:5]
            if p.is_file()
        )
    )


@per_page
def test_screenshot(visit, tmp_path):
    name = visit.rel.removesuffix(".html").replace("/", "__") + ".png"
    shot = tmp_path / name
    visit.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000, f"{shot} looks empty"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shot, SCREENSHOTS / name)


# --------------------------------------------------------------------------- static sliders
# Contract of luckbook.static panels: <div class="luckbook-static" data-kind="grid|time">
# holding one <input type="range" class="lb-slider" data-name="..."> per slider, an
# <img class="lb-image luckbook-figure" alt="...">, a <pre class="lb-numbers"> and, for
# time panels, a <button class="lb-play">.

CHAPTERS = [rel for rel in PAGES if rel.startswith("notebooks/")]


@pytest.fixture(params=CHAPTERS)
def chapter(request, browser, book):
    """A fresh chapter page for interaction (not the shared read-only one).

    Every chapter must offer at least one static slider panel: the rendered book is
    interactive without a kernel.
    """
    visit = _new_visit(browser, request.param)
    visit.page.goto((HTML / request.param).as_uri(), wait_until="load")
    if visit.page.locator(".luckbook-static").count() == 0:
        visit.page.context.close()
        pytest.fail(f"{request.param}: no .luckbook-static slider panel", pytrace=False)
    _settle(visit)
    yield visit
    visit.page.context.close()


def _panel_state(panel) -> dict:
    return panel.evaluate(
        """p => ({
            src: p.querySelector('img.lb-image').getAttribute('src'),
            numbers: (p.querySelector('.lb-numbers') || {}).textContent || null,
        })"""
    )


def _move(slider) -> str:
    """Move a range input one step (up, or down at the top) as a user would; new value."""
    return slider.evaluate(
        """s => {
            const before = s.value;
            s.stepUp();
            if (s.value === before) s.stepDown();
            s.dispatchEvent(new Event('input', {bubbles: true}));
            s.dispatchEvent(new Event('change', {bubbles: true}));
            return s.value;
        }"""
    )


def _wait_image_loaded(panel) -> None:
    panel.page.wait_for_function(
        "p => { const i = p.querySelector('img.lb-image');"
        " return i.complete && i.naturalWidth > 0; }",
        arg=panel.element_handle(),
        timeout=5_000,
    )


def test_static_panels_follow_the_contract(chapter):
    panels = chapter.page.locator(".luckbook-static")
    for i in range(panels.count()):
        panel = panels.nth(i)
        kind = panel.get_attribute("data-kind")
        assert kind in {"grid", "time"}, f"panel {i}: data-kind={kind!r}"
        sliders = panel.locator("input[type=range].lb-slider")
        assert sliders.count() >= 1, f"panel {i} has no slider"
        for j in range(sliders.count()):
            assert sliders.nth(j).get_attribute("data-name"), f"panel {i} slider {j} unnamed"
        image = panel.locator("img.lb-image.luckbook-figure")
        assert image.count() == 1, f"panel {i}: expected one img.lb-image.luckbook-figure"
        assert (image.get_attribute("alt") or "").strip(), f"panel {i}: image without alt"
        _wait_image_loaded(panel)
        assert panel.locator("pre.lb-numbers").count() == 1, f"panel {i}: no pre.lb-numbers"
        if kind == "time":
            assert panel.locator("button.lb-play").count() == 1, f"panel {i}: no lb-play"
    assert not chapter.blocked, chapter.blocked
    assert not chapter.errors, "\n".join(chapter.errors)


def test_grid_sliders_change_figure_and_numbers(chapter):
    panels = chapter.page.locator('.luckbook-static[data-kind="grid"]')
    if panels.count() == 0:
        pytest.skip(f"{chapter.rel} has no grid panel")
    for i in range(panels.count()):
        panel = panels.nth(i)
        sliders = panel.locator("input[type=range].lb-slider")
        for j in range(sliders.count()):
            slider = sliders.nth(j)
            name = slider.get_attribute("data-name")
            before = _panel_state(panel)
            start = slider.input_value()
            value = _move(slider)
            assert value != start, f"grid panel {i}: slider {name!r} cannot move from {start}"
            after = _panel_state(panel)
            assert after["src"] != before["src"], (
                f"grid panel {i}: moving {name!r} {start} -> {value} did not change the image"
            )
            assert after["numbers"] != before["numbers"], (
                f"grid panel {i}: moving {name!r} {start} -> {value} did not change the numbers"
            )
            _wait_image_loaded(panel)
    assert not chapter.errors, "\n".join(chapter.errors)
    assert not chapter.blocked, chapter.blocked


def test_time_slider_and_play_pause(chapter):
    page = chapter.page
    panels = page.locator('.luckbook-static[data-kind="time"]')
    if panels.count() == 0:
        pytest.skip(f"{chapter.rel} has no time panel")
    for i in range(panels.count()):
        panel = panels.nth(i)
        slider = panel.locator("input[type=range].lb-slider").first
        before = _panel_state(panel)["src"]
        start = slider.input_value()
        value = _move(slider)
        assert value != start, f"time panel {i}: the slider cannot move from {start}"
        assert _panel_state(panel)["src"] != before, (
            f"time panel {i}: moving the slider {start} -> {value} did not change the image"
        )
        _wait_image_loaded(panel)

        # Play from the first frame, so that a panel that stops at the end still advances.
        slider.evaluate(
            "s => { s.value = s.min; s.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        play = panel.locator("button.lb-play")
        shown = _panel_state(panel)["src"]
        play.click()
        try:
            page.wait_for_function(
                "([p, s]) => p.querySelector('img.lb-image').getAttribute('src') !== s",
                arg=[panel.element_handle(), shown],
                timeout=2_000,
            )
        except Exception as exc:
            raise AssertionError(f"time panel {i}: play did not advance within 2 s") from exc
        play.click()  # pause
        page.wait_for_timeout(150)  # let a frame already scheduled land
        paused = _panel_state(panel)["src"]
        page.wait_for_timeout(1_200)
        assert _panel_state(panel)["src"] == paused, f"time panel {i}: pause did not stop play"
    assert not chapter.errors, "\n".join(chapter.errors)
    assert not chapter.blocked, chapter.blocked


def test_reproduce_this_frame(chapter):
    """Panels with a "Reproduce this frame" box show the frame's lb.run call, which follows
    the sliders, and the Copy button works from file:// (copies, or selects the code)."""
    panels = chapter.page.locator(".luckbook-static:has(pre.lb-code)")
    if panels.count() == 0:
        pytest.skip(f"{chapter.rel} has no panel with a reproduce box")
    page = chapter.page
    for i in range(panels.count()):
        panel = panels.nth(i)
        code = panel.locator("pre.lb-code")
        before = code.inner_text()
        assert "lb.run(" in before, f"panel {i}: no lb.run call in {before!r}"
        _move(panel.locator("input[type=range].lb-slider").first)
        assert code.inner_text() != before, f"panel {i}: the code did not follow the slider"
        button = panel.locator("button.lb-copy")
        button.click()
        page.wait_for_function(
            "b => b.textContent !== 'Copy'", arg=button.element_handle(), timeout=2_000
        )
        selected = page.evaluate("() => window.getSelection().toString()")
        assert selected.strip() == code.inner_text().strip(), (
            f"panel {i}: Copy did not select the code ({button.inner_text()!r})"
        )
    assert not chapter.errors, "\n".join(chapter.errors)


def test_every_static_panel_asks_for_a_prediction_first(chapter):
    """Each static panel opens with "Predict first:" and a question; its answer is folded in
    a drop-down that is closed until the reader opens it, and then shows a real answer."""
    panels = chapter.page.locator(".luckbook-static")
    for i in range(panels.count()):
        panel = panels.nth(i)
        predict = panel.locator(".lb-predict")
        assert predict.count() == 1, f"panel {i} has no prediction prompt"
        question = predict.locator("p").first.inner_text()
        assert question.startswith("Predict first:") and question.rstrip().endswith("?"), question
        details = predict.locator("details")
        answer = details.locator("p")
        assert not details.evaluate("d => d.open"), f"panel {i}: the answer is open already"
        assert not answer.is_visible(), f"panel {i}: the answer shows before it is asked for"
        details.locator("summary").click()
        assert details.evaluate("d => d.open") and answer.is_visible(), f"panel {i}"
        assert len(answer.inner_text().strip()) > 40, f"panel {i}: answer too short"
    assert not chapter.errors, "\n".join(chapter.errors)
