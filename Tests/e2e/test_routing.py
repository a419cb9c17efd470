"""Routes: a client asks for a route and the gateway decides per request, from live prices and the
statistics of its own calls, which configured model answers.

A standalone simulator serves every model; its per-model profiles (`PUT /_simulator/models/{model}`)
take a model down and up or slow it, as a provider outage or slowdown would.
"""

from __future__ import annotations

import time
from collections import Counter

import anthropic
import httpx
import openai
import pytest

from e2e_helpers import SPAN_KIND_CLIENT, SPAN_KIND_SERVER, STATUS_ERROR, new_traceparent, start_simulator, wait_for


@pytest.fixture(scope="module")
def sim(archway_bin, tmp_path_factory):
    url = start_simulator(archway_bin, tmp_path_factory.mktemp("routing-sim"), "--latency", "5", "--ttft", "5",
                          name="routing-simulator")
    yield url
    url.proc.stop(timeout=10)


def route_config(sim: str) -> dict:
    provider = {"kind": "openai", "base_url": f"{sim}/v1", "api_key": "sk-route-upstream"}
    return {
        "server": {"shutdown_timeout": "5s"},
        "upstream": {"first_byte_timeout": "5s", "request_timeout": "20s", "max_retries": 0},
        "providers": {"sim": provider, "claude": {"kind": "anthropic", "base_url": f"{sim}/v1", "api_key": "sk-ant"}},
        "models": {
            "cheap": {"provider": "sim", "model": "cheap-up", "price": {"input": 0.2, "output": 0.8}, "quality": 0.88},
            "mid": {"provider": "sim", "model": "mid-up", "price": {"input": 2.5, "output": 10}, "quality": 0.90},
            "top": {"provider": "claude", "model": "top-up", "price": {"input": 3, "output": 15}, "quality": 0.95},
            "weak": {"provider": "sim", "model": "weak-up", "price": {"input": 0.01, "output": 0.01}, "quality": 0.5},
            "slow": {"provider": "sim", "model": "slow-up", "price": {"input": 1, "output": 1}, "quality": 0.9},
            "quick": {"provider": "sim", "model": "quick-up", "price": {"input": 1, "output": 1}, "quality": 0.9},
        },
        "routes": {
            "smart": {"strategy": "cost", "candidates": ["weak", "cheap", "mid", "top"], "min_quality": 0.85,
                      "retries": {"max": 2, "backoff_ms": 10, "on": ["429", "5xx", "timeout"]},
                      "ejection": {"consecutive_failures": 2, "base_ms": 10000}},
            "fast": {"strategy": "latency", "candidates": ["slow", "quick"]},
            "busy": {"strategy": "cost", "candidates": ["weak", "mid"], "min_quality": 0.85,
                     "under_load": {"in_flight_above": 2, "min_quality": 0.4}},
            "ordered": {"strategy": "fallback", "candidates": ["weak", "cheap", "mid"], "min_quality": 0.85,
                        "retries": {"max": 1, "backoff_ms": 10}},
        },
        "telemetry": {"capture_content": False},
    }


@pytest.fixture(scope="module")
def gw(module_gateway, sim):
    return module_gateway(route_config(sim))


@pytest.fixture(scope="module")
def client(gw):
    c = openai.OpenAI(api_key="sk-client", base_url=gw.v1, max_retries=0, timeout=20)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def healthy_models(sim):
    """Each test starts with every model healthy and the original prices."""
    for model in ("cheap-up", "mid-up", "top-up", "weak-up", "slow-up", "quick-up"):
        httpx.delete(f"{sim}/_simulator/models/{model}", timeout=5)
    yield


def profile(sim, model: str, **settings) -> None:
    r = httpx.put(f"{sim}/_simulator/models/{model}", json=settings, timeout=5)
    assert r.status_code == 200, r.text


def chosen(client, model="smart", n=10) -> Counter:
    """The models that answered `n` requests (a route explores an unmeasured candidate now and then)."""
    return Counter(ask(client, model)[1].model for _ in range(n))


