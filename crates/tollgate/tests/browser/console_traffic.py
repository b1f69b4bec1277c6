"""The console's traffic pages in a browser, after real traffic through the gateway:
the dashboards draw their charts (a canvas with data in each) and top tables, a
consumer's drill-down narrows them; the call log lists the calls, filters them, links
its exports, and a call's page shows its record and explain trail; the playground
makes a key, streams a chat through the gateway and shows the answer, its tokens,
cost and explain. No page logs an error. Driven by tests/console_traffic.rs."""

import os
import time

from harness import check, http, run

ADMIN = os.environ["ADMIN_URL"]
PASSWORD = os.environ["CONSOLE_PASSWORD"]


def goto(b, route, ready):
    b.page.goto(f"{ADMIN}/#/{route}")
    b.page.wait_for_selector(f'.view[data-page="{ready}"][data-ready="true"]')


def login(b):
    p = b.page
    p.goto(f"{ADMIN}/")
    p.wait_for_selector("form [name=username]")
    # The console asks GET /admin/v1/session first: its 401 is how it knows to show
    # the form, not a fault.
    b.problems = [x for x in b.problems if "401" not in x]
    p.fill("[name=username]", "admin")
    p.fill("[name=password]", PASSWORD)
    p.click("button[type=submit]")
    p.wait_for_selector(".shell")


def drawn_pixels(b, selector):
    return b.page.evaluate(
        """(sel) => { const c = document.querySelector(sel + ' canvas'); if (!c) return 0;
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""",
        selector,
    )


def dashboards(b):
    p = b.page
    deadline = time.time() + 60
    while True:
        goto(b, "dashboards?range=1h", "dashboards")
        points = {c: int(p.get_attribute(f"#chart-{c}", "data-points") or 0)
                  for c in ("requests", "tokens", "cost", "latency", "ttft", "overhead")}
        if all(v > 0 for v in points.values()):
            break
        check(time.time() < deadline, f"the dashboards never drew every chart: {points}")
        time.sleep(1)
    for c in ("requests", "tokens", "cost", "latency", "ttft", "overhead"):
        check(p.locator(f"#chart-{c} canvas").count() == 1, f"{c}: a canvas")
        check(drawn_pixels(b, f"#chart-{c}") > 100, f"{c}: the canvas has lines drawn")
    consumers = p.locator("#top-consumer tbody tr").all_inner_texts()
    check(len(consumers) == 2 and consumers[0].startswith("team-a"), f"top consumers, busiest first: {consumers}")
    models = p.locator("#top-model tbody tr").all_inner_texts()
    check(any(m.startswith("gpt-mock") for m in models), f"top models: {models}")
    b.shot("dashboards.png")
    # Drill-down: one consumer's charts only.
    p.click('#top-consumer a.drill:text-is("team-b")')
    p.wait_for_selector('.view[data-page="dashboards"][data-ready="true"]')
    check("team-b" in p.inner_text(".page-header h1"), "the drill-down names its consumer")
    check(int(p.get_attribute("#chart-requests", "data-points")) > 0, "team-b's requests are charted")
    b.shot("dashboards-consumer.png")


def call_log(b):
    p = b.page
    goto(b, "calls", "calls")
    rows = p.locator("tbody tr")
    check(rows.count() >= 6, f"the calls are listed: {rows.count()}")
    check(p.get_attribute("a.export-ndjson", "href").startswith("/admin/v1/calls/export?format=ndjson"), "NDJSON export link")
    check(p.get_attribute("a.export-csv", "href").startswith("/admin/v1/calls/export?format=csv"), "CSV export link")
    # The export link answers with the session cookie (a plain GET).
    status = p.evaluate("async () => (await fetch(document.querySelector('a.export-csv').href)).status")
    check(status == 200, f"the CSV export answers: {status}")
    b.shot("calls.png")
    # Filter: the 404s only.
    p.fill("[name=status]", "404")
    p.click("form.filters button[type=submit]")
    # Polled: waiting on a JavaScript condition would need eval, which the console's
    # CSP forbids.
    deadline = time.time() + 15
    while True:
        p.wait_for_selector('.view[data-page="calls"][data-ready="true"]')
        statuses = p.locator("tbody tr td:nth-child(6)").all_inner_texts()
        if statuses and all(s.strip() == "404" for s in statuses):
            break
        check(time.time() < deadline, f"filtered on status 404: {statuses}")
        time.sleep(0.2)
    # A call's page: its record and its explain trail.
    p.click("a.call-link >> nth=0")
    p.wait_for_selector('.view[data-page="calls"][data-ready="true"] #explain')
    text = p.inner_text("#explain")
    check("auth" in text, f"the explain trail starts with auth: {text}")
    check("model_not_found" in p.inner_text(".view"), "the record says why it failed")
    b.shot("call-detail.png")
    # A successful call's explain has its attempt and settlement.
    goto(b, "calls?status=200", "calls")
    p.click("a.call-link >> nth=0")
    p.wait_for_selector('.view[data-page="calls"][data-ready="true"] #explain')
    steps = p.locator("#explain tbody tr td:nth-child(2)").all_inner_texts()
    check("attempt" in steps and "settle" in steps, f"attempt and settle steps: {steps}")


def playground(b):
    p = b.page
    goto(b, "playground", "playground")
    p.select_option("#pg-model", "gpt-mock")
    p.select_option("#pg-consumer", "team-a")
    p.click("button.new-key")
    p.wait_for_selector(".secret-once code.secret")
    check(p.input_value("#pg-key").startswith("tg-"), "the new key fills the key field")
    p.fill("#pg-message", "Hello from the playground")
    p.click("#pg-send")
    p.wait_for_selector("#pg-explain table", timeout=30000)
    answer = p.inner_text("#pg-answer")
    check(len(answer.strip()) > 0, f"the streamed answer is shown: {answer!r}")
    facts = p.inner_text("#pg-facts")
    check("tokens in / out" in facts and "cost" in facts, f"tokens and cost: {facts}")
    check(p.locator("#pg-facts .pg-cost strong").inner_text().startswith("$"), "the cost is in USD")
    steps = p.locator("#pg-explain tbody tr td:nth-child(2)").all_inner_texts()
    check("attempt" in steps, f"the call's explain: {steps}")
    b.shot("playground.png")
    # Without streaming, and with a key the gateway refuses: its error is shown.
    p.uncheck("#pg-stream")
    p.fill("#pg-key", "tg-not-a-real-key")
    p.click("#pg-send")
    p.wait_for_selector(".notice.error")
    check("invalid_api_key" in p.inner_text(".notice.error"), "the gateway's refusal is shown")
    # The browser logs that 401 of the relay; it is the point of this step.
    b.problems = [x for x in b.problems if "/admin/v1/playground/chat" not in x and "401" not in x]


def steps(b):
    login(b)
    dashboards(b)
    call_log(b)
    playground(b)


run(steps)
