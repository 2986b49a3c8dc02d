// Package largeresults keeps tool results of any size out of the state machine's
// 256 KiB state (docs/contract.md, "Large results"): content above InlineLimit
// characters goes to the artifact bucket and the model gets a preview plus the
// object's reference. Thresholds, key, preview text and content_ref are those of
// the Python helper (layers/agent_core/agent_core/large_results.py);
// tests/contract/large_results.json holds the cases every language is tested
// against. Characters are Unicode code points (runes), as Python counts them.
package largeresults

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

const (
	InlineLimit  = 16_384
	PreviewChars = 4_096
	prefix       = "tool-results"
	maxIDChars   = 80
)

// ContentRef names the object that holds a result's whole content.
type ContentRef struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Chars  int    `json:"chars"`
}

// Putter is the part of the S3 client used here.
type Putter interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// ObjectKey is content-addressed, so a retried call rewrites the same object.
func ObjectKey(toolUseID, content string) string {
	digest := sha256.Sum256([]byte(content))
	var safe strings.Builder
	n := 0
	for _, r := range toolUseID {
		if n == maxIDChars {
			break
		}
		if r < utf8.RuneSelf && (r == '_' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			safe.WriteRune(r)
		} else {
			safe.WriteByte('_')
		}
		n++
	}
	return fmt.Sprintf("%s/%s/%s.txt", prefix, safe.String(), hex.EncodeToString(digest[:])[:32])
}

// Preview is the first PreviewChars characters of content (chars in all) and where the rest is.
func Preview(content string, chars int, where string) string {
	end, n := len(content), 0
	for i := range content {
		if n == PreviewChars {
			end = i
			break
		}
		n++
	}
	return fmt.Sprintf("%s\n[result truncated: %d characters in all; the first %d are shown. Full result: %s]",
		content[:end], chars, PreviewChars, where)
}

// Store puts content over InlineLimit into Bucket. Without a Bucket such content
// is only cut to its preview.
type Store struct {
	Bucket string
	// NewClient builds the S3 client; nil means the default AWS config (which
	// honours AWS_ENDPOINT_URL[_S3], with path-style addressing for emulators).
	NewClient func(ctx context.Context) (Putter, error)

	mu     sync.Mutex
	client Putter
}

// Bound returns content as the model should see it and, when it was stored, its
// reference. The error says why the object could not be stored.
func (s *Store) Bound(ctx context.Context, toolUseID, content string) (string, *ContentRef, error) {
	if len(content) <= InlineLimit { // bytes >= characters
		return content, nil, nil
	}
	chars := utf8.RuneCountInString(content)
	if chars <= InlineLimit {
		return content, nil, nil
	}
	if s == nil || s.Bucket == "" {
		return Preview(content, chars, "not stored (no ARTIFACT_BUCKET)"), nil, nil
	}
	key := ObjectKey(toolUseID, content)
	client, err := s.putter(ctx)
	if err == nil {
		_, err = client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:      aws.String(s.Bucket),
			Key:         aws.String(key),
			Body:        strings.NewReader(content),
			ContentType: aws.String("text/plain; charset=utf-8"),
		})
	}
	if err != nil {
		return "", nil, fmt.Errorf("the result (%d characters) could not be stored in the artifact bucket (%s)", chars, errorCode(err))
	}
	where := fmt.Sprintf("s3://%s/%s", s.Bucket, key)
	return Preview(content, chars, where), &ContentRef{Bucket: s.Bucket, Key: key, Chars: chars}, nil
}

func (s *Store) putter(ctx context.Context) (Putter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	newClient := s.NewClient
	if newClient == nil {
		newClient = defaultClient
	}
	client, err := newClient(ctx)
	if err != nil {
		return nil, err
	}
	s.client = client
	return client, nil
}

// errorCode is the service's error code (NoSuchBucket, AccessDenied), else the error.
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return err.Error()
}

func defaultClient(ctx context.Context) (Putter, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	local := false
	for _, v := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		local = local || os.Getenv(v) != ""
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = local }), nil
}
