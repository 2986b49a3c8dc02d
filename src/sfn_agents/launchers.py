"""How to build (for this machine) and start a function so it serves the Lambda Runtime API: each
runtime's official client does the talking, not a re-implementation of Lambda.

- Python (python*): AWS's awslambdaric, on this interpreter (so with its installed packages), with
  the function's code directory and its layers first on its path, as Lambda's /var/task and /opt,
  and without what Lambda's Python runtime lacks unless the function's requirements bring it.
- Go (BuildMethod go1.x) and Rust (rust-cargolambda): the binary, whose aws-lambda-go /
  lambda_runtime library is the runtime client.
- Node (BuildMethod esbuild): the esbuild bundle run by AWS's aws-lambda-ric.
- Java (java*): the classes run by aws-lambda-java-runtime-interface-client.

Artifacts are rebuilt only when a source file is newer than them (`make tools-local-build`
prebuilds them all), one build of a tool at a time across threads and processes (two engines, or
pytest's workers, starting the same tool). A build says so on the terminal before it starts (a
first Rust build takes minutes); a tool that cannot be built fails its invocations with the reason
and the make target that installs what it lacks.
"""

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# What botocore and urllib3 import when it is installed, and Lambda's Python runtime lacks
# (aws-lambda-base-images#147): module -> distribution. The dev environment has both (aws-sam-cli
# brings them), and importing them took ~0.13 s of each Python function's cold start. NOT_IN_LAMBDA
# holds a package of each name that fails to import, first on a function's path unless its
# requirements (with theirs) bring one of them.
LAMBDA_LACKS = {"awscrt": "awscrt", "OpenSSL": "pyopenssl"}
NOT_IN_LAMBDA = Path(__file__).parent / "not_in_lambda"
JAVA_RIC_MAIN = "com.amazonaws.services.lambda.runtime.api.client.AWSLambda"
JAVA_RIC_JNI_PROPERTY = (
    "com.amazonaws.services.lambda.runtime.api.client.runtimeapi.NativeClient.JNI"
)
SETUP_HINT = "run `make tools-install` (the toolchains and packages) or `make tools-local-build`"
SOURCE_SUFFIXES = {".go", ".mod", ".sum", ".rs", ".toml", ".lock", ".ts", ".json", ".java", ".xml"}


class LaunchError(RuntimeError):
    """A function cannot be built or started locally; the message says what is missing."""


@dataclass
class Launch:
    command: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


def _newest_source(code_dir: Path) -> float:
    newest = 0.0
    for root, dirs, files in os.walk(code_dir):
        dirs[:] = [d for d in dirs if d not in {"target", "node_modules", "dist", ".local-build"}]
        for name in files:
            if Path(name).suffix in SOURCE_SUFFIXES:
                newest = max(newest, (Path(root) / name).stat().st_mtime)
    return newest


