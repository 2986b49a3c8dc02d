"""sfn-agents: run the SAM application's agents and functions locally, without AWS or Docker."""

from sfn_agents import moto_lazy_imports

__version__ = "0.1.0"
DEFAULT_PORT = 4599  # of `local start`: not LocalStack's 4566, so both can run side by side

moto_lazy_imports.install()  # before any module here imports moto's Step Functions engine
