"""The gateway driven through the official `openai` Python SDK."""

from __future__ import annotations

import json
import math

import httpx
import openai
import pytest

from e2e_helpers import base_config, is_finite_number, new_traceparent

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a timezone",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def gw(module_gateway, simulator):
    cfg = base_config(simulator, providers={"embedded": {"kind": "simulator"}},
                      models={"embedded-sim": {"provider": "embedded"}})
    return module_gateway(cfg)


@pytest.fixture(scope="module")
def client(gw):
    c = openai.OpenAI(api_key="sk-client-test", base_url=gw.v1, max_retries=0, timeout=20)
    yield c
    c.close()


def _chat(client, content="Say hello", model="sim-small", **kw):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **kw)


# ------------------------------------------------------------------------------------- models


def test_models_retrieve_answers_one_model_or_404(client):
    model = client.models.retrieve("sim-small")
    assert model.id == "sim-small" and model.object == "model"
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("no-such-model")
    assert raised.value.body["code"] == "model_not_found"


def test_models_list_contains_exactly_configured_models(client, gw):
    ids = sorted(m.id for m in client.models.list())
    assert ids == ["claude-sim", "embedded-sim", "sim-small"]

    raw = httpx.get(f"{gw.v1}/models", timeout=5)
    assert raw.status_code == 200
    body = raw.json()
    assert body["object"] == "list"
    for entry in body["data"]:
        assert entry["object"] == "model"
        assert isinstance(entry["owned_by"], str) and entry["owned_by"], entry


def test_health_endpoints(gw):
    assert httpx.get(f"{gw.base_url}/healthz", timeout=5).status_code == 200
    assert httpx.get(f"{gw.base_url}/readyz", timeout=5).status_code == 200


# --------------------------------------------------------------------------------------- chat


def test_chat_completion_basic(client):
    resp = _chat(client, "Hello there, how are you?")
    assert resp.object == "chat.completion"
    assert isinstance(resp.id, str) and resp.id
    assert resp.model in ("sim-small", "sim-small-upstream")
    assert len(resp.choices) == 1
    choice = resp.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content.strip()
    assert not choice.message.tool_calls
    assert choice.finish_reason == "stop"
    u = resp.usage
    assert u.prompt_tokens > 0 and u.completion_tokens > 0
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens


def test_chat_completion_is_deterministic_for_same_request(client):
    a = _chat(client, "Determinism check: tell me a story")
    b = _chat(client, "Determinism check: tell me a story")
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.usage.prompt_tokens == b.usage.prompt_tokens
    assert a.usage.completion_tokens == b.usage.completion_tokens


def test_chat_completion_with_system_prompt_and_history(client):
    resp = client.chat.completions.create(
        model="sim-small",
        messages=[
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "What is the weather like?"},
        ],
    )
    assert resp.choices[0].message.content.strip()
    # more input than the single short message above
    short = _chat(client, "Hi")
    assert resp.usage.prompt_tokens > short.usage.prompt_tokens


def test_chat_with_sampling_params_and_response_format(client):
    resp = _chat(
        client, "Reply in JSON please",
        temperature=0.2, top_p=0.9, max_tokens=64, presence_penalty=0.1, frequency_penalty=0.1,
        stop=["\n\n\n"], seed=42, user="e2e-user",
        response_format={"type": "json_object"},
    )
    assert resp.choices[0].finish_reason in ("stop", "length")
    assert resp.choices[0].message.content
    assert resp.usage.completion_tokens > 0


def test_chat_with_json_schema_response_format(client):
    resp = _chat(
        client, "Give me a person",
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}},
        },
    )
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.content


def test_embedded_simulator_provider(client):
    resp = _chat(client, "Hello embedded", model="embedded-sim")
    assert resp.choices[0].message.content.strip()
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.completion_tokens > 0


def test_anthropic_kind_model_via_chat_completions(client):
    """The OpenAI surface also serves a model whose provider speaks the Anthropic wire format."""
    resp = _chat(client, "Hello Claude via OpenAI API", model="claude-sim")
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].message.content.strip()
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0


def test_anthropic_kind_model_streaming_via_chat_completions(client):
    chunks = list(_chat(client, "Stream from Claude via OpenAI API", model="claude-sim", stream=True,
                        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens > 0 and chunks[-1].usage.completion_tokens > 0


def test_upstream_request_uses_upstream_model_id_and_bearer_auth(client, simulator):
    trace_id, _, tp = new_traceparent()
    _chat(client, "upstream check", extra_headers={"traceparent": tp})
    reqs = simulator.requests_for_trace(trace_id)
    assert len(reqs) == 1, reqs
    r = reqs[0]
    assert r["method"] == "POST"
    assert r["path"] == "/v1/chat/completions"
    assert r["model"] == "sim-small-upstream"
    assert r["authorization_scheme"] == "bearer"


# ---------------------------------------------------------------------------------- streaming


def test_chat_stream_with_include_usage(client):
    chunks = list(_chat(client, "Stream me a few words", stream=True, stream_options={"include_usage": True}))
    assert chunks, "no chunks"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    ids = {c.id for c in chunks}
    assert len(ids) == 1 and next(iter(ids)), ids

    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) >= 2, "content should arrive in more than one chunk"
    text = "".join(c.choices[0].delta.content for c in content_chunks)
    assert text.strip()

    first_with_choice = next(c for c in chunks if c.choices)
    assert first_with_choice.choices[0].delta.role == "assistant"

    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]

    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1, "exactly one usage chunk expected with include_usage"
    last = chunks[-1]
    assert last.usage is not None and last.choices == []
    assert last.usage.prompt_tokens > 0 and last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


