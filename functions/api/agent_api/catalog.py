"""The agents the API serves: the agent registry (the same specs the loop reads), newest version
of each, with the tools whose calls wait for a person."""

import json
import time
from dataclasses import dataclass
from typing import Any

from agent_core.paging import scanned

from agent_api.errors import NotFound

CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Agent:
    name: str
    description: str
    provider: str
    model: str
    tools: list[str]
    approval_tools: list[str]

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "provider": self.provider,
            "model": self.model or "default",
            "tools": self.tools,
            "approval_required_tools": self.approval_tools,
        }


def _newest(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    newest: dict[str, dict[str, Any]] = {}
    for item in items:
        name = item[key]["S"]
        if name not in newest or int(item["version"]["S"]) > int(newest[name]["version"]["S"]):
            newest[name] = item
    return newest


class Catalog:
    def __init__(self, dynamodb: Any, agent_table: str, tool_table: str) -> None:
        self.dynamodb = dynamodb
        self.agent_table = agent_table
        self.tool_table = tool_table
        self._agents: dict[str, Agent] = {}
        self._loaded_at = -CACHE_SECONDS

    def agents(self) -> dict[str, Agent]:
        if time.monotonic() - self._loaded_at >= CACHE_SECONDS:
            self._agents = self._load()
            self._loaded_at = time.monotonic()
        return self._agents

    def get(self, name: str) -> Agent:
        agent = self.agents().get(name)
        if agent is None:
            raise NotFound(f"no agent {name!r}; known: {', '.join(sorted(self.agents()))}")
        return agent

    def _load(self) -> dict[str, Agent]:
        tools = _newest(scanned(self.dynamodb.scan, TableName=self.tool_table), "tool_name")
        needs_approval = {
            name
            for name, item in tools.items()
            if item.get("human_approval_required", {}).get("BOOL")
        }
        agents = {}
        for name, item in sorted(
            _newest(scanned(self.dynamodb.scan, TableName=self.agent_table), "agent_name").items()
        ):
            spec = json.loads(item["spec"]["S"])
            tool_names = [tool["name"] for tool in spec["tools"]]
            approval = set(spec.get("approval_required_tools", [])) | (
                needs_approval & set(tool_names)
            )
            agents[name] = Agent(
                name=name,
                description=spec.get("description", ""),
                provider=spec["provider"],
                model=spec.get("model", ""),
                tools=tool_names,
                approval_tools=sorted(approval),
            )
        return agents
