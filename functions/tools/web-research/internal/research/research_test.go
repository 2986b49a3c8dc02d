package research

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sfn-agents/sfn-agents/functions/tools/web-research/internal/largeresults"
)

const okBody = `{
  "id": "abc", "model": "sonar",
  "choices": [{"index": 0, "finish_reason": "stop",
               "message": {"role": "assistant", "content": "Lisbon is the capital of Portugal [1][2]."}}],
  "citations": ["https://en.wikipedia.org/wiki/Lisbon", "https://www.britannica.com/place/Lisbon", "https://example.org/3"],
  "search_results": [
    {"title": "Lisbon - Wikipedia", "url": "https://en.wikipedia.org/wiki/Lisbon", "date": "2024-05-01"},
    {"title": "Lisbon | Britannica", "url": "https://www.britannica.com/place/Lisbon"}
  ]
}`

type captured struct {
	method, path, auth, contentType string
	body                            chatRequest
}

// fake starts an httptest server answering every request with status and body,
// recording the last request it received.
func fake(t *testing.T, status int, body string) (*httptest.Server, *captured) {
	t.Helper()
	c := &captured{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.method, c.path = r.Method, r.URL.Path
		c.auth, c.contentType = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &c.body); err != nil {
			t.Errorf("fake got a non-JSON body: %q", data)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, c
}

func staticKey(k string) KeyFunc {
	return func(context.Context) (string, error) { return k, nil }
}

func newTool(base string) *Tool {
	return &Tool{BaseURL: base, Key: staticKey("pplx-test-key"), Timeout: 5 * time.Second}
}

func event(t *testing.T, name, input string) json.RawMessage {
	t.Helper()
	raw := `{"name": "` + name + `", "id": "toolu_01", "input": ` + input + `}`
	if !json.Valid([]byte(raw)) {
		t.Fatalf("bad test event %s", raw)
	}
	return json.RawMessage(raw)
}

func assertError(t *testing.T, r Result, want string) {
	t.Helper()
	if !r.IsError {
		t.Fatalf("expected an error result, got %+v", r)
	}
	if r.Type != "tool_result" || r.ToolUseID != "toolu_01" {
		t.Fatalf("bad envelope: %+v", r)
	}
	if !strings.Contains(r.Content, want) {
		t.Fatalf("error content %q does not contain %q", r.Content, want)
	}
}

func TestSuccess(t *testing.T) {
	srv, c := fake(t, 200, okBody)
	r := newTool(srv.URL+"/").Handle(context.Background(), event(t, ToolName, `{"query": "  capital of Portugal? ", "max_sources": 2}`))
	if r.IsError {
		t.Fatalf("unexpected error: %s", r.Content)
	}
	if r.Type != "tool_result" || r.ToolUseID != "toolu_01" || r.Name != ToolName {
		t.Fatalf("bad envelope: %+v", r)
	}
	if c.method != http.MethodPost || c.path != "/chat/completions" {
		t.Errorf("request %s %s, want POST /chat/completions", c.method, c.path)
	}
	if c.auth != "Bearer pplx-test-key" {
		t.Errorf("Authorization = %q", c.auth)
	}
	if c.contentType != "application/json" {
		t.Errorf("Content-Type = %q", c.contentType)
	}
	if c.body.Model != "sonar" {
		t.Errorf("model = %q, want sonar", c.body.Model)
	}
	n := len(c.body.Messages)
	if n == 0 || c.body.Messages[n-1].Role != "user" || c.body.Messages[n-1].Content != "capital of Portugal?" {
		t.Errorf("messages = %+v, want the trimmed query as the last user message", c.body.Messages)
	}
	for _, want := range []string{
		"Lisbon is the capital of Portugal [1][2].",
		"Sources:",
		"[1] Lisbon - Wikipedia — https://en.wikipedia.org/wiki/Lisbon (2024-05-01)",
		"[2] Lisbon | Britannica — https://www.britannica.com/place/Lisbon",
	} {
		if !strings.Contains(r.Content, want) {
			t.Errorf("content lacks %q:\n%s", want, r.Content)
		}
	}
	if strings.Contains(r.Content, "example.org/3") {
		t.Errorf("max_sources=2 not honoured:\n%s", r.Content)
	}
}

func TestCustomModelAndNoSources(t *testing.T) {
	srv, c := fake(t, 200, `{"choices": [{"message": {"content": "An answer."}}]}`)
	tool := newTool(srv.URL)
	tool.Model = "sonar-pro"
	r := tool.Handle(context.Background(), event(t, ToolName, `{"query": "q"}`))
	if r.IsError || r.Content != "An answer." {
		t.Fatalf("got %+v", r)
	}
	if c.body.Model != "sonar-pro" {
		t.Errorf("model = %q", c.body.Model)
	}
}

func TestBadInput(t *testing.T) {
	cases := map[string]struct{ input, want string }{
		"missing query":       {`{}`, `"query" is required`},
		"null input":          {`null`, `"query" is required`},
		"null query":          {`{"query": null}`, `"query" is required`},
		"empty query":         {`{"query": "   "}`, `must not be empty`},
		"query wrong type":    {`{"query": 42}`, `"query" must be a string`},
		"input not object":    {`"what is Go?"`, `input must be a JSON object`},
		"max_sources string":  {`{"query": "q", "max_sources": "3"}`, `"max_sources" must be an integer`},
		"max_sources float":   {`{"query": "q", "max_sources": 2.5}`, `"max_sources" must be an integer`},
		"max_sources too big": {`{"query": "q", "max_sources": 21}`, `between 1 and 20`},
		"max_sources zero":    {`{"query": "q", "max_sources": 0}`, `between 1 and 20`},
		"unknown field":       {`{"query": "q", "foo": 1}`, `unknown field "foo"`},
		"query too long":      {`{"query": "` + strings.Repeat("a", MaxQueryLength+1) + `"}`, `too long`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tool := newTool("http://127.0.0.1:1") // never reached
			assertError(t, tool.Handle(context.Background(), event(t, ToolName, tc.input)), tc.want)
		})
	}
}

