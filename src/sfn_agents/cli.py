"""The sfn-agents command line: run agents and functions locally, without AWS or Docker."""

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sfn_agents import DEFAULT_PORT, __version__, ops

SCRIPTED_KEY = "scripted-model-needs-no-key"


class UsageError(Exception):
    """A problem with how the command was called; exit code 2."""


def _overrides(pairs: Sequence[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--parameter-overrides wants KEY=VALUE, got {pair!r}")
        result[key] = value
    return result


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments, blanks and quotes handled)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


@contextmanager
def local_engine(args: argparse.Namespace, only: Sequence[str] | None = None) -> Iterator[Any]:
    """An engine with the template deployed. With --script every provider's API is a scripted fake
    playing it; otherwise the functions reach the real providers, with keys from the environment
    or .env, and any *_BASE_URL variable passed on unchanged."""
    from sfn_agents.engine import LocalEngine
    from sfn_agents.providers import providers

    template = Path(args.template).resolve()
    if not template.is_file():
        raise UsageError(f"template {template} not found (use --template)")
    found = {**read_dotenv(template.parent / ".env"), **os.environ}
    function_env: dict[str, dict[str, str]] = {}
    secrets: dict[str, str] = {}
    fakes: dict[str, str] = {}  # protocol -> base URL
    with ExitStack() as stack:
        for provider in providers(template.parent).values():
            env = function_env.setdefault(provider.function, {})
            if getattr(args, "script", None):
                if provider.protocol not in fakes:
                    from sfn_agents.scripted.server import ScriptedServer

                    fake = ScriptedServer(provider.protocol, Path(args.script))
                    fakes[provider.protocol] = stack.enter_context(fake).url
                env[provider.base_url_variable] = fakes[provider.protocol]
                if provider.key_name:
                    secrets[provider.key_name] = SCRIPTED_KEY
                continue
            if found.get(provider.base_url_variable):
                env[provider.base_url_variable] = found[provider.base_url_variable]
            if provider.key_name and found.get(provider.key_name):
                secrets[provider.key_name] = found[provider.key_name]
        engine = stack.enter_context(LocalEngine(port=getattr(args, "port", 0)))
        engine.deploy(
            template, _overrides(args.parameter_overrides), function_env, secrets, only=only
        )
        yield engine


@contextmanager
def aws_clients(
    args: argparse.Namespace, only: Sequence[str] | None = None
) -> Iterator[tuple[Any, Any, Any, Any]]:
    """(stepfunctions, s3, lambda, engine-or-None): a running engine's when SFN_AGENTS_ENDPOINT
    is set (AWS's with AWS_PROFILE etc. is the same code), else a fresh in-process engine's."""
    if os.environ.get("SFN_AGENTS_ENDPOINT"):
        if getattr(args, "script", None) or args.parameter_overrides:
            raise UsageError(
                "--script and --parameter-overrides configure an engine: give them to "
                "`sfn-agents local start` when SFN_AGENTS_ENDPOINT is set"
            )
        yield _aws("stepfunctions"), _aws("s3"), _aws("lambda"), None
        return
    with local_engine(args, only) as engine:
        yield engine.client("stepfunctions"), engine.client("s3"), engine.client("lambda"), engine


def find_state_machine(sfn: Any, engine: Any, agent: str) -> str:
    """An agent's state machine: by registry name or logical id locally, by the sfn-agents:agent
    tag or the state machine's name anywhere."""
    if engine is not None:
        try:
            return str(engine.state_machine_for(agent))
        except KeyError as error:
            raise UsageError(str(error.args[0])) from None
    machines = sfn.list_state_machines()["stateMachines"]
    for machine in machines:
        tags = sfn.list_tags_for_resource(resourceArn=machine["stateMachineArn"])["tags"]
        if agent == machine["name"] or {"key": "sfn-agents:agent", "value": agent} in tags:
            return str(machine["stateMachineArn"])
    raise UsageError(f"no agent {agent!r} at the endpoint; found {[m['name'] for m in machines]}")


def cmd_run(args: argparse.Namespace) -> int:
    from sfn_agents.render import AgentPrinter
    from sfn_agents.runner import load_messages, run_execution

    if args.script and not Path(args.script).is_file():
        raise UsageError(f"script {args.script} not found")
    with aws_clients(args, only=[args.agent]) as (sfn, s3, _, engine):
        state_machine = find_state_machine(sfn, engine, args.agent)
        execution_input: dict[str, Any] = {"prompt": args.prompt}
        for option in ("max_turns", "provider", "model"):
            if getattr(args, option):
                execution_input[option] = getattr(args, option)
        printer = AgentPrinter(sys.stdout)
        result = run_execution(
            sfn,
            state_machine,
            execution_input,
            on_event=(lambda event: None) if args.json else printer,
        )
        bill = ops.receipt(sfn, result.execution_arn, result.events)  # sub-agents' included
        if args.json:
            conversation = (result.output or {}).get("conversation")
            report = {
                "status": result.status,
                "output": result.output,
                "error": result.error,
                "cause": result.cause,
                "messages": load_messages(s3, conversation),
                "transitions": result.transitions,
                "usage": (result.output or {}).get("usage"),
                "receipt": bill.as_dict(),
                "duration_seconds": round(result.duration_seconds, 3),
                "execution_arn": result.execution_arn,
            }
            print(json.dumps(report, indent=2))
        else:
            printer.summary(result)
            print(ops.receipt_line(bill))
    if result.status != "SUCCEEDED":
        reason = failure_reason(result)
        print(f"sfn-agents: execution {result.status.lower()}: {reason}", file=sys.stderr)
        return 1
    return 0


def failure_reason(result: Any) -> str:
    """Error and cause on one line; a Lambda error's cause is reduced to its errorMessage."""
    cause = result.cause or ""
    with contextlib.suppress(ValueError, AttributeError):
        cause = json.loads(cause).get("errorMessage", cause)
    reason = " ".join(f"{result.error}: {cause}".split()) if cause else str(result.error)
    return reason if len(reason) <= 300 else reason[:299] + "…"


def cmd_invoke(args: argparse.Namespace) -> int:
    import base64

    event_path = Path(args.event)
    try:
        event = json.loads(event_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read event {event_path}: {error}") from None
    with aws_clients(args, only=[args.function]) as (_, _, lambda_client, engine):
        if engine is not None:
            try:
                function = engine.function_for(args.function)
            except KeyError as error:
                raise UsageError(str(error.args[0])) from None
            payload, errored, logs = function.invoke(event)
        else:
            names = [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]]
            matches = [n for n in names if args.function == n or args.function in n.split("-")]
            if len(matches) != 1:
                raise UsageError(
                    f"{args.function!r} matches {matches or 'no function'} at the endpoint"
                )
            response = lambda_client.invoke(
                FunctionName=matches[0], Payload=json.dumps(event).encode(), LogType="Tail"
            )
            payload = response["Payload"].read().decode()
            errored = "FunctionError" in response
            logs = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    if args.logs:
        print(logs, file=sys.stderr, end="")
    print(json.dumps(json.loads(payload), indent=2))
    if errored:
        print(f"sfn-agents: {args.function} raised an error", file=sys.stderr)
        return 1
    return 0


def cmd_local_start(args: argparse.Namespace) -> int:
    from sfn_agents import local_api

    with local_engine(args) as engine, ExitStack() as stack:
        print(f"sfn-agents local engine on {engine.endpoint} (Ctrl-C to stop)", flush=True)
        for agent, logical_id in sorted(engine.agents.items()):
            print(f"  agent {agent}: {engine.state_machines[logical_id]}", flush=True)
        local_api.started(engine, args.api_port, stack, sys.stdout)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def _aws(service: Any) -> Any:
    """A client for AWS, or for the local engine when SFN_AGENTS_ENDPOINT is set."""
    import boto3

    return boto3.client(service, endpoint_url=os.environ.get("SFN_AGENTS_ENDPOINT") or None)


def cmd_approvals(args: argparse.Namespace) -> int:
    from sfn_agents.approvals import ApprovalDesk

    pending = ApprovalDesk(_aws("stepfunctions")).pending()
    if not pending:
        print("no pending approvals")
    for approval in pending:
        print(approval.summary)
    return 0


def cmd_answer(args: argparse.Namespace) -> int:
    from sfn_agents.approvals import ApprovalDesk

    desk = ApprovalDesk(_aws("stepfunctions"))
    try:
        if args.command == "approve":
            approval = desk.approve(args.id, notes=args.notes, reviewer=args.reviewer)
        else:
            approval = desk.reject(args.id, args.reason, notes=args.notes, reviewer=args.reviewer)
    except KeyError as error:
        raise UsageError(str(error.args[0])) from None
    except TimeoutError as error:
        print(f"sfn-agents: {error}", file=sys.stderr)
        return 1
    verb = "approved" if args.command == "approve" else "rejected"
    request = approval.request
    print(f"{verb} {approval.id}: {request.get('tool_name')} for {request.get('agent_name')}")
    return 0


def _activity_arn(sfn: Any, name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    for activity in sfn.list_activities()["activities"]:
        if name_or_arn in (activity["name"], activity["activityArn"].rsplit(":", 1)[-1]):
            return str(activity["activityArn"])
    raise UsageError(f"no activity named {name_or_arn}")


def cmd_worker(args: argparse.Namespace) -> int:
    from sfn_agents.worker import WorkerConfig, serve

    try:
        config = WorkerConfig.load(args.config, args.allow, args.timeout)
    except (OSError, ValueError) as error:
        raise UsageError(str(error)) from None
    sfn = _aws("stepfunctions")
    activity_arn = _activity_arn(sfn, args.activity)
    print(f"worker on {activity_arn}; allowed: {', '.join(sorted(config.allow))}", flush=True)

    def report(request: dict[str, Any], answer: dict[str, Any]) -> None:
        command = request.get("tool_input", {}).get("command")
        print(f"  {answer['status']} ({answer.get('exit_code')}) {command}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        serve(sfn, activity_arn, config, once=args.once, on_task=report)
    return 0


def cmd_secrets_push(args: argparse.Namespace) -> int:
    """Copy the provider keys of .env (or the environment) into the environment's secret."""
    import boto3

    from sfn_agents.providers import providers

    found = {**read_dotenv(Path(args.dotenv)), **os.environ}
    names = {p.key_name for p in providers(Path(args.template).resolve().parent).values()}
    keys = {name: found[name] for name in sorted(n for n in names if n) if found.get(name)}
    if not keys:
        raise UsageError(f"no provider key in {args.dotenv} or the environment")
    secrets = boto3.client("secretsmanager", endpoint_url=args.endpoint_url)
    secret_id = f"/sfn-agents/{args.env}/llm-api-keys"
    current = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"] or "{}")
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps({**current, **keys}))
    print(f"{secret_id}: set {', '.join(sorted(keys))}")  # names only, never values
    return 0


def _template_options(parser: argparse.ArgumentParser, script: bool = True) -> None:
    parser.add_argument(
        "--template", default="template.yaml", help="SAM template (default: %(default)s)"
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, as with sam deploy",
    )
    if script:
        parser.add_argument(
            "--script", help="play this scripted model instead of the real provider"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfn-agents", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run an agent in the local engine")
    run.add_argument("agent", help="agent registry name or state machine logical id")
    run.add_argument("prompt")
    run.add_argument("--json", action="store_true", help="print one JSON object instead of steps")
    run.add_argument("--max-turns", type=int, help="lower the agent's turn limit for this run")
    run.add_argument("--provider", help="use this provider for this run (anthropic, openai, ...)")
    run.add_argument("--model", help="use this model for this run")
    _template_options(run)
    run.set_defaults(handler=cmd_run)

    invoke = commands.add_parser("invoke", help="invoke one function (like sam local invoke)")
    invoke.add_argument("function", help="function logical id or name")
    invoke.add_argument("-e", "--event", required=True, help="event JSON file")
    invoke.add_argument("--logs", action="store_true", help="print the function's log to stderr")
    _template_options(invoke)
    invoke.set_defaults(handler=cmd_invoke)

    local = commands.add_parser("local", help="the local engine as a long-lived endpoint")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    start = local_commands.add_parser("start", help="serve the template's resources on a port")
    start.add_argument("--port", type=int, default=DEFAULT_PORT)
    start.add_argument("--api-port", type=int, default=3000, help="the HTTP API and web UI")
    _template_options(start)  # --script: every agent run on this engine plays it
    start.set_defaults(handler=cmd_local_start)

    approvals = commands.add_parser("approvals", help="list the tool calls waiting for approval")
    approvals.set_defaults(handler=cmd_approvals)
    for verb in ("approve", "reject"):
        answer = commands.add_parser(verb, help=f"{verb} a pending tool call")
        answer.add_argument("id", help="the id `sfn-agents approvals` shows")
        if verb == "reject":
            answer.add_argument("--reason", required=True, help="why, for the model to read")
        answer.add_argument("--notes", default="", help="review notes for the model")
        answer.add_argument("--reviewer", default="", help="default: your user name")
        answer.set_defaults(handler=cmd_answer)

    worker = commands.add_parser("worker", help="run remote-execution tasks of an activity")
    worker.add_argument("activity", help="activity name or ARN")
    worker.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="PROGRAM",
        help="a program the worker may run (repeatable)",
    )
    worker.add_argument("--config", help='JSON: {"allow": [...], "timeout_seconds": 60}')
    worker.add_argument("--timeout", type=float, help="seconds per command (default 60)")
    worker.add_argument("--once", action="store_true", help="stop after one task")
    worker.set_defaults(handler=cmd_worker)

    ops.register(commands, UsageError)  # runs, show, cost

    secrets = commands.add_parser("secrets", help="provider API keys in Secrets Manager")
    secrets_commands = secrets.add_subparsers(dest="secrets_command", required=True)
    push = secrets_commands.add_parser("push", help="copy .env's provider keys to the secret")
    push.add_argument("--env", default="dev", help="EnvironmentName of the stack")
    push.add_argument("--dotenv", default=".env")
    push.add_argument("--template", default="template.yaml", help="where the providers are defined")
    push.add_argument("--endpoint-url", default=os.environ.get("SFN_AGENTS_ENDPOINT"))
    push.set_defaults(handler=cmd_secrets_push)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as error:
        print(f"sfn-agents: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # one line for the user; the traceback helps nobody here
        print(f"sfn-agents: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
