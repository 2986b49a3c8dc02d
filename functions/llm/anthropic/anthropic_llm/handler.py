"""LLM caller for Anthropic Claude: parse, delegate to the provider-independent turn, return."""

from agent_core.llm_function import one_client_function
from agent_core.secrets import api_key
from agent_core.settings import KeyedLlmSettings

from anthropic_llm.client import AnthropicClient


def client(settings: KeyedLlmSettings) -> AnthropicClient:
    return AnthropicClient(
        api_key=lambda: api_key(settings.api_keys_secret, "ANTHROPIC_API_KEY"),
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
    )


caller, lambda_handler = one_client_function(KeyedLlmSettings, client)
