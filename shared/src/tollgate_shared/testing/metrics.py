"""Prometheus metrics as tests read them: a `/metrics` page's samples, the sample names the
code can expose, and the series a PromQL expression (a dashboard panel's, an alert's) selects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import promql_parser
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count", ""),
    "gauge": ("",),
    "info": ("_info",),
}
"""The sample names a family of each type exposes, after its name (`_created` left out)."""


@dataclass(frozen=True)
class Sample:
    """One sample of a `/metrics` page."""

    name: str
    labels: dict[str, str]
    value: float
    type: str
    """Its family's type: counter, gauge, histogram, …"""


async def scrape(http: httpx.AsyncClient, base_url: str) -> list[Sample]:
    """Every sample of `base_url/metrics`."""
    response = await http.get(f"{base_url}/metrics")
    assert response.status_code == 200, response.text
    return [
        Sample(sample.name, sample.labels, sample.value, family.type)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def sample_names(families: Iterable[Metric]) -> set[str]:
    """Every sample name `families` (e.g. `REGISTRY.collect()`) may expose, labelled children
    not yet made included."""
    return {
        family.name + suffix for family in families for suffix in SUFFIXES.get(family.type, ("",))
    }


def promql_selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """Each series selector of a PromQL expression, parsed as Prometheus parses it (a syntax
    error raises ValueError): its metric name and its equality matchers (`=~`, `!=` and `!~`
    left out), what a series must have for the selector to find it."""
    selectors: list[tuple[str, dict[str, str]]] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            equal = {
                m.name: m.value
                for m in node.matchers.matchers
                if m.op == promql_parser.MatchOp.Equal
            }
            name = node.name or equal.pop("__name__", "")
            selectors.append((name, equal))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return selectors


def promql_metric_names(expr: str) -> set[str]:
    """The metric (sample) names a PromQL expression selects."""
    return {name for name, _ in promql_selectors(expr)}


GRAFANA_INTERVALS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def grafana_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL query of a Grafana dashboard's panels, its variables replaced by their
    current values (Grafana's interval variables by typical ones) so Prometheus could run it."""
    values = dict(GRAFANA_INTERVALS)
    for variable in dashboard.get("templating", {}).get("list", []):
        current = variable.get("current", {}).get("value")
        if isinstance(current, str):
            values["$" + variable["name"]] = current
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            # longest first, so that no name is replaced inside a longer one
            for name in sorted(values, key=len, reverse=True):
                expr = expr.replace(name, values[name])
            queries.append(expr)
    return queries
