"""LLM caller for GPT and every OpenAI-compatible endpoint: pick the agent's named provider
(providers.json), delegate to the provider-independent turn, return.

``OPENAI_BASE_URL`` (the SDK's standard setting), when set, replaces every provider's base URL:
that is how the local engine and the tests point this function at a scripted model."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_core.conversation import ConversationStore
from agent_core.errors import MalformedLlmEvent
from agent_core.llm_function import TurnParts, turn_handler
from agent_core.secrets import api_key
from agent_core.settings import KeyedLlmSettings, env, per_environment

from openai_llm.client import KEYLESS, OpenAiClient, Provider, load_providers

PROVIDERS = load_providers(Path(__file__).with_name("providers.json"))
DEFAULT_PROVIDER = "openai"


@dataclass(frozen=True, kw_only=True)
class OpenAiSettings(KeyedLlmSettings):
    default_model: str = env("DEFAULT_MODEL", "")  # empty: providers.json's
    base_url: str | None = env("OPENAI_BASE_URL", None)


@dataclass
class Caller:
    settings: OpenAiSettings
    store: ConversationStore
    clients: dict[str, OpenAiClient] = field(default_factory=dict)  # one per provider, kept

    def key_reader(self, provider: Provider) -> Any:
        key_name = provider.api_key_name
        if key_name is None:
            return lambda: KEYLESS
        return lambda: api_key(self.settings.api_keys_secret, key_name)

    def client_for(self, event: Any) -> OpenAiClient:
        agent = event.get("agent") if isinstance(event, dict) else None
        name = (agent.get("provider") if isinstance(agent, dict) else None) or DEFAULT_PROVIDER
        provider = PROVIDERS.get(name) if isinstance(name, str) else None
        if provider is None:
            raise MalformedLlmEvent(
                f"unknown provider {name!r}: this function serves {', '.join(sorted(PROVIDERS))} "
                "(providers.json)"
            )
        if name not in self.clients:
            self.clients[name] = OpenAiClient(
                provider,
                api_key=self.key_reader(provider),
                base_url=self.settings.base_url or provider.base_url,
                timeout=self.settings.timeout_seconds,
                max_retries=self.settings.max_retries,
            )
        return self.clients[name]

    def default_model(self, provider: str) -> str:
        if provider == DEFAULT_PROVIDER and self.settings.default_model:
            return self.settings.default_model
        return PROVIDERS[provider].default_model


@per_environment
def caller() -> Caller:
    settings = OpenAiSettings.from_env()
    return Caller(settings, ConversationStore(settings.artifact_bucket))


def parts(event: dict[str, Any]) -> TurnParts:
    current = caller()
    client = current.client_for(event)
    return client, current.store, current.default_model(client.provider)


lambda_handler = turn_handler(parts, lambda: caller().store, OpenAiSettings)
