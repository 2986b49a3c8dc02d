"""The sfn-agents command line: run agents and functions locally, without AWS or Docker."""

import argparse
import atexit
import contextlib
import errno
import gc
import json
import os
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfn_agents import DEFAULT_PORT, __version__, aws, conversation_cli, ops
from sfn_agents.catalog import UnknownName

SCRIPTED_KEY = "scripted-model-needs-no-key"
EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class UsageError(Exception):
    """A problem with how the command was called; exit code 2."""


class Failure(Exception):
    """The command could not do its job; exit code 1 with this one-line reason."""


def parse_overrides(arguments: Sequence[str]) -> dict[str, str]:
    """Template parameters as ``sam deploy --parameter-overrides`` takes them: ``KEY=VALUE``
    pairs or ``ParameterKey=KEY,ParameterValue=VALUE``, several in one argument separated by
    spaces (shell quoting applies), and the option repeatable."""
    result: dict[str, str] = {}
    for argument in arguments:
        for token in shlex.split(argument):
            if token.startswith("ParameterKey="):
                fields = dict(part.partition("=")[::2] for part in token.split(",", 1))
                key, value = fields.get("ParameterKey", ""), fields.get("ParameterValue")
            else:
                key, sep, value = token.partition("=")
                value = value if sep else None
            if not key or value is None:
                raise UsageError(
                    "--parameter-overrides wants KEY=VALUE or "
                    f"ParameterKey=KEY,ParameterValue=VALUE, got {token!r}"
                )
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


def _template_path(args: argparse.Namespace) -> Path:
    template = Path(args.template).resolve()
    if not template.is_file():
        raise UsageError(f"template {template} not found (use --template)")
    return template


@contextmanager
def local_engine(args: argparse.Namespace, only: Sequence[str] | None = None) -> Iterator[Any]:
    """An engine with the template deployed. With --script every provider's API is a scripted fake
    playing it; otherwise the functions reach the real providers, with keys from the environment
    or .env, and any *_BASE_URL variable passed on unchanged."""
    from sfn_agents.engine import LocalEngine
    from sfn_agents.providers import providers

    template = _template_path(args)
    overrides = parse_overrides(args.parameter_overrides)
    engine = LocalEngine(port=getattr(args, "port", 0))
    found = {**read_dotenv(template.parent / ".env"), **os.environ}
    function_env: dict[str, dict[str, str]] = {}
    secrets: dict[str, str] = {}
    fakes: dict[str, str] = {}  # protocol -> base URL
    servers: list[Any] = [engine]  # and the fakes: stopped together (see stop_together)
    with ExitStack() as stack:
        stack.callback(stop_together, servers)
        engine.preload(template, overrides, only=only)  # its Python functions import meanwhile
        for provider in providers(template.parent).values():
            env = function_env.setdefault(provider.function, {})
            if getattr(args, "script", None):
                if provider.protocol not in fakes:
                    from sfn_agents.scripted.server import ScriptedServer

                    fake = ScriptedServer(provider.protocol, Path(args.script))
                    fakes[provider.protocol] = fake.start()
                    servers.append(fake)
                env[provider.base_url_variable] = fakes[provider.protocol]
                if provider.key_name:
                    secrets[provider.key_name] = SCRIPTED_KEY
                continue
            if found.get(provider.base_url_variable):
                env[provider.base_url_variable] = found[provider.base_url_variable]
            if provider.key_name and found.get(provider.key_name):
                secrets[provider.key_name] = found[provider.key_name]
        with collector_paused():
            engine.start()
            engine.deploy(template, overrides, function_env, secrets, only=only)
        yield engine


