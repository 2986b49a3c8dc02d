"""LLM caller for Google Gemini: parse, delegate to the provider-independent turn, return."""

from dataclasses import dataclass

from agent_core.llm_function import one_client_function
from agent_core.secrets import api_key
from agent_core.settings import KeyedLlmSettings, env

from gemini_llm.client import GeminiClient


@dataclass(frozen=True, kw_only=True)
class GeminiSettings(KeyedLlmSettings):
    # Optional: a proxy, a compatible server or the scripted model instead of Google's API.
    base_url: str | None = env("GOOGLE_GEMINI_BASE_URL", None)


def client(settings: GeminiSettings) -> GeminiClient:
    return GeminiClient(
        api_key=lambda: api_key(settings.api_keys_secret, "GEMINI_API_KEY"),
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
        base_url=settings.base_url,
    )


caller, lambda_handler = one_client_function(GeminiSettings, client)
