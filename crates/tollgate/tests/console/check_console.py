"""Drives the Tollgate web console in headless Debian Chromium with Playwright.

Run by crates/tollgate/tests/console.rs against a real `tollgate serve` on a fresh
database (no provider) and the mock provider. Fails (non-zero exit) on any failed
check and on any browser console error or uncaught exception, except the error
responses a step expects (a wrong password's 401, a form's 400, ...), which are
declared with `expect()` before the step.

Covers: login; the first-run path (provider, model, consumer and key through the UI)
and a real request through the gateway with the key the UI showed; every page renders
(and a screenshot of each); a field error shown beside its field; approving a
subscription; CSRF (a cookie-only write without the token is refused); a viewer sees
no edit buttons and a write forged with the viewer's cookie is refused; an ended
session leads back to the login.
"""

import argparse
import json
import os
import sys
import urllib.request
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright, expect

PAGES = ["home", "providers", "models", "masking", "teams", "consumers", "limits",
         "subscriptions", "services", "import", "prompt-apis", "calls", "dashboards",
         "playground", "alerts", "audit", "users"]
VIEWER_PAGES = [p for p in PAGES if p not in ("import", "playground", "audit", "users")]

args = None
failures = []
expected = []   # (status, path prefix) error answers the current step may cause
seen_errors = []
step = "start"


def check(cond, what):
    global step
    step = what
    if cond:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}")
        failures.append(what)


def expect_errors(*pairs):
    expected.clear()
    expected.extend(pairs)


