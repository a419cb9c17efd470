"""Shared helpers for the observability artifact tests (dashboards, rules, collector configs)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

sys.path.insert(0, str(REPO_ROOT / "Tests" / "pylib"))
from archway_testkit import ManagedProcess, clean_env, closed_port, free_port, wait_for  # noqa: E402,F401

GRAFANA_DIR = REPO_ROOT / "dashboards" / "grafana"
DATADOG_DIR = REPO_ROOT / "dashboards" / "datadog"
ALERTS_DIR = REPO_ROOT / "alerts"
RULE_FILES = sorted(ALERTS_DIR.glob("*.rules.yml"))
RULE_TEST_FILES = sorted((ALERTS_DIR / "tests").glob("*.yml"))
OTEL_DIR = REPO_ROOT / "otel"
STACK_DIR = REPO_ROOT / "examples" / "stack"

# ---------------------------------------------------------------------------------------------
# What Archway emits (README "Metrics"), as OTLP and as Prometheus names
# ---------------------------------------------------------------------------------------------

OTLP_METRICS: dict[str, dict[str, Any]] = {
    "gen_ai.client.operation.duration": {
        "type": "histogram", "unit": "s",
        "attrs": {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model",
                  "server.address", "server.port", "archway.call.purpose", "error.type"}},
    "gen_ai.client.token.usage": {
        "type": "histogram", "unit": "{token}",
        "attrs": {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model",
                  "server.address", "server.port", "archway.call.purpose", "gen_ai.token.type"}},
    "gen_ai.client.operation.time_to_first_chunk": {
        "type": "histogram", "unit": "s",
        "attrs": {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model",
                  "server.address", "server.port", "archway.call.purpose", "error.type"}},
    "gen_ai.client.operation.time_per_output_chunk": {
        "type": "histogram", "unit": "s",
        "attrs": {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model",
                  "server.address", "server.port", "archway.call.purpose", "error.type"}},
    "archway.cost": {
        "type": "counter", "unit": "USD",
        "attrs": {"gen_ai.operation.name", "archway.model", "gen_ai.provider.name", "gen_ai.request.model",
                  "archway.call.purpose"}},  # client | shadow | probe
    "archway.upstream.retries": {
        "type": "counter", "unit": "{retry}", "attrs": {"archway.provider", "gen_ai.request.model"}},
    "archway.telemetry.dropped": {
        "type": "counter", "unit": "{span}", "attrs": {"reason"}},
    # Upstream connection pools (README "Metrics"), every second: connections by state (active | idle) and
    # calls waiting for a connection, per upstream host.
    "http.client.open_connections": {
        "type": "gauge", "unit": "{connection}", "attrs": {"server.address", "server.port", "http.connection.state"}},
    "archway.upstream.waiting_calls": {
        "type": "gauge", "unit": "{call}", "attrs": {"server.address", "server.port"}},
    # The process's own resource use (README "Metrics"), every 5 s: OpenTelemetry's process metrics.
    "process.cpu.time": {"type": "counter", "unit": "s", "attrs": {"cpu.mode"}},
    "process.memory.usage": {"type": "gauge", "unit": "By", "attrs": set()},
    "process.memory.virtual": {"type": "gauge", "unit": "By", "attrs": set()},
    "process.thread.count": {"type": "gauge", "unit": "{thread}", "attrs": set()},
    "process.unix.file_descriptor.count": {"type": "gauge", "unit": "{file_descriptor}", "attrs": set()},
    "http.server.request.duration": {
        "type": "histogram", "unit": "s",
        "attrs": {"http.request.method", "http.route", "http.response.status_code", "url.scheme", "error.type"}},
    # Routing (README "Routing"): decisions, moves to another candidate, ejections and probes by model;
    # the live figures of each configured model and route as gauges.
    "archway.route.decisions": {
        "type": "counter", "unit": "{decision}",
        "attrs": {"archway.route.name", "archway.route.chosen", "archway.route.reason"}},
    "archway.route.fallbacks": {
        "type": "counter", "unit": "{fallback}", "attrs": {"archway.route.name", "archway.model", "error.type"}},
    "archway.endpoint.ejections": {"type": "counter", "unit": "{ejection}", "attrs": {"archway.model"}},
    "archway.endpoint.probes": {"type": "counter", "unit": "{probe}", "attrs": {"archway.model", "outcome"}},
    "archway.endpoint.latency": {"type": "gauge", "unit": "s", "attrs": {"archway.model", "quantile"}},
    "archway.endpoint.in_flight": {"type": "gauge", "unit": "{call}", "attrs": {"archway.model"}},
    "archway.endpoint.error_rate": {"type": "gauge", "unit": "1", "attrs": {"archway.model"}},
    "archway.endpoint.ejected": {"type": "gauge", "unit": "1", "attrs": {"archway.model"}},
    "archway.endpoint.price": {"type": "gauge", "unit": "USD", "attrs": {"archway.model", "gen_ai.token.type"}},
    "archway.route.eligible_candidates": {"type": "gauge", "unit": "{candidate}", "attrs": {"archway.route.name"}},
    "archway.route.min_quality": {"type": "gauge", "unit": "1", "attrs": {"archway.route.name"}},
    # Consistency shadowing (README "Routing"): each scored candidate's windowed mean score against the
    # route's reference model, scored samples by label (consistent | inconsistent), and shadow samples by
    # outcome (evaluated | dropped: queue full | failed: a shadow call failed).
    "archway.consistency.score": {"type": "gauge", "unit": "1", "attrs": {"archway.route.name", "archway.model"}},
    "archway.consistency.samples": {
        "type": "counter", "unit": "{sample}",
        "attrs": {"archway.route.name", "archway.model", "gen_ai.evaluation.score.label"}},
    "archway.shadow.samples": {"type": "counter", "unit": "{sample}", "attrs": {"archway.route.name", "outcome"}},
    # Workflows (README "Workflows"): each run's duration (`error.type` only when the run failed: deadline_exceeded,
    # a step's failure class such as missing_value / invalid_json / not_a_list / timeout, or an upstream error
    # class like 503), each step's duration by status (succeeded | failed | skipped | defaulted | cancelled) and
    # each step's cost. Same bucket boundaries as gen_ai.client.operation.duration.
    "gen_ai.workflow.duration": {"type": "histogram", "unit": "s", "attrs": {"gen_ai.workflow.name", "error.type"}},
    "archway.workflow.step.duration": {
        "type": "histogram", "unit": "s",
        "attrs": {"gen_ai.workflow.name", "archway.workflow.step.name", "archway.workflow.step.status"}},
    "archway.workflow.step.cost": {
        "type": "counter", "unit": "USD", "attrs": {"gen_ai.workflow.name", "archway.workflow.step.name"}},
    # Policy (README "Policy"): one per entity kind found per request by the PII guardrail (entity: email, phone,
    # credit_card, iban, us_ssn, ip_address, secret or a configured custom name; action: redact | mask | block |
    # detect), and one per prompt injection detected (entity: prompt_injection; action: block | flag | detect).
    "archway.policy.detections": {
        "type": "counter", "unit": "{detection}",
        "attrs": {"archway.policy.guardrail", "archway.policy.entity", "archway.policy.action"}},
}

_UNIT_MAP = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "1": "", "%": "percent"}


def prometheus_base_name(otlp_name: str, unit: str, kind: str) -> str:
    """OTel -> Prometheus naming as done by the collector's prometheus / prometheusremotewrite exporters
    (pkg/translator/prometheus normalizeName, default add_metric_suffixes=true)."""
    tokens = [t for t in re.split(r"[^A-Za-z0-9:]+", otlp_name) if t]
    main = unit.split("/", 1)[0].strip()
    if main and "{" not in main and "}" not in main:
        u = "_".join(t for t in re.split(r"[^A-Za-z0-9]+", _UNIT_MAP.get(main, main)) if t)
        if u and u not in tokens:
            tokens.append(u)
    if kind == "counter":
        tokens = [t for t in tokens if t != "total"] + ["total"]
    return "_".join(tokens)


def prometheus_series_names() -> dict[str, str]:
    """Every Prometheus series name Archway exposes -> its OTLP metric."""
    out = {}
    for name, meta in OTLP_METRICS.items():
        base = prometheus_base_name(name, meta["unit"], meta["type"])
        if meta["type"] == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                out[base + suffix] = name
        else:
            out[base] = name
    return out


def prometheus_label_names() -> set[str]:
    labels = {"job", "instance", "le"}
    for meta in OTLP_METRICS.values():
        labels |= {re.sub(r"[^A-Za-z0-9_]", "_", a) for a in meta["attrs"]}
    return labels


# ---------------------------------------------------------------------------------------------
# PromQL sources: Grafana dashboards and rule files
# ---------------------------------------------------------------------------------------------

@dataclass
class PromQLExpr:
    source: str          # "archway-overview.json" / "archway-slo.rules.yml"
    where: str           # panel title + refId, rule name ...
    expr: str            # as written (with Grafana variables)
    kind: str            # "panel" | "variable" | "record" | "alert"

    @property
    def id(self) -> str:
        return f"{self.source}:{self.where}"


def grafana_dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(GRAFANA_DIR.glob("*.json"))}


def iter_panels(panels: list[dict]) -> Iterator[dict]:
    for p in panels:
        yield p
        yield from iter_panels(p.get("panels", []))


def is_prometheus_ref(ds: Any) -> bool:
    return isinstance(ds, dict) and ds.get("type") == "prometheus"


def dashboard_exprs() -> list[PromQLExpr]:
    out = []
    for name, dash in grafana_dashboards().items():
        for panel in iter_panels(dash.get("panels", [])):
            for t in panel.get("targets", []):
                ds = t.get("datasource") or panel.get("datasource")
                if not is_prometheus_ref(ds):
                    continue
                out.append(PromQLExpr(name, f"{panel.get('title')!s}/{t.get('refId')}", t["expr"], "panel"))
        for var in dash.get("templating", {}).get("list", []):
            if var.get("type") != "query":
                continue
            q = var.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            out.append(PromQLExpr(name, f"${var['name']}", grafana_variable_query_to_promql(q), "variable"))
    return out


def rule_groups() -> list[tuple[str, dict]]:
    out = []
    for path in RULE_FILES:
        for g in yaml.safe_load(path.read_text())["groups"]:
            out.append((path.name, g))
    return out


def rule_exprs() -> list[PromQLExpr]:
    out = []
    for fname, group in rule_groups():
        for i, r in enumerate(group["rules"]):
            if "record" in r:
                out.append(PromQLExpr(fname, f"{group['name']}/{r['record']}#{i}", r["expr"], "record"))
            else:
                out.append(PromQLExpr(fname, f"{group['name']}/{r['alert']}", r["expr"], "alert"))
    return out


def recording_rule_names() -> set[str]:
    return {r["record"] for _, g in rule_groups() for r in g["rules"] if "record" in r}


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<sel>.+?)\s*,\s*)?(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.S)


def grafana_variable_query_to_promql(q: str) -> str:
    """Grafana's Prometheus variable functions -> an equivalent PromQL query that returns the values."""
    m = _LABEL_VALUES.match(q)
    if m:
        sel = m.group("sel") or f'{{{m.group("label")}!=""}}'
        return f"group by ({m.group('label')}) ({sel})"
    m = re.match(r"^\s*query_result\((.*)\)\s*$", q, re.S)
    if m:
        return m.group(1)
    return q


