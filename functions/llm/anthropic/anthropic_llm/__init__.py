"""The Anthropic LLM caller function (handler: anthropic_llm.handler.lambda_handler)."""
