"""Error mapping: client errors, upstream failures, timeouts and broken streams."""

from __future__ import annotations

import json
import time

import anthropic
import httpx
import openai
import pytest

from e2e_helpers import base_config, closed_port, new_traceparent, read_sse

MAX_BODY = 65536
ERROR_KEYS = ("message", "type", "param", "code")


def _err_headers(**h):
    return {f"x-simulator-{k.replace('_', '-')}": str(v) for k, v in h.items()}


def error_config(sim: str) -> dict:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    return base_config(
        sim,
        server={"max_body_bytes": MAX_BODY},
        providers={
            "fail500": {"kind": "simulator", "base_url": f"{sim}/v1", "api_key": "k",
                        "headers": _err_headers(error_rate=1, error_status=500)},
            "fail503": {"kind": "simulator", "base_url": f"{sim}/v1", "api_key": "k",
                        "headers": _err_headers(error_rate=1, error_status=503)},
            "limited": {"kind": "simulator", "base_url": f"{sim}/v1", "api_key": "k",
                        "headers": _err_headers(rate_limit_rate=1)},
            "slow": {"kind": "simulator", "base_url": f"{sim}/v1", "api_key": "k",
                     "headers": _err_headers(latency_ms=3000)},
            "slowfirst": {"kind": "simulator", "base_url": f"{sim}/v1", "api_key": "k",
                          "headers": _err_headers(ttft_ms=3000)},
            "dead": {"kind": "openai", "base_url": dead, "api_key": "k"},
            "breaker": {"kind": "simulator", "base_url": f"{sim}/v1", "api_key": "k",
                        "headers": _err_headers(break_after=3, tokens_per_second=200)},
            "claude503": {"kind": "anthropic", "base_url": f"{sim}/v1", "api_key": "k",
                          "headers": _err_headers(error_rate=1, error_status=503)},
            "claudebreak": {"kind": "anthropic", "base_url": f"{sim}/v1", "api_key": "k",
                            "headers": _err_headers(break_after=3, tokens_per_second=200)},
            "breakfirst": {"kind": "simulator", "base_url": f"{sim}/v1", "api_key": "k",
                           "headers": _err_headers(break_after=0)},
            "claudebreakfirst": {"kind": "anthropic", "base_url": f"{sim}/v1", "api_key": "k",
                                 "headers": _err_headers(break_after=0)},
        },
        models={
            "m-500": {"provider": "fail500"},
            "m-503": {"provider": "fail503"},
            "m-429": {"provider": "limited"},
            "m-slow": {"provider": "slow"},
            "m-slow-first": {"provider": "slowfirst"},
            "m-dead": {"provider": "dead"},
            "m-break": {"provider": "breaker"},
            "claude-503": {"provider": "claude503"},
            "claude-break": {"provider": "claudebreak"},
            "m-break-first": {"provider": "breakfirst"},
            "claude-break-first": {"provider": "claudebreakfirst"},
        },
        routes={
            # One move each (a route's retry budget allows at least 3 in 10 s).
            "first-breaks": {"strategy": "fallback", "candidates": ["m-break-first", "sim-small"]},
            "claude-first-breaks": {"strategy": "fallback", "candidates": ["claude-break-first", "sim-small"]},
        },
    )


@pytest.fixture(scope="module")
def gw(module_gateway, simulator):
    return module_gateway(error_config(simulator))


@pytest.fixture(scope="module")
def client(gw):
    c = openai.OpenAI(api_key="sk-client-test", base_url=gw.v1, max_retries=0, timeout=20)
    yield c
    c.close()


@pytest.fixture(scope="module")
def aclient(gw):
    c = anthropic.Anthropic(api_key="sk-ant-client-test", base_url=gw.base_url, max_retries=0, timeout=20)
    yield c
    c.close()


@pytest.fixture
def http():
    with httpx.Client(timeout=20) as c:
        yield c


def _msg(text="Hello"):
    return [{"role": "user", "content": text}]


def assert_error_body(resp: httpx.Response, status: int, anthropic_surface: bool = False) -> dict:
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text[:500]}"
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body.get("error"), dict), body
    for key in ERROR_KEYS:
        assert key in body["error"], f"error.{key} missing in {body}"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["type"], str) and body["error"]["type"]
    if anthropic_surface:
        assert body.get("type") == "error", body
    return body["error"]


# ------------------------------------------------------------------------------ client errors


