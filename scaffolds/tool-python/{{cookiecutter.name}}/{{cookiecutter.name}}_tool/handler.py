"""Lambda handler of tool {{ cookiecutter.name }}: parse the tool call, delegate, return the result."""

from typing import Any

from agent_core.observability import observed
from agent_core.tools import dispatch
from aws_lambda_powertools.utilities.typing import LambdaContext

from {{ cookiecutter.name }}_tool.tool import {{ cookiecutter.name }}


@observed
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, {"{{ cookiecutter.name }}": {{ cookiecutter.name }}})
