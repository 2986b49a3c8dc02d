import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sfn_agents.python_runtime import Handler, load_handler
from sfn_agents.template import Template, load_yaml
from sfn_agents.thread_env import overlay

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "agent_core"
E2E = ROOT / "tests" / "e2e"

# Tests never reach AWS: fake credentials, one region, no X-Ray daemon.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="sfn-agents-tests",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end tests first, however the paths were given: their session engine's state is
    process-wide and other tests would take it (tests/e2e/conftest.py)."""
    items.sort(key=lambda item: E2E not in item.path.parents)


@pytest.fixture(scope="session")
def python_handlers() -> dict[str, str]:
    """Each Python function's CodeUri (no trailing slash) -> its Handler, from template.yaml."""
    template = Template.load(ROOT / "template.yaml")
    functions = template.of_type("AWS::Serverless::Function")
    handlers = {}
    for logical_id in functions:
        props = template.function_properties(logical_id)
        if str(props.get("Runtime", "")).startswith("python"):
            handlers[str(props["CodeUri"]).rstrip("/")] = props["Handler"]
    return handlers


@pytest.fixture
def load_function(python_handlers):
    """load_function("functions/tools/sql", env={...}) -> the real handler (the template's)."""

    def load(code_dir: str, env=None) -> Handler:
        function = load_handler(ROOT / code_dir, python_handlers[code_dir], [LAYER], env or {})

        def invoke(event, context):  # the function's environment is there at invoke time too
            with overlay(env or {}):
                return function(event, context)

        return invoke

    return load


@pytest.fixture
def template_copy(tmp_path: Path) -> Callable[[Callable[[dict[str, Any]], None]], Path]:
    """template_copy(edit) -> a copy of the real template (as CloudFormation reads it) whose
    Resources ``edit`` changed, beside links to everything it refers to, so it deploys as the
    original does."""

    def copy(edit: Callable[[dict[str, Any]], None]) -> Path:
        body = load_yaml(ROOT / "template.yaml")
        edit(body["Resources"])
        for entry in ROOT.iterdir():
            if entry.name not in ("template.yaml", ".aws-sam", ".venv", ".git"):
                (tmp_path / entry.name).symlink_to(entry)
        path = tmp_path / "template.yaml"
        path.write_text(json.dumps(body))  # JSON is YAML
        return path

    return copy


@pytest.fixture
def template_without_policy(template_copy):
    """template_without_policy(logical_id, policy) -> a template copy whose resource lacks that
    one entry of its Policies (which it must have)."""

    def copy(logical_id: str, policy: Any) -> Path:
        def edit(resources: dict[str, Any]) -> None:
            props = resources[logical_id]["Properties"]
            assert policy in props["Policies"], policy
            props["Policies"] = [p for p in props["Policies"] if p != policy]

        return template_copy(edit)

    return copy
