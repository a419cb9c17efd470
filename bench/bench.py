#!/usr/bin/env python3
"""`make bench`: Archway's macro benchmark against a direct call, nginx as a plain proxy and (optionally) LiteLLM.

All targets are measured one after another in the same run against the same canned nginx upstream on
127.0.0.1. See bench/README.md for the method and the meaning of every number.

Environment (all optional):
  BENCH_DURATION       seconds per wrk point (default 10)
  BENCH_CONNECTIONS    comma-separated connection counts (default 1,16,64)
  BENCH_WARMUP         seconds of unrecorded load before a target's points (default 2)
  BENCH_TTFC_REQUESTS  sequential streaming requests for time to first chunk (default 200)
  BENCH_NGINX_WORKERS  worker_processes of the upstream and the nginx proxy (default auto)
  BENCH_TARGETS        comma-separated subset of direct,nginx,archway-otel,archway-nootel,litellm
  PEERS                `litellm` adds LiteLLM's proxy (installed into bench/.venv by bench/run.sh)
  ARCHWAY_BIN          the binary (default .build-release/release/archway)
  BENCH_RESULTS_DIR    where the JSON goes (default bench/results)
  BENCH_KEEP_TMP=1     keep the temporary directory (configs, logs) even after a clean run
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402

SSE_HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, int(round(q / 100 * (len(sorted_values) - 1)))))
    return sorted_values[index]


def time_to_first_chunk(port: int, path: str, body: bytes, headers: dict, count: int, warm: int = 10,
                        budget: float = 120.0) -> dict:
    """Sequential streaming requests on one keep-alive connection: µs from sending the request to reading
    the first `data:` line. Bounded by `count` requests and `budget` seconds."""
    samples: list[float] = []
    errors, incomplete, sent = 0, 0, 0
    deadline = time.monotonic() + budget
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for index in range(count + warm):
            if time.monotonic() > deadline:
                break
            sent += 1
            start = time.perf_counter_ns()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                if response.status != 200:
                    response.read()
                    errors += 1
                    continue
                first = None
                while True:
                    line = response.readline()
                    if not line:
                        break
                    if line.startswith(b"data:"):
                        first = time.perf_counter_ns()
                        break
                rest = response.read()
                if first is None:
                    errors += 1
                    continue
                if b"data: [DONE]" not in rest:
                    incomplete += 1
                if index >= warm:
                    samples.append((first - start) / 1000)
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    finally:
        conn.close()
    samples.sort()
    return {
        "requests": sent, "measured": len(samples), "errors": errors, "incomplete_streams": incomplete,
        "p50_us": percentile(samples, 50), "p90_us": percentile(samples, 90), "p99_us": percentile(samples, 99),
        "min_us": samples[0] if samples else None,
    }


def verify(port: int, json_path: str, sse_path: str, json_body: bytes, sse_body: bytes, auth: str | None) -> dict:
    """One non-streamed and one streamed request, checked for shape, before any load."""
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = f"Bearer {auth}"
    report: dict = {}
    status, response_headers, data = bl.http_request(port, "POST", json_path, json_body, headers, timeout=30)
    ok = status == 200
    try:
        document = json.loads(data)
        content = document["choices"][0]["message"]["content"]
        ok = ok and isinstance(content, str) and len(content) > 0 and "usage" in document
    except (ValueError, KeyError, IndexError, TypeError):
        ok = False
    report["json"] = {"status": status, "ok": ok, "bytes": len(data)}
    if not ok:
        report["json"]["body_excerpt"] = data[:300].decode(errors="replace")
    status, response_headers, data = bl.http_request(port, "POST", sse_path, sse_body, dict(headers, **SSE_HEADERS), timeout=30)
    events = [line for line in data.split(b"\n") if line.startswith(b"data:")]
    ok = (status == 200 and response_headers.get("content-type", "").startswith("text/event-stream")
          and len(events) >= 3 and events[-1].strip() == b"data: [DONE]")
    report["sse"] = {"status": status, "ok": ok, "events": len(events),
                     "content_type": response_headers.get("content-type")}
    if not ok:
        report["sse"]["body_excerpt"] = data[:300].decode(errors="replace")
    return report


class Target:
    def __init__(self, name: str, description: str, json_path: str, sse_path: str, json_model: str,
                 sse_model: str, auth: str | None = None) -> None:
        self.name, self.description = name, description
        self.json_path, self.sse_path = json_path, sse_path
        self.json_model, self.sse_model = json_model, sse_model
        self.auth = auth
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log: Path | None = None


def start_target(target: Target, children: bl.Children, work: Path, upstream: bl.Upstream, workers: str) -> None:
    if target.name == "direct":
        target.port = upstream.port
    elif target.name == "nginx":
        target.port = bl.free_port()
        conf = bl.render(bl.BENCH_DIR / "nginx" / "proxy.conf.template", work / "proxy.conf", {
            "USER_DIRECTIVE": bl.user_directive(), "WORKERS": workers, "PREFIX": work,
            "NOFILE": bl.nofile_limit(), "UPSTREAM_PORT": upstream.port, "PROXY_PORT": target.port,
        })
        target.proc = bl.start_nginx(children, "proxy", conf, work, target.port)
        target.log = work / "proxy-error.log"
    elif target.name.startswith(("archway-otel", "archway-nootel")):
        # `-before` targets run the binary in ARCHWAY_BEFORE_BIN: before and after in one run.
        binary = Path(os.environ["ARCHWAY_BEFORE_BIN"]) if target.name.endswith("-before") else None
        target.proc, target.port = bl.start_archway(children, target.name, work, upstream,
                                                    telemetry=target.name.startswith("archway-otel"), binary=binary)
        target.log = work / f"{target.name}.log"
    elif target.name in ("nio-forwarder", "async-floor"):
        # Issue 16's spike: built beside the archway binary by bench/run.sh (bench/spike/).
        binary = bl.archway_binary().parent / f"bench-{target.name}"
        if not binary.exists():
            raise RuntimeError(f"{binary} not found: bench/run.sh builds it")
        target.port = bl.free_port()
        target.log = work / f"{target.name}.log"
        target.proc = children.start(target.name, [str(binary), str(target.port), str(upstream.port)], target.log)
        bl.wait_port(target.port, 30, target.proc)
    elif target.name == "litellm":
        binary = bl.BENCH_DIR / ".venv" / "bin" / "litellm"
        if not binary.exists():
            raise RuntimeError("LiteLLM is not installed in bench/.venv (bench/run.sh installs it with PEERS=litellm)")
        target.port = bl.free_port()
        conf = bl.render(bl.BENCH_DIR / "config" / "litellm.yaml.template", work / "litellm.yaml",
                         {"UPSTREAM_PORT": upstream.port, "MASTER_KEY": bl.LITELLM_MASTER_KEY})
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "LITELLM_", "DATABASE_URL"))}
        env.update({
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price list at start-up
            "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False", "DISABLE_ADMIN_UI": "True",
            "NO_DOCS": "True", "PYTHONUNBUFFERED": "1",
        })
        target.log = work / "litellm.log"
        target.proc = children.start("litellm", [str(binary), "--config", str(conf), "--host", "127.0.0.1",
                                                 "--port", str(target.port), "--num_workers", "1"],
                                     target.log, env=env, cwd=work)
        bl.wait_http_ok(target.port, "/health/liveliness", 180, target.proc, log_path=target.log)
    else:
        raise ValueError(target.name)


def measure_target(target: Target, work: Path, upstream: bl.Upstream, connections: list[int], duration: float,
                   warmup: float, ttfc_requests: int) -> dict:
    json_body_file = work / f"body-{target.json_model}.json"
    sse_body_file = work / f"body-{target.sse_model}-stream.json"
    json_body_file.write_bytes(bl.chat_body(target.json_model, stream=False))
    sse_body_file.write_bytes(bl.chat_body(target.sse_model, stream=True))
    result: dict = {"target": target.name, "description": target.description}

    result["verify"] = verify(target.port, target.json_path, target.sse_path, json_body_file.read_bytes(),
                              sse_body_file.read_bytes(), target.auth)
    if not (result["verify"]["json"]["ok"] and result["verify"]["sse"]["ok"]):
        bl.log(f"{target.name}: verification failed: {json.dumps(result['verify'])}")

    def pids() -> list[int]:
        return bl.process_tree(target.proc.pid) if target.proc else []

    time.sleep(1)
    result["idle_rss_mb"] = bl.rss_mb(pids()) if target.proc else None

    if warmup > 0:
        bl.run_wrk(work, target.port, target.json_path, json_body_file, 16, warmup, auth=target.auth, label="warmup")
        # Work a proxy defers (an exporter's backlog of spans) must not spill into the next measurement.
        result["warmup_settle_s"] = bl.wait_quiet(pids()) if target.proc else 0

    headers = dict(SSE_HEADERS)
    if target.auth:
        headers["Authorization"] = f"Bearer {target.auth}"
    bl.log(f"{target.name}: time to first chunk over {ttfc_requests} sequential streams")
    result["ttfc"] = time_to_first_chunk(target.port, target.sse_path, sse_body_file.read_bytes(), headers, ttfc_requests)
    if target.proc:
        bl.wait_quiet(pids())

    result["points"] = []
    upstream_pids = bl.process_tree(upstream.proc.pid)
    for count in connections:
        bl.log(f"{target.name}: {count} connection(s), {duration:g} s")
        own = pids()
        cpu_before = bl.cpu_seconds(own)
        upstream_before = bl.cpu_seconds(upstream_pids)
        run = bl.run_wrk(work, target.port, target.json_path, json_body_file, count, duration,
                         auth=target.auth, label=target.name)
        own = pids()
        # CPU is read once the proxy is quiet again, so work it deferred past the run (telemetry export)
        # is counted against the requests that caused it, and does not disturb the next point.
        settle = bl.wait_quiet(own) if target.proc else 0
        cpu = bl.cpu_seconds(own) - cpu_before if target.proc else None
        upstream_cpu = bl.cpu_seconds(upstream_pids) - upstream_before
        requests = max(run["requests"], 1)
        errors = run["errors"]
        result["points"].append({
            "connections": count,
            "threads": run["threads"],
            "requests": run["requests"],
            "rps": round(run["rps"], 1),
            "latency_us": run["latency_us"],
            "errors": errors,
            "non_2xx": errors["status"],
            "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
            "cpu_s": round(cpu, 3) if cpu is not None else None,
            "settle_s": settle,
            "cpu_s_per_1k": round(cpu / requests * 1000, 4) if cpu is not None else None,
            "upstream_cpu_s_per_1k": round(upstream_cpu / requests * 1000, 4),
            "rss_mb": bl.rss_mb(own) if target.proc else None,
            "peak_rss_mb": bl.hwm_mb(own) if target.proc else None,
        })
        if target.proc and target.proc.poll() is not None:
            raise RuntimeError(f"{target.name} exited with {target.proc.returncode} during the run")
    result["peak_rss_mb"] = bl.hwm_mb(pids()) if target.proc else None
    if target.name.startswith("archway"):
        try:
            result["metrics"] = bl.read_metrics(target.port)
        except OSError as error:
            result["metrics"] = {"error": str(error)}
    return result


def add_comparisons(results: list[dict]) -> None:
    by_name = {r["target"]: r for r in results if "points" in r}
    direct, floor = by_name.get("direct"), by_name.get("nginx")
    for result in results:
        for point in result.get("points", []):
            count = point["connections"]
            base = next((p for p in direct["points"] if p["connections"] == count), None) if direct else None
            ref = next((p for p in floor["points"] if p["connections"] == count), None) if floor else None
            if base and result["target"] != "direct":
                point["added_us"] = {q: point["latency_us"][q] - base["latency_us"][q] for q in ("p50", "p90", "p99")}
            if ref and ref["rps"]:
                point["ratio_to_nginx"] = round(point["rps"] / ref["rps"], 3)
        if direct and result["target"] != "direct" and result.get("ttfc") and direct.get("ttfc"):
            t, d = result["ttfc"], direct["ttfc"]
            if t["p50_us"] is not None and d["p50_us"] is not None:
                result["ttfc"]["added_p50_us"] = round(t["p50_us"] - d["p50_us"], 1)
                result["ttfc"]["added_p99_us"] = round(t["p99_us"] - d["p99_us"], 1)


def fmt(value, digits: int = 0, signed: bool = False) -> str:
    if value is None:
        return "-"
    if signed:
        return f"{value:+.{digits}f}"
    return f"{value:,.{digits}f}" if digits == 0 else f"{value:.{digits}f}"


def table(results: list[dict]) -> str:
    header = ["target", "conns", "rps", "x nginx", "lat p50/p90/p99 us", "added p50/p90/p99 us",
              "CPU s/1k", "RSS idle/peak MB", "TTFC+ p50/p99 us", "errors"]
    rows = [header]
    for result in results:
        if "points" not in result:
            rows.append([result["target"], "-", "skipped: " + result.get("error", "?")[:90]] + [""] * 7)
            continue
        for index, point in enumerate(result["points"]):
            lat = point["latency_us"]
            added = point.get("added_us")
            ttfc = result.get("ttfc") or {}
            if index == 0:
                if result["target"] == "direct":
                    ttfc_cell = f"({fmt(ttfc.get('p50_us'))}/{fmt(ttfc.get('p99_us'))} abs)"
                else:
                    ttfc_cell = f"{fmt(ttfc.get('added_p50_us'), signed=True)}/{fmt(ttfc.get('added_p99_us'), signed=True)}"
            else:
                ttfc_cell = ""
            rss = "-" if point["rss_mb"] is None else f"{fmt(result.get('idle_rss_mb'), 1)}/{fmt(point['peak_rss_mb'], 1)}"
            errors = point["non_2xx"] + point["socket_errors"]
            rows.append([
                result["target"] if index == 0 else "",
                str(point["connections"]),
                fmt(point["rps"]),
                fmt(point.get("ratio_to_nginx"), 2),
                f"{lat['p50']}/{lat['p90']}/{lat['p99']}",
                "-" if not added else f"{added['p50']:+d}/{added['p90']:+d}/{added['p99']:+d}",
                fmt(point["cpu_s_per_1k"], 3),
                rss,
                ttfc_cell,
                str(errors) if not errors else f"{errors} (non2xx {point['non_2xx']})",
            ])
    measured = [row for row in rows if not row[2].startswith("skipped")]
    widths = [max(len(row[i]) for row in measured) for i in range(len(header))]
    lines = []
    for number, row in enumerate(rows):
        if len(row) > 2 and row[2].startswith("skipped"):
            lines.append(f"{row[0]:<{widths[0]}}  {row[2]}")
            continue
        cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, len(header))]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def main() -> int:
    bl.install_signal_handlers()
    nofile = bl.raise_nofile()
    duration = bl.env_float("BENCH_DURATION", 10)
    connections = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "1,16,64").split(",") if c.strip()]
    warmup = bl.env_float("BENCH_WARMUP", 2)
    ttfc_requests = bl.env_int("BENCH_TTFC_REQUESTS", 200)
    workers = os.environ.get("BENCH_NGINX_WORKERS", "auto").strip() or "auto"
    peers = {p.strip() for p in os.environ.get("PEERS", "").split(",") if p.strip()}
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or bl.BENCH_DIR / "results")

    targets = [
        Target("direct", "client -> canned nginx upstream", "/json/v1/chat/completions", "/sse/v1/chat/completions", "gpt-4o-mini", "gpt-4o-mini"),
        Target("nginx", "client -> nginx reverse proxy (upstream keepalive) -> upstream: the floor", "/json/v1/chat/completions", "/sse/v1/chat/completions", "gpt-4o-mini", "gpt-4o-mini"),
        Target("archway-otel", "client -> archway serve, spans and metrics exported over OTLP/HTTP to a local sink", "/v1/chat/completions", "/v1/chat/completions", "bench-json", "bench-sse"),
        Target("archway-nootel", "client -> archway serve with OTEL_SDK_DISABLED=true", "/v1/chat/completions", "/v1/chat/completions", "bench-json", "bench-sse"),
        Target("nio-forwarder", "client -> the spike: SwiftNIO server pipeline, pooled NIO client on the same event loop, no task per request -> upstream", "/json/v1/chat/completions", "/sse/v1/chat/completions", "gpt-4o-mini", "gpt-4o-mini"),
        Target("async-floor", "client -> the thinnest Hummingbird 2 + AsyncHTTPClient proxy -> upstream: the async stack's floor", "/json/v1/chat/completions", "/sse/v1/chat/completions", "gpt-4o-mini", "gpt-4o-mini"),
    ]
    if os.environ.get("ARCHWAY_BEFORE_BIN"):
        targets[2:2] = [
            Target("archway-otel-before", "archway-otel with the binary in ARCHWAY_BEFORE_BIN", "/v1/chat/completions", "/v1/chat/completions", "bench-json", "bench-sse"),
            Target("archway-nootel-before", "archway-nootel with the binary in ARCHWAY_BEFORE_BIN", "/v1/chat/completions", "/v1/chat/completions", "bench-json", "bench-sse"),
        ]
    if "litellm" in peers:
        targets.append(Target("litellm", "client -> LiteLLM proxy (bench/.venv), same upstream as an OpenAI-compatible model",
                              "/v1/chat/completions", "/v1/chat/completions", "bench-json", "bench-sse", auth=bl.LITELLM_MASTER_KEY))
    only = {t.strip() for t in os.environ.get("BENCH_TARGETS", "").split(",") if t.strip()}
    if only:
        targets = [t for t in targets if t.name in only or t.name == "direct"]

    machine = bl.machine_info()
    load = machine["loadavg_at_start"][0]
    if load > 0.25 * (machine["cores"] or 1):
        bl.log(f"warning: load average {load:.2f} on {machine['cores']} cores: the machine is not quiet, numbers will be noisy")

    work = bl.make_workdir("archway-bench-")
    children = bl.Children()
    results: list[dict] = []
    clean = False
    stamp = bl.utc_stamp()
    try:
        upstream = bl.Upstream(children, work, workers)
        bl.log(f"canned upstream on 127.0.0.1:{upstream.port}, OTLP sink on 127.0.0.1:{upstream.sink_port}, work dir {work}")
        for target in targets:
            bl.log(f"=== {target.name}: {target.description}")
            try:
                start_target(target, children, work, upstream, workers)
                result = measure_target(target, work, upstream, connections, duration, warmup, ttfc_requests)
            except Exception as error:  # a peer that will not start must not sink the run
                if target.name == "direct":
                    raise
                bl.log(f"{target.name}: skipped: {error}")
                result = {"target": target.name, "description": target.description, "error": str(error)}
            finally:
                if target.proc is not None:
                    result_exit = target.proc.poll()
                    children.stop(target.proc)
                    if result_exit is not None:
                        bl.log(f"{target.name} had exited on its own with {result_exit}")
                    elif target.proc.returncode not in (0, None) and target.name.startswith("archway"):
                        # SIGTERM must give a graceful exit 0; a negative code is a signal, i.e. a crash.
                        result["shutdown_exit_code"] = target.proc.returncode
                        result["error_on_shutdown"] = f"exit code {target.proc.returncode} after SIGTERM{bl.log_tail(target.log, 10)}"
                        bl.log(f"{target.name}: {result['error_on_shutdown']}")
            if target.log is not None:
                result["log_problems"] = bl.log_problems(target.log)
            results.append(result)
        add_comparisons(results)
        sink = upstream.sink_counts()
        clean = not any("error" in result or "error_on_shutdown" in result for result in results)
    finally:
        children.stop_all()
        if not clean:
            bl.log(f"a target failed: logs and configs kept in {work}")

    document = {
        "kind": "archway-bench",
        "timestamp": stamp,
        "settings": {"duration_s": duration, "connections": connections, "warmup_s": warmup,
                     "ttfc_requests": ttfc_requests, "nginx_workers": workers, "peers": sorted(peers),
                     "nofile": nofile},
        "machine": dict(machine, loadavg_at_end=os.getloadavg()),
        "git": bl.git_info(),
        "tools": {"nginx": bl.nginx_version(), "wrk": bl.wrk_version(), "archway_bin": str(bl.archway_binary())},
        "otlp_sink_requests": sink,
        "targets": results,
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    out = results_dir / f"{stamp}.json"
    out.write_text(json.dumps(document, indent=2) + "\n")

    print()
    print(f"Archway macro benchmark {stamp}: {duration:g} s per point, {machine['cores']} cores, "
          f"load average {machine['loadavg_at_start'][0]:.2f} at start / {document['machine']['loadavg_at_end'][0]:.2f} at end")
    print(table(results))
    print("lat = wrk latency (JSON requests); added = target minus direct at the same connections; "
          "x nginx = rps / nginx-proxy rps; CPU = proxy process tree, s per 1,000 requests; "
          "TTFC+ = added time to first SSE chunk over sequential streams (direct row: absolute)")
    print(f"OTLP sink received: {sink or 'nothing'}")
    for result in results:
        if "metrics" in result and "dropped_total" in result["metrics"]:
            dropped = result["metrics"]
            print(f"{result['target']}: dropped spans (archway_telemetry_dropped_total) {dropped['dropped_total']:g}"
                  + (f" {json.dumps(dropped['dropped'])}" if dropped["dropped"] else ""))
        problems = (result.get("log_problems") or {}).get("counts")
        if problems:
            print(f"{result['target']} log: {problems} (samples in {out.name})")
        if result.get("error_on_shutdown"):
            print(f"{result['target']}: {result['error_on_shutdown']}")
        v = result.get("verify")
        if v and not (v["json"]["ok"] and v["sse"]["ok"]):
            print(f"{result['target']}: response check FAILED: {json.dumps(v)}")
    print(f"JSON: {out.relative_to(bl.REPO_DIR) if out.is_relative_to(bl.REPO_DIR) else out}")
    if clean and os.environ.get("BENCH_KEEP_TMP") != "1":
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"logs and configs kept in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
