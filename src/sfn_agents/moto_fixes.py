"""Narrow fixes to moto 5.2.5's Step Functions engine, each where the gap is.

Every moto_* module patches moto 5.2.5's internals; ``check_moto_version`` stops the engine at
start on any other version, rather than letting a patch miss its target silently.

- Service integration tasks (DynamoDB, aws-sdk:*) report an error raised while evaluating their
  Arguments (a JSONata $error, an undefined value) as a service exception such as
  DynamoDB.AmazonDynamoDBException. AWS reports the evaluation failure itself
  (States.QueryEvaluationError with its cause), as moto already does for Lambda tasks.
- Every CreateStateMachine and every StartExecution parsed the definition with ANTLR's Python
  runtime (0.3-0.9 s of CPU for the agent loop, the largest part of a deploy). The parse tree of
  a definition is kept (a few, by text, and in the user's cache directory, pickled, keyed by the
  text and the parser's versions: loading it takes ~0.05 s) and only moto's preprocessor runs
  again, so each execution still gets its own fresh components; a definition with syntax errors
  is parsed, and refused, every time. A kept tree holds no parser or input stream: its tokens
  keep their text.
- moto's preprocessor decodes every string of a definition with ``ast.literal_eval`` (Python's
  escapes, ~0.6 ms each: 0.2 s of CPU per parse of the agent loop's 358 strings). A definition is
  JSON, so its strings are decoded as JSON strings (``\\/`` is ``/``, as on AWS); a string that is
  not valid JSON is left to moto's decoder.
"""

import contextlib
import hashlib
import json
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from antlr4 import CommonTokenStream, InputStream, ParserRuleContext
from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
    state_task_service_dynamodb,
)
from moto.stepfunctions.parser.asl.parse import asl_parser, preprocessor

from sfn_agents.template import cache_file, version_key, write_cache

MOTO_VERSION = "5.2.5"
"""The moto release the engine's patches were written for and tested on."""


class MotoVersionError(RuntimeError):
    """The installed moto is not the one the engine's patches were written for."""


def check_moto_version(installed: str | None = None) -> None:
    installed = installed or metadata.version("moto")
    if installed != MOTO_VERSION:
        raise MotoVersionError(
            f"the local engine patches moto {MOTO_VERSION}, but moto {installed} is installed: "
            f"pip install moto=={MOTO_VERSION} (or `make install`)"
        )


_SERVICE_TASKS = (
    state_task_service_aws_sdk.StateTaskServiceAwsSdk,
    state_task_service_dynamodb.StateTaskServiceDynamoDB,
)


def _keep_evaluation_failures(original: Callable[..., FailureEvent]) -> Callable[..., FailureEvent]:
    def _from_error(self: Any, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, FailureEventException):
            return ex.failure_event
        return original(self, env, ex)

    _from_error.patched = True  # type: ignore[attr-defined]
    return _from_error


KEPT_PARSE_TREES = 32
_trees: OrderedDict[str, ParserRuleContext] = OrderedDict()
_trees_lock = threading.Lock()


def _detached(tree: ParserRuleContext) -> ParserRuleContext:
    """``tree`` without its references to the parser and the input (what pickling it would
    drag along); each token keeps its text, which is all moto reads of them."""
    nodes = [tree]
    while nodes:
        node = nodes.pop()
        if isinstance(node, ParserRuleContext):
            node.parser = None
            nodes.extend(node.children or ())
        for token in (getattr(node, name, None) for name in ("start", "stop", "symbol")):
            if token is not None and token.source != (None, None):
                token._text = token.text
                token.source = (None, None)
    return tree


def _tree_file(definition: str) -> Path | None:
    versions = version_key("moto", "antlr4-python3-runtime")
    key = hashlib.sha256((versions + definition).encode()).hexdigest()
    return cache_file("asl-trees", f"{key}.pickle")


def _stored_tree(definition: str) -> ParserRuleContext | None:
    path = _tree_file(definition)
    try:
        tree: ParserRuleContext = pickle.loads(path.read_bytes()) if path else None
    except Exception:  # absent, unreadable or too deep: parse again
        return None
    return tree


def _store_tree(definition: str, tree: ParserRuleContext) -> None:
    path = _tree_file(definition)
    if path is not None:
        with contextlib.suppress(RecursionError):
            write_cache(path, pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL))


def _parse_tree(definition: str) -> ParserRuleContext:
    with _trees_lock:
        tree = _trees.get(definition)
        if tree is not None:
            _trees.move_to_end(definition)
            return tree
    tree = _stored_tree(definition)
    if tree is None:
        listener = asl_parser.SyntaxErrorListener()
        parser = ASLParser(CommonTokenStream(ASLLexer(InputStream(definition))))
        parser.removeErrorListeners()
        parser.addErrorListener(listener)
        tree = parser.state_machine()
        if listener.errors:
            raise asl_parser.ASLParserException(errors=listener.errors)
        _store_tree(definition, _detached(tree))
    with _trees_lock:
        _trees[definition] = tree
        while len(_trees) > KEPT_PARSE_TREES:
            _trees.popitem(last=False)
    return tree


def _parse(definition: str) -> tuple[Any, ParserRuleContext]:
    """moto's AmazonStateLanguageParser.parse, with the parse tree cached."""
    tree = _parse_tree(definition)
    return asl_parser.Preprocessor().visit(tree), tree


def _json_string_literal(
    original: Callable[[ParserRuleContext], str | None],
) -> Callable[[ParserRuleContext], str | None]:
    def from_string_literal(parser_rule_context: ParserRuleContext) -> str | None:
        text = parser_rule_context.getText()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            try:
                decoded = json.loads(text)
            except ValueError:
                pass
            else:
                if isinstance(decoded, str):
                    return decoded
        return original(parser_rule_context)

    from_string_literal.patched = True  # type: ignore[attr-defined]
    return from_string_literal


def install() -> None:
    if not getattr(preprocessor.from_string_literal, "patched", False):
        decoder = _json_string_literal(preprocessor.from_string_literal)
        preprocessor.from_string_literal = decoder  # type: ignore[assignment]
    asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse)  # type: ignore[method-assign]
    for task in _SERVICE_TASKS:
        if not getattr(task._from_error, "patched", False):
            task._from_error = _keep_evaluation_failures(task._from_error)  # type: ignore[method-assign]
