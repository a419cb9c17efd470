"""OpenTelemetry output of the gateway, received over OTLP/HTTP and decoded with opentelemetry-proto."""

from __future__ import annotations

import base64
import json
import os
import re
import time

import anthropic
import httpx
import openai
import pytest

from e2e_helpers import (
    DURATION_BOUNDS,
    OTLPSink,
    SIM_PRICE,
    SPAN_KIND_CLIENT,
    SPAN_KIND_SERVER,
    STATUS_ERROR,
    TOKEN_BOUNDS,
    base_config,
    closed_port,
    expected_cost,
    kv_to_dict,
    new_traceparent,
    parse_traceparent,
    wait_for,
)

SPAN_TIMEOUT = 10


@pytest.fixture(scope="module")
def gw(module_gateway, simulator):
    cfg = base_config(
        simulator,
        providers={"fail503": {"kind": "simulator", "base_url": f"{simulator}/v1", "api_key": "k",
                               "headers": {"x-simulator-error-rate": "1", "x-simulator-error-status": "503"}}},
        models={
            "m-503": {"provider": "fail503", "model": "fail-upstream"},
            # only used by the metrics tests so their data points are isolated
            "metrics-model": {"provider": "sim", "model": "metrics-upstream", "price": dict(SIM_PRICE)},
            "metrics-stream": {"provider": "sim", "model": "metrics-stream-upstream", "price": dict(SIM_PRICE)},
        },
    )
    return module_gateway(cfg)


@pytest.fixture(scope="module")
def client(gw):
    c = openai.OpenAI(api_key="sk-client-test", base_url=gw.v1, max_retries=0, timeout=20)
    yield c
    c.close()


def _trace(sink, trace_id, want: dict[str, int], timeout=SPAN_TIMEOUT):
    """Waits until the trace contains at least ``want[name_prefix]`` spans per name prefix."""

    def ready():
        spans = sink.spans_in_trace(trace_id)
        for prefix, n in want.items():
            if sum(1 for s in spans if s.name == prefix or s.name.startswith(prefix)) < n:
                return None
        return spans

    return sink.wait_for(ready, timeout=timeout,
                         message=lambda: f"spans {want} in trace {trace_id}; sink: {sink.summary()}")


def _one(spans, pred, what):
    found = [s for s in spans if pred(s)]
    assert len(found) == 1, f"expected exactly one {what}, got {found} among {spans}"
    return found[0]


def _chat_spans(sink, trace_id, caller_span_id, upstream_model, route="/v1/chat/completions", op="chat"):
    spans = _trace(sink, trace_id, {f"{op} {upstream_model}": 1, "POST": 2})
    server = _one(spans, lambda s: s.kind == SPAN_KIND_SERVER, "SERVER span")
    assert server.name.startswith("POST") and route in server.name, server.name
    assert server.trace_id == trace_id
    assert server.parent_span_id == caller_span_id, "server span must continue the caller's traceparent"
    genai = _one(spans, lambda s: s.name == f"{op} {upstream_model}", "GenAI CLIENT span")
    assert genai.kind == SPAN_KIND_CLIENT
    assert genai.parent_span_id == server.span_id
    http_spans = [s for s in spans if s.name == "POST" and s.kind == SPAN_KIND_CLIENT]
    assert len(http_spans) == 1, f"one HTTP attempt expected, got {http_spans}"
    assert http_spans[0].parent_span_id == genai.span_id
    return server, genai, http_spans[0], spans


# ------------------------------------------------------------------------------------- traces


