"""Rule files: `promtool check rules`, `promtool test rules`, and the shape of the SLO alerting."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from obs_helpers import (ALERTS_DIR, REPO_ROOT, RULE_FILES, RULE_TEST_FILES, dashboard_exprs, rule_exprs,
                         rule_groups, tool)

GEN_AI_BUCKETS = {"0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12", "10.24",
                  "20.48", "40.96", "81.92", "+Inf"}
HTTP_BUCKETS = {"0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5",
                "7.5", "10", "+Inf"}


def test_rule_files_exist():
    assert RULE_FILES, "no alerts/*.rules.yml"
    assert RULE_TEST_FILES, "no alerts/tests/*.yml"


def test_rules_match_their_generator():
    r = subprocess.run([sys.executable, str(ALERTS_DIR / "generate.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path):
    r = subprocess.run([tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, f"promtool check rules failed:\n{r.stdout}\n{r.stderr}"


def test_promtool_unit_tests():
    r = subprocess.run([tool("promtool"), "test", "rules", *map(str, RULE_TEST_FILES)],
                       capture_output=True, text=True, cwd=REPO_ROOT)
    assert r.returncode == 0, f"promtool test rules failed:\n{r.stdout}\n{r.stderr}"
    assert "FAILED" not in r.stdout + r.stderr


def _alerts() -> dict[str, dict]:
    return {r["alert"]: r for _, g in rule_groups() for r in g["rules"] if "alert" in r}


def test_every_alert_is_shown_to_fire_and_to_stay_quiet():
    """Each alert has at least one unit test where it fires and one where it must not."""
    fires, quiet = set(), set()
    for path in RULE_TEST_FILES:
        for t in yaml.safe_load(path.read_text())["tests"]:
            for a in t.get("alert_rule_test", []):
                (fires if a.get("exp_alerts") else quiet).add(a["alertname"])
    alerts = set(_alerts())
    assert alerts - fires == set(), f"alerts never shown firing: {sorted(alerts - fires)}"
    assert alerts - quiet == set(), f"alerts never shown staying quiet: {sorted(alerts - quiet)}"


def test_multiwindow_multi_burn_rate_shape():
    """Availability and latency per route and per model, and TTFT, each with the SRE-workbook pairs."""
    alerts = _alerts()
    families = {n[: -len("BurnRateFast")] for n in alerts if n.endswith("BurnRateFast")}
    assert {"ArchwayHttpAvailability", "ArchwayHttpLatency", "ArchwayModelAvailability", "ArchwayModelLatency",
            "ArchwayStreamTimeToFirstToken"} <= families
    objectives = {}
    for _, g in rule_groups():
        for r in g["rules"]:
            if r.get("record") == "archway:slo_objective:ratio":
                objectives[r["labels"]["slo"]] = float(r["expr"].strip()[len("vector("):-1])
    pairs = {"Fast": [("1h", "5m", 14.4)], "Slow": [("6h", "30m", 6)], "Ticket": [("1d", "2h", 3), ("3d", "6h", 1)]}
    for fam in families:
        for suffix, want in pairs.items():
            rule = alerts[f"{fam}BurnRate{suffix}"]
            slo = rule["labels"]["slo"]
            budget = 1 - objectives[slo]
            expr = rule["expr"]
            for long_w, short_w, factor in want:
                for w in (long_w, short_w):
                    m = re.search(rf"archway:{slo}_error_ratio:rate{w} > ([0-9.e-]+)", expr)
                    assert m, f"{fam}BurnRate{suffix}: no {w} window in {expr}"
                    thresholds = [float(x) for x in re.findall(rf"archway:{slo}_error_ratio:rate{w} > ([0-9.e-]+)", expr)]
                    assert any(abs(t - factor * budget) < 1e-9 for t in thresholds), (
                        f"{fam}BurnRate{suffix}: {w} threshold {thresholds} != {factor} x budget {budget}")
    assert "ArchwaySpendRateHigh" in alerts and "archway_cost_USD_total" in "".join(
        r["expr"] for _, g in rule_groups() for r in g["rules"])


def _le_values(expr: str) -> list[tuple[str, str]]:
    out = []
    for m in re.finditer(r"([a-z_:]+)_bucket\{([^}]*)\}", expr):
        for le in re.findall(r'\ble\s*=\s*"([^"]*)"', m.group(2)):
            out.append((m.group(1), le))
    return out


def test_le_thresholds_are_real_non_integer_bucket_bounds():
    """Thresholds on `le` must be bucket bounds that exist, and non-integer so they match whether an
    exporter writes `1` or `1.0` (Prometheus 3 normalises to `1.0`, the collector's text format writes `1`)."""
    seen = 0
    for e in rule_exprs() + dashboard_exprs():
        for metric, le in _le_values(e.expr):
            seen += 1
            buckets = HTTP_BUCKETS if metric.startswith("http_server") else GEN_AI_BUCKETS
            assert le in buckets, f"{e.id}: le=\"{le}\" is not a bucket bound of {metric}"
            assert le == "+Inf" or float(le) != int(float(le)), f"{e.id}: integer le=\"{le}\" is ambiguous"
    assert seen >= 3
