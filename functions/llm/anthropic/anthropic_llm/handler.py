"""LLM caller for Anthropic Claude: parse, delegate to the provider-independent turn, return."""

from typing import Any

from agent_core import secrets
from agent_core.conversation import ConversationStore
from agent_core.observability import metered
from agent_core.secrets import api_key
from agent_core.settings import KeyedLlmSettings, per_environment
from agent_core.snapstart import prewarm
from agent_core.turn import run_turn
from aws_lambda_powertools.utilities.typing import LambdaContext

from anthropic_llm.client import AnthropicClient


@per_environment
def caller() -> tuple[AnthropicClient, ConversationStore, str]:
    """The SDK client, the conversation store and the default model, from the settings."""
    settings = KeyedLlmSettings.from_env()
    client = AnthropicClient(
        api_key=lambda: api_key(settings.api_keys_secret, "ANTHROPIC_API_KEY"),
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
    )
    return client, ConversationStore(settings.artifact_bucket), settings.default_model


# Only during a SnapStart snapshot: build the clients and connect them, into the snapshot.
prewarm(lambda: caller()[1].connect(), secrets.connect)  # noqa: PLW0108 (lazy)


@metered
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_turn(event, *caller())
