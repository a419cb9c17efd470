#!/usr/bin/env python3
"""`make bench-pairs`: two Archway binaries compared in interleaved rounds.

On a shared or noisy machine one pass of `make bench` cannot tell two binaries apart: the same binary runs
10-30 % faster or slower from one minute to the next. This runs PAIRS_ROUNDS rounds; in each, both binaries
(ARCHWAY_BEFORE_BIN, then ARCHWAY_BIN, the order swapped every other round) are measured by bench/bench.py
with full telemetry and with OTEL_SDK_DISABLED=true, one right after the other. It reports medians over the
rounds and, per binary, telemetry's share inside each round's pair (full against off, the same binary
minutes apart), which the machine's drift affects least.

Environment: ARCHWAY_BEFORE_BIN (required), ARCHWAY_BIN, PAIRS_ROUNDS (default 6), BENCH_CONNECTIONS (default
1,64), BENCH_DURATION (default 6), BENCH_RESULTS_DIR. Standard library only. See bench/README.md.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402

KINDS = ("archway-otel", "archway-nootel")


def run_round(binary: str, connections: str, duration: str, out: Path) -> list[dict]:
    """One bench.py pass over the two Archway targets with `binary`; its points, one per kind and count."""
    env = {k: v for k, v in os.environ.items() if k != "ARCHWAY_BEFORE_BIN"}
    env.update(ARCHWAY_BIN=binary, BENCH_TARGETS=",".join(KINDS), BENCH_CONNECTIONS=connections,
               BENCH_DURATION=duration, BENCH_TTFC_REQUESTS=env.get("BENCH_TTFC_REQUESTS", "20"),
               BENCH_RESULTS_DIR=str(out))
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "bench.log", "w") as log:
        subprocess.run([sys.executable, str(bl.BENCH_DIR / "bench.py")], env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    results = sorted(out.glob("*.json"))
    if not results:
        raise RuntimeError(f"bench.py wrote no result; see {out / 'bench.log'}")
    points = []
    for target in json.loads(results[-1].read_text())["targets"]:
        if target["target"] not in KINDS:
            continue
        for p in target.get("points", []):
            points.append({"kind": target["target"], "connections": p["connections"], "rps": p["rps"],
                           "cpu_ms_per_request": p.get("cpu_s_per_1k"), "p50_us": p["latency_us"]["p50"],
                           "peak_rss_mb": p.get("peak_rss_mb")})
    return points


def median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(rows: list[dict], rounds: int) -> dict:
    summary: dict = {}
    for c in sorted({r["connections"] for r in rows}):
        for who in ("before", "after"):
            entry: dict = {}
            for kind in KINDS:
                sel = [r for r in rows if r["who"] == who and r["connections"] == c and r["kind"] == kind]
                entry[kind] = {k: median([r[k] for r in sel]) for k in ("rps", "cpu_ms_per_request", "p50_us", "peak_rss_mb")}
            fewer, more_cpu, added_p50 = [], [], []
            for n in range(rounds):
                pair = {r["kind"]: r for r in rows if r["round"] == n and r["who"] == who and r["connections"] == c}
                if len(pair) < 2:
                    continue
                on, off = pair["archway-otel"], pair["archway-nootel"]
                fewer.append(1 - on["rps"] / off["rps"])
                if on["cpu_ms_per_request"] and off["cpu_ms_per_request"]:
                    more_cpu.append(on["cpu_ms_per_request"] / off["cpu_ms_per_request"] - 1)
                added_p50.append(on["p50_us"] - off["p50_us"])
            entry["telemetry"] = {
                "fewer_requests_per_round": [round(x, 3) for x in fewer],
                "fewer_requests_mean": round(statistics.mean(fewer), 3) if fewer else None,
                "fewer_requests_median": round(statistics.median(fewer), 3) if fewer else None,
                "more_cpu_median": round(statistics.median(more_cpu), 3) if more_cpu else None,
                "added_p50_us_median": median(added_p50),
            }
            summary[f"{who}@{c}"] = entry
    return summary


def main() -> int:
    bl.install_signal_handlers()
    before = os.environ.get("ARCHWAY_BEFORE_BIN")
    after = str(bl.archway_binary())
    if not before:
        bl.log("set ARCHWAY_BEFORE_BIN to the binary to compare with (a build of an earlier commit)")
        return 2
    rounds = bl.env_int("PAIRS_ROUNDS", 6)
    connections = os.environ.get("BENCH_CONNECTIONS", "1,64")
    duration = os.environ.get("BENCH_DURATION", "6")
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or bl.BENCH_DIR / "results")
    binaries = {"before": before, "after": after}
    stamp = bl.utc_stamp()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="archway-pairs-") as work:
        for n in range(rounds):
            order = ("before", "after") if n % 2 == 0 else ("after", "before")
            for who in order:
                bl.log(f"round {n + 1}/{rounds}: {who} ({binaries[who]})")
                for point in run_round(binaries[who], connections, duration, Path(work) / f"{n}-{who}"):
                    rows.append({"round": n, "who": who, **point})
    report = {"kind": "archway-pairs", "timestamp": stamp, "binaries": binaries,
              "settings": {"rounds": rounds, "connections": connections, "duration_s": float(duration)},
              "machine": bl.machine_info(), "git": bl.git_info(), "summary": summarize(rows, rounds), "rows": rows}
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"pairs-{stamp}.json"
    path.write_text(json.dumps(report, indent=1) + "\n")

    print(f"\nArchway pairs {stamp}: {rounds} interleaved rounds, {duration} s a point (medians over the rounds)")
    print(f"  {'':16} {'kind':15} {'rps':>9} {'CPU ms/req':>11} {'p50 us':>8}   telemetry's share in each round's pair")
    for key, entry in report["summary"].items():
        t = entry["telemetry"]
        for kind in KINDS:
            m = entry[kind]
            share = (f"fewer requests {t['fewer_requests_mean']:+.1%} mean, {t['fewer_requests_median']:+.1%} median; "
                     f"CPU {t['more_cpu_median']:+.1%}; p50 {t['added_p50_us_median']:+.0f} us"
                     if kind == "archway-otel" and t["fewer_requests_mean"] is not None else "")
            fmt = lambda v, spec: format(v, spec) if v is not None else "-"  # noqa: E731
            print(f"  {key:16} {kind:15} {fmt(m['rps'], '9.0f')} {fmt(m['cpu_ms_per_request'], '11.3f')} {fmt(m['p50_us'], '8.0f')}   {share}")
    print(f"JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