def stop_together(servers: Sequence[Any]) -> None:
    """``stop()`` them all at once: each waits up to a poll interval for its loop to end, which
    one after the other (the engine, then a fake per provider) took ~0.1 s of a command's exit."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda server: server.stop(), servers))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the engine imports moto and deploys: the
    ~300,000 objects that creates (most of them live as long as the engine) set off collections
    that took ~0.4 s of CPU, 12% of a demo run's engine process. They are frozen after (later
    collections skip them); the cyclic garbage among them (~10 MB) is never freed. A command's
    process, not a library's: an engine in a test run does not freeze its caller's objects."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


@dataclass
class Target:
    """Where a command acts: a running engine or AWS (``engine`` is None), or an in-process
    engine; ``catalog`` names what the template deploys (None without a template)."""

    sfn: Any
    s3: Any
    lambda_: Any
    engine: Any
    catalog: Any

    def state_machine(self, wanted: str) -> str:
        """An agent's state machine ARN, by agent name, logical id or name, in any mode."""
        from sfn_agents.catalog import find_arn

        resource = None
        if self.catalog is not None:
            with contextlib.suppress(UnknownName):
                resource = self.catalog.state_machine(wanted)
        if self.engine is not None:
            try:
                return str(
                    self.engine.state_machine_for(resource.logical_id if resource else wanted)
                )
            except KeyError as error:
                raise UsageError(str(error.args[0])) from None
        deployed = {
            m["name"]: m["stateMachineArn"]
            for page in self.sfn.get_paginator("list_state_machines").paginate()
            for m in page["stateMachines"]
        }
        arn = find_arn(wanted, resource, deployed)
        if arn:
            return arn
        agents = self.catalog.agents if self.catalog else ()
        known = sorted({n for m in agents for n in (m.agent, m.logical_id)} or set(deployed))
        raise UsageError(
            f"no agent or state machine {wanted!r} at {aws.where()}; known: {', '.join(known)}"
        )


def load_catalog(args: argparse.Namespace, required: bool) -> Any:
    from sfn_agents.catalog import Catalog
    from sfn_agents.template import TemplateError

    template = Path(args.template).resolve()
    if not template.is_file():
        if required:
            raise UsageError(f"template {template} not found (use --template)")
        return None
    try:
        return Catalog.load(template, parse_overrides(getattr(args, "parameter_overrides", [])))
    except TemplateError as error:
        raise UsageError(f"{template.name}: {error}") from None


@contextmanager
def target(args: argparse.Namespace, only: Sequence[str] | None = None) -> Iterator[Target]:
    """A running engine's clients when SFN_AGENTS_ENDPOINT is set (AWS's otherwise, with
    AWS_PROFILE etc.: the same code), else a fresh in-process engine's."""
    if aws.endpoint():
        if getattr(args, "script", None) or getattr(args, "parameter_overrides", None):
            raise UsageError(
                "--script and --parameter-overrides configure an engine: give them to "
                "`sfn-agents local start` when SFN_AGENTS_ENDPOINT is set"
            )
        catalog = load_catalog(args, required=False)
        sfn, s3, lambda_ = (aws.client(name) for name in ("stepfunctions", "s3", "lambda"))
        yield Target(sfn, s3, lambda_, None, catalog)
        return
    catalog = load_catalog(args, required=True)
    with local_engine(args, only) as engine:
        yield Target(
            engine.client("stepfunctions"),
            engine.client("s3"),
            engine.client("lambda"),
            engine,
            catalog,
        )


def execution_input(args: argparse.Namespace) -> dict[str, Any]:
    """The run's input: ``--input`` (a JSON object from a file, or ``-`` for stdin), then the
    prompt argument and the per-run options, which win over the file's fields."""
    given: dict[str, Any] = {}
    if args.input:
        source = "stdin" if args.input == "-" else args.input
        try:
            text = sys.stdin.read() if args.input == "-" else Path(args.input).read_text()
            given = json.loads(text)
        except (OSError, json.JSONDecodeError) as error:
            raise UsageError(f"cannot read --input {source}: {error}") from None
        if not isinstance(given, dict):
            raise UsageError(f'--input {source} must hold a JSON object, like {{"prompt": "…"}}')
    if args.prompt is not None:
        given["prompt"] = args.prompt
    given.update(conversation_cli.run_input(args))
    if "prompt" not in given:
        raise UsageError('give a PROMPT argument or an --input with a "prompt" field')
    return given


