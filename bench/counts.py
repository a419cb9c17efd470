#!/usr/bin/env python3
"""`make bench-counts`: what one chat request costs the runtime, counted rather than timed.

perf's uprobes count calls into the Swift runtime and the allocator while COUNTS_REQUESTS sequential chat
requests (default 1,000, after 300 to warm up) go through Archway to the canned upstream; an idle window
of the same length is counted too and subtracted. Counts do not move with a noisy machine the way times
do, so two binaries can be compared in one run: ARCHWAY_BIN (this tree's release build by default) and,
when set, ARCHWAY_BEFORE_BIN, each with full telemetry and with OTEL_SDK_DISABLED=true.

Counted, per request:
- swift_job_run: jobs run on an event loop (a task starting or resuming);
- swift_task_switch: executor switches (most go straight through; those that do not become jobs);
- malloc (jemalloc's), swift_allocObject, swift_retain.

Needs root (uprobes) and Linux perf; the probes are added once and left in place. Writes
bench/results/counts-<UTC>.json. Standard library only.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402

# (library, function): the library is found from the binary's own dynamic links.
PROBES = [
    ("libswift_Concurrency.so", "swift_job_run"),
    ("libswift_Concurrency.so", "swift_task_switch"),
    ("libjemalloc.so", "malloc"),
    ("libswiftCore.so", "swift_allocObject"),
    ("libswiftCore.so", "swift_retain"),
]


def linked_libraries(binary: Path) -> dict[str, str]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    libraries = {}
    for line in out.splitlines():
        parts = line.split("=>")
        if len(parts) == 2 and parts[1].strip().startswith("/"):
            libraries[parts[0].strip()] = parts[1].split()[0]
    return libraries


def ensure_probes(binary: Path) -> list[str]:
    """The perf event names, adding each probe that is not there yet."""
    libraries = linked_libraries(binary)
    existing = subprocess.run(["perf", "probe", "-l"], capture_output=True, text=True).stdout
    events = []
    for library, function in PROBES:
        path = next((p for name, p in libraries.items() if name.startswith(library)), None)
        if path is None:
            continue
        group = "probe_" + Path(path).name.split(".so")[0]
        event = f"{group}:{function}"
        if event not in existing:
            subprocess.run(["perf", "probe", "-q", "-x", path, "--add", function], check=True,
                           capture_output=True, text=True)
        events.append(event)
    return events


def chat(port: int, body: bytes, count: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(count):
        connection.request("POST", "/v1/chat/completions", body=body, headers={"content-type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"a chat request answered {response.status}")
    connection.close()


def count(pid: int, events: list[str], action) -> tuple[dict[str, int], float]:
    perf = subprocess.Popen(["perf", "stat", "-x", ",", "-e", ",".join(events), "-p", str(pid)],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    started = time.monotonic()
    action()
    elapsed = time.monotonic() - started
    time.sleep(0.2)
    perf.send_signal(2)
    totals: dict[str, int] = {}
    for line in perf.communicate()[1].splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[0].strip().isdigit():
            name = fields[2].split(":")[-1]
            totals[name] = totals.get(name, 0) + int(fields[0])
    return totals, elapsed


def measure(binary: Path, telemetry: bool, requests: int) -> dict[str, float]:
    children = bl.Children()
    try:
        work = bl.make_workdir("counts-")
        upstream = bl.Upstream(children, work, "1")
        proc, port = bl.start_archway(children, "archway", work, upstream, telemetry, binary=binary)
        events = ensure_probes(binary)
        body = bl.chat_body("bench-json", stream=False)
        chat(port, body, 300)
        loaded, elapsed = count(proc.pid, events, lambda: chat(port, body, requests))
        idle, _ = count(proc.pid, events, lambda: time.sleep(elapsed))
        return {name: (loaded.get(name, 0) - idle.get(name, 0)) / requests for name in loaded}
    finally:
        children.stop_all()


def main() -> int:
    requests = int(os.environ.get("COUNTS_REQUESTS", "1000"))
    binaries = [("after", Path(os.environ["ARCHWAY_BIN"]))]
    if os.environ.get("ARCHWAY_BEFORE_BIN"):
        binaries.insert(0, ("before", Path(os.environ["ARCHWAY_BEFORE_BIN"])))
    rows = []
    for who, binary in binaries:
        for telemetry in (False, True):
            figures = measure(binary, telemetry, requests)
            rows.append((who, "full telemetry" if telemetry else "telemetry off", figures))
    names = [function for _, function in PROBES]
    stamp = bl.utc_stamp()
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or bl.BENCH_DIR / "results")
    results_dir.mkdir(parents=True, exist_ok=True)
    report = {"kind": "counts", "timestamp": stamp, "requests": requests, "machine": bl.machine_info(),
              "git": bl.git_info(), "binaries": {who: str(binary) for who, binary in binaries},
              "rows": [{"binary": who, "telemetry": kind, **figures} for who, kind, figures in rows]}
    path = results_dir / f"counts-{stamp}.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nPer chat request ({requests} sequential requests, idle subtracted)")
    print(f"{'binary':8} {'telemetry':16} " + " ".join(f"{n:>18}" for n in names))
    for who, kind, figures in rows:
        print(f"{who:8} {kind:16} " + " ".join(f"{figures.get(n, float('nan')):18.2f}" for n in names))
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
