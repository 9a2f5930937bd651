"""What the dashboard and alert tests read from PromQL: the metrics an expression selects, and
the labels each selector needs."""

import pytest

from tollgate_shared.testing.metrics import promql_metric_names, promql_selectors


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("max by (service) (tollgate_dlq_messages) > 0", {"tollgate_dlq_messages"}),
        (
            'sum(rate(a_total{status=~"5..",route="/x/{id}"}[5m])) / sum(rate(a_total[5m]))',
            {"a_total"},
        ),
        (
            "histogram_quantile(0.99, sum by (le, route) (rate(b_bucket[$__rate_interval])))",
            {"b_bucket"},
        ),
        ("c > on(service) group_left d offset 5m or vector(1e3)", {"c", "d"}),
        ('sum without (pod) (e{consumer="$payments_consumer"}) and bool f', {"e", "f"}),
    ],
)
def test_the_metric_names_an_expression_selects(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def test_selectors_keep_their_equality_matchers() -> None:
    expr = (
        'sum(rate(a_total{status=~"5..", route="/x/{id}",service = "g"}[5m]))'
        ' / sum(rate(a_total[5m])) and b{c!="d", e!~"f"}'
    )
    assert promql_selectors(expr) == [
        ("a_total", {"route": "/x/{id}", "service": "g"}),
        ("b", {}),
    ]