def cmd_run(args: argparse.Namespace) -> int:
    from sfn_agents.history import load_messages
    from sfn_agents.render import AgentPrinter, failure_reason
    from sfn_agents.runner import follow_execution, start_execution

    if args.script and not Path(args.script).is_file():
        raise UsageError(f"script {args.script} not found")
    run_input = execution_input(args)
    with target(args, only=[args.agent]) as where:
        state_machine = where.state_machine(args.agent)
        started = time.monotonic()
        execution_arn = start_execution(where.sfn, state_machine, run_input)
        printer = AgentPrinter(sys.stdout)
        try:
            result = follow_execution(
                where.sfn, execution_arn, (lambda step: None) if args.json else printer
            )
        except KeyboardInterrupt:
            return interrupted(where, execution_arn, stop=args.stop_on_interrupt)
        result.duration_seconds = time.monotonic() - started
        bill = ops.run_receipt(where.sfn, result.execution_arn, result.output, result.events)
        if args.json:
            conversation = (result.output or {}).get("conversation")
            report = {
                "status": result.status,
                "output": result.output,
                "error": result.error,
                "cause": result.cause,
                "messages": load_messages(where.s3, conversation),
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
        reason = failure_reason(result.error, result.cause)
        raise Failure(f"execution {result.status.lower()}: {reason}")
    return 0


def interrupted(where: Target, execution_arn: str, stop: bool) -> int:
    """Ctrl-C while following a run: an in-process engine's run ends with the process, so it is
    stopped; a run on an endpoint or AWS carries on unless --stop-on-interrupt."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up
    if stop or where.engine is not None:
        with contextlib.suppress(Exception):
            where.sfn.stop_execution(executionArn=execution_arn, error="sfn-agents.Interrupted")
        print(f"sfn-agents: interrupted; stopped {execution_arn}", file=sys.stderr)
    else:
        print(
            f"sfn-agents: interrupted; {execution_arn} is still running "
            "(--stop-on-interrupt stops it)",
            file=sys.stderr,
        )
    return EXIT_INTERRUPTED


def cmd_invoke(args: argparse.Namespace) -> int:
    import base64

    event_path = Path(args.event)
    try:
        event = json.loads(event_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read event {event_path}: {error}") from None
    with target(args, only=[args.function]) as where:
        if where.engine is not None:
            try:
                function = where.engine.function_for(args.function)
            except KeyError as error:
                raise UsageError(str(error.args[0])) from None
            payload, errored, logs = function.invoke(event)
        else:
            names = [
                f["FunctionName"]
                for page in where.lambda_.get_paginator("list_functions").paginate()
                for f in page["Functions"]
            ]
            matches = [n for n in names if args.function == n or args.function in n.split("-")]
            if len(matches) != 1:
                raise UsageError(
                    f"{args.function!r} matches {matches or 'no function'} at {aws.where()}"
                )
            response = where.lambda_.invoke(
                FunctionName=matches[0], Payload=json.dumps(event).encode(), LogType="Tail"
            )
            payload = response["Payload"].read().decode()
            errored = "FunctionError" in response
            logs = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    if args.logs:
        print(logs, file=sys.stderr, end="")
    print(json.dumps(json.loads(payload), indent=2))
    if errored:
        raise Failure(f"{args.function} raised an error")
    return 0


def port_number(text: str) -> int:
    """A TCP port for --port: 1-65535, or 0 for any free port."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range (1-65535, or 0: any free port)")
    return port