def test_chat_stream_without_include_usage_sends_no_usage(client):
    chunks = list(_chat(client, "Stream without usage", stream=True))
    assert any(c.choices and c.choices[0].delta.content for c in chunks)
    assert all(c.usage is None for c in chunks), "usage chunk sent although include_usage was not requested"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_chat_stream_raw_sse_ends_with_done(gw):
    body = {"model": "sim-small", "stream": True, "messages": [{"role": "user", "content": "raw sse"}]}
    with httpx.Client(timeout=20) as c:
        with c.stream("POST", f"{gw.v1}/chat/completions", json=body,
                      headers={"authorization": "Bearer sk-client-test"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            data_lines = [ln[len("data:"):].strip() for ln in r.iter_lines() if ln.startswith("data:")]
    assert data_lines[-1] == "[DONE]"
    assert data_lines.count("[DONE]") == 1
    for d in data_lines[:-1]:
        obj = json.loads(d)
        assert "error" not in obj
        assert obj["object"] == "chat.completion.chunk"


# -------------------------------------------------------------------------------------- tools


def test_tool_call_returned_for_first_tool(client):
    resp = _chat(client, "What's the weather in Paris?", tools=[WEATHER_TOOL, TIME_TOOL])
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls and len(calls) >= 1
    call = calls[0]
    assert call.type == "function"
    assert isinstance(call.id, str) and call.id
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert isinstance(args, dict)


def test_tool_result_turn_gets_text_answer(client):
    first = _chat(client, "What's the weather in Paris?", tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    resp = client.chat.completions.create(
        model="sim-small",
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "What's the weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": call.id, "type": "function",
                 "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp_c": 21})},
        ],
    )
    choice = resp.choices[0]
    assert not choice.message.tool_calls
    assert choice.finish_reason == "stop"
    assert choice.message.content and choice.message.content.strip()


def test_streamed_tool_call(client):
    chunks = list(_chat(client, "Weather in Rome?", tools=[WEATHER_TOOL], stream=True,
                        stream_options={"include_usage": True}))
    names, args, ids = [], {}, {}
    finish = None
    for c in chunks:
        if not c.choices:
            continue
        ch = c.choices[0]
        if ch.finish_reason:
            finish = ch.finish_reason
        for tc in ch.delta.tool_calls or []:
            if tc.id:
                ids[tc.index] = tc.id
            if tc.function and tc.function.name:
                names.append(tc.function.name)
            if tc.function and tc.function.arguments:
                args[tc.index] = args.get(tc.index, "") + tc.function.arguments
    assert finish == "tool_calls"
    assert names and names[0] == "get_weather"
    assert 0 in ids and ids[0]
    assert isinstance(json.loads(args[0]), dict)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


# --------------------------------------------------------------------------------- embeddings


def test_embeddings_default_base64_encoding(client):
    resp = client.embeddings.create(model="sim-small", input="hello embeddings")
    assert resp.object == "list"
    assert len(resp.data) == 1
    emb = resp.data[0].embedding
    assert isinstance(emb, list) and len(emb) > 0
    assert all(is_finite_number(x) for x in emb)
    assert any(x != 0 for x in emb)
    assert resp.usage.prompt_tokens > 0


def test_embeddings_base64_matches_float(client):
    b64 = client.embeddings.create(model="sim-small", input="same vector please")
    flt = client.embeddings.create(model="sim-small", input="same vector please", encoding_format="float")
    v1, v2 = b64.data[0].embedding, flt.data[0].embedding
    assert len(v1) == len(v2)
    for a, b in zip(v1, v2):
        assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


def test_embeddings_batch_input(client):
    resp = client.embeddings.create(model="sim-small", input=["one", "two", "three"], encoding_format="float")
    assert [d.index for d in resp.data] == [0, 1, 2]
    dims = {len(d.embedding) for d in resp.data}
    assert len(dims) == 1 and dims.pop() > 0
    assert resp.usage.prompt_tokens >= 3


@pytest.mark.parametrize("model", ["sim-small", "claude-sim"])
def test_stop_cuts_the_answer_before_the_sequence(client, model):
    messages = [{"role": "user", "content": "Count slowly for me, please."}]
    full = client.chat.completions.create(model=model, messages=messages).choices[0].message.content
    words = full.split(" ")
    sequence = " " + words[len(words) // 2]
    before = full[:full.index(sequence)]
    choice = client.chat.completions.create(model=model, messages=messages, stop=[sequence]).choices[0]
    assert (choice.message.content, choice.finish_reason) == (before, "stop")
    stream = client.chat.completions.create(model=model, messages=messages, stop=sequence, stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == before
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
