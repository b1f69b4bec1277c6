"""Drives a running Tollgate with the official OpenAI and Anthropic Python SDKs.

Run by crates/tollgate/tests/sdk.rs with the virtualenv it prepares:

    python check_sdks.py --gateway http://127.0.0.1:PORT --key KEY MODEL [MODEL ...]

Each MODEL is a gateway model routed to the strict mock provider (one per provider
kind). For every model, through both SDKs: a plain chat, a streamed chat, a tool-call
round trip (plain and streamed); through the OpenAI SDK's Responses API as well (text,
tools, JSON schema, a cut answer, stored responses continued with
`previous_response_id`, the event stream and its helper); then error handling, request
ids and the model lists.
The mock answers deterministically: `mock reply to: <last user text>`, a tool call whose
arguments are `{"input": "<last user text>"}` when tools are offered, and
`tool said: <result>` after a tool result.

Responses are validated strictly against the SDKs' own types; everything must match.

One line per check on stdout; the first failure ends the run with a non-zero status
and a message naming the check.
"""

import argparse
import json
import sys
import traceback
from typing import Optional

import anthropic
import openai
import pydantic

SYSTEM = "be brief"


class CheckFailed(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise CheckFailed(what)


def eq(actual, expected, what):
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def words(s):
    return len(s.split())


# ---------------------------------------------------------------------------------------
# OpenAI SDK (base_url = <gateway>/v1)
# ---------------------------------------------------------------------------------------

OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a place",
            "parameters": {
                "type": "object",
                "properties": {"input": {"type": "string"}},
                "required": ["input"],
            },
        },
    }
]


def openai_chat(client, model):
    text = "hello there"
    r = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": text},
        ],
    )
    eq(r.object, "chat.completion", "object")
    eq(len(r.choices), 1, "number of choices")
    msg = r.choices[0].message
    eq(msg.role, "assistant", "message.role")
    eq(msg.content, f"mock reply to: {text}", "message.content")
    eq(r.choices[0].finish_reason, "stop", "finish_reason")
    expect(r.usage is not None, "usage is missing")
    eq(r.usage.completion_tokens, words(f"mock reply to: {text}"), "usage.completion_tokens")
    expect(r.usage.prompt_tokens >= 4, f"usage.prompt_tokens too small: {r.usage.prompt_tokens}")
    eq(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens, "usage.total_tokens")
    # The SDK reads the request id from `x-request-id`.
    expect(r._request_id and r._request_id.startswith("req_"), f"_request_id: {r._request_id!r}")


def openai_stream(client, model):
    text = "stream me please"
    reply = f"mock reply to: {text}"
    # With include_usage: the last chunk has no choices and carries the usage.
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": text}],
        stream=True,
        stream_options={"include_usage": True},
    )
    out, finish, usages, n = "", None, [], 0
    for chunk in stream:
        n += 1
        eq(chunk.object, "chat.completion.chunk", "chunk.object")
        if chunk.usage is not None:
            usages.append(chunk.usage)
            eq(chunk.choices, [], "choices of the usage chunk")
            continue
        for choice in chunk.choices:
            out += choice.delta.content or ""
            if choice.finish_reason:
                finish = choice.finish_reason
    expect(n > 2, f"the reply came in {n} chunk(s), not streamed")
    eq(out, reply, "streamed text")
    eq(finish, "stop", "finish_reason")
    eq(len(usages), 1, "number of usage chunks")
    eq(usages[0].completion_tokens, words(reply), "final usage.completion_tokens")
    expect(usages[0].prompt_tokens >= 3, f"final usage.prompt_tokens too small: {usages[0].prompt_tokens}")

    # Without include_usage: no usage anywhere.
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], stream=True
    )
    out = ""
    for chunk in stream:
        expect(chunk.usage is None, f"usage sent without include_usage: {chunk.usage}")
        for choice in chunk.choices:
            out += choice.delta.content or ""
    eq(out, reply, "streamed text without include_usage")

    # The SDK's streaming helper, which accumulates the chunks into a completion.
    with client.chat.completions.stream(
        model=model,
        messages=[{"role": "user", "content": text}],
        stream_options={"include_usage": True},
    ) as s:
        deltas = "".join(e.delta for e in s if e.type == "content.delta")
        final = s.get_final_completion()
    eq(deltas, reply, "stream helper: content.delta events")
    eq(final.choices[0].message.content, reply, "stream helper: final completion")
    eq(final.choices[0].finish_reason, "stop", "stream helper: finish_reason")
    eq(final.usage.completion_tokens, words(reply), "stream helper: usage.completion_tokens")


