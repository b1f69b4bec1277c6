"""The official MCP Python SDK against Tollgate's /mcp (run by tests/mcp.rs).

Connects with the SDK's high-level `Client` (its default `auto` mode: a
`server/discover` probe, then the initialize handshake), lists the consumer's
tools, calls a service tool and a prompt-API tool, checks that an unknown tool and
bad arguments are MCP errors (-32602), subscribes the consumer to a service through
the admin API and waits for `notifications/tools/list_changed`, then finds the new
tool on the next list and calls it. Prints `REQUEST_ID <id>` for each successful
call so the Rust side can check their call records (door `mcp`).
"""

import argparse
import asyncio
import sys

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gateway", required=True)
    p.add_argument("--admin", required=True)
    p.add_argument("--admin-token", required=True)
    p.add_argument("--key", required=True)
    args = p.parse_args()

    changed = anyio.Event()

    async def on_message(message):
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {args.key}"},
        timeout=httpx2.Timeout(30.0, read=120.0),
    )
    async with http:
        transport = streamable_http_client(f"{args.gateway}/mcp", http_client=http)
        async with Client(transport, message_handler=on_message) as client:
            version = client.session.protocol_version
            check(version == "2025-11-25", f"negotiated 2025-11-25 (got {version})")

            tools = await client.list_tools()
            names = [t.name for t in tools.tools]
            check("weather__forecast" in names, f"service tool listed: {names}")
            check("prompt__summarize" in names, "prompt-API tool listed")
            check("paid__thing" not in names, "a service not subscribed to is not listed")
            forecast = next(t for t in tools.tools if t.name == "weather__forecast")
            check(forecast.input_schema.get("required") == ["city"], "schema from the route's path")

            r = await client.call_tool("weather__forecast", {"city": "paris"})
            check(not r.is_error, f"service tool call succeeds: {r}")
            check(r.structured_content["path"] == "/v2/forecast/paris", "the route's rewrite reached")
            print(f"REQUEST_ID {r.meta['tollgate/request_id']}", flush=True)

            r = await client.call_tool("prompt__summarize", {"text": "A long story."})
            check(not r.is_error, f"prompt-API tool call succeeds: {r}")
            check(bool(r.structured_content["output"]), "the prompt-API's output")
            print(f"REQUEST_ID {r.meta['tollgate/request_id']}", flush=True)

            r = await client.call_tool("weather__broken", {})
            check(r.is_error, "an upstream 503 is a tool error")

            for name, arguments, what in [
                ("no__such_tool", {}, "unknown tool"),
                ("weather__forecast", {}, "missing required argument"),
                ("weather__forecast", {"city": 3}, "argument of the wrong type"),
            ]:
                try:
                    await client.call_tool(name, arguments)
                    check(False, f"{what} is an MCP error")
                except MCPError as e:
                    check(e.code == -32602, f"{what} is MCP error -32602 (got {e.code})")

            # A subscription: the list changes, the session is told.
            async with httpx2.AsyncClient() as admin:
                res = await admin.post(
                    f"{args.admin}/admin/v1/subscriptions",
                    headers={"Authorization": f"Bearer {args.admin_token}"},
                    json={"consumer": "team-a", "service": "paid"},
                )
                check(res.status_code in (200, 201), f"subscribed: {res.status_code} {res.text}")
            with anyio.fail_after(30):
                await changed.wait()
            check(True, "notifications/tools/list_changed received")
            tools = await client.list_tools()
            names = [t.name for t in tools.tools]
            check("paid__thing" in names, f"the new tool is listed: {names}")
            r = await client.call_tool("paid__thing", {})
            check(not r.is_error and r.structured_content["path"] == "/thing", "the new tool calls through")
            print(f"REQUEST_ID {r.meta['tollgate/request_id']}", flush=True)

    print("mcp checks passed", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
