"""One observability setup for every function: Powertools Logger, Tracer and Metrics.

Service name, metrics namespace and log level come from the POWERTOOLS_* environment variables
that template.yaml sets in Globals, so no function configures them itself."""

import functools
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Only boto calls are patched: provider SDKs use their own HTTP clients, and tools that use
# other libraries (sqlite3) patch them themselves.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()


def serve[R](handler: Callable[[Any, Any], R]) -> Callable[[Any, Any], R]:
    """Every handler's outermost decorator: the invocation logs with its function's service and
    level, and its metrics carry its service and namespace. In Lambda they never change; in the
    local engine, where functions share this module, each invocation gets its own function's
    (log keys per thread; Powertools keeps one metric set per process in any case)."""

    @functools.wraps(handler)
    def serving(event: Any, context: Any) -> R:
        logger.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL") or "INFO")
        service = os.environ.get("POWERTOOLS_SERVICE_NAME") or "service_undefined"
        logger.thread_safe_append_keys(service=service)
        metrics.service = service
        metrics.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or metrics.namespace
        return handler(event, context)

    return serving


def observed[R](handler: Callable[[Any, Any], R]) -> Callable[[Any, Any], R]:
    """The decorators every handler wears, in order: its function's service and level (serve),
    the Lambda context in its logs, and a traced invocation."""
    return serve(logger.inject_lambda_context(tracer.capture_lambda_handler(handler)))


def metered[R](handler: Callable[[Any, Any], R]) -> Callable[[Any, Any], R]:
    """``observed``, and the invocation's metrics flushed as EMF when it returns."""
    return observed(metrics.log_metrics(handler))
