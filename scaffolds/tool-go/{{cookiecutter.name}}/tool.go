// Tool {{ cookiecutter.name }}: {{ cookiecutter.description }}.
// The tool's logic: replace the example (word and character counts) with yours.
package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ToolName is the name the model calls the tool by (registry/tools/{{ cookiecutter.name }}.json).
const ToolName = "{{ cookiecutter.name }}"

// Event is a tool call: {"name": ..., "id": ..., "input": {...}}.
type Event struct {
	Name  string          `json:"name"`
	ID    string          `json:"id"`
	Input json.RawMessage `json:"input"`
}

// Result is the tool result the agent loop reads.
type Result struct {
	Type      string `json:"type"`
	ToolUseID string `json:"tool_use_id"`
	Name      string `json:"name"`
	Content   string `json:"content"`
	IsError   bool   `json:"is_error"`
}

// Counts is what the example tool returns.
type Counts struct {
	Words      int `json:"words"`
	Characters int `json:"characters"`
}

// Count counts the words (separated by white space) and characters of text.
func Count(text string) Counts {
	return Counts{Words: len(strings.Fields(text)), Characters: utf8.RuneCountInString(text)}
}

// Handle answers one tool call; bad input is an error result the model can read.
func Handle(raw json.RawMessage) Result {
	var event Event
	if err := json.Unmarshal(raw, &event); err != nil {
		return errorResult("", ToolName, fmt.Sprintf("the event is not a tool call: %v", err))
	}
	if event.Name != ToolName {
		return errorResult(event.ID, event.Name, fmt.Sprintf("unknown tool %q: this function implements %q", event.Name, ToolName))
	}
	var input struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(event.Input, &input); err != nil || input.Text == nil {
		return errorResult(event.ID, ToolName, "text must be a string")
	}
	content, _ := json.Marshal(Count(*input.Text))
	return Result{Type: "tool_result", ToolUseID: event.ID, Name: ToolName, Content: string(content)}
}

func errorResult(id, name, message string) Result {
	return Result{Type: "tool_result", ToolUseID: id, Name: name, Content: "Error: " + message, IsError: true}
}
