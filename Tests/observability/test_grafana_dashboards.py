"""Static checks of the Grafana dashboards (the real-backend test evaluates their queries)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from obs_helpers import GRAFANA_DIR, grafana_dashboards, iter_panels

DASHBOARDS = grafana_dashboards()


def test_expected_dashboards_exist():
    assert {"archway-overview.json", "archway-model.json", "archway-slo.json"} <= set(DASHBOARDS)


def test_dashboards_match_their_generator():
    r = subprocess.run([sys.executable, str(GRAFANA_DIR / "generate.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_grafana_10_11_model(name):
    d = DASHBOARDS[name]
    assert 36 <= d["schemaVersion"] <= 41, "Grafana 10/11 schema"
    assert d["uid"] and len(d["uid"]) <= 40 and d["title"]
    assert "id" not in d or d["id"] is None, "importable dashboards carry no database id"
    variables = {v["name"]: v for v in d["templating"]["list"]}
    ds = variables.get("datasource")
    assert ds and ds["type"] == "datasource" and ds["query"] == "prometheus", "datasource must be a template variable"
    for v in variables.values():
        if v["type"] == "query":
            assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, v["name"]
            assert v.get("allValue") == ".*" and v.get("includeAll"), f"{v['name']}: All must mean .*"
    assert {"job", "provider", "model"} <= set(variables)
    ids, panels = set(), list(iter_panels(d["panels"]))
    for p in panels:
        assert p["id"] not in ids, f"duplicate panel id {p['id']}"
        ids.add(p["id"])
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, (p.get("title"), g)
        if p["type"] in ("row", "text"):
            continue
        assert p["datasource"] in ({"type": "prometheus", "uid": "${datasource}"}, {"type": "tempo", "uid": "${tempo}"}), p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)) and refs, p["title"]
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"], p["title"]
            if t["datasource"]["type"] == "prometheus":
                assert t["expr"].strip()
                if "histogram_quantile" in t["expr"] and p["type"] == "timeseries":
                    assert t.get("exemplar") is True, f"{p['title']}: exemplars off"
            else:
                assert t.get("queryType") == "traceql" and t["query"].startswith("{"), p["title"]
                assert "tempo" in variables


def _all_exprs(d: dict) -> list[str]:
    return [t["expr"] for p in iter_panels(d["panels"]) for t in p.get("targets", []) if "expr" in t]


def test_overview_covers_the_issue():
    d = DASHBOARDS["archway-overview.json"]
    exprs = "\n".join(_all_exprs(d))
    titles = " | ".join(p.get("title", "") for p in iter_panels(d["panels"]))
    for q in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({q}, sum by (le, gen_ai_request_model) (rate(gen_ai_client_operation_duration_seconds_bucket" in exprs
    assert "gen_ai_client_operation_time_to_first_chunk_seconds_bucket" in exprs            # time to first token
    assert 'gen_ai_client_token_usage_sum{' in exprs and 'gen_ai_token_type="output"' in exprs   # tokens/s
    assert re.search(r"sum by \(archway_model\) \(rate\(archway_cost_USD_total\{[^}]*\}\[\$__rate_interval\]\)\) \* 3600", exprs)
    assert "archway_upstream_retries_total" in exprs and "archway_telemetry_dropped_total" in exprs
    assert "sum by (http_response_status_code)" in exprs
    assert 'error_type!=""' in exprs
    assert re.search(r"requests/s", titles, re.I)
    assert any(p["type"] == "table" and p["datasource"]["type"] == "tempo" for p in iter_panels(d["panels"]))


def test_trace_links_point_at_the_tempo_variable():
    links = [l for d in DASHBOARDS.values() for p in iter_panels(d["panels"]) for l in p.get("links", [])]
    assert links and all("${tempo}" in l["url"] and l["url"].startswith("/explore?") for l in links)


def test_overview_has_the_routing_panels():
    exprs = "\n".join(_all_exprs(DASHBOARDS["archway-overview.json"]))
    for series in ("archway_route_decisions_total", "archway_route_fallbacks_total", "archway_endpoint_ejections_total",
                   "archway_endpoint_probes_total", "archway_endpoint_price_USD", "archway_route_eligible_candidates",
                   "archway_endpoint_latency_seconds", "archway_endpoint_ejected"):
        assert series in exprs, series
    assert "sum by (archway_route_name, archway_route_chosen)" in exprs      # share by chosen model
    assert "archway_route_reason" in exprs                                  # reasons


def test_overview_has_the_consistency_panels():
    panels, row_of, row = {}, {}, None
    for p in DASHBOARDS["archway-overview.json"]["panels"]:
        if p["type"] == "row":
            row = p["title"]
        panels[p.get("title")], row_of[p.get("title")] = p, row
    for title in ("Consistency score by route and model", "Consistency samples by label", "Shadow samples by outcome",
                  "Shadow spend (USD/h)"):
        assert row_of.get(title) == "Routing", title

    def exprs(title):
        return "\n".join(t["expr"] for t in panels[title]["targets"])

    assert "min by (archway_route_name, archway_model) (archway_consistency_score{" in exprs("Consistency score by route and model")
    assert "min_score" in panels["Consistency score by route and model"]["description"]
    assert "gen_ai_evaluation_score_label" in exprs("Consistency samples by label")
    assert "sum by (archway_route_name, outcome) (rate(archway_shadow_samples_total{" in exprs("Shadow samples by outcome")
    assert 'archway_cost_USD_total{' in exprs("Shadow spend (USD/h)")
    assert 'archway_call_purpose="shadow"' in exprs("Shadow spend (USD/h)") and "* 3600" in exprs("Shadow spend (USD/h)")
    assert "all_inconsistent" in panels["Decisions/s by reason"]["description"]
    # the cost panels sum over every archway.call.purpose
    assert "archway_call_purpose" not in exprs("Cost per hour by model (USD/h)") + exprs("Spend in range")


def test_slo_view_uses_recording_rules_and_objectives():
    exprs = "\n".join(_all_exprs(DASHBOARDS["archway-slo.json"]))
    for key in ("http_availability", "http_latency", "model_availability", "model_latency", "stream_ttft"):
        assert f"archway:{key}_error_ratio:rate1h" in exprs
        assert f'archway:slo_objective:ratio{{slo="{key}"}}' in exprs


def test_overview_has_the_workflow_panels():
    d = DASHBOARDS["archway-overview.json"]
    panels, row_of, row = {}, {}, None
    for p in d["panels"]:
        if p["type"] == "row":
            row = p["title"]
        panels[p.get("title")], row_of[p.get("title")] = p, row
    titles = ("Workflow runs/s by workflow", "Workflow failures by workflow and error", "Workflow failure ratio by workflow",
              "Workflow p95 duration by workflow", "Step p95 duration by workflow and step",
              "Step status by workflow and step", "Workflow cost (USD/h) by workflow and step")
    for title in titles:
        assert row_of.get(title) == "Workflows", title

    def exprs(title):
        return "\n".join(t["expr"] for t in panels[title]["targets"])

    for title in titles:
        assert 'gen_ai_workflow_name=~"$workflow"' in exprs(title), title
    assert "sum by (gen_ai_workflow_name) (rate(gen_ai_workflow_duration_seconds_count{" in exprs("Workflow runs/s by workflow")
    assert 'error_type!=""' in exprs("Workflow failures by workflow and error")
    assert "sum by (gen_ai_workflow_name, error_type)" in exprs("Workflow failures by workflow and error")
    assert "histogram_quantile(0.95, sum by (le, gen_ai_workflow_name) (rate(gen_ai_workflow_duration_seconds_bucket{" in \
        exprs("Workflow p95 duration by workflow")
    assert "histogram_quantile(0.95, sum by (le, gen_ai_workflow_name, archway_workflow_step_name) " \
           "(rate(archway_workflow_step_duration_seconds_bucket{" in exprs("Step p95 duration by workflow and step")
    assert "archway_workflow_step_status" in exprs("Step status by workflow and step")
    assert re.search(r"sum by \(gen_ai_workflow_name, archway_workflow_step_name\) \(rate\(archway_workflow_step_cost_USD_total\{"
                     r"[^}]*\}\[\$__rate_interval\]\)\) \* 3600", exprs("Workflow cost (USD/h) by workflow and step"))
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert "gen_ai_workflow_name" in variables["workflow"]["query"]


def test_overview_has_the_policy_panels():
    d = DASHBOARDS["archway-overview.json"]
    panels, row_of, row, rows = {}, {}, None, []
    for p in d["panels"]:
        if p["type"] == "row":
            row = p["title"]
            rows.append(row)
        panels[p.get("title")], row_of[p.get("title")] = p, row
    assert rows.index("Policy") == rows.index("Workflows") + 1
    titles = ("Policy detections/s by entity and action", "Blocked requests/s by guardrail", "Prompt injections/s by action")
    for title in titles:
        assert row_of.get(title) == "Policy", title

    def exprs(title):
        return "\n".join(t["expr"] for t in panels[title]["targets"])

    for title in titles:
        assert 'archway_policy_detections_total{job=~"$job"' in exprs(title), title
    e = exprs("Policy detections/s by entity and action")
    assert "sum by (archway_policy_entity, archway_policy_action) (rate(" in e and 'archway_policy_guardrail="pii"' in e
    e = exprs("Blocked requests/s by guardrail")
    assert "sum by (archway_policy_guardrail) (rate(" in e and 'archway_policy_action="block"' in e
    e = exprs("Prompt injections/s by action")
    assert "sum by (archway_policy_action) (rate(" in e and 'archway_policy_guardrail="injection"' in e
    assert "ArchwayPromptInjectionSurge" in panels["Prompt injections/s by action"]["description"]
