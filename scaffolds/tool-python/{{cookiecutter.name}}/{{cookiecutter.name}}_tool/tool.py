"""Tool {{ cookiecutter.name }}: {{ cookiecutter.description }}

The tool's logic, free of AWS: replace the example (word and character counts) with yours."""

from typing import Any

from agent_core.tools import ToolError


def {{ cookiecutter.name }}(tool_input: dict[str, Any]) -> dict[str, Any]:
    text = tool_input.get("text")
    if not isinstance(text, str):
        raise ToolError("text must be a string")
    return {"words": len(text.split()), "characters": len(text)}
