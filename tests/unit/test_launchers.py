"""A tool that needs a build says so before building, and one that cannot be built fails with the
reason and the make target that fixes it."""

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


def test_a_jvm_sizes_its_heap_from_the_functions_memory(code_dir, monkeypatch):
    monkeypatch.setattr(launchers, "_build", lambda *args: None)
    monkeypatch.setattr(launchers, "java_home", lambda: "/opt/jdk")
    launch = launchers.launch_for("java21", "", code_dir, "pkg.Handler::handle", code_dir, 1024)
    assert "-XX:MaxRAM=1024m" in launch.command