def ask(client, model="smart", **kw):
    raw = client.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": "Hello"}],
                                                           max_tokens=16, **kw)
    return raw.headers, raw.parse()


def test_a_route_name_is_answered_by_the_cheapest_model_meeting_the_bar(client, gw):
    headers, answer = ask(client)
    assert headers.get("x-archway-route") == "smart"
    counts = chosen(client, n=20)
    # weak is cheaper but below min_quality 0.85: never chosen.
    assert "weak" not in counts and counts["cheap"] >= 15, counts
    models = httpx.get(f"{gw.v1}/models", timeout=5).json()
    assert "smart" in {m["id"] for m in models["data"]}


def test_failover_gives_no_client_errors_and_recovery_is_probed_back_within_seconds(client, gw, sim):
    profile(sim, "cheap-up", down=True)
    answered = [ask(client)[1].model for _ in range(30)]
    # Every request answered; mostly by the next cheapest (now and then an unmeasured one is explored).
    assert "cheap" not in answered and answered.count("mid") >= 24, answered
    routing = httpx.get(f"{gw.base_url}/admin/routing", timeout=5).json()
    cheap = next(c for c in routing["routes"]["smart"]["candidates"] if c["model"] == "cheap")
    assert cheap["ejected"] is True and cheap["eligible"] is False and cheap["ineligible_because"] == "ejected"

    # cheap recovers: the probes bring it back long before its 10 s ejection ends.
    httpx.delete(f"{sim}/_simulator/models/cheap-up", timeout=5)
    recovered = time.monotonic()

    def back():
        return ask(client)[1].model == "cheap"


    wait_for(back, timeout=5, interval=0.1, message="cheap answering again")
    assert time.monotonic() - recovered < 3.0
    # The probes are the gateway's own calls: on the GenAI metrics they say so, apart from clients' calls.
    metrics = httpx.get(f"{gw.base_url}/metrics", timeout=5).text
    counts = [ln for ln in metrics.splitlines() if ln.startswith("gen_ai_client_operation_duration_seconds_count{")]
    assert any('archway_call_purpose="probe"' in ln and 'gen_ai_request_model="cheap-up"' in ln for ln in counts), counts
    assert any("archway_call_purpose" not in ln and 'gen_ai_request_model="mid-up"' in ln for ln in counts), counts


def test_a_stream_falls_over_before_its_first_byte(client, sim):
    profile(sim, "cheap-up", down=True)
    stream = client.chat.completions.create(model="smart", stream=True, messages=[{"role": "user", "content": "Hi"}])
    chunks = list(stream)
    assert chunks and len({c.model for c in chunks}) == 1 and chunks[0].model in {"mid", "top"}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_the_anthropic_ingress_takes_route_names(gw):
    with anthropic.Anthropic(api_key="k", base_url=gw.base_url, max_retries=0, timeout=20) as client:
        message = client.messages.create(model="smart", max_tokens=16, messages=[{"role": "user", "content": "Hi"}])
    assert message.model in {"cheap", "mid", "top"}
    assert message.content[0].text


def test_a_slow_endpoint_loses_traffic_to_a_fast_one(client, sim):
    profile(sim, "slow-up", latency_ms=300)
    chosen = [ask(client, model="fast")[1].model for _ in range(30)]
    # Power of two choices over peak-EWMA latency: once each is measured, the fast one wins every draw.
    assert chosen[-20:].count("quick") >= 18, chosen


def test_a_price_change_flips_the_cost_choice_and_pricing_is_live(client, gw):
    assert chosen(client).most_common(1)[0][0] == "cheap"
    r = httpx.put(f"{gw.base_url}/admin/pricing", json={"models": {"top": {"input": 0.01, "output": 0.02}}}, timeout=5)
    assert r.status_code == 200, r.text
    try:
        assert r.json()["models"]["top"]["in_force"] == {"input": 0.01, "output": 0.02, "cached_input": None}
        assert chosen(client).most_common(1)[0][0] == "top"
        shown = httpx.get(f"{gw.base_url}/admin/pricing", timeout=5).json()["models"]["top"]
        assert shown["input"] == 0.01
        bad = httpx.put(f"{gw.base_url}/admin/pricing", json={"models": {"nope": {"input": 1, "output": 1}}}, timeout=5)
        assert bad.status_code == 400 and "unknown model 'nope'" in bad.json()["error"]["message"]
    finally:
        httpx.put(f"{gw.base_url}/admin/pricing", json={"models": {"top": {"input": 3, "output": 15}}}, timeout=5)


