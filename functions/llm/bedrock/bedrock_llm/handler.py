"""LLM caller for Amazon Bedrock (Converse API): parse, delegate to the provider-independent turn,
return. No API key: the function's IAM role signs the requests."""

from typing import Any

from agent_core.conversation import ConversationStore
from agent_core.observability import metered
from agent_core.settings import LlmSettings, per_environment
from agent_core.snapstart import prewarm
from agent_core.turn import run_turn
from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_llm.client import BedrockClient, runtime_client


@per_environment
def caller() -> tuple[BedrockClient, ConversationStore, str]:
    """The Bedrock client, the conversation store and the default model, from the settings;
    built once, so each invocation reuses their connections."""
    settings = LlmSettings.from_env()
    runtime = runtime_client(timeout=settings.timeout_seconds, max_retries=settings.max_retries)
    store = ConversationStore(settings.artifact_bucket)
    return BedrockClient(runtime), store, settings.default_model


# Only during a SnapStart snapshot: build the clients and connect them, into the snapshot.
prewarm(lambda: caller()[1].connect())  # noqa: PLW0108 (lazy)


@metered
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_turn(event, *caller())
