"""OpenTelemetry Collector configs: YAML parses, every pipeline references defined components."""

from __future__ import annotations

import re

import pytest
import yaml

from obs_helpers import OTEL_DIR

CONFIGS = sorted(OTEL_DIR.glob("*.yaml"))
# Component types used here, all in the otelcol-contrib distribution.
KNOWN = {
    "receivers": {"otlp"},
    "processors": {"memory_limiter", "batch", "tail_sampling"},
    "exporters": {"prometheusremotewrite", "prometheus", "otlp", "datadog", "debug", "file"},
    "connectors": {"forward", "datadog"},
    "extensions": {"health_check"},
}


def _load(path):
    return yaml.safe_load(path.read_text())


def _type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def test_configs_exist():
    assert {p.name for p in CONFIGS} >= {"collector.yaml", "collector-prometheus.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_pipelines_reference_defined_components(path):
    cfg = _load(path)
    for section, types in KNOWN.items():
        for cid in (cfg.get(section) or {}):
            assert _type(cid) in types, f"{section}.{cid}: unknown component type"
    connectors = set(cfg.get("connectors") or {})
    pipelines = cfg["service"]["pipelines"]
    assert pipelines
    as_receiver, as_exporter = set(), set()
    for name, p in pipelines.items():
        assert name.split("/", 1)[0] in ("traces", "metrics", "logs"), name
        assert p.get("receivers") and p.get("exporters"), name
        for r in p["receivers"]:
            assert r in (cfg.get("receivers") or {}) or r in connectors, f"{name}: receiver {r} not defined"
            if r in connectors:
                as_receiver.add(r)
        for pr in p.get("processors", []):
            assert pr in (cfg.get("processors") or {}), f"{name}: processor {pr} not defined"
        for e in p["exporters"]:
            assert e in (cfg.get("exporters") or {}) or e in connectors, f"{name}: exporter {e} not defined"
            if e in connectors:
                as_exporter.add(e)
        procs = p.get("processors", [])
        if "memory_limiter" in procs:
            assert procs[0] == "memory_limiter", f"{name}: memory_limiter must come first"
        if "tail_sampling" in procs and "batch" in procs:
            assert procs.index("tail_sampling") < procs.index("batch"), f"{name}: batch after tail_sampling"
    assert as_receiver == as_exporter == connectors, "each connector must be an exporter and a receiver"
    for ext in cfg["service"].get("extensions", []):
        assert ext in (cfg.get("extensions") or {}), f"extension {ext} not defined"
    text = path.read_text()
    for ref in re.findall(r"\$\{([^}]*)\}", text):
        assert re.fullmatch(r"env:[A-Z_][A-Z0-9_]*(:-[^}]*)?", ref), f"bad env reference ${{{ref}}}"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_ingest_processing_and_sampling(path):
    cfg = _load(path)
    otlp = cfg["receivers"]["otlp"]["protocols"]
    assert {"grpc", "http"} <= set(otlp)
    assert {"memory_limiter", "batch", "tail_sampling"} <= set(cfg["processors"])
    policies = cfg["processors"]["tail_sampling"]["policies"]
    kinds = {p["type"]: p for p in policies}
    assert kinds["status_code"]["status_code"]["status_codes"] == ["ERROR"]        # every error
    assert kinds["latency"]["latency"]["threshold_ms"] >= 1000                     # slow traces
    assert 0 < kinds["probabilistic"]["probabilistic"]["sampling_percentage"] < 100  # the rest
    traces = [p for n, p in cfg["service"]["pipelines"].items() if n.startswith("traces")]
    assert any("tail_sampling" in p.get("processors", []) for p in traces)


def _used_exporters(cfg) -> set[str]:
    return {_type(e) for p in cfg["service"]["pipelines"].values() for e in p["exporters"]}


def test_main_config_exports_everywhere():
    cfg = _load(OTEL_DIR / "collector.yaml")
    assert {"prometheusremotewrite", "otlp", "datadog", "debug", "file"} <= _used_exporters(cfg)
    assert cfg["exporters"]["otlp/tempo"]["endpoint"]
    dd = cfg["exporters"]["datadog"]["metrics"]
    assert dd["histograms"]["mode"] == "distributions"          # dashboards/datadog assumes it
    assert dd["sums"]["cumulative_monotonic_mode"] == "to_delta"
    # Same Prometheus names as /metrics: no namespace, suffixes not disabled.
    prw = cfg["exporters"]["prometheusremotewrite"]
    assert "namespace" not in prw and prw.get("add_metric_suffixes", True) is True


def test_prometheus_variant_keeps_default_names():
    cfg = _load(OTEL_DIR / "collector-prometheus.yaml")
    assert "prometheus" in _used_exporters(cfg)
    prom = cfg["exporters"]["prometheus"]
    assert "namespace" not in prom and prom.get("add_metric_suffixes", True) is True
    assert prom.get("translation_strategy", "UnderscoreEscapingWithSuffixes") == "UnderscoreEscapingWithSuffixes"
