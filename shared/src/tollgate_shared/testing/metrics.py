"""Prometheus metrics as tests read them: a `/metrics` page's samples, the sample names the
code can expose, and the metric names a PromQL expression (a dashboard panel's, an alert's)
reads."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
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


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*+)(?!\s*\()")  # a whole name, not a call
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}


_SELECTOR = re.compile(r'([A-Za-z_:][\w:]*)\s*\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}')
_MATCHER = re.compile(r'(\w+)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"')


def promql_selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """Each `name{...}` selector of a PromQL expression with its equality matchers (`=~`, `!=`
    and `!~` left out): the series it needs to find something."""
    return [
        (name, {label: value for label, op, value in _MATCHER.findall(matchers) if op == "="})
        for name, matchers in _SELECTOR.findall(expr)
    ]


def promql_metric_names(expr: str) -> set[str]:
    """The metric (sample) names a PromQL expression selects: what is left once strings, label
    matchers, ranges, grouping clauses, function names, keywords and numbers are taken out."""
    for pattern in (_STRINGS, _MATCHERS, _RANGES, _GROUPING):
        expr = pattern.sub(" ", expr)
    return {name for name in _NAME.findall(expr) if name.lower() not in _KEYWORDS}