def openai_tools(client, model):
    text = "weather in Paris"
    result = "sunny 21C"
    messages = [{"role": "user", "content": text}]
    r = client.chat.completions.create(model=model, messages=messages, tools=OPENAI_TOOLS)
    eq(r.choices[0].finish_reason, "tool_calls", "finish_reason")
    msg = r.choices[0].message
    expect(msg.tool_calls, f"no tool_calls in {msg}")
    eq(len(msg.tool_calls), 1, "number of tool calls")
    call = msg.tool_calls[0]
    eq(call.type, "function", "tool_call.type")
    eq(call.function.name, "get_weather", "tool_call.function.name")
    eq(json.loads(call.function.arguments), {"input": text}, "tool_call.function.arguments")
    expect(call.id, "tool_call.id is empty")

    # The usual SDK pattern: append the returned message object as is, then the result.
    messages.append(msg)
    messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    r = client.chat.completions.create(model=model, messages=messages, tools=OPENAI_TOOLS)
    eq(r.choices[0].message.content, f"tool said: {result}", "answer after the tool result")
    eq(r.choices[0].finish_reason, "stop", "finish_reason after the tool result")


def openai_tools_stream(client, model):
    text = "weather in Rome"
    result = "cloudy 18C"
    messages = [{"role": "user", "content": text}]
    stream = client.chat.completions.create(
        model=model, messages=messages, tools=OPENAI_TOOLS, stream=True
    )
    calls, finish = {}, None
    for chunk in stream:
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                c = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                if tc.id:
                    c["id"] = tc.id
                if tc.function and tc.function.name:
                    c["name"] += tc.function.name
                if tc.function and tc.function.arguments:
                    c["arguments"] += tc.function.arguments
            if choice.finish_reason:
                finish = choice.finish_reason
    eq(finish, "tool_calls", "streamed finish_reason")
    eq(sorted(calls), [0], "streamed tool call indexes")
    call = calls[0]
    eq(call["name"], "get_weather", "streamed tool call name")
    eq(json.loads(call["arguments"]), {"input": text}, "streamed tool call arguments")
    expect(call["id"], "streamed tool call id is empty")

    # The SDK's streaming helper gathers the same call.
    with client.chat.completions.stream(model=model, messages=messages, tools=OPENAI_TOOLS) as s:
        done = [e for e in s if e.type == "tool_calls.function.arguments.done"]
        final = s.get_final_completion()
    eq(len(done), 1, "stream helper: tool_calls.function.arguments.done events")
    eq(done[0].name, "get_weather", "stream helper: tool name")
    helper_call = final.choices[0].message.tool_calls[0]
    eq(json.loads(helper_call.function.arguments), {"input": text}, "stream helper: tool arguments")
    eq(final.choices[0].finish_reason, "tool_calls", "stream helper: finish_reason")

    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    stream = client.chat.completions.create(
        model=model, messages=messages, tools=OPENAI_TOOLS, stream=True
    )
    out = "".join(c.delta.content or "" for chunk in stream for c in chunk.choices)
    eq(out, f"tool said: {result}", "streamed answer after the tool result")


# The Responses API (`client.responses`): the same tools in its flat format.
RESPONSES_TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a place",
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "string"}},
            "required": ["input"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]


class JsonAnswer(pydantic.BaseModel):
    # The mock answers a schema with `{"reply": ...}`, except through Anthropic, where
    # the schema is a forced tool and its answer the mock's tool input `{"input": ...}`.
    reply: Optional[str] = None
    input: Optional[str] = None


def responses_calls(r):
    return [o for o in r.output if o.type == "function_call"]


