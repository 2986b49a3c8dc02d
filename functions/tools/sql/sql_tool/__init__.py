"""The SQL tool function (handler: sql_tool.handler.lambda_handler)."""
