"""Load a Python Lambda handler in this process, isolated from other functions' modules.

Every function keeps its own copy of its code and layer modules (two functions may both have an
``app.py``, and each gets its own ``agent_core`` with its own service name), while third-party
packages are shared. The function's environment is applied (to this thread only) while its module
is imported; the engine applies it again around each invocation.
"""

import importlib
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sfn_agents.thread_env import overlay

Handler = Callable[[Any, Any], Any]

_import_lock = threading.Lock()


@contextmanager
def _path_first(dirs: Sequence[Path]) -> Iterator[None]:
    saved = list(sys.path)
    sys.path[:0] = [str(d) for d in dirs]
    try:
        yield
    finally:
        sys.path[:] = saved


def _forget_modules_under(dirs: Sequence[Path], names: set[str]) -> None:
    roots = tuple(str(d.resolve()) + os.sep for d in dirs)
    for name in names:
        module = sys.modules.get(name)
        location = getattr(module, "__file__", None) or ""
        if os.path.realpath(location).startswith(roots):
            del sys.modules[name]


def import_isolated(
    module_name: str, own_dirs: Sequence[Path], env: Mapping[str, str] | None = None
) -> Any:
    """Import ``module_name`` from ``own_dirs`` without leaving their modules in sys.modules."""
    with _import_lock, overlay(env or {}), _path_first(own_dirs):
        before = set(sys.modules)
        clashing = {n for n in before if n == module_name or n.startswith(module_name + ".")}
        for name in clashing:
            del sys.modules[name]
        try:
            return importlib.import_module(module_name)
        finally:
            _forget_modules_under(own_dirs, set(sys.modules) - before | clashing)


def load_handler(
    code_dir: Path,
    handler: str,
    layer_dirs: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
) -> Handler:
    """Import ``module.function`` (the template's Handler) from ``code_dir`` and return it."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {handler!r} is not of the form module.function")
    module = import_isolated(module_name, [code_dir, *layer_dirs], env)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise AttributeError(f"{code_dir}/{module_name}.py has no callable {function_name!r}")
    return function
