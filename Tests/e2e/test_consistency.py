"""Consistency shadowing: a route samples its answers against a reference model off the client's
path, scores how far they agree, records each score as a `gen_ai.evaluation.result` event parented to
the evaluated call's span, and stops choosing a model whose answers drift, whatever its declared
quality says. The simulator's per-model `quality` makes a model drift (a different answer with
probability 1 - quality, deterministic per request).
"""

from __future__ import annotations

import time
from collections import Counter

import httpx
import openai
import pytest

from archway_testkit import free_port
from e2e_helpers import REPO_ROOT, assert_check_reports, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, new_traceparent, start_simulator, wait_for

EVENT = "gen_ai.evaluation.result"


@pytest.fixture(scope="module")
def sim(archway_bin, tmp_path_factory):
    url = start_simulator(archway_bin, tmp_path_factory.mktemp("consistency-sim"), "--latency", "5", "--ttft", "5",
                          name="consistency-simulator")
    yield url
    url.proc.stop(timeout=10)


@pytest.fixture(autouse=True)
def consistent_models(sim):
    for model in ("cheap-up", "mid-up", "ref-up"):
        httpx.delete(f"{sim}/_simulator/models/{model}", timeout=5)
    yield


def config(sim: str, **consistency) -> dict:
    provider = {"kind": "openai", "base_url": f"{sim}/v1", "api_key": "sk-consistency-upstream"}
    settings = {"reference": "ref", "sample_rate": 1.0, "window": 10, "min_score": 0.6, "min_samples": 5,
                "recovery_sample_rate": 0.5}
    settings.update(consistency)
    return {
        "upstream": {"first_byte_timeout": "5s", "request_timeout": "20s", "max_retries": 0},
        "providers": {"sim": provider},
        "models": {
            "cheap": {"provider": "sim", "model": "cheap-up", "price": {"input": 0.2, "output": 0.8}, "quality": 0.9},
            "mid": {"provider": "sim", "model": "mid-up", "price": {"input": 2.5, "output": 10}, "quality": 0.9},
            "ref": {"provider": "sim", "model": "ref-up", "price": {"input": 3, "output": 15}, "quality": 0.95},
        },
        "routes": {
            "smart": {"strategy": "cost", "candidates": ["cheap", "mid", "ref"], "min_quality": 0.85,
                      "consistency": settings},
        },
    }


def drift(sim, model: str, quality: float) -> None:
    r = httpx.put(f"{sim}/_simulator/models/{model}", json={"quality": quality}, timeout=5)
    assert r.status_code == 200, r.text


def ask(client, i: int, **kw):
    # A different prompt each time: the simulator's answer (and its drift) is decided per request.
    return client.chat.completions.create(model="smart", messages=[{"role": "user", "content": f"Question {i}"}],
                                          max_tokens=32, **kw)


def candidate(gw, model: str) -> dict:
    routing = httpx.get(f"{gw.base_url}/admin/routing", timeout=5).json()
    return next(c for c in routing["routes"]["smart"]["candidates"] if c["model"] == model)


def test_a_consistent_model_keeps_its_traffic(gateway, sim):
    gw = gateway(config(sim))
    with openai.OpenAI(api_key="k", base_url=gw.v1, max_retries=0, timeout=20) as client:
        answered = Counter(ask(client, i).model for i in range(30))
    assert answered["cheap"] >= 25, answered
    wait_for(lambda: (candidate(gw, "cheap")["consistency"] or {}).get("samples", 0) >= 10, timeout=10,
             message=lambda: f"cheap's answers scored: {candidate(gw, 'cheap')}")
    cheap = candidate(gw, "cheap")
    assert cheap["eligible"] is True and cheap["consistency"]["eligible"] is True
    assert cheap["consistency"]["score"] == pytest.approx(1.0), cheap
    assert candidate(gw, "ref")["consistency"]["reference"] is True


