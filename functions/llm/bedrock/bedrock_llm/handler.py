"""LLM caller for Amazon Bedrock (Converse API): parse, delegate to the provider-independent turn,
return. No API key: the function's IAM role signs the requests."""

from agent_core.llm_function import one_client_function
from agent_core.settings import LlmSettings

from bedrock_llm.client import BedrockClient, runtime_client


def client(settings: LlmSettings) -> BedrockClient:
    return BedrockClient(
        runtime_client(timeout=settings.timeout_seconds, max_retries=settings.max_retries)
    )


caller, lambda_handler = one_client_function(LlmSettings, client)
