"""A Python function's sandbox process, started before the engine knows all of its environment
(its resources' names, the Runtime API's address): it imports the function's libraries meanwhile,
then reads how to run from its stdin, and becomes that command. Its stdin has two JSON lines:
the environment it was started with (Python may add to it as it starts), at once; then, when the
engine adopts it, ``{"command": [...], "cwd": ..., "env": {...}}``. (Not in its arguments, which
any user of the machine can list: the environment may hold credentials.)

It runs the command in this interpreter (``python -m module args``) only when that is the same as
a fresh one: the same interpreter, directory and start-up variables (PYTHON*, locale, TZ), and
every variable the imports read with the same value in the final environment. Otherwise it
exec()s the command, a fresh process. Run by path from a directory holding only this file, so
that nothing else is imported first. Arguments: the distributions to import (requirement lines).
"""

import importlib
import importlib.metadata
import json
import os
import re
import runpy
import sys
from typing import Any

START_UP = re.compile(r"PYTHON|LC_|LANG$|TZ$")  # read by the interpreter as it starts
# The runtime's own library. Not awslambdaric: its C client reads the Runtime API's address as it
# is imported (C code's getenv() is not seen by the recording below).
ALWAYS = ("boto3",)


READ: set[str] = set()  # the variables the imports read; "*": all of them (iterated, copied)


class _RecordingEnviron(os._Environ):
    """os.environ while the libraries import: notes which variables they read."""

    def __getitem__(self, key: str) -> str:
        READ.add(key)
        return super().__getitem__(key)

    def __iter__(self) -> Any:
        READ.add("*")
        return super().__iter__()


def _modules(requirement: str) -> list[str]:
    """The top-level modules of an installed distribution named by a requirement line."""
    name = re.split(r"[\s\[<>=!~;@]", requirement.split("#", maxsplit=1)[0].strip(), maxsplit=1)[0]
    if not name:
        return []
    try:
        distribution = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return []
    listed = (distribution.read_text("top_level.txt") or "").split()
    found = {str(f).split("/")[0].removesuffix(".py") for f in distribution.files or ()}
    return listed or sorted(m for m in found if m.isidentifier())


def preload(requirements: list[str]) -> bool:
    """Import the distributions' modules; False if one failed (a fresh process reports it)."""
    environ_class = os.environ.__class__
    os.environ.__class__ = _RecordingEnviron
    try:
        for module in [*ALWAYS, *(m for r in requirements for m in _modules(r))]:
            try:
                importlib.import_module(module)
            except Exception:
                return False
        return True
    finally:
        os.environ.__class__ = environ_class


def same_as_fresh(
    command: list[str], cwd: str, env: dict[str, str], started_with: dict[str, str]
) -> bool:
    """Whether running ``command`` here is what a fresh process would do. ``started_with`` is
    this process's environment as it was given (Python may add LC_CTYPE to it as it starts)."""
    now = dict(os.environ)
    start_up = {k for k in {*started_with, *env} if START_UP.match(k)}
    read = {*now, *env} if "*" in READ else READ
    return (
        command[:2] == [sys.executable, "-m"]
        and len(command) > 2
        and os.path.realpath(cwd) == os.path.realpath(os.getcwd())
        and all(started_with.get(k) == env.get(k) for k in start_up)
        and all(now.get(k) == env.get(k) for k in read - start_up)
    )


def main() -> None:
    started_with = json.loads(sys.stdin.readline() or "{}")
    imported = preload(sys.argv[1:])
    line = sys.stdin.readline()
    if not line:  # the engine stopped without using this sandbox
        return
    spec = json.loads(line)
    command, cwd, env = spec["command"], spec["cwd"], spec["env"]
    if not (imported and same_as_fresh(command, cwd, env, started_with)):
        os.chdir(cwd)
        os.execve(command[0], command, env)
    null = os.open(os.devnull, os.O_RDONLY)  # as a fresh sandbox's stdin
    os.dup2(null, 0)
    os.close(null)
    os.environ.clear()
    os.environ.update(env)
    sys.path[0] = os.getcwd()  # as `python -m` has it, instead of this file's directory
    sys.argv = [command[2], *command[3:]]
    runpy.run_module(command[2], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
