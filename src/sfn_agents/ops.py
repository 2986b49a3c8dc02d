"""`sfn-agents runs`, `show` and `cost`: which agents ran, what each run did and what it cost, read
from Step Functions (AWS, or the local engine's endpoint) within its API quotas.

A finished run's receipt is in its output (the loop's Finish state writes it): its own model cost,
its own state transitions times the Standard price, its sub-agents' runs' total, and the sum. A run
that did not finish (failed runs cost money too) is added up from its history instead. Reads:
ListStateMachines and ListTagsForResource once per agent state machine per command, ListExecutions
pages, then per run one DescribeExecution (and, only for unfinished runs, its history pages of
1,000 events). The client uses botocore's adaptive retry mode, which slows down on throttling
instead of failing."""

import datetime
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sfn_agents.run_events import Event, StepTranslator

AGENT_TAG = "sfn-agents:agent"
PRICES = Path(__file__).with_name("prices.json")  # a link to the layer's price table
HISTORY_PAGE = 1000  # the API's largest page
USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def transition_price_usd() -> float:
    """USD per Standard state transition, from prices.json."""
    entry = json.loads(PRICES.read_text())["_step_functions"]
    return float(entry["standard_transition_per_million"]) / 1_000_000


def client() -> Any:
    """Step Functions at SFN_AGENTS_ENDPOINT if set (the engine's region and credentials unless
    configured), else AWS (credentials as usual)."""
    from botocore.config import Config

    from sfn_agents import aws

    endpoint = aws.endpoint()
    return aws.session(endpoint).client(
        "stepfunctions",
        endpoint_url=endpoint,
        config=Config(retries={"mode": "adaptive", "max_attempts": 10}),
    )


@dataclass
class Receipt:
    """What one run cost: its own model calls and transitions, and its sub-agents' runs."""

    usage: dict[str, int] = field(default_factory=lambda: dict.fromkeys(USAGE_FIELDS, 0))
    model_usd: float = 0.0  # the run's own model calls
    model: str = "-"
    transitions: int = 0  # the run's own
    sub_agents: int = 0
    sub_agents_usd: float = 0.0

    @property
    def tokens(self) -> int:
        """Every token, the sub-agents' included."""
        return sum(self.usage.values())

    @property
    def transitions_usd(self) -> float:
        return self.transitions * transition_price_usd()

    @property
    def own_usd(self) -> float:
        return self.model_usd + self.transitions_usd

    @property
    def total_usd(self) -> float:
        return self.own_usd + self.sub_agents_usd

    @classmethod
    def from_output(cls, output: dict[str, Any]) -> "Receipt":
        """The receipt the loop's Finish state wrote into a run's output."""
        usage, receipt = output.get("usage") or {}, output["receipt"]
        return cls(
            usage={name: int(usage.get(name) or 0) for name in USAGE_FIELDS},
            model_usd=float(receipt["model_cost_usd"]),
            model=str(output.get("model") or "-"),
            transitions=int(receipt["transitions"]),
            sub_agents=int(receipt["sub_agents"]),
            sub_agents_usd=float(receipt["sub_agents_cost_usd"]),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.usage,
            "model_cost_usd": round(self.model_usd, 8),
            "transitions": self.transitions,
            "transitions_cost_usd": round(self.transitions_usd, 8),
            "sub_agents": self.sub_agents,
            "sub_agents_cost_usd": round(self.sub_agents_usd, 8),
            "cost_usd": round(self.total_usd, 8),
        }


def history(sfn: Any, execution_arn: str) -> list[Event]:
    """Every event of a run, oldest first, in pages of 1,000."""
    events: list[Event] = []
    arguments: dict[str, Any] = {
        "executionArn": execution_arn,
        "maxResults": HISTORY_PAGE,
        "includeExecutionData": True,
    }
    while True:
        page = sfn.get_execution_history(**arguments)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        arguments["nextToken"] = page["nextToken"]


