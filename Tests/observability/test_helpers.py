"""The helpers the other tests rely on: OTel->Prometheus naming, Grafana variable substitution and the
`bool` rewrite of alert expressions."""

from __future__ import annotations

from obs_helpers import (comparisons_to_bool, grafana_variable_query_to_promql, metric_names_in,
                         prometheus_base_name, prometheus_label_names, prometheus_series_names,
                         substitute_grafana_variables)


def test_otel_to_prometheus_names():
    # open-telemetry/opentelemetry-collector-contrib pkg/translator/prometheus normalize_name.go
    assert prometheus_base_name("gen_ai.client.operation.duration", "s", "histogram") == "gen_ai_client_operation_duration_seconds"
    assert prometheus_base_name("gen_ai.client.token.usage", "{token}", "histogram") == "gen_ai_client_token_usage"
    assert prometheus_base_name("archway.cost", "USD", "counter") == "archway_cost_USD_total"
    assert prometheus_base_name("archway.upstream.retries", "{retry}", "counter") == "archway_upstream_retries_total"
    assert prometheus_base_name("http.server.request.duration", "s", "histogram") == "http_server_request_duration_seconds"
    assert prometheus_base_name("system.memory.usage", "By", "gauge") == "system_memory_usage_bytes"
    assert prometheus_base_name("x.requests.total", "1", "counter") == "x_requests_total"
    names = prometheus_series_names()
    assert names["gen_ai_client_operation_time_to_first_chunk_seconds_bucket"] == "gen_ai.client.operation.time_to_first_chunk"
    assert names["archway_telemetry_dropped_total"] == "archway.telemetry.dropped"
    # seven histograms (three series each), twelve counters, fourteen gauges
    assert len(names) == 7 * 3 + 12 + 14
    # the process metrics: `By` is spelled out, `s` too, annotations add nothing
    assert names["process_cpu_time_seconds_total"] == "process.cpu.time"
    assert names["process_memory_usage_bytes"] == "process.memory.usage"
    assert names["process_memory_virtual_bytes"] == "process.memory.virtual"
    assert names["process_thread_count"] == "process.thread.count"
    assert names["process_unix_file_descriptor_count"] == "process.unix.file_descriptor.count"
    assert "cpu_mode" in prometheus_label_names()
    # the connection pools: `{connection}` and `{call}` annotations add no suffix to gauges
    assert names["http_client_open_connections"] == "http.client.open_connections"
    assert names["archway_upstream_waiting_calls"] == "archway.upstream.waiting_calls"
    assert names["archway_endpoint_latency_seconds"] == "archway.endpoint.latency"
    assert names["archway_route_decisions_total"] == "archway.route.decisions"
    assert names["archway_endpoint_error_rate"] == "archway.endpoint.error_rate"
    # consistency shadowing: a unit-less gauge, two `{sample}` counters (annotations add no suffix)
    assert names["archway_consistency_score"] == "archway.consistency.score"
    assert names["archway_consistency_samples_total"] == "archway.consistency.samples"
    assert names["archway_shadow_samples_total"] == "archway.shadow.samples"
    # workflows: two `s` histograms and a USD counter
    assert prometheus_base_name("gen_ai.workflow.duration", "s", "histogram") == "gen_ai_workflow_duration_seconds"
    assert names["gen_ai_workflow_duration_seconds_count"] == "gen_ai.workflow.duration"
    assert names["archway_workflow_step_duration_seconds_bucket"] == "archway.workflow.step.duration"
    assert names["archway_workflow_step_cost_USD_total"] == "archway.workflow.step.cost"
    assert {"gen_ai_workflow_name", "archway_workflow_step_name", "archway_workflow_step_status"} <= prometheus_label_names()
    # policy: a `{detection}` counter (annotation: no unit suffix)
    assert prometheus_base_name("archway.policy.detections", "{detection}", "counter") == "archway_policy_detections_total"
    assert names["archway_policy_detections_total"] == "archway.policy.detections"
    assert {"archway_policy_guardrail", "archway_policy_entity", "archway_policy_action"} <= prometheus_label_names()
    assert {"archway_call_purpose", "gen_ai_evaluation_score_label", "archway_route_name", "outcome"} <= prometheus_label_names()
    assert {"gen_ai_request_model", "archway_model", "http_response_status_code", "error_type"} <= prometheus_label_names()


def test_grafana_substitution():
    e = 'sum(rate(x{a=~"$model", b=~"${provider}", c=~"${route:regex}"}[$__rate_interval])) / $__range_s'
    assert substitute_grafana_variables(e) == 'sum(rate(x{a=~".*", b=~".*", c=~".*"}[1m])) / 3600'
    assert substitute_grafana_variables("increase(x[$__range])") == "increase(x[1h])"
    assert grafana_variable_query_to_promql('label_values(m{job=~"$job"}, gen_ai_request_model)') == \
        'group by (gen_ai_request_model) (m{job=~"$job"})'


def test_comparisons_to_bool():
    assert comparisons_to_bool("a > 0.1 and b >= 2") == "a > bool 0.1 and b >= bool 2"
    assert comparisons_to_bool('x{l!="v", m=~"a>b"} != 1') == 'x{l!="v", m=~"a>b"} != bool 1'
    assert comparisons_to_bool("a == bool 1") == "a == bool 1"
    assert comparisons_to_bool("rate(a[5m]) <2") == "rate(a[5m]) < bool 2"


def test_metric_names_in():
    e = 'sum by (archway_model) (rate(archway_cost_USD_total{gen_ai_request_model="x"}[1m])) / archway:slo_objective:ratio'
    assert metric_names_in(e) == {"archway_cost_USD_total", "archway:slo_objective:ratio"}
