"""The OpenAI-compatible LLM caller function (handler: openai_llm.handler.lambda_handler)."""