def test_chat_span_tree_and_attributes(client, otlp_sink, simulator):
    trace_id, caller_span, tp = new_traceparent()
    resp = client.chat.completions.create(
        model="sim-small", messages=[{"role": "user", "content": "Telemetry please"}],
        temperature=0.5, top_p=0.9, max_tokens=50, extra_headers={"traceparent": tp},
    )
    server, genai, http_span, _ = _chat_spans(otlp_sink, trace_id, caller_span, "sim-small-upstream")

    assert server.resource.get("service.name") == "archway-e2e"
    # The HTTP conventions' connection attributes: the SDK's own connection from 127.0.0.1.
    assert server.attrs.get("network.peer.address") == "127.0.0.1"
    assert server.attrs.get("client.address") == "127.0.0.1"
    assert isinstance(server.attrs.get("network.peer.port"), int) and server.attrs["network.peer.port"] > 0
    assert server.attrs.get("client.port") == server.attrs["network.peer.port"]
    a = genai.attrs
    assert a["gen_ai.operation.name"] == "chat"
    assert isinstance(a.get("gen_ai.provider.name"), str) and a["gen_ai.provider.name"]
    assert a["gen_ai.request.model"] == "sim-small-upstream"
    assert isinstance(a.get("gen_ai.response.model"), str) and a["gen_ai.response.model"]
    assert a.get("gen_ai.response.id") == resp.id
    assert a.get("gen_ai.response.finish_reasons") == ["stop"]
    assert a.get("gen_ai.usage.input_tokens") == resp.usage.prompt_tokens > 0
    assert a.get("gen_ai.usage.output_tokens") == resp.usage.completion_tokens > 0
    assert a.get("server.address") == "127.0.0.1"
    assert a.get("server.port") == simulator.port
    assert a.get("gen_ai.request.temperature") == pytest.approx(0.5)
    assert a.get("gen_ai.request.top_p") == pytest.approx(0.9)
    assert a.get("gen_ai.request.max_tokens") == 50
    cost = a.get("archway.cost.usd")
    assert cost is not None and cost > 0
    assert cost == pytest.approx(expected_cost(resp.usage.prompt_tokens, resp.usage.completion_tokens), rel=1e-6)
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a, "content capture is off"
    assert genai.status_code != STATUS_ERROR
    assert "error.type" not in a


def test_unsent_sampling_params_are_not_recorded(client, otlp_sink):
    trace_id, caller_span, tp = new_traceparent()
    client.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "plain"}],
                                   extra_headers={"traceparent": tp})
    _, genai, _, _ = _chat_spans(otlp_sink, trace_id, caller_span, "sim-small-upstream")
    a = genai.attrs
    for key in ("gen_ai.request.temperature", "gen_ai.request.top_p", "gen_ai.request.max_tokens"):
        assert key not in a, f"{key} recorded although the request did not set it"


def test_stream_span_records_usage(client, otlp_sink):
    trace_id, caller_span, tp = new_traceparent()
    chunks = list(client.chat.completions.create(
        model="sim-small", messages=[{"role": "user", "content": "stream telemetry"}], stream=True,
        stream_options={"include_usage": True}, extra_headers={"traceparent": tp}))
    usage = chunks[-1].usage
    assert usage is not None
    _, genai, _, _ = _chat_spans(otlp_sink, trace_id, caller_span, "sim-small-upstream")
    a = genai.attrs
    assert a.get("gen_ai.usage.input_tokens") == usage.prompt_tokens
    assert a.get("gen_ai.usage.output_tokens") == usage.completion_tokens
    assert a.get("gen_ai.response.finish_reasons") == ["stop"]
    assert a.get("gen_ai.response.id") == chunks[0].id
    assert a.get("archway.cost.usd") == pytest.approx(expected_cost(usage.prompt_tokens, usage.completion_tokens),
                                                      rel=1e-6)


def test_embeddings_span(client, otlp_sink):
    trace_id, caller_span, tp = new_traceparent()
    resp = client.embeddings.create(model="sim-small", input="embed me", extra_headers={"traceparent": tp})
    _, genai, _, _ = _chat_spans(otlp_sink, trace_id, caller_span, "sim-small-upstream",
                                 route="/v1/embeddings", op="embeddings")
    a = genai.attrs
    assert a["gen_ai.operation.name"] == "embeddings"
    assert a["gen_ai.request.model"] == "sim-small-upstream"
    assert a.get("gen_ai.usage.input_tokens") == resp.usage.prompt_tokens > 0
    # The SDK asks for base64 by default; the dimension count is read from it.
    assert a.get("gen_ai.embeddings.dimension.count") == len(resp.data[0].embedding) > 0
    for encoding in ("float", "base64"):
        trace_id, caller_span, tp = new_traceparent()
        resp = client.embeddings.create(model="sim-small", input="embed me", encoding_format=encoding,
                                        extra_headers={"traceparent": tp})
        _, genai, _, _ = _chat_spans(otlp_sink, trace_id, caller_span, "sim-small-upstream",
                                     route="/v1/embeddings", op="embeddings")
        vector = resp.data[0].embedding
        dimensions = len(base64.b64decode(vector)) // 4 if isinstance(vector, str) else len(vector)
        assert genai.attrs.get("gen_ai.embeddings.dimension.count") == dimensions > 0, encoding
        assert genai.attrs.get("gen_ai.request.encoding_formats") == [encoding], genai.attrs


