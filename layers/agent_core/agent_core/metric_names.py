"""The custom metrics of the LLM functions and approvals, declared once: names and dimensions.

agent_core.telemetry emits exactly these (tests/unit/test_telemetry.py checks it on the real
handler) and the dashboard and alarms in template.yaml may chart only these
(tests/template/test_operations.py). Standard library only, so tests can read it as a file.

Every dimension set also holds the stack's ``environment``, so two stacks in one account never
mix; the empty set is the stack's total, which the cost alarm watches.
"""

from typing import Final

ENVIRONMENT: Final = "environment"
# Powertools puts the function's service name (POWERTOOLS_SERVICE_NAME) in the first set itself.
SERVICE: Final = ("service",)
DimensionSets = tuple[tuple[str, ...], ...]

# One model turn: usage and cost, by stack, agent, model, and all three with the state machine.
TURN_DIMENSIONS: Final[DimensionSets] = (
    SERVICE,
    (),
    ("agent",),
    ("model",),
    ("agent", "model", "state_machine"),
)
TURN_METRICS: Final = {  # metric -> the usage field it counts (None: one per turn)
    "InputTokens": "input_tokens",
    "OutputTokens": "output_tokens",
    "CacheReadInputTokens": "cache_read_input_tokens",
    "CacheWriteInputTokens": "cache_creation_input_tokens",
    "ModelTurns": None,
}
COST: Final = "CostUSD"
# Tool results with is_error that came back to the model (failures, rejections, approval timeouts).
TOOL_ERRORS: Final = "ToolErrors"
TOOL_DIMENSIONS: Final[DimensionSets] = (SERVICE, ("tool",), ("agent", "tool"))
# Errors the LLM function raised, by errorType (LlmRetryableError, LlmFatalError, ...).
LLM_ERRORS: Final = "LlmErrors"
LLM_ERROR_DIMENSIONS: Final[DimensionSets] = (SERVICE, ("error_type",), ("agent", "error_type"))
# Human approvals (agent_core.approvals), counted from the approvals table's stream whoever wrote
# them (functions/approval_metrics): requests recorded, decisions given (approved, rejected).
APPROVALS_REQUESTED: Final = "ApprovalsRequested"
APPROVALS_REQUESTED_DIMENSIONS: Final[DimensionSets] = (SERVICE, (), ("agent",))
APPROVALS_ANSWERED: Final = "ApprovalsAnswered"
APPROVALS_ANSWERED_DIMENSIONS: Final[DimensionSets] = (
    SERVICE,
    ("decision",),
    ("agent", "decision"),
)

EMITTED: Final[dict[str, DimensionSets]] = {
    **dict.fromkeys([*TURN_METRICS, COST], TURN_DIMENSIONS),
    TOOL_ERRORS: TOOL_DIMENSIONS,
    LLM_ERRORS: LLM_ERROR_DIMENSIONS,
    APPROVALS_REQUESTED: APPROVALS_REQUESTED_DIMENSIONS,
    APPROVALS_ANSWERED: APPROVALS_ANSWERED_DIMENSIONS,
}