@contextlib.contextmanager
def _exclusive(code_dir: Path) -> Iterator[None]:
    """An exclusive lock on the tool's directory: flock(2) on an open of its own conflicts with
    every other open, in this process or another, and ends with the process."""
    descriptor = os.open(code_dir, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _build(code_dir: Path, artifact: Path, command: Sequence[str], env: dict[str, str]) -> None:
    """Build ``artifact`` unless it is newer than every source; a concurrent caller waits for the
    build in progress, then finds the artifact fresh."""
    with _exclusive(code_dir):
        if artifact.exists() and artifact.stat().st_mtime >= _newest_source(code_dir):
            return
        _run_build(code_dir, artifact, command, env)


def _run_build(code_dir: Path, artifact: Path, command: Sequence[str], env: dict[str, str]) -> None:
    print(  # the real terminal, not a function's captured log
        f"sfn-agents: building {code_dir.name} for the local engine ({' '.join(command)}); "
        "`make tools-local-build` prebuilds every tool",
        file=sys.__stderr__,
        flush=True,
    )
    try:
        result = subprocess.run(
            list(command), cwd=code_dir, env={**os.environ, **env}, capture_output=True, text=True
        )
    except FileNotFoundError:
        raise LaunchError(
            f"{command[0]} is not installed, so {code_dir.name} cannot be built: {SETUP_HINT}"
        ) from None
    if result.returncode != 0 or not artifact.exists():
        output = (result.stderr or result.stdout)[-2000:].strip()
        raise LaunchError(
            f"building {code_dir.name} failed ({' '.join(command)}): {output}\n{SETUP_HINT}"
        )
    artifact.touch()


def java_home() -> str:
    """A JDK of version 21 or later (Lambda's java21 runtime)."""
    if os.environ.get("JAVA21_HOME"):
        return os.environ["JAVA21_HOME"]
    candidates = sorted(
        glob.glob("/usr/lib/jvm/temurin-2[1-9]*") + glob.glob("/usr/lib/jvm/java-2[1-9]-openjdk*")
    )
    if not candidates:
        raise LaunchError("Java functions need a JDK >= 21: set JAVA21_HOME")
    return candidates[-1]


def _go(code_dir: Path, handler: str, repo: Path, memory_mb: int) -> Launch:
    binary = code_dir / ".local-build" / "bootstrap"
    flags = {"CGO_ENABLED": "0", "GOFLAGS": "-trimpath -buildvcs=false"}  # as mk/tools.mk
    _build(code_dir, binary, ["go", "build", "-o", str(binary), "."], flags)
    return Launch([str(binary)], code_dir)


def _rust(code_dir: Path, handler: str, repo: Path, memory_mb: int) -> Launch:
    binary = code_dir / "target" / "debug" / "bootstrap"
    _build(code_dir, binary, ["cargo", "build", "--locked"], {})
    return Launch([str(binary)], code_dir)


def _node(code_dir: Path, handler: str, repo: Path, memory_mb: int) -> Launch:
    bundle = code_dir / "dist" / "index.js"
    _build(code_dir, bundle, ["npm", "run", "--silent", "build"], {})
    ric = repo / ".tools" / "node-ric" / "node_modules" / "aws-lambda-ric" / "index.mjs"
    if not ric.is_file():
        raise LaunchError(f"Node functions run through aws-lambda-ric ({ric}): {SETUP_HINT}")
    return Launch(
        ["node", str(ric)],
        bundle.parent,
        {"_HANDLER": handler, "LAMBDA_TASK_ROOT": str(bundle.parent)},
    )


def _java(code_dir: Path, handler: str, repo: Path, memory_mb: int) -> Launch:
    home = java_home()
    classes = code_dir / "target" / "local-runtime"
    mvn = ["mvn", "-q", "-B", "-P", "local-runtime", "package", "-DskipTests"]
    _build(code_dir, classes, mvn, {"JAVA_HOME": home})
    classpath = f"{code_dir / 'target' / 'classes'}:{classes}/*"
    command = [
        f"{home}/bin/java",
        "--enable-native-access=ALL-UNNAMED",
        f"-D{JAVA_RIC_JNI_PROPERTY}={java_ric_jni(classes)}",
        *([f"-XX:MaxRAM={memory_mb}m"] if memory_mb else []),  # heap sized as on Lambda
        "-cp",
        classpath,
        JAVA_RIC_MAIN,
        handler,
    ]
    return Launch(command, code_dir, {"JAVA_HOME": home})


def java_ric_jni(classes: Path) -> Path:
    """The Java runtime interface client's native library for this machine, unpacked once next
    to its jar. Left to itself, the client copies it to /tmp/.libaws-lambda-jni.so at every start:
    each Lambda sandbox has its own /tmp, but two local sandboxes starting at once overwrite the
    file the other is loading (the JVM dies of SIGBUS)."""
    import platform
    import zipfile

    (jar,) = classes.glob("aws-lambda-java-runtime-interface-client-*.jar")
    arch = "aarch_64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    name = f"libaws-lambda-jni.linux-{arch}.so"
    unpacked = classes.parent / "local-jni" / f"{jar.stem}-{name}"
    if not unpacked.exists():
        unpacked.parent.mkdir(exist_ok=True)
        partial = unpacked.with_name(f"{unpacked.name}.{os.getpid()}")
        with zipfile.ZipFile(jar) as archive:
            partial.write_bytes(archive.read(f"jni/{name}"))
        partial.replace(unpacked)  # whole or not at all, for a sandbox starting meanwhile
    return unpacked


def brought(lines: Sequence[str]) -> set[str]:
    """The distributions requirement lines bring, with their dependencies (and the extras they
    name), as canonical names: those installed here are followed through their metadata."""
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    seen: set[tuple[str, str]] = set()
    pending: list[tuple[str, str]] = []  # (requirement, the extra its parent was required with)
    pending += [(line, "") for line in lines]
    while pending:
        line, parent_extra = pending.pop()
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker and not requirement.marker.evaluate({"extra": parent_extra}):
            continue
        name = canonicalize_name(requirement.name)
        for extra in {"", *requirement.extras}:
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            with contextlib.suppress(metadata.PackageNotFoundError):  # not installed here
                pending += [(dependency, extra) for dependency in metadata.requires(name) or []]
    return {name for name, _ in seen}


def _hidden(dirs: Sequence[Path]) -> list[Path]:
    """[NOT_IN_LAMBDA], unless the requirements of ``dirs`` bring one of its modules (cached by
    what they say and what is installed: following them took ~0.1 s)."""
    from sfn_agents.preload import requirements
    from sfn_agents.template import cached_json, installed_distributions

    lines = requirements(dirs)
    key = hashlib.sha256(json.dumps([lines, installed_distributions()]).encode()).hexdigest()
    names = set(cached_json("requirements-brought", key, lambda: sorted(brought(lines))))
    return [] if names & set(LAMBDA_LACKS.values()) else [NOT_IN_LAMBDA]


def _python(runtime: str, code_dir: Path, handler: str, layer_dirs: Sequence[Path]) -> Launch:
    entries = [*_hidden([code_dir, *layer_dirs]), code_dir, *layer_dirs]
    path = os.pathsep.join(str(d.resolve()) for d in entries)
    return Launch(
        [sys.executable, "-m", "awslambdaric", handler],
        code_dir,
        {
            "PYTHONPATH": path,
            "LAMBDA_TASK_ROOT": str(code_dir),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        },
    )


def launch_for(
    runtime: str,
    build_method: str,
    code_dir: Path,
    handler: str,
    repo: Path,
    memory_mb: int = 0,
    layer_dirs: Sequence[Path] = (),
) -> Launch:
    """Build if needed, and say how to start the function's runtime process (a JVM sizes its
    heap from ``memory_mb``, the function's MemorySize, as Lambda's Java runtime does)."""
    if runtime.startswith("python"):  # nothing to build
        return _python(runtime, code_dir, handler, layer_dirs)
    if runtime.startswith("java"):
        builder = _java
    elif runtime.startswith("nodejs"):
        builder = _node
    elif build_method == "go1.x":
        builder = _go
    elif build_method == "rust-cargolambda":
        builder = _rust
    else:
        raise LaunchError(
            f"no local launcher for runtime {runtime} with BuildMethod {build_method or '-'}"
        )
    return builder(code_dir, handler, repo, memory_mb)
