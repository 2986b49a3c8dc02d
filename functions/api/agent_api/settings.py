"""The API function's settings, read from the environment once at cold start.

AGENT_REGISTRY_TABLE, TOOL_REGISTRY_TABLE  the registries (agents and their tools)
RUNS_TABLE, APPROVALS_TABLE                what the API records about runs and approvals
SESSIONS_TABLE, ARTIFACT_BUCKET            the session store's table and bucket
STATES_ARN_PREFIX                          arn:PARTITION:states:REGION:ACCOUNT:
RESOURCE_NAME_PREFIX                       sfn-agents-ENV-: agent AGENT runs on the state machine
                                           PREFIX+AGENT and asks for approval on the activity
                                           PREFIX+AGENT-approval (template.yaml names them so)
UI_ORIGIN                                  the one origin CORS allows
"""

import os
from dataclasses import dataclass

from agent_core.settings import required


@dataclass(frozen=True)
class Settings:
    agent_table: str
    tool_table: str
    runs_table: str
    approvals_table: str
    sessions_table: str
    artifact_bucket: str
    states_arn_prefix: str
    name_prefix: str
    ui_origin: str
    local: bool

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            agent_table=required("AGENT_REGISTRY_TABLE"),
            tool_table=required("TOOL_REGISTRY_TABLE"),
            runs_table=required("RUNS_TABLE"),
            approvals_table=required("APPROVALS_TABLE"),
            sessions_table=os.environ.get("SESSIONS_TABLE", ""),
            artifact_bucket=required("ARTIFACT_BUCKET"),
            states_arn_prefix=required("STATES_ARN_PREFIX"),
            name_prefix=required("RESOURCE_NAME_PREFIX"),
            ui_origin=required("UI_ORIGIN"),
            # The local engine sets AWS_ENDPOINT_URL: polling may be brisker there.
            local=bool(os.environ.get("AWS_ENDPOINT_URL")),
        )

    def state_machine_arn(self, agent: str) -> str:
        return f"{self.states_arn_prefix}stateMachine:{self.name_prefix}{agent}"

    def execution_arn(self, agent: str, run_id: str) -> str:
        return f"{self.states_arn_prefix}execution:{self.name_prefix}{agent}:{run_id}"

    def approval_activity_arn(self, agent: str) -> str:
        return f"{self.states_arn_prefix}activity:{self.name_prefix}{agent}-approval"