def test_every_decision_is_explained_on_the_trace(client, gw, sim, otlp_sink):
    profile(sim, "cheap-up", error_rate=1, error_status=500)
    trace_id, _, traceparent = new_traceparent()
    answer = client.chat.completions.create(model="ordered", messages=[{"role": "user", "content": "Hi"}],
                                            extra_headers={"traceparent": traceparent})
    assert answer.model == "mid"

    def spans():
        found = otlp_sink.spans_in_trace(trace_id)
        server = [s for s in found if s.kind == SPAN_KIND_SERVER]
        genai = [s for s in found if s.kind == SPAN_KIND_CLIENT and s.name.startswith("chat ")]
        return (server, genai) if server and len(genai) >= 2 else None

    server, genai = wait_for(spans, timeout=10, interval=0.1, message="SERVER and two GenAI spans")
    attrs = server[0].attrs
    assert attrs["archway.route.name"] == "ordered"
    assert attrs["archway.route.strategy"] == "fallback"
    assert attrs["archway.route.chosen"] == "mid"
    assert attrs["archway.route.reason"] == "fallback"
    assert attrs["archway.route.min_quality"] == 0.85
    assert list(attrs["archway.route.candidates"]) == ["cheap", "mid"]
    assert attrs["archway.route.estimated_cost_usd"] > 0
    # Each model tried is its own GenAI span, siblings under the SERVER span; the abandoned one failed.
    assert {s.parent_span_id for s in genai} == {server[0].span_id}
    failed = next(s for s in genai if s.attrs["gen_ai.request.model"] == "cheap-up")
    assert failed.status_code == STATUS_ERROR and failed.attrs["error.type"] == "500"
    served = next(s for s in genai if s.attrs["gen_ai.request.model"] == "mid-up")
    assert served.attrs["archway.model"] == "mid" and served.attrs["archway.route.name"] == "ordered"


def test_admin_routing_shows_live_figures(client, gw):
    for _ in range(3):
        ask(client)
    routing = httpx.get(f"{gw.base_url}/admin/routing", timeout=5).json()
    smart = routing["routes"]["smart"]
    assert smart["strategy"] == "cost" and smart["min_quality"] == 0.85
    by_model = {c["model"]: c for c in smart["candidates"]}
    assert by_model["weak"]["eligible"] is False and by_model["weak"]["ineligible_because"] == "below_quality_bar"
    cheap = by_model["cheap"]
    assert cheap["eligible"] is True and cheap["samples"] >= 3 and cheap["latency_p95_ms"] is not None
    assert cheap["price"] == {"input": 0.2, "output": 0.8, "cached_input": None}
    assert cheap["rate_limit"]["remaining_requests"] is not None


def test_route_metrics_are_exported(client, gw, otlp_sink):
    ask(client)

    def names():
        found = otlp_sink.metric_names()
        return {"archway.route.decisions", "archway.endpoint.latency", "archway.endpoint.price"} <= found
    wait_for(names, timeout=10, interval=0.2, message="routing metrics")