def openai_responses(client, model):
    text = "hello there"
    r = client.responses.create(model=model, input=text, instructions=SYSTEM)
    eq(r.object, "response", "object")
    eq(r.status, "completed", "status")
    expect(r.id.startswith("resp_"), f"id: {r.id!r}")
    eq(r.output_text, f"mock reply to: {text}", "output_text")
    eq(r.output[0].type, "message", "output[0].type")
    eq(r.usage.output_tokens, words(f"mock reply to: {text}"), "usage.output_tokens")
    expect(r.usage.input_tokens >= 4, f"usage.input_tokens too small: {r.usage.input_tokens}")
    eq(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens, "usage.total_tokens")
    expect(r._request_id and r._request_id.startswith("req_"), f"_request_id: {r._request_id!r}")

    # Continued: the stored conversation goes upstream whole (the mock answers the
    # last user text), readable and deletable by id.
    r2 = client.responses.create(model=model, input="what did I say", previous_response_id=r.id)
    eq(r2.output_text, "mock reply to: what did I say", "continued output_text")
    eq(r2.previous_response_id, r.id, "previous_response_id")
    expect(r2.usage.input_tokens > r.usage.input_tokens, "the continuation carries the earlier turn")
    got = client.responses.retrieve(r.id)
    eq(got.id, r.id, "retrieve: id")
    eq(got.output_text, r.output_text, "retrieve: output_text")
    client.responses.delete(r.id)
    try:
        client.responses.retrieve(r.id)
        raise CheckFailed("a deleted response was still found")
    except openai.NotFoundError as e:
        eq(e.status_code, 404, "status of a deleted response")

    # A function tool round trip: the call item goes back as input with its output.
    q = "weather in Paris"
    r = client.responses.create(model=model, input=q, tools=RESPONSES_TOOLS, store=False)
    calls = responses_calls(r)
    eq(len(calls), 1, "number of function_call items")
    eq(calls[0].name, "get_weather", "function_call.name")
    eq(json.loads(calls[0].arguments), {"input": q}, "function_call.arguments")
    expect(calls[0].call_id, "function_call.call_id is empty")
    r = client.responses.create(
        model=model,
        tools=RESPONSES_TOOLS,
        store=False,
        input=[
            {"role": "user", "content": q},
            calls[0],
            {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny 21C"},
        ],
    )
    eq(r.output_text, "tool said: sunny 21C", "answer after the function_call_output")

    # Structured output with a JSON schema (the SDK's parse helper).
    r = client.responses.parse(model=model, input="give json", text_format=JsonAnswer, store=False)
    expect(
        r.output_parsed in (JsonAnswer(reply="mock reply to: give json"), JsonAnswer(input="give json")),
        f"output_parsed: {r.output_parsed!r}",
    )

    # Cut by max_output_tokens.
    r = client.responses.create(model=model, input="one two three four five six", max_output_tokens=2, store=False)
    eq(r.status, "incomplete", "status of a cut answer")
    eq(r.incomplete_details.reason, "max_output_tokens", "incomplete_details.reason")


def openai_responses_stream(client, model):
    text = "stream me please"
    reply = f"mock reply to: {text}"
    stream = client.responses.create(model=model, input=text, stream=True, store=False)
    events = list(stream)
    kinds = [e.type for e in events]
    eq(kinds[0], "response.created", "first event")
    eq(kinds[-1], "response.completed", "last event")
    eq([e.sequence_number for e in events], list(range(len(events))), "sequence numbers")
    expect(kinds.count("response.output_text.delta") > 1, f"not streamed: {kinds}")
    eq("".join(e.delta for e in events if e.type == "response.output_text.delta"), reply, "deltas")
    eq(events[-1].response.usage.output_tokens, words(reply), "usage on response.completed")

    # The SDK's streaming helper, which rebuilds the response from the events.
    with client.responses.stream(model=model, input=text) as s:
        deltas = "".join(e.delta for e in s if e.type == "response.output_text.delta")
        final = s.get_final_response()
    eq(deltas, reply, "stream helper: deltas")
    eq(final.output_text, reply, "stream helper: output_text")
    eq(final.usage.output_tokens, words(reply), "stream helper: usage.output_tokens")

    # A streamed function call, then its output sent with previous_response_id.
    q = "weather in Rome"
    with client.responses.stream(model=model, input=q, tools=RESPONSES_TOOLS) as s:
        done = [e for e in s if e.type == "response.function_call_arguments.done"]
        final = s.get_final_response()
    eq(len(done), 1, "function_call_arguments.done events")
    calls = responses_calls(final)
    eq(len(calls), 1, "streamed function_call items")
    eq(json.loads(calls[0].arguments), {"input": q}, "streamed function_call.arguments")
    r = client.responses.create(
        model=model,
        previous_response_id=final.id,
        tools=RESPONSES_TOOLS,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "cloudy 18C"}],
    )
    eq(r.output_text, "tool said: cloudy 18C", "answer after the streamed call's output")


