"""The Amazon Bedrock LLM caller function (handler: bedrock_llm.handler.lambda_handler)."""
