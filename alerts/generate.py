#!/usr/bin/env python3
"""Generates alerts/archway-slo.rules.yml and alerts/tests/archway-slo.test.yml.

The rule file is committed; this script is the single place where the SLIs, objectives, windows and
burn-rate pairs are defined, so the recording rules, the alerts and their promtool unit tests can never
drift apart. Tests/observability checks that the committed files equal this script's output.

    .venv/bin/python alerts/generate.py          # rewrite both files
    .venv/bin/python alerts/generate.py --check  # exit 1 if they are stale

Only the standard library and PyYAML are used.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RULES_PATH = HERE / "archway-slo.rules.yml"
TESTS_PATH = HERE / "tests" / "archway-slo.test.yml"

# Windows used by the multi-window, multi-burn-rate alerts (Google SRE workbook, chapter 5).
WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]

# (name suffix, severity, for, [(long window, short window, burn factor), ...])
BURN_ALERTS = [
    ("Fast", "page", "2m", [("1h", "5m", 14.4)]),
    ("Slow", "page", "15m", [("6h", "30m", 6)]),
    ("Ticket", "ticket", "30m", [("1d", "2h", 3), ("3d", "6h", 1)]),
]

API_ROUTES = 'http_route=~"/v1/.+"'
# Failures held against a model: not the client's (its hanging up, its request the provider refused as
# invalid), nor the caller's (a workflow's deadline or a failed sibling step), nor the gateway stopping.
MODEL_ERRORS = 'error_type!="", error_type!~"client_closed|cancelled|shutting_down|deadline_exceeded|400|413|422"'
# Clients' calls only: the gateway's own probes of ejected models and consistency shadow calls carry
# `archway.call.purpose` (probe | shadow), and an ejected model's probes must not page for it.
CLIENT_CALLS = 'archway_call_purpose=""'

# Every SLI is an error ratio ("bad events / all events") over a window.
# `bad` and `total` are PromQL with a `{w}` placeholder for the range; `by` is the aggregation.
SLIS = [
    {
        "key": "http_availability",
        "alert": "ArchwayHttpAvailability",
        "title": "HTTP availability",
        "objective": 0.999,
        "by": "job, http_route",
        "kind": "ratio_or_zero",
        # Failed: a 5xx (its error.type is the status), or an answer that broke after its 200
        # (stream_interrupted, upstream_timeout, shutting_down). A client that left is not a failure.
        "bad": 'http_server_request_duration_seconds_count{' + API_ROUTES + ', error_type!~"|client_closed"}',
        "total": 'http_server_request_duration_seconds_count{' + API_ROUTES + '}',
        "what": "API requests on {{ $labels.http_route }} that failed (a 5xx status, or a stream broken after its 200)",
        "threshold": None,
    },
    {
        "key": "http_latency",
        "alert": "ArchwayHttpLatency",
        "title": "HTTP latency",
        "objective": 0.99,
        "by": "job, http_route",
        "kind": "total_minus_good",
        "good": 'http_server_request_duration_seconds_bucket{' + API_ROUTES + ', le="2.5"}',
        "total": 'http_server_request_duration_seconds_count{' + API_ROUTES + '}',
        "what": "API requests on {{ $labels.http_route }} slower than 2.5s (streams count their full duration)",
        "threshold": "2.5",
    },
    {
        "key": "model_availability",
        "alert": "ArchwayModelAvailability",
        "title": "model availability",
        "objective": 0.995,
        "by": "job, gen_ai_provider_name, gen_ai_request_model",
        "kind": "ratio_or_zero",
        "bad": 'gen_ai_client_operation_duration_seconds_count{' + MODEL_ERRORS + ', ' + CLIENT_CALLS + '}',
        "total": 'gen_ai_client_operation_duration_seconds_count{' + CLIENT_CALLS + '}',
        "what": "calls to {{ $labels.gen_ai_provider_name }}/{{ $labels.gen_ai_request_model }} that failed",
        "threshold": None,
    },
    {
        "key": "model_latency",
        "alert": "ArchwayModelLatency",
        "title": "model latency",
        "objective": 0.95,
        "by": "job, gen_ai_provider_name, gen_ai_request_model",
        "kind": "total_minus_good",
        "good": 'gen_ai_client_operation_duration_seconds_bucket{error_type="", ' + CLIENT_CALLS + ', le="2.56"}',
        "total": 'gen_ai_client_operation_duration_seconds_count{error_type="", ' + CLIENT_CALLS + '}',
        "what": "successful calls to {{ $labels.gen_ai_provider_name }}/{{ $labels.gen_ai_request_model }} slower than 2.56s",
        "threshold": "2.56",
    },
    {
        "key": "stream_ttft",
        "alert": "ArchwayStreamTimeToFirstToken",
        "title": "stream time to first token",
        "objective": 0.95,
        "by": "job, gen_ai_provider_name, gen_ai_request_model",
        "kind": "total_minus_good",
        "good": 'gen_ai_client_operation_time_to_first_chunk_seconds_bucket{' + CLIENT_CALLS + ', le="1.28"}',
        "total": 'gen_ai_client_operation_time_to_first_chunk_seconds_count{' + CLIENT_CALLS + '}',
        "what": "streams from {{ $labels.gen_ai_provider_name }}/{{ $labels.gen_ai_request_model }} whose first chunk took longer than 1.28s",
        "threshold": "1.28",
    },
]

COST_BY = "job, archway_model, gen_ai_provider_name"
SPEND_LIMIT_PER_HOUR = 50      # USD/h over the last hour: ArchwaySpendRateHigh
SPIKE_FACTOR = 5               # 5m spend rate vs the 1-day average of the 1h rate: ArchwaySpendRateSpike
# (avg_over_time of the recorded 1h rate, not rate(...[1d]): rate() divides by the full window, so on a
# series younger than a day it would underestimate the baseline and report false spikes.)
SPIKE_FLOOR_PER_HOUR = 10      # ...only when the 5m rate is above this many USD/h
FLAPPING_EJECTIONS = 3         # ejections of one model in 30 minutes: ArchwayEndpointEjectionFlapping
SHADOW_DROPPED_SHARE = 0.1     # share of a route's shadow samples dropped over 15m: ArchwayShadowSamplesDropped
INCONSISTENT_BELOW = 0.6       # consistency score (the default consistency.min_score): ArchwayModelInconsistent
SHADOW_BY = "job, archway_route_name"
WORKFLOW_FAILURE_SHARE = 0.1   # share of a workflow's runs failing over 15m: ArchwayWorkflowFailureRateHigh
WORKFLOW_BY = "job, gen_ai_workflow_name"
WORKFLOW_RUNS = "gen_ai_workflow_duration_seconds_count"
INJECTION_SURGE_PER_MINUTE = 1  # prompt injections detected per minute over 10m: ArchwayPromptInjectionSurge
POLICY_DETECTIONS = "archway_policy_detections_total"


def record_name(sli: dict, window: str) -> str:
    return f"archway:{sli['key']}_error_ratio:rate{window}"


def budget(sli: dict) -> float:
    return round(1 - sli["objective"], 6)


def fmt(x: float) -> str:
    return f"{round(x, 9):g}"


def sli_expr(sli: dict, w: str) -> str:
    by = sli["by"]
    total = f"sum by ({by}) (rate({sli['total']}[{w}]))"
    if sli["kind"] == "ratio_or_zero":
        bad = f"sum by ({by}) (rate({sli['bad']}[{w}]))"
        # `or 0 * total` gives every series with traffic a ratio (0 when it had no errors).
        return f"(\n  {bad}\n  or\n  0 * {total}\n)\n/\n{total}\n"
    good = f"sum by ({by}) (rate({sli['good']}[{w}]))"
    return f"(\n  {total}\n  -\n  {good}\n)\n/\n{total}\n"


def burn_condition(sli: dict, pairs) -> str:
    parts = []
    for long_w, short_w, factor in pairs:
        thr = fmt(factor * budget(sli))
        parts.append(
            f"(\n  {record_name(sli, long_w)} > {thr}\n  and\n  {record_name(sli, short_w)} > {thr}\n)"
        )
    return "\nor\n".join(parts) + "\n"


def build_rules() -> dict:
    groups = []
    groups.append({
        "name": "archway-slo-objectives",
        "rules": [
            {
                "record": "archway:slo_objective:ratio",
                "expr": f"vector({sli['objective']})",
                "labels": {"slo": sli["key"], **({"threshold_seconds": sli["threshold"]} if sli["threshold"] else {})},
            }
            for sli in SLIS
        ],
    })
    for sli in SLIS:
        groups.append({
            "name": f"archway-sli-{sli['key'].replace('_', '-')}",
            "rules": [{"record": record_name(sli, w), "expr": sli_expr(sli, w)} for w in WINDOWS],
        })
    groups.append({
        "name": "archway-cost",
        "rules": [
            {
                "record": f"archway:cost_usd_per_hour:rate{w}",
                "expr": f"sum by ({COST_BY}) (rate(archway_cost_USD_total[{w}])) * 3600\n",
            }
            for w in ("5m", "1h", "1d")
        ],
    })
    alerts = []
    for sli in SLIS:
        for suffix, severity, for_, pairs in BURN_ALERTS:
            windows = " or ".join(f"{l}/{s} at {f}x" for l, s, f in pairs)
            alerts.append({
                "alert": f"{sli['alert']}BurnRate{suffix}",
                "expr": burn_condition(sli, pairs),
                "for": for_,
                "labels": {"severity": severity, "slo": sli["key"]},
                "annotations": {
                    "summary": f"Archway {sli['title']} SLO ({sli['objective'] * 100:g}%) error budget is burning too fast",
                    "description": (
                        f"The share of {sli['what']} exceeds {windows} the error budget "
                        f"({budget(sli) * 100:g}%) in both windows of a pair."
                    ),
                    "dashboard": "/d/archway-slo/archway-slo",
                },
            })
    groups.append({"name": "archway-slo-alerts", "rules": alerts})
    groups.append({
        "name": "archway-operations-alerts",
        "rules": [
            {
                "alert": "ArchwaySpendRateHigh",
                "expr": f"sum by (job) (archway:cost_usd_per_hour:rate1h) > {SPEND_LIMIT_PER_HOUR}\n",
                "for": "15m",
                "labels": {"severity": "ticket"},
                "annotations": {
                    "summary": "Archway spend rate is above the configured limit",
                    "description": f"Upstream spend of {{{{ $labels.job }}}} averaged more than {SPEND_LIMIT_PER_HOUR} USD/h over the last hour.",
                    "dashboard": "/d/archway-overview/archway-overview",
                },
            },
            {
                "alert": "ArchwaySpendRateSpike",
                "expr": (
                    f"sum by (job) (archway:cost_usd_per_hour:rate5m) > {SPIKE_FLOOR_PER_HOUR}\n"
                    f"and\n"
                    f"sum by (job) (archway:cost_usd_per_hour:rate5m)\n"
                    f"  > {SPIKE_FACTOR} * sum by (job) (avg_over_time(archway:cost_usd_per_hour:rate1h[1d]))\n"
                ),
                "for": "5m",
                "labels": {"severity": "page"},
                "annotations": {
                    "summary": "Archway spend rate spiked",
                    "description": (
                        f"Upstream spend of {{{{ $labels.job }}}} over the last 5 minutes runs at more than "
                        f"{SPIKE_FACTOR}x its average hourly rate of the last day and above {SPIKE_FLOOR_PER_HOUR} USD/h."
                    ),
                    "dashboard": "/d/archway-overview/archway-overview",
                },
            },
            {
                "alert": "ArchwayRouteNoEligibleCandidate",
                "expr": "min by (job, archway_route_name) (archway_route_eligible_candidates) == 0\n",
                "for": "2m",
                "labels": {"severity": "page"},
                "annotations": {
                    "summary": "A route has no eligible candidate",
                    "description": (
                        "Route {{ $labels.archway_route_name }} of {{ $labels.job }} has had no eligible candidate for 2 minutes "
                        "(all ejected, held back by retry-after or over the latency budget): it is serving from its last resort. "
                        "GET /admin/routing says why each candidate is out."
                    ),
                    "dashboard": "/d/archway-overview/archway-overview",
                },
            },
            {
                "alert": "ArchwayEndpointEjectionFlapping",
                "expr": f"sum by (job, archway_model) (increase(archway_endpoint_ejections_total[30m])) > {FLAPPING_EJECTIONS}\n",
                "for": "0m",
                "labels": {"severity": "ticket"},
                "annotations": {
                    "summary": "A model keeps being ejected",
                    "description": (
                        f"{{{{ $labels.archway_model }}}} of {{{{ $labels.job }}}} was ejected more than {FLAPPING_EJECTIONS} times "
                        "in 30 minutes: it recovers and fails again. Check the provider, or take the model out of its routes."
                    ),
                    "dashboard": "/d/archway-overview/archway-overview",
                },
            },
            {
                "alert": "ArchwayShadowSamplesDropped",
                # `or 0 * all` gives every route with shadow samples a share (0 when none was dropped).
                "expr": (
                    f"(\n"
                    f"  sum by ({SHADOW_BY}) (rate(archway_shadow_samples_total{{outcome=\"dropped\"}}[15m]))\n"
                    f"  or\n"
                    f"  0 * sum by ({SHADOW_BY}) (rate(archway_shadow_samples_total[15m]))\n"
                    f")\n"
                    f"/\n"
                    f"sum by ({SHADOW_BY}) (rate(archway_shadow_samples_total[15m]))\n"
                    f"> {fmt(SHADOW_DROPPED_SHARE)}\n"
                ),
                "for": "15m",
                "labels": {"severity": "ticket"},
                "annotations": {
                    "summary": "Consistency samples are being dropped",
                    "description": (
                        f"More than {fmt(SHADOW_DROPPED_SHARE * 100)}% of the consistency samples of route "
                        "{{ $labels.archway_route_name }} of {{ $labels.job }} were dropped over 15 minutes: the shadow "
                        "queue is full, so the route's consistency scores lag behind. Raise shadow.queue_size or "
                        "shadow.max_concurrency, or lower the route's consistency.sample_rate."
                    ),
                    "dashboard": "/d/archway-overview/archway-overview",
                },
            },
            {
                "alert": "ArchwayModelInconsistent",
                "expr": f"min by (job, archway_route_name, archway_model) (archway_consistency_score) < {fmt(INCONSISTENT_BELOW)}\n",
                "for": "10m",
                "labels": {"severity": "ticket"},
                "annotations": {
                    "summary": "A model's answers no longer agree with its route's reference",
                    "description": (
                        "The consistency score of {{ $labels.archway_model }} in route {{ $labels.archway_route_name }} "
                        f"of {{{{ $labels.job }}}} has been below {fmt(INCONSISTENT_BELOW)} for 10 minutes. The route stops choosing it while its score is below the "
                        "route's consistency.min_score (GET /admin/routing: ineligible_because \"inconsistent\"). "
                        "Check the model and its provider (a silent model change, a degraded deployment, a prompt "
                        "it now handles differently)."
                    ),
                    "dashboard": "/d/archway-overview/archway-overview",
                },
            },
            {
                "alert": "ArchwayWorkflowFailureRateHigh",
                # `or 0 * all` gives every workflow with runs a share (0 when none failed).
                "expr": (
                    f"(\n"
                    f"  sum by ({WORKFLOW_BY}) (rate({WORKFLOW_RUNS}{{error_type!=\"\"}}[15m]))\n"
                    f"  or\n"
                    f"  0 * sum by ({WORKFLOW_BY}) (rate({WORKFLOW_RUNS}[15m]))\n"
                    f")\n"
                    f"/\n"
                    f"sum by ({WORKFLOW_BY}) (rate({WORKFLOW_RUNS}[15m]))\n"
                    f"> {fmt(WORKFLOW_FAILURE_SHARE)}\n"
                ),
                "for": "15m",
                "labels": {"severity": "ticket"},
                "annotations": {
                    "summary": "A workflow's runs are failing",
                    "description": (
                        f"More than {fmt(WORKFLOW_FAILURE_SHARE * 100)}% of the runs of workflow "
                        "{{ $labels.gen_ai_workflow_name }} of {{ $labels.job }} failed over 15 minutes. The overview's "
                        "Workflows row shows why (error.type: deadline_exceeded, a step's failure such as timeout or "
                        "invalid_json, or the failing call's class like 503) and which step fails; the run's trace "
                        "has the failed step's span."
                    ),
                    "dashboard": "/d/archway-overview/archway-overview",
                },
            },
            {
                "alert": "ArchwayPromptInjectionSurge",
                # Any action: blocked, flagged and detect-only injections are all attempts.
                "expr": (
                    f"sum by (job) (rate({POLICY_DETECTIONS}{{archway_policy_guardrail=\"injection\"}}[10m])) * 60"
                    f" > {fmt(INJECTION_SURGE_PER_MINUTE)}\n"
                ),
                "for": "10m",
                "labels": {"severity": "ticket"},
                "annotations": {
                    "summary": "Prompt injections are arriving at the gateway",
                    "description": (
                        f"{{{{ $labels.job }}}} detected more than {fmt(INJECTION_SURGE_PER_MINUTE)} prompt injection per "
                        "minute (any action: block, flag or detect) over 10 minutes: someone is probing the gateway. "
                        "Find the requests in the traces: the SERVER spans with an `apply_guardrail injection` child "
                        "(gen_ai.guardrail.security.risk.category=prompt_injection, gen_ai.guardrail.verdict.reason says which rules matched); "
                        "the overview's Policy row shows the rate by action."
                    ),
                    "dashboard": "/d/archway-overview/archway-overview",
                },
            },
            {
                "alert": "ArchwayUpstreamConnectionsExhausted",
                "expr": "max by (job, server_address, server_port) (archway_upstream_waiting_calls) > 0\n",
                "for": "5m",
                "labels": {"severity": "ticket"},
                "annotations": {
                    "summary": "Calls are waiting for upstream connections",
                    "description": (
                        "Calls of {{ $labels.job }} to {{ $labels.server_address }}:{{ $labels.server_port }} have waited for a "
                        "connection for 5 minutes: the host is at upstream.max_connections_per_host (a call, stream included, "
                        "holds one). Raise the limit if the provider allows, or spread the load over more hosts."
                    ),
                    "dashboard": "/d/archway-overview/archway-overview",
                },
            },
            {
                "alert": "ArchwayTelemetryDropped",
                "expr": "sum by (job, reason) (rate(archway_telemetry_dropped_total[10m])) > 0\n",
                "for": "10m",
                "labels": {"severity": "ticket"},
                "annotations": {
                    "summary": "Archway is losing spans",
                    "description": "{{ $labels.job }} dropped spans ({{ $labels.reason }}) for 10 minutes: check the OTLP endpoint and collector capacity.",
                },
            },
        ],
    })
    return {"groups": groups}


# ---------------------------------------------------------------------------------------------
# promtool unit tests
# ---------------------------------------------------------------------------------------------

JOB = "archway"
ROUTE = "/v1/chat/completions"
PROVIDER, MODEL = "openai", "gpt-4o-mini"
PER_MINUTE = 1000  # events per minute in the synthetic series (fine enough for a 0.1% budget)


def _labels(d: dict) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in d.items()) + "}"


def series_for(sli: dict, bad_per_min: int, minutes: int, extra_noise: bool = True) -> list[dict]:
    """Synthetic raw series for one SLI where `bad_per_min` of PER_MINUTE events per minute are bad."""
    good = PER_MINUTE - bad_per_min
    n = minutes
    out = []

    def s(name, labels, inc):
        out.append({"series": name + _labels(labels), "values": f"0+{inc}x{n}"})

    key = sli["key"]
    if key == "http_availability":
        base = {"job": JOB, "http_request_method": "POST", "http_route": ROUTE}
        s("http_server_request_duration_seconds_count", {**base, "http_response_status_code": "200"}, good)
        # Half the failures are 503s, half streams that broke after their 200: both count.
        s("http_server_request_duration_seconds_count",
          {**base, "http_response_status_code": "503", "error_type": "503"}, bad_per_min - bad_per_min // 2)
        s("http_server_request_duration_seconds_count",
          {**base, "http_response_status_code": "200", "error_type": "stream_interrupted"}, bad_per_min // 2)
        if extra_noise:  # health checks failing must not count against the API SLO
            s("http_server_request_duration_seconds_count",
              {"job": JOB, "http_request_method": "GET", "http_route": "/readyz", "http_response_status_code": "503",
               "error_type": "503"}, 50)
            # client errors, and clients that left, are not availability errors
            s("http_server_request_duration_seconds_count", {**base, "http_response_status_code": "400"}, 30)
            s("http_server_request_duration_seconds_count",
              {**base, "http_response_status_code": "499", "error_type": "client_closed"}, 30)
            s("http_server_request_duration_seconds_count",
              {**base, "http_response_status_code": "200", "error_type": "client_closed"}, 30)
    elif key == "http_latency":
        base = {"job": JOB, "http_request_method": "POST", "http_route": ROUTE, "http_response_status_code": "200"}
        s("http_server_request_duration_seconds_bucket", {**base, "le": "2.5"}, good)
        s("http_server_request_duration_seconds_bucket", {**base, "le": "+Inf"}, PER_MINUTE)
        s("http_server_request_duration_seconds_count", base, PER_MINUTE)
        if extra_noise:  # slow health checks are not API requests
            h = {"job": JOB, "http_request_method": "GET", "http_route": "/healthz", "http_response_status_code": "200"}
            s("http_server_request_duration_seconds_bucket", {**h, "le": "2.5"}, 0)
            s("http_server_request_duration_seconds_count", h, 40)
    elif key == "model_availability":
        base = {"job": JOB, "gen_ai_operation_name": "chat", "gen_ai_provider_name": PROVIDER,
                "gen_ai_request_model": MODEL, "server_address": "api.openai.com", "server_port": "443"}
        s("gen_ai_client_operation_duration_seconds_count", {**base, "gen_ai_response_model": MODEL}, good)
        s("gen_ai_client_operation_duration_seconds_count", {**base, "error_type": "503"}, bad_per_min)
        if extra_noise:  # failures that are not the model's doing are excluded: noisy, they must not page
            for cause in ["client_closed", "cancelled", "deadline_exceeded", "400"]:
                s("gen_ai_client_operation_duration_seconds_count", {**base, "error_type": cause}, 10)
            # an ejected model's probes, failing every second, are the gateway's calls, not clients'
            s("gen_ai_client_operation_duration_seconds_count",
              {**base, "error_type": "503", "archway_call_purpose": "probe"}, 60)
    elif key == "model_latency":
        base = {"job": JOB, "gen_ai_operation_name": "chat", "gen_ai_provider_name": PROVIDER,
                "gen_ai_request_model": MODEL, "server_address": "api.openai.com", "server_port": "443",
                "gen_ai_response_model": MODEL}
        s("gen_ai_client_operation_duration_seconds_bucket", {**base, "le": "2.56"}, good)
        s("gen_ai_client_operation_duration_seconds_count", base, PER_MINUTE)
        if extra_noise:  # slow failures (timeouts) belong to the availability SLI, not this one
            e = {**{k: v for k, v in base.items() if k != "gen_ai_response_model"}, "error_type": "timeout"}
            s("gen_ai_client_operation_duration_seconds_bucket", {**e, "le": "2.56"}, 0)
            s("gen_ai_client_operation_duration_seconds_count", e, 40)
    elif key == "stream_ttft":
        base = {"job": JOB, "gen_ai_operation_name": "chat", "gen_ai_provider_name": PROVIDER,
                "gen_ai_request_model": MODEL, "server_address": "api.openai.com", "server_port": "443",
                "gen_ai_response_model": MODEL}
        s("gen_ai_client_operation_time_to_first_chunk_seconds_bucket", {**base, "le": "1.28"}, good)
        s("gen_ai_client_operation_time_to_first_chunk_seconds_count", base, PER_MINUTE)
    else:
        raise ValueError(key)
    return out


def alert_labels(sli: dict, severity: str) -> dict:
    labels = {"job": JOB, "severity": severity, "slo": sli["key"]}
    if "http_route" in sli["by"]:
        labels["http_route"] = ROUTE
    else:
        labels["gen_ai_provider_name"] = PROVIDER
        labels["gen_ai_request_model"] = MODEL
    return labels


def rendered_annotations(alert: dict, labels: dict) -> dict:
    out = {}
    for k, v in alert["annotations"].items():
        for lk, lv in labels.items():
            v = v.replace("{{ $labels.%s }}" % lk, lv)
        out[k] = v
    return out


def build_tests(rules: dict) -> dict:
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = []
    for sli in SLIS:
        b = budget(sli)
        names = {suffix: f"{sli['alert']}BurnRate{suffix}" for suffix, *_ in BURN_ALERTS}
        sev = {suffix: severity for suffix, severity, *_ in BURN_ALERTS}

        def fired(suffix):
            labels = alert_labels(sli, sev[suffix])
            return [{"exp_labels": labels, "exp_annotations": rendered_annotations(alerts[names[suffix]], labels)}]

        def per_min(ratio):
            return max(1, min(PER_MINUTE, round(ratio * PER_MINUTE + 1e-9))) if ratio > 0 else 0

        # Bad-event counts per PER_MINUTE events, chosen relative to the budget b.
        fast = per_min(min(1.0, 16 * b))        # > 14.4 b
        slow = per_min(8 * b)                   # between 6 b and 14.4 b
        ticket = per_min(2 * b)                 # between 1 b and 3 b
        tests.append({
            "name": f"{sli['key']}: healthy traffic fires nothing",
            "interval": "1m",
            "input_series": series_for(sli, 0, 75),
            "alert_rule_test": [
                {"eval_time": t, "alertname": names[s], "exp_alerts": []}
                for t in ("30m", "75m") for s in names
            ],
        })
        tests.append({
            "name": f"{sli['key']}: fast burn ({fast / PER_MINUTE:.1%} bad) pages within minutes",
            "interval": "1m",
            "input_series": series_for(sli, fast, 12),
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": names["Fast"], "exp_alerts": []},   # still pending (for: 2m)
                {"eval_time": "10m", "alertname": names["Fast"], "exp_alerts": fired("Fast")},
            ],
        })
        tests.append({
            "name": f"{sli['key']}: slow burn ({slow / PER_MINUTE:.1%} bad) pages via 6h/30m but not via 1h/5m",
            "interval": "1m",
            "input_series": series_for(sli, slow, 20),
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": names["Slow"], "exp_alerts": []},  # pending (for: 15m)
                {"eval_time": "20m", "alertname": names["Slow"], "exp_alerts": fired("Slow")},
                {"eval_time": "20m", "alertname": names["Fast"], "exp_alerts": []},
            ],
        })
        tests.append({
            "name": f"{sli['key']}: low burn ({ticket / PER_MINUTE:.1%} bad) opens a ticket only",
            "interval": "1m",
            "input_series": series_for(sli, ticket, 35),
            "alert_rule_test": [
                {"eval_time": "20m", "alertname": names["Ticket"], "exp_alerts": []},  # pending (for: 30m)
                {"eval_time": "35m", "alertname": names["Ticket"], "exp_alerts": fired("Ticket")},
                {"eval_time": "35m", "alertname": names["Slow"], "exp_alerts": []},
                {"eval_time": "35m", "alertname": names["Fast"], "exp_alerts": []},
            ],
        })
    # Recording rules compute the expected ratio.
    tests.append({
        "name": "recording rules: error ratios and objectives",
        "interval": "1m",
        "input_series": series_for(SLIS[0], 250, 30, extra_noise=False) + series_for(SLIS[2], 500, 30, extra_noise=False),
        "promql_expr_test": [
            {"expr": record_name(SLIS[0], "5m"), "eval_time": "20m",
             "exp_samples": [{"labels": record_name(SLIS[0], "5m") + _labels({"http_route": ROUTE, "job": JOB}),
                              "value": 0.25}]},
            {"expr": record_name(SLIS[2], "30m"), "eval_time": "20m",
             "exp_samples": [{"labels": record_name(SLIS[2], "30m") + _labels(
                 {"gen_ai_provider_name": PROVIDER, "gen_ai_request_model": MODEL, "job": JOB}), "value": 0.5}]},
            {"expr": 'archway:slo_objective:ratio{slo="http_availability"}', "eval_time": "1m",
             "exp_samples": [{"labels": 'archway:slo_objective:ratio{slo="http_availability"}', "value": 0.999}]},
        ],
    })
    cost = {"job": JOB, "archway_model": "gpt-4o", "gen_ai_operation_name": "chat",
            "gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-4o-2024-08-06"}
    cost_series = "archway_cost_USD_total" + _labels(cost)
    job_only = {"job": JOB}

    def op_fired(name, labels):
        return [{"exp_labels": {**labels, "severity": alerts[name]["labels"]["severity"]},
                 "exp_annotations": rendered_annotations(alerts[name], labels)}]

    tests.append({
        "name": "spend: 120 USD/h for 50 minutes exceeds the hourly limit",
        "interval": "1m",
        "input_series": [{"series": cost_series, "values": "0+2x50"}],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "ArchwaySpendRateHigh", "exp_alerts": []},
            {"eval_time": "50m", "alertname": "ArchwaySpendRateHigh", "exp_alerts": op_fired("ArchwaySpendRateHigh", job_only)},
        ],
    })
    tests.append({
        "name": "spend: 30 USD/h stays under the hourly limit and is no spike",
        "interval": "1m",
        "input_series": [{"series": cost_series, "values": "0+0.5x75"}],
        "alert_rule_test": [
            {"eval_time": "75m", "alertname": "ArchwaySpendRateHigh", "exp_alerts": []},
            {"eval_time": "75m", "alertname": "ArchwaySpendRateSpike", "exp_alerts": []},
        ],
    })
    tests.append({
        "name": "spend: a jump from 3 USD/h to 60 USD/h is a spike",
        "interval": "1m",
        "input_series": [{"series": cost_series, "values": "0+0.05x60 3+1x30"}],
        "alert_rule_test": [
            {"eval_time": "60m", "alertname": "ArchwaySpendRateSpike", "exp_alerts": []},
            {"eval_time": "80m", "alertname": "ArchwaySpendRateSpike", "exp_alerts": op_fired("ArchwaySpendRateSpike", job_only)},
        ],
    })
    tests.append({
        "name": "spend: a jump to 6 USD/h stays below the spike floor",
        "interval": "1m",
        "input_series": [{"series": cost_series, "values": "0+0.001x60 0.06+0.1x30"}],
        "alert_rule_test": [
            {"eval_time": "80m", "alertname": "ArchwaySpendRateSpike", "exp_alerts": []},
        ],
    })
    route = {"job": JOB, "archway_route_name": "smart"}
    tests.append({
        "name": "routing: a route without an eligible candidate for 2 minutes pages; one back clears it",
        "interval": "1m",
        "input_series": [
            {"series": "archway_route_eligible_candidates" + _labels(route), "values": "2 2 0 0 0 0 1 1"},
        ],
        "alert_rule_test": [
            {"eval_time": "2m", "alertname": "ArchwayRouteNoEligibleCandidate", "exp_alerts": []},
            {"eval_time": "5m", "alertname": "ArchwayRouteNoEligibleCandidate",
             "exp_alerts": op_fired("ArchwayRouteNoEligibleCandidate", route)},
            {"eval_time": "7m", "alertname": "ArchwayRouteNoEligibleCandidate", "exp_alerts": []},
        ],
    })
    flapping = {"job": JOB, "archway_model": "deepseek-chat"}
    tests.append({
        "name": "routing: five ejections of one model in 30 minutes are flapping, one is not",
        "interval": "1m",
        "input_series": [
            {"series": "archway_endpoint_ejections_total" + _labels(flapping), "values": "0 0 1 1 2 2 3 3 4 4 5 5 5 5 5"},
            {"series": "archway_endpoint_ejections_total" + _labels({"job": JOB, "archway_model": "gpt-4o"}),
             "values": "0 0 1 1 1 1 1 1 1 1 1 1 1 1 1"},
        ],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "ArchwayEndpointEjectionFlapping", "exp_alerts": []},
            {"eval_time": "12m", "alertname": "ArchwayEndpointEjectionFlapping",
             "exp_alerts": op_fired("ArchwayEndpointEjectionFlapping", flapping)},
        ],
    })
    shadow = "archway_shadow_samples_total"
    busy, calm, quiet = ({"job": JOB, "archway_route_name": r} for r in ("smart", "cheap", "json"))
    tests.append({
        "name": "shadow: 40% of a route's samples dropped for 15 minutes fire; 3% and none do not; it clears",
        "interval": "1m",
        "input_series": [
            # smart: 6 evaluated and 4 dropped a minute for 30 minutes, then no more drops
            {"series": shadow + _labels({**busy, "outcome": "evaluated"}), "values": "0+6x70"},
            {"series": shadow + _labels({**busy, "outcome": "dropped"}), "values": "0+4x30 120x40"},
            # cheap: 1 dropped for 30 evaluated (and failed calls, which are not drops)
            {"series": shadow + _labels({**calm, "outcome": "evaluated"}), "values": "0+30x70"},
            {"series": shadow + _labels({**calm, "outcome": "dropped"}), "values": "0+1x70"},
            {"series": shadow + _labels({**calm, "outcome": "failed"}), "values": "0+10x70"},
            # json: nothing dropped, no dropped series at all
            {"series": shadow + _labels({**quiet, "outcome": "evaluated"}), "values": "0+5x70"},
        ],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "ArchwayShadowSamplesDropped", "exp_alerts": []},   # pending (for: 15m)
            {"eval_time": "25m", "alertname": "ArchwayShadowSamplesDropped",
             "exp_alerts": op_fired("ArchwayShadowSamplesDropped", busy)},
            {"eval_time": "60m", "alertname": "ArchwayShadowSamplesDropped", "exp_alerts": []},
        ],
    })
    score = "archway_consistency_score"
    drifting = {"job": JOB, "archway_route_name": "smart", "archway_model": "deepseek-chat"}
    tests.append({
        "name": "consistency: a score below 0.6 for 10 minutes fires; a short dip and a good model do not; recovery clears",
        "interval": "1m",
        "input_series": [
            {"series": score + _labels(drifting), "values": "0.9 0.85 0.5x20 0.8x10"},
            {"series": score + _labels({**drifting, "archway_model": "gpt-4o-mini"}), "values": "0.5x5 0.9x25"},
            {"series": score + _labels({**drifting, "archway_model": "gpt-4o"}), "values": "0.95x32"},
        ],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "ArchwayModelInconsistent", "exp_alerts": []},   # pending (for: 10m)
            {"eval_time": "15m", "alertname": "ArchwayModelInconsistent",
             "exp_alerts": op_fired("ArchwayModelInconsistent", drifting)},
            {"eval_time": "28m", "alertname": "ArchwayModelInconsistent", "exp_alerts": []},
        ],
    })
    runs = "gen_ai_workflow_duration_seconds_count"
    failing, healthy, calm_wf = ({"job": JOB, "gen_ai_workflow_name": w} for w in ("digest", "triage", "email"))
    tests.append({
        "name": "workflows: 20% of a workflow's runs failing for 15 minutes fire; 5% and none do not; it clears",
        "interval": "1m",
        "input_series": [
            # digest: 8 good and 2 failed runs a minute (two error types) for 20 minutes, then no more failures
            {"series": runs + _labels(failing), "values": "0+8x45"},
            {"series": runs + _labels({**failing, "error_type": "deadline_exceeded"}), "values": "0+1x20 20x25"},
            {"series": runs + _labels({**failing, "error_type": "503"}), "values": "0+1x20 20x25"},
            # triage: 1 failed for 19 good
            {"series": runs + _labels(healthy), "values": "0+19x45"},
            {"series": runs + _labels({**healthy, "error_type": "invalid_json"}), "values": "0+1x45"},
            # email: never failed, no failed series at all
            {"series": runs + _labels(calm_wf), "values": "0+5x45"},
        ],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "ArchwayWorkflowFailureRateHigh", "exp_alerts": []},   # pending (for: 15m)
            {"eval_time": "20m", "alertname": "ArchwayWorkflowFailureRateHigh",
             "exp_alerts": op_fired("ArchwayWorkflowFailureRateHigh", failing)},
            {"eval_time": "40m", "alertname": "ArchwayWorkflowFailureRateHigh", "exp_alerts": []},
        ],
    })
    det = POLICY_DETECTIONS
    probed, other = {"job": JOB}, {"job": "archway-internal"}
    inj = {"archway_policy_guardrail": "injection", "archway_policy_entity": "prompt_injection"}
    tests.append({
        "name": "policy: 3 injections a minute for 10 minutes (blocked and flagged) fire; 1 every 2 minutes and PII do not; it clears",
        "interval": "1m",
        "input_series": [
            # archway: 2 blocked and 1 flagged injection a minute for 25 minutes, then none
            {"series": det + _labels({**probed, **inj, "archway_policy_action": "block"}), "values": "0+2x25 50x30"},
            {"series": det + _labels({**probed, **inj, "archway_policy_action": "flag"}), "values": "0+1x25 25x30"},
            # archway-internal: one injection every 2 minutes (0.5/min) and lots of PII, which is not an injection
            {"series": det + _labels({**other, **inj, "archway_policy_action": "detect"}), "values": "0+0.5x55"},
            {"series": det + _labels({**other, "archway_policy_guardrail": "pii", "archway_policy_entity": "email",
                                      "archway_policy_action": "redact"}), "values": "0+30x55"},
        ],
        "alert_rule_test": [
            {"eval_time": "8m", "alertname": "ArchwayPromptInjectionSurge", "exp_alerts": []},   # pending (for: 10m)
            {"eval_time": "22m", "alertname": "ArchwayPromptInjectionSurge",
             "exp_alerts": op_fired("ArchwayPromptInjectionSurge", probed)},
            {"eval_time": "50m", "alertname": "ArchwayPromptInjectionSurge", "exp_alerts": []},
        ],
    })
    pool = {"job": JOB, "server_address": "api.openai.com", "server_port": "443"}
    tests.append({
        "name": "connections: calls waiting for 5 minutes fire; a two-minute burst does not",
        "interval": "1m",
        "input_series": [
            {"series": "archway_upstream_waiting_calls" + _labels(pool), "values": "0 0 3 5 4 6 7 5 3 0 0 0 4 2 0 0"},
        ],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "ArchwayUpstreamConnectionsExhausted", "exp_alerts": []},
            {"eval_time": "7m", "alertname": "ArchwayUpstreamConnectionsExhausted",
             "exp_alerts": op_fired("ArchwayUpstreamConnectionsExhausted", pool)},
            {"eval_time": "10m", "alertname": "ArchwayUpstreamConnectionsExhausted", "exp_alerts": []},
            {"eval_time": "14m", "alertname": "ArchwayUpstreamConnectionsExhausted", "exp_alerts": []},
        ],
    })
    drop = {"job": JOB, "reason": "export_failed"}
    tests.append({
        "name": "telemetry: spans dropped for 10 minutes fire, a past drop does not",
        "interval": "1m",
        "input_series": [
            {"series": "archway_telemetry_dropped_total" + _labels(drop), "values": "0+5x30 150x40"},
        ],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "ArchwayTelemetryDropped", "exp_alerts": []},
            {"eval_time": "25m", "alertname": "ArchwayTelemetryDropped", "exp_alerts": op_fired("ArchwayTelemetryDropped", drop)},
            {"eval_time": "65m", "alertname": "ArchwayTelemetryDropped", "exp_alerts": []},
        ],
    })
    return {"rule_files": ["../" + RULES_PATH.name], "evaluation_interval": "1m", "tests": tests}


# ---------------------------------------------------------------------------------------------

class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper, data):
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_presenter)

RULES_HEADER = """\
# Archway SLO recording and alerting rules (Prometheus 2.x/3.x rule file).
# GENERATED by alerts/generate.py: edit that script, then run `.venv/bin/python alerts/generate.py`.
#
# SLIs (error ratios = bad events / all events, per window 5m..3d):
#   archway:http_availability_error_ratio:rate<W>   by job, http_route     5xx share of API requests (/v1/*)
#   archway:http_latency_error_ratio:rate<W>        by job, http_route     share of API requests slower than 2.5s
#   archway:model_availability_error_ratio:rate<W>  by job, provider, model share of failed model calls
#                                                                           (not the model's: client_closed, cancelled, shutting_down,
#                                                                           deadline_exceeded, 400/413/422 excluded)
#   archway:model_latency_error_ratio:rate<W>       by job, provider, model share of successful calls slower than 2.56s
#   archway:stream_ttft_error_ratio:rate<W>         by job, provider, model share of streams with first chunk after 1.28s
#   archway:slo_objective:ratio{slo=...}            the objectives (used by the SLO dashboard)
#   archway:cost_usd_per_hour:rate<W>               spend rate in USD/h by job, archway_model, provider
# Alerts: multi-window multi-burn-rate (SRE workbook): Fast = 1h & 5m > 14.4x budget (page),
# Slow = 6h & 30m > 6x (page), Ticket = (1d & 2h > 3x) or (3d & 6h > 1x); plus spend rate, routing
# (no eligible candidate, ejection flapping), consistency shadowing (dropped samples, inconsistent model),
# workflow failures, prompt-injection surges and telemetry loss.
# Thresholds use only non-integer `le` bounds (2.5, 2.56, 1.28) so they match whether an exporter
# renders integer bounds as "1" or "1.0".
"""

TESTS_HEADER = """\
# promtool unit tests for archway-slo.rules.yml: `promtool test rules alerts/tests/archway-slo.test.yml`.
# GENERATED by alerts/generate.py. Every alert is shown to fire on a synthetic incident and not to fire
# on healthy traffic (or on a smaller incident that belongs to a slower alert).
"""


def render() -> tuple[str, str]:
    rules = build_rules()
    rules_text = RULES_HEADER + yaml.dump(rules, Dumper=_Dumper, sort_keys=False, width=200)
    tests_text = TESTS_HEADER + yaml.dump(build_tests(rules), Dumper=_Dumper, sort_keys=False, width=200)
    return rules_text, tests_text


def main(argv: list[str]) -> int:
    rules_text, tests_text = render()
    if "--check" in argv:
        stale = [p for p, t in ((RULES_PATH, rules_text), (TESTS_PATH, tests_text))
                 if not p.exists() or p.read_text() != t]
        for p in stale:
            print(f"stale: {p} (run alerts/generate.py)", file=sys.stderr)
        return 1 if stale else 0
    RULES_PATH.write_text(rules_text)
    TESTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    TESTS_PATH.write_text(tests_text)
    print(f"wrote {RULES_PATH.relative_to(HERE.parent)} and {TESTS_PATH.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
