"""Shared by the browser checks: Debian's Chromium driven by Playwright, every
console error, page error and failed request collected, screenshots on request.

The browser is the system's (`/usr/bin/chromium`, or $TOLLGATE_CHROMIUM): Playwright
never downloads one here.
"""

import json
import os
import sys
import urllib.error
import urllib.request

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("TOLLGATE_CHROMIUM", "/usr/bin/chromium")


class Browser:
    """One headless Chromium with one page; `problems` lists what went wrong in it."""

    def __init__(self, screenshots):
        self.screenshots = screenshots
        self.problems = []
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        self.context = self._browser.new_context(viewport={"width": 1280, "height": 860})
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("dialog", lambda d: d.accept())

    def _console(self, msg):
        if msg.type in ("error", "warning"):
            self.problems.append(f"console {msg.type}: {msg.text} at {msg.location}")

    def _failed(self, request):
        # A download or a navigation that the page itself cut is not a failure.
        if request.failure and "ERR_ABORTED" not in request.failure:
            self.problems.append(f"request failed: {request.url}: {request.failure}")

    def shot(self, name):
        if self.screenshots:
            os.makedirs(self.screenshots, exist_ok=True)
            self.page.screenshot(path=os.path.join(self.screenshots, name), full_page=True)

    def close(self):
        self.context.close()
        self._browser.close()
        self._pw.stop()


def http(method, url, body=None, token=None):
    """A plain HTTP call (status, parsed JSON or text) for what the test does
    outside the browser: the gateway call with the new key, an admin approval."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            status, raw = res.status, res.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def run(steps):
    """Runs `steps(browser)`; prints what failed and exits non-zero on any failure
    or any console error seen on any page."""
    browser = Browser(os.environ.get("TOLLGATE_SCREENSHOTS"))
    try:
        steps(browser)
        check(not browser.problems, "the pages reported problems:\n" + "\n".join(browser.problems))
    except Exception as e:  # noqa: BLE001 - everything is reported the same way
        try:
            browser.shot("failure.png")
        except Exception:  # noqa: BLE001
            pass
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        if browser.problems:
            print("problems seen:\n" + "\n".join(browser.problems), file=sys.stderr)
        browser.close()
        sys.exit(1)
    browser.close()
    print("browser checks passed")
