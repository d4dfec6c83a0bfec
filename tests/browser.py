"""Headless Chromium for the page tests: a static server on 127.0.0.1 and a browser that records requests.

Debian's `chromium` (installed by `.ci/run`) driven by Playwright; Playwright's
own browser downloads are not used.
"""

import contextlib
import functools
import http.server
import os
import shutil
import threading

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Flags of a headless Chromium that makes no connection of its own (no updates, no sync, no QUIC probes).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium():
    """Skips outside CI when Chromium is missing; in CI (`CI=true`, where `.ci/run` installs it) fails."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")


@contextlib.contextmanager
def serve(folder):
    """Serves `folder` over HTTP on a free 127.0.0.1 port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript"}

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def page(viewport=(1200, 900)):
    """A Chromium page; `page.requests` lists every URL it asked for, `page.errors` its script errors."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            tab = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            tab.requests, tab.errors = [], []
            tab.on("request", lambda request: tab.requests.append(request.url))
            tab.on("pageerror", lambda error: tab.errors.append(str(error)))
            yield tab
        finally:
            browser.close()