def _sub_executions(events: list[Event]) -> Iterator[str]:
    """Executions a run started as sub-agents (startExecution.sync tasks that finished)."""
    for event in events:
        details = event.get("taskSucceededEventDetails")
        if details and details.get("resourceType") == "states":
            arn = (json.loads(details.get("output") or "{}") or {}).get("ExecutionArn")
            if arn:
                yield str(arn)


def run_receipt(
    sfn: Any, execution_arn: str, output: Any = None, events: list[Event] | None = None
) -> Receipt:
    """A run's receipt: from its output when it finished (one DescribeExecution at most), else
    (failed, stopped or still running: they cost money too) added up from its history."""
    if output is None:
        described = sfn.describe_execution(executionArn=execution_arn)
        output = json.loads(described.get("output") or "null")
    if isinstance(output, dict) and isinstance(output.get("receipt"), dict):
        return Receipt.from_output(output)
    events = history(sfn, execution_arn) if events is None else events
    translator = StepTranslator()
    bill = Receipt()
    for step in translator.steps(events):
        if step["kind"] == "model_turn":
            usage = step.get("usage") or {}
            for name in USAGE_FIELDS:
                bill.usage[name] += int(usage.get(name) or 0)
            bill.model_usd += float(usage.get("cost_usd") or 0)
            bill.model = str(step.get("model") or bill.model)
    bill.transitions = translator.transitions
    for sub in _sub_executions(events):
        child = run_receipt(sfn, sub)
        bill.sub_agents += 1 + child.sub_agents
        bill.sub_agents_usd += child.total_usd
        for name, value in child.usage.items():
            bill.usage[name] += value
    return bill


def agent_machines(sfn: Any, agent: str | None = None) -> dict[str, str]:
    """state machine ARN -> agent name, for the state machines tagged as agents."""
    machines: dict[str, str] = {}
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            tags = sfn.list_tags_for_resource(resourceArn=machine["stateMachineArn"])["tags"]
            name = next((t["value"] for t in tags if t["key"] == AGENT_TAG), None)
            if name and agent in (None, name, machine["name"]):
                machines[machine["stateMachineArn"]] = name
    return machines


def executions(
    sfn: Any,
    machines: dict[str, str],
    status: str | None = None,
    limit: int | None = None,
    since: datetime.datetime | None = None,
) -> list[dict[str, Any]]:
    """The newest executions of these state machines (newest first), at most ``limit``, none
    started before ``since``."""
    found: list[dict[str, Any]] = []
    for arn in machines:
        arguments: dict[str, Any] = {"stateMachineArn": arn, "maxResults": min(limit or 100, 100)}
        if status:
            arguments["statusFilter"] = status
        while True:
            page = sfn.list_executions(**arguments)
            batch = [e for e in page["executions"] if since is None or e["startDate"] >= since]
            found.extend(batch)
            enough = limit is not None and len(batch) >= limit
            if enough or len(batch) < len(page["executions"]) or not page.get("nextToken"):
                break
            arguments["nextToken"] = page["nextToken"]
    found.sort(key=lambda e: e["startDate"], reverse=True)
    return found[:limit] if limit else found


@dataclass
class Run:
    name: str
    arn: str
    agent: str
    status: str
    started: datetime.datetime
    stopped: datetime.datetime | None
    output: dict[str, Any]
    bill: Receipt

    @property
    def duration_seconds(self) -> float:
        end = self.stopped or datetime.datetime.now(datetime.UTC)
        return (end - self.started).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.name,
            "execution_arn": self.arn,
            "agent": self.agent,
            "status": self.status,
            "started": self.started.isoformat(),
            "duration_seconds": round(self.duration_seconds, 3),
            "turns": self.output.get("turns"),
            "stop_reason": self.output.get("stop_reason"),
            "usage": self.bill.as_dict(),
        }


