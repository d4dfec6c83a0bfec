"""Opening the pages the project writes in headless Chromium, as a reader's browser would.

The `zoo export --web` page (and `zoo report`'s HTML) are checked and
measured in a real browser: the page tests (`tests/export/test_web.py`,
`tests/reports/test_report.py`) and the benchmarks
(`benchmarks/web_page.py`, `benchmarks/screenshot.py`) all drive Chromium
through this module. It sits in the package, next to the page it serves,
because both trees need it and neither may import the other; nothing in
the package itself imports it.

- `serve(folder)`: a static file server on 127.0.0.1, as the page is meant
  to be served (like `python -m http.server`, quiet, with the `.wasm` and
  `.js` types set);
- `page(viewport)`: a Chromium tab that records every URL it asks for
  (`tab.requests`) and every script error (`tab.errors`).

Chromium is the system's (`chromium`, Debian's package, which `.ci/run`
installs), driven by Playwright; Playwright's own browser downloads are not
used. Playwright is a test dependency (`pip install -e .[test]`), imported
only when a page is opened, so importing this module needs nothing beyond
the standard library.
"""

import contextlib
import functools
import http.server
import shutil
import threading

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Flags of a headless Chromium that makes no connection of its own (no updates, no sync, no QUIC probes).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def serve(folder):
    """Serves `folder` over HTTP on a free 127.0.0.1 port; yields the base URL.

    Example:
        >>> with serve("runs/dcgan/web") as url, page() as tab:
        ...     tab.goto(url + "index.html")
    """
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
    """A headless Chromium tab (a Playwright `Page`), closed with its browser on exit.

    `tab.requests` lists every URL it asked for, `tab.errors` its script errors.

    Args:
        viewport: `(width, height)` in CSS pixels.

    Raises:
        FileNotFoundError: no `chromium` (or `chromium-browser`) on PATH.
        ModuleNotFoundError: Playwright is not installed.

    Example:
        >>> with page() as tab:
        ...     tab.goto(pathlib.Path("runs/dcgan/report.html").resolve().as_uri())
        ...     tab.screenshot(path="report.png", full_page=True)
    """
    if CHROMIUM is None:
        raise FileNotFoundError(
            "no chromium (or chromium-browser) on PATH: install Debian's chromium "
            "(apt-get install chromium) to open pages in a browser.")
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"{error}: Playwright drives the browser; install the test extras (pip install -e .[test]).",
            name=error.name) from None

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