def test_a_configmap_mounted_pricing_file_is_reloaded_when_its_target_is_swapped(gateway, sim, tmp_path):
    """Kubernetes mounts a ConfigMap as `prices.yaml -> ..data/prices.yaml`, `..data -> ..<version>`, and
    updates it by pointing `..data` at a new directory: no file the path names changes its time. A file
    replaced by one keeping its time (`cp -p`) is a change too."""
    import os
    first = tmp_path / "..2026_01"
    first.mkdir()
    (first / "prices.yaml").write_text("models:\n  mid: {input: 1.0, output: 2.0}\n")
    os.symlink(first.name, tmp_path / "..data")
    os.symlink("..data/prices.yaml", tmp_path / "prices.yaml")
    config = route_config(sim)
    config["pricing"] = {"file": str(tmp_path / "prices.yaml")}
    gw = gateway(config)

    def in_force(model):
        return httpx.get(f"{gw.base_url}/admin/pricing", timeout=5).json()["models"][model]["in_force"]

    assert in_force("mid") == {"input": 1.0, "output": 2.0, "cached_input": None}
    second = tmp_path / "..2026_02"
    second.mkdir()
    (second / "prices.yaml").write_text("models:\n  mid: {input: 9.0, output: 9.0}\n")
    os.symlink(second.name, tmp_path / "..data_tmp")
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
    wait_for(lambda: in_force("mid") == {"input": 9.0, "output": 9.0, "cached_input": None}, timeout=5, interval=0.2,
             message="the swapped ConfigMap's prices in force")
    # Same modification time, new text.
    target = second / "prices.yaml"
    stat = target.stat()
    replacement = tmp_path / "replacement.yaml"
    replacement.write_text("models:\n  mid: {input: 7.0, output: 7.0}\n")
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, target)
    wait_for(lambda: in_force("mid") == {"input": 7.0, "output": 7.0, "cached_input": None}, timeout=5, interval=0.2,
             message="the replaced file's prices in force")
    # A touch applies the file again, over prices PUT since.
    httpx.put(f"{gw.base_url}/admin/pricing", json={"models": {"mid": {"input": 3.0, "output": 3.0}}}, timeout=5).raise_for_status()
    assert in_force("mid") == {"input": 3.0, "output": 3.0, "cached_input": None}
    time.sleep(1.1)
    os.utime(target)
    wait_for(lambda: in_force("mid") == {"input": 7.0, "output": 7.0, "cached_input": None}, timeout=5, interval=0.2,
             message="the touched file's prices in force again")


def test_the_pricing_file_is_applied_and_reloaded_when_it_changes(gateway, sim, tmp_path):
    config = route_config(sim)
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  mid: {input: 1.0, output: 2.0}\n")
    config["pricing"] = {"file": str(prices)}
    gw = gateway(config)

    def in_force(model):
        return httpx.get(f"{gw.base_url}/admin/pricing", timeout=5).json()["models"][model]["in_force"]

    assert in_force("mid") == {"input": 1.0, "output": 2.0, "cached_input": None}
    assert in_force("cheap") == {"input": 0.2, "output": 0.8, "cached_input": None}
    time.sleep(1.1)  # a later modification time than the first write
    prices.write_text("models:\n  mid: {input: 0.05, output: 0.1, schedule: [{hours: \"00:00-24:00\", input: 0.01, output: 0.02}]}\n")
    wait_for(lambda: in_force("mid") == {"input": 0.01, "output": 0.02, "cached_input": None}, timeout=5, interval=0.2,
             message="the changed pricing file in force")
    # A file with a problem is reported and not applied: the prices in force stay.
    time.sleep(1.1)
    prices.write_text("models:\n  nope: {input: 1, output: 2}\n")
    wait_for(lambda: "pricing file not applied" in gw.output(), timeout=5, interval=0.2, message="the warning")
    assert in_force("mid") == {"input": 0.01, "output": 0.02, "cached_input": None}
    # A model the file stops naming goes back to its configured price.
    time.sleep(1.1)
    prices.write_text("models:\n  cheap: {input: 0.1, output: 0.4}\n")
    wait_for(lambda: in_force("cheap") == {"input": 0.1, "output": 0.4, "cached_input": None}, timeout=5, interval=0.2,
             message="the third pricing file in force")
    assert in_force("mid") == {"input": 2.5, "output": 10.0, "cached_input": None}
    # A removed file is reported once; its prices stay in force until it is back.
    prices.unlink()
    wait_for(lambda: "pricing file removed" in gw.output(), timeout=5, interval=0.2, message="the removal warning")
    assert in_force("cheap") == {"input": 0.1, "output": 0.4, "cached_input": None}
    time.sleep(1.5)
    assert gw.output().count("pricing file removed") == 1
    prices.write_text("models:\n  cheap: {input: 0.3, output: 0.6}\n")
    wait_for(lambda: in_force("cheap") == {"input": 0.3, "output": 0.6, "cached_input": None}, timeout=5, interval=0.2,
             message="the file back in force")