def test_error_span_has_error_status_and_type(client, otlp_sink):
    trace_id, caller_span, tp = new_traceparent()
    with pytest.raises(openai.APIStatusError) as ei:
        client.chat.completions.create(model="m-503", messages=[{"role": "user", "content": "fail"}],
                                       extra_headers={"traceparent": tp})
    assert ei.value.status_code == 503
    _, genai, http_span, _ = _chat_spans(otlp_sink, trace_id, caller_span, "fail-upstream")
    assert genai.status_code == STATUS_ERROR
    assert isinstance(genai.attrs.get("error.type"), str) and genai.attrs["error.type"]


def test_anthropic_messages_span(gw, otlp_sink):
    trace_id, caller_span, tp = new_traceparent()
    c = anthropic.Anthropic(api_key="sk-ant-client", base_url=gw.base_url, max_retries=0, timeout=20)
    msg = c.messages.create(model="claude-sim", max_tokens=100, messages=[{"role": "user", "content": "hi"}],
                            extra_headers={"traceparent": tp})
    c.close()
    _, genai, _, _ = _chat_spans(otlp_sink, trace_id, caller_span, "claude-sim", route="/v1/messages")
    a = genai.attrs
    assert a["gen_ai.operation.name"] == "chat"
    assert isinstance(a.get("gen_ai.provider.name"), str) and a["gen_ai.provider.name"]
    assert a["gen_ai.request.model"] == "claude-sim"
    assert a.get("gen_ai.request.max_tokens") == 100
    assert a.get("gen_ai.response.id") == msg.id
    assert a.get("gen_ai.usage.input_tokens") == msg.usage.input_tokens
    assert a.get("gen_ai.usage.output_tokens") == msg.usage.output_tokens
    fr = a.get("gen_ai.response.finish_reasons")
    assert isinstance(fr, list) and fr and all(isinstance(x, str) and x for x in fr)
    assert "archway.cost.usd" not in a or a["archway.cost.usd"] == 0, "unpriced model must not report a cost"


def test_the_max_tokens_archway_sends_an_anthropic_model_is_on_the_span(client, otlp_sink):
    # The OpenAI wire lets a request leave out max_tokens; Anthropic's requires one, which Archway fills in.
    trace_id, caller_span, tp = new_traceparent()
    client.chat.completions.create(model="claude-sim", messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"traceparent": tp})
    _, genai, _, _ = _chat_spans(otlp_sink, trace_id, caller_span, "claude-sim")
    assert genai.attrs.get("gen_ai.request.max_tokens") == 4096, genai.attrs


def test_traceparent_propagated_upstream(client, otlp_sink, simulator):
    trace_id, caller_span, tp = new_traceparent()
    client.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "propagate"}],
                                   extra_headers={"traceparent": tp})
    ups = simulator.requests_for_trace(trace_id)
    assert len(ups) == 1, f"upstream request with trace id {trace_id} not found"
    _, parent_id = parse_traceparent(ups[0]["traceparent"])
    assert parent_id != caller_span, "the upstream traceparent must carry a gateway span, not the caller's"
    _, genai, http_span, spans = _chat_spans(otlp_sink, trace_id, caller_span, "sim-small-upstream")
    assert parent_id in {s.span_id for s in spans}, "upstream parent must be a span the gateway exported"


def test_with_the_sdk_disabled_the_callers_trace_context_still_reaches_the_provider(gateway, simulator):
    gw = gateway(base_config(simulator), env={"OTEL_SDK_DISABLED": "true"})
    trace_id, caller_span, tp = new_traceparent()
    with openai.OpenAI(api_key="sk-client-test", base_url=gw.v1, max_retries=0) as c:
        c.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "off"}],
                                  extra_headers={"traceparent": tp, "tracestate": "vendor=abc"})
    ups = simulator.requests_for_trace(trace_id)
    assert len(ups) == 1, f"upstream request with trace id {trace_id} not found"
    # Nothing is traced here, so the caller's own span is the provider's parent.
    assert ups[0]["traceparent"] == tp