def test_a_drifting_model_loses_its_traffic_within_a_bounded_number_of_requests(gateway, sim):
    gw = gateway(config(sim))
    drift(sim, "cheap-up", 0.0)
    answered = []
    with openai.OpenAI(api_key="k", base_url=gw.v1, max_retries=0, timeout=20) as client:
        for i in range(40):
            answered.append(ask(client, i).model)
            time.sleep(0.02)  # lets the shadow samples of earlier answers land
    # min_samples 5 at sample_rate 1: out after about five answers (plus those already on their way).
    assert answered[:3].count("cheap") == 3, answered
    assert answered.count("cheap") <= 12, answered
    assert "cheap" not in answered[-15:] and answered[-15:].count("mid") >= 13, answered
    cheap = candidate(gw, "cheap")
    # Its declared quality still says it is fine; its answers say otherwise.
    assert cheap["quality"] == 0.9
    assert cheap["eligible"] is False and cheap["ineligible_because"] == "inconsistent", cheap
    assert cheap["consistency"]["eligible"] is False and cheap["consistency"]["score"] < 0.6, cheap
    assert candidate(gw, "mid")["consistency"]["eligible"] is True

    # It answers well again: the recovery samples (it is no longer chosen) bring it back.
    drift(sim, "cheap-up", 1.0)
    with openai.OpenAI(api_key="k", base_url=gw.v1, max_retries=0, timeout=20) as client:
        def back():
            ask(client, int(time.monotonic() * 1000))
            return candidate(gw, "cheap")["consistency"]["eligible"]
        wait_for(back, timeout=30, interval=0.02, message="cheap eligible again after recovery samples")
        later = Counter(ask(client, 1000 + i).model for i in range(10))
    assert later["cheap"] >= 8, later


def test_evaluation_events_are_exported_and_parented_to_the_evaluated_span(gateway, sim, otlp_sink):
    gw = gateway(config(sim))
    otlp_sink.clear()
    drift(sim, "cheap-up", 0.5)
    traceparents = {}
    with openai.OpenAI(api_key="k", base_url=gw.v1, max_retries=0, timeout=20) as client:
        for i in range(6):
            trace_id, _, tp = new_traceparent()
            answer = client.chat.completions.create(model="smart", messages=[{"role": "user", "content": f"Event {i}"}],
                                                    max_tokens=32, extra_headers={"traceparent": tp})
            traceparents[trace_id] = answer

    def events():
        out = []
        for req in list(otlp_sink.log_requests):
            for rl in req.resource_logs:
                for sl in rl.scope_logs:
                    for record in sl.log_records:
                        if record.event_name == EVENT:
                            out.append((record, {kv.key: kv.value for kv in record.attributes}, rl.resource))
        return out

    wait_for(lambda: len({r.trace_id.hex() for r, _, _ in events()} & set(traceparents)) == len(traceparents),
             timeout=15, message="an evaluation event for every sampled call")
    def all_parents_exported():
        # Spans and log records are exported in separate batches: wait until every parent is in.
        spans = otlp_sink.spans()
        ids = {(s.trace_id, s.span_id) for s in spans}
        wanted = {(r.trace_id.hex(), r.span_id.hex()) for r, _, _ in events() if r.trace_id.hex() in traceparents}
        return spans if wanted <= ids else None
    spans = wait_for(all_parents_exported, timeout=15, message="the evaluated spans exported")
    by_id = {(s.trace_id, s.span_id): s for s in spans}
    labels = set()
    for record, attrs, resource in events():
        trace_id, span_id = record.trace_id.hex(), record.span_id.hex()
        if trace_id not in traceparents:
            continue
        evaluated = by_id.get((trace_id, span_id))
        assert evaluated is not None, f"event parented to an unknown span {trace_id}/{span_id}"
        # The evaluated call's GenAI CLIENT span, under the request's SERVER span.
        assert evaluated.kind == SPAN_KIND_CLIENT and evaluated.attrs["gen_ai.operation.name"] == "chat"
        server = [s for s in spans if s.trace_id == trace_id and s.kind == SPAN_KIND_SERVER]
        assert server and evaluated.parent_span_id == server[0].span_id
        assert attrs["gen_ai.evaluation.name"].string_value == "archway.consistency"
        score = attrs["gen_ai.evaluation.score.value"].double_value
        assert 0.0 <= score <= 1.0
        label = attrs["gen_ai.evaluation.score.label"].string_value
        assert label == ("consistent" if score >= 0.6 else "inconsistent")
        labels.add(label)
        assert attrs["gen_ai.response.id"].string_value == evaluated.attrs["gen_ai.response.id"]
        assert attrs["archway.model"].string_value == evaluated.attrs["archway.model"] == traceparents[trace_id].model
        assert {kv.key: kv.value.string_value for kv in resource.attributes}["service.name"] == "archway-e2e"
    assert labels, "no labelled events"

    # The shadow calls: their own traces, marked, linked to the span they evaluate, priced as shadow spend.
    evaluated_spans = {(r.trace_id.hex(), r.span_id.hex()) for r, _, _ in events()}

    def shadows_linking_every_evaluated_span():
        # Spans and log records are exported in separate batches: wait for the shadow spans too.
        shadows = [s for s in otlp_sink.spans() if s.attrs.get("archway.shadow") is True]
        linked = {(link.trace_id.hex(), link.span_id.hex()) for s in shadows for link in s.span.links}
        return shadows if shadows and evaluated_spans <= linked else None
    shadows = wait_for(shadows_linking_every_evaluated_span, timeout=15, message="a shadow call linked to every evaluated span")
    assert all(s.kind == SPAN_KIND_CLIENT and s.attrs["archway.call.purpose"] == "shadow" for s in shadows)
    assert all(s.attrs["archway.model"] == "ref" for s in shadows)
    assert not any(s.trace_id in traceparents for s in shadows), "shadow calls stay out of the client's trace"
    wait_for(lambda: otlp_sink.aggregate("archway.cost", {"archway.call.purpose": "shadow"}), timeout=10,
             message="shadow spend counted")
    client_spend = otlp_sink.aggregate("archway.cost", {"archway.call.purpose": "client"})
    assert client_spend, "client spend keeps its own label"
    wait_for(lambda: otlp_sink.aggregate("archway.consistency.samples", {"archway.model": "cheap"}), timeout=10,
             message="consistency samples counted")
    wait_for(lambda: otlp_sink.aggregate("archway.consistency.score", {"archway.route.name": "smart"}), timeout=10,
             message="consistency score gauge")