def openai_errors(client, bad_client, model):
    try:
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}]
        )
        raise CheckFailed("an unknown model did not raise")
    except openai.NotFoundError as e:
        eq(e.status_code, 404, "status of an unknown model")
        expect(e.request_id, "no request id on the error")
        expect(isinstance(e.body, dict) and e.body.get("message"), f"error body: {e.body!r}")
    try:
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        raise CheckFailed("an unknown model (stream) did not raise")
    except openai.NotFoundError as e:
        eq(e.status_code, 404, "status of an unknown model (stream)")
    try:
        bad_client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        raise CheckFailed("a wrong key did not raise")
    except openai.AuthenticationError as e:
        eq(e.status_code, 401, "status of a wrong key")
    try:
        bad_client.models.list()
        raise CheckFailed("a wrong key (models.list) did not raise")
    except openai.AuthenticationError as e:
        eq(e.status_code, 401, "status of a wrong key (models.list)")


def openai_models(client, models):
    page = client.models.list()
    ids = [m.id for m in page]
    for m in models:
        expect(m in ids, f"{m} missing from models.list(): {ids}")
    for m in page.data:
        eq(m.object, "model", f"{m.id}: object")
        expect(isinstance(m.created, int), f"{m.id}: created is not an int: {m.created!r}")
        expect(m.owned_by, f"{m.id}: owned_by is empty")
    return f"{len(ids)} models"


# ---------------------------------------------------------------------------------------
# Anthropic SDK (base_url = <gateway>)
# ---------------------------------------------------------------------------------------

ANTHROPIC_TOOLS = [
    {
        "name": "lookup",
        "description": "Look something up",
        "input_schema": {
            "type": "object",
            "properties": {"input": {"type": "string"}},
            "required": ["input"],
        },
    }
]


def anthropic_chat(client, model):
    text = "hi claude"
    r = client.messages.create(
        model=model,
        max_tokens=100,
        system=SYSTEM,
        messages=[{"role": "user", "content": text}],
    )
    eq(r.type, "message", "type")
    eq(r.role, "assistant", "role")
    eq(len(r.content), 1, "number of content blocks")
    eq(r.content[0].type, "text", "content[0].type")
    eq(r.content[0].text, f"mock reply to: {text}", "content[0].text")
    eq(r.stop_reason, "end_turn", "stop_reason")
    eq(r.usage.output_tokens, words(f"mock reply to: {text}"), "usage.output_tokens")
    expect(r.usage.input_tokens >= 4, f"usage.input_tokens too small: {r.usage.input_tokens}")
    expect(r.id, "id is empty")


def anthropic_stream(client, model):
    text = "stream it"
    reply = f"mock reply to: {text}"
    # Raw events.
    stream = client.messages.create(
        model=model,
        max_tokens=100,
        messages=[{"role": "user", "content": text}],
        stream=True,
    )
    kinds, out, deltas = [], "", []
    for ev in stream:
        kinds.append(ev.type)
        if ev.type == "content_block_delta" and ev.delta.type == "text_delta":
            out += ev.delta.text
        elif ev.type == "message_delta":
            deltas.append(ev)
    eq(kinds[0], "message_start", "first event")
    eq(kinds[-1], "message_stop", "last event")
    expect(kinds.count("content_block_delta") > 1, f"not streamed: {kinds}")
    eq(out, reply, "streamed text")
    eq(len(deltas), 1, "number of message_delta events")
    eq(deltas[0].delta.stop_reason, "end_turn", "message_delta stop_reason")
    eq(deltas[0].usage.output_tokens, words(reply), "message_delta usage.output_tokens")

    # The SDK's streaming helper.
    with client.messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": text}]
    ) as s:
        out = "".join(s.text_stream)
        final = s.get_final_message()
    eq(out, reply, "stream helper: text_stream")
    eq(final.content[0].text, reply, "stream helper: final message text")
    eq(final.stop_reason, "end_turn", "stream helper: stop_reason")
    eq(final.usage.output_tokens, words(reply), "stream helper: usage.output_tokens")
    expect(final.usage.input_tokens >= 2, f"stream helper: usage.input_tokens: {final.usage.input_tokens}")