def test_under_load_the_bar_relaxes_and_the_spans_say_which_bar_applied(client, gw, sim, otlp_sink):
    profile(sim, "weak-up", latency_ms=400)
    profile(sim, "mid-up", latency_ms=400)
    assert ask(client, model="busy")[1].model == "mid"        # weak (0.5) is below the normal bar
    traces = [new_traceparent() for _ in range(12)]

    def one(tp):
        return client.chat.completions.create(model="busy", messages=[{"role": "user", "content": "Hi"}],
                                              extra_headers={"traceparent": tp[2]}).model

    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=12) as pool:
        answered = list(pool.map(one, traces))
    # With more than two calls in flight the bar is 0.4: the cheaper weak model serves.
    assert "weak" in answered, answered

    def bars():
        found = {}
        for trace_id, _, _ in traces:
            server = [s for s in otlp_sink.spans_in_trace(trace_id) if s.kind == SPAN_KIND_SERVER]
            if not server:
                return None
            found[trace_id] = server[0].attrs["archway.route.min_quality"]
        return found

    seen = wait_for(bars, timeout=10, interval=0.2, message="SERVER spans of the loaded requests")
    assert 0.4 in seen.values() and all(bar in (0.4, 0.85) for bar in seen.values()), seen
    # Load gone: the normal bar again.
    assert ask(client, model="busy")[1].model == "mid"


def test_a_route_that_fails_still_names_itself(gateway, sim):
    config = route_config(sim)
    config["routes"] = {"doomed": {"strategy": "fallback", "candidates": ["cheap", "mid"]}}
    gw = gateway(config)
    profile(sim, "cheap-up", down=True)
    profile(sim, "mid-up", down=True)
    for stream in (False, True):
        r = httpx.post(f"{gw.v1}/chat/completions", timeout=10,
                       json={"model": "doomed", "stream": stream, "messages": [{"role": "user", "content": "Hello"}]})
        assert r.status_code == 503, r.text
        assert r.headers.get("x-archway-route") == "doomed", (stream, dict(r.headers))
    # A model asked by its own name is no route's answer.
    r = httpx.post(f"{gw.v1}/chat/completions", timeout=10, json={"model": "cheap", "messages": [{"role": "user", "content": "Hello"}]})
    assert r.status_code == 503 and "x-archway-route" not in r.headers


def test_a_route_stopped_by_its_retry_budget_says_so(gateway, sim, otlp_sink):
    # cheap is down and never ejected: each request fails on it and moves to mid, until the route's retry
    # budget (at least 3 moves in 10 s, 20 % of its requests) is spent. Then the failure is the answer.
    config = route_config(sim)
    config["routes"] = {"thin": {"strategy": "fallback", "candidates": ["cheap", "mid"],
                                 "retries": {"max": 1, "backoff_ms": 1, "on": ["5xx"]},
                                 "ejection": {"consecutive_failures": 1000}}}
    gw = gateway(config)
    profile(sim, "cheap-up", down=True)
    outcomes = []
    for _ in range(6):
        trace_id, _, traceparent = new_traceparent()
        r = httpx.post(f"{gw.v1}/chat/completions", timeout=10, headers={"traceparent": traceparent},
                       json={"model": "thin", "messages": [{"role": "user", "content": "Hello"}]})
        outcomes.append((r.status_code, trace_id))
    assert [status for status, _ in outcomes] == [200, 200, 200, 503, 503, 503], outcomes

    def exhausted(trace_id):
        server = [s for s in otlp_sink.spans_in_trace(trace_id) if s.kind == SPAN_KIND_SERVER]
        return server[0].attrs.get("archway.route.retry_budget_exhausted") if server else None

    assert wait_for(lambda: exhausted(outcomes[3][1]), timeout=10, interval=0.2) is True
    assert exhausted(outcomes[0][1]) is None
