// Package research implements the research_web tool: web research through the
// Perplexity chat completions API (OpenAI-compatible). Answers over the inline
// limit go to the artifact bucket (package largeresults); the Lambda handler in
// package main wires it up.
package research

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sfn-agents/sfn-agents/functions/tools/web-research/internal/largeresults"
)

// ToolName is the name the model calls this tool by.
const ToolName = "research_web"

const (
	DefaultBaseURL    = "https://api.perplexity.ai"
	DefaultModel      = "sonar"
	DefaultTimeout    = 25 * time.Second
	DefaultMaxSources = 5
	MaxMaxSources     = 20
	MaxQueryLength    = 4000
	maxResponseBytes  = 4 << 20
	maxErrorSnippet   = 300
	systemPrompt      = "You are a web research assistant. Answer the question accurately and concisely, " +
		"based on current web sources. Cite sources with bracketed numbers like [1]."
)

// Event is the tool input of the sfn-agents contract.
type Event struct {
	Name  string          `json:"name"`
	ID    string          `json:"id"`
	Input json.RawMessage `json:"input"`
}

// Result is the tool output of the sfn-agents contract.
type Result struct {
	Type      string `json:"type"`
	ToolUseID string `json:"tool_use_id"`
	Name      string `json:"name"`
	Content   string `json:"content"`
	IsError   bool   `json:"is_error"`
	// ContentRef names the stored whole content when Content is its preview.
	ContentRef *largeresults.ContentRef `json:"content_ref,omitempty"`
}

// KeyFunc returns the Perplexity API key. It is called on every invocation;
// implementations cache as they see fit.
type KeyFunc func(ctx context.Context) (string, error)

// Tool calls Perplexity. The zero value of any field falls back to a default.
type Tool struct {
	BaseURL string
	Model   string
	Timeout time.Duration
	Client  *http.Client
	Key     KeyFunc
	// Results stores content over largeresults.InlineLimit; nil only cuts it.
	Results *largeresults.Store
}

type input struct {
	Query      string
	MaxSources int
}

// MalformedToolEvent is the contract's error for an event that is not a tool call
// (docs/contract.md); the Lambda runtime reports its type name as the errorType.
type MalformedToolEvent struct{ Reason string }

func (e *MalformedToolEvent) Error() string { return e.Reason }

// CheckEvent returns a *MalformedToolEvent unless raw is a tool call: a JSON object
// with non-empty string id and name, and an input that is an object when present.
func CheckEvent(raw json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return &MalformedToolEvent{"tool event must be a JSON object with name, id and input"}
	}
	var missing []string
	for _, key := range []string{"id", "name"} {
		var value string
		if json.Unmarshal(fields[key], &value) != nil || value == "" {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		return &MalformedToolEvent{"tool event lacks string field(s): " + strings.Join(missing, ", ")}
	}
	if input, ok := fields["input"]; ok {
		var object map[string]json.RawMessage
		if json.Unmarshal(input, &object) != nil || object == nil {
			return &MalformedToolEvent{"tool event field 'input' must be a JSON object"}
		}
	}
	return nil
}

// Serve answers one raw Lambda event: a *MalformedToolEvent for anything that is not
// a tool call, otherwise a tool_result (every expected failure has is_error set).
func (t *Tool) Serve(ctx context.Context, raw json.RawMessage) (Result, error) {
	if err := CheckEvent(raw); err != nil {
		return Result{}, err
	}
	return t.Handle(ctx, raw), nil
}

// Handle answers one raw tool event. It never returns an error: every expected
// failure becomes a tool_result with is_error set.
func (t *Tool) Handle(ctx context.Context, raw json.RawMessage) Result {
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return errorResult("", ToolName, "invalid tool event: expected a JSON object with name, id and input")
	}
	return t.HandleEvent(ctx, ev)
}

// HandleEvent answers one decoded tool event, with content over the inline limit
// stored and replaced by its preview and reference.
func (t *Tool) HandleEvent(ctx context.Context, ev Event) Result {
	r := t.answer(ctx, ev)
	content, ref, err := t.Results.Bound(ctx, r.ToolUseID, r.Content)
	if err != nil {
		return errorResult(r.ToolUseID, r.Name, err.Error())
	}
	r.Content, r.ContentRef = content, ref
	return r
}

func (t *Tool) answer(ctx context.Context, ev Event) Result {
	name := ev.Name
	if name == "" {
		name = ToolName
	}
	if ev.Name != ToolName {
		return errorResult(ev.ID, name, fmt.Sprintf("unknown tool %q: this function provides %q", ev.Name, ToolName))
	}
	in, err := parseInput(ev.Input)
	if err != nil {
		return errorResult(ev.ID, name, "invalid input: "+err.Error())
	}
	content, err := t.research(ctx, in)
	if err != nil {
		return errorResult(ev.ID, name, err.Error())
	}
	return Result{Type: "tool_result", ToolUseID: ev.ID, Name: name, Content: content}
}

func errorResult(id, name, msg string) Result {
	return Result{Type: "tool_result", ToolUseID: id, Name: name, Content: msg, IsError: true}
}