def anthropic_tools(client, model):
    text = "find x"
    result = "x is 42"
    messages = [{"role": "user", "content": text}]
    r = client.messages.create(model=model, max_tokens=100, tools=ANTHROPIC_TOOLS, messages=messages)
    eq(r.stop_reason, "tool_use", "stop_reason")
    uses = [b for b in r.content if b.type == "tool_use"]
    eq(len(uses), 1, "number of tool_use blocks")
    use = uses[0]
    eq(use.name, "lookup", "tool_use.name")
    eq(use.input, {"input": text}, "tool_use.input")
    expect(use.id, "tool_use.id is empty")

    # The usual SDK pattern: the returned content blocks go back as the assistant turn.
    messages.append({"role": "assistant", "content": r.content})
    messages.append(
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": result}]}
    )
    r = client.messages.create(model=model, max_tokens=100, tools=ANTHROPIC_TOOLS, messages=messages)
    eq(r.content[0].type, "text", "answer block type")
    eq(r.content[0].text, f"tool said: {result}", "answer after the tool result")
    eq(r.stop_reason, "end_turn", "stop_reason after the tool result")


def anthropic_tools_stream(client, model):
    text = "find y"
    result = "y is 7"
    messages = [{"role": "user", "content": text}]
    with client.messages.stream(
        model=model, max_tokens=100, tools=ANTHROPIC_TOOLS, messages=messages
    ) as s:
        kinds = [ev.type for ev in s]
        final = s.get_final_message()
    expect("input_json" in kinds, f"no input_json events: {kinds}")
    eq(final.stop_reason, "tool_use", "streamed stop_reason")
    uses = [b for b in final.content if b.type == "tool_use"]
    eq(len(uses), 1, "number of streamed tool_use blocks")
    eq(uses[0].name, "lookup", "streamed tool_use.name")
    eq(uses[0].input, {"input": text}, "streamed tool_use.input")

    messages.append({"role": "assistant", "content": final.content})
    messages.append(
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": result}]}
    )
    with client.messages.stream(
        model=model, max_tokens=100, tools=ANTHROPIC_TOOLS, messages=messages
    ) as s:
        out = "".join(s.text_stream)
    eq(out, f"tool said: {result}", "streamed answer after the tool result")


def anthropic_errors(client, bad_client, model):
    msgs = [{"role": "user", "content": "hi"}]
    try:
        client.messages.create(model="no-such-model", max_tokens=10, messages=msgs)
        raise CheckFailed("an unknown model did not raise")
    except anthropic.NotFoundError as e:
        eq(e.status_code, 404, "status of an unknown model")
        expect(isinstance(e.body, dict), f"error body is not JSON: {e.body!r}")
        eq(e.body.get("type"), "error", "error body type")
        eq(e.body.get("error", {}).get("type"), "not_found_error", "error.type")
    try:
        with client.messages.stream(model="no-such-model", max_tokens=10, messages=msgs) as s:
            s.get_final_message()
        raise CheckFailed("an unknown model (stream) did not raise")
    except anthropic.NotFoundError as e:
        eq(e.status_code, 404, "status of an unknown model (stream)")
    try:
        bad_client.messages.create(model=model, max_tokens=10, messages=msgs)
        raise CheckFailed("a wrong key did not raise")
    except anthropic.AuthenticationError as e:
        eq(e.status_code, 401, "status of a wrong key")
        eq(e.body.get("error", {}).get("type"), "authentication_error", "error.type")
    try:
        bad_client.models.list()
        raise CheckFailed("a wrong key (models.list) did not raise")
    except anthropic.AuthenticationError as e:
        eq(e.status_code, 401, "status of a wrong key (models.list)")