# Grafana's global variables, replaced with values a real Prometheus accepts.
GRAFANA_GLOBALS = {
    "__rate_interval": "1m", "__interval": "1m", "__interval_ms": "60000", "__range": "1h",
    "__range_s": "3600", "__range_ms": "3600000",
}


def substitute_grafana_variables(expr: str) -> str:
    """`$__rate_interval` -> 1m, `$__range` -> 1h, every template variable (`$model`, `${model}`,
    `${model:regex}`) -> `.*` (what "All" means with allValue `.*`; all our variables are used with `=~`)."""

    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(3)
        if name in GRAFANA_GLOBALS:
            return GRAFANA_GLOBALS[name]
        return ".*"

    return re.sub(r"\$\{([A-Za-z0-9_]+)(:[A-Za-z0-9_]+)?\}|\$([A-Za-z_][A-Za-z0-9_]*)", repl, expr)


_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")


def comparisons_to_bool(expr: str) -> str:
    """Adds the `bool` modifier to every comparison operator outside label matchers, ranges and strings.

    `a > 0.0144 and b > 0.0144` -> `a > bool 0.0144 and b > bool 0.0144`. A filtering comparison drops
    the series that do not satisfy it; with `bool` it keeps every series and returns 0 or 1, so an alert
    expression evaluated this way returns no series only when an input series does not exist, never just
    because the alert is not firing."""
    out = []
    i, n = 0, len(expr)
    depth_brace = depth_bracket = 0
    quote = None
    while i < n:
        c = expr[i]
        if quote:
            out.append(c)
            if c == "\\" and quote != "`" and i + 1 < n:
                out.append(expr[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
            i += 1
            continue
        if c in "\"'`":
            quote = c
        elif c == "{":
            depth_brace += 1
        elif c == "}":
            depth_brace -= 1
        elif c == "[":
            depth_bracket += 1
        elif c == "]":
            depth_bracket -= 1
        elif c == "#":  # comment to end of line
            j = expr.find("\n", i)
            j = n if j < 0 else j
            out.append(expr[i:j])
            i = j
            continue
        if depth_brace == 0 and depth_bracket == 0 and not quote:
            op = next((o for o in _COMPARISONS if expr.startswith(o, i)), None)
            if op and not (op in (">", "<") and i + 1 < n and expr[i + 1] == "="):
                out.append(op)
                i += len(op)
                rest = expr[i:]
                if not re.match(r"\s*bool\b", rest):
                    out.append(" bool" if rest[:1].isspace() else " bool ")
                continue
        out.append(c)
        i += 1
    return "".join(out)


def metric_names_in(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that look like Archway metric names or recording rules."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    without_matchers = re.sub(r"\{[^}]*\}", "{}", without_strings)
    names = set(re.findall(r"\b((?:gen_ai|archway|http_server)[A-Za-z0-9_:]*)", without_matchers))
    # drop grouping labels in `by (...)` / `without (...)` / `on (...)` / `ignoring (...)`
    labels = set()
    for grp in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", without_matchers):
        labels |= {x.strip() for x in grp.split(",") if x.strip()}
    # label_values(..., label) second argument and label names used as label_replace args are strings
    return {n for n in names if n not in labels}


# ---------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------

class Proc(ManagedProcess):
    """A child process of the observability tests: `Proc(name, argv, workdir, env)`."""

    def __init__(self, name: str, argv: list[str], workdir: Path, env: dict[str, str] | None = None):
        super().__init__(argv, workdir, name, env)


def tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise AssertionError(
            f"`{name}` not found: install Debian's prometheus package (`make tools` does: apt-get install prometheus)")
    return path