def test_a_proxys_x_forwarded_for_names_the_client(client, otlp_sink):
    """Behind a proxy, `client.address` is the last `X-Forwarded-For` entry (the one the proxy added; the
    first is whatever the client sent); the peer stays the proxy. An entry that is no address is not taken."""
    for forwarded, expected in (("10.0.0.1, 203.0.113.7", "203.0.113.7"), ("[2001:db8::1]", "[2001:db8::1]"),
                                ("<script>alert(1)</script>", "127.0.0.1")):
        trace_id, caller_span, tp = new_traceparent()
        client.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "forwarded"}],
                                       extra_headers={"traceparent": tp, "x-forwarded-for": forwarded})
        server, _, _, _ = _chat_spans(otlp_sink, trace_id, caller_span, "sim-small-upstream")
        assert server.attrs.get("client.address") == expected, (forwarded, server.attrs)
        assert server.attrs.get("network.peer.address") == "127.0.0.1"
        assert ("client.port" in server.attrs) == (expected == "127.0.0.1"), "a forwarded client's port is unknown"


def test_requests_without_traceparent_get_a_fresh_trace(client, otlp_sink, simulator):
    client.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "fresh trace"}])
    last = simulator.requests()[-1]
    tp = parse_traceparent(last.get("traceparent"))
    assert tp is not None, f"upstream request carried no valid traceparent: {last}"
    trace_id = tp[0]
    spans = _trace(otlp_sink, trace_id, {"chat sim-small-upstream": 1})
    server = _one(spans, lambda s: s.kind == SPAN_KIND_SERVER, "SERVER span")
    assert server.parent_span_id == "", "a request without traceparent starts a root span"


# ------------------------------------------------------------------------------------ metrics


def _metric(sink, name, timeout=10):
    def has():
        recs = [r for r in sink.metric_records() if r.name == name]
        return recs or None
    return sink.wait_for(has, timeout=timeout, message=lambda: f"metric {name}; sink: {sink.summary()}")


def _assert_common_point_attrs(recs, model):
    pts = [p for r in recs for p in r.points if kv_to_dict(p.attributes).get("gen_ai.request.model") == model]
    assert pts, f"no data point with gen_ai.request.model={model}: " \
                f"{[kv_to_dict(p.attributes) for r in recs for p in r.points]}"
    for p in pts:
        a = kv_to_dict(p.attributes)
        assert a.get("gen_ai.operation.name") == "chat", a
        assert isinstance(a.get("gen_ai.provider.name"), str) and a["gen_ai.provider.name"], a
    return pts


@pytest.fixture(scope="module")
def metrics_call(client):
    resp = client.chat.completions.create(model="metrics-model",
                                          messages=[{"role": "user", "content": "metrics please"}])
    return resp


@pytest.fixture(scope="module")
def metrics_stream_call(client):
    chunks = list(client.chat.completions.create(
        model="metrics-stream", messages=[{"role": "user", "content": "streamed metrics"}],
        stream=True, stream_options={"include_usage": True}))
    return chunks[-1].usage


def test_operation_duration_histogram(metrics_call, otlp_sink):
    def done():
        agg = otlp_sink.aggregate("gen_ai.client.operation.duration", {"gen_ai.request.model": "metrics-upstream"})
        return agg if agg and agg["count"] >= 1 else None
    agg = otlp_sink.wait_for(done, timeout=10, message=lambda: otlp_sink.summary())
    recs = _metric(otlp_sink, "gen_ai.client.operation.duration")
    for r in recs:
        assert r.unit == "s"
        assert r.kind == "histogram"
        for p in r.points:
            assert list(p.explicit_bounds) == pytest.approx(DURATION_BOUNDS)
    _assert_common_point_attrs(recs, "metrics-upstream")
    assert agg["count"] == 1
    assert 0 < agg["sum"] < 10


def test_token_usage_histogram(metrics_call, otlp_sink):
    usage = metrics_call.usage

    def done():
        i = otlp_sink.aggregate("gen_ai.client.token.usage",
                                {"gen_ai.request.model": "metrics-upstream", "gen_ai.token.type": "input"})
        o = otlp_sink.aggregate("gen_ai.client.token.usage",
                                {"gen_ai.request.model": "metrics-upstream", "gen_ai.token.type": "output"})
        return (i, o) if i and o else None
    i, o = otlp_sink.wait_for(done, timeout=10, message=lambda: otlp_sink.summary())
    recs = _metric(otlp_sink, "gen_ai.client.token.usage")
    for r in recs:
        assert r.unit == "{token}"
        assert r.kind == "histogram"
        for p in r.points:
            assert list(p.explicit_bounds) == pytest.approx(TOKEN_BOUNDS)
            assert kv_to_dict(p.attributes).get("gen_ai.token.type") in ("input", "output")
    _assert_common_point_attrs(recs, "metrics-upstream")
    assert i["count"] == 1 and i["sum"] == pytest.approx(usage.prompt_tokens)
    assert o["count"] == 1 and o["sum"] == pytest.approx(usage.completion_tokens)


