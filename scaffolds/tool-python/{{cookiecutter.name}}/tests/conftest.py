"""The tool's code and the AgentCore layer, importable as they are in Lambda."""

import sys
from pathlib import Path

FUNCTION = Path(__file__).resolve().parents[1]
LAYER = FUNCTION.parents[2] / "layers" / "agent_core"
sys.path[:0] = [str(FUNCTION), str(LAYER)]
