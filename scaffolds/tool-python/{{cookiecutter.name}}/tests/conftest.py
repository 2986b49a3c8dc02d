"""The tool's package and the AgentCore layer, importable as they are in Lambda (the repository's
pyproject.toml lists them in pytest's pythonpath too)."""

import sys
from pathlib import Path

FUNCTION = Path(__file__).resolve().parents[1]
LAYER = FUNCTION.parents[2] / "layers" / "agent_core"
sys.path[:0] = [str(p) for p in (FUNCTION, LAYER) if str(p) not in sys.path]
