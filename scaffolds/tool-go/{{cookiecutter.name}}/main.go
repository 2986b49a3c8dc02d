// Command bootstrap is the Lambda entry point of the {{ cookiecutter.name }} tool.
// It speaks the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API) through aws-lambda-go.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, raw json.RawMessage) (Result, error) {
		return Handle(raw), nil
	})
}
