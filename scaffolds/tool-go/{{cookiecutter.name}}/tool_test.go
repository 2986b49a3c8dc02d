package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCountsWordsAndCharacters(t *testing.T) {
	if got := Count("one two  three"); got != (Counts{Words: 3, Characters: 14}) {
		t.Fatalf("got %+v", got)
	}
	if got := Count(""); got != (Counts{}) {
		t.Fatalf("got %+v", got)
	}
}

func TestHandleAnswersAToolCall(t *testing.T) {
	r := Handle(json.RawMessage(`{"name": "{{ cookiecutter.name }}", "id": "toolu_1", "input": {"text": "hello world"}}`))
	if r.IsError || r.ToolUseID != "toolu_1" || r.Content != `{"words":2,"characters":11}` {
		t.Fatalf("got %+v", r)
	}
}

func TestHandleReportsBadInputToTheModel(t *testing.T) {
	r := Handle(json.RawMessage(`{"name": "{{ cookiecutter.name }}", "id": "toolu_2", "input": {"text": 3}}`))
	if !r.IsError || !strings.Contains(r.Content, "text must be a string") {
		t.Fatalf("got %+v", r)
	}
	r = Handle(json.RawMessage(`{"name": "other", "id": "toolu_3", "input": {}}`))
	if !r.IsError || !strings.Contains(r.Content, "unknown tool") {
		t.Fatalf("got %+v", r)
	}
}
