"""Emits the metrics agent_core.metric_names declares (CloudWatch EMF through Powertools)."""

import functools
import os
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, Metrics, MetricUnit

from agent_core.errors import LlmFatalError, LlmRetryableError, MalformedLlmEvent
from agent_core.messages import Message, Usage
from agent_core.metric_names import (
    APPROVALS_ANSWERED,
    APPROVALS_ANSWERED_DIMENSIONS,
    APPROVALS_REQUESTED,
    APPROVALS_REQUESTED_DIMENSIONS,
    COST,
    ENVIRONMENT,
    LLM_ERROR_DIMENSIONS,
    LLM_ERRORS,
    SERVICE,
    TOOL_DIMENSIONS,
    TOOL_ERRORS,
    TURN_DIMENSIONS,
    TURN_METRICS,
    DimensionSets,
)


def environment() -> str:
    return os.environ.get("ENVIRONMENT_NAME") or "local"


def _add_dimension_sets(
    target: Metrics | EphemeralMetrics, sets: DimensionSets, values: dict[str, str]
) -> None:
    target.add_dimension(name=ENVIRONMENT, value=environment())  # the first set, with service
    for names in sets:
        if names == SERVICE:
            continue
        target.add_dimensions(**{ENVIRONMENT: environment(), **{n: values[n] for n in names}})


def record_turn(
    metrics: Metrics, agent: str, model: str, state_machine: str, usage: Usage, cost: float | None
) -> None:
    """The turn's usage on the function's shared Metrics (flushed by its ``log_metrics``)."""
    _add_dimension_sets(
        metrics, TURN_DIMENSIONS, {"agent": agent, "model": model, "state_machine": state_machine}
    )
    counts: dict[str, Any] = dict(usage)
    for name, field in TURN_METRICS.items():
        value = int(counts.get(field) or 0) if field else 1
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if cost is not None:
        metrics.add_metric(name=COST, unit=MetricUnit.NoUnit, value=cost)


def _emit(name: str, value: int, sets: DimensionSets, values: dict[str, str]) -> None:
    """One EMF document of its own, so its dimensions do not mix with the turn's."""
    document = EphemeralMetrics()
    _add_dimension_sets(document, sets, values)
    document.add_metric(name=name, unit=MetricUnit.Count, value=value)
    document.flush_metrics()


def record_tool_errors(agent: str, history: Sequence[Message], new: Sequence[Message]) -> None:
    """Count the error results in ``new`` by tool, named from the calls in ``history``."""
    names = {
        block["id"]: block["name"]
        for message in history
        for block in message["content"]
        if block["type"] == "tool_use"
    }
    errors = Counter(
        names.get(block["tool_use_id"], "unknown")
        for message in new
        for block in message["content"]
        if block["type"] == "tool_result" and block.get("is_error")
    )
    for tool, count in sorted(errors.items()):
        _emit(TOOL_ERRORS, count, TOOL_DIMENSIONS, {"agent": agent, "tool": tool})


def record_approval(event: str, agent: str, decision: str | None) -> None:
    """An approval request recorded (``requested``) or a decision given (``answered``, with
    ``approved`` or ``rejected``), as the approvals table's stream shows them
    (functions/approval_metrics)."""
    if event == "requested":
        _emit(APPROVALS_REQUESTED, 1, APPROVALS_REQUESTED_DIMENSIONS, {"agent": agent})
    else:
        values = {"agent": agent, "decision": str(decision)}
        _emit(APPROVALS_ANSWERED, 1, APPROVALS_ANSWERED_DIMENSIONS, values)


def counts_llm_errors[**P, R](turn: Callable[P, R]) -> Callable[P, R]:
    """Decorates the turn function: each contract error it raises counts once in LlmErrors."""

    @functools.wraps(turn)
    def counted(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return turn(*args, **kwargs)
        except (LlmRetryableError, LlmFatalError, MalformedLlmEvent) as error:
            event: Any = args[0] if args else {}
            agent = event.get("agent") if isinstance(event, dict) else None
            name = agent.get("name") if isinstance(agent, dict) else None
            values = {"agent": str(name or "unknown"), "error_type": type(error).__name__}
            _emit(LLM_ERRORS, 1, LLM_ERROR_DIMENSIONS, values)
            raise

    return counted
