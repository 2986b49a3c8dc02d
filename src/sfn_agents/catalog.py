"""The names a user types for what the template deploys, the same in every mode: an agent by its
registry name or its state machine's logical id, an activity or a function by its logical id or
physical name. Physical names come from the template (its ``Name`` properties with the stack's
parameters), so finding a resource at an endpoint or on AWS costs one list call, not a tag read
per resource."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfn_agents.template import Resolver, Template, TemplateError

APPROVAL_SUFFIX = "-approval"


class UnknownName(LookupError):
    """No resource by that name; the message lists the valid ones."""


@dataclass(frozen=True)
class Resource:
    logical_id: str
    name: str  # physical name; "" when the template leaves it to CloudFormation
    agent: str = ""  # a state machine's AgentName substitution

    def matches(self, wanted: str) -> bool:
        return wanted in (self.logical_id, self.name, self.agent) and bool(wanted)


@dataclass(frozen=True)
class Catalog:
    state_machines: tuple[Resource, ...]
    activities: tuple[Resource, ...]
    functions: tuple[Resource, ...]
    tables: tuple[Resource, ...]

    @classmethod
    def load(cls, template_path: Path, overrides: Mapping[str, str] | None = None) -> "Catalog":
        template = Template.load(template_path, overrides)
        resolver = Resolver(template, "local", "local")  # names use parameters only

        def named(kind: str, name_property: str) -> tuple[Resource, ...]:
            found = []
            for logical_id, spec in template.of_type(kind).items():
                props = spec.get("Properties", {})
                try:
                    name = str(resolver.resolve(props.get(name_property)) or "")
                except TemplateError:
                    name = ""
                agent = str((props.get("DefinitionSubstitutions") or {}).get("AgentName", ""))
                found.append(Resource(logical_id, name, agent))
            return tuple(found)

        return cls(
            state_machines=named("AWS::Serverless::StateMachine", "Name"),
            activities=named("AWS::StepFunctions::Activity", "Name"),
            functions=named("AWS::Serverless::Function", "FunctionName"),
            tables=named("AWS::DynamoDB::Table", "TableName"),
        )

    @property
    def agents(self) -> tuple[Resource, ...]:
        return tuple(machine for machine in self.state_machines if machine.agent)

    @property
    def worker_activities(self) -> tuple[Resource, ...]:
        """Activities a remote worker serves (approval activities are for reviewers)."""
        return tuple(a for a in self.activities if not a.name.endswith(APPROVAL_SUFFIX))

    def state_machine(self, wanted: str) -> Resource:
        return _one(wanted, self.state_machines, "agent or state machine", _agent_names)

    def activity(self, wanted: str) -> Resource:
        return _one(wanted, self.worker_activities, "activity", _activity_names)

    def table(self, logical_id: str) -> Resource:
        return _one(logical_id, self.tables, "table", lambda rs: [r.logical_id for r in rs])


def _agent_names(machines: Iterable[Resource]) -> list[str]:
    return sorted({n for m in machines for n in (m.agent, m.logical_id) if n})


def _activity_names(activities: Iterable[Resource]) -> list[str]:
    return sorted(f"{a.logical_id} ({a.name})" for a in activities)


def _one(wanted: str, resources: tuple[Resource, ...], what: str, names: Any) -> Resource:
    for resource in resources:
        if resource.matches(wanted):
            return resource
    raise UnknownName(f"no {what} {wanted!r}; known: {', '.join(names(resources))}")


def find_arn(wanted: str, resource: Resource | None, deployed: Mapping[str, str]) -> str | None:
    """The ARN of a deployed resource (``deployed``: physical name → ARN): by the template's
    name, by the name typed, or by the only deployed name ending in ``-<agent>`` (a stack
    deployed with another EnvironmentName)."""
    for name in (resource.name if resource else "", wanted):
        if name in deployed:
            return deployed[name]
    suffix = f"-{resource.agent}" if resource and resource.agent else None
    endings = [arn for name, arn in deployed.items() if suffix and name.endswith(suffix)]
    return endings[0] if len(endings) == 1 else None
