"""examples/stack: the compose file and everything it mounts parse and fit together (Docker itself is
not available to the tests)."""

from __future__ import annotations

import re
import subprocess

import yaml

from obs_helpers import REPO_ROOT, STACK_DIR, clean_env, tool

COMPOSE = yaml.safe_load((STACK_DIR / "docker-compose.yml").read_text())


def _mounts(service: str) -> dict[str, str]:
    out = {}
    for v in COMPOSE["services"][service].get("volumes", []):
        src, dst = v.split(":")[:2]
        out[dst] = src
    return out


def test_services_and_bind_mounts_exist():
    assert {"archway", "collector", "prometheus", "tempo", "grafana"} <= set(COMPOSE["services"])
    for name, svc in COMPOSE["services"].items():
        for dst, src in _mounts(name).items():
            if src.startswith((".", "/")):
                assert (STACK_DIR / src).exists(), f"{name}: {src} does not exist"
        for p in svc.get("ports", []):
            assert str(p).startswith("127.0.0.1:"), f"{name}: publish on loopback only ({p})"
    build = COMPOSE["services"]["archway"]["build"]
    ctx = (STACK_DIR / build["context"]).resolve()
    assert ctx == REPO_ROOT and (ctx / build["dockerfile"]).is_file()


def test_wiring():
    collector = _mounts("collector")
    assert (STACK_DIR / collector["/etc/otelcol-contrib/config.yaml"]).resolve() == REPO_ROOT / "otel" / "collector.yaml"
    env = COMPOSE["services"]["collector"]["environment"]
    assert env["PROMETHEUS_REMOTE_WRITE_ENDPOINT"] == "http://prometheus:9090/api/v1/write"
    assert "--web.enable-remote-write-receiver" in COMPOSE["services"]["prometheus"]["command"]
    assert "--enable-feature=exemplar-storage" in COMPOSE["services"]["prometheus"]["command"]
    assert env["TEMPO_OTLP_ENDPOINT"] == "tempo:4317"
    tempo = yaml.safe_load((STACK_DIR / "tempo.yaml").read_text())
    assert tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
    assert COMPOSE["services"]["archway"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318"
    assert (STACK_DIR / _mounts("prometheus")["/etc/prometheus/rules"]).resolve() == REPO_ROOT / "alerts"
    grafana = _mounts("grafana")
    dash_dst = next(d for d, s in grafana.items() if (STACK_DIR / s).resolve() == REPO_ROOT / "dashboards" / "grafana")
    prov = yaml.safe_load((STACK_DIR / "grafana/provisioning/dashboards/dashboards.yaml").read_text())
    assert prov["providers"][0]["options"]["path"] == dash_dst
    ds = yaml.safe_load((STACK_DIR / "grafana/provisioning/datasources/datasources.yaml").read_text())["datasources"]
    by_type = {d["type"]: d for d in ds}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090" and by_type["tempo"]["url"] == "http://tempo:3200"
    dest = by_type["prometheus"]["jsonData"]["exemplarTraceIdDestinations"][0]
    assert dest["datasourceUid"] == by_type["tempo"]["uid"] and dest["name"] == "trace_id"


def test_prometheus_config_and_rule_glob():
    r = subprocess.run([tool("promtool"), "check", "config", str(STACK_DIR / "prometheus.yml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = yaml.safe_load((STACK_DIR / "prometheus.yml").read_text())
    (pattern,) = cfg["rule_files"]
    assert pattern.startswith("/etc/prometheus/rules/")
    assert list((REPO_ROOT / "alerts").glob(pattern.rsplit("/", 1)[1])), "rule glob matches nothing in alerts/"


def test_archway_config_is_valid(archway_bin):
    """The stack's archway.yaml passes `archway check` with a master key from the environment."""
    text = (STACK_DIR / "archway.yaml").read_text()
    assert re.search(r"^listen: 0\.0\.0\.0:8080$", text, re.M) and "${ARCHWAY_MASTER_KEY}" in text
    r = subprocess.run([archway_bin, "check", "--config", str(STACK_DIR / "archway.yaml")],
                       env=clean_env({"ARCHWAY_MASTER_KEY": "sk-compose-demo-0123456789"}), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    quick = yaml.safe_load((REPO_ROOT / "examples" / "quickstart.yaml").read_text())
    stack = yaml.safe_load(text)
    assert stack["models"] == quick["models"] and stack["providers"] == quick["providers"]
