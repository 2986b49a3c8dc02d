"""LLM caller for Google Gemini: parse, delegate to the provider-independent turn, return."""

from dataclasses import dataclass
from typing import Any

from agent_core import secrets
from agent_core.conversation import ConversationStore
from agent_core.observability import metered
from agent_core.secrets import api_key
from agent_core.settings import KeyedLlmSettings, env, per_environment
from agent_core.snapstart import prewarm
from agent_core.turn import run_turn
from aws_lambda_powertools.utilities.typing import LambdaContext

from gemini_llm.client import GeminiClient


@dataclass(frozen=True, kw_only=True)
class GeminiSettings(KeyedLlmSettings):
    # Optional: a proxy, a compatible server or the scripted model instead of Google's API.
    base_url: str | None = env("GOOGLE_GEMINI_BASE_URL", None)


@per_environment
def caller() -> tuple[GeminiClient, ConversationStore, str]:
    """The SDK client, the conversation store and the default model, from the settings."""
    settings = GeminiSettings.from_env()
    client = GeminiClient(
        api_key=lambda: api_key(settings.api_keys_secret, "GEMINI_API_KEY"),
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
        base_url=settings.base_url,
    )
    return client, ConversationStore(settings.artifact_bucket), settings.default_model


# Only during a SnapStart snapshot: build the clients and connect them, into the snapshot.
prewarm(lambda: caller()[1].connect(), secrets.connect)  # noqa: PLW0108 (lazy)


@metered
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_turn(event, *caller())
