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

With ``--fork-server FD dists...`` it is the fork server instead (see sfn_agents.preload): it
imports what the engine's Python functions share once, in the environment they share, then for
each request on the socket FD (a function's environment, directory and distributions, with its
stdin and output as passed descriptors) forks a process that continues as above. That process
adds the entries its PYTHONPATH has beyond the server's to sys.path, and runs in place only if
what the server imported read the same variables and none of those entries shadows a module
already imported. It is forked twice, so that it is reparented to the engine (a child
subreaper) and the engine waits for it as for any sandbox; its pid is the reply.
"""

import csv
import gc
import importlib
import importlib.metadata
import json
import os
import re
import runpy
import socket
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
    if listed:
        return listed
    # The first part of each path in RECORD: Distribution.files builds an object per file, which
    # took ~0.15 s for an SDK of 6,000 files before its process could start importing it.
    record = distribution.read_text("RECORD")
    paths = (
        [row[0] for row in csv.reader(record.splitlines()) if row]
        if record is not None
        else [str(f) for f in distribution.files or ()]
    )
    found = {path.split("/")[0].removesuffix(".py") for path in paths}
    return sorted(m for m in found if m.isidentifier() and not m.startswith("__"))


def preload(requirements: list[str]) -> bool:
    """Import the distributions' modules; False if one failed (a fresh process reports it).

    The cyclic garbage collector is off meanwhile: an SDK's import creates objects by the
    hundred thousand, and the collections they set off cost 6-15% of its CPU. What was imported
    is then frozen (modules live as long as the process; a collection need not scan them again,
    and a forked process leaves the pages it shares alone), and the collector runs as usual."""
    environ_class = os.environ.__class__
    os.environ.__class__ = _RecordingEnviron
    gc.disable()
    try:
        for module in [*ALWAYS, *(m for r in requirements for m in _modules(r))]:
            try:
                importlib.import_module(module)
            except Exception:
                return False
        return True
    finally:
        os.environ.__class__ = environ_class
        gc.freeze()
        gc.enable()


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


def run_when_adopted(started_with: dict[str, str], imported: bool) -> None:
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


def _entries(pythonpath: str | None) -> list[str]:
    return [entry for entry in (pythonpath or "").split(os.pathsep) if entry]


def _shadowed(entries: list[str]) -> bool:
    """Whether a module already imported would be found in one of ``entries`` first."""
    imported = {name.partition(".")[0] for name in sys.modules}
    for entry in entries:
        try:
            names = {name.partition(".")[0] for name in os.listdir(entry)}
        except OSError:
            continue
        if names & imported:
            return True
    return False


def _become_function(
    request: dict[str, Any], fds: list[int], server_env: dict[str, str]
) -> tuple[dict[str, str], bool]:
    """In a forked process: the function's descriptors, directory, environment and sys.path.
    Returns the environment to compare start-up variables with, and whether this process is
    still what a fresh one would be after the server's imports."""
    os.setsid()  # as a sandbox's: Ctrl-C reaches the engine, which stops it
    stdin, output = fds
    for target, fd in ((0, stdin), (1, output), (2, output)):
        os.dup2(fd, target)
    os.close(stdin)
    os.close(output)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 (this process's stdin from now on)
    os.chdir(request["cwd"])
    env: dict[str, str] = request["env"]
    server_path, path = (_entries(e.get("PYTHONPATH")) for e in (server_env, env))
    added = path[len(server_path) :] if path[: len(server_path)] == server_path else None
    after = 1 + len(server_path)  # sys.path[0] is this file's directory until adopted
    sys.path[after:after] = added or []  # where a fresh interpreter has them
    started_with = {k: v for k, v in server_env.items() if k != "PYTHONPATH"}
    if "PYTHONPATH" in env:
        started_with["PYTHONPATH"] = env["PYTHONPATH"]
    start_up = {k for k in {*server_env, *env} if START_UP.match(k)}
    read = {*server_env, *env} if "*" in READ else READ
    same = (
        added is not None
        and all(started_with.get(k) == env.get(k) for k in start_up | read)
        and not _shadowed(added)
    )
    os.environ.clear()
    os.environ.update(env)
    return started_with, same


def serve(channel: socket.socket, shared: list[str]) -> tuple[dict[str, str], bool] | None:
    """The fork server's loop. Returns None in the server once the engine closes its end, and in
    each forked process what run_when_adopted needs."""
    server_env = json.loads(sys.stdin.readline() or "{}")
    imported = preload(shared)
    while True:
        message, fds, _, _ = socket.recv_fds(channel, 1 << 20, 2)
        if not message or len(fds) != 2:
            return None
        request = json.loads(message)
        reply_r, reply_w = os.pipe()
        if os.fork() == 0:
            second = -1
            try:
                second = os.fork()
                if second == 0:
                    os.close(reply_r)
                    os.close(reply_w)
                    channel.close()
                    started_with, same = _become_function(request, fds, server_env)
                    return started_with, imported and same and preload(request["dists"])
                os.write(reply_w, str(second).encode())
            finally:
                if second != 0:  # the first fork ends here, orphaning the second (or failing)
                    os._exit(0)
        os.close(reply_w)
        for fd in fds:
            os.close(fd)
        pid = os.read(reply_r, 32)
        os.close(reply_r)
        os.wait()  # the first fork, which has exited: the second is the engine's child now
        channel.sendall(json.dumps({"pid": int(pid) if pid else None}).encode())


def main() -> None:
    if sys.argv[1:2] == ["--fork-server"]:
        forked = serve(socket.socket(fileno=int(sys.argv[2])), sys.argv[3:])
        if forked is None:
            return
        started_with, imported = forked
    else:
        started_with = json.loads(sys.stdin.readline() or "{}")
        imported = preload(sys.argv[1:])
    run_when_adopted(started_with, imported)


if __name__ == "__main__":
    main()
