"""The step translator read in pieces (as the HTTP API reads after a cursor): a tool result names
its tool from the state that ran it, and a caught tool error yields one result, not two."""

import json

from sfn_agents.run_events import StepTranslator

CALL = {"id": "toolu_1", "name": "execute_sql_query", "input": {"sql_query": "SELECT 1"}}


def entered(event_id: int, state: str, state_input: dict) -> dict:
    return {
        "id": event_id,
        "type": "TaskStateEntered",
        "stateEnteredEventDetails": {"name": state, "input": json.dumps(state_input)},
    }


def exited(event_id: int, state: str, output: dict) -> dict:
    return {
        "id": event_id,
        "type": "TaskStateExited",
        "stateExitedEventDetails": {"name": state, "output": json.dumps(output)},
    }


RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "no", "is_error": True}


def test_a_result_names_the_tool_its_state_ran():
    steps = StepTranslator().steps(
        [entered(30, "RunApprovedTool", {"call": CALL}), exited(36, "RunApprovedTool", RESULT)]
    )
    assert [(s["kind"], s["name"]) for s in steps] == [("tool_result", "execute_sql_query")]


def test_a_caught_error_and_its_fallback_state_give_one_result():
    translator = StepTranslator()
    first = translator.steps([exited(36, "RunApprovedTool", RESULT)])
    again = translator.steps([exited(38, "ToolFailed", RESULT)])
    assert len(first) == 1 and again == []