func parseInput(raw json.RawMessage) (input, error) {
	in := input{MaxSources: DefaultMaxSources}
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return in, errors.New(`"query" is required`)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return in, errors.New("input must be a JSON object")
	}
	for k := range fields {
		if k != "query" && k != "max_sources" {
			return in, fmt.Errorf("unknown field %q (allowed: query, max_sources)", k)
		}
	}
	q, ok := fields["query"]
	if !ok || bytes.Equal(q, []byte("null")) {
		return in, errors.New(`"query" is required`)
	}
	if err := json.Unmarshal(q, &in.Query); err != nil {
		return in, errors.New(`"query" must be a string`)
	}
	in.Query = strings.TrimSpace(in.Query)
	if in.Query == "" {
		return in, errors.New(`"query" must not be empty`)
	}
	if len(in.Query) > MaxQueryLength {
		return in, fmt.Errorf(`"query" is too long (%d characters, at most %d)`, len(in.Query), MaxQueryLength)
	}
	if ms, ok := fields["max_sources"]; ok && !bytes.Equal(ms, []byte("null")) {
		var f float64
		if err := json.Unmarshal(ms, &f); err != nil || f != float64(int(f)) {
			return in, errors.New(`"max_sources" must be an integer`)
		}
		if f < 1 || f > MaxMaxSources {
			return in, fmt.Errorf(`"max_sources" must be between 1 and %d`, MaxMaxSources)
		}
		in.MaxSources = int(f)
	}
	return in, nil
}

type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type searchResult struct {
	Title string `json:"title"`
	URL   string `json:"url"`
	Date  string `json:"date"`
}

type chatResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Citations     []string       `json:"citations"`
	SearchResults []searchResult `json:"search_results"`
}

func (t *Tool) research(ctx context.Context, in input) (string, error) {
	if t.Key == nil {
		return "", errors.New("web research is not configured: no API key source")
	}
	key, err := t.Key(ctx)
	if err != nil {
		return "", fmt.Errorf("web research is not configured: %v", err)
	}
	if key == "" {
		return "", errors.New("web research is not configured: the Perplexity API key is empty")
	}

	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	body, _ := json.Marshal(chatRequest{
		Model: orDefault(t.Model, DefaultModel),
		Messages: []chatMessage{
			{Role: "system", Content: systemPrompt},
			{Role: "user", Content: in.Query},
		},
	})
	url := strings.TrimRight(orDefault(t.BaseURL, DefaultBaseURL), "/") + "/chat/completions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("web research is misconfigured: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	client := t.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) {
			return "", fmt.Errorf("web research timed out after %s; try again or narrow the query", timeout)
		}
		return "", fmt.Errorf("web research request failed: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) {
			return "", fmt.Errorf("web research timed out after %s; try again or narrow the query", timeout)
		}
		return "", fmt.Errorf("web research: reading the response failed: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", statusError(resp.StatusCode, data)
	}

	var cr chatResponse
	if err := json.Unmarshal(data, &cr); err != nil {
		return "", errors.New("web research: the search service returned a malformed response (not the expected JSON)")
	}
	if len(cr.Choices) == 0 || strings.TrimSpace(cr.Choices[0].Message.Content) == "" {
		return "", errors.New("web research: the search service returned no answer")
	}
	return format(cr, in.MaxSources), nil
}

func statusError(code int, body []byte) error {
	var what string
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		what = "authentication with the search service failed (check the Perplexity API key)"
	case code == http.StatusTooManyRequests:
		what = "the search service is rate limiting requests; try again later"
	case code >= 500:
		what = "the search service had an internal error; try again later"
	case code == http.StatusBadRequest:
		what = "the search service rejected the request"
	default:
		what = "the search service returned an unexpected status"
	}
	msg := fmt.Sprintf("web research failed: HTTP %d: %s", code, what)
	if snippet := errorSnippet(body); snippet != "" {
		msg += ": " + snippet
	}
	return errors.New(msg)
}

// errorSnippet extracts a short message from an error body, preferring the
// OpenAI-style {"error": {"message": ...}} shape.
func errorSnippet(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	s := ""
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(e.Error, &obj) == nil && obj.Message != "" {
			s = obj.Message
		} else {
			_ = json.Unmarshal(e.Error, &s)
		}
	}
	if s == "" {
		s = string(body)
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxErrorSnippet {
		s = s[:maxErrorSnippet] + "…"
	}
	return s
}

func format(cr chatResponse, maxSources int) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(cr.Choices[0].Message.Content))

	type source struct{ title, url, date string }
	var sources []source
	seen := map[string]bool{}
	// citations are ordered as the [n] markers in the answer; search_results add titles.
	titles := map[string]searchResult{}
	for _, r := range cr.SearchResults {
		titles[r.URL] = r
	}
	for _, u := range cr.Citations {
		if u == "" || seen[u] {
			continue
		}
		seen[u] = true
		r := titles[u]
		sources = append(sources, source{r.Title, u, r.Date})
	}
	for _, r := range cr.SearchResults {
		if r.URL == "" || seen[r.URL] {
			continue
		}
		seen[r.URL] = true
		sources = append(sources, source{r.Title, r.URL, r.Date})
	}
	if len(sources) > maxSources {
		sources = sources[:maxSources]
	}
	if len(sources) > 0 {
		b.WriteString("\n\nSources:")
		for i, s := range sources {
			fmt.Fprintf(&b, "\n[%d] ", i+1)
			if s.title != "" {
				b.WriteString(s.title + " — ")
			}
			b.WriteString(s.url)
			if s.date != "" {
				b.WriteString(" (" + s.date + ")")
			}
		}
	}
	return b.String()
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
