"""A tool that needs a build says so before building, one that cannot be built fails with the
reason and the make target that fixes it, and two processes starting it build it once."""

import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sfn_agents import launchers
from sfn_agents.launchers import LaunchError, _build


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    (tmp_path / "main.go").write_text("package main\n")
    return tmp_path


def test_a_missing_toolchain_names_the_make_target(code_dir):
    with pytest.raises(LaunchError, match=r"no-such-compiler is not installed.*make tools-install"):
        _build(code_dir, code_dir / "bootstrap", ["no-such-compiler", "build"], {})


def test_a_failed_build_shows_its_error_and_the_make_target(code_dir, capfd):
    command = ["sh", "-c", "echo 'sh: 1: esbuild: not found' >&2; exit 127"]
    with pytest.raises(LaunchError, match=r"esbuild: not found(.|\n)*make tools-local-build"):
        _build(code_dir, code_dir / "bootstrap", command, {})
    assert f"building {code_dir.name}" in capfd.readouterr().err


def test_an_artifact_newer_than_its_sources_is_not_rebuilt(code_dir, capfd):
    artifact = code_dir / "bootstrap"
    _build(code_dir, artifact, ["sh", "-c", "touch bootstrap"], {})
    capfd.readouterr()
    _build(code_dir, artifact, ["sh", "-c", "exit 1"], {})  # would fail if it ran
    assert "building" not in capfd.readouterr().err


# Each process says it has started just before it builds; the build waits for both, so without
# the lock the second would find no artifact and build too.
BUILD_IN_PROCESS = """
import pathlib, sys
from sfn_agents.launchers import _build
code_dir = pathlib.Path(sys.argv[1])
(code_dir / f"started.{sys.argv[2]}").touch()
_build(code_dir, code_dir / "bootstrap", ["sh", "-c", sys.argv[3]], {})
"""
WAIT_FOR_BOTH = (
    "echo built >> builds.log; until [ -e started.1 ] && [ -e started.2 ]; do sleep 0.05; done;"
    " sleep 0.5; touch bootstrap"
)


def test_two_processes_starting_one_tool_build_it_once(code_dir):
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD_IN_PROCESS, str(code_dir), str(n), WAIT_FOR_BOTH],
            stderr=subprocess.DEVNULL,
        )
        for n in (1, 2)
    ]
    assert [process.wait(timeout=60) for process in processes] == [0, 0]
    assert (code_dir / "builds.log").read_text() == "built\n"


@pytest.fixture
def java_launch(code_dir, monkeypatch):
    """A Java function's launch over a built runtime-interface-client jar holding ``NATIVE``."""
    jars = code_dir / "target" / "local-runtime"
    jars.mkdir(parents=True)
    with zipfile.ZipFile(jars / "aws-lambda-java-runtime-interface-client-2.9.0.jar", "w") as jar:
        for arch in ("x86_64", "aarch_64"):
            jar.writestr(f"jni/libaws-lambda-jni.linux-{arch}.so", NATIVE[arch])
    monkeypatch.setattr(launchers, "_build", lambda *args: None)
    monkeypatch.setattr(launchers, "java_home", lambda: "/opt/jdk")
    return lambda: launchers.launch_for(
        "java21", "", code_dir, "pkg.Handler::handle", code_dir, 1024
    )


NATIVE = {"x86_64": b"x86-64 library", "aarch_64": b"arm64 library"}


def test_a_jvm_sizes_its_heap_from_the_functions_memory(java_launch):
    assert "-XX:MaxRAM=1024m" in java_launch().command


def test_a_jvm_loads_the_clients_native_library_unpacked_once_not_from_tmp(java_launch):
    """Left to itself, the client rewrites /tmp/.libaws-lambda-jni.so at every start, under a
    sandbox loading it."""
    (native,) = [
        Path(arg.split("=", 1)[1])
        for arg in java_launch().command
        if arg.startswith(f"-D{launchers.JAVA_RIC_JNI_PROPERTY}=")
    ]
    arch = "aarch_64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    assert native.read_bytes() == NATIVE[arch]
    unpacked = native.stat().st_mtime_ns
    assert java_launch().command == java_launch().command
    assert native.stat().st_mtime_ns == unpacked


PROBE = """import sys, botocore.compat, botocore.httpsession
print(botocore.compat.HAS_CRT)
print(sorted({"awscrt", "OpenSSL"} & set(sys.modules)))
try:
    import OpenSSL
except ModuleNotFoundError as error:
    print(error)
"""


def _probe(function_dir: Path) -> list[str]:
    """What a Python function's process finds of the libraries Lambda's runtime lacks."""
    launch = launchers.launch_for("python3.13", "", function_dir, "m.handler", function_dir)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": launch.env["PYTHONPATH"]}
    return subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()


def test_a_python_function_lacks_what_lambdas_python_runtime_lacks(tmp_path):
    """botocore and urllib3 go without them, as on Lambda (they are installed here, for SAM)."""
    (tmp_path / "requirements.txt").write_text("boto3\n")
    crt, imported, *message = _probe(tmp_path)
    assert (crt, imported) == ("False", "[]")
    assert message == [
        "No module named 'OpenSSL' (Lambda's Python runtime has none: add pyOpenSSL to the "
        "function's requirements.txt)"
    ]


def test_a_function_whose_requirements_bring_them_has_them(tmp_path):
    (tmp_path / "requirements.txt").write_text("boto3[crt]\n")  # botocore[crt]: awscrt
    crt, imported = _probe(tmp_path)
    assert (crt, imported) == ("True", "['OpenSSL', 'awscrt']")


def test_requirements_bring_their_dependencies_and_the_extras_they_name():
    assert "awscrt" not in launchers.brought(["boto3"])
    assert {"botocore", "awscrt"} <= launchers.brought(["boto3[crt]"])
    assert "pyopenssl" in launchers.brought(["aws-sam-cli"])  # through its own requirements
    assert launchers.brought(["no-such-distribution"]) == {"no-such-distribution"}


def test_each_module_lambda_lacks_has_its_failing_package():
    packages = {p.name for p in launchers.NOT_IN_LAMBDA.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(launchers.LAMBDA_LACKS)
