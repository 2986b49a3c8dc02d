"""Tool {{ cookiecutter.name }} (handler: {{ cookiecutter.name }}_tool.handler.lambda_handler)."""