func TestUnknownTool(t *testing.T) {
	r := newTool("http://127.0.0.1:1").Handle(context.Background(), event(t, "search_web", `{"query": "q"}`))
	assertError(t, r, `unknown tool "search_web"`)
	if r.Name != "search_web" {
		t.Errorf("name = %q, want the requested name echoed", r.Name)
	}
}

func TestMalformedEvent(t *testing.T) {
	r := newTool("http://127.0.0.1:1").Handle(context.Background(), json.RawMessage(`[1, 2]`))
	if !r.IsError || r.Type != "tool_result" {
		t.Fatalf("got %+v", r)
	}
}

func TestServeAnswersMalformedEventsWithTheTypedError(t *testing.T) {
	cases := map[string]string{
		`null`:                              "must be a JSON object",
		`[1, 2]`:                            "must be a JSON object",
		`"research_web"`:                    "must be a JSON object",
		`{}`:                                "lacks string field(s): id, name",
		`{"name": "research_web"}`:          "lacks string field(s): id",
		`{"id": 7, "name": "research_web"}`: "lacks string field(s): id",
		`{"id": "t1", "name": ""}`:          "lacks string field(s): name",
		`{"id": "t1", "name": "research_web", "input": [1]}`:  "'input' must be a JSON object",
		`{"id": "t1", "name": "research_web", "input": null}`: "'input' must be a JSON object",
	}
	tool := newTool("http://127.0.0.1:1")
	for raw, want := range cases {
		_, err := tool.Serve(context.Background(), json.RawMessage(raw))
		var malformed *MalformedToolEvent
		if !errors.As(err, &malformed) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want a MalformedToolEvent saying %q", raw, err, want)
		}
	}
	r, err := tool.Serve(context.Background(), event(t, "search_web", `{"query": "q"}`))
	if err != nil || !r.IsError || r.ToolUseID == "" {
		t.Errorf("a tool call must get a tool_result, got %+v, %v", r, err)
	}
}

