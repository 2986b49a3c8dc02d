"""Every Python function is one package of its own name inside its CodeUri, so all of them (and
the layer) share one sys.path without colliding: in the local engine, in pytest and in mypy."""

import importlib.util
import sys
import tomllib
from collections import Counter
from pathlib import Path

from sfn_agents.template import Template

ROOT = Path(__file__).resolve().parents[2]
LAYER = "layers/agent_core"


def top_level_names(directory: Path) -> set[str]:
    """What `import NAME` finds in ``directory``: packages and modules."""
    return {
        entry.stem
        for entry in directory.iterdir()
        if (entry.is_dir() and (entry / "__init__.py").is_file()) or entry.suffix == ".py"
    }


def test_each_handler_is_in_a_package_of_its_own_code_dir(python_handlers):
    for code_uri, handler in python_handlers.items():
        package, module, function = handler.split(".")
        assert (module, function) == ("handler", "lambda_handler"), handler
        assert top_level_names(ROOT / code_uri) == {package}, code_uri
        assert (ROOT / code_uri / package / "handler.py").is_file(), handler


def test_no_two_functions_nor_the_layer_share_a_top_level_name(python_handlers):
    names = Counter(
        name
        for directory in [*python_handlers, LAYER]
        for name in top_level_names(ROOT / directory)
    )
    assert [name for name, count in names.items() if count > 1] == []


def test_no_function_package_shadows_an_installed_one(python_handlers):
    ours = {str((ROOT / d).resolve()) for d in [*python_handlers, LAYER]}
    elsewhere = [p for p in sys.path if str(Path(p).resolve()) not in ours]
    for directory in [*python_handlers, LAYER]:
        for name in top_level_names(ROOT / directory):
            spec = importlib.util.find_spec(name) if name not in sys.modules else None
            found = spec and spec.origin and Path(spec.origin).resolve()
            assert not found or not any(found.is_relative_to(p) for p in elsewhere), name


def test_pytest_and_mypy_see_every_function_and_the_layer(python_handlers):
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    expected = {*python_handlers, LAYER}
    assert set(config["pytest"]["ini_options"]["pythonpath"]) == expected
    assert set(config["mypy"]["mypy_path"]) == expected | {"src"}


def test_the_layer_is_the_template_s():
    layer = Template.load(ROOT / "template.yaml").resources["AgentCoreLayer"]["Properties"]
    assert layer["ContentUri"].rstrip("/") == LAYER
