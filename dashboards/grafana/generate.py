#!/usr/bin/env python3
"""Generates the Grafana dashboards in this directory (Grafana 10/11 JSON model, schemaVersion 39).

    .venv/bin/python dashboards/grafana/generate.py          # rewrite the JSON files
    .venv/bin/python dashboards/grafana/generate.py --check  # exit 1 if they are stale

The JSON files are committed and importable as they are; this script is where they are edited, so the
queries stay consistent with each other and with alerts/generate.py (the SLO view reads the SLI
definitions and objectives from there). Tests/observability evaluates every query against a real
Prometheus scraping a real Archway.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

_spec = importlib.util.spec_from_file_location("archway_alerts", REPO / "alerts" / "generate.py")
alerts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(alerts)

PROM = {"type": "prometheus", "uid": "${datasource}"}
TEMPO = {"type": "tempo", "uid": "${tempo}"}
RI = "$__rate_interval"

# Label filters driven by the template variables.
F_GENAI = 'job=~"$job", gen_ai_provider_name=~"$provider", gen_ai_request_model=~"$model"'
F_HTTP = 'job=~"$job", http_route=~"$route"'
F_COST = 'job=~"$job", gen_ai_provider_name=~"$provider", gen_ai_request_model=~"$model", archway_model=~"$archway_model"'
F_RETRY = 'job=~"$job", gen_ai_request_model=~"$model"'
API = 'http_route=~"/v1/.+"'

DUR = "gen_ai_client_operation_duration_seconds"
TTFT = "gen_ai_client_operation_time_to_first_chunk_seconds"
TPOC = "gen_ai_client_operation_time_per_output_chunk_seconds"
TOK = "gen_ai_client_token_usage"
HTTP = "http_server_request_duration_seconds"
# A failed request: a 5xx (its error.type is the status) or an answer broken after its 200; not a client that left.
HTTP_FAILED = 'error_type!~"|client_closed"'
COST = "archway_cost_USD_total"
RETRIES = "archway_upstream_retries_total"
DROPPED = "archway_telemetry_dropped_total"
OPEN_CONNS = "http_client_open_connections"
WAITING_CALLS = "archway_upstream_waiting_calls"
PROCESS_MEMORY = "process_memory_usage_bytes"
PROCESS_CPU = "process_cpu_time_seconds_total"
PROCESS_THREADS = "process_thread_count"
PROCESS_FDS = "process_unix_file_descriptor_count"
DECISIONS = "archway_route_decisions_total"
FALLBACKS = "archway_route_fallbacks_total"
EJECTIONS = "archway_endpoint_ejections_total"
PROBES = "archway_endpoint_probes_total"
EP_LATENCY = "archway_endpoint_latency_seconds"
EP_EJECTED = "archway_endpoint_ejected"
EP_PRICE = "archway_endpoint_price_USD"
ELIGIBLE = "archway_route_eligible_candidates"
BAR = "archway_route_min_quality"
CONSISTENCY = "archway_consistency_score"
CONSISTENCY_SAMPLES = "archway_consistency_samples_total"
SHADOW = "archway_shadow_samples_total"
WF_DUR = "gen_ai_workflow_duration_seconds"
WF_STEP = "archway_workflow_step_duration_seconds"
WF_COST = "archway_workflow_step_cost_USD_total"
WF_FAILURE_SHARE = alerts.WORKFLOW_FAILURE_SHARE   # ArchwayWorkflowFailureRateHigh
POLICY = "archway_policy_detections_total"
INJECTION_SURGE_PER_MIN = alerts.INJECTION_SURGE_PER_MINUTE   # ArchwayPromptInjectionSurge
DEFAULT_MIN_SCORE = 0.6        # a route's consistency.min_score when its config sets none
F_ROUTE = 'job=~"$job"'
F_ENDPOINT = 'job=~"$job", archway_model=~"$archway_model"'
F_WORKFLOW = 'job=~"$job", gen_ai_workflow_name=~"$workflow"'
F_POLICY = 'job=~"$job"'


# ---------------------------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------------------------

def datasource_var(name: str, label: str, kind: str) -> dict:
    return {"name": name, "label": label, "type": "datasource", "query": kind, "current": {},
            "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1, "regex": "",
            "skipUrlSync": False}


def query_var(name: str, label: str, query: str, multi: bool = True) -> dict:
    return {"name": name, "label": label, "type": "query", "datasource": PROM,
            "definition": query, "query": query,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {},
            "hide": 0, "includeAll": True, "allValue": ".*", "multi": multi, "options": [],
            "refresh": 2, "regex": "", "sort": 1, "skipUrlSync": False}


def variables(*names: str) -> list[dict]:
    known = {
        "datasource": datasource_var("datasource", "Prometheus", "prometheus"),
        "tempo": datasource_var("tempo", "Tempo (traces)", "tempo"),
        "job": query_var("job", "Job", f"label_values({HTTP}_count, job)"),
        "route": query_var("route", "Route", f'label_values({HTTP}_count{{job=~"$job"}}, http_route)'),
        "provider": query_var("provider", "Provider", f'label_values({DUR}_count{{job=~"$job"}}, gen_ai_provider_name)'),
        "model": query_var("model", "Model (upstream id)",
                           f'label_values({DUR}_count{{job=~"$job", gen_ai_provider_name=~"$provider"}}, gen_ai_request_model)'),
        "archway_model": query_var("archway_model", "Model (client-facing)",
                                   f'label_values({COST}{{job=~"$job", gen_ai_provider_name=~"$provider", gen_ai_request_model=~"$model"}}, archway_model)'),
        "workflow": query_var("workflow", "Workflow", f'label_values({WF_DUR}_count{{job=~"$job"}}, gen_ai_workflow_name)'),
    }
    return [known[n] for n in names]


def target(expr: str, legend: str = "", *, exemplar: bool = False, instant: bool = False,
           fmt: str | None = None) -> dict:
    t = {"datasource": PROM, "editorMode": "code", "expr": expr, "legendFormat": legend or "__auto",
         "range": not instant, "instant": instant, "exemplar": exemplar}
    if fmt:
        t["format"] = fmt
    return t


def tempo_explore_link(title: str, traceql: str) -> dict:
    """A data link that opens Grafana Explore on the Tempo datasource with a TraceQL search."""
    panes = {"a": {"datasource": "${tempo}", "queries": [
        {"refId": "A", "datasource": TEMPO, "queryType": "traceql", "query": traceql, "limit": 20}],
        "range": {"from": "${__from}", "to": "${__to}"}}}
    raw = json.dumps(panes, separators=(",", ":"))
    # Keep ${...} placeholders readable for Grafana's interpolation; encode everything else.
    encoded = urllib.parse.quote(raw, safe="${}:._")
    return {"title": title, "url": f"/explore?schemaVersion=1&panes={encoded}", "targetBlank": False}


class Layout:
    def __init__(self) -> None:
        self.x = self.y = 0
        self.row_h = 0
        self.next_id = 1
        self.panels: list[dict] = []

    def _id(self) -> int:
        i = self.next_id
        self.next_id += 1
        return i

    def row(self, title: str) -> None:
        if self.x:
            self.y += self.row_h
            self.x = self.row_h = 0
        self.panels.append({"type": "row", "title": title, "collapsed": False, "panels": [],
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "id": self._id()})
        self.y += 1

    def add(self, panel: dict, w: int, h: int) -> dict:
        if self.x + w > 24:
            self.y += self.row_h
            self.x = self.row_h = 0
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        panel["id"] = self._id()
        for i, t in enumerate(panel.get("targets", [])):
            t["refId"] = chr(ord("A") + i)
        self.x += w
        self.row_h = max(self.row_h, h)
        self.panels.append(panel)
        return panel


def timeseries(title: str, targets: list[dict], unit: str, desc: str = "", *, min0: bool = True,
               links: list[dict] | None = None, thresholds: list[tuple[float, str]] | None = None,
               red_below: float | None = None, stack: bool = False,
               calcs: tuple[str, ...] = ("mean", "max", "lastNotNull")) -> dict:
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
              "spanNulls": False, "axisSoftMin": 0 if min0 else None,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    custom = {k: v for k, v in custom.items() if v is not None}
    defaults: dict = {"unit": unit, "custom": custom}
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": [{"color": "green", "value": None}] +
                                  [{"color": c, "value": v} for v, c in thresholds]}
        custom["thresholdsStyle"] = {"mode": "line+area"}
    if red_below is not None:  # a floor: red area under a dashed line
        defaults["thresholds"] = {"mode": "absolute", "steps": [{"color": "red", "value": None},
                                                                {"color": "transparent", "value": red_below}]}
        custom["thresholdsStyle"] = {"mode": "dashed+area"}
    p = {"type": "timeseries", "title": title, "description": desc, "datasource": PROM, "targets": targets,
         "fieldConfig": {"defaults": defaults, "overrides": []},
         "options": {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                                "calcs": list(calcs)},
                     "tooltip": {"mode": "multi", "sort": "desc"}}}
    if links:
        p["links"] = links
    return p


def stat(title: str, expr: str, unit: str, desc: str = "", *, red_above: float | None = None,
         red_below: float | None = None, decimals: int | None = None, legend: str = "") -> dict:
    steps = [{"color": "green", "value": None}]
    if red_above is not None:
        steps.append({"color": "red", "value": red_above})
    if red_below is not None:
        steps = [{"color": "red", "value": None}, {"color": "green", "value": red_below}]
    defaults = {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}, "color": {"mode": "thresholds"}}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {"type": "stat", "title": title, "description": desc, "datasource": PROM,
            "targets": [target(expr, legend)],
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                        "orientation": "auto", "textMode": "auto"}}


def heatmap(title: str, expr: str, unit: str, desc: str = "") -> dict:
    return {"type": "heatmap", "title": title, "description": desc, "datasource": PROM,
            "targets": [target(expr, "{{le}}", exemplar=True, fmt="heatmap")],
            "fieldConfig": {"defaults": {"custom": {"scaleDistribution": {"type": "linear"}}}, "overrides": []},
            "options": {"calculate": False, "cellGap": 1, "yAxis": {"axisPlacement": "left", "unit": unit},
                        "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64, "exponent": 0.5},
                        "exemplars": {"color": "rgba(255,0,255,0.7)"}, "filterValues": {"le": 1e-9},
                        "rowsFrame": {"layout": "auto"}, "tooltip": {"show": True, "yHistogram": True},
                        "legend": {"show": True}}}


def bars(title: str, expr: str, unit: str, legend: str, desc: str = "") -> dict:
    return {"type": "bargauge", "title": title, "description": desc, "datasource": PROM,
            "targets": [target(expr, legend, instant=True)],
            "fieldConfig": {"defaults": {"unit": unit, "min": 0, "color": {"mode": "palette-classic"}}, "overrides": []},
            "options": {"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True,
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}}


def pie(title: str, expr: str, legend: str, desc: str = "") -> dict:
    return {"type": "piechart", "title": title, "description": desc, "datasource": PROM,
            "targets": [target(expr, legend, instant=True)],
            "fieldConfig": {"defaults": {"unit": "short", "color": {"mode": "palette-classic"}}, "overrides": []},
            "options": {"pieType": "donut", "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "legend": {"displayMode": "table", "placement": "right", "showLegend": True,
                                   "values": ["value", "percent"]},
                        "tooltip": {"mode": "single"}}}


def traces_table(title: str, traceql: str, desc: str = "") -> dict:
    return {"type": "table", "title": title, "description": desc, "datasource": TEMPO,
            "targets": [{"datasource": TEMPO, "queryType": "traceql", "query": traceql, "limit": 20,
                         "tableType": "traces"}],
            "fieldConfig": {"defaults": {}, "overrides": []}, "options": {"showHeader": True}}


def text(content: str) -> dict:
    return {"type": "text", "title": "", "options": {"mode": "markdown", "content": content}}


def quantiles(metric: str, filters: str, by: str, qs=(0.5, 0.95, 0.99), extra: str = "") -> list[dict]:
    sel = f"{metric}_bucket{{{filters}{extra}}}"
    return [target(f"histogram_quantile({q}, sum by (le, {by}) (rate({sel}[{RI}])))",
                   f"p{int(q * 100)} " + " ".join("{{%s}}" % b.strip() for b in by.split(",")), exemplar=True)
            for q in qs]


def ratio_or_zero(bad: str, total: str, by: str, rng: str = RI) -> str:
    agg = f"sum by ({by}) " if by else "sum "
    return (f"(\n  {agg}(rate({bad}[{rng}]))\n  or\n  0 * {agg}(rate({total}[{rng}]))\n)\n"
            f"/\n{agg}(rate({total}[{rng}]))")


def dashboard(uid: str, title: str, description: str, panels: list[dict], var_names: list[str],
              tags: list[str]) -> dict:
    return {
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "links": [{"asDropdown": False, "icon": "external link", "includeVars": True, "keepTime": True,
                   "tags": ["archway"], "targetBlank": False, "title": "Archway", "type": "dashboards"}],
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["archway", *tags],
        "templating": {"list": variables(*var_names)},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


TRACE_LINK_MODEL = [
    tempo_explore_link("Failed calls to ${__field.labels.gen_ai_request_model} (Tempo)",
                       '{ span.gen_ai.request.model = "${__field.labels.gen_ai_request_model}" && status = error }'),
    tempo_explore_link("Slowest calls to ${__field.labels.gen_ai_request_model} (Tempo)",
                       '{ span.gen_ai.request.model = "${__field.labels.gen_ai_request_model}" && duration > 2s }'),
]


# ---------------------------------------------------------------------------------------------
# Overview
# ---------------------------------------------------------------------------------------------

def overview() -> dict:
    L = Layout()
    L.row("At a glance")
    L.add(stat("API requests/s", f"sum(rate({HTTP}_count{{{F_HTTP}, {API}}}[{RI}]))", "reqps",
               "Requests per second on the OpenAI/Anthropic API routes (/v1/*)."), 4, 4)
    L.add(stat("HTTP error ratio",
               f'(sum(rate({HTTP}_count{{{F_HTTP}, {HTTP_FAILED}}}[{RI}])) or vector(0))\n'
               f"/\nsum(rate({HTTP}_count{{{F_HTTP}}}[{RI}]))", "percentunit",
               "Share of requests that failed: a 5xx status, or a stream broken after its 200 (error.type).",
               red_above=0.01), 4, 4)
    L.add(stat("Model call error ratio",
               f'(sum(rate({DUR}_count{{{F_GENAI}, error_type!=""}}[{RI}])) or vector(0))\n'
               f"/\nsum(rate({DUR}_count{{{F_GENAI}}}[{RI}]))", "percentunit",
               "Share of upstream model calls that failed (any error.type).", red_above=0.01), 4, 4)
    L.add(stat("p95 model call latency",
               f"histogram_quantile(0.95, sum by (le) (rate({DUR}_bucket{{{F_GENAI}}}[{RI}])))", "s",
               "gen_ai.client.operation.duration, whole call (streams included).", red_above=10), 4, 4)
    L.add(stat("p95 time to first token",
               f"histogram_quantile(0.95, sum by (le) (rate({TTFT}_bucket{{{F_GENAI}}}[{RI}])))", "s",
               "gen_ai.client.operation.time_to_first_chunk (streams only).", red_above=2), 4, 4)
    L.add(stat("Spend in range", f"sum(increase({COST}{{{F_COST}}}[$__range]))", "currencyUSD",
               "archway.cost over the selected time range.", decimals=2), 4, 4)

    L.row("Traffic")
    L.add(timeseries("Requests/s by route and status",
                     [target(f"sum by (http_route, http_response_status_code) (rate({HTTP}_count{{{F_HTTP}}}[{RI}]))",
                             "{{http_route}} {{http_response_status_code}}")], "reqps",
                     "http.server.request.duration count, all routes (unknown paths are `other`)."), 10, 8)
    L.add(timeseries("Model calls/s by model",
                     [target(f"sum by (gen_ai_provider_name, gen_ai_request_model, gen_ai_operation_name) "
                             f"(rate({DUR}_count{{{F_GENAI}}}[{RI}]))",
                             "{{gen_ai_provider_name}}/{{gen_ai_request_model}} {{gen_ai_operation_name}}")],
                     "reqps", "Upstream model calls (one per client request; retries are not extra calls).",
                     links=TRACE_LINK_MODEL), 9, 8)
    L.add(pie("HTTP status codes (range)",
              f"sum by (http_response_status_code) (increase({HTTP}_count{{{F_HTTP}}}[$__range]))",
              "{{http_response_status_code}}"), 5, 8)

    L.row("Errors")
    L.add(timeseries("Model call error ratio by model",
                     [target(ratio_or_zero(f'{DUR}_count{{{F_GENAI}, error_type!=""}}', f"{DUR}_count{{{F_GENAI}}}",
                                           "gen_ai_provider_name, gen_ai_request_model"),
                             "{{gen_ai_provider_name}}/{{gen_ai_request_model}}")], "percentunit",
                     "Failed calls / all calls per upstream model.", links=TRACE_LINK_MODEL), 8, 8)
    L.add(timeseries("Model errors/s by error.type",
                     [target(f'sum by (gen_ai_provider_name, error_type) (rate({DUR}_count{{{F_GENAI}, error_type!=""}}[{RI}]))',
                             "{{gen_ai_provider_name}} {{error_type}}")], "reqps",
                     "error.type: upstream HTTP status (429, 500, 503…), timeout, connection_error, "
                     "stream_interrupted, client_closed…", stack=True), 8, 8)
    L.add(timeseries("HTTP error ratio by route",
                     [target(ratio_or_zero(f'{HTTP}_count{{{F_HTTP}, {HTTP_FAILED}}}',
                                           f"{HTTP}_count{{{F_HTTP}}}", "http_route"), "{{http_route}}")],
                     "percentunit"), 8, 8)

    L.row("Latency")
    L.add(timeseries("Model call latency p50 / p95 / p99",
                     quantiles(DUR, F_GENAI, "gen_ai_request_model"), "s",
                     "Exemplars (when the datasource has them) link to the trace in Tempo.",
                     links=TRACE_LINK_MODEL), 8, 9)
    L.add(timeseries("Time to first token p50 / p95 / p99 (streams)",
                     quantiles(TTFT, F_GENAI, "gen_ai_request_model"), "s",
                     "gen_ai.client.operation.time_to_first_chunk.", links=TRACE_LINK_MODEL), 8, 9)
    L.add(timeseries("HTTP request latency p50 / p95 / p99 by route",
                     quantiles(HTTP, F_HTTP, "http_route"), "s",
                     "http.server.request.duration; a stream counts until its last byte."), 8, 9)

    L.row("Tokens")
    L.add(timeseries("Output tokens/s (throughput) by model",
                     [target(f'sum by (gen_ai_request_model) (rate({TOK}_sum{{{F_GENAI}, gen_ai_token_type="output"}}[{RI}]))',
                             "{{gen_ai_request_model}}")], "short",
                     "Output tokens generated per second across all calls."), 8, 8)
    L.add(timeseries("Per-stream output speed (chunks/s ≈ tokens/s)",
                     [target(f"sum by (gen_ai_request_model) (rate({TPOC}_count{{{F_GENAI}}}[{RI}]))\n/\n"
                             f"sum by (gen_ai_request_model) (rate({TPOC}_sum{{{F_GENAI}}}[{RI}]))",
                             "{{gen_ai_request_model}}")], "short",
                     "1 / mean gen_ai.client.operation.time_per_output_chunk: how fast one stream is generated."), 8, 8)
    L.add(timeseries("Tokens/s by type",
                     [target(f"sum by (gen_ai_request_model, gen_ai_token_type) (rate({TOK}_sum{{{F_GENAI}}}[{RI}]))",
                             "{{gen_ai_request_model}} {{gen_ai_token_type}}")], "short", stack=True), 8, 8)

    L.row("Cost")
    L.add(timeseries("Cost per hour by model (USD/h)",
                     [target(f"sum by (archway_model) (rate({COST}{{{F_COST}}}[{RI}])) * 3600", "{{archway_model}}")],
                     "currencyUSD", "archway.cost rate by client-facing model name, scaled to an hour; "
                     "all purposes (client calls, shadow samples, probes).", stack=True), 10, 8)
    L.add(timeseries("Cost per hour by provider (USD/h)",
                     [target(f"sum by (gen_ai_provider_name) (rate({COST}{{{F_COST}}}[{RI}])) * 3600",
                             "{{gen_ai_provider_name}}")], "currencyUSD", stack=True), 7, 8)
    L.add(bars("Spend by model (range)",
               f"sort_desc(sum by (archway_model) (increase({COST}{{{F_COST}}}[$__range])))",
               "currencyUSD", "{{archway_model}}"), 7, 8)

    L.row("Retries and telemetry")
    L.add(timeseries("Upstream retries/s",
                     [target(f"sum by (archway_provider, gen_ai_request_model) (rate({RETRIES}{{{F_RETRY}}}[{RI}]))",
                             "{{archway_provider}} {{gen_ai_request_model}}")], "short",
                     "archway.upstream.retries: extra attempts after 429/5xx/connection errors. "
                     "The series appears with the first retry."), 12, 7)
    L.add(timeseries("Telemetry spans dropped/s",
                     [target(f'sum by (job, reason) (rate({DROPPED}{{job=~"$job"}}[{RI}]))', "{{job}} {{reason}}")],
                     "short", "archway.telemetry.dropped: spans lost (queue_full, export_failed). "
                     "The series appears with the first loss.", thresholds=[(0.001, "red")]), 12, 7)

    L.row("Upstream connections")
    L.add(timeseries("Upstream connections by host and state",
                     [target(f'sum by (server_address, server_port, http_connection_state) ({OPEN_CONNS}{{job=~"$job"}})',
                             "{{server_address}}:{{server_port}} {{http_connection_state}}")], "short",
                     "http.client.open_connections: pooled HTTP/1.1 connections to each upstream host, active "
                     "(carrying a call, stream included) or idle (kept alive for reuse, closed after 60-70 s).",
                     stack=True), 12, 7)
    L.add(timeseries("Calls waiting for an upstream connection",
                     [target(f'sum by (server_address, server_port) ({WAITING_CALLS}{{job=~"$job"}})',
                             "{{server_address}}:{{server_port}}")], "short",
                     "archway.upstream.waiting_calls: calls queued because their host is at "
                     "upstream.max_connections_per_host; they wait until a connection frees up or their deadline.",
                     thresholds=[(1, "red")]), 12, 7)

    L.row("Gateway process")
    L.add(timeseries("Resident memory by instance",
                     [target(f'sum by (job, instance) ({PROCESS_MEMORY}{{job=~"$job"}})', "{{job}} {{instance}}")], "bytes",
                     "process.memory.usage: the gateway's resident memory (RSS), every 5 s. After a load peak it "
                     "settles back towards idle within a minute or so (the allocator returns freed pages)."), 8, 7)
    L.add(timeseries("CPU by instance and mode (cores)",
                     [target(f'sum by (job, instance, cpu_mode) (rate({PROCESS_CPU}{{job=~"$job"}}[{RI}]))',
                             "{{job}} {{instance}} {{cpu_mode}}")], "short",
                     "process.cpu.time by cpu.mode (user, system): CPU seconds per second, i.e. cores busy.",
                     stack=True), 8, 7)
    L.add(timeseries("Open file descriptors and threads",
                     [target(f'sum by (job, instance) ({PROCESS_FDS}{{job=~"$job"}})', "descriptors {{instance}}"),
                      target(f'sum by (job, instance) ({PROCESS_THREADS}{{job=~"$job"}})', "threads {{instance}}")],
                     "short", "process.unix.file_descriptor.count (client and upstream sockets, files) and "
                     "process.thread.count. Descriptors that climb with traffic and never fall back point at leaked "
                     "connections; compare with the process's limit (ulimit -n)."), 8, 7)

    L.row("Routing")
    L.add(timeseries("Share of decisions by chosen model",
                     [target(f"sum by (archway_route_name, archway_route_chosen) (rate({DECISIONS}{{{F_ROUTE}}}[{RI}]))\n"
                             f"/ on (archway_route_name) group_left\n"
                             f"sum by (archway_route_name) (rate({DECISIONS}{{{F_ROUTE}}}[{RI}]))",
                             "{{archway_route_name}} → {{archway_route_chosen}}")], "percentunit",
                     "archway.route.decisions: which configured model answered each route's requests.", stack=True), 8, 8)
    L.add(timeseries("Decisions/s by reason",
                     [target(f"sum by (archway_route_name, archway_route_reason) (rate({DECISIONS}{{{F_ROUTE}}}[{RI}]))",
                             "{{archway_route_name}} {{archway_route_reason}}")], "reqps",
                     "lowest_cost, lowest_latency, weighted, first_eligible, exploration, over_budget, all_ejected, "
                     "all_inconsistent (every candidate left is one whose answers stopped agreeing with the route's "
                     "consistency reference), fallback (the first choice failed and another candidate answered).",
                     stack=True), 8, 8)
    L.add(timeseries("Fallback rate by route",
                     [target(ratio_or_zero(f"{FALLBACKS}{{{F_ROUTE}}}", f"{DECISIONS}{{{F_ROUTE}}}", "archway_route_name"),
                             "{{archway_route_name}}")], "percentunit",
                     "archway.route.fallbacks / archway.route.decisions: moves to another candidate per decision."), 8, 8)
    L.add(timeseries("Ejections and probes",
                     [target(f"sum by (archway_model) (increase({EJECTIONS}{{{F_ENDPOINT}}}[{RI}]))", "ejected {{archway_model}}"),
                      target(f"sum by (archway_model, outcome) (increase({PROBES}{{{F_ENDPOINT}}}[{RI}]))",
                             "probe {{archway_model}} {{outcome}}")], "short",
                     "A model is ejected after consecutive failures and probed until it answers again."), 8, 8)
    L.add(timeseries("Ejected models and eligible candidates",
                     [target(f"max by (archway_model) ({EP_EJECTED}{{{F_ENDPOINT}}})", "ejected {{archway_model}}"),
                      target(f"min by (archway_route_name) ({ELIGIBLE}{{{F_ROUTE}}})", "eligible in {{archway_route_name}}")],
                     "short", "A route with no eligible candidate alerts (ArchwayRouteNoEligibleCandidate)."), 8, 8)
    L.add(timeseries("Effective price (USD per million tokens)",
                     [target(f"max by (archway_model, gen_ai_token_type) ({EP_PRICE}{{{F_ENDPOINT}}})",
                             "{{archway_model}} {{gen_ai_token_type}}")], "currencyUSD",
                     "The price in force now: schedules, PUT /admin/pricing and pricing.file included."), 8, 8)
    L.add(timeseries("Endpoint latency p95 (routing window)",
                     [target(f'max by (archway_model) ({EP_LATENCY}{{{F_ENDPOINT}, quantile="0.95"}})', "{{archway_model}}")],
                     "s", "archway.endpoint.latency: the sliding-window p95 the latency budget is checked against."), 16, 7)
    L.add(timeseries("Quality bar in force",
                     [target(f"min by (archway_route_name) ({BAR}{{{F_ROUTE}}})", "{{archway_route_name}}")], "short",
                     "archway.route.min_quality: the route's bar, or its under_load bar while it is loaded."), 8, 7)
    L.add(timeseries("Consistency score by route and model",
                     [target(f"min by (archway_route_name, archway_model) ({CONSISTENCY}{{{F_ENDPOINT}}})",
                             "{{archway_route_name}} {{archway_model}}")], "short",
                     "archway.consistency.score: each sampled candidate's windowed mean agreement (0..1) with its "
                     "route's consistency reference. A model below the route's min_score is left out of the route "
                     f"(reason all_inconsistent when nothing else is left). The dashed line is the default min_score "
                     f"({DEFAULT_MIN_SCORE:g}); a route's own min_score lives in its `consistency` config "
                     "(GET /admin/routing shows it). Alerts: ArchwayModelInconsistent.",
                     red_below=DEFAULT_MIN_SCORE, calcs=("min", "lastNotNull")), 6, 8)
    L.add(timeseries("Consistency samples by label",
                     [target(f"sum by (archway_route_name, archway_model, gen_ai_evaluation_score_label) "
                             f"(rate({CONSISTENCY_SAMPLES}{{{F_ENDPOINT}}}[{RI}]))",
                             "{{archway_route_name}} {{archway_model}} {{gen_ai_evaluation_score_label}}")], "short",
                     "archway.consistency.samples/s: scored answers, consistent (at or above the route's min_score) "
                     "or inconsistent. The scores themselves are also exported as gen_ai.evaluation.result log records.",
                     stack=True), 6, 8)
    L.add(timeseries("Shadow samples by outcome",
                     [target(f"sum by (archway_route_name, outcome) (rate({SHADOW}{{{F_ROUTE}}}[{RI}]))",
                             "{{archway_route_name}} {{outcome}}")], "short",
                     "archway.shadow.samples/s: evaluated, dropped (the shadow queue was full: raise shadow.queue_size "
                     "or max_concurrency, or lower sample_rate) and failed (a shadow call to the reference or a "
                     "rechecked model failed). Dropped and failed are what to watch (ArchwayShadowSamplesDropped).",
                     stack=True), 6, 8)
    L.add(timeseries("Shadow spend (USD/h)",
                     [target(f'sum by (archway_model) (rate({COST}{{{F_COST}, archway_call_purpose="shadow"}}[{RI}])) * 3600',
                             "{{archway_model}}")], "currencyUSD",
                     "archway.cost with archway.call.purpose=\"shadow\": what the consistency samples' shadow calls "
                     "(reference answers, rechecks, embeddings) cost, by the model called. Included in the cost panels above.",
                     stack=True), 6, 8)

    L.row("Workflows")
    L.add(timeseries("Workflow runs/s by workflow",
                     [target(f"sum by (gen_ai_workflow_name) (rate({WF_DUR}_count{{{F_WORKFLOW}}}[{RI}]))",
                             "{{gen_ai_workflow_name}}")], "ops",
                     "gen_ai.workflow.duration count: runs of each workflow (POST /v1/workflows/{name}/runs and the "
                     "model workflow/{name}), finished or failed.", stack=True), 8, 8)
    L.add(timeseries("Workflow failures by workflow and error",
                     [target(f'sum by (gen_ai_workflow_name, error_type) (rate({WF_DUR}_count{{{F_WORKFLOW}, error_type!=""}}[{RI}]))',
                             "{{gen_ai_workflow_name}} {{error_type}}")], "ops",
                     "Failed runs/s by error.type: deadline_exceeded (the run's deadline_ms ran out), a step's failure "
                     "(missing_value, invalid_json, not_a_list, timeout: its timeout_ms) or the failing call's class "
                     "(429, 503, connection_error…). Steps with on_error skip/default do not fail the run. "
                     "The series appears with the first failure.", stack=True), 8, 8)
    L.add(timeseries("Workflow failure ratio by workflow",
                     [target(ratio_or_zero(f'{WF_DUR}_count{{{F_WORKFLOW}, error_type!=""}}', f"{WF_DUR}_count{{{F_WORKFLOW}}}",
                                           "gen_ai_workflow_name"), "{{gen_ai_workflow_name}}")], "percentunit",
                     f"Failed runs / all runs. Above {WF_FAILURE_SHARE:.0%} over 15m for 15m: ArchwayWorkflowFailureRateHigh.",
                     thresholds=[(WF_FAILURE_SHARE, "red")]), 8, 8)
    L.add(timeseries("Workflow p95 duration by workflow",
                     quantiles(WF_DUR, F_WORKFLOW, "gen_ai_workflow_name", (0.95,)), "s",
                     "gen_ai.workflow.duration of every run, failed ones included (a run cut off by its deadline "
                     "lasts about deadline_ms)."), 8, 8)
    L.add(timeseries("Step p95 duration by workflow and step",
                     quantiles(WF_STEP, F_WORKFLOW, "gen_ai_workflow_name, archway_workflow_step_name", (0.95,)), "s",
                     "archway.workflow.step.duration, every status: a step's own time, its retries and (for map "
                     "steps) all its items included. The slowest step on the critical path sets the run's duration."), 8, 8)
    L.add(timeseries("Step status by workflow and step",
                     [target(f"sum by (gen_ai_workflow_name, archway_workflow_step_name, archway_workflow_step_status) "
                             f"(rate({WF_STEP}_count{{{F_WORKFLOW}}}[{RI}]))",
                             "{{gen_ai_workflow_name}} {{archway_workflow_step_name}} {{archway_workflow_step_status}}")], "ops",
                     "Steps/s by archway.workflow.step.status: succeeded, failed (fails the run), skipped and defaulted "
                     "(failed, but on_error kept the run going), cancelled (stopped because another step failed the run).",
                     stack=True), 8, 8)
    L.add(timeseries("Workflow cost (USD/h) by workflow and step",
                     [target(f"sum by (gen_ai_workflow_name, archway_workflow_step_name) (rate({WF_COST}{{{F_WORKFLOW}}}[{RI}])) * 3600",
                             "{{gen_ai_workflow_name}} {{archway_workflow_step_name}}")], "currencyUSD",
                     "archway.workflow.step.cost: what each step's model calls cost (every attempt and map item). The same "
                     "calls are in archway.cost (archway_call_purpose=\"client\"), so this breaks the cost panels above "
                     "down by workflow; it is not extra spend.", stack=True), 24, 8)

    L.row("Policy")
    L.add(timeseries("Policy detections/s by entity and action",
                     [target(f'sum by (archway_policy_entity, archway_policy_action) '
                             f'(rate({POLICY}{{{F_POLICY}, archway_policy_guardrail="pii"}}[{RI}]))',
                             "{{archway_policy_entity}} {{archway_policy_action}}")], "ops",
                     "archway.policy.detections of the PII guardrail: one per entity kind found in a request (email, "
                     "phone, credit_card, iban, us_ssn, ip_address, secret or a configured custom pattern), by the "
                     "configured action (redact, mask, block, detect). Only kinds are counted, never values. "
                     "The series appears with the first detection.", stack=True), 8, 8)
    L.add(timeseries("Blocked requests/s by guardrail",
                     [target(f'sum by (archway_policy_guardrail) '
                             f'(rate({POLICY}{{{F_POLICY}, archway_policy_action="block"}}[{RI}]))',
                             "{{archway_policy_guardrail}}")], "reqps",
                     "Requests refused with 400 policy_violation (nothing sent to the model), by guardrail: injection "
                     "(checked first) or pii with action block. A pii block counts once per entity kind found, so a "
                     "request carrying two kinds counts twice. Also visible as 400s in HTTP status codes.",
                     stack=True), 8, 8)
    L.add(timeseries("Prompt injections/s by action",
                     [target(f'sum by (archway_policy_action) '
                             f'(rate({POLICY}{{{F_POLICY}, archway_policy_guardrail="injection"}}[{RI}]))',
                             "{{archway_policy_action}}")], "ops",
                     "archway.policy.detections of the injection guardrail (score at or above policy.injection.threshold): "
                     "block (refused), flag (sent, logged) or detect (sent, counted). Above "
                     f"{INJECTION_SURGE_PER_MIN:g}/min over 10m for 10m: ArchwayPromptInjectionSurge; the SERVER spans with an "
                     "`apply_guardrail injection` child show which requests.", stack=True,
                     thresholds=[(INJECTION_SURGE_PER_MIN / 60, "red")]), 8, 8)

    L.row("Traces (Tempo)")
    L.add(traces_table("Recent failed model calls",
                       '{ span.gen_ai.operation.name != nil && span.gen_ai.request.model =~ "${model:regex}" && status = error }',
                       "TraceQL on the Tempo datasource selected in `tempo`."), 12, 8)
    L.add(traces_table("Recent slow model calls (> 2.56s)",
                       '{ span.gen_ai.operation.name != nil && span.gen_ai.request.model =~ "${model:regex}" && duration > 2560ms }'),
          12, 8)
    return dashboard("archway-overview", "Archway / Overview",
                     "Archway gateway overview: traffic, errors, latency, tokens, cost, retries, telemetry loss, routing, "
                     "workflows, policy, the gateway process.",
                     L.panels, ["datasource", "tempo", "job", "route", "provider", "model", "archway_model", "workflow"],
                     ["overview", "genai"])


# ---------------------------------------------------------------------------------------------
# Per-model drill-down
# ---------------------------------------------------------------------------------------------

def model_drilldown() -> dict:
    L = Layout()
    L.row("Model")
    L.add(stat("Calls/s", f"sum(rate({DUR}_count{{{F_GENAI}}}[{RI}]))", "reqps"), 4, 4)
    L.add(stat("Error ratio",
               f'(sum(rate({DUR}_count{{{F_GENAI}, error_type!=""}}[{RI}])) or vector(0))\n'
               f"/\nsum(rate({DUR}_count{{{F_GENAI}}}[{RI}]))", "percentunit", red_above=0.01), 4, 4)
    L.add(stat("p95 latency", f"histogram_quantile(0.95, sum by (le) (rate({DUR}_bucket{{{F_GENAI}}}[{RI}])))",
               "s"), 4, 4)
    L.add(stat("p95 time to first token",
               f"histogram_quantile(0.95, sum by (le) (rate({TTFT}_bucket{{{F_GENAI}}}[{RI}])))", "s"), 4, 4)
    L.add(stat("Avg output tokens per call",
               f'sum(rate({TOK}_sum{{{F_GENAI}, gen_ai_token_type="output"}}[{RI}]))\n/\n'
               f'sum(rate({TOK}_count{{{F_GENAI}, gen_ai_token_type="output"}}[{RI}]))', "short", decimals=0), 4, 4)
    L.add(stat("Cost per hour", f"sum(rate({COST}{{{F_COST}}}[{RI}])) * 3600", "currencyUSD", decimals=2), 4, 4)

    L.row("Calls and errors")
    L.add(timeseries("Calls/s by operation and response model",
                     [target(f"sum by (gen_ai_operation_name, gen_ai_request_model, gen_ai_response_model) "
                             f'(rate({DUR}_count{{{F_GENAI}, error_type=""}}[{RI}]))',
                             "{{gen_ai_operation_name}} {{gen_ai_request_model}} → {{gen_ai_response_model}}"),
                      target(f'sum by (gen_ai_operation_name, gen_ai_request_model) (rate({DUR}_count{{{F_GENAI}, error_type!=""}}[{RI}]))',
                             "{{gen_ai_operation_name}} {{gen_ai_request_model}} failed")],
                     "reqps", "Successful calls by the model the upstream reported, and failed calls.",
                     links=TRACE_LINK_MODEL), 12, 8)
    L.add(timeseries("Errors/s by error.type",
                     [target(f'sum by (gen_ai_request_model, error_type) (rate({DUR}_count{{{F_GENAI}, error_type!=""}}[{RI}]))',
                             "{{gen_ai_request_model}} {{error_type}}")], "reqps", stack=True,
                     links=TRACE_LINK_MODEL), 12, 8)

    L.row("Latency")
    L.add(timeseries("Latency p50 / p90 / p99 by operation",
                     quantiles(DUR, F_GENAI, "gen_ai_request_model, gen_ai_operation_name", (0.5, 0.9, 0.99)), "s",
                     links=TRACE_LINK_MODEL), 12, 9)
    L.add(heatmap("Latency distribution",
                  f"sum by (le) (increase({DUR}_bucket{{{F_GENAI}}}[{RI}]))", "s",
                  "Bucket counts of gen_ai.client.operation.duration per interval."), 12, 9)
    L.add(timeseries("Time to first token p50 / p95 / p99",
                     quantiles(TTFT, F_GENAI, "gen_ai_request_model"), "s", links=TRACE_LINK_MODEL), 12, 8)
    L.add(timeseries("Time per output chunk p50 / p95",
                     quantiles(TPOC, F_GENAI, "gen_ai_request_model", (0.5, 0.95)), "s",
                     "gen_ai.client.operation.time_per_output_chunk (streams)."), 12, 8)

    L.row("Tokens and cost")
    L.add(timeseries("Average tokens per call",
                     [target(f"sum by (gen_ai_request_model, gen_ai_token_type) (rate({TOK}_sum{{{F_GENAI}}}[{RI}]))\n/\n"
                             f"sum by (gen_ai_request_model, gen_ai_token_type) (rate({TOK}_count{{{F_GENAI}}}[{RI}]))",
                             "{{gen_ai_request_model}} {{gen_ai_token_type}}")], "short"), 8, 8)
    L.add(timeseries("p95 tokens per call",
                     [target(f"histogram_quantile(0.95, sum by (le, gen_ai_request_model, gen_ai_token_type) "
                             f"(rate({TOK}_bucket{{{F_GENAI}}}[{RI}])))",
                             "p95 {{gen_ai_request_model}} {{gen_ai_token_type}}", exemplar=True)], "short"), 8, 8)
    L.add(timeseries("Cost per hour and per 1000 successful calls",
                     [target(f"sum by (archway_model, gen_ai_operation_name) (rate({COST}{{{F_COST}}}[{RI}])) * 3600",
                             "{{archway_model}} {{gen_ai_operation_name}} USD/h"),
                      target(f"sum(rate({COST}{{{F_COST}}}[{RI}]))\n/\n"
                             f'sum(rate({DUR}_count{{{F_GENAI}, error_type=""}}[{RI}])) * 1000',
                             "USD per 1000 calls")], "currencyUSD"), 8, 8)

    L.row("Upstream")
    L.add(timeseries("Retries/s",
                     [target(f"sum by (archway_provider, gen_ai_request_model) (rate({RETRIES}{{{F_RETRY}}}[{RI}]))",
                             "{{archway_provider}} {{gen_ai_request_model}}")], "short"), 12, 7)
    L.add(timeseries("Calls/s by upstream endpoint",
                     [target(f"sum by (gen_ai_provider_name, server_address, server_port) (rate({DUR}_count{{{F_GENAI}}}[{RI}]))",
                             "{{gen_ai_provider_name}} {{server_address}}:{{server_port}}")], "reqps"), 12, 7)
    L.add(traces_table("Recent calls to this model (Tempo)",
                       '{ span.gen_ai.request.model =~ "${model:regex}" && span.gen_ai.operation.name != nil }'), 24, 8)
    return dashboard("archway-model", "Archway / Model drill-down",
                     "One upstream model: calls, errors, latency, time to first token, tokens, cost, retries.",
                     L.panels, ["datasource", "tempo", "job", "provider", "model", "archway_model"],
                     ["model", "genai"])


# ---------------------------------------------------------------------------------------------
# SLO view (reads the SLIs from alerts/generate.py)
# ---------------------------------------------------------------------------------------------

def _filters_for(sli: dict) -> str:
    return 'job=~"$job", http_route=~"$route"' if "http_route" in sli["by"] else F_GENAI


def _add_filters(selector: str, filters: str) -> str:
    if "{" in selector:
        name, rest = selector.split("{", 1)
        return f"{name}{{{filters}, {rest}"
    return f"{selector}{{{filters}}}"


def _sli_over(sli: dict, rng: str) -> str:
    by = sli["by"]
    f = _filters_for(sli)
    total = f"sum by ({by}) (increase({_add_filters(sli['total'], f)}[{rng}]))"
    if sli["kind"] == "ratio_or_zero":
        bad = f"sum by ({by}) (increase({_add_filters(sli['bad'], f)}[{rng}]))"
        return f"(\n  {bad}\n  or\n  0 * {total}\n)\n/\n{total}"
    good = f"sum by ({by}) (increase({_add_filters(sli['good'], f)}[{rng}]))"
    return f"(\n  {total}\n  -\n  {good}\n)\n/\n{total}"


def _legend(sli: dict) -> str:
    return "{{http_route}}" if "http_route" in sli["by"] else "{{gen_ai_provider_name}}/{{gen_ai_request_model}}"


def slo() -> dict:
    L = Layout()
    lines = ["| SLO | objective | SLI (bad events) | alerts |", "|---|---|---|---|"]
    for sli in alerts.SLIS:
        lines.append(f"| {sli['title']} | {sli['objective'] * 100:g}% | "
                     f"{sli['what'].replace('{{ $labels.http_route }}', 'a route').replace('{{ $labels.gen_ai_provider_name }}/{{ $labels.gen_ai_request_model }}', 'a model')} | "
                     f"`{sli['alert']}BurnRate{{Fast,Slow,Ticket}}` |")
    L.row("Objectives")
    L.add(text("Error-budget burn for Archway's SLOs, computed by the recording rules in "
               "`alerts/archway-slo.rules.yml` (load them into this Prometheus). Burn rate 1 spends the "
               "budget exactly over the SLO period; the multi-window alerts page at 14.4 (1h and 5m) and "
               "6 (6h and 30m) and open a ticket at 3 (1d and 2h) or 1 (3d and 6h).\n\n" + "\n".join(lines)), 24, 7)
    for sli in alerts.SLIS:
        key = sli["key"]
        f = _filters_for(sli)
        objective = f'archway:slo_objective:ratio{{slo="{key}"}}'
        L.row(f"{sli['title'][0].upper()}{sli['title'][1:]} (objective {sli['objective'] * 100:g}%)")
        L.add(stat(f"{sli['title']}: SLI over 30 days", f"1 - (\n{_sli_over(sli, '30d')}\n)", "percentunit",
                   "Share of good events over the last 30 days.", red_below=sli["objective"], legend=_legend(sli)), 6, 7)
        L.add(stat(f"{sli['title']}: error budget left (30d)",
                   f"1 - (\n{_sli_over(sli, '30d')}\n)\n/ scalar(1 - {objective})", "percentunit",
                   "1 = untouched, 0 = spent, negative = overspent.", red_below=0, legend=_legend(sli)), 6, 7)
        L.add(timeseries(f"{sli['title']}: burn rate",
                         [target(f"{alerts.record_name(sli, w)}{{{f}}}\n/ scalar(1 - {objective})",
                                 f"{_legend(sli)} {w}") for w in ("5m", "1h", "6h", "3d")],
                         "short", "Error ratio divided by the error budget, per window (1 = on budget).",
                         thresholds=[(6, "orange"), (14.4, "red")]), 12, 7)
    return dashboard("archway-slo", "Archway / SLOs",
                     "Error-budget burn for availability and latency per route and model, and time to first token.",
                     L.panels, ["datasource", "job", "route", "provider", "model"], ["slo"])


DASHBOARDS = {"archway-overview.json": overview, "archway-model.json": model_drilldown, "archway-slo.json": slo}


def render() -> dict[str, str]:
    return {name: json.dumps(fn(), indent=2, ensure_ascii=False) + "\n" for name, fn in DASHBOARDS.items()}


def main(argv: list[str]) -> int:
    out = render()
    if "--check" in argv:
        stale = [n for n, t in out.items() if not (HERE / n).exists() or (HERE / n).read_text() != t]
        for n in stale:
            print(f"stale: dashboards/grafana/{n} (run dashboards/grafana/generate.py)", file=sys.stderr)
        return 1 if stale else 0
    for name, t in out.items():
        (HERE / name).write_text(t)
        print(f"wrote dashboards/grafana/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
