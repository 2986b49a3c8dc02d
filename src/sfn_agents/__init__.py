"""sfn-agents: run the SAM application's agents and functions locally, without AWS or Docker."""

from sfn_agents import moto_lazy_imports

__version__ = "0.1.0"

moto_lazy_imports.install()  # before any module here imports moto's Step Functions engine
