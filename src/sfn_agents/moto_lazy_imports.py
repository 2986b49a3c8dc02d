"""Keep moto's Step Functions engine from importing moto's EC2 and Batch models at start.

The engine's Batch task module reads one enum from ``moto.batch.utils``, and importing that runs
``moto/batch/__init__``, which imports Batch's models and, through them, EC2's (instance types,
regions: seconds of a cold start that no sfn-agents run uses). ``install()`` registers
``moto.batch`` as a package whose models load on first use: ``moto.batch.utils`` imports alone,
and ``moto.batch.batch_backends`` (how moto's server finds a service) still works.
"""

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any


def install() -> None:
    if "moto.batch" in sys.modules:
        return
    moto = importlib.util.find_spec("moto")  # finds moto without importing it (seconds)
    assert moto is not None and moto.submodule_search_locations is not None
    spec = importlib.machinery.PathFinder.find_spec("moto.batch", moto.submodule_search_locations)
    assert spec is not None and spec.submodule_search_locations is not None
    package = types.ModuleType("moto.batch")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    package.__file__ = spec.origin

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(importlib.import_module("moto.batch.models"), name)

    package.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules["moto.batch"] = package