def http(method, url, body=None, headers=None):
    """A request outside the browser: (status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            text = res.read().decode()
            status = res.status
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        status = e.code
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def admin(method, path, body=None):
    return http(method, args.admin + path, body, {"authorization": f"Bearer {args.token}"})


def watch(page):
    admin_origin = urlparse(args.admin).netloc

    def on_console(msg):
        if msg.type != "error":
            return
        text = msg.text
        # A failed fetch is logged by Chromium as "Failed to load resource"; whether it
        # was expected is decided from the response itself (on_response).
        if text.startswith("Failed to load resource"):
            return
        seen_errors.append(f"console error: {text} at {msg.location}")

    def on_response(res):
        if res.status < 400:
            return
        path = urlparse(res.url).path
        if not any(res.status == s and path.startswith(p) for s, p in expected):
            seen_errors.append(f"unexpected {res.status} from {res.request.method} {path} (during: {step})")

    def on_request(req):
        if urlparse(req.url).netloc != admin_origin:
            seen_errors.append(f"request to another origin: {req.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: seen_errors.append(f"uncaught exception: {e}"))
    page.on("response", on_response)
    page.on("request", on_request)


def goto(page, name, shot=None):
    page.goto(f"{args.admin}/#/{name}")
    page.wait_for_selector(f'.view[data-page="{name.split("/")[0]}"][data-ready="true"]', timeout=15000)
    if shot:
        os.makedirs(args.screenshots, exist_ok=True)
        page.screenshot(path=os.path.join(args.screenshots, f"{shot}.png"), full_page=True)


def login(page, username, password):
    expect_errors((401, "/admin/v1/session"))
    page.goto(args.admin + "/")
    page.wait_for_selector("form [name=username]")
    expect_errors()
    page.fill("[name=username]", username)
    page.fill("[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector(".shell")


def fill_dialog(page, values):
    d = page.locator("dialog[open]")
    for name, value in values.items():
        el = d.locator(f'[name="{name}"]')
        tag = el.evaluate("e => e.tagName")
        if tag == "SELECT":
            el.select_option(value)
        else:
            el.fill(value)
    return d


def first_run(page):
    goto(page, "home", "home-setup")
    check(page.locator(".steps li").count() == 4, "a fresh install shows the four first-run steps")
    # 1. A provider: the OpenAI preset, pointed at the mock.
    page.click('button[data-kind="openai"]')
    d = fill_dialog(page, {"name": "mock", "base_url": args.mock_openai, "api_keys": "sk-mock-key"})
    check(d.locator('[name="kind"]').input_value() == "openai", "the preset fills the provider kind")
    d.locator("button[type=submit]").click()
    page.wait_for_selector("dialog[open]", state="detached")
    page.wait_for_selector("button.add-model")
    check(page.locator(".steps li.done").count() == 1, "the provider step is ticked")

    # 2. A model; first with an unknown provider: the API's error shows beside `targets`.
    page.click("button.add-model")
    d = fill_dialog(page, {
        "name": "gpt-4o-mini",
        "targets": json.dumps([{"provider": "nope", "model": "gpt-4o-mini", "weight": 1}]),
        "price.input_per_mtok": "1", "price.output_per_mtok": "2",
    })
    expect_errors((400, "/admin/v1/models"))
    d.locator("button[type=submit]").click()
    err = d.locator('.field-error[data-field="targets"]')
    expect(err).not_to_be_empty(timeout=10000)
    check("targets[0].provider" in err.inner_text(), f"the API's error is shown beside its field: {err.inner_text()!r}")
    expect_errors()
    fill_dialog(page, {"targets": json.dumps([{"provider": "mock", "model": "gpt-4o-mini", "weight": 1}])})
    d.locator("button[type=submit]").click()
    page.wait_for_selector("dialog[open]", state="detached")
    page.wait_for_selector("button.add-consumer")

    # 3. A consumer and its key, shown once.
    page.click("button.add-consumer")
    d = fill_dialog(page, {"name": "app"})
    d.locator("button[type=submit]").click()
    page.wait_for_selector("dialog[open] [name=expires_at]")
    d = fill_dialog(page, {"name": "first"})
    d.locator("button[type=submit]").click()
    secret = page.locator("dialog[open] .secret")
    secret.wait_for()
    key = secret.inner_text().strip()
    check(key.startswith("tg-") or len(key) > 20, f"the new key is shown once ({key[:6]}…)")
    check(page.locator("dialog[open] button.copy").count() == 1, "with a copy button")
    if args.screenshots:
        page.screenshot(path=os.path.join(args.screenshots, "new-key.png"))
    page.click("dialog[open] button.done")
    snippet = page.locator(".setup-result pre").first
    snippet.wait_for()
    check(key in snippet.inner_text() and args.gateway in snippet.inner_text(),
          "the curl snippet has the gateway address and the new key")

    # 4. The key works on the gateway, through the mock.
    status, body = http("POST", args.gateway + "/v1/chat/completions",
                        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                        {"authorization": f"Bearer {key}"})
    check(status == 200 and body["choices"][0]["message"]["content"],
          f"the key made in the console calls the gateway: {status}")
    return key


def seed():
    """What the other pages list: a team, a service needing approval, a pending
    subscription, a release, a prompt-API, a viewer user."""
    for method, path, body in [
        ("POST", "/admin/v1/teams", {"name": "platform", "budget": {"usd": 100, "period": "monthly"}}),
        ("POST", "/admin/v1/consumers", {"name": "partner", "team": "platform"}),
        ("POST", "/admin/v1/services", {
            "name": "weather", "path_prefix": "/svc/weather",
            "upstream": {"nodes": [{"url": args.mock_openai, "weight": 1}]},
            "routes": [{"name": "forecast", "methods": ["GET"], "path": "/forecast/{city}"}],
            "subscription": {"approval": "manual"}}),
        ("POST", "/admin/v1/services/weather/releases", {"version": "1.0.0", "notes": "first"}),
        ("POST", "/admin/v1/subscriptions", {"consumer": "partner", "service": "weather"}),
        ("POST", "/admin/v1/prompt-apis", {
            "name": "summarize", "path": "/prompt/summarize", "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "Summarize: {{text}}"}],
            "variables": [{"name": "text", "required": True}], "max_tokens": 100}),
        ("POST", "/admin/v1/consumers/app/credits", {"amount_usd": 5, "reason": "trial"}),
        ("POST", "/admin/v1/users", {"username": "viewer", "password": "viewer-password", "role": "viewer"}),
    ]:
        status, answer = admin(method, path, body)
        if status not in (200, 201):
            raise SystemExit(f"seeding {method} {path} failed: {status} {answer}")


BAD_TEXT = """() => {
    const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const bad = [];
    for (let n = w.nextNode(); n; n = w.nextNode()) {
        const t = n.textContent.trim();
        if (/^(null|undefined|NaN)+$/.test(t) || t.includes('[object Object]')) bad.push(t);
    }
    return bad;
}"""


def every_page(page, pages, prefix=""):
    for name in pages:
        goto(page, name, f"{prefix}{name}")
        check(page.locator(".view .notice.error").count() == 0, f"{prefix}{name} renders without an error")
        bad = page.evaluate(BAD_TEXT)
        check(not bad, f"{prefix}{name} shows no null / undefined / [object Object]: {bad}")


def approve(page):
    goto(page, "subscriptions")
    row = page.locator("tr", has_text="partner")
    check(row.count() == 1, "the pending subscription is listed")
    row.locator("button.approve").click()
    expect(page.locator("tr", has_text="partner")).to_have_count(0)
    status, subs = admin("GET", "/admin/v1/subscriptions?consumer=partner")
    check(status == 200 and subs["data"][0]["status"] == "approved", "approving in the console approves it")


def csrf(page):
    expect_errors((403, "/admin/v1/teams"))
    r = page.evaluate("""async () => {
        const res = await fetch('/admin/v1/teams', {method: 'POST', credentials: 'same-origin',
            headers: {'content-type': 'application/json'}, body: JSON.stringify({name: 'forged'})});
        return [res.status, await res.json()];
    }""")
    check(r[0] == 403 and r[1]["error"]["code"] == "csrf_failed", f"a cookie-only POST without the CSRF token is refused: {r}")
    expect_errors()
    status, _ = admin("GET", "/admin/v1/teams/forged")
    check(status == 404, "and nothing was created")


def detail_pages(page):
    goto(page, "consumers/app", "consumer-detail")
    check(page.locator("table code", has_text="…").count() >= 1, "the consumer page lists its key by prefix")
    goto(page, "services/weather", "service-detail")
    page.click("text=Releases")
    page.click("button.diff")
    page.wait_for_selector("div.diff table, div.diff .empty")
    if args.screenshots:
        page.screenshot(path=os.path.join(args.screenshots, "release-diff.png"), full_page=True)
    check(page.locator("div.diff").inner_text().find("1.0.0") >= 0, "a release's diff against what runs now is shown")
    goto(page, "limits/app", "credits")
    check("$5.00" in page.locator(".credits-balance").inner_text(), "the credit balance is shown")


def writes(page, key):
    """Create, edit, top up, deprecate and revoke through the UI, each checked
    against the API (or the gateway)."""
    goto(page, "teams")
    page.click("button.new")
    d = fill_dialog(page, {"name": "ui-team", "budget.usd": "10"})
    expect_errors((400, "/admin/v1/teams"))
    d.locator("button[type=submit]").click()
    expect(d.locator(".field.invalid .field-error")).not_to_be_empty()
    check(d.locator(".field.invalid [name^=budget]").count() == 1,
          f"a budget without a period is blamed on a budget field: {d.locator('.field.invalid').inner_text()!r}")
    expect_errors()
    fill_dialog(page, {"budget.period": "monthly"})
    d.locator("button[type=submit]").click()
    page.wait_for_selector("dialog[open]", state="detached")
    expect(page.locator('tr[data-key="ui-team"]')).to_have_count(1)
    page.locator('tr[data-key="ui-team"] button.edit').click()
    d = fill_dialog(page, {"rate_limit.requests_per_minute": "42"})
    d.locator("button[type=submit]").click()
    page.wait_for_selector("dialog[open]", state="detached")
    _, team = admin("GET", "/admin/v1/teams/ui-team")
    check(team.get("rate_limit", {}).get("requests_per_minute") == 42 and team["budget"]["usd"] == 10,
          f"editing a team in the console keeps what the form did not change: {team}")

    goto(page, "masking")
    page.click("button.new")
    d = fill_dialog(page, {"name": "ui-pii", "regex": '["("]'})
    expect_errors((400, "/admin/v1/masking"))
    d.locator("button[type=submit]").click()
    expect(d.locator(".field.invalid .field-error")).not_to_be_empty()
    check(d.locator(".field.invalid [name^=regex]").count() == 1,
          f"a regex that does not compile is blamed on the regex field: {d.locator('.field.invalid').inner_text()!r}")
    expect_errors()
    fill_dialog(page, {"regex": '["EMP-[0-9]{6}"]', "action": "block"})
    d.locator("button[type=submit]").click()
    page.wait_for_selector("dialog[open]", state="detached")
    expect(page.locator('tr[data-key="ui-pii"]')).to_have_count(1)
    _, rule = admin("GET", "/admin/v1/masking/ui-pii")
    check(rule.get("regex") == ["EMP-[0-9]{6}"] and rule.get("action") == "block",
          f"a masking rule made in the console is stored: {rule}")
    status, _ = http("POST", args.gateway + "/v1/chat/completions",
                     {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "badge EMP-123456"}]},
                     {"authorization": f"Bearer {key}"})
    check(status == 400, f"the rule made in the console blocks on the gateway at once: {status}")
    admin("DELETE", "/admin/v1/masking/ui-pii")

    goto(page, "alerts")
    page.click("button.new")
    d = fill_dialog(page, {"name": "ui-ops", "webhook": "ftp://hooks.example.com/x"})
    expect_errors((400, "/admin/v1/alerts"))
    d.locator("button[type=submit]").click()
    expect(d.locator(".field.invalid .field-error")).not_to_be_empty()
    check(d.locator(".field.invalid [name=webhook]").count() == 1,
          f"a webhook that is not http(s) is blamed on the webhook field: {d.locator('.field.invalid').inner_text()!r}")
    expect_errors()
    fill_dialog(page, {"webhook": "https://hooks.example.com/services/UI-TOKEN", "secret": "ui-signing-secret"})
    d.locator("button[type=submit]").click()
    page.wait_for_selector("dialog[open]", state="detached")
    row = page.locator('tr[data-key="ui-ops"]')
    expect(row).to_have_count(1)
    check("https://hooks.example.com/" in row.inner_text() and "UI-TOKEN" not in page.content()
          and "ui-signing-secret" not in page.content(),
          f"an alert channel made in the console shows only its webhook's origin: {row.inner_text()!r}")
    _, channel = admin("GET", "/admin/v1/alerts/ui-ops")
    check(channel.get("signed") is True and channel.get("source") == "api",
          f"an alert channel made in the console is stored, signed: {channel}")
    row.locator("button.edit").click()
    d = fill_dialog(page, {"webhook": "https://hooks2.example.com/services/UI-TOKEN"})
    d.locator("button[type=submit]").click()
    page.wait_for_selector("dialog[open]", state="detached")
    _, channel = admin("GET", "/admin/v1/alerts/ui-ops")
    check(channel.get("webhook_origin") == "https://hooks2.example.com" and channel.get("signed") is True,
          f"editing an alert channel without a secret keeps the stored one: {channel}")
    admin("DELETE", "/admin/v1/alerts/ui-ops")

    goto(page, "limits/app")
    page.fill("[name=amount_usd]", "2.5")
    page.fill("[name=reason]", "console top-up")
    page.click("form button[type=submit]")
    expect(page.locator(".credits-balance")).to_have_text("$7.50")
    check(True, "a top-up in the console shows in the balance")

    goto(page, "services/weather")
    page.click("button.lifecycle-deprecated")
    expect(page.locator(".page-header .pill")).to_have_text("deprecated")
    _, svc = admin("GET", "/admin/v1/services/weather")
    check(svc["lifecycle"] == "deprecated", "deprecating in the console moves the service")

    goto(page, "consumers/app")
    page.locator("button.revoke").first.click()
    page.click("dialog[open] button.confirm-yes")
    expect(page.locator("button.revoke")).to_have_count(0)
    status, _ = http("POST", args.gateway + "/v1/chat/completions",
                     {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                     {"authorization": f"Bearer {key}"})
    check(status == 401, f"a key revoked in the console is refused by the gateway: {status}")


def openapi_import(page):
    goto(page, "import")
    doc = {"openapi": "3.0.3", "info": {"title": "Pets", "version": "1"},
           "paths": {"/pets/{id}": {"get": {"operationId": "getPet", "parameters": [
               {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
               "responses": {"200": {"description": "a pet"}}}}}}
    page.fill("[name=name]", "pets")
    page.fill("[name=path_prefix]", "/svc/pets")
    page.fill("[name=upstream_url]", args.mock_openai)
    page.select_option("[name=format]", "json")
    # A broken document: the API's complaint shows beside the document.
    page.fill("[name=document]", json.dumps({"openapi": "2.0", "paths": {}}))
    expect_errors((400, "/admin/v1/services/import"))
    page.click("form button[type=submit]")
    err = page.locator('.field-error[data-field="document"]')
    expect(err).not_to_be_empty()
    check("openapi" in err.inner_text(), f"an import error is shown beside the document: {err.inner_text()!r}")
    expect_errors()
    page.fill("[name=document]", json.dumps(doc))
    page.click("form button[type=submit]")
    page.wait_for_selector('.view[data-page="services"][data-ready="true"] >> text=getPet')
    _, svc = admin("GET", "/admin/v1/services/pets")
    check([r["name"] for r in svc.get("routes", [])] == ["getPet"], f"importing in the console makes the service: {svc.get('routes')}")


def viewer(page):
    # Sign out, then in as the viewer.
    page.click("#logout")
    page.wait_for_selector("form [name=username]")
    login(page, "viewer", "viewer-password")
    check(page.locator('.nav a[data-page="users"]').count() == 0, "a viewer has no Users page in the navigation")
    for name in VIEWER_PAGES + ["consumers/app", "services/weather"]:
        goto(page, name, None)
        buttons = page.locator(".view button.new, .view button.edit, .view button.delete, .view button.approve, "
                               ".view button.revoke, .view button.new-key, .view button[class*=lifecycle-], "
                               ".view button.publish, .view form button[type=submit]:not(.filter)")
        # The audit and subscription filters are not edits; the viewer sees none of those pages' forms anyway.
        check(buttons.count() == 0, f"a viewer sees no edit button on {name}")
    goto(page, "consumers", "viewer-consumers")
    expect_errors((403, "/admin/v1/teams"))
    r = page.evaluate("""async () => {
        const s = await (await fetch('/admin/v1/session')).json();
        const res = await fetch('/admin/v1/teams', {method: 'POST', credentials: 'same-origin',
            headers: {'content-type': 'application/json', 'x-csrf-token': s.csrf_token},
            body: JSON.stringify({name: 'by-viewer'})});
        return [res.status, await res.json()];
    }""")
    check(r[0] == 403 and r[1]["error"]["code"] == "forbidden", f"a write forged with the viewer's cookie and token is refused: {r}")
    expect_errors()


def session_end(page):
    # The session ends on the server (as when it expires): the next API call is a 401
    # and the console goes back to its login.
    r = page.evaluate("""async () => {
        const s = await (await fetch('/admin/v1/session')).json();
        const res = await fetch('/admin/v1/logout', {method: 'POST', headers: {'x-csrf-token': s.csrf_token}});
        return res.status;
    }""")
    check(r == 204, "logout ends the session")
    expect_errors((401, "/admin/v1/"))
    page.click('.nav a[data-page="teams"]')
    page.wait_for_selector("form [name=username]")
    check(page.locator(".notice.warn").count() == 1, "an ended session leads to the login page")
    expect_errors()


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--admin", required=True)
    p.add_argument("--gateway", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--mock-openai", required=True)
    p.add_argument("--screenshots", default="")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    args = p.parse_args()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1360, "height": 860})
        page = context.new_page()
        watch(page)

        # The login page (the session probe's 401 is how it knows), a wrong password.
        expect_errors((401, "/admin/v1/session"))
        res = page.goto(args.admin + "/")
        csp = res.headers.get("content-security-policy", "")
        check("script-src 'self'" in csp and "unsafe-inline" not in csp, "the console page has a strict CSP")
        page.wait_for_selector("form [name=username]")
        if args.screenshots:
            os.makedirs(args.screenshots, exist_ok=True)
            page.screenshot(path=os.path.join(args.screenshots, "login.png"))
        expect_errors((401, "/admin/v1/session"), (401, "/admin/v1/login"))
        page.fill("[name=username]", "admin")
        page.fill("[name=password]", "wrong password")
        page.click("button[type=submit]")
        expect(page.locator(".form-error")).not_to_be_empty()
        check(page.locator(".shell").count() == 0, "a wrong password does not sign in")
        login(page, "admin", args.password)
        expect_errors()
        cookie = [c for c in context.cookies() if c["name"] == "tollgate_session"]
        check(len(cookie) == 1 and cookie[0]["httpOnly"] and cookie[0]["sameSite"] == "Strict",
              "the session cookie is HttpOnly and SameSite=Strict")

        key = first_run(page)
        seed()
        every_page(page, PAGES)
        detail_pages(page)
        approve(page)
        writes(page, key)
        openapi_import(page)
        csrf(page)
        viewer(page)
        session_end(page)
        browser.close()

    for e in seen_errors:
        print(f"FAIL {e}")
    if failures or seen_errors:
        print(f"{len(failures) + len(seen_errors)} console check(s) failed")
        sys.exit(1)
    print("console checks passed")


if __name__ == "__main__":
    main()
