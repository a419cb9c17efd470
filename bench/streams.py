#!/usr/bin/env python3
"""`make bench-streams`: streams at LLM scale.

An upstream (bench-stream-load, SwiftNIO) streams every chat completion at STREAMS_RATE chunks a second
for STREAMS_SECONDS; each chunk's text is the wall-clock microsecond it was sent. A client
(bench-stream-load, SwiftNIO) opens N concurrent streams over 2 s, every tenth one with tools (the
upstream then streams a tool call's arguments), and measures each chunk's delay from send to receipt and
each stream's time to first chunk. Targets, one after the other on the same cores:

  direct            client -> upstream (OpenAI wire): the delay of the machine itself
  archway-openai    client (OpenAI wire) -> archway -> OpenAI upstream (byte relay), full telemetry
  archway-anthropic client (OpenAI wire) -> archway -> Anthropic upstream (translated), full telemetry
  litellm-*         the same through LiteLLM (PEERS=litellm)

Levels: STREAMS_LEVELS, `count x rate` pairs (default `1000x50,5000x10`). Reported per level and target:
streams completed and failed, chunks, the proxy's CPU seconds per 1,000 chunks (on the direct row: the load
tools' own, upstream and client, and the cores they kept busy), added chunk delay
p50/p99 (target minus direct at the same level), time to first chunk, peak RSS. Results in
bench/results/streams-<UTC>.json.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402

BODY = {"model": "MODEL", "messages": [{"role": "user", "content": "Stream me a long answer."}], "stream": True,
        "stream_options": {"include_usage": True}, "max_tokens": 4096}
TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Look something up",
                                            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]


def load_binary() -> Path:
    return bl.archway_binary().parent / "bench-stream-load"


def bodies(work: Path, model: str) -> tuple[Path, Path]:
    plain, tools = dict(BODY, model=model), dict(BODY, model=model, tools=TOOLS)
    plain_path, tools_path = work / f"body-{model}.json", work / f"body-{model}-tools.json"
    plain_path.write_text(json.dumps(plain))
    tools_path.write_text(json.dumps(tools))
    return plain_path, tools_path


def run_client(port: int, path: str, streams: int, body: Path, tools: Path, timeout: float,
               auth: str | None = None) -> dict:
    env = dict(os.environ)
    if auth:
        env["STREAM_LOAD_AUTHORIZATION"] = f"Bearer {auth}"
    out = subprocess.run([str(load_binary()), "client", str(port), path, str(streams), str(body), str(tools), "2"],
                         capture_output=True, text=True, timeout=timeout, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"client failed: {out.stderr[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def client_cpu_seconds() -> float:
    """CPU of the load clients run so far (children this process has waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    bl.install_signal_handlers()
    bl.raise_nofile()
    levels = []
    for item in os.environ.get("STREAMS_LEVELS", "1000x50,5000x10").split(","):
        count, rate = item.lower().split("x")
        levels.append((int(count), int(rate)))
    seconds = bl.env_float("STREAMS_SECONDS", 6)
    peers = {p.strip() for p in os.environ.get("PEERS", "").split(",") if p.strip()}
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or bl.BENCH_DIR / "results")
    machine = bl.machine_info()
    work = bl.make_workdir("archway-streams-")
    children = bl.Children()
    results: list[dict] = []
    try:
        sink = bl.Upstream(children, work, "auto")  # for its OTLP sink
        for count, rate in levels:
            chunks = int(rate * seconds)
            load_port = bl.free_port()
            load = children.start(f"load-{count}", [str(load_binary()), "upstream", str(load_port), str(rate), str(chunks)],
                                  work / f"load-{count}.log")
            bl.wait_port(load_port, 10, load)
            targets = [("direct", None)]
            port = bl.free_port()
            conf = bl.render(bl.BENCH_DIR / "config" / "archway-streams.yaml.template", work / f"archway-{count}.yaml",
                             {"PORT": port, "LOAD_PORT": load_port})
            proc = children.start(f"archway-{count}", [str(bl.archway_binary()), "serve", "--config", str(conf)],
                                  work / f"archway-{count}.log", env=bl.archway_env(sink.sink_port, True))
            bl.wait_http_ok(port, "/readyz", 30, proc, log_path=work / f"archway-{count}.log")
            targets += [("archway-openai", (proc, port, "load-openai")), ("archway-anthropic", (proc, port, "load-anthropic"))]
            litellm = None
            if "litellm" in peers:
                binary = bl.BENCH_DIR / ".venv" / "bin" / "litellm"
                if binary.exists():
                    lport = bl.free_port()
                    lconf = bl.render(bl.BENCH_DIR / "config" / "litellm-streams.yaml.template", work / "litellm-streams.yaml",
                                      {"LOAD_PORT": load_port, "MASTER_KEY": bl.LITELLM_MASTER_KEY})
                    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "LITELLM_"))}
                    env.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "NO_DOCS": "True"})
                    litellm = children.start("litellm", [str(binary), "--config", str(lconf), "--host", "127.0.0.1",
                                                         "--port", str(lport), "--num_workers", "1"], work / "litellm.log", env=env)
                    bl.wait_http_ok(lport, "/health/liveliness", 180, litellm, log_path=work / "litellm.log")
                    targets += [("litellm-openai", (litellm, lport, "load-openai")), ("litellm-anthropic", (litellm, lport, "load-anthropic"))]
            idle_rss = bl.rss_mb(bl.process_tree(proc.pid))
            for name, target in targets:
                bl.log(f"{count} streams at {rate} chunks/s for {seconds:g} s: {name}")
                if target is None:
                    plain, tools = bodies(work, "direct")
                    # What the load tools themselves take (the upstream's and the client's CPU): on a small
                    # machine they share its cores with the proxy, and past some level they fill them alone.
                    tools_before = bl.cpu_seconds([load.pid]) + client_cpu_seconds()
                    started = time.monotonic()
                    report = run_client(load_port, "/openai/v1/chat/completions", count, plain, tools, timeout=seconds * 20 + 120)
                    wall = time.monotonic() - started
                    tools_cpu = bl.cpu_seconds([load.pid]) + client_cpu_seconds() - tools_before
                    report.update(cpu_s_per_1k_chunks=None, peak_rss_mb=None,
                                  load_tools_cpu_s_per_1k_chunks=round(tools_cpu / max(report["chunks"], 1) * 1000, 4),
                                  load_tools_cores=round(tools_cpu / max(wall, 0.001), 2))
                else:
                    tproc, tport, model = target
                    plain, tools = bodies(work, model)
                    pids = bl.process_tree(tproc.pid)
                    cpu_before = bl.cpu_seconds(pids)
                    auth = bl.LITELLM_MASTER_KEY if name.startswith("litellm") else None
                    report = run_client(tport, "/v1/chat/completions", count, plain, tools, timeout=seconds * 20 + 120, auth=auth)
                    bl.wait_quiet(pids)
                    cpu = bl.cpu_seconds(pids) - cpu_before
                    report["cpu_s_per_1k_chunks"] = round(cpu / max(report["chunks"], 1) * 1000, 4)
                    report["peak_rss_mb"] = bl.hwm_mb(pids)
                    report["rss_after_mb"] = bl.rss_mb(pids)
                    report["idle_rss_mb"] = idle_rss if name.startswith("archway") else None
                report.update(target=name, level=f"{count}x{rate}", streams=count, rate=rate)
                results.append(report)
            for p in (proc, litellm, load):
                if p is not None:
                    children.stop(p)
        direct = {r["level"]: r for r in results if r["target"] == "direct"}
        for r in results:
            base = direct.get(r["level"])
            if base and r["target"] != "direct":
                r["added_delay_us"] = {q: r["delay_us"][q] - base["delay_us"][q] for q in ("p50", "p99")}
                r["added_ttfc_us"] = {q: r["ttfc_us"][q] - base["ttfc_us"][q] for q in ("p50", "p99")}
        print(table(results, machine))
        results_dir.mkdir(parents=True, exist_ok=True)
        out = results_dir / f"streams-{bl.utc_stamp()}.json"
        out.write_text(json.dumps({"machine": machine, "seconds": seconds, "results": results}, indent=2))
        bl.log(f"wrote {out}")
    finally:
        children.stop_all()
    return 0