def test_a_sampled_stream_is_scored_and_the_client_stream_is_untouched(gateway, sim):
    gw = gateway(config(sim))
    with openai.OpenAI(api_key="k", base_url=gw.v1, max_retries=0, timeout=20) as client:
        for i in range(5):
            chunks = list(client.chat.completions.create(model="smart", stream=True, max_tokens=32,
                                                         messages=[{"role": "user", "content": f"Stream {i}"}]))
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert text.endswith(".") and len(text.split()) >= 5
    wait_for(lambda: (candidate(gw, "cheap")["consistency"] or {}).get("samples", 0) >= 5, timeout=10,
             message="streamed answers scored")
    assert candidate(gw, "cheap")["consistency"]["score"] == pytest.approx(1.0)


def test_a_full_shadow_queue_drops_samples_without_touching_clients(gateway, sim, otlp_sink):
    # One worker, a queue of one, and a slow reference: most samples find the queue full.
    httpx.put(f"{sim}/_simulator/models/ref-up", json={"latency_ms": 400}, timeout=5)
    cfg = config(sim)
    cfg["shadow"] = {"max_concurrency": 1, "queue_size": 1}
    gw = gateway(cfg)
    started = time.monotonic()
    with openai.OpenAI(api_key="k", base_url=gw.v1, max_retries=0, timeout=20) as client:
        answered = [ask(client, i).model for i in range(20)]
    # The clients never waited for the 400 ms reference.
    assert time.monotonic() - started < 4, time.monotonic() - started
    assert answered.count("cheap") >= 18, answered
    wait_for(lambda: otlp_sink.aggregate("archway.shadow.samples", {"outcome": "dropped", "archway.route.name": "smart"}),
             timeout=10, message="dropped samples counted")


def test_the_consistency_example_serves_on_the_embedded_simulator(gateway):
    text = (REPO_ROOT / "examples" / "consistency.yaml").read_text()
    gw = gateway(text.replace("listen: 127.0.0.1:8080", f"listen: 127.0.0.1:{free_port()}"))
    with openai.OpenAI(api_key="k", base_url=gw.v1, max_retries=0, timeout=20) as client:
        answered = [ask(client, i).model for i in range(80)]
    # drifty is cheapest and declares quality 0.9, but most of its answers drift: it loses the route.
    assert answered[0] == "drifty" and "drifty" not in answered[-20:], answered
    drifty = candidate(gw, "drifty")
    assert drifty["ineligible_because"] == "inconsistent" and drifty["consistency"]["score"] < 0.7, drifty


def test_check_reports_consistency_problems_at_their_lines(archway_bin, tmp_path):
    path = tmp_path / "consistency.yaml"
    path.write_text(
        "providers:\n"
        "  p: {kind: openai, base_url: \"http://127.0.0.1:9/v1\"}\n"
        "  a: {kind: anthropic, base_url: \"http://127.0.0.1:9/v1\"}\n"
        "models:\n"
        "  cheap: {provider: p, quality: 0.9}\n"
        "  claude: {provider: a, quality: 0.95}\n"
        "routes:\n"
        "  smart:\n"
        "    strategy: fallback\n"
        "    candidates: [cheap, claude]\n"
        "    consistency:\n"
        "      reference: gpt-9\n"
        "      sample_rate: 1.5\n"
        "      embeddings: claude\n"
    )
    assert_check_reports(archway_bin, path, [(12, "routes.smart.consistency.reference", "unknown reference model 'gpt-9'"),
                                             (13, "routes.smart.consistency.sample_rate", "between 0"),
                                             (14, "routes.smart.consistency.embeddings", "cannot serve embeddings")])