def test_time_to_first_chunk_histogram_for_streams(metrics_stream_call, otlp_sink):
    def done():
        agg = otlp_sink.aggregate("gen_ai.client.operation.time_to_first_chunk",
                                  {"gen_ai.request.model": "metrics-stream-upstream"})
        return agg if agg and agg["count"] >= 1 else None
    agg = otlp_sink.wait_for(done, timeout=10, message=lambda: otlp_sink.summary())
    recs = _metric(otlp_sink, "gen_ai.client.operation.time_to_first_chunk")
    for r in recs:
        assert r.unit == "s"
        assert r.kind == "histogram"
    _assert_common_point_attrs(recs, "metrics-stream-upstream")
    assert agg["count"] == 1
    assert 0 < agg["sum"] < 10
    # non-streaming calls must not produce time-to-first-chunk points
    assert not otlp_sink.matching_points("gen_ai.client.operation.time_to_first_chunk",
                                         {"gen_ai.request.model": "metrics-upstream"})


def test_cost_counter(metrics_call, metrics_stream_call, otlp_sink):
    usage = metrics_call.usage
    want = expected_cost(usage.prompt_tokens, usage.completion_tokens)

    def done():
        agg = otlp_sink.aggregate("archway.cost", {"gen_ai.request.model": "metrics-upstream"})
        return agg if agg and agg["value"] > 0 else None
    agg = otlp_sink.wait_for(done, timeout=10, message=lambda: otlp_sink.summary())
    recs = _metric(otlp_sink, "archway.cost")
    for r in recs:
        assert r.unit == "USD"
        assert r.kind == "sum" and r.is_monotonic, "archway.cost must be a monotonic counter"
    _assert_common_point_attrs(recs, "metrics-upstream")
    assert agg["value"] == pytest.approx(want, rel=1e-6)


# ------------------------------------------------------------------------- dedicated gateways


SIM_SECRET = "sk-test-secret-123"
CLIENT_SECRET = "sk-client-secret-456"


def test_secrets_never_exported_or_logged(gateway, simulator, otlp_sink):
    cfg = base_config(simulator)
    cfg["providers"]["sim"]["api_key"] = "${SIM_KEY}"
    gw = gateway(cfg, env={"SIM_KEY": SIM_SECRET})
    oc = openai.OpenAI(api_key=CLIENT_SECRET, base_url=gw.v1, max_retries=0, timeout=20)
    ac = anthropic.Anthropic(api_key=CLIENT_SECRET, base_url=gw.base_url, max_retries=0, timeout=20)
    traces = []
    for call in (
        lambda h: oc.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "a"}],
                                             extra_headers=h),
        lambda h: list(oc.chat.completions.create(model="sim-small", stream=True, extra_headers=h,
                                                  messages=[{"role": "user", "content": "b"}])),
        lambda h: oc.embeddings.create(model="sim-small", input="c", extra_headers=h),
        lambda h: ac.messages.create(model="sim-small", max_tokens=32, extra_headers=h,
                                     messages=[{"role": "user", "content": "d"}]),
    ):
        trace_id, _, tp = new_traceparent()
        call({"traceparent": tp})
        traces.append(trace_id)
    with pytest.raises(openai.NotFoundError):
        oc.chat.completions.create(model="nope", messages=[{"role": "user", "content": "e"}])
    oc.close()
    ac.close()
    # the upstream really received the key through the interpolated config
    for t in traces:
        _trace(otlp_sink, t, {"POST": 1})
    time.sleep(1.2)  # let at least two metric exports happen
    rc = gw.stop()
    assert rc == 0, gw.describe()

    dump = otlp_sink.dump_text()
    raw = otlp_sink.raw_concat()
    assert dump and raw
    for secret in (SIM_SECRET, CLIENT_SECRET):
        assert secret not in dump, f"{secret} found in exported telemetry"
        assert secret.encode() not in raw, f"{secret} found in raw OTLP payloads"
        out = gw.stdout + gw.stderr
        assert secret not in out, f"{secret} found in gateway stdout/stderr"


