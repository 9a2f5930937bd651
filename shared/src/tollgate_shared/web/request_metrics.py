"""Per-route request counts and latency (`tollgate_http_requests_total`,
`tollgate_http_request_seconds`), recorded by `http.ServiceApp` for its FastAPI routes and its
fast routes alike.

Requests are labelled by their route's path template, never their path, and unknown methods
are labelled `OTHER`, so no client can add series. The labelled children are bound once per
route, method and status and kept: recording a request is two dict lookups and two updates.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from tollgate_shared.observability.metrics import HTTP_REQUESTS, HTTP_SECONDS
from tollgate_shared.web.fast_path import FastRoute

UNMATCHED = "unmatched"
"""The route label of a request no route takes (404s, refused before routing)."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def template_of(route: object | None) -> str:
    """The path template `route` answers: a fast route's `ROUTE`, a Starlette route's or
    mount's `path_format`; `UNMATCHED` for no route."""
    if isinstance(route, FastRoute):
        return route.ROUTE
    return str(getattr(route, "path_format", UNMATCHED))


class _RouteSeries:
    """One route and method's latency child and its counter children by status."""

    __slots__ = ("_by_status", "_labels", "_seconds")

    def __init__(self, service: str, method: str, route: object | None) -> None:
        self._labels = (service, method, template_of(route))
        self._seconds: Histogram = HTTP_SECONDS.labels(*self._labels)
        self._by_status: dict[int, Counter] = {}

    def observe(self, status: int, seconds: float) -> None:
        counter = self._by_status.get(status)
        if counter is None:
            counter = self._by_status[status] = HTTP_REQUESTS.labels(*self._labels, str(status))
        counter.inc()
        self._seconds.observe(seconds)


class RequestMetrics:
    """The request metrics of one service (its `service` label)."""

    def __init__(self, service: str) -> None:
        self.service = service
        # By the route's id (FastAPI's routes are not hashable): an app keeps its routes.
        self._series: dict[tuple[int, str], _RouteSeries] = {}

    def observe(self, route: object | None, method: str, status: int, seconds: float) -> None:
        """Count one answered request of `route` (None: no route took it) and its time."""
        if method not in METHODS:
            method = "OTHER"
        key = (id(route), method)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _RouteSeries(self.service, method, route)
        series.observe(status, seconds)
