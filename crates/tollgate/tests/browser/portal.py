"""The developer portal in a browser: a developer signs in, reads the catalogue and a
service's rendered API reference, subscribes (one approved at once, one after an
admin's approval), makes a key and uses it on the gateway, sees their usage and its
chart, revokes the key (the gateway then refuses it) and signs out; no page logs an
error. Driven by tests/portal_ui.rs, which starts the binary and passes its
addresses in the environment."""

import os
import time

from harness import check, http, run

ADMIN = os.environ["ADMIN_URL"]
GATEWAY = os.environ["GATEWAY_URL"]
USER = os.environ["PORTAL_USER"]
PASSWORD = os.environ["PORTAL_PASSWORD"]
ADMIN_TOKEN = os.environ["ADMIN_TOKEN"]


def chat(key, model="gpt-mock"):
    return http(
        "POST",
        f"{GATEWAY}/v1/chat/completions",
        {"model": model, "messages": [{"role": "user", "content": "hello from the portal test"}]},
        key,
    )


def sign_in(b):
    p = b.page
    p.goto(f"{ADMIN}/portal/")
    p.wait_for_selector("#sign-in")
    p.fill("#username", USER)
    b.shot("portal-login.png")
    p.fill("#password", "not the password")
    p.click("#sign-in")
    p.wait_for_selector(".notice.error")
    check("Wrong username or password" in p.inner_text(".status"), "a wrong password says so")
    # The 401 of that attempt is the browser's to log; it is expected, not a fault.
    b.problems = [x for x in b.problems if "401" not in x]
    p.fill("#password", PASSWORD)
    p.click("#sign-in")
    p.wait_for_selector("#services .service")
    check(USER in p.inner_text("#who"), "the header names the developer")


def catalogue(b):
    p = b.page
    check(p.inner_text("#gateway-url") == GATEWAY, f"gateway URL shown: {p.inner_text('#gateway-url')}")
    names = p.locator("#services .service h3").all_inner_texts()
    check(names == ["billing", "pets"], f"published services only, by name: {names}")
    check(p.locator('#prompt-apis .prompt-api[data-name="summarize"]').count() == 1, "the prompt-API is listed")
    models = p.locator("ul.models li").all_inner_texts()
    check(models == ["claude-mock", "gpt-mock"], f"the consumer's models: {models}")
    check("Pet store" in p.inner_text('article[data-name="pets"]'), "the imported description is shown")


def reference(b):
    p = b.page
    p.click('article[data-name="pets"] a.button')
    p.wait_for_selector("#reference details.operation")
    ops = p.locator("#reference details.operation")
    check(ops.count() == 3, f"three operations rendered, got {ops.count()}")
    tags = p.locator("#reference section.tag h3").all_inner_texts()
    check(tags == ["pets", "Other operations"], f"grouped by tag: {tags}")
    show = p.locator('details.operation[data-method="get"][data-path="/svc/pets/pets/{petId}"]')
    show.locator("summary").click()
    body = show.locator(".operation-body")
    check(body.is_visible(), "the operation opens")
    params = body.locator(".params").inner_text()
    check("petId" in params and "required" in params and "path" in params, f"parameters table: {params}")
    responses = body.locator(".responses").inner_text()
    check("200" in responses and "404" in responses, f"responses: {responses}")
    check("name" in responses and "tag" in responses, f"the response schema's properties: {responses}")
    check("Pet (recursive)" in responses, f"the recursive schema is cut and named: {responses}")
    check("curl -X GET" in body.locator(".curl pre").inner_text(), "a curl example")
    create = p.locator('details.operation[data-method="post"]')
    create.locator("summary").click()
    request = create.locator(".body").text_content()
    check("Request body" in request and "application/json" in request and "required" in request, request)
    check('one of: "dog", "cat"' in request, f"enum values: {request}")
    # Text from the document is text: the HTML in a description is shown, not parsed.
    check(p.locator("#reference script, #reference img").count() == 0, "no markup from the document")
    check("<img" in p.inner_text("#reference"), "the description's HTML is shown as text")
    b.shot("portal-docs.png")


