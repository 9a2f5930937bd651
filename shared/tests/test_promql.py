"""What the dashboard and alert tests read from PromQL: the metrics an expression selects, the
labels each selector needs, and a dashboard's queries as Prometheus would get them."""

import pytest

from tollgate_shared.testing import grafana_queries, promql_metric_names, promql_selectors


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("max by (service) (tollgate_dlq_messages) > 0", {"tollgate_dlq_messages"}),
        (
            'sum(rate(a_total{status=~"5..",route="/x/{id}"}[5m])) / sum(rate(a_total[5m]))',
            {"a_total"},
        ),
        (
            "histogram_quantile(0.99, sum by (le, route) (rate(b_bucket[5m])))",
            {"b_bucket"},
        ),
        ("c > on(service) group_left d offset 5m or vector(1e3)", {"c", "d"}),
        ('sum without (pod) (e{consumer="ledger"}) and {__name__="f"}', {"e", "f"}),
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
        ("a_total", {}),
        ("b", {}),
    ]


def test_a_syntax_error_is_refused() -> None:
    with pytest.raises(ValueError, match="parenthesis"):
        promql_selectors("sum(rate(a_total[5m])")


def test_a_dashboards_queries_get_its_variables_current_values() -> None:
    dashboard = {
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "current": {}},
                {"name": "consumer", "current": {"text": "ledger", "value": "ledger"}},
            ]
        },
        "panels": [
            {"targets": [{"expr": 'rate(a_total{consumer="$consumer"}[$__rate_interval])'}]},
            {"type": "row"},
        ],
    }
    assert grafana_queries(dashboard) == ['rate(a_total{consumer="ledger"}[5m])']
    assert promql_selectors(grafana_queries(dashboard)[0]) == [("a_total", {"consumer": "ledger"})]
