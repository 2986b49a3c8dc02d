"""Checking only the messages a turn adds to an already checked history."""

import pytest
from agent_core import messages

HISTORY = [
    {"role": "user", "content": [{"type": "text", "text": "task"}]},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "q", "input": {}}]},
]


def result(tool_use_id: str) -> dict:
    content = [{"type": "tool_result", "tool_use_id": tool_use_id, "content": "ok"}]
    return {"role": "user", "content": content}


def test_new_messages_that_continue_the_history_pass():
    new = [result("t1")]
    assert messages.check_messages(new, follows=HISTORY) is new


@pytest.mark.parametrize(
    ("new", "complaint"),
    [
        ([result("t9")], "messages[2]: tool_result 't9' answers no tool_use"),
        ([HISTORY[1]], "messages[2]: roles must alternate user/assistant, starting with user"),
        ([result("t1"), result("t1")], "messages[3]: roles must alternate"),
    ],
)
def test_errors_name_the_place_in_the_whole_conversation(new, complaint):
    with pytest.raises(Exception) as raised:
        messages.check_messages(new, follows=HISTORY)
    assert type(raised.value).__name__ == "MalformedLlmEvent"
    assert str(raised.value).startswith(complaint)
    with pytest.raises(Exception) as whole:  # the same error as checking the whole list
        messages.check_messages(HISTORY + new)
    assert str(whole.value) == str(raised.value)
