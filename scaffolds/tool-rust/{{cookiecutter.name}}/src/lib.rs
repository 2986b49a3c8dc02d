//! sfn-agents tool `{{ cookiecutter.name }}`: {{ cookiecutter.description }}.
//!
//! Event: `{"name": "{{ cookiecutter.name }}", "id": "toolu_…", "input": {"text": "…"}}`.
//! Result: `{"type": "tool_result", "tool_use_id", "name", "content" (JSON text), "is_error"}`.
//! Replace the example (word and character counts) with your tool's logic.

use serde_json::{json, Value};

pub const TOOL_NAME: &str = "{{ cookiecutter.name }}";

/// Words (separated by white space) and characters of `text`.
pub fn count(text: &str) -> Value {
    json!({"words": text.split_whitespace().count(), "characters": text.chars().count()})
}

fn tool_result(tool_use_id: &str, name: &str, content: String, is_error: bool) -> Value {
    json!({
        "type": "tool_result",
        "tool_use_id": tool_use_id,
        "name": name,
        "content": content,
        "is_error": is_error,
    })
}

/// Answers one tool call; bad input is an error result the model can read.
pub fn handle(event: &Value) -> Value {
    let id = event.get("id").and_then(Value::as_str).unwrap_or("");
    let name = event.get("name").and_then(Value::as_str).unwrap_or("");
    if name != TOOL_NAME {
        let message = format!("Error: unknown tool '{name}': this function implements '{TOOL_NAME}'");
        return tool_result(id, name, message, true);
    }
    match event.pointer("/input/text").and_then(Value::as_str) {
        Some(text) => tool_result(id, name, count(text).to_string(), false),
        None => tool_result(id, name, "Error: text must be a string".into(), true),
    }
}