def test_malformed_json_is_400(gw, http):
    r = http.post(f"{gw.v1}/chat/completions", content=b'{"model": "sim-small", "messages": [',
                  headers={"content-type": "application/json"})
    assert_error_body(r, 400)


def test_malformed_json_on_messages_is_400(gw, http):
    r = http.post(f"{gw.v1}/messages", content=b"{nope",
                  headers={"content-type": "application/json", "anthropic-version": "2023-06-01"})
    assert_error_body(r, 400, anthropic_surface=True)


@pytest.mark.parametrize("path,body", [
    ("/chat/completions", b'{"model":"sim-small","messages":[{"role":"user","content":"hi"}],"stream":false,"stream":true}'),
    ("/chat/completions", b'{"model":"sim-small","messages":[{"role":"user","content":"a","content":"b"}]}'),
    ("/messages", b'{"model":"sim-small","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"messages":[]}'),
    ("/embeddings", b'{"model":"sim-small","input":"a","input":"b"}'),
])
def test_a_key_twice_in_one_object_is_400_never_forwarded(gw, http, path, body):
    # Parsers disagree on which duplicate counts: the gateway must not read one while the provider reads another.
    r = http.post(f"{gw.v1}{path}", content=body, headers={"content-type": "application/json", "anthropic-version": "2023-06-01"})
    error = assert_error_body(r, 400, anthropic_surface=path == "/messages")
    assert error["code"] == "invalid_json" and "twice" in error["message"]


def test_unknown_route_is_json_404(gw, http):
    r = http.post(f"{gw.v1}/no-such-endpoint", json={})
    assert_error_body(r, 404)


def test_missing_messages_is_400_naming_field(gw, http):
    r = http.post(f"{gw.v1}/chat/completions", json={"model": "sim-small"})
    err = assert_error_body(r, 400)
    assert "messages" in err["message"]


def test_invalid_messages_type_via_sdk_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as ei:
        client.chat.completions.create(model="sim-small", messages=_msg(), extra_body={"messages": 5})
    assert ei.value.status_code == 400
    assert "messages" in ei.value.message


def test_unknown_model_is_404_model_not_found(client):
    with pytest.raises(openai.NotFoundError) as ei:
        client.chat.completions.create(model="does-not-exist", messages=_msg())
    assert ei.value.status_code == 404
    assert ei.value.code == "model_not_found"
    assert "does-not-exist" in ei.value.message


def test_unknown_model_embeddings_is_404(client):
    with pytest.raises(openai.NotFoundError) as ei:
        client.embeddings.create(model="does-not-exist", input="x")
    assert ei.value.code == "model_not_found"


def test_unknown_model_raw_shape(gw, http):
    r = http.post(f"{gw.v1}/chat/completions", json={"model": "nope", "messages": _msg()})
    err = assert_error_body(r, 404)
    assert err["code"] == "model_not_found"


def test_body_over_limit_is_413(client, gw, http):
    big = "x" * (MAX_BODY + 1024)
    with pytest.raises(openai.APIStatusError) as ei:
        client.chat.completions.create(model="sim-small", messages=_msg(big))
    assert ei.value.status_code == 413
    r = http.post(f"{gw.v1}/chat/completions", json={"model": "sim-small", "messages": _msg(big)})
    assert_error_body(r, 413)


