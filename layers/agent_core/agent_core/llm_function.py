"""What every LLM caller function is: per sandbox, its provider client, the conversation store
and the default model, built from its settings; per invocation, one provider-independent turn."""

from collections.abc import Callable
from typing import Any

from agent_core import secrets
from agent_core.conversation import ConversationStore
from agent_core.observability import metered
from agent_core.settings import KeyedLlmSettings, LlmSettings, per_environment
from agent_core.snapstart import prewarm
from agent_core.turn import ModelClient, run_turn

TurnParts = tuple[ModelClient, ConversationStore, str]  # run_turn's client, store, default model
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def turn_handler(
    parts: Callable[[dict[str, Any]], TurnParts],
    store: Callable[[], ConversationStore],
    settings_type: type[LlmSettings],
) -> Handler:
    """The Lambda handler: each event's turn, run with ``parts(event)``. During a SnapStart
    snapshot only, the store (and, for keyed providers, Secrets Manager) connect ahead."""
    steps: list[Callable[[], object]] = [lambda: store().connect()]
    if issubclass(settings_type, KeyedLlmSettings):
        steps.append(secrets.connect)
    prewarm(*steps)

    @metered
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return run_turn(event, *parts(event))

    return lambda_handler


def one_client_function[S: LlmSettings](
    settings_type: type[S], client: Callable[[S], ModelClient]
) -> tuple[Callable[[], TurnParts], Handler]:
    """For a provider whose one SDK client serves every agent: the parts (built once per
    sandbox) and the handler."""

    @per_environment
    def caller() -> TurnParts:
        settings = settings_type.from_env()
        return client(settings), ConversationStore(settings.artifact_bucket), settings.default_model

    return caller, turn_handler(lambda _: caller(), lambda: caller()[1], settings_type)
