"""The Google Gemini LLM caller function (handler: gemini_llm.handler.lambda_handler)."""
