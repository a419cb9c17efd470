"""The gateway's Anthropic Messages surface driven through the official `anthropic` SDK."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from e2e_helpers import base_config, new_traceparent, read_sse

MODELS = ["claude-sim", "sim-small"]  # anthropic-wire provider and OpenAI-wire provider


@pytest.fixture(scope="module")
def gw(module_gateway, simulator):
    return module_gateway(base_config(simulator))


@pytest.fixture(scope="module")
def client(gw):
    c = anthropic.Anthropic(api_key="sk-ant-client-test", base_url=gw.base_url, max_retries=0, timeout=20)
    yield c
    c.close()


def _create(client, model, text="Hello, who are you?", **kw):
    return client.messages.create(model=model, max_tokens=256,
                                  messages=[{"role": "user", "content": text}], **kw)


@pytest.mark.parametrize("model", MODELS)
def test_messages_basic(client, model):
    msg = _create(client, model)
    assert msg.type == "message"
    assert msg.role == "assistant"
    assert isinstance(msg.id, str) and msg.id
    assert msg.model in (model, "sim-small-upstream")
    assert len(msg.content) >= 1
    block = msg.content[0]
    assert block.type == "text"
    assert block.text.strip()
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0
    assert msg.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_messages_system_prompt_and_multi_turn(client, model):
    msg = client.messages.create(
        model=model, max_tokens=256, system="You are a terse assistant.",
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": [{"type": "text", "text": "Tell me about the sea."}]},
        ],
    )
    assert msg.content[0].type == "text" and msg.content[0].text.strip()
    short = _create(client, model, "Hi")
    assert msg.usage.input_tokens > short.usage.input_tokens


@pytest.mark.parametrize("model", MODELS)
def test_messages_deterministic(client, model):
    a = _create(client, model, "Deterministic please")
    b = _create(client, model, "Deterministic please")
    assert a.content[0].text == b.content[0].text
    assert a.usage.output_tokens == b.usage.output_tokens


@pytest.mark.parametrize("model", MODELS)
def test_messages_stream_with_sdk_helper(client, model):
    with client.messages.stream(model=model, max_tokens=256,
                                messages=[{"role": "user", "content": "Stream something"}]) as stream:
        event_types = []
        text_parts = []
        for event in stream:
            event_types.append(event.type)
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                text_parts.append(event.delta.text)
        final = stream.get_final_message()

    assert event_types[0] == "message_start"
    assert "content_block_start" in event_types
    assert event_types.count("content_block_delta") >= 2, event_types
    assert "content_block_stop" in event_types
    assert "message_delta" in event_types
    assert event_types[-1] == "message_stop"
    streamed = "".join(text_parts)
    assert streamed.strip()
    assert final.content[0].type == "text"
    assert final.content[0].text == streamed
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_messages_stream_raw_event_sequence(gw, model):
    body = {"model": model, "max_tokens": 128, "stream": True,
            "messages": [{"role": "user", "content": "raw stream"}]}
    with httpx.Client(timeout=20) as c:
        status, events, err = read_sse(c, "POST", f"{gw.v1}/messages", json=body,
                                       headers={"x-api-key": "sk-ant-client-test",
                                                "anthropic-version": "2023-06-01"})
    assert status == 200
    assert err is None
    names = [e["event"] for e in events if e["event"] != "ping"]
    assert names[0] == "message_start"
    assert names[-1] == "message_stop"
    assert "error" not in names
    for e in events:
        if e["data"]:
            payload = json.loads(e["data"])
            assert payload["type"] == e["event"], "SSE event name must equal data.type"
    delta = next(json.loads(e["data"]) for e in events if e["event"] == "message_delta")
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] > 0


def test_anthropic_provider_upstream_uses_x_api_key(client, simulator):
    trace_id, _, tp = new_traceparent()
    _create(client, "claude-sim", extra_headers={"traceparent": tp})
    reqs = simulator.requests_for_trace(trace_id)
    assert len(reqs) == 1, reqs
    r = reqs[0]
    assert r["path"] == "/v1/messages"
    assert r["model"] == "claude-sim"
    assert r["authorization_scheme"] == "x-api-key"
    assert r["anthropic_version"], "anthropic-version header must be sent upstream"


def test_messages_for_openai_wire_model_translated_upstream(client, simulator):
    trace_id, _, tp = new_traceparent()
    msg = _create(client, "sim-small", extra_headers={"traceparent": tp})
    assert msg.content[0].text.strip()
    reqs = simulator.requests_for_trace(trace_id)
    assert len(reqs) == 1, reqs
    assert reqs[0]["path"] == "/v1/chat/completions"
    assert reqs[0]["model"] == "sim-small-upstream"
    assert reqs[0]["authorization_scheme"] == "bearer"


def test_messages_unknown_model_is_404(client, gw):
    with pytest.raises(anthropic.NotFoundError) as ei:
        _create(client, "no-such-model")
    assert ei.value.status_code == 404
    body = ei.value.body
    assert isinstance(body, dict)
    assert body.get("type") == "error"
    assert body["error"]["code"] == "model_not_found"
    for key in ("message", "type", "param", "code"):
        assert key in body["error"]


@pytest.fixture(scope="module")
def policy_client(module_gateway, simulator):
    """A gateway whose policy decodes every answer, so nothing is relayed as bytes."""
    gw = module_gateway(base_config(simulator, policy={"pii": {"action": "redact"}}))
    c = anthropic.Anthropic(api_key="sk-ant-client-test", base_url=gw.base_url, max_retries=0, timeout=20)
    yield c
    c.close()


def _stop_word(text: str) -> tuple[str, str]:
    """A stop sequence from the middle of an answer, and the answer before it."""
    words = text.split(" ")
    sequence = " " + words[len(words) // 2]
    return sequence, text[:text.index(sequence)]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("path", ["relayed", "decoded"])
def test_a_stop_sequence_cuts_the_answer_and_is_named(client, policy_client, model, path):
    client = client if path == "relayed" else policy_client
    prompt = "Count slowly for me, please."
    full = _create(client, model, text=prompt).content[0].text
    sequence, before = _stop_word(full)
    msg = _create(client, model, text=prompt, stop_sequences=[sequence, "never-in-the-answer"])
    assert msg.content[0].text == before
    if model == "claude-sim":
        # An Anthropic provider says which sequence stopped it, and the gateway keeps it.
        assert (msg.stop_reason, msg.stop_sequence) == ("stop_sequence", sequence)
    else:
        # An OpenAI-wire provider only says `stop`, which reads as a natural end.
        assert (msg.stop_reason, msg.stop_sequence) == ("end_turn", None)
    with client.messages.stream(model=model, max_tokens=256, messages=[{"role": "user", "content": prompt}],
                                stop_sequences=[sequence]) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == before
    assert final.stop_reason == msg.stop_reason and final.stop_sequence == msg.stop_sequence