def cpu_cell(r: dict) -> str:
    if r.get("cpu_s_per_1k_chunks") is not None:
        return f"{r['cpu_s_per_1k_chunks']:.3f}"
    if r.get("load_tools_cpu_s_per_1k_chunks") is not None:
        # The direct row: the load tools' own CPU, and how many cores they kept busy.
        return f"tools {r['load_tools_cpu_s_per_1k_chunks']:.3f} ({r['load_tools_cores']:.1f} cores)"
    return "-"


def table(results: list[dict], machine: dict) -> str:
    rows = [["level", "target", "ok/failed", "chunks", "CPU s/1k chunks", "delay p50/p99 us", "added p50/p99 us",
             "TTFC p50/p99 ms", "RSS idle/peak MB"]]
    for r in results:
        added = r.get("added_delay_us")
        rows.append([
            r["level"], r["target"], f"{r['completed']}/{r['failed']}", f"{r['chunks']:,}",
            cpu_cell(r),
            f"{r['delay_us']['p50']:,}/{r['delay_us']['p99']:,}",
            "-" if not added else f"{added['p50']:+,}/{added['p99']:+,}",
            f"{r['ttfc_us']['p50'] / 1000:.1f}/{r['ttfc_us']['p99'] / 1000:.1f}",
            "-" if r.get("peak_rss_mb") is None else f"{r.get('idle_rss_mb') or 0:.0f}/{r['peak_rss_mb']:.0f}",
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"Streams at scale, {machine.get('cores')} cores"]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)))
        if i == 0:
            lines.append("-" * len(lines[-1]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