def load_run(sfn: Any, execution: dict[str, Any], agent: str) -> Run:
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    output = json.loads(described.get("output") or "null") or {}
    return Run(
        name=described["name"],
        arn=described["executionArn"],
        agent=agent,
        status=described["status"],
        started=described["startDate"],
        stopped=described.get("stopDate"),
        output=output if isinstance(output, dict) else {},
        bill=run_receipt(sfn, described["executionArn"], output),
    )


def find_execution(sfn: Any, run: str) -> tuple[str, str]:
    """(execution ARN, agent) of a run given by ARN or execution name."""
    machines = agent_machines(sfn)
    if run.startswith("arn:"):
        machine = run.replace(":execution:", ":stateMachine:", 1).rsplit(":", 1)[0]
        return run, machines.get(machine, "?")
    for machine, agent in machines.items():
        arn = machine.replace(":stateMachine:", ":execution:", 1) + ":" + run
        try:
            sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            continue
        return arn, agent
    raise LookupError(f"no run {run!r} in the agents' state machines")


def money(usd: float) -> str:
    return f"${usd:.4f}"


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _table(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip(), file=out)


def print_runs(runs: list[Run], out: TextIO) -> None:
    header = ("RUN", "AGENT", "STATUS", "STARTED", "DURATION", "TURNS", "TOKENS", "COST", "STOP")
    rows = [header]
    for run in runs:
        rows.append(
            (
                run.name,
                run.agent,
                run.status,
                run.started.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
                _duration(run.duration_seconds),
                str(run.output.get("turns", "-")),
                str(run.bill.tokens),
                money(run.bill.total_usd),
                str(run.output.get("stop_reason") or "-"),
            )
        )
    _table(rows, out)


def receipt_line(bill: Receipt) -> str:
    """The cost receipt `show` and `run` end with."""
    runs, usd = bill.sub_agents, money(bill.sub_agents_usd)
    subs = f" · {runs} sub-agent runs {usd}" if runs else ""
    return (
        f"cost {money(bill.total_usd)}: model {money(bill.model_usd)} · "
        f"{bill.transitions} transitions {money(bill.transitions_usd)}{subs} · "
        f"{bill.usage['input_tokens']} in / {bill.usage['output_tokens']} out / "
        f"{bill.usage['cache_read_input_tokens']} cache read / "
        f"{bill.usage['cache_creation_input_tokens']} cache write tokens"
    )


SINCE = re.compile(r"^(\d+)([mhd])$")


def parse_since(text: str) -> datetime.timedelta:
    match = SINCE.match(text)
    if not match:
        raise ValueError(f"--since wants a number and m, h or d (30m, 24h, 7d), got {text!r}")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return datetime.timedelta(**{unit: int(match.group(1))})


def cost_totals(runs: list[Run], by: str) -> dict[str, dict[str, float]]:
    """group -> {runs, model_usd, transitions_usd, cost_usd}; ``by`` agent or model. Each run
    counts its own calls and transitions: a sub-agent's run is listed (and counted) itself."""
    totals: dict[str, dict[str, float]] = {}
    for run in runs:
        group = run.agent if by == "agent" else run.bill.model
        total = totals.setdefault(
            group, {"runs": 0, "model_usd": 0.0, "transitions_usd": 0.0, "cost_usd": 0.0}
        )
        total["runs"] += 1
        total["model_usd"] += run.bill.model_usd
        total["transitions_usd"] += run.bill.transitions_usd
        total["cost_usd"] += run.bill.own_usd
    return dict(sorted(totals.items(), key=lambda item: -item[1]["cost_usd"]))


def print_cost(totals: dict[str, dict[str, float]], by: str, out: TextIO) -> None:
    rows = [(by.upper(), "RUNS", "MODEL", "TRANSITIONS", "TOTAL")]
    for group, total in totals.items():
        rows.append(
            (
                group,
                str(int(total["runs"])),
                money(total["model_usd"]),
                money(total["transitions_usd"]),
                money(total["cost_usd"]),
            )
        )
    grand = sum(t["cost_usd"] for t in totals.values())
    rows.append(("total", str(sum(int(t["runs"]) for t in totals.values())), "", "", money(grand)))
    _table(rows, out)