def _check_port_free(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            in_use = error.errno == errno.EADDRINUSE
            reason = "is in use" if in_use else f"cannot be used ({error.strerror})"
            raise Failure(f"port {port} {reason}; pick another with --port") from None


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_local_start(args: argparse.Namespace) -> int:
    from sfn_agents import local_api

    if args.port:
        _check_port_free(args.port)
    signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C: sandboxes end with the engine
    with local_engine(args) as engine, ExitStack() as stack:
        try:
            print(f"sfn-agents local engine on {engine.endpoint} (Ctrl-C to stop)", flush=True)
            print(f"  export SFN_AGENTS_ENDPOINT={engine.endpoint}", flush=True)
            for agent, logical_id in sorted(engine.agents.items()):
                print(f"  agent {agent}: {engine.state_machines[logical_id]}", flush=True)
            local_api.started(engine, args.api_port, stack, sys.stdout)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            return 0


def _desk(args: argparse.Namespace) -> Any:
    from sfn_agents.approvals import ApprovalDesk

    dynamodb = aws.session(aws.endpoint()).resource("dynamodb", endpoint_url=aws.endpoint())
    return ApprovalDesk(aws.client("stepfunctions"), dynamodb, env=args.env)


def cmd_approvals(args: argparse.Namespace) -> int:
    from sfn_agents.approvals import MissingTable

    try:
        pending = _desk(args).pending()
    except MissingTable as error:
        raise Failure(str(error)) from None
    if not pending:
        print("no pending approvals")
    for approval in pending:
        print(
            f"{approval['approval_id']}  {approval['agent']}  {approval['tool']}  "
            f"{json.dumps(approval['input'], ensure_ascii=False)}"
        )
    return 0


def cmd_answer(args: argparse.Namespace) -> int:
    from sfn_agents.approvals import MissingTable, reviewer
    from sfn_agents.history import layer_module

    errors = layer_module("approvals")
    if args.command == "approve":
        decision = {"approved": True, "review_notes": args.notes}
    else:
        decision = {"approved": False, "rejection_reason": args.reason, "review_notes": args.notes}
    try:
        approval = _desk(args).answer(args.id, decision, reviewer(args.reviewer))
    except errors.UnknownApproval:
        raise UsageError(f"no pending approval {args.id}; run `sfn-agents approvals`") from None
    except (errors.AlreadyAnswered, MissingTable) as error:
        raise Failure(str(error)) from None
    answered, tool, agent = approval["status"], approval["tool"], approval["agent"]
    print(f"{answered} {approval['approval_id']}: {tool} for {agent}")
    return 0


def _activity_arn(args: argparse.Namespace) -> str:
    """The activity's ARN from an ARN, its template logical id or its name."""

    if args.activity.startswith("arn:"):
        return str(args.activity)
    catalog = load_catalog(args, required=False)
    resource = None
    if catalog is not None:
        with contextlib.suppress(UnknownName):
            resource = catalog.activity(args.activity)
    wanted = {args.activity, resource.name if resource else ""} - {""}
    deployed = {
        a["name"]: a["activityArn"]
        for page in aws.client("stepfunctions").get_paginator("list_activities").paginate()
        for a in page["activities"]
    }
    for name in wanted:
        if name in deployed:
            return deployed[name]
    valid = sorted(
        {f"{a.logical_id} ({a.name})" for a in (catalog.worker_activities if catalog else ())}
        or {n for n in deployed if not n.endswith("-approval")}
    )
    raise UsageError(f"no activity {args.activity!r} at {aws.where()}; valid: {', '.join(valid)}")


def cmd_worker(args: argparse.Namespace) -> int:
    from sfn_agents.worker import WorkerConfig, serve

    try:
        config = WorkerConfig.load(args.config, args.allow, args.timeout)
    except (OSError, ValueError) as error:
        raise UsageError(str(error)) from None
    activity_arn = _activity_arn(args)
    sfn = aws.client("stepfunctions", region=aws.arn_region(activity_arn))
    print(f"worker on {activity_arn}; allowed: {', '.join(sorted(config.allow))}", flush=True)

    def report(request: dict[str, Any], answer: dict[str, Any]) -> None:
        command = request.get("tool_input", {}).get("command")
        print(f"  {answer['status']} ({answer.get('exit_code')}) {command}", flush=True)

    try:
        serve(sfn, activity_arn, config, once=args.once, on_task=report)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return 0


def cmd_secrets_push(args: argparse.Namespace) -> int:
    """Copy the provider keys of .env (or the environment) into the environment's secret."""
    from sfn_agents.providers import providers

    found = {**read_dotenv(Path(args.dotenv)), **os.environ}
    names = {p.key_name for p in providers(Path(args.template).resolve().parent).values()}
    keys = {name: found[name] for name in sorted(n for n in names if n) if found.get(name)}
    if not keys:
        raise UsageError(f"no provider key in {args.dotenv} or the environment")
    secrets = aws.client("secretsmanager", endpoint_url=args.endpoint_url)
    secret_id = f"/sfn-agents/{args.env}/llm-api-keys"
    current = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"] or "{}")
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps({**current, **keys}))
    print(f"{secret_id}: set {', '.join(sorted(keys))}")  # names only, never values
    return 0


