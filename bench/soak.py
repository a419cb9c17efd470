#!/usr/bin/env python3
"""`make bench-soak`: Archway's memory and soak check.

1. Starts the canned nginx upstream (with a slow, rate-limited SSE route and an OTLP sink) and
   `archway serve` with full telemetry exported to the sink.
2. Idle RSS after a short warm-up.
3. SOAK_STREAMS (default 1,000) concurrent streaming requests held open through Archway against the slow
   route (each stream lasts about SOAK_STREAM_SECONDS); RSS sampled while they are open.
4. Steady load for SOAK_DURATION seconds (default 600): wrk, SOAK_CONNECTIONS keep-alive connections,
   alternating non-streamed and streamed requests.
5. After SOAK_SETTLE seconds of quiet, RSS again: it must be back within 10% of idle. Dropped spans are read
   from `archway_telemetry_dropped_total` on Archway's GET /metrics.

Standard library only (asyncio sockets for the concurrent streams). See bench/README.md.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402


class StreamStats:
    def __init__(self) -> None:
        self.open = 0          # streams that have delivered their first event and not yet ended
        self.max_open = 0
        self.first_seen = 0
        self.records: list[dict] = []


async def one_stream(port: int, body: bytes, stats: StreamStats, read_timeout: float,
                     path: str = "/v1/chat/completions") -> None:
    record = {"status": None, "status_s": None, "first_s": None, "done": False, "error": None, "bytes": 0, "excerpt": None}
    stats.records.append(record)
    start = time.monotonic()
    counted = False
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: application/json\r\nAccept: text/event-stream\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        writer.write(head + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), read_timeout)
        parts = status_line.split()
        record["status"] = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        record["status_s"] = round(time.monotonic() - start, 3)
        while True:
            line = await asyncio.wait_for(reader.readline(), read_timeout)
            if line in (b"\r\n", b"\n", b""):
                break
        tail = b""
        while True:
            data = await asyncio.wait_for(reader.read(65536), read_timeout)
            if not data:
                break
            record["bytes"] += len(data)
            if record["status"] != 200 and record["excerpt"] is None:
                record["excerpt"] = data[:400].decode(errors="replace")
            window = tail + data
            if not counted and b"data:" in window:
                counted = True
                record["first_s"] = round(time.monotonic() - start, 3)
                stats.first_seen += 1
                stats.open += 1
                stats.max_open = max(stats.max_open, stats.open)
            if b"[DONE]" in window:
                record["done"] = True
            tail = window[-16:]
    except asyncio.TimeoutError:
        record["error"] = "timeout"
    except (OSError, ValueError) as error:
        record["error"] = type(error).__name__
    finally:
        if counted:
            stats.open -= 1
        if writer is not None:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 5)
            except (OSError, asyncio.TimeoutError):
                pass


async def hold_streams(port: int, bodies: list[bytes], count: int, budget: float, sample,
                       path: str = "/v1/chat/completions") -> tuple[StreamStats, float]:
    """Opens `count` streams (in waves of 100, 50 ms apart) and waits for all to end, at most `budget` s."""
    stats = StreamStats()
    tasks = []
    started = time.monotonic()
    for index in range(count):
        body = bodies[index % len(bodies)]
        tasks.append(asyncio.ensure_future(one_stream(port, body, stats, read_timeout=60, path=path)))
        if index % 100 == 99:
            await asyncio.sleep(0.05)
    all_open_at = None
    deadline = started + budget
    while time.monotonic() < deadline and not all(task.done() for task in tasks):
        sample()
        if all_open_at is None and stats.first_seen >= count:
            all_open_at = time.monotonic() - started
        await asyncio.sleep(0.5)
    for task in tasks:
        if not task.done():
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return stats, all_open_at


def main() -> int:
    bl.install_signal_handlers()
    nofile = bl.raise_nofile()
    streams = bl.env_int("SOAK_STREAMS", 1000)
    stream_seconds = bl.env_float("SOAK_STREAM_SECONDS", 30)
    duration = bl.env_float("SOAK_DURATION", 600)
    connections = bl.env_int("SOAK_CONNECTIONS", 16)
    settle = bl.env_float("SOAK_SETTLE", 15)
    hosts = max(1, min(bl.env_int("SOAK_UPSTREAM_HOSTS", 1), 200))
    workers = os.environ.get("BENCH_NGINX_WORKERS", "auto").strip() or "auto"
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or bl.BENCH_DIR / "results")
    if nofile < 2 * streams + 200:
        bl.log(f"warning: open-file limit {nofile} is low for {streams} streams (client and upstream sockets)")

    machine = bl.machine_info()
    work = bl.make_workdir("archway-soak-")
    children = bl.Children()
    stamp = bl.utc_stamp()
    report: dict = {"kind": "archway-soak", "timestamp": stamp,
                    "settings": {"streams": streams, "stream_seconds": stream_seconds, "duration_s": duration,
                                 "connections": connections, "settle_s": settle, "nofile": nofile, "upstream_hosts": hosts,
                                 "nginx_workers": workers},
                    "machine": machine, "git": bl.git_info(),
                    "tools": {"nginx": bl.nginx_version(), "wrk": bl.wrk_version(), "archway_bin": str(bl.archway_binary())}}
    clean = False
    try:
        sse_size = len((bl.BENCH_DIR / "fixtures" / "chat-completion.sse").read_bytes())
        slow_rate = max(1, math.ceil(sse_size / max(stream_seconds, 1)))
        upstream = bl.Upstream(children, work, workers, slow_rate=slow_rate, hosts=hosts)
        proc, port = bl.start_archway(children, "archway", work, upstream, telemetry=True, slow_hosts=hosts)
        pid = proc.pid
        bl.log(f"archway (pid {pid}) on 127.0.0.1:{port}; upstream 127.0.0.1:{upstream.port} "
               f"(slow route {slow_rate} B/s); OTLP sink 127.0.0.1:{upstream.sink_port}; work dir {work}")

        json_body = work / "body-json.json"
        sse_body = work / "body-sse.json"
        slow_bodies = [bl.chat_body("bench-slow" if n == 1 else f"bench-slow-{n}", stream=True) for n in range(1, hosts + 1)]
        json_body.write_bytes(bl.chat_body("bench-json", stream=False))
        sse_body.write_bytes(bl.chat_body("bench-sse", stream=True))

        # Warm-up: a few of each kind, then idle.
        for _ in range(20):
            for body in (json_body, sse_body):
                status, _, _ = bl.http_request(port, "POST", "/v1/chat/completions", body.read_bytes(),
                                               {"Content-Type": "application/json"}, timeout=10)
                if status != 200:
                    raise RuntimeError(f"warm-up request answered {status}")
        time.sleep(3)
        idle = bl.rss_mb([pid])
        report["rss_idle_mb"] = idle
        report["rss_idle_split_mb"] = bl.rss_split_mb([pid])
        report["fds_idle"] = bl.open_fds([pid])
        bl.log(f"idle RSS {idle} MB")

        # Phase 1: concurrent streams held open.
        samples: list[tuple[float, float]] = []
        max_fds = [0]
        t0 = time.monotonic()

        def sample() -> None:
            samples.append((round(time.monotonic() - t0, 1), bl.rss_mb([pid])))
            max_fds[0] = max(max_fds[0], bl.open_fds([pid]))

        bl.log(f"opening {streams} concurrent streams (~{stream_seconds:g} s each) over {hosts} upstream address(es)")
        stats, all_open_at = asyncio.run(hold_streams(port, slow_bodies, streams, stream_seconds * 3 + 60, sample))
        records = stats.records
        errors: dict[str, int] = {}
        for record in records:
            if record["error"]:
                errors[record["error"]] = errors.get(record["error"], 0) + 1
        statuses: dict[str, int] = {}
        for record in records:
            statuses[str(record["status"])] = statuses.get(str(record["status"]), 0) + 1
        firsts = sorted(r["first_s"] for r in records if r["first_s"] is not None)
        failed = [r for r in records if r["status"] != 200 or r["error"]]
        failed_at = sorted(r["status_s"] for r in failed if r["status_s"] is not None)
        report["streams"] = {
            "requested": streams,
            "max_open_at_once": stats.max_open,
            "all_open_after_s": round(all_open_at, 2) if all_open_at is not None else None,
            "completed_with_done": sum(1 for r in records if r["done"]),
            "statuses": statuses,
            "errors": errors,
            "first_event_s_p50": firsts[len(firsts) // 2] if firsts else None,
            "first_event_s_max": firsts[-1] if firsts else None,
            "failed_answer_after_s": {"min": failed_at[0], "max": failed_at[-1]} if failed_at else None,
            "failed_samples": [{k: r[k] for k in ("status", "status_s", "error", "excerpt")} for r in failed[:3]],
            "rss_peak_sampled_mb": max((s[1] for s in samples), default=None),
            "rss_hwm_mb": bl.hwm_mb([pid]),
            "fds_max": max_fds[0],
            "rss_samples": samples[::max(1, len(samples) // 60)],
        }
        bl.log(f"streams: {report['streams']['max_open_at_once']} open at once, "
               f"{report['streams']['completed_with_done']} completed, peak RSS {report['streams']['rss_hwm_mb']} MB")
        if proc.poll() is not None:
            raise RuntimeError(f"archway exited with {proc.returncode} during the streams")
        time.sleep(2)
        report["rss_after_streams_mb"] = bl.rss_mb([pid])

        # Phase 2: steady load.
        bl.log(f"steady load: {connections} connections for {duration:g} s (JSON and SSE alternating)")
        cpu_before = bl.cpu_seconds([pid])
        out = work / "soak-wrk.json"
        env = dict(os.environ, BENCH_BODY_FILE=str(json_body), BENCH_ALT_BODY_FILE=str(sse_body), BENCH_WRK_OUT=str(out))
        env.pop("BENCH_AUTH", None)
        seconds = max(1, int(round(duration)))
        threads = max(1, min(connections, os.cpu_count() or 1, 2))
        wrk = subprocess.Popen(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
                                "-s", str(bl.BENCH_DIR / "wrk" / "chat.lua"), f"http://127.0.0.1:{port}/v1/chat/completions"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        load_samples: list[tuple[float, float]] = []
        t1 = time.monotonic()
        deadline = t1 + seconds + 60
        next_sample = t1
        try:
            while wrk.poll() is None and time.monotonic() < deadline:
                if time.monotonic() >= next_sample:
                    load_samples.append((round(time.monotonic() - t1, 1), bl.rss_mb([pid])))
                    next_sample += max(1.0, seconds / 120)
                time.sleep(0.25)
        finally:
            if wrk.poll() is None:
                wrk.kill()
        wrk_output = wrk.communicate(timeout=30)[0].decode(errors="replace")
        if not out.exists():
            raise RuntimeError(f"wrk failed: {wrk_output.strip()}")
        run = json.loads(out.read_text())
        cpu = bl.cpu_seconds([pid]) - cpu_before
        report["load"] = {
            "requests": run["requests"], "rps": round(run["requests"] / (run["duration_us"] / 1e6), 1),
            "latency_us": run["latency_us"], "errors": run["errors"],
            "cpu_s_per_1k": round(cpu / max(run["requests"], 1) * 1000, 4),
            "rss_peak_sampled_mb": max((s[1] for s in load_samples), default=None),
            "rss_hwm_mb": bl.hwm_mb([pid]),
            "rss_samples": load_samples[::max(1, len(load_samples) // 60)],
        }
        if proc.poll() is not None:
            raise RuntimeError(f"archway exited with {proc.returncode} during the steady load")

        # Phase 3: quiet, then compare with idle.
        bl.log(f"load done ({report['load']['requests']} requests); settling {settle:g} s")
        time.sleep(settle)
        after = bl.rss_mb([pid])
        report["rss_after_mb"] = after
        report["rss_after_split_mb"] = bl.rss_split_mb([pid])
        report["fds_after"] = bl.open_fds([pid])
        report["rss_peak_mb"] = bl.hwm_mb([pid])
        report["returned_within_10pct"] = after <= idle * 1.10
        report["metrics"] = bl.read_metrics(port)
        report["otlp_sink_requests"] = upstream.sink_counts()
        report["archway_alive"] = proc.poll() is None
        children.stop(proc)
        report["archway_exit_code"] = proc.returncode
        report["log_problems"] = bl.log_problems(work / "archway.log")
        if proc.returncode != 0:
            report["archway_log_tail"] = bl.log_tail(work / "archway.log", 15)
        clean = proc.returncode == 0
    finally:
        children.stop_all()
        if not clean:
            bl.log(f"soak failed: logs and configs kept in {work}")

    report["machine"]["loadavg_at_end"] = os.getloadavg()
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"soak-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")

    s, load = report["streams"], report["load"]
    dropped = report["metrics"]
    print()
    print(f"Archway soak {stamp}: {streams} concurrent streams over {hosts} upstream address(es), then {duration:g} s of load at {connections} connections "
          f"({machine['cores']} cores, load average {machine['loadavg_at_start'][0]:.2f} at start)")
    print(f"  RSS idle                 {report['rss_idle_mb']:8.1f} MB   (target < 60 MB)")
    print(f"  RSS holding streams      {s['rss_hwm_mb']:8.1f} MB   (peak; {s['max_open_at_once']} streams open at once; target < 250 MB)")
    print(f"  RSS after streams        {report['rss_after_streams_mb']:8.1f} MB")
    print(f"  RSS peak (whole soak)    {report['rss_peak_mb']:8.1f} MB")
    print(f"  open fds idle/holding/after: {report['fds_idle']}/{s['fds_max']}/{report['fds_after']} "
          "(Archway keeps idle upstream connections pooled for 60 s)")
    print(f"  RSS after load + {settle:g} s  {report['rss_after_mb']:8.1f} MB   "
          f"({'within' if report['returned_within_10pct'] else 'NOT within'} 10% of idle: "
          f"{(report['rss_after_mb'] / report['rss_idle_mb'] - 1) * 100:+.1f}%)")
    print(f"  of which anonymous / file-backed: idle {report['rss_idle_split_mb']['anon']} / {report['rss_idle_split_mb']['file']} MB, "
          f"after {report['rss_after_split_mb']['anon']} / {report['rss_after_split_mb']['file']} MB "
          "(file-backed: the executable's and libraries' pages in use)")
    print(f"  streams: {s['completed_with_done']}/{streams} completed with [DONE], statuses {s['statuses']}, errors {s['errors'] or 'none'}")
    if s["failed_samples"]:
        sample = s["failed_samples"][0]
        print(f"  first failed stream: status {sample['status']} after {sample['status_s']} s, error {sample['error']}, "
              f"body {(sample['excerpt'] or '').strip()[:200]!r}")
        if "getConnectionFromPoolTimeout" in (sample["excerpt"] or ""):
            print("  (Archway's pool holds at most 256 connections per upstream host and fails requests that wait longer "
                  "than connect_timeout; SOAK_UPSTREAM_HOSTS=4 spreads the streams over 4 loopback addresses)")
    print(f"  load: {load['requests']} requests, {load['rps']:.0f} rps, p99 {load['latency_us']['p99']} us, "
          f"non-2xx {load['errors']['status']}, socket errors "
          f"{sum(v for k, v in load['errors'].items() if k != 'status')}, CPU {load['cpu_s_per_1k']} s/1k")
    print(f"  dropped spans (archway_telemetry_dropped_total): {dropped['dropped_total']:g}"
          f"{' ' + json.dumps(dropped['dropped']) if dropped['dropped'] else ' (no series: nothing dropped)'}")
    print(f"  OTLP sink received: {report['otlp_sink_requests'] or 'nothing'}")
    if (report.get("log_problems") or {}).get("counts"):
        print(f"  archway log: {report['log_problems']['counts']} (samples in the JSON)")
    code = report["archway_exit_code"]
    print(f"  archway exit code after SIGTERM: {code}"
          + (f" (killed by signal {-code}: a crash during shutdown)" if code < 0 else ""))
    if report.get("archway_log_tail"):
        print(f"  archway log tail: {report['archway_log_tail']}")
    print(f"JSON: {path.relative_to(bl.REPO_DIR) if path.is_relative_to(bl.REPO_DIR) else path}")
    if clean and os.environ.get("BENCH_KEEP_TMP") != "1":
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"logs and configs kept in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
