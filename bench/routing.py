#!/usr/bin/env python3
"""`make bench-routing`: how well each routing strategy spends money on a fixed simulated workload.

One simulator serves four models with known prices, latencies and qualities. Five phases of requests:
  1. healthy
  2. the cheapest model at or above the bar (value) is down
  3. it has recovered
  4. it drifts: 70 % of its answers disagree with the reference model's (its declared quality still says 0.88)
  5. an off-peak price drop makes another model (premium) the cheapest good one (value still drifts)
For each Archway strategy (a fresh gateway each, so statistics start empty; consistency shadowing on, with
premium as the reference), the hindsight oracle (the cheapest healthy, consistent model at or above the bar at
that moment's price) and, with PEERS=litellm, LiteLLM's cost-based and latency-based routers on the models
that meet the bar (LiteLLM has no quality bar nor consistency check, so its user would list only those), it
prints: cost per 1,000 requests (at the price in force, Archway's shadow calls included), the share answered
by a model at or above the bar, the share of answers consistent with the reference (the simulator's reference
answer for that request), client p95 latency, and client-visible errors.

Environment: ARCHWAY_BIN (bench/run.sh builds release), PEERS, ROUTING_REQUESTS (per phase, default 150),
ROUTING_CONCURRENCY (default 4), ROUTING_ROUTERS (a comma-separated subset, e.g. `cost,litellm`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import benchlib as bl

BAR = 0.85
# name: (upstream id, input USD/M, output USD/M, quality, latency ms)
MODELS = {
    "budget": ("budget-up", 0.10, 0.40, 0.80, 40),
    "value": ("value-up", 0.50, 1.50, 0.88, 80),
    "standard": ("standard-up", 2.50, 10.0, 0.90, 60),
    "premium": ("premium-up", 3.00, 15.0, 0.95, 120),
}
OFF_PEAK_PREMIUM = (0.20, 0.60)
PHASES = ["healthy", "value down", "value recovered", "value drifts", "premium off-peak"]
DRIFT_QUALITY = 0.3
CONSISTENCY = {"reference": "premium", "sample_rate": 0.2, "window": 10, "min_score": 0.6, "min_samples": 5,
               "recovery_sample_rate": 0.05}
STRATEGIES = ["fallback", "weighted", "latency", "cost"]


def prices(phase: int) -> dict[str, tuple[float, float]]:
    table = {name: (spec[1], spec[2]) for name, spec in MODELS.items()}
    if phase == 4:
        table["premium"] = OFF_PEAK_PREMIUM
    return table


def oracle_model(phase: int) -> str:
    # value is down in phase 1 and answers inconsistently from phase 3 on.
    healthy = [m for m in MODELS if MODELS[m][3] >= BAR and not (m == "value" and (phase == 1 or phase >= 3))]
    table = prices(phase)
    return min(healthy, key=lambda m: table[m][0] * 500 + table[m][1] * 100)


def archway_config(sim_port: int, strategy: str) -> dict:
    candidates = ["budget", "standard", "value", "premium"]  # fallback's order: not the cheapest first
    route = {"strategy": strategy, "candidates": candidates, "min_quality": BAR, "value_of_time": 0.0001,
             "retries": {"max": 2, "backoff_ms": 20}, "ejection": {"consecutive_failures": 3, "base_ms": 5000},
             "consistency": CONSISTENCY}
    if strategy == "weighted":
        route["weights"] = {"standard": 1, "value": 2, "premium": 1}
    return {
        "listen": f"127.0.0.1:{bl.free_port()}",
        "upstream": {"first_byte_timeout": "5s", "request_timeout": "20s", "max_retries": 0},
        "providers": {"sim": {"kind": "openai", "base_url": f"http://127.0.0.1:{sim_port}/v1", "api_key": "sk-sim"}},
        "models": {name: {"provider": "sim", "model": spec[0], "price": {"input": spec[1], "output": spec[2]},
                          "quality": spec[3]} for name, spec in MODELS.items()},
        "routes": {"smart": route},
    }


def set_profile(sim_port: int, model: str, profile: dict | None) -> None:
    if profile is None:
        bl.http_request(sim_port, "DELETE", f"/_simulator/models/{model}")
    else:
        bl.http_request(sim_port, "PUT", f"/_simulator/models/{model}", json.dumps(profile).encode(),
                        {"content-type": "application/json"})


def run_workload(port: int, path_model: str, sim_port: int, requests: int, concurrency: int,
                 on_phase, headers: dict | None = None) -> dict:
    upstream_to_name = {spec[0]: name for name, spec in MODELS.items()}
    results = {"cost": 0.0, "oracle": 0.0, "good": 0, "consistent": 0, "errors": 0, "latencies": [], "answered": 0,
               "by_model": {}}
    lock = threading.Lock()
    references: dict[str, str] = {}

    def reference_answer(prompt: str) -> str:
        # Asked of the simulator directly: the reference model never drifts.
        if prompt not in references:
            body = json.dumps({"model": MODELS["premium"][0], "max_tokens": 64, "messages": [{"role": "user", "content": prompt}]})
            _, _, data = bl.http_request(sim_port, "POST", "/v1/chat/completions", body.encode(), {"content-type": "application/json"})
            references[prompt] = json.loads(data)["choices"][0]["message"]["content"]
        return references[prompt]

    for phase in range(len(PHASES)):
        on_phase(phase)
        table = prices(phase)
        oracle = oracle_model(phase)

        def one(i: int) -> None:
            prompt = f"Question {phase}-{i}: explain routing."
            body = json.dumps({"model": path_model, "max_tokens": 64, "messages": [{"role": "user", "content": prompt}]})
            started = time.monotonic()
            try:
                status, answer_headers, data = bl.http_request(port, "POST", "/v1/chat/completions", body.encode(),
                                                               {"content-type": "application/json", **(headers or {})},
                                                               timeout=30)
            except OSError:
                status, answer_headers, data = 0, {}, b""
            elapsed = time.monotonic() - started
            expected = reference_answer(prompt) if status == 200 else None
            with lock:
                results["latencies"].append(elapsed)
                if status != 200:
                    results["errors"] += 1
                    return
                answer = json.loads(data)
                # Archway names the configured model that answered; LiteLLM names the group and says the
                # deployment in a header (its model_info.id, set to the model's name here).
                name = answer_headers.get("x-litellm-model-id") or answer.get("model", "")
                name = upstream_to_name.get(name, name)
                usage = answer.get("usage") or {}
                tokens_in, tokens_out = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
                if name in table:
                    results["cost"] += (tokens_in * table[name][0] + tokens_out * table[name][1]) / 1e6
                    results["good"] += MODELS[name][3] >= BAR
                results["oracle"] += (tokens_in * table[oracle][0] + tokens_out * table[oracle][1]) / 1e6
                results["answered"] += 1
                content = ((answer.get("choices") or [{}])[0].get("message") or {}).get("content")
                results["consistent"] += content == expected
                results["by_model"].setdefault(PHASES[phase], {}).setdefault(name, 0)
                results["by_model"][PHASES[phase]][name] += 1

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, range(requests)))
    return results


def phase_setter(sim_port: int, admin_port: int | None):
    def on_phase(phase: int) -> None:
        if phase == 1:
            set_profile(sim_port, "value-up", {"down": True})
        elif phase == 2:
            set_profile(sim_port, "value-up", None)
            time.sleep(1.0)  # the provider is back; the gateway has to notice by itself
        elif phase == 3:
            set_profile(sim_port, "value-up", {"latency_ms": MODELS["value"][4], "quality": DRIFT_QUALITY})
        elif phase == 4 and admin_port is not None:
            bl.http_request(admin_port, "PUT", "/admin/pricing", json.dumps(
                {"models": {"premium": {"input": OFF_PEAK_PREMIUM[0], "output": OFF_PEAK_PREMIUM[1]}}}).encode(),
                {"content-type": "application/json"})
    return on_phase


def shadow_spend(port: int) -> float:
    """USD the gateway spent on shadow calls, from its /metrics."""
    _, _, data = bl.http_request(port, "GET", "/metrics")
    total = 0.0
    for line in data.decode().splitlines():
        if line.startswith("archway_cost_USD_total{") and 'archway_call_purpose="shadow"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def litellm_config(sim_port: int, strategy: str) -> str:
    """LiteLLM has no quality bar: its user lists only the models that meet it."""
    entries = []
    for name, spec in MODELS.items():
        if spec[3] < BAR:
            continue
        entries.append(
            f"  - model_name: smart\n    litellm_params:\n      model: openai/{spec[0]}\n"
            f"      api_base: http://127.0.0.1:{sim_port}/v1\n      api_key: sk-sim\n"
            f"      input_cost_per_token: {spec[1] / 1e6}\n      output_cost_per_token: {spec[2] / 1e6}\n"
            f"    model_info:\n      id: {name}\n")
    return ("model_list:\n" + "".join(entries) +
            f"router_settings:\n  routing_strategy: {strategy}\n  num_retries: 2\n  allowed_fails: 3\n  cooldown_time: 5\n"
            "litellm_settings:\n  telemetry: false\n  request_timeout: 20\n"
            f"general_settings:\n  master_key: {bl.LITELLM_MASTER_KEY}\n")


def summarize(name: str, results: dict, requests_total: int) -> dict:
    lat = sorted(results["latencies"])
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else 0.0
    answered = max(results["answered"], 1)
    row = {
        "router": name,
        "cost_per_1k": 1000 * results["cost"] / answered,
        "oracle_per_1k": 1000 * results["oracle"] / answered,
        "vs_oracle": results["cost"] / results["oracle"] if results["oracle"] else 0.0,
        "at_or_above_bar": results["good"] / answered,
        "consistent": results["consistent"] / answered,
        "shadow_per_1k": 1000 * results.get("shadow", 0.0) / answered,
        "p95_ms": 1000 * p95,
        "errors": results["errors"],
        "requests": requests_total,
        "by_phase": results["by_model"],
    }
    return row


def main() -> int:
    bl.install_signal_handlers()
    requests = bl.env_int("ROUTING_REQUESTS", 150)
    concurrency = bl.env_int("ROUTING_CONCURRENCY", 4)
    peers = {p.strip() for p in os.environ.get("PEERS", "").split(",") if p.strip()}
    archway = bl.archway_binary()
    work = Path(tempfile.mkdtemp(prefix="archway-bench-routing-"))
    children = bl.Children()
    rows = []
    try:
        routers = [f"archway {s}" for s in STRATEGIES]
        if "litellm" in peers:
            routers += [f"litellm {s}" for s in ("cost-based-routing", "latency-based-routing")]
        only = [r.strip() for r in os.environ.get("ROUTING_ROUTERS", "").split(",") if r.strip()]
        routers = [r for r in routers if not only or any(o in r for o in only)]
        for router in routers:
            sim_port = bl.free_port()
            sim_log = work / f"sim-{router.replace(' ', '-')}.log"
            sim = children.start("simulator", [str(archway), "simulate", "--host", "127.0.0.1", "--port", str(sim_port),
                                               "--ttft", "20", "--tokens-per-second", "2000"], sim_log)
            bl.wait_http_ok(sim_port, "/v1/models", 30, sim, sim_log)
            for name, spec in MODELS.items():
                set_profile(sim_port, spec[0], {"latency_ms": spec[4]})
            kind, strategy = router.split(" ", 1)
            if kind == "archway":
                config = archway_config(sim_port, strategy)
                path = work / f"archway-{strategy}.yaml"
                path.write_text(json.dumps(config, indent=2))  # JSON is YAML
                port = int(config["listen"].rsplit(":", 1)[1])
                log_path = work / f"archway-{strategy}.log"
                env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
                env["OTEL_SDK_DISABLED"] = "true"
                proc = children.start(router, [str(archway), "serve", "--config", str(path)], log_path, env=env)
                bl.wait_http_ok(port, "/readyz", 30, proc, log_path)
                results = run_workload(port, "smart", sim_port, requests, concurrency, phase_setter(sim_port, port))
                # What the consistency samples cost is spend too.
                time.sleep(1.0)
                results["shadow"] = shadow_spend(port)
                results["cost"] += results["shadow"]
            else:
                binary = bl.BENCH_DIR / ".venv" / "bin" / "litellm"
                if not binary.exists():
                    bl.log("LiteLLM is not installed in bench/.venv: skipped")
                    children.stop(sim)
                    continue
                port = bl.free_port()
                conf = work / f"litellm-{strategy}.yaml"
                conf.write_text(litellm_config(sim_port, strategy))
                env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "LITELLM_", "DATABASE_URL"))}
                env.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False",
                            "DISABLE_ADMIN_UI": "True", "NO_DOCS": "True"})
                log_path = work / f"litellm-{strategy}.log"
                proc = children.start(router, [str(binary), "--config", str(conf), "--host", "127.0.0.1", "--port", str(port),
                                               "--num_workers", "1"], log_path, env=env, cwd=work)
                bl.wait_http_ok(port, "/health/liveliness", 180, proc, log_path)
                # LiteLLM has no live price change: phase 5 runs on its configured prices.
                results = run_workload(port, "smart", sim_port, requests, concurrency, phase_setter(sim_port, None),
                                       headers={"authorization": f"Bearer {bl.LITELLM_MASTER_KEY}"})
            rows.append(summarize(router, results, requests * len(PHASES)))
            children.stop(proc)
            children.stop(sim)
    finally:
        children.stop_all()

    print(f"\nArchway routing benchmark {bl.utc_stamp()}: {requests} requests per phase ({', '.join(PHASES)}), "
          f"{concurrency} at a time, bar {BAR}")
    print(f"{'router':<32}{'USD/1k req':>11}{'shadow':>8}{'x oracle':>10}{'>= bar':>9}{'consistent':>12}{'p95 ms':>9}{'errors':>8}")
    print("-" * 99)
    oracle = next((row["oracle_per_1k"] for row in rows if row["oracle_per_1k"]), 0.0)
    print(f"{'oracle (hindsight)':<32}{oracle:>11.4f}{0:>8.4f}{1.0:>10.2f}{1.0:>9.0%}{1.0:>12.0%}{'-':>9}{0:>8}")
    for row in rows:
        print(f"{row['router']:<32}{row['cost_per_1k']:>11.4f}{row['shadow_per_1k']:>8.4f}{row['vs_oracle']:>10.2f}"
              f"{row['at_or_above_bar']:>9.0%}{row['consistent']:>12.0%}{row['p95_ms']:>9.0f}{row['errors']:>8}")
    out = bl.BENCH_DIR / "results" / f"routing-{bl.utc_stamp()}.json"
    out.write_text(json.dumps({"requests_per_phase": requests, "concurrency": concurrency, "bar": BAR,
                               "models": MODELS, "rows": rows}, indent=2) + "\n")
    print(f"JSON: {out.relative_to(bl.REPO_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
