use serde_json::{json, Value};
use {{ cookiecutter.name }}::{count, handle, TOOL_NAME};

#[test]
fn counts_words_and_characters() {
    assert_eq!(count("one two  three"), json!({"words": 3, "characters": 14}));
    assert_eq!(count(""), json!({"words": 0, "characters": 0}));
}

#[test]
fn answers_a_tool_call() {
    let result = handle(&json!({"name": TOOL_NAME, "id": "toolu_1", "input": {"text": "hello world"}}));
    assert_eq!(result["is_error"], json!(false));
    assert_eq!(result["tool_use_id"], json!("toolu_1"));
    let content: Value = serde_json::from_str(result["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({"words": 2, "characters": 11}));
}

#[test]
fn reports_bad_input_to_the_model() {
    let result = handle(&json!({"name": TOOL_NAME, "id": "toolu_2", "input": {"text": 3}}));
    assert_eq!(result["is_error"], json!(true));
    assert!(result["content"].as_str().unwrap().contains("text must be a string"));
}