def test_body_under_limit_is_accepted(client):
    resp = client.chat.completions.create(model="sim-small", messages=_msg("y " * (MAX_BODY // 4)))
    assert resp.choices[0].message.content


# ---------------------------------------------------------------------------- upstream errors


def test_upstream_500_is_502_with_upstream_status(client, gw, http):
    with pytest.raises(openai.APIStatusError) as ei:
        client.chat.completions.create(model="m-500", messages=_msg())
    assert ei.value.status_code == 502
    assert "500" in ei.value.message
    r = http.post(f"{gw.v1}/chat/completions", json={"model": "m-500", "messages": _msg()})
    err = assert_error_body(r, 502)
    assert "500" in err["message"]


def test_upstream_503_is_503(client, gw, http):
    with pytest.raises(openai.APIStatusError) as ei:
        client.chat.completions.create(model="m-503", messages=_msg())
    assert ei.value.status_code == 503
    assert_error_body(http.post(f"{gw.v1}/chat/completions", json={"model": "m-503", "messages": _msg()}), 503)


def test_upstream_503_before_stream_starts_is_http_503(client):
    with pytest.raises(openai.APIStatusError) as ei:
        stream = client.chat.completions.create(model="m-503", messages=_msg(), stream=True)
        list(stream)
    assert ei.value.status_code == 503


def test_upstream_429_is_429(client, gw, http):
    with pytest.raises(openai.RateLimitError) as ei:
        client.chat.completions.create(model="m-429", messages=_msg())
    assert ei.value.status_code == 429
    refused = http.post(f"{gw.v1}/chat/completions", json={"model": "m-429", "messages": _msg()})
    assert_error_body(refused, 429)
    # The provider's retry-after reaches the client, and its headroom (read from the refusal) the admin view;
    # held back by retry-after, the model is not ejected.
    assert refused.headers.get("retry-after") == "1"
    figures = http.get(f"{gw.base_url}/admin/routing").json()["models"]["m-429"]
    assert figures["rate_limit"]["remaining_requests"] == 0, figures
    assert figures["ejected"] is False and figures["consecutive_failures"] == 0, figures
    assert 0 < figures["rate_limited_rate"] <= 1, figures


def test_upstream_timeout_is_504(client, gw, http):
    t0 = time.monotonic()
    with pytest.raises(openai.APIStatusError) as ei:
        client.chat.completions.create(model="m-slow", messages=_msg())
    elapsed = time.monotonic() - t0
    assert ei.value.status_code == 504
    assert elapsed < 2.5, f"gateway waited {elapsed:.2f}s; first_byte_timeout is 1s"
    assert_error_body(http.post(f"{gw.v1}/chat/completions", json={"model": "m-slow", "messages": _msg()}), 504)


def test_upstream_timeout_on_embeddings_is_504(client):
    with pytest.raises(openai.APIStatusError) as ei:
        client.embeddings.create(model="m-slow", input="slow")
    assert ei.value.status_code == 504


def test_stream_first_byte_timeout_fails(client):
    t0 = time.monotonic()
    with pytest.raises(openai.APIError) as ei:
        for _ in client.chat.completions.create(model="m-slow-first", messages=_msg(), stream=True):
            pass
    assert time.monotonic() - t0 < 2.5
    if isinstance(ei.value, openai.APIStatusError):
        assert ei.value.status_code == 504


def test_upstream_unreachable_is_502(client, gw, http):
    with pytest.raises(openai.APIStatusError) as ei:
        client.chat.completions.create(model="m-dead", messages=_msg())
    assert ei.value.status_code == 502
    assert_error_body(http.post(f"{gw.v1}/chat/completions", json={"model": "m-dead", "messages": _msg()}), 502)


def test_anthropic_surface_upstream_503(aclient, gw, http):
    with pytest.raises(anthropic.APIStatusError) as ei:
        aclient.messages.create(model="claude-503", max_tokens=64, messages=_msg())
    assert ei.value.status_code == 503
    r = http.post(f"{gw.v1}/messages", json={"model": "claude-503", "max_tokens": 64, "messages": _msg()},
                  headers={"anthropic-version": "2023-06-01"})
    assert_error_body(r, 503, anthropic_surface=True)


def test_anthropic_surface_openai_wire_upstream_500_is_502(aclient):
    with pytest.raises(anthropic.APIStatusError) as ei:
        aclient.messages.create(model="m-500", max_tokens=64, messages=_msg())
    assert ei.value.status_code == 502
    assert ei.value.body.get("type") == "error"


def test_anthropic_surface_bad_request(gw, http):
    r = http.post(f"{gw.v1}/messages", json={"model": "claude-sim", "max_tokens": 64},
                  headers={"anthropic-version": "2023-06-01"})
    err = assert_error_body(r, 400, anthropic_surface=True)
    assert "messages" in err["message"]


# ---------------------------------------------------------------------------- broken streams


def test_openai_sdk_raises_on_broken_stream(client):
    received = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(model="m-break", messages=_msg("long story please"),
                                                    stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert 1 <= len(received) <= 3, f"expected the chunks before the break, got {received}"


def test_a_broken_stream_is_an_error_on_its_server_span_too(gw, http, otlp_sink):
    # The 200 went out before the break: the SERVER span says the answer did not complete.
    trace_id, _, tp = new_traceparent()
    read_sse(http, "POST", f"{gw.v1}/chat/completions", headers={"traceparent": tp},
             json={"model": "m-break", "stream": True, "messages": _msg("long story please")})

    def server():
        found = [s for s in otlp_sink.spans_in_trace(trace_id) if s.name == "POST /v1/chat/completions"]
        return found[0] if found else None

    span = otlp_sink.wait_for(server, timeout=10, message=lambda: otlp_sink.summary())
    assert span.attrs.get("http.response.status_code") == 200
    assert span.attrs.get("error.type") == "stream_interrupted", span.attrs
    assert span.span.status.code == 2  # ERROR
    # The HTTP metric says so too, with the scheme the conventions require.
    metrics = http.get(f"{gw.base_url}/metrics").text
    counts = [ln for ln in metrics.splitlines() if ln.startswith("http_server_request_duration_seconds_count{")]
    assert any(all(label in ln for label in ('error_type="stream_interrupted"', 'http_response_status_code="200"',
                                             'url_scheme="http"')) and not ln.endswith(" 0") for ln in counts), counts


def test_broken_stream_raw_ends_with_error_event_and_no_done(gw, http):
    body = {"model": "m-break", "stream": True, "messages": _msg("long story please")}
    status, events, _err = read_sse(http, "POST", f"{gw.v1}/chat/completions", json=body)
    assert status == 200
    datas = [e["data"] for e in events if e["data"]]
    assert "[DONE]" not in datas
    assert datas, "no events at all"
    last = json.loads(datas[-1])
    assert isinstance(last.get("error"), dict), f"last event should be an error, got {last}"
    assert last["error"].get("message")
    contents = [json.loads(d) for d in datas[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in contents)


@pytest.mark.parametrize("model", ["claude-break", "m-break"])
def test_anthropic_sdk_raises_on_broken_stream(aclient, model):
    texts = []
    with pytest.raises(anthropic.APIError):
        with aclient.messages.stream(model=model, max_tokens=512, messages=_msg("long story please")) as s:
            for t in s.text_stream:
                texts.append(t)
    assert 1 <= len(texts) <= 3, texts


@pytest.mark.parametrize("model", ["claude-break", "m-break"])
def test_broken_anthropic_stream_raw_has_error_event(gw, http, model):
    body = {"model": model, "stream": True, "max_tokens": 512, "messages": _msg("long story please")}
    status, events, _err = read_sse(http, "POST", f"{gw.v1}/messages", json=body,
                                    headers={"anthropic-version": "2023-06-01"})
    assert status == 200
    names = [e["event"] for e in events]
    assert "message_stop" not in names
    assert names[-1] == "error", names
    payload = json.loads(events[-1]["data"])
    assert payload["type"] == "error"
    assert payload["error"]["message"]


def test_a_stream_broken_before_its_first_chunk_moves_to_the_next_model(client, aclient):
    # Both upstreams answer 200 and then close before any event: nothing reached the client, so the
    # route goes on to the next candidate instead of handing the client a broken stream.
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="first-breaks", messages=_msg("hello there"), stream=True) if c.choices)
    assert text
    with aclient.messages.stream(model="claude-first-breaks", max_tokens=64, messages=_msg("hello there")) as s:
        assert "".join(s.text_stream)


def test_a_lone_model_broken_before_its_first_chunk_is_an_error_status(gw, http):
    for model in ("m-break-first", "claude-break-first"):
        resp = http.post(f"{gw.v1}/chat/completions", json={"model": model, "stream": True, "messages": _msg()})
        assert_error_body(resp, 502)


# ------------------------------------------------------------------------------------ retries


def test_retries_make_one_http_attempt_each(gateway, simulator, otlp_sink):
    cfg = base_config(simulator, upstream={"max_retries": 2},
                      providers={"flaky": {"kind": "simulator", "base_url": f"{simulator}/v1", "api_key": "k",
                                           "headers": _err_headers(error_rate=1, error_status=503)}},
                      models={"m-flaky": {"provider": "flaky"}})
    gw = gateway(cfg)
    trace_id, _, tp = new_traceparent()
    c = openai.OpenAI(api_key="x", base_url=gw.v1, max_retries=0, timeout=30)
    with pytest.raises(openai.APIStatusError) as ei:
        c.chat.completions.create(model="m-flaky", messages=_msg(), extra_headers={"traceparent": tp})
    assert ei.value.status_code == 503
    assert len(simulator.requests_for_trace(trace_id)) == 3, "1 attempt + 2 retries expected upstream"

    def http_spans():
        spans = otlp_sink.spans_in_trace(trace_id)
        genai = [s for s in spans if s.name.startswith("chat ")]
        if not genai:
            return None
        posts = [s for s in spans if s.name == "POST" and s.parent_span_id == genai[0].span_id]
        return posts if len(posts) >= 3 else None

    posts = otlp_sink.wait_for(http_spans, timeout=10, message=lambda: otlp_sink.summary())
    assert len(posts) == 3
