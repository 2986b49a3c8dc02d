"""CLI commands for conversations that last: `run`'s session and limit options, `chat` and
`sessions` (README, "Sessions" and "Chat")."""

import argparse
import json
import sys
import uuid
from typing import Any

# Option -> execution input field; the state machine validates the values (limits are caps).
RUN_OPTIONS = {
    "session": "session_id",
    "max_turns": "max_turns",
    "max_total_tokens": "max_total_tokens",
    "max_input_tokens": "max_input_tokens",
    "max_cost_usd": "max_cost_usd",
    "provider": "provider",
    "model": "model",
}


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session", help="continue (or start) this session's conversation")
    parser.add_argument("--max-total-tokens", type=int, help="lower the agent's token budget")
    parser.add_argument("--max-input-tokens", type=int, help="lower the input budget per request")
    parser.add_argument("--max-cost-usd", type=float, help="lower the agent's cost budget (USD)")


def run_input(args: argparse.Namespace) -> dict[str, Any]:
    """The execution input fields the run options set."""
    return {
        field: getattr(args, option)
        for option, field in RUN_OPTIONS.items()
        if getattr(args, option, None) is not None
    }


def _store(args: argparse.Namespace, engine: Any, s3: Any) -> Any:
    from sfn_agents import aws
    from sfn_agents.history import session_store

    dynamodb = engine.client("dynamodb") if engine is not None else aws.client("dynamodb")
    return session_store(f"sfn-agents-sessions-{args.env}", "", dynamodb, s3)


def cmd_sessions(args: argparse.Namespace) -> int:
    from sfn_agents.cli import target

    with target(args, only=["SessionsTable"]) as where:
        store = _store(args, where.engine, where.s3)
        if args.session_command == "show":
            item = store.get(args.id)
            if item is None:
                print(f"sfn-agents: no session {args.id}", file=sys.stderr)
                return 1
            for message in store.messages(args.id):
                for block in message["content"]:
                    print(_block_line(message["role"], block))
            return 0
        if args.session_command == "delete":
            return 0 if store.delete(args.id) else 1
        sessions = store.list(agent=args.agent, limit=args.limit)
        if args.json:
            print(json.dumps(sessions, indent=2))
            return 0
        print(f"{'SESSION':<28} {'AGENT':<22} {'RUNS':>4} {'TURNS':>5} {'COST $':>9}  UPDATED")
        for item in sessions:
            cost = item.get("usage", {}).get("cost_usd", 0)
            print(
                f"{item['session_id']:<28} {item.get('agent', ''):<22} {item.get('runs', 0):>4} "
                f"{item.get('turns', 0):>5} {cost:>9.4f}  {item.get('updated_at', '')}"
            )
        return 0


def _block_line(role: str, block: dict[str, Any]) -> str:
    if block["type"] == "text":
        return f"{role:>9}: {block['text']}"
    if block["type"] == "tool_use":
        return f"{role:>9}: -> {block['name']} {json.dumps(block['input'])[:200]}"
    return f"{'tool':>9}: {str(block.get('content', ''))[:200]}"


def cmd_chat(args: argparse.Namespace) -> int:
    """A terminal conversation: each line is a run in one session; /new starts another."""
    import readline  # noqa: F401  (line editing and history for input())

    from sfn_agents.cli import target
    from sfn_agents.render import AgentPrinter
    from sfn_agents.runner import run_execution

    with target(args, only=[args.agent]) as where:
        state_machine = where.state_machine(args.agent)
        session = args.session or f"chat-{uuid.uuid4().hex[:12]}"
        print(f"session {session} with {args.agent}; /new starts a new session, Ctrl-D leaves")
        while True:
            try:
                prompt = input("you> ").strip()
            except EOFError:
                print()
                return 0
            if not prompt:
                continue
            if prompt == "/new":
                session = f"chat-{uuid.uuid4().hex[:12]}"
                print(f"session {session}")
                continue
            printer = AgentPrinter(sys.stdout)
            execution_input = {"prompt": prompt, **run_input(args), "session_id": session}
            result = run_execution(where.sfn, state_machine, execution_input, on_step=printer)
            printer.summary(result)


def register(commands: Any, template_options: Any, positive_int: Any) -> None:
    chat = commands.add_parser("chat", help="a conversation with an agent, one session")
    chat.add_argument("agent", help="agent registry name or state machine logical id")
    chat.add_argument("--max-turns", type=positive_int, help="lower the agent's turn limit")
    add_run_options(chat)
    chat.add_argument("--provider", help="use this provider (anthropic, openai, ...)")
    chat.add_argument("--model", help="use this model")
    template_options(chat)
    chat.set_defaults(handler=cmd_chat)

    sessions = commands.add_parser("sessions", help="list sessions, or show one's conversation")
    sessions.add_argument("--env", default="dev", help="EnvironmentName of the stack")
    sessions.add_argument("--agent", help="only this agent's sessions")
    sessions.add_argument("--limit", type=int, default=50)
    sessions.add_argument("--json", action="store_true")
    template_options(sessions, script=False)
    verbs = sessions.add_subparsers(dest="session_command")
    for verb, text in (("show", "print a session's conversation"), ("delete", "delete it")):
        command = verbs.add_parser(verb, help=text)
        command.add_argument("id", help="the session id")
    sessions.set_defaults(handler=cmd_sessions, session_command=None)