def template_options(parser: argparse.ArgumentParser, script: bool = True) -> None:
    parser.add_argument(
        "--template", default="template.yaml", help="SAM template (default: %(default)s)"
    )
    parser.add_argument(
        "--parameter-overrides",
        action="append",
        default=[],
        metavar="'KEY=VALUE ...'",
        help="template parameters, as sam deploy takes them: KEY=VALUE pairs or "
        "ParameterKey=KEY,ParameterValue=VALUE, space-separated in one argument (repeatable)",
    )
    if script:
        parser.add_argument(
            "--script", help="play this scripted model instead of the real provider"
        )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_run(commands: Any) -> argparse.ArgumentParser:
    run = commands.add_parser("run", help="run an agent and follow it step by step")
    run.add_argument("agent", help="agent registry name or state machine logical id or name")
    run.add_argument("prompt", nargs="?", help="the question (or the prompt field of --input)")
    run.add_argument(
        "--input",
        metavar="FILE|-",
        help="execution input: a JSON object from FILE or stdin; PROMPT and the options below "
        "override its fields",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object instead of steps")
    run.add_argument(
        "--max-turns", type=positive_int, help="lower the agent's turn limit for this run"
    )
    run.add_argument("--provider", help="use this provider for this run (anthropic, openai, ...)")
    run.add_argument("--model", help="use this model for this run")
    run.add_argument(
        "--stop-on-interrupt",
        action="store_true",
        help="on Ctrl-C, stop the execution on the endpoint or AWS (runs in the in-process "
        "engine always stop)",
    )
    conversation_cli.add_run_options(run)
    template_options(run)
    run.set_defaults(handler=cmd_run)
    return run


def build_parser() -> argparse.ArgumentParser:
    from sfn_agents import generate, listing

    parser = argparse.ArgumentParser(prog="sfn-agents", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    add_run(commands)
    conversation_cli.register(commands, template_options, positive_int)

    invoke = commands.add_parser("invoke", help="invoke one function (like sam local invoke)")
    invoke.add_argument("function", help="function logical id or name")
    invoke.add_argument("-e", "--event", required=True, help="event JSON file")
    invoke.add_argument("--logs", action="store_true", help="print the function's log to stderr")
    template_options(invoke)
    invoke.set_defaults(handler=cmd_invoke)

    local = commands.add_parser("local", help="the local engine as a long-lived endpoint")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    start = local_commands.add_parser("start", help="serve the template's resources on a port")
    start.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_PORT,
        help="loopback port (default: %(default)s; 0: any free port)",
    )
    start.add_argument("--api-port", type=port_number, default=3000, help="the HTTP API and web UI")
    template_options(start)  # --script: every agent run on this engine plays it
    start.set_defaults(handler=cmd_local_start)

    approvals = commands.add_parser("approvals", help="list the tool calls waiting for approval")
    approvals.add_argument("--env", default="dev", help="EnvironmentName of the stack")
    approvals.set_defaults(handler=cmd_approvals)
    for verb in ("approve", "reject"):
        answer = commands.add_parser(verb, help=f"{verb} a pending tool call")
        answer.add_argument("--env", default="dev", help="EnvironmentName of the stack")
        answer.add_argument("id", help="the id `sfn-agents approvals` shows")
        if verb == "reject":
            answer.add_argument("--reason", required=True, help="why, for the model to read")
        answer.add_argument("--notes", default="", help="review notes for the model")
        answer.add_argument("--reviewer", default="", help="default: your user name")
        answer.set_defaults(handler=cmd_answer)

    worker = commands.add_parser("worker", help="run remote-execution tasks of an activity")
    worker.add_argument("activity", help="activity logical id (ShellCommandActivity), name or ARN")
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
    worker.add_argument(
        "--template", default="template.yaml", help="where activity names come from"
    )
    worker.set_defaults(handler=cmd_worker)

    listing.register(commands)
    generate.register(commands, UsageError)  # generate, new tool, new agent
    ops.register(commands, UsageError)  # runs, show, cost

    secrets = commands.add_parser("secrets", help="provider API keys in Secrets Manager")
    secrets_commands = secrets.add_subparsers(dest="secrets_command", required=True)
    push = secrets_commands.add_parser("push", help="copy .env's provider keys to the secret")
    push.add_argument("--env", default="dev", help="EnvironmentName of the stack")
    push.add_argument("--dotenv", default=".env")
    push.add_argument("--template", default="template.yaml", help="where the providers are defined")
    push.add_argument("--endpoint-url", default=aws.endpoint())
    push.set_defaults(handler=cmd_secrets_push)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Exit codes: 0 done, 1 the command failed, 2 it was called wrongly, 130 interrupted; the
    reason is one line on stderr, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (UsageError, UnknownName) as error:
        print(f"sfn-agents: {error.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("sfn-agents: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Failure as error:
        print(f"sfn-agents: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as error:  # one line for the user; the traceback helps nobody here
        message = " ".join(str(error).split())
        print(f"sfn-agents: {type(error).__name__}: {message}", file=sys.stderr)
        return EXIT_FAILURE


def entry() -> None:
    """The console script: ``main()``, then a prompt exit. Tearing the interpreter down (freeing
    every object of moto, boto3 and the functions' SDKs, module by module) takes seconds and
    nothing a user needs: exit handlers still run and output is flushed, then the process ends.
    A non-daemon thread still running gets the ordinary exit, which waits for it."""
    code = main()
    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()  # type: ignore[union-attr]
    os._exit(code)


if __name__ == "__main__":
    entry()
