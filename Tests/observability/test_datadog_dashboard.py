"""Structural test of the Datadog dashboard: every query names a metric Archway exports over OTLP,
with an aggregation valid for how Datadog ingests it and tags that metric actually carries."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from obs_helpers import DATADOG_DIR, OTLP_METRICS

DASH = json.loads((DATADOG_DIR / "archway-overview.json").read_text())
RESOURCE_TAGS = {"service", "env", "version", "host"}   # from service.name, deployment.environment, ...
DISTRIBUTION_AGGS = {"count", "sum", "avg", "min", "max", "p50", "p75", "p90", "p95", "p99"}
COUNT_AGGS = {"sum", "avg", "min", "max"}
GAUGE_AGGS = {"sum", "avg", "min", "max"}
QUERY_RE = re.compile(
    r"^(?P<agg>[a-z0-9]+):(?P<metric>[a-z0-9_.]+)\{(?P<filters>[^}]*)\}"
    r"(?:\s+by\s+\{(?P<by>[^}]*)\})?(?P<mods>(?:\.[a-z_]+\(\))*)$")


def _widgets(ws):
    for w in ws:
        yield w["definition"]
        yield from _widgets(w["definition"].get("widgets", []))


def _requests():
    for d in _widgets(DASH["widgets"]):
        for r in d.get("requests", []):
            yield d, r


def test_matches_generator():
    r = subprocess.run([sys.executable, str(DATADOG_DIR / "generate.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_top_level_shape():
    assert DASH["layout_type"] in ("ordered", "free") and DASH["title"] and DASH["widgets"]
    assert all("definition" in w for w in DASH["widgets"])


def test_every_query_names_an_exported_metric_with_valid_aggregation_and_tags():
    variables = {v["name"]: v["prefix"] for v in DASH["template_variables"]}
    used_vars, metrics_seen, n = set(), set(), 0
    for widget, req in _requests():
        names = set()
        for q in req["queries"]:
            assert q["data_source"] == "metrics", widget["title"]
            names.add(q["name"])
            m = QUERY_RE.match(q["query"])
            assert m, f"{widget['title']}: unparseable query {q['query']!r}"
            metric = m.group("metric")
            assert metric in OTLP_METRICS, f"{widget['title']}: {metric} is not a metric Archway exports over OTLP"
            metrics_seen.add(metric)
            meta = OTLP_METRICS[metric]
            allowed_tags = meta["attrs"] | RESOURCE_TAGS
            if meta["type"] == "histogram":
                assert m.group("agg") in DISTRIBUTION_AGGS, q["query"]
                assert not m.group("mods"), f"{q['query']}: distributions take no .as_count()/.as_rate()"
            elif meta["type"] == "gauge":
                assert m.group("agg") in GAUGE_AGGS, q["query"]
                assert not m.group("mods"), f"{q['query']}: gauges take no .as_count()/.as_rate()"
            else:
                assert m.group("agg") in COUNT_AGGS, q["query"]
                assert m.group("mods") in (".as_count()", ".as_rate()"), f"{q['query']}: counts need .as_count()/.as_rate()"
            for f in filter(None, (x.strip() for x in m.group("filters").split(","))):
                if f == "*":
                    continue
                if f.startswith("$"):
                    var = f[1:]
                    assert var in variables, f"{q['query']}: undefined template variable {f}"
                    assert variables[var] in allowed_tags, f"{q['query']}: {metric} has no tag {variables[var]} (${var})"
                    used_vars.add(var)
                else:
                    tag = f.lstrip("!").split(":", 1)[0]
                    assert tag in allowed_tags, f"{q['query']}: {metric} has no tag {tag}"
            for tag in filter(None, (x.strip() for x in (m.group("by") or "").split(","))):
                assert tag in allowed_tags, f"{q['query']}: {metric} has no tag {tag} to group by"
            n += 1
        for f in req["formulas"]:
            idents = set(re.findall(r"\b([a-z][a-z0-9_]*)\b(?!\s*\()", f["formula"]))
            assert idents and idents <= names, f"{widget['title']}: formula {f['formula']} uses {idents - names}"
    assert n >= 20
    assert used_vars == set(variables), f"unused template variables: {set(variables) - used_vars}"
    assert metrics_seen == set(OTLP_METRICS), f"metrics without a widget: {set(OTLP_METRICS) - metrics_seen}"
