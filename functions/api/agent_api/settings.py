"""The API function's settings (agent_core.settings: explicit values, then the environment).

AGENT_REGISTRY_TABLE, TOOL_REGISTRY_TABLE  the registries (agents and their tools)
RUNS_TABLE, APPROVALS_TABLE                what the API records about runs and approvals
SESSIONS_TABLE, ARTIFACT_BUCKET            the session store's table and bucket
STATES_ARN_PREFIX                          arn:PARTITION:states:REGION:ACCOUNT:
RESOURCE_NAME_PREFIX                       sfn-agents-ENV-: agent AGENT runs on the state machine
                                           PREFIX+AGENT and asks for approval on the activity
                                           PREFIX+AGENT-approval (template.yaml names them so)
UI_ORIGIN                                  the one origin CORS allows
"""

from dataclasses import dataclass

from agent_core.settings import Settings, env


@dataclass(frozen=True, kw_only=True)
class ApiSettings(Settings):
    agent_table: str = env("AGENT_REGISTRY_TABLE")
    tool_table: str = env("TOOL_REGISTRY_TABLE")
    runs_table: str = env("RUNS_TABLE")
    approvals_table: str = env("APPROVALS_TABLE")
    sessions_table: str = env("SESSIONS_TABLE", "")
    artifact_bucket: str = env("ARTIFACT_BUCKET")
    states_arn_prefix: str = env("STATES_ARN_PREFIX")
    name_prefix: str = env("RESOURCE_NAME_PREFIX")
    ui_origin: str = env("UI_ORIGIN")
    endpoint_url: str = env("AWS_ENDPOINT_URL", "")

    @property
    def local(self) -> bool:
        """The local engine sets AWS_ENDPOINT_URL: polling may be brisker there."""
        return bool(self.endpoint_url)

    def state_machine_arn(self, agent: str) -> str:
        return f"{self.states_arn_prefix}stateMachine:{self.name_prefix}{agent}"

    def execution_arn(self, agent: str, run_id: str) -> str:
        return f"{self.states_arn_prefix}execution:{self.name_prefix}{agent}:{run_id}"

    def approval_activity_arn(self, agent: str) -> str:
        return f"{self.states_arn_prefix}activity:{self.name_prefix}{agent}-approval"
