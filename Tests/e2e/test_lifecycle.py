"""Start-up and shutdown as a new user meets them, and base URLs in the forms SDKs use."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from e2e_helpers import base_config, closed_port


def test_idle_gateway_without_a_collector_exits_within_two_seconds(gateway, simulator):
    # Nothing listens at the OTLP endpoint, as in a quickstart without a collector.
    gw = gateway(base_config(simulator), otlp_endpoint=f"http://127.0.0.1:{closed_port()}")
    client = openai.OpenAI(api_key="k", base_url=gw.v1, max_retries=0, timeout=10)
    client.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "hi"}])
    client.close()
    time.sleep(0.5)
    t0 = time.monotonic()
    assert gw.stop(timeout=10) == 0, gw.describe()
    assert time.monotonic() - t0 < 2.0, gw.describe()


def test_the_last_spans_are_exported_at_shutdown(gateway, simulator, otlp_sink):
    # SIGTERM right after an answer, before the exporter's next tick: the final flush must send its spans.
    gw = gateway(base_config(simulator))
    trace_id = "%032x" % int.from_bytes(os.urandom(16), "big")
    r = httpx.post(f"{gw.v1}/chat/completions", timeout=10,
                   headers={"traceparent": f"00-{trace_id}-{'%016x' % 7}-01"},
                   json={"model": "sim-small", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200
    assert gw.stop(timeout=10) == 0, gw.describe()
    names = sorted(s.name for s in otlp_sink.spans_in_trace(trace_id))
    assert names == ["POST", "POST /v1/chat/completions", "chat sim-small-upstream"], (names, gw.output()[-2000:])


def slow_stream(gateway, simulator, tokens_per_second: int, max_tokens: int, **overrides):
    """A gateway whose model `slow` streams `tokens_per_second`, and a stream from it read in the background:
    (gateway, trace id, the lines read so far, the reading thread)."""
    gw = gateway(base_config(simulator, providers={"slow": {"kind": "simulator", "base_url": f"{simulator}/v1", "api_key": "k",
                                                            "headers": {"x-simulator-tokens-per-second": str(tokens_per_second)}}},
                             models={"slow": {"provider": "slow"}}, **overrides))
    trace_id = "%032x" % int.from_bytes(os.urandom(16), "big")
    lines: list[bytes] = []

    def read():
        with httpx.stream("POST", f"{gw.v1}/chat/completions", timeout=30,
                          headers={"traceparent": f"00-{trace_id}-{'%016x' % 7}-01"},
                          json={"model": "slow", "stream": True, "max_tokens": max_tokens,
                                "messages": [{"role": "user", "content": "tell me a long story"}]}) as r:
            try:
                for line in r.iter_lines():
                    lines.append(line.encode())
            except httpx.HTTPError:
                pass

    reader = threading.Thread(target=read)
    reader.start()
    return gw, trace_id, lines, reader


def test_sighup_shuts_down_as_gracefully_as_sigterm(gateway, simulator, otlp_sink):
    # A closed terminal or a supervisor's "reload" sends SIGHUP: the stream under way finishes and its
    # spans are exported, as with SIGTERM, rather than the process dying at once.
    gw, trace_id, lines, reader = slow_stream(gateway, simulator, tokens_per_second=40, max_tokens=20)
    time.sleep(0.3)
    gw.process.send_signal(signal.SIGHUP)
    reader.join(timeout=20)
    assert gw.process.wait(timeout=20) == 0, gw.describe()
    assert b"data: [DONE]" in lines, lines[-3:]
    names = sorted(s.name for s in otlp_sink.spans_in_trace(trace_id))
    assert "POST /v1/chat/completions" in names, names


def test_a_stream_cut_by_the_shutdown_timeout_is_told_and_its_spans_are_exported(gateway, simulator, otlp_sink):
    # shutdown_timeout 1 s and a stream that would last ~10 s: the stream is cut, the client told why,
    # and the cut call's spans are still in the final flush.
    gw, trace_id, events, reader = slow_stream(gateway, simulator, tokens_per_second=20, max_tokens=200,
                                               server={"shutdown_timeout": "1s"})
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events, "the stream never started"
    started = time.monotonic()
    assert gw.stop(timeout=15) == 0, gw.describe()
    assert time.monotonic() - started < 6, "shutdown_timeout, then the flush"
    reader.join(timeout=5)
    datas = [e[len(b"data: "):] for e in events if e.startswith(b"data: ")]
    assert b"[DONE]" not in datas
    last = json.loads(datas[-1])
    assert last.get("error", {}).get("code") == "shutting_down", last
    spans = {s.name: s for s in otlp_sink.spans_in_trace(trace_id)}
    assert {"POST /v1/chat/completions", "chat slow", "POST"} <= set(spans), (sorted(spans), gw.output()[-2000:])
    assert spans["chat slow"].attrs.get("error.type") == "shutting_down"


def test_a_request_cut_by_the_shutdown_timeout_is_answered_503_shutting_down(gateway, simulator, otlp_sink):
    cfg = base_config(simulator, server={"shutdown_timeout": "1s"},
                      providers={"slow": {"kind": "simulator", "base_url": f"{simulator}/v1", "api_key": "k",
                                          "headers": {"x-simulator-latency-ms": "8000"}}},
                      models={"slow": {"provider": "slow"}},
                      upstream={"first_byte_timeout": "20s"})
    gw = gateway(cfg)
    trace_id = "%032x" % int.from_bytes(os.urandom(16), "big")
    result: dict = {}

    def ask():
        try:
            r = httpx.post(f"{gw.v1}/chat/completions", timeout=30,
                           headers={"traceparent": f"00-{trace_id}-{'%016x' % 7}-01"},
                           json={"model": "slow", "messages": [{"role": "user", "content": "hi"}]})
            result["status"], result["body"] = r.status_code, r.json()
        except httpx.HTTPError as error:
            result["error"] = repr(error)

    asker = threading.Thread(target=ask)
    asker.start()
    time.sleep(0.5)
    assert gw.stop(timeout=15) == 0, gw.describe()
    asker.join(timeout=10)
    assert result.get("status") == 503, result
    assert result["body"]["error"]["code"] == "shutting_down", result
    spans = {s.name: s for s in otlp_sink.spans_in_trace(trace_id)}
    assert spans["chat slow"].attrs.get("error.type") == "shutting_down", sorted(spans)


def test_says_once_when_no_collector_answers_and_how_to_fix_it(gateway, simulator):
    port = closed_port()
    gw = gateway(base_config(simulator), otlp_endpoint=f"http://127.0.0.1:{port}")
    time.sleep(1.0)
    gw.stop(timeout=10)
    lines = [line for line in gw.output().splitlines() if "No OpenTelemetry collector answers" in line]
    assert len(lines) == 1, gw.describe()
    assert f"127.0.0.1:{port}" in lines[0]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in lines[0] and "OTEL_SDK_DISABLED=true" in lines[0]


def test_no_collector_warning_when_one_answers(gateway, simulator):
    gw = gateway(base_config(simulator))
    time.sleep(1.0)
    gw.stop(timeout=10)
    assert "No OpenTelemetry collector answers" not in gw.output(), gw.describe()


def test_base_urls_may_be_the_root_or_the_versioned_root(gateway, simulator):
    # The root form is what Anthropic's SDKs and ANTHROPIC_BASE_URL use; both mean <root>/v1.
    cfg = base_config(simulator, providers={
        "claude-root": {"kind": "anthropic", "base_url": str(simulator), "api_key": "k"},
        "openai-root": {"kind": "openai", "base_url": f"{simulator}/", "api_key": "k"},
    }, models={"claude-root": {"provider": "claude-root"}, "openai-root": {"provider": "openai-root"}})
    gw = gateway(cfg)
    with anthropic.Anthropic(api_key="k", base_url=gw.base_url, max_retries=0, timeout=10) as client:
        message = client.messages.create(model="claude-root", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
        assert message.content[0].text
    with openai.OpenAI(api_key="k", base_url=gw.v1, max_retries=0, timeout=10) as client:
        answer = client.chat.completions.create(model="openai-root", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
    paths = {r["path"] for r in simulator.requests()[-2:]}
    assert paths == {"/v1/messages", "/v1/chat/completions"}, paths


def test_an_upstream_404_is_a_502_naming_provider_path_and_model(gateway, simulator):
    cfg = base_config(simulator, providers={
        "misrouted": {"kind": "openai", "base_url": f"{simulator}/wrong/v1", "api_key": "sk-secret-upstream-key"},
    }, models={"lost": {"provider": "misrouted", "model": "lost-upstream-id"}})
    gw = gateway(cfg)
    r = httpx.post(f"{gw.v1}/chat/completions", json={"model": "lost", "messages": [{"role": "user", "content": "hi"}]},
                   timeout=10)
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert error["code"] == "upstream_not_found"
    for part in ("misrouted", "/wrong/v1/chat/completions", "lost-upstream-id"):
        assert part in error["message"], error
    assert "sk-secret" not in r.text


@pytest.mark.skipif(sys.platform != "linux", reason="Archway links jemalloc on Linux only")
def test_memory_is_served_by_jemalloc_with_background_purging(gateway, simulator):
    # jemalloc returns a load peak's freed pages to the system from its own thread; glibc's malloc kept
    # them resident. Seen from outside: the library is mapped, its purging thread runs, and the log says so.
    gw = gateway(base_config(simulator))
    pid = gw.process.pid
    assert "libjemalloc" in Path(f"/proc/{pid}/maps").read_text(), gw.describe()
    deadline = time.monotonic() + 5
    threads: list[str] = []
    while time.monotonic() < deadline:
        threads = [p.read_text().strip() for p in Path(f"/proc/{pid}/task").glob("*/comm")]
        if any(name.startswith("jemalloc_bg_thd") for name in threads):
            break
        time.sleep(0.1)
    assert any(name.startswith("jemalloc_bg_thd") for name in threads), threads
    gw.stop(timeout=10)
    lines = [line for line in gw.output().splitlines() if "allocator jemalloc" in line]
    assert len(lines) == 1 and "background purging on" in lines[0], gw.describe()


def _process_series(text: str) -> dict[str, float]:
    """`process_*` samples of a /metrics page, by series (name and labels as written)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("process_"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


@pytest.mark.skipif(sys.platform != "linux", reason="memory, threads and descriptors are read from /proc on Linux")
def test_process_metrics_match_what_the_kernel_reports(gateway, simulator, otlp_sink):
    # An operator sees the gateway's own memory, CPU, threads and descriptors without a node exporter:
    # on /metrics under the names a collector gives OpenTelemetry's process metrics, and over OTLP.
    gw = gateway(base_config(simulator))
    pid = gw.process.pid
    client = openai.OpenAI(api_key="k", base_url=gw.v1, max_retries=0, timeout=10)
    for _ in range(20):
        client.chat.completions.create(model="sim-small", messages=[{"role": "user", "content": "hi"}])
    client.close()
    time.sleep(5.5)  # one publishing interval after the calls
    series = _process_series(httpx.get(f"{gw.base_url}/metrics", timeout=5).text)
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    rss = int(status["VmRSS"].split()[0]) * 1024
    virtual = int(status["VmSize"].split()[0]) * 1024

    assert 0.7 * rss <= series["process_memory_usage_bytes"] <= 1.3 * rss, (series, rss)
    assert 0.7 * virtual <= series["process_memory_virtual_bytes"] <= 1.3 * virtual, (series, virtual)
    threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
    assert abs(series["process_thread_count"] - threads) <= 4, (series, threads)
    descriptors = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    assert abs(series["process_unix_file_descriptor_count"] - descriptors) <= 4, (series, descriptors)
    # CPU time by mode, never more than the kernel has charged the process so far.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    user, system = int(fields[11]) / ticks, int(fields[12]) / ticks
    published_user = series['process_cpu_time_seconds_total{cpu_mode="user"}']
    published_system = series['process_cpu_time_seconds_total{cpu_mode="system"}']
    assert 0 < published_user + published_system <= user + system + 0.05, (series, user, system)
    assert {k for k in series if k.startswith("process_cpu_time")} == {
        'process_cpu_time_seconds_total{cpu_mode="user"}', 'process_cpu_time_seconds_total{cpu_mode="system"}'}

    def exported():
        records = {r.name: r for r in otlp_sink.metric_records() if r.name.startswith("process.")}
        return records if {"process.memory.usage", "process.cpu.time"} <= set(records) else None
    records = otlp_sink.wait_for(exported, timeout=10, message=lambda: otlp_sink.summary())
    assert records["process.memory.usage"].unit == "By" and records["process.memory.usage"].kind == "gauge"
    cpu = records["process.cpu.time"]
    assert cpu.unit == "s" and cpu.kind == "sum" and cpu.is_monotonic