# ---------------------------------------------------------------- commands


class BadRequest(Exception):
    """The command asked for something that is not there; the CLI exits 2 with the message."""


def _machines(sfn: Any, agent: str | None) -> dict[str, str]:
    machines = agent_machines(sfn, agent)
    if agent and not machines:
        raise BadRequest(f"no agent {agent!r} at this endpoint")
    return machines


def cmd_runs(args: Any) -> int:
    sfn = client()
    machines = _machines(sfn, args.agent)
    listed = executions(sfn, machines, args.status, args.limit)
    runs = [load_run(sfn, e, machines[e["stateMachineArn"]]) for e in listed]
    if args.json:
        print(json.dumps([run.as_dict() for run in runs], indent=2))
    elif runs:
        print_runs(runs, sys.stdout)
    else:
        print("no runs")
    return 0


def cmd_show(args: Any) -> int:
    from sfn_agents.render import print_history
    from sfn_agents.runner import RunResult

    sfn = client()
    try:
        arn, agent = find_execution(sfn, args.run)
    except LookupError as error:
        raise BadRequest(str(error)) from None
    run = load_run(sfn, {"executionArn": arn}, agent)
    events = history(sfn, arn)
    printer = print_history(events, sys.stdout)
    described = sfn.describe_execution(executionArn=arn)
    printer.summary(
        RunResult(
            execution_arn=arn,
            status=run.status,
            output=run.output or None,
            error=described.get("error"),
            cause=described.get("cause"),
            duration_seconds=run.duration_seconds,
            events=events,
        )
    )
    print(receipt_line(run.bill))
    return 0


def cmd_cost(args: Any) -> int:
    try:
        since = datetime.datetime.now(datetime.UTC) - parse_since(args.since)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    sfn = client()
    machines = _machines(sfn, args.agent)
    listed = executions(sfn, machines, since=since)
    runs = [load_run(sfn, e, machines[e["stateMachineArn"]]) for e in listed]
    totals = cost_totals(runs, args.by)
    if args.json:
        print(json.dumps({"since": since.isoformat(), "by": args.by, "totals": totals}, indent=2))
    else:
        print(f"since {since:%Y-%m-%d %H:%M} UTC, by {args.by}")
        print_cost(totals, args.by, sys.stdout)
    return 0


STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]


def register(commands: Any, usage_error: type[Exception]) -> None:
    """Adds runs, show and cost to the CLI's subcommands; BadRequest becomes ``usage_error``."""

    def handler(command: Callable[[Any], int]) -> Callable[[Any], int]:
        def run(args: Any) -> int:
            try:
                return command(args)
            except BadRequest as error:
                raise usage_error(str(error)) from None

        return run

    runs = commands.add_parser("runs", help="recent runs: status, turns, tokens, cost")
    runs.add_argument("--agent", help="only this agent (registry name or state machine name)")
    runs.add_argument("--status", choices=STATUSES, help="only runs in this status")
    runs.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    runs.add_argument("--json", action="store_true", help="one JSON array")
    runs.set_defaults(handler=handler(cmd_runs))

    show = commands.add_parser("show", help="one run's steps, as `run` prints them, and receipt")
    show.add_argument("run", help="execution name (as `runs` lists it) or ARN")
    show.set_defaults(handler=handler(cmd_show))

    cost = commands.add_parser("cost", help="what the agents cost, from their runs")
    cost.add_argument("--since", default="24h", help="30m, 24h, 7d, ... (default 24h)")
    cost.add_argument("--by", choices=["agent", "model"], default="agent")
    cost.add_argument("--agent", help="only this agent")
    cost.add_argument("--json", action="store_true", help="one JSON object")
    cost.set_defaults(handler=handler(cmd_cost))
