#!/usr/bin/env python3
"""Generates dashboards/datadog/archway-overview.json: the Grafana overview as a Datadog dashboard
over the OTLP-ingested metric names (see README.md in this directory for the assumed settings).

    .venv/bin/python dashboards/datadog/generate.py          # rewrite the JSON
    .venv/bin/python dashboards/datadog/generate.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "archway-overview.json"

DUR = "gen_ai.client.operation.duration"
TTFT = "gen_ai.client.operation.time_to_first_chunk"
TPOC = "gen_ai.client.operation.time_per_output_chunk"
TOK = "gen_ai.client.token.usage"
HTTP = "http.server.request.duration"
COST = "archway.cost"
RETRIES = "archway.upstream.retries"
DROPPED = "archway.telemetry.dropped"
OPEN_CONNS = "http.client.open_connections"
WAITING_CALLS = "archway.upstream.waiting_calls"
PROC_CPU = "process.cpu.time"
PROC_MEMORY = "process.memory.usage"
PROC_VIRTUAL = "process.memory.virtual"
PROC_THREADS = "process.thread.count"
PROC_FDS = "process.unix.file_descriptor.count"
DECISIONS = "archway.route.decisions"
FALLBACKS = "archway.route.fallbacks"
EJECTIONS = "archway.endpoint.ejections"
PROBES = "archway.endpoint.probes"
EP_LATENCY = "archway.endpoint.latency"
EP_IN_FLIGHT = "archway.endpoint.in_flight"
EP_ERRORS = "archway.endpoint.error_rate"
EP_EJECTED = "archway.endpoint.ejected"
EP_PRICE = "archway.endpoint.price"
ELIGIBLE = "archway.route.eligible_candidates"
BAR = "archway.route.min_quality"
CONSISTENCY = "archway.consistency.score"
CONSISTENCY_SAMPLES = "archway.consistency.samples"
SHADOW = "archway.shadow.samples"
WF_DUR = "gen_ai.workflow.duration"
WF_STEP = "archway.workflow.step.duration"
WF_COST = "archway.workflow.step.cost"
WF_FAILURE_SHARE = 0.1         # alerts/generate.py WORKFLOW_FAILURE_SHARE (ArchwayWorkflowFailureRateHigh)
POLICY = "archway.policy.detections"
INJECTION_SURGE_PER_MIN = 1    # alerts/generate.py INJECTION_SURGE_PER_MINUTE (ArchwayPromptInjectionSurge)
DEFAULT_MIN_SCORE = 0.6        # a route's consistency.min_score when its config sets none

# Template-variable filters per metric family (a variable is only applied to metrics carrying its tag).
F_GENAI = "$service,$env,$provider,$model"
F_HTTP = "$service,$env,$route"
F_COST = "$service,$env,$provider,$model,$archway_model"
F_RETRY = "$service,$env,$model"
F_SVC = "$service,$env"
F_ROUTING = "$service,$env,$archway_model"
F_WORKFLOW = "$service,$env,$workflow"


def q(name: str, query: str, aggregator: str | None = None) -> dict:
    d = {"data_source": "metrics", "name": name, "query": query}
    if aggregator:
        d["aggregator"] = aggregator
    return d


def timeseries(title: str, queries: list[dict], formulas: list[dict], display: str = "line",
               unit: str | None = None, markers: list[dict] | None = None) -> dict:
    for f in formulas:
        if unit:
            f.setdefault("number_format", {"unit": {"type": "canonical_unit", "unit_name": unit}})
    extra = {"markers": markers} if markers else {}
    return {"definition": {
        "title": title, "title_size": "16", "title_align": "left", "type": "timeseries",
        "show_legend": True, "legend_layout": "auto", "legend_columns": ["avg", "max", "value"],
        "requests": [{"response_format": "timeseries", "queries": queries, "formulas": formulas,
                      "display_type": display,
                      "style": {"palette": "dog_classic", "line_type": "solid", "line_width": "normal"}}],
        **extra}}


def value(title: str, queries: list[dict], formula: str, unit: str | None = None, precision: int = 2,
          autoscale: bool = True) -> dict:
    f = {"formula": formula}
    if unit:
        f["number_format"] = {"unit": {"type": "canonical_unit", "unit_name": unit}}
    return {"definition": {
        "title": title, "title_size": "16", "title_align": "left", "type": "query_value",
        "requests": [{"response_format": "scalar", "queries": queries, "formulas": [f]}],
        "autoscale": autoscale, "precision": precision}}


def toplist(title: str, queries: list[dict], formula: str) -> dict:
    return {"definition": {
        "title": title, "title_size": "16", "title_align": "left", "type": "toplist",
        "requests": [{"response_format": "scalar", "queries": queries,
                      "formulas": [{"formula": formula, "limit": {"count": 10, "order": "desc"}}]}]}}


def group(title: str, widgets: list[dict]) -> dict:
    return {"definition": {"title": title, "type": "group", "layout_type": "ordered", "show_title": True,
                           "widgets": widgets}}


def note(content: str) -> dict:
    return {"definition": {"type": "note", "content": content, "background_color": "white", "font_size": "14",
                           "text_align": "left", "show_tick": False, "tick_pos": "50%", "tick_edge": "left",
                           "has_padding": True}}


def percentiles(metric: str, filters: str, by: str) -> tuple[list[dict], list[dict]]:
    qs = [q(f"p{p}", f"p{p}:{metric}{{{filters}}} by {{{by}}}") for p in (50, 95, 99)]
    return qs, [{"formula": f"p{p}", "alias": f"p{p}"} for p in (50, 95, 99)]


def build() -> dict:
    widgets = []
    widgets.append(group("At a glance", [
        value("API requests/s", [q("q1", f"count:{HTTP}{{{F_HTTP},http.route:/v1/*}}", "avg")], "per_second(q1)", precision=1),
        value("HTTP 5xx ratio (%)",
              [q("q1", f"count:{HTTP}{{{F_HTTP},http.response.status_code:5*}}", "sum"),
               q("q2", f"count:{HTTP}{{{F_HTTP}}}", "sum")], "100 * q1 / q2", "percent"),
        value("Model call error ratio (%)",
              [q("q1", f"count:{DUR}{{{F_GENAI},error.type:*}}", "sum"),
               q("q2", f"count:{DUR}{{{F_GENAI}}}", "sum")], "100 * q1 / q2", "percent"),
        value("p95 model call latency", [q("q1", f"p95:{DUR}{{{F_GENAI}}}", "avg")], "q1", "second"),
        value("p95 time to first token", [q("q1", f"p95:{TTFT}{{{F_GENAI}}}", "avg")], "q1", "second"),
        value("Spend (time frame)", [q("q1", f"sum:{COST}{{{F_COST}}}.as_count()", "sum")], "q1", "dollar"),
    ]))
    widgets.append(group("Traffic", [
        timeseries("Requests/s by route and status",
                   [q("q1", f"count:{HTTP}{{{F_HTTP}}} by {{http.route,http.response.status_code}}")],
                   [{"formula": "per_second(q1)"}]),
        timeseries("Model calls/s by model",
                   [q("q1", f"count:{DUR}{{{F_GENAI}}} by {{gen_ai.provider.name,gen_ai.request.model,gen_ai.operation.name}}")],
                   [{"formula": "per_second(q1)"}]),
        toplist("HTTP status codes (time frame)",
                [q("q1", f"count:{HTTP}{{{F_HTTP}}} by {{http.response.status_code}}", "sum")], "q1"),
    ]))
    widgets.append(group("Errors", [
        timeseries("Model call error ratio by model (%)",
                   [q("q1", f"count:{DUR}{{{F_GENAI},error.type:*}} by {{gen_ai.provider.name,gen_ai.request.model}}"),
                    q("q2", f"count:{DUR}{{{F_GENAI}}} by {{gen_ai.provider.name,gen_ai.request.model}}")],
                   [{"formula": "100 * q1 / q2"}], unit="percent"),
        timeseries("Model errors/s by error.type",
                   [q("q1", f"count:{DUR}{{{F_GENAI},error.type:*}} by {{gen_ai.provider.name,error.type}}")],
                   [{"formula": "per_second(q1)"}], display="bars"),
        timeseries("HTTP 5xx ratio by route (%)",
                   [q("q1", f"count:{HTTP}{{{F_HTTP},http.response.status_code:5*}} by {{http.route}}"),
                    q("q2", f"count:{HTTP}{{{F_HTTP}}} by {{http.route}}")],
                   [{"formula": "100 * q1 / q2"}], unit="percent"),
    ]))
    lat_q, lat_f = percentiles(DUR, F_GENAI, "gen_ai.request.model")
    ttft_q, ttft_f = percentiles(TTFT, F_GENAI, "gen_ai.request.model")
    http_q, http_f = percentiles(HTTP, F_HTTP, "http.route")
    widgets.append(group("Latency", [
        timeseries("Model call latency p50 / p95 / p99", lat_q, lat_f, unit="second"),
        timeseries("Time to first token p50 / p95 / p99 (streams)", ttft_q, ttft_f, unit="second"),
        timeseries("HTTP request latency p50 / p95 / p99 by route", http_q, http_f, unit="second"),
    ]))
    widgets.append(group("Tokens", [
        timeseries("Output tokens/s (throughput) by model",
                   [q("q1", f"sum:{TOK}{{{F_GENAI},gen_ai.token.type:output}} by {{gen_ai.request.model}}")],
                   [{"formula": "per_second(q1)"}]),
        timeseries("Per-stream output speed (chunks/s ≈ tokens/s)",
                   [q("q1", f"count:{TPOC}{{{F_GENAI}}} by {{gen_ai.request.model}}"),
                    q("q2", f"sum:{TPOC}{{{F_GENAI}}} by {{gen_ai.request.model}}")],
                   [{"formula": "q1 / q2"}]),
        timeseries("Tokens/s by type",
                   [q("q1", f"sum:{TOK}{{{F_GENAI}}} by {{gen_ai.request.model,gen_ai.token.type}}")],
                   [{"formula": "per_second(q1)"}], display="area"),
    ]))
    widgets.append(group("Cost", [
        timeseries("Cost per hour by model (USD/h)",
                   [q("q1", f"sum:{COST}{{{F_COST}}} by {{archway.model}}.as_rate()")],
                   [{"formula": "3600 * q1"}], display="area", unit="dollar"),
        timeseries("Cost per hour by provider (USD/h)",
                   [q("q1", f"sum:{COST}{{{F_COST}}} by {{gen_ai.provider.name}}.as_rate()")],
                   [{"formula": "3600 * q1"}], display="area", unit="dollar"),
        toplist("Spend by model (time frame)",
                [q("q1", f"sum:{COST}{{{F_COST}}} by {{archway.model}}.as_count()", "sum")], "q1"),
    ]))
    widgets.append(group("Retries and telemetry", [
        timeseries("Upstream retries/s",
                   [q("q1", f"sum:{RETRIES}{{{F_RETRY}}} by {{archway.provider,gen_ai.request.model}}.as_rate()")],
                   [{"formula": "q1"}], display="bars"),
        timeseries("Telemetry spans dropped/s",
                   [q("q1", f"sum:{DROPPED}{{{F_SVC}}} by {{reason}}.as_rate()")],
                   [{"formula": "q1"}], display="bars"),
        note("Histograms arrive as **distributions** (Datadog exporter / Agent default "
             "`histograms.mode: distributions`); enable percentiles on `gen_ai.client.operation.duration`, "
             "`gen_ai.client.operation.time_to_first_chunk` and `http.server.request.duration` for the p50/p95/p99 "
             "widgets (and on `gen_ai.workflow.duration` and `archway.workflow.step.duration` for the Workflows "
             "group). Counters arrive as counts (cumulative monotonic sums → deltas); gauges as gauges."),
    ]))
    widgets.append(group("Upstream connections", [
        timeseries("Upstream connections by host and state",
                   [q("q1", f"sum:{OPEN_CONNS}{{{F_SVC}}} by {{server.address,server.port,http.connection.state}}")],
                   [{"formula": "q1"}], display="area"),
        timeseries("Calls waiting for an upstream connection",
                   [q("q1", f"sum:{WAITING_CALLS}{{{F_SVC}}} by {{server.address,server.port}}")],
                   [{"formula": "q1"}], display="bars"),
    ]))
    widgets.append(group("Gateway process", [
        timeseries("Memory by host (resident, virtual)",
                   [q("q1", f"avg:{PROC_MEMORY}{{{F_SVC}}} by {{host}}"),
                    q("q2", f"avg:{PROC_VIRTUAL}{{{F_SVC}}} by {{host}}")],
                   [{"formula": "q1", "alias": "resident"}, {"formula": "q2", "alias": "virtual"}], unit="byte"),
        timeseries("CPU by host and mode (cores)",
                   [q("q1", f"sum:{PROC_CPU}{{{F_SVC}}} by {{host,cpu.mode}}.as_rate()")],
                   [{"formula": "q1"}], display="area"),
        timeseries("Open file descriptors and threads by host",
                   [q("q1", f"avg:{PROC_FDS}{{{F_SVC}}} by {{host}}"),
                    q("q2", f"avg:{PROC_THREADS}{{{F_SVC}}} by {{host}}")],
                   [{"formula": "q1", "alias": "descriptors"}, {"formula": "q2", "alias": "threads"}]),
    ]))
    widgets.append(group("Routing", [
        timeseries("Route decisions/s by chosen model",
                   [q("q1", f"sum:{DECISIONS}{{{F_SVC}}} by {{archway.route.name,archway.route.chosen}}.as_rate()")],
                   [{"formula": "q1"}], display="area"),
        timeseries("Route decisions/s by reason",
                   [q("q1", f"sum:{DECISIONS}{{{F_SVC}}} by {{archway.route.reason}}.as_rate()")],
                   [{"formula": "q1"}], display="bars"),
        timeseries("Fallback rate (moves to another candidate / decisions)",
                   [q("q1", f"sum:{FALLBACKS}{{{F_SVC}}} by {{archway.route.name}}.as_rate()"),
                    q("q2", f"sum:{DECISIONS}{{{F_SVC}}} by {{archway.route.name}}.as_rate()")],
                   [{"formula": "q1 / q2"}], unit="fraction"),
        timeseries("Ejections and probes/s by model",
                   [q("q1", f"sum:{EJECTIONS}{{{F_ROUTING}}} by {{archway.model}}.as_rate()"),
                    q("q2", f"sum:{PROBES}{{{F_ROUTING}}} by {{archway.model,outcome}}.as_rate()")],
                   [{"formula": "q1"}, {"formula": "q2"}], display="bars"),
        timeseries("Ejected models", [q("q1", f"max:{EP_EJECTED}{{{F_ROUTING}}} by {{archway.model}}")],
                   [{"formula": "q1"}]),
        timeseries("Eligible candidates by route", [q("q1", f"min:{ELIGIBLE}{{{F_SVC}}} by {{archway.route.name}}")],
                   [{"formula": "q1"}]),
        timeseries("Quality bar in force by route (lower while loaded)",
                   [q("q1", f"min:{BAR}{{{F_SVC}}} by {{archway.route.name}}")], [{"formula": "q1"}]),
        timeseries("Endpoint latency p95 (routing window)",
                   [q("q1", f"avg:{EP_LATENCY}{{{F_ROUTING},quantile:0.95}} by {{archway.model}}")],
                   [{"formula": "q1"}], unit="second"),
        timeseries("Endpoint error rate and calls in flight",
                   [q("q1", f"avg:{EP_ERRORS}{{{F_ROUTING}}} by {{archway.model}}"),
                    q("q2", f"sum:{EP_IN_FLIGHT}{{{F_ROUTING}}} by {{archway.model}}")],
                   [{"formula": "q1"}, {"formula": "q2"}]),
        timeseries("Effective price (USD per million tokens)",
                   [q("q1", f"avg:{EP_PRICE}{{{F_ROUTING}}} by {{archway.model,gen_ai.token.type}}")],
                   [{"formula": "q1"}]),
        timeseries("Consistency score by route and model (left out below the route's min_score)",
                   [q("q1", f"min:{CONSISTENCY}{{{F_ROUTING}}} by {{archway.route.name,archway.model}}")],
                   [{"formula": "q1"}],
                   markers=[{"value": f"y = {DEFAULT_MIN_SCORE:g}", "display_type": "error dashed",
                             "label": f"default min_score {DEFAULT_MIN_SCORE:g}"}]),
        timeseries("Consistency samples/s by label",
                   [q("q1", f"sum:{CONSISTENCY_SAMPLES}{{{F_ROUTING}}} by "
                            f"{{archway.route.name,archway.model,gen_ai.evaluation.score.label}}.as_rate()")],
                   [{"formula": "q1"}], display="bars"),
        timeseries("Shadow samples/s by outcome (watch dropped and failed)",
                   [q("q1", f"sum:{SHADOW}{{{F_SVC}}} by {{archway.route.name,outcome}}.as_rate()")],
                   [{"formula": "q1"}], display="bars"),
        timeseries("Shadow spend (USD/h)",
                   [q("q1", f"sum:{COST}{{{F_COST},archway.call.purpose:shadow}} by {{archway.model}}.as_rate()")],
                   [{"formula": "3600 * q1"}], display="area", unit="dollar"),
    ]))
    widgets.append(group("Workflows", [
        timeseries("Workflow runs/s by workflow",
                   [q("q1", f"count:{WF_DUR}{{{F_WORKFLOW}}} by {{gen_ai.workflow.name}}")],
                   [{"formula": "per_second(q1)"}], display="bars"),
        timeseries("Workflow failures/s by workflow and error",
                   [q("q1", f"count:{WF_DUR}{{{F_WORKFLOW},error.type:*}} by {{gen_ai.workflow.name,error.type}}")],
                   [{"formula": "per_second(q1)"}], display="bars"),
        timeseries("Workflow failure ratio by workflow (%)",
                   [q("q1", f"count:{WF_DUR}{{{F_WORKFLOW},error.type:*}} by {{gen_ai.workflow.name}}"),
                    q("q2", f"count:{WF_DUR}{{{F_WORKFLOW}}} by {{gen_ai.workflow.name}}")],
                   [{"formula": "100 * q1 / q2"}], unit="percent",
                   markers=[{"value": f"y = {WF_FAILURE_SHARE * 100:g}", "display_type": "error dashed",
                             "label": f"ArchwayWorkflowFailureRateHigh {WF_FAILURE_SHARE * 100:g}%"}]),
        timeseries("Workflow p95 duration by workflow",
                   [q("q1", f"p95:{WF_DUR}{{{F_WORKFLOW}}} by {{gen_ai.workflow.name}}")],
                   [{"formula": "q1", "alias": "p95"}], unit="second"),
        timeseries("Step p95 duration by workflow and step",
                   [q("q1", f"p95:{WF_STEP}{{{F_WORKFLOW}}} by {{gen_ai.workflow.name,archway.workflow.step.name}}")],
                   [{"formula": "q1", "alias": "p95"}], unit="second"),
        timeseries("Step status/s by workflow and step",
                   [q("q1", f"count:{WF_STEP}{{{F_WORKFLOW}}} by "
                            f"{{gen_ai.workflow.name,archway.workflow.step.name,archway.workflow.step.status}}")],
                   [{"formula": "per_second(q1)"}], display="bars"),
        timeseries("Workflow cost (USD/h) by workflow and step",
                   [q("q1", f"sum:{WF_COST}{{{F_WORKFLOW}}} by {{gen_ai.workflow.name,archway.workflow.step.name}}.as_rate()")],
                   [{"formula": "3600 * q1"}], display="area", unit="dollar"),
    ]))
    widgets.append(group("Policy", [
        timeseries("Policy detections/s by entity and action",
                   [q("q1", f"sum:{POLICY}{{{F_SVC},archway.policy.guardrail:pii}} "
                            f"by {{archway.policy.entity,archway.policy.action}}.as_rate()")],
                   [{"formula": "q1"}], display="bars"),
        timeseries("Blocked requests/s by guardrail",
                   [q("q1", f"sum:{POLICY}{{{F_SVC},archway.policy.action:block}} by {{archway.policy.guardrail}}.as_rate()")],
                   [{"formula": "q1"}], display="bars"),
        timeseries("Prompt injections/s by action",
                   [q("q1", f"sum:{POLICY}{{{F_SVC},archway.policy.guardrail:injection}} by {{archway.policy.action}}.as_rate()")],
                   [{"formula": "q1"}], display="bars",
                   markers=[{"value": f"y = {INJECTION_SURGE_PER_MIN / 60:.4g}", "display_type": "error dashed",
                             "label": f"ArchwayPromptInjectionSurge {INJECTION_SURGE_PER_MIN:g}/min"}]),
    ]))
    return {
        "title": "Archway / Overview (OTLP)",
        "description": "Archway gateway overview over OTLP-ingested metrics: traffic, errors, latency, tokens, "
                       "cost, retries, telemetry loss, routing, workflows, policy. Generated by dashboards/datadog/generate.py.",
        "layout_type": "ordered",
        "reflow_type": "auto",
        "notify_list": [],
        "template_variables": [
            {"name": "service", "prefix": "service", "available_values": [], "default": "archway"},
            {"name": "env", "prefix": "env", "available_values": [], "default": "*"},
            {"name": "provider", "prefix": "gen_ai.provider.name", "available_values": [], "default": "*"},
            {"name": "model", "prefix": "gen_ai.request.model", "available_values": [], "default": "*"},
            {"name": "archway_model", "prefix": "archway.model", "available_values": [], "default": "*"},
            {"name": "route", "prefix": "http.route", "available_values": [], "default": "*"},
            {"name": "workflow", "prefix": "gen_ai.workflow.name", "available_values": [], "default": "*"},
        ],
        "widgets": widgets,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"stale: {OUT} (run dashboards/datadog/generate.py)", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote dashboards/datadog/{OUT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