def subscribe(b):
    p = b.page
    p.click('nav a[data-page="catalog"]')
    p.wait_for_selector('.subscription[data-service="pets"] button.subscribe')
    p.click('.subscription[data-service="pets"] button.subscribe')
    p.wait_for_selector('.subscription[data-service="pets"] .badge.approved')
    p.click('.subscription[data-service="billing"] button.subscribe')
    p.wait_for_selector('.subscription[data-service="billing"] .badge.pending')
    # An operator approves the pending one; the catalogue shows it on its next load.
    status, subs = http("GET", f"{ADMIN}/admin/v1/subscriptions?status=pending", token=ADMIN_TOKEN)
    check(status == 200 and len(subs["data"]) == 1, f"one pending subscription: {subs}")
    status, _ = http("POST", f"{ADMIN}/admin/v1/subscriptions/{subs['data'][0]['id']}/approve", token=ADMIN_TOKEN)
    check(status == 200, f"approve: {status}")
    p.reload()
    p.wait_for_selector('.subscription[data-service="billing"] .badge.approved')
    b.shot("portal-catalog.png")


def keys(b):
    p = b.page
    p.click('nav a[data-page="keys"]')
    p.wait_for_selector("#create-key")
    p.fill("#key-name", "browser")
    p.select_option("#key-models", ["gpt-mock"])
    p.click("#create-key")
    p.wait_for_selector("#new-key")
    key = p.inner_text("#new-key").strip()
    check(len(key) > 20, f"the key is shown: {key!r}")
    check(key in p.inner_text("#created-key pre"), "the curl example carries the key")
    check(p.locator('#keys tbody tr').count() == 1, "the key is listed")
    check(key not in p.inner_text("#keys"), "the list never shows a secret")
    b.shot("portal-keys.png")
    for _ in range(3):
        status, body = chat(key)
        check(status == 200, f"the new key works on the gateway: {status} {body}")
    status, body = chat(key, "claude-mock")
    check(status == 403, f"the key is limited to gpt-mock: {status} {body}")
    return key


def usage(b):
    p = b.page
    deadline = time.time() + 60
    while True:
        p.click('nav a[data-page="usage"]') if "#/usage" not in p.url else p.reload()
        p.wait_for_selector("#usage-chart[data-points]")
        requests = int(p.inner_text("#usage-requests .value").replace(",", ""))
        points = int(p.get_attribute("#usage-chart", "data-points"))
        if requests >= 4 and points > 0:
            break
        check(time.time() < deadline, f"usage never showed the calls: requests={requests} points={points}")
        time.sleep(1)
    check(p.locator("#usage-chart canvas").count() == 1, "the chart is drawn on a canvas")
    drawn = p.evaluate(
        """() => { const c = document.querySelector('#usage-chart canvas');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"""
    )
    check(drawn > 100, f"the canvas has pixels drawn: {drawn}")
    p.select_option("#usage-metric", "cost_usd")
    p.wait_for_selector("#usage-chart canvas")
    check(int(p.get_attribute("#usage-chart", "data-points")) > 0, "the cost is charted too")
    p.select_option("#usage-metric", "requests")
    p.wait_for_selector("#usage-chart canvas")
    b.shot("portal-usage.png")


def revoke(b, key):
    p = b.page
    p.click('nav a[data-page="keys"]')
    p.wait_for_selector("#keys button.revoke")
    p.click("#keys button.revoke")
    p.wait_for_selector("#keys .badge.revoked")
    status, body = chat(key)
    check(status == 401, f"a revoked key is refused: {status} {body}")


def sign_out(b):
    p = b.page
    p.click("#logout")
    p.wait_for_selector("#sign-in")
    check(p.locator("#nav").is_hidden(), "signed out: no navigation")
    # The session is over on the server too.
    p.goto(f"{ADMIN}/portal/#/keys")
    p.wait_for_selector("#sign-in")


def steps(b):
    sign_in(b)
    catalogue(b)
    reference(b)
    subscribe(b)
    key = keys(b)
    usage(b)
    revoke(b, key)
    sign_out(b)


run(steps)
