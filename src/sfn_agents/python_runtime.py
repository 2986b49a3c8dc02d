"""Load a Python Lambda handler in this process: its module by name, from the function's code
directory and its layers, which join ``sys.path``. The engine runs functions in processes of their
own (launchers, awslambdaric); tests and scripts/hostile_inputs.py call handlers directly.

Every function's code is a package of its own name (``sql_tool``, ``anthropic_llm``, ...), so all
functions share one ``sys.modules`` without colliding (tests/unit/test_function_packages.py keeps
the names unique). A handler reads its settings from the environment when invoked, so each
function sees its own (the caller applies it with thread_env.overlay, as around the import).
"""

import importlib
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sfn_agents.thread_env import overlay

Handler = Callable[[Any, Any], Any]

_import_lock = threading.Lock()


def add_to_path(dirs: Sequence[Path]) -> None:
    """Append ``dirs`` to sys.path (once each): code directories and layers, after the
    installed packages, so no function's code can shadow a library."""
    for entry in (str(d.resolve()) for d in dirs):
        if entry not in sys.path:
            sys.path.append(entry)


def load_handler(
    code_dir: Path,
    handler: str,
    layer_dirs: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
) -> Handler:
    """Import ``package.module.function`` (the template's Handler) and return the function."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {handler!r} is not of the form module.function")
    with _import_lock, overlay(env or {}):
        add_to_path([code_dir, *layer_dirs])
        module = importlib.import_module(module_name)
    location = Path(getattr(module, "__file__", None) or "").resolve()
    if not location.is_relative_to(code_dir.resolve()):
        raise ImportError(
            f"handler module {module_name} is {location}, not in {code_dir}: another function "
            "or an installed package has a module of that name; give the function's package a "
            "name of its own"
        )
    function = getattr(module, function_name, None)
    if not callable(function):
        raise AttributeError(f"{location} has no callable {function_name!r}")
    return function
