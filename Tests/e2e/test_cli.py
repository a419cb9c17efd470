"""The `archway` command line: check, serve (lifecycle) and simulate."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from e2e_helpers import REPO_ROOT, base_config, clean_env, run_check, free_port, is_finite_number, new_traceparent, parse_traceparent, read_sse, sse_events

DIAG = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.+)$")


def diagnostics(cp: subprocess.CompletedProcess, path: Path) -> list[dict]:
    out = []
    for line in (cp.stdout + cp.stderr).splitlines():
        m = DIAG.match(line.strip())
        if m:
            d = m.groupdict()
            d["line"], d["col"] = int(d["line"]), int(d["col"])
            assert d["file"] == str(path) or Path(d["file"]).name == path.name, line
            out.append(d)
    return out


# ------------------------------------------------------------------------------------ check


VALID = """\
listen: 127.0.0.1:8080
server:
  max_body_bytes: 1048576
  shutdown_timeout: 10s
upstream:
  connect_timeout: 2s
  first_byte_timeout: 1s
  request_timeout: 30s
  max_retries: 0
providers:
  sim:
    kind: simulator
    base_url: http://127.0.0.1:9999/v1
    api_key: ${ARCHWAY_E2E_KEY}
    headers: {x-simulator-error-rate: "0"}
  claude:
    kind: anthropic
    base_url: http://127.0.0.1:9999/v1
    api_key: sk-ant-test
  local:
    kind: simulator
models:
  sim-small:
    provider: sim
    model: sim-small-upstream
    price: {input: 0.15, output: 0.60}
  claude-sim:
    provider: claude
  local-sim:
    provider: local
telemetry:
  capture_content: false
"""


def test_check_valid_config_prints_ok(archway_bin, tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text(VALID)
    cp = run_check(archway_bin, p, {"ARCHWAY_E2E_KEY": "sk-whatever"})
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert any(re.match(r"ok\b", ln.strip(), re.I) for ln in cp.stdout.splitlines()), cp.stdout
    assert not diagnostics(cp, p)


# line numbers are 1-based and matter: keep the layout of this document stable
BROKEN = """\
listen: 127.0.0.1:8080
providers:
  sim:
    kind: simulator
    kindd: simulator
    base_url: "not a url"
  other:
    kind: openai
    base_url: http://127.0.0.1:9/v1
    api_key: ${ARCHWAY_E2E_MISSING_VAR}
models:
  m1:
    provider: nope
  m2:
    provider: sim
"""


def test_check_reports_all_problems_with_locations(archway_bin, tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text(BROKEN)
    cp = run_check(archway_bin, p)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    diags = diagnostics(cp, p)
    text = "\n".join(f"{d['line']}:{d['col']}: {d['msg']}" for d in diags) or (cp.stdout + cp.stderr)

    def find(pred, what):
        hits = [d for d in diags if pred(d)]
        assert hits, f"missing diagnostic for {what}; got:\n{text}"
        return hits[0]

    unknown = find(lambda d: "providers.sim.kindd" in d["msg"], "unknown key providers.sim.kindd")
    assert (unknown["line"], unknown["col"]) == (5, 5), text

    url = find(lambda d: "providers.sim.base_url" in d["msg"], "bad URL providers.sim.base_url")
    assert url["line"] == 6 and url["col"] in (5, 15), text

    env = find(lambda d: "ARCHWAY_E2E_MISSING_VAR" in d["msg"], "missing env var")
    assert env["line"] == 10, text

    prov = find(lambda d: "models.m1.provider" in d["msg"], "missing provider reference")
    assert prov["line"] == 13 and prov["col"] in (5, 15), text
    assert "nope" in prov["msg"], text

    assert not any("models.m2" in d["msg"] for d in diags), f"valid model m2 flagged:\n{text}"


# line numbers matter here too
BROKEN_ROUTES = """\
listen: 127.0.0.1:8080
providers:
  p: {kind: openai, base_url: "http://127.0.0.1:9/v1"}
models:
  cheap:
    provider: p
    price:
      input: 1
      output: 2
      schedule:
        - {hours: "22:00-02:00", input: 0.5, output: 1}
        - {hours: "01:00-03:00", input: 0.4, output: 1}
    quality: 0.7
  good: {provider: p, price: {input: 2, output: 4}, quality: 0.9}
