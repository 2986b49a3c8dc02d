// Command bootstrap is the Lambda entry point of the research_web tool.
// It speaks the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API) through aws-lambda-go.
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sfn-agents/sfn-agents/functions/tools/web-research/internal/apikey"
	"github.com/sfn-agents/sfn-agents/functions/tools/web-research/internal/largeresults"
	"github.com/sfn-agents/sfn-agents/functions/tools/web-research/internal/research"
)

func newTool() *research.Tool {
	timeout := research.DefaultTimeout
	if v := os.Getenv("PERPLEXITY_TIMEOUT_SECONDS"); v != "" {
		if d, err := time.ParseDuration(v + "s"); err == nil && d > 0 {
			timeout = d
		}
	}
	return &research.Tool{
		BaseURL: os.Getenv("PERPLEXITY_BASE_URL"),
		Model:   os.Getenv("PERPLEXITY_MODEL"),
		Timeout: timeout,
		Client:  &http.Client{},
		Key:     apikey.FromEnv().Key,
		Results: &largeresults.Store{Bucket: os.Getenv("ARTIFACT_BUCKET")},
	}
}

func main() {
	tool := newTool()
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (research.Result, error) {
		return tool.Serve(ctx, raw)
	})
}