def anthropic_request_ids(client, bad_client, model):
    """`message._request_id` and `APIStatusError.request_id`.

    The Anthropic SDK reads these from the `request-id` header (what api.anthropic.com
    sends); the gateway sends its id as both `x-request-id` and `request-id`.
    """
    raw = client.messages.with_raw_response.create(
        model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    xid = raw.headers.get("x-request-id")
    expect(xid and xid.startswith("req_"), f"x-request-id: {xid!r}")
    msg = raw.parse()
    eq(raw.headers.get("request-id"), xid, "request-id equals x-request-id")
    eq(msg._request_id, xid, "message._request_id")
    try:
        bad_client.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        raise CheckFailed("a wrong key did not raise")
    except anthropic.AuthenticationError as e:
        expect(e.request_id, "no request id on the error")
    return None


def anthropic_models(client, models):
    """`client.models.list()`, validated strictly (`ModelInfo` requires `lifecycle`)."""
    page = client.models.list()
    ids = [m.id for m in page]
    for m in models:
        expect(m in ids, f"{m} missing from models.list(): {ids}")
    for m in page.data:
        eq(m.type, "model", f"{m.id}: type")
        expect(m.display_name, f"{m.id}: display_name is empty")
        expect(m.created_at is not None, f"{m.id}: created_at is missing")
    eq(page.has_more, False, "has_more")
    for m in page.data:
        eq(m.lifecycle, "active", f"{m.id}: lifecycle")
    return f"{len(ids)} models"


# ---------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    gw = args.gateway.rstrip("/")

    # No retries (a failure shows at once); every response validated against the SDK's
    # types, so a missing or mistyped field fails the check instead of reading as None.
    common = {"max_retries": 0, "timeout": 30.0, "_strict_response_validation": True}
    oa = openai.OpenAI(api_key=args.key, base_url=f"{gw}/v1", **common)
    oa_bad = openai.OpenAI(api_key="tg-wrong-key", base_url=f"{gw}/v1", **common)
    an = anthropic.Anthropic(api_key=args.key, base_url=gw, **common)
    an_bad = anthropic.Anthropic(api_key="tg-wrong-key", base_url=gw, **common)

    print(f"openai {openai.__version__}, anthropic {anthropic.__version__}, gateway {gw}")
    checks = []
    for model in args.models:
        checks += [
            (f"openai    {model}: chat", lambda m=model: openai_chat(oa, m)),
            (f"openai    {model}: stream", lambda m=model: openai_stream(oa, m)),
            (f"openai    {model}: tools", lambda m=model: openai_tools(oa, m)),
            (f"openai    {model}: tools, streamed", lambda m=model: openai_tools_stream(oa, m)),
            (f"openai    {model}: responses", lambda m=model: openai_responses(oa, m)),
            (f"openai    {model}: responses, streamed", lambda m=model: openai_responses_stream(oa, m)),
            (f"anthropic {model}: chat", lambda m=model: anthropic_chat(an, m)),
            (f"anthropic {model}: stream", lambda m=model: anthropic_stream(an, m)),
            (f"anthropic {model}: tools", lambda m=model: anthropic_tools(an, m)),
            (f"anthropic {model}: tools, streamed", lambda m=model: anthropic_tools_stream(an, m)),
        ]
    first = args.models[0]
    checks += [
        ("openai    errors: unknown model 404, wrong key 401", lambda: openai_errors(oa, oa_bad, first)),
        ("anthropic errors: unknown model 404, wrong key 401", lambda: anthropic_errors(an, an_bad, first)),
        ("anthropic request ids", lambda: anthropic_request_ids(an, an_bad, first)),
        ("openai    models.list()", lambda: openai_models(oa, args.models)),
        ("anthropic models.list()", lambda: anthropic_models(an, args.models)),
    ]

    for name, check in checks:
        try:
            extra = check()
        except CheckFailed as e:
            print(f"FAIL {name}: {e}", flush=True)
            return 1
        except Exception as e:  # an SDK error: show what the SDK saw
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            body = getattr(e, "body", None)
            if body is not None:
                print(f"     response body: {body!r}", flush=True)
            traceback.print_exc()
            return 1
        suffix = f" ({extra})" if extra is not None else ""
        print(f"ok   {name}{suffix}", flush=True)
    print(f"all {len(checks)} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