def test_content_capture_enabled(gateway, simulator, otlp_sink):
    cfg = base_config(simulator, telemetry={"capture_content": True})
    gw = gateway(cfg)
    c = openai.OpenAI(api_key="x", base_url=gw.v1, max_retries=0, timeout=20)
    trace_id, caller_span, tp = new_traceparent()
    prompt = "Capture this prompt, please."
    resp = c.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": prompt}],
                                     extra_headers={"traceparent": tp})
    c.close()
    _, genai, _, _ = _chat_spans(otlp_sink, trace_id, caller_span, "sim-small-upstream")
    a = genai.attrs
    assert isinstance(a.get("gen_ai.input.messages"), str), a.keys()
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": prompt}]}
    ]
    out = json.loads(a["gen_ai.output.messages"])
    assert isinstance(out, list) and len(out) == 1
    assert out[0]["role"] == "assistant"
    assert out[0]["finish_reason"] == "stop"
    texts = [p.get("content") for p in out[0]["parts"] if p.get("type") == "text"]
    assert texts == [resp.choices[0].message.content]


def test_captured_content_is_cut_to_the_attribute_value_length_limit(gateway, simulator, otlp_sink):
    cfg = base_config(simulator, telemetry={"capture_content": True})
    gw = gateway(cfg, env={"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "40"})
    trace_id, caller_span, tp = new_traceparent()
    with openai.OpenAI(api_key="x", base_url=gw.v1, max_retries=0, timeout=20) as c:
        c.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "é" * 500}],
                                  extra_headers={"traceparent": tp})
    _, genai, _, _ = _chat_spans(otlp_sink, trace_id, caller_span, "sim-small-upstream")
    captured = genai.attrs["gen_ai.input.messages"]
    assert len(captured) == 40 and captured.startswith('[{"') and captured.endswith("é" * 10), captured


def test_a_collector_shedding_load_gets_the_batch_again_and_every_signal_names_the_instance(gateway, simulator):
    # Its own sink: the suite's other gateways export to the shared one.
    otlp_sink = OTLPSink().start()
    try:
        # The OTLP specification's transient answers: retried after Retry-After (or a back-off), not dropped.
        otlp_sink.refuse("/v1/traces", 503, times=1, **{"Retry-After": "1"})
        otlp_sink.refuse("/v1/traces", 429, times=1)
        gw = gateway(base_config(simulator), otlp_endpoint=otlp_sink.endpoint, env={"OTEL_BSP_SCHEDULE_DELAY": "100"})
        trace_ids = []
        with openai.OpenAI(api_key="x", base_url=gw.v1, max_retries=0, timeout=20) as c:
            for n in range(3):
                trace_id, _, tp = new_traceparent()
                trace_ids.append(trace_id)
                c.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": f"hi {n}"}],
                                          extra_headers={"traceparent": tp})
                time.sleep(0.2)
        for trace_id in trace_ids:
            wait_for(lambda: [s for s in otlp_sink.spans_in_trace(trace_id) if s.kind == SPAN_KIND_SERVER] or None,
                     timeout=20, message=f"the SERVER span of {trace_id}, after the collector's refusals")
        assert "archway_telemetry_dropped" not in httpx.get(f"{gw.base_url}/metrics", timeout=5).text
        agents = {headers.get("user-agent", "") for path, headers in otlp_sink.request_headers if path == "/v1/traces"}
        assert all(agent.startswith("Archway-OTLP-Exporter/") for agent in agents), agents
        # One instance id, on traces and metrics alike, beside the SDK's attributes.
        wait_for(lambda: otlp_sink.metric_records() or None, timeout=10, message="a metrics export")
        resources = [s.resource for s in otlp_sink.spans()] + [m.resource for m in otlp_sink.metric_records()]
        instances = {r.get("service.instance.id") for r in resources}
        assert len(instances) == 1 and None not in instances, instances
        for r in resources:
            assert r.get("telemetry.sdk.name") == "archway" and r.get("telemetry.sdk.language") == "swift" and r.get("telemetry.sdk.version"), r
    finally:
        otlp_sink.close()


