"""The market data tool function (handler: market_data_tool.handler.lambda_handler)."""
