"""Every request that reaches the gateway leaves a finished trace, however its client leaves.

150 streamed requests, each hung up at a random moment: before the response head, between the head and
the first chunk, or mid-stream (on both wires, both upstream kinds). Every one must still export its
SERVER span and its GenAI span (spans that never end are never exported, and a span that never ends is
also a task or a buffer that is never released).
"""

from __future__ import annotations

import json
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from e2e_helpers import SPAN_KIND_CLIENT, SPAN_KIND_SERVER, base_config, new_traceparent, start_simulator, wait_for

REQUESTS = 150


@pytest.fixture(scope="module")
def sim(archway_bin, tmp_path_factory):
    url = start_simulator(archway_bin, tmp_path_factory.mktemp("hangup-sim"), name="hangup-simulator")
    yield url
    url.proc.stop(timeout=10)


@pytest.fixture(scope="module")
def gw(module_gateway, sim):
    slow = {"x-simulator-ttft-ms": "60", "x-simulator-tokens-per-second": "150"}
    return module_gateway(base_config(sim, providers={"sim": {"headers": dict(slow)}, "claude": {"headers": dict(slow)}}))


def hang_up(port: int, path: str, body: dict, traceparent: str, after: float) -> None:
    """Sends a streamed request on a raw socket and closes it `after` seconds later, whatever it read."""
    payload = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\ntraceparent: {traceparent}\r\nx-api-key: k\r\n"
            f"anthropic-version: 2023-06-01\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head + payload)
        s.settimeout(0.01)
        deadline = time.monotonic() + after
        while time.monotonic() < deadline:
            try:
                if not s.recv(65536):
                    break
            except socket.timeout:
                pass


def test_every_hung_up_stream_leaves_a_finished_trace(gw, sim, otlp_sink):
    rng = random.Random(20261201)
    cases = []
    for i in range(REQUESTS):
        path, model = rng.choice([("/v1/chat/completions", "sim-small"), ("/v1/chat/completions", "claude-sim"),
                                  ("/v1/messages", "claude-sim"), ("/v1/messages", "sim-small")])
        body = {"model": model, "stream": True, "max_tokens": 64,
                "messages": [{"role": "user", "content": f"Tell me story {i}"}]}
        trace_id, _, traceparent = new_traceparent()
        # 0 to 400 ms: before the head (the upstream's first token takes 60 ms), before the first chunk, mid-stream.
        cases.append((path, body, traceparent, trace_id, rng.uniform(0.0, 0.4)))
    # In batches, so the simulator's request log (a ring of 100) still holds each batch when it is read.
    reached = []
    with ThreadPoolExecutor(max_workers=16) as pool:
        for start in range(0, REQUESTS, 50):
            batch = cases[start:start + 50]
            list(pool.map(lambda c: hang_up(gw.port, c[0], c[1], c[2], c[4]), batch))
            time.sleep(0.5)
            received = {(req.get("traceparent") or "")[3:35] for req in sim.requests()}
            # Only requests the provider received count: one hung up before the gateway called out may or
            # may not have got as far as a GenAI span.
            reached += [c for c in batch if c[3] in received]
    assert len(reached) >= REQUESTS // 2, f"only {len(reached)} of {REQUESTS} requests reached the provider"

    def missing():
        spans = otlp_sink.spans()
        by_trace: dict[str, set[int]] = {}
        for span in spans:
            if span.kind == SPAN_KIND_SERVER or (span.kind == SPAN_KIND_CLIENT and span.name.startswith("chat ")):
                by_trace.setdefault(span.trace_id, set()).add(span.kind)
        return [c[3] for c in reached if by_trace.get(c[3]) != {SPAN_KIND_SERVER, SPAN_KIND_CLIENT}]

    try:
        wait_for(lambda: not missing(), timeout=20, interval=0.25)
    except AssertionError:
        lost = missing()
        pytest.fail(f"{len(lost)} of {len(reached)} hung-up requests have no finished SERVER or GenAI span: {lost[:5]}")


@pytest.mark.parametrize("path,model", [("/v1/chat/completions", "sim-small"), ("/v1/messages", "claude-sim")])
def test_a_stream_whose_client_leaves_says_so_on_its_server_span(gateway, simulator, otlp_sink, path, model):
    # 10 tokens a second: under way, far from done, when the client leaves at 0.5 s.
    slow = {"x-simulator-ttft-ms": "20", "x-simulator-tokens-per-second": "10"}
    gw = gateway(base_config(simulator, providers={"sim": {"headers": dict(slow)}, "claude": {"headers": dict(slow)}}))
    trace_id, _, traceparent = new_traceparent()
    body = {"model": model, "stream": True, "max_tokens": 256, "messages": [{"role": "user", "content": "A long story"}]}
    hang_up(gw.port, path, body, traceparent, 0.5)

    def server():
        found = [s for s in otlp_sink.spans_in_trace(trace_id) if s.kind == SPAN_KIND_SERVER]
        return found[0] if found else None

    span = wait_for(server, timeout=10, interval=0.1)
    assert span.attrs.get("error.type") == "client_closed", [(s.name, s.attrs.get("error.type")) for s in otlp_sink.spans_in_trace(trace_id)]


def test_a_streamed_workflow_run_ends_when_its_client_leaves(gateway, simulator, otlp_sink):
    # One step, answering after 4 s: the client leaves at 0.5 s, after the step.started event.
    gw = gateway(base_config(simulator, providers={"sim": {"headers": {"x-simulator-latency-ms": "4000"}}},
                             workflows={"slow": {"inputs": ["topic"], "deadline_ms": 20000,
                                                 "steps": {"a": {"model": "sim-small", "prompt": "{{inputs.topic}}"}},
                                                 "output": "{{steps.a.output}}"}}))
    trace_id, _, traceparent = new_traceparent()
    started = time.monotonic()
    hang_up(gw.port, "/v1/workflows/slow/runs", {"inputs": {"topic": "x"}, "stream": True}, traceparent, 0.5)

    def spans():
        found = {s.name: s for s in otlp_sink.spans_in_trace(trace_id)}
        return found if any(s.kind == SPAN_KIND_SERVER for s in found.values()) else None

    found = wait_for(spans, timeout=10, interval=0.1)
    # The run was cut when the client left, not when its step answered 4 s later.
    assert time.monotonic() - started < 3, "the run outlived its client"
    server = next(s for s in found.values() if s.kind == SPAN_KIND_SERVER)
    assert server.attrs.get("error.type") == "client_closed", {n: s.attrs.get("error.type") for n, s in found.items()}
    workflow = next(s for s in found.values() if s.name.startswith("invoke_workflow"))
    assert workflow.attrs.get("error.type") == "client_closed"