def test_a_refused_export_that_is_not_transient_is_dropped_and_counted(gateway, simulator):
    otlp_sink = OTLPSink().start()  # its own: the suite's other gateways export to the shared one
    try:
        otlp_sink.refuse("/v1/traces", 400, times=1000)
        gw = gateway(base_config(simulator), otlp_endpoint=otlp_sink.endpoint, env={"OTEL_BSP_SCHEDULE_DELAY": "100"})
        httpx.post(f"{gw.v1}/chat/completions", json={"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]},
                   timeout=10).raise_for_status()
        wait_for(lambda: 'reason="export_failed"' in httpx.get(f"{gw.base_url}/metrics", timeout=5).text or None,
                 timeout=10, message="the dropped spans counted")
        gw.stop(timeout=10)
        with otlp_sink._lock:
            otlp_sink.refusals.clear()
            refused = [body for path, body in otlp_sink.refused_bodies if path == "/v1/traces"]
        assert refused and not otlp_sink.spans()
        # A 400 is final: no batch was posted twice.
        assert len(set(refused)) == len(refused), f"{len(refused)} posts, {len(set(refused))} batches"
    finally:
        otlp_sink.close()


EXPORT_WARNING = re.compile(r"(export|exporter|otlp)", re.I)
FAILURE_WORD = re.compile(r"(fail|error|unable|refused|unreachable|could not|cannot)", re.I)


def test_otlp_headers_are_percent_decoded_for_every_signal(gateway, simulator, otlp_sink):
    # The specification writes header values percent-encoded (`Bearer%20…`); spans and metrics must both
    # send them decoded, or a vendor refuses one of the two.
    marker = "e2e-" + os.urandom(4).hex()
    gw = gateway(base_config(simulator), env={"OTEL_EXPORTER_OTLP_HEADERS": f"x-archway-e2e=Bearer%20{marker},x-team=a%2Cb",
                                                 "OTEL_METRIC_EXPORT_INTERVAL": "500"})
    httpx.post(f"{gw.v1}/chat/completions", json={"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]},
               timeout=10).raise_for_status()
    gw.stop(timeout=10)
    seen = {(path, headers.get("x-archway-e2e")) for path, headers in list(otlp_sink.request_headers)
            if marker in headers.get("x-archway-e2e", "")}
    assert ("/v1/traces", f"Bearer {marker}") in seen, seen
    assert ("/v1/metrics", f"Bearer {marker}") in seen, seen
    assert not any("%20" in value for _, value in seen), seen
    # A decoded comma stays inside its value, for both signals.
    teams = {(path, headers.get("x-team")) for path, headers in list(otlp_sink.request_headers) if "x-team" in headers}
    assert ("/v1/traces", "a,b") in teams and ("/v1/metrics", "a,b") in teams, teams


def test_resource_attributes_are_decoded_alike_for_spans_and_metrics(gateway, simulator, otlp_sink):
    marker = "e2e-" + os.urandom(4).hex()
    gw = gateway(base_config(simulator), env={"OTEL_RESOURCE_ATTRIBUTES": f"service.namespace=shop%2Ceu,owner=J%C3%BCrgen,run={marker}",
                                                 "OTEL_SERVICE_NAME": "gw-e2e", "OTEL_METRIC_EXPORT_INTERVAL": "500"})
    httpx.post(f"{gw.v1}/chat/completions", json={"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]},
               timeout=10).raise_for_status()
    gw.stop(timeout=10)
    expected = {"service.namespace": "shop,eu", "owner": "Jürgen", "run": marker, "service.name": "gw-e2e"}
    spans = [s.resource for s in otlp_sink.spans() if s.resource.get("run") == marker]
    metrics = [m.resource for m in otlp_sink.metric_records() if m.resource.get("run") == marker]
    assert spans and metrics
    for resource in spans + metrics:
        assert {key: resource.get(key) for key in expected} == expected, resource


@pytest.mark.parametrize("env", [
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
    {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"},
    {"OTEL_METRICS_EXPORTER": "console"},
    {"OTEL_METRICS_EXPORTER": "prometheus"},
    # Nothing exported at all: the gateway still serves, with nothing to warn about but the protocol.
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"},
])
def test_an_otel_setting_no_exporter_here_speaks_is_a_warning_not_a_failed_start(gateway, simulator, env):
    # Platforms inject OTEL_EXPORTER_OTLP_PROTOCOL=grpc into every pod: the gateway must still serve.
    gw = gateway(base_config(simulator), env=env)
    r = httpx.post(f"{gw.v1}/chat/completions", json={"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]},
                   timeout=10)
    assert r.status_code == 200, r.text
    assert "gen_ai_client_operation_duration" in httpx.get(f"{gw.base_url}/metrics", timeout=5).text
    if env.get("OTEL_METRICS_EXPORTER") != "none":
        assert "not exported" in gw.stderr, gw.stderr[-2000:]
    time.sleep(1)
    assert gw.alive()


def test_start_up_warns_of_nothing_it_then_applies(gateway, simulator, otlp_sink):
    # Upper-case values are valid (the specification reads enums case-insensitively) and applied: no
    # warning may say they were replaced.
    otlp_sink.clear()
    gw = gateway(base_config(simulator), env={"OTEL_TRACES_SAMPLER": "ALWAYS_OFF", "OTEL_EXPORTER_OTLP_COMPRESSION": "GZIP",
                                               "OTEL_SDK_DISABLED": "false"})
    httpx.post(f"{gw.v1}/chat/completions", json={"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]},
               timeout=10).raise_for_status()
    wait_for(lambda: otlp_sink.metric_records() or None, timeout=10, message="a metrics export")
    gw.stop(timeout=10)
    assert "environment_value" not in gw.stderr and "Failed to update" not in gw.stderr, gw.stderr[-2000:]
    assert not otlp_sink.spans(), "ALWAYS_OFF samples nothing"


def test_unreachable_collector_does_not_break_serving(gateway, simulator):
    dead = f"http://127.0.0.1:{closed_port()}"
    gw = gateway(base_config(simulator), otlp_endpoint=dead)
    c = openai.OpenAI(api_key="x", base_url=gw.v1, max_retries=0, timeout=10)
    t_end = time.monotonic() + 5
    n = 0
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        resp = c.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": f"req {n}"}])
        assert resp.choices[0].message.content
        assert time.monotonic() - t0 < 2, "a dead collector must not slow requests down"
        n += 1
        time.sleep(0.25)
    c.close()
    assert n >= 10
    assert gw.alive()

    def warnings():
        return [ln for ln in gw.stderr.splitlines() if EXPORT_WARNING.search(ln) and FAILURE_WORD.search(ln)]

    in_window = warnings()
    assert len(in_window) <= 1, "export failure must be logged at most once, got:\n" + "\n".join(in_window[:20])
    t0 = time.monotonic()
    rc = gw.stop(timeout=20)
    shutdown_secs = time.monotonic() - t0
    # after shutdown (final flush) allow at most one warning per exporter (traces / metrics / logs)
    total = warnings()
    per_signal: dict[str, list[str]] = {}
    for ln in total:
        sig = "metrics" if re.search(r"metric", ln, re.I) else "logs" if re.search(r"log ?record|/v1/logs", ln, re.I) \
            else "traces"
        per_signal.setdefault(sig, []).append(ln)
    for sig, lines in per_signal.items():
        assert len(lines) <= 1, f"{sig} export failure logged {len(lines)} times:\n" + "\n".join(lines[:20])
    assert rc == 0, "SIGTERM with an unreachable collector must still exit 0\n" + gw.describe()
    assert shutdown_secs < 15, f"shutdown with an unreachable collector took {shutdown_secs:.1f}s"


def test_gzip_export_and_parent_based_sampling(gateway, simulator):
    """OTEL_EXPORTER_OTLP_COMPRESSION=gzip compresses every export body; OTEL_TRACES_SAMPLER decides
    which traces are exported, and an unsampled trace still propagates upstream (flags 00)."""
    sink = OTLPSink().start()  # its own, so only this gateway's requests are seen
    try:
        gw = gateway(base_config(simulator), otlp_endpoint=sink.endpoint, env={
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
            "OTEL_TRACES_SAMPLER": "parentbased_always_off",
        })
        c = openai.OpenAI(api_key="x", base_url=gw.v1, max_retries=0, timeout=10)
        sampled_trace, caller_span, tp = new_traceparent()
        c.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "sampled by my caller"}],
                                  extra_headers={"traceparent": tp})
        c.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "a root: not sampled"}])
        upstream = simulator.requests()[-1].get("traceparent")
        c.close()
        unsampled = parse_traceparent(upstream)
        assert unsampled is not None, "an unsampled trace must still reach the upstream"
        assert upstream.endswith("-00"), f"the upstream must see the trace as unsampled: {upstream}"

        _chat_spans(sink, sampled_trace, caller_span, "sim-small-upstream")
        time.sleep(1)  # several export ticks: an unsampled span would have been sent by now
        assert sink.spans_in_trace(unsampled[0]) == [], "a trace the sampler dropped was exported"
        assert not sink.rejected, sink.rejected
        traces = [enc for path, enc in sink.encodings if path == "/v1/traces"]
        assert traces and set(traces) == {"gzip"}, f"trace exports must be gzip-compressed, saw {traces}"
    finally:
        sink.close()
