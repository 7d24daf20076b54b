"""Operations: Prometheus metrics and one small HTTP server for metrics and health checks."""

from ivrd.observability.http import HttpLimits, ReadyCheck, serve_http
from ivrd.observability.metrics import CONTENT_TYPE, Metrics

__all__ = ["CONTENT_TYPE", "HttpLimits", "Metrics", "ReadyCheck", "serve_http"]