routes:
  cheap: {strategy: fallback, candidates: [good]}
  smart: {strategy: cost, candidates: [cheap, gpt-9], weights: {cheap: 2}}
  picky: {strategy: fallback, candidates: [cheap, good], min_quality: 0.95}
pricing:
  file: prices.yaml
"""


def test_check_reports_route_and_price_problems_at_their_lines(archway_bin, tmp_path):
    p = tmp_path / "routes.yaml"
    p.write_text(BROKEN_ROUTES)
    cp = run_check(archway_bin, p)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    diags = diagnostics(cp, p)
    text = "\n".join(f"{d['line']}:{d['col']}: {d['msg']}" for d in diags) or (cp.stdout + cp.stderr)
    expected = [
        (12, "models.cheap.price.schedule[1].hours", "overlaps 22:00-02:00"),
        (16, "routes.cheap", "has the name of a model"),
        (17, "routes.smart.candidates[1]", "unknown candidate 'gpt-9'"),
        (17, "routes.smart.weights", "weights apply only to strategy: weighted"),
        (18, "routes.picky.min_quality", "no candidate meets min_quality 0.95"),
    ]
    for line, key, message in expected:
        assert any(d["line"] == line and key in d["msg"] and message in d["msg"] for d in diags), \
            f"missing {key} at line {line}; got:\n{text}"


def test_check_validates_the_pricing_file(archway_bin, tmp_path):
    config = tmp_path / "archway.yaml"
    config.write_text(BROKEN_ROUTES.split("routes:")[0].replace('        - {hours: "01:00-03:00", input: 0.4, output: 1}\n', "")
                      + "pricing:\n  file: prices.yaml\n")
    cp = run_check(archway_bin, config)
    assert cp.returncode == 0 and "not found yet" in cp.stdout, cp.stdout + cp.stderr
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  good: {input: 1, output: 2}\n  nope: {input: 1, output: 2}\n")
    cp = run_check(archway_bin, config)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert any(d["line"] == 3 and "unknown model 'nope'" in d["msg"] for d in diagnostics(cp, prices)), cp.stderr


def test_check_unknown_keys_at_every_level(archway_bin, tmp_path):
    p = tmp_path / "unknown.yaml"
    p.write_text(
        "listen: 127.0.0.1:8080\n"
        "bogus_top: 1\n"
        "upstream:\n"
        "  max_retriez: 3\n"
        "models:\n"
        "  m:\n"
        "    provider: p\n"
        "    pricee: {input: 1, output: 1}\n"
        "providers:\n"
        "  p:\n"
        "    kind: simulator\n"
    )
    cp = run_check(archway_bin, p)
    assert cp.returncode == 1
    diags = diagnostics(cp, p)
    got = {(d["line"], d["col"]): d["msg"] for d in diags}
    assert any("bogus_top" in m for (ln, _), m in got.items() if ln == 2), got
    assert any("upstream.max_retriez" in m for (ln, _), m in got.items() if ln == 4), got
    assert any("models.m.pricee" in m for (ln, _), m in got.items() if ln == 8), got


def test_check_yaml_syntax_error(archway_bin, tmp_path):
    p = tmp_path / "syntax.yaml"
    p.write_text("listen: 127.0.0.1:8080\nproviders:\n  sim: [unclosed\n")
    cp = run_check(archway_bin, p)
    assert cp.returncode == 1
    assert diagnostics(cp, p), cp.stdout + cp.stderr


def test_check_missing_file(archway_bin, tmp_path):
    cp = run_check(archway_bin, tmp_path / "nope.yaml")
    assert cp.returncode != 0
    assert "nope.yaml" in cp.stdout + cp.stderr


def test_serve_refuses_invalid_config(archway_bin, tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text(BROKEN)
    cp = subprocess.run([archway_bin, "serve", "--config", str(p)], capture_output=True, text=True,
                        timeout=20, env=clean_env())
    assert cp.returncode != 0
    assert "providers.sim.kindd" in cp.stdout + cp.stderr


# ------------------------------------------------------------------------------------ serve


def test_serve_announces_listen_address_and_exits_0_on_sigterm(gateway, simulator):
    gw = gateway(base_config(simulator))
    line = f"listening on http://127.0.0.1:{gw.port}"
    assert line in gw.stderr + gw.stdout, gw.describe()
    t0 = time.monotonic()
    rc = gw.stop(timeout=10)
    assert rc == 0, gw.describe()
    assert time.monotonic() - t0 < 5, "idle gateway should shut down promptly"


def test_sigterm_waits_for_in_flight_stream(gateway, simulator):
    cfg = base_config(simulator, providers={
        "slowsim": {"kind": "simulator", "base_url": f"{simulator}/v1", "api_key": "k",
                    "headers": {"x-simulator-ttft-ms": "300", "x-simulator-tokens-per-second": "40"}}},
        models={"slow-stream": {"provider": "slowsim"}})
    gw = gateway(cfg)
    body = {"model": "slow-stream", "stream": True, "messages": [{"role": "user", "content": "graceful"}]}

    with httpx.Client(timeout=30) as c:
        t0 = time.monotonic()
        status, baseline, err = read_sse(c, "POST", f"{gw.v1}/chat/completions", json=body)
        baseline_secs = time.monotonic() - t0
    assert status == 200 and err is None
    baseline_text = _openai_stream_text(baseline)
    assert baseline_secs > 0.5, "stream should be slow enough to interrupt"

    result: dict = {}
    first_chunk = threading.Event()

    def consume():
        lines = []
        try:
            with httpx.Client(timeout=30) as c2:
                with c2.stream("POST", f"{gw.v1}/chat/completions", json=body) as r:
                    result["status"] = r.status_code
                    for ln in r.iter_lines():
                        lines.append(ln)
                        if ln.startswith("data:"):
                            first_chunk.set()
        except Exception as exc:  # noqa: BLE001
            result["error"] = exc
        finally:
            first_chunk.set()
            result["lines"] = lines

    th = threading.Thread(target=consume)
    th.start()
    assert first_chunk.wait(10)
    gw.proc.signal(signal.SIGTERM)
    th.join(30)
    assert not th.is_alive()
    rc = gw.proc.process.wait(timeout=15)
    assert "error" not in result, f"stream aborted by shutdown: {result.get('error')!r}"
    assert result.get("status") == 200
    events = sse_events(result["lines"])
    assert events[-1]["data"] == "[DONE]", "stream did not complete"
    assert _openai_stream_text(events) == baseline_text, "stream was cut short"
    assert rc == 0, gw.describe()


def _openai_stream_text(events) -> str:
    text = []
    for e in events:
        if e["data"] and e["data"] != "[DONE]":
            obj = json.loads(e["data"])
            assert "error" not in obj, obj
            for ch in obj.get("choices", []):
                text.append((ch.get("delta") or {}).get("content") or "")
    return "".join(text)


def test_no_new_requests_after_shutdown(gateway, simulator):
    gw = gateway(base_config(simulator))
    assert gw.stop() == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{gw.base_url}/healthz", timeout=2)


# -------------------------------------------------------------------------------- simulator


def _sim_chat(url, content="hello simulator", headers=None, **extra):
    body = {"model": "sim-model", "messages": [{"role": "user", "content": content}], **extra}
    r = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers or {}, timeout=20)
    return r


def test_simulator_models_endpoint(simulator):
    r = httpx.get(f"{simulator}/v1/models", timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list"
    assert isinstance(body["data"], list) and body["data"]
    assert all(m["object"] == "model" and m["id"] for m in body["data"])


def test_simulator_chat_shape(simulator):
    r = _sim_chat(simulator)
    assert r.status_code == 200
    b = r.json()
    assert b["object"] == "chat.completion"
    assert isinstance(b["model"], str) and b["model"]
    msg = b["choices"][0]["message"]
    assert msg["role"] == "assistant" and msg["content"]
    assert b["choices"][0]["finish_reason"] == "stop"
    assert b["usage"]["prompt_tokens"] > 0 and b["usage"]["completion_tokens"] > 0


def test_simulator_determinism_and_seed(simulator):
    a = _sim_chat(simulator, "seeded", headers={"x-simulator-seed": "7"}).json()
    b = _sim_chat(simulator, "seeded", headers={"x-simulator-seed": "7"}).json()
    assert a["choices"][0]["message"]["content"] == b["choices"][0]["message"]["content"]
    outs = {_sim_chat(simulator, "seeded", headers={"x-simulator-seed": str(s)}).json()["choices"][0]["message"]["content"]
            for s in (1, 2, 3, 4)}
    assert len(outs) >= 2, "the seed should influence the generated text"


def test_simulator_seed_flag_is_reproducible(simulator_factory):
    s1 = simulator_factory("--seed", "1234")
    s2 = simulator_factory("--seed", "1234")
    a = _sim_chat(s1, "flag seed").json()["choices"][0]["message"]["content"]
    b = _sim_chat(s2, "flag seed").json()["choices"][0]["message"]["content"]
    assert a == b


def test_simulator_tools(simulator):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}},
             {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}}]
    b = _sim_chat(simulator, "use a tool", tools=tools).json()
    ch = b["choices"][0]
    assert ch["finish_reason"] == "tool_calls"
    call = ch["message"]["tool_calls"][0]
    assert call["function"]["name"] == "lookup"
    assert isinstance(json.loads(call["function"]["arguments"]), dict)

    body = {"model": "sim-model", "tools": tools, "messages": [
        {"role": "user", "content": "use a tool"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "42"},
    ]}
    b2 = httpx.post(f"{simulator}/v1/chat/completions", json=body, timeout=20).json()
    assert b2["choices"][0]["finish_reason"] == "stop"
    assert not b2["choices"][0]["message"].get("tool_calls")
    assert b2["choices"][0]["message"]["content"]


def test_simulator_anthropic_wire_and_request_log(simulator):
    trace_id, span_id, tp = new_traceparent()
    r = httpx.post(f"{simulator}/v1/messages", timeout=20, json={
        "model": "claude-x", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "secret-key", "anthropic-version": "2023-06-01", "traceparent": tp,
                 "X-Simulator-Seed": "3", "X-Other-Header": "not-recorded"})
    assert r.status_code == 200
    b = r.json()
    assert b["type"] == "message" and b["role"] == "assistant"
    assert b["content"][0]["type"] == "text" and b["content"][0]["text"]
    assert b["stop_reason"] == "end_turn"
    assert b["usage"]["input_tokens"] > 0 and b["usage"]["output_tokens"] > 0

    reqs = simulator.requests()
    last = reqs[-1]
    assert last["method"] == "POST"
    assert last["path"] == "/v1/messages"
    assert last["model"] == "claude-x"
    assert parse_traceparent(last["traceparent"]) == (trace_id, span_id)
    assert last["authorization_scheme"] == "x-api-key"
    assert last["anthropic_version"] == "2023-06-01"
    assert last["headers"] == {"x-simulator-seed": "3"}
    assert "secret-key" not in json.dumps(reqs)

    httpx.post(f"{simulator}/v1/chat/completions", timeout=20,
               json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
               headers={"authorization": "Bearer abc"})
    last = simulator.requests()[-1]
    assert last["path"] == "/v1/chat/completions"
    assert last["authorization_scheme"] == "bearer"
    assert last["anthropic_version"] is None
    assert last["traceparent"] is None
    assert last["headers"] == {}


def test_simulator_request_log_is_a_ring_of_100(simulator_factory):
    sim = simulator_factory()
    with httpx.Client(timeout=10) as c:
        for i in range(105):
            r = c.post(f"{sim}/v1/chat/completions",
                       json={"model": f"ring-{i}", "messages": [{"role": "user", "content": "x"}]},
                       headers={"x-simulator-latency-ms": "0", "x-simulator-ttft-ms": "0"})
            assert r.status_code == 200
    reqs = [r for r in sim.requests() if r["path"] == "/v1/chat/completions"]
    assert len(sim.requests(include_internal=True)) == 100
    assert reqs[-1]["model"] == "ring-104"
    assert reqs[0]["model"] == f"ring-{104 - len(reqs) + 1}"


def test_simulator_error_flags(simulator_factory):
    sim = simulator_factory("--error-rate", "1", "--error-status", "503")
    r = _sim_chat(sim)
    assert r.status_code == 503
    assert "error" in r.json()
    # per-request header overrides the flag
    ok = _sim_chat(sim, headers={"x-simulator-error-rate": "0"})
    assert ok.status_code == 200


def test_simulator_error_headers(simulator):
    r = _sim_chat(simulator, headers={"x-simulator-error-rate": "1", "x-simulator-error-status": "500"})
    assert r.status_code == 500
    r = _sim_chat(simulator, headers={"x-simulator-rate-limit-rate": "1"})
    assert r.status_code == 429


def test_simulator_rate_limit_flag(simulator_factory):
    sim = simulator_factory("--rate-limit-rate", "1")
    assert _sim_chat(sim).status_code == 429


def test_simulator_latency(simulator_factory, simulator):
    sim = simulator_factory("--latency", "400")
    t0 = time.monotonic()
    assert _sim_chat(sim).status_code == 200
    assert time.monotonic() - t0 >= 0.4
    t0 = time.monotonic()
    assert _sim_chat(simulator, headers={"x-simulator-latency-ms": "500"}).status_code == 200
    assert time.monotonic() - t0 >= 0.5


def test_simulator_stream_ttft_and_break(simulator):
    body = {"model": "sim-model", "stream": True, "messages": [{"role": "user", "content": "stream"}]}
    with httpx.Client(timeout=20) as c:
        t0 = time.monotonic()
        first = None
        with c.stream("POST", f"{simulator}/v1/chat/completions", json=body,
                      headers={"x-simulator-ttft-ms": "400"}) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = []
            for ln in r.iter_lines():
                if ln.startswith("data:") and first is None:
                    first = time.monotonic() - t0
                lines.append(ln)
        assert first is not None and first >= 0.4
        datas = [ln[5:].strip() for ln in lines if ln.startswith("data:")]
        assert datas[-1] == "[DONE]"

        status, events, err = read_sse(c, "POST", f"{simulator}/v1/chat/completions", json=body,
                                       headers={"x-simulator-break-after": "2"})
    assert status == 200
    datas = [e["data"] for e in events if e["data"]]
    assert "[DONE]" not in datas
    content = [d for d in datas if json.loads(d).get("choices") and json.loads(d)["choices"][0]["delta"].get("content")]
    assert len(content) == 2, datas


def test_simulator_ttft_and_rate_flags(simulator_factory):
    sim = simulator_factory("--ttft", "300", "--tokens-per-second", "25")
    body = {"model": "sim-model", "stream": True, "messages": [{"role": "user", "content": "flags"}]}
    with httpx.Client(timeout=30) as c:
        t0 = time.monotonic()
        stamps = []
        with c.stream("POST", f"{sim}/v1/chat/completions", json=body) as r:
            for ln in r.iter_lines():
                if ln.startswith("data:") and ln[5:].strip() != "[DONE]":
                    obj = json.loads(ln[5:])
                    if obj.get("choices") and obj["choices"][0]["delta"].get("content"):
                        stamps.append(time.monotonic() - t0)
    assert len(stamps) >= 3
    assert stamps[0] >= 0.3, f"first content after {stamps[0]:.3f}s with --ttft 300"
    assert stamps[-1] - stamps[0] >= (len(stamps) - 1) / 25 * 0.8


def test_simulator_tokens_per_second(simulator):
    body = {"model": "sim-model", "stream": True, "messages": [{"role": "user", "content": "rate"}]}
    with httpx.Client(timeout=30) as c:
        t0 = time.monotonic()
        _, events, _ = read_sse(c, "POST", f"{simulator}/v1/chat/completions", json=body,
                                headers={"x-simulator-tokens-per-second": "20", "x-simulator-ttft-ms": "0"})
        elapsed = time.monotonic() - t0
    n = sum(1 for e in events if e["data"] and e["data"] != "[DONE]"
            and (json.loads(e["data"]).get("choices") or [{}])[0].get("delta", {}).get("content"))
    assert n >= 3
    assert elapsed >= (n - 1) / 20 * 0.8, f"{n} content chunks in {elapsed:.2f}s at 20 tok/s"


def test_simulator_embeddings(simulator):
    r = httpx.post(f"{simulator}/v1/embeddings", json={"model": "e", "input": ["a", "b"]}, timeout=10)
    assert r.status_code == 200
    b = r.json()
    assert b["object"] == "list" and len(b["data"]) == 2
    vec = b["data"][0]["embedding"]
    assert isinstance(vec, list) and vec and all(is_finite_number(x) for x in vec)


def test_simulator_anthropic_stream(simulator):
    body = {"model": "claude-x", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "s"}]}
    with httpx.Client(timeout=20) as c:
        status, events, err = read_sse(c, "POST", f"{simulator}/v1/messages", json=body,
                                       headers={"x-api-key": "k", "anthropic-version": "2023-06-01"})
        assert status == 200 and err is None
        names = [e["event"] for e in events if e["event"] != "ping"]
        assert names[0] == "message_start" and names[-1] == "message_stop"
        assert "content_block_delta" in names

        status, events, err = read_sse(c, "POST", f"{simulator}/v1/messages", json=body,
                                       headers={"x-api-key": "k", "anthropic-version": "2023-06-01",
                                                "x-simulator-break-after": "1"})
    names = [e["event"] for e in events]
    assert "message_stop" not in names
    assert names.count("content_block_delta") == 1


def test_every_example_config_checks(archway_bin):
    examples = sorted((REPO_ROOT / "examples").glob("*.yaml")) + sorted((REPO_ROOT / "examples" / "workflows").glob("*.yaml"))
    assert len([p for p in examples if p.parent.name == "workflows"]) >= 2
    assert any(p.name == "routing.yaml" for p in examples)
    for path in examples:
        cp = run_check(archway_bin, path, {"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "sk-x", "DEEPSEEK_API_KEY": "sk-x",
                                           "ARCHWAY_MASTER_KEY": "sk-example-master-key-0123456789"})
        assert cp.returncode == 0, f"{path.name}: {cp.stdout}{cp.stderr}"


def test_the_routing_example_serves_on_the_embedded_simulator(gateway):
    # As text: a YAML 1.1 round trip (PyYAML) would turn the `on:` of `retries` into `true:`.
    text = (REPO_ROOT / "examples" / "routing.yaml").read_text()
    gw = gateway(text.replace("listen: 127.0.0.1:8080", f"listen: 127.0.0.1:{free_port()}"))
    with openai.OpenAI(api_key="k", base_url=gw.v1, max_retries=0, timeout=20) as client:
        for route in ("smart", "fast"):
            for _ in range(5):
                answer = client.chat.completions.create(model=route, messages=[{"role": "user", "content": "hi"}])
                assert answer.model in {"budget", "balanced", "frontier", "tiny"} and answer.choices[0].message.content
    routing = httpx.get(f"{gw.base_url}/admin/routing", timeout=5).json()
    assert set(routing["routes"]) == {"smart", "fast"}


@pytest.mark.parametrize("args,message", [
    (["--port", "70000"], "--port must be between 1 and 65535"),
    (["--tokens-per-second", "0"], "--tokens-per-second must be above 0"),
])
def test_simulate_refuses_options_it_cannot_honour(archway_bin, args, message):
    cp = subprocess.run([archway_bin, "simulate", *args], capture_output=True, text=True, timeout=30)
    assert cp.returncode != 0
    assert message in cp.stderr, cp.stderr


def test_serve_on_a_busy_port_names_the_address_and_exits_1(archway_bin, tmp_path):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        p = tmp_path / "busy.yaml"
        p.write_text(f"listen: 127.0.0.1:{port}\nproviders:\n  sim: {{kind: simulator}}\nmodels:\n  m: {{provider: sim}}\n")
        cp = subprocess.run([archway_bin, "serve", "--config", str(p)], capture_output=True, text=True, timeout=30,
                            env={**clean_env({}), "OTEL_SDK_DISABLED": "true"})
        simulate = subprocess.run([archway_bin, "simulate", "--port", str(port)], capture_output=True, text=True, timeout=30,
                                  env=clean_env({}))
    assert cp.returncode == 1, cp.stderr
    assert f"archway cannot listen on 127.0.0.1:{port}: the address is already in use" in cp.stderr, cp.stderr
    assert simulate.returncode == 1, simulate.stderr
    assert f"archway simulate cannot listen on 127.0.0.1:{port}: the address is already in use" in simulate.stderr, simulate.stderr
