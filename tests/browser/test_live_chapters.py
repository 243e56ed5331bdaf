"""The live panel inside the built book's chapters: the setting chapter opened from disk and
from a local server (127.0.0.1), Train and Re-roll change the figure within 3 s at the
chapter's default size; every chapter that embeds a panel gets a working one."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest
from test_book import HTML
from test_playground import Tab, _QuietHandler

pytestmark = pytest.mark.browser

CHAPTERS_WITH_PANEL = [
    "notebooks/two_layer.html",
    "notebooks/fanout.html",
    "notebooks/lucky.html",
    "notebooks/two_layer_sweep.html",
]


@pytest.fixture(scope="module")
def book_server(book):
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("how", ["file", "http"])
def test_setting_chapter_trains_and_rerolls(browser, book, book_server, how):
    rel = "notebooks/two_layer.html"
    url = (HTML / rel).as_uri() if how == "file" else book_server + rel
    tab = Tab(browser, allowed=book_server if how == "http" else "").open(url)
    try:
        page = tab.page
        tab.wait_preview()
        before = tab.heat()
        page.click("button.luck-live-train")
        tab.wait_change(before)  # within 3 s
        tab.wait_done()
        trained = tab.heat()
        page.click("button.luck-live-reroll")
        tab.wait_change(trained)
        tab.check_clean()
    finally:
        tab.close()


@pytest.mark.parametrize("rel", CHAPTERS_WITH_PANEL[1:])
def test_chapter_panels_are_live(browser, book, rel):
    tab = Tab(browser).open((HTML / rel).as_uri())
    try:
        tab.wait_preview()
        before = tab.heat()
        tab.page.click("button.luck-live-train")
        tab.wait_change(before)
        tab.check_clean()
    finally:
        tab.close()