func TestUpstreamErrors(t *testing.T) {
	cases := []struct {
		status     int
		body, want string
	}{
		{401, `{"error": {"message": "Invalid API key", "type": "invalid_api_key"}}`, "HTTP 401: authentication"},
		{429, `{"error": {"message": "Rate limit exceeded"}}`, "HTTP 429: the search service is rate limiting"},
		{500, `<html>Internal Server Error</html>`, "HTTP 500: the search service had an internal error"},
		{400, `{"error": "bad model"}`, "HTTP 400: the search service rejected the request: bad model"},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv, _ := fake(t, tc.status, tc.body)
			assertError(t, newTool(srv.URL).Handle(context.Background(), event(t, ToolName, `{"query": "q"}`)), tc.want)
		})
	}
}

func TestMalformedUpstreamJSON(t *testing.T) {
	for name, body := range map[string]string{
		"not json":   `{"choices": [`,
		"no choices": `{"choices": []}`,
		"wrong type": `{"choices": "nope"}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv, _ := fake(t, 200, body)
			r := newTool(srv.URL).Handle(context.Background(), event(t, ToolName, `{"query": "q"}`))
			assertError(t, r, "web research")
		})
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	tool := newTool(srv.URL)
	tool.Timeout = 200 * time.Millisecond
	start := time.Now()
	r := tool.Handle(context.Background(), event(t, ToolName, `{"query": "q"}`))
	assertError(t, r, "timed out")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s despite a 200ms timeout", d)
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	assertError(t, newTool(url).Handle(context.Background(), event(t, ToolName, `{"query": "q"}`)), "request failed")
}

func TestKeyErrors(t *testing.T) {
	tool := newTool("http://127.0.0.1:1")
	tool.Key = func(context.Context) (string, error) { return "", errors.New("secret not found") }
	assertError(t, tool.Handle(context.Background(), event(t, ToolName, `{"query": "q"}`)), "not configured: secret not found")
	tool.Key = staticKey("")
	assertError(t, tool.Handle(context.Background(), event(t, ToolName, `{"query": "q"}`)), "API key is empty")
	tool.Key = nil
	assertError(t, tool.Handle(context.Background(), event(t, ToolName, `{"query": "q"}`)), "not configured")
}

// bodies keeps the objects the tool stores, as S3 would.
type bodies map[string]string

func (b bodies) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	data, _ := io.ReadAll(in.Body)
	b[*in.Bucket+"/"+*in.Key] = string(data)
	return &s3.PutObjectOutput{}, nil
}

// A long report (here ~300 KB) is stored whole; the model gets its preview and reference.
func TestALongAnswerIsStoredAndPreviewed(t *testing.T) {
	report := strings.Repeat("Step Functions limits a state to 256 KiB [1]. ", 6_500)
	answer, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"message": map[string]string{"content": report}}}})
	srv, _ := fake(t, 200, string(answer))
	stored := bodies{}
	tool := newTool(srv.URL)
	tool.Results = &largeresults.Store{Bucket: "artifacts", NewClient: func(context.Context) (largeresults.Putter, error) { return stored, nil }}

	r := tool.Handle(context.Background(), event(t, ToolName, `{"query": "limits"}`))
	if r.IsError || r.ContentRef == nil {
		t.Fatalf("got %+v", r.ContentRef)
	}
	full := stored["artifacts/"+r.ContentRef.Key]
	if full != strings.TrimSpace(report) || r.ContentRef.Chars != len(full) || len(full) < 256<<10 {
		t.Fatalf("stored %d characters, ref %+v", len(full), r.ContentRef)
	}
	if want := largeresults.Preview(full, len(full), "s3://artifacts/"+r.ContentRef.Key); r.Content != want {
		t.Errorf("content is not the preview: ends %q", r.Content[len(r.Content)-120:])
	}
	out, _ := json.Marshal(r)
	if !strings.Contains(string(out), `"content_ref":{"bucket":"artifacts","key":"tool-results/toolu_01/`) {
		t.Errorf("result JSON %s", out[len(out)-200:])
	}
}

func TestShortAnswersCarryNoReference(t *testing.T) {
	srv, _ := fake(t, 200, okBody)
	out, _ := json.Marshal(newTool(srv.URL).Handle(context.Background(), event(t, ToolName, `{"query": "q"}`)))
	if strings.Contains(string(out), "content_ref") {
		t.Errorf("result JSON %s", out)
	}
}
