package largeresults

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The contract's shared cases, at the repository root.
const casesFile = "../../../../../tests/contract/large_results.json"

type put struct{ bucket, key, body, contentType string }

// recorder keeps what the tool stores, as S3 would.
type recorder struct{ puts []put }

func (r *recorder) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, _ := io.ReadAll(in.Body)
	r.puts = append(r.puts, put{aws.ToString(in.Bucket), aws.ToString(in.Key), string(body), aws.ToString(in.ContentType)})
	return &s3.PutObjectOutput{}, nil
}

func storeWith(bucket string, p Putter) *Store {
	return &Store{Bucket: bucket, NewClient: func(context.Context) (Putter, error) { return p, nil }}
}

type sharedCases struct {
	InlineLimit  int `json:"inline_limit"`
	PreviewChars int `json:"preview_chars"`
	Cases        []struct {
		Name      string  `json:"name"`
		ToolUseID string  `json:"tool_use_id"`
		Unit      string  `json:"unit"`
		Repeat    int     `json:"repeat"`
		Bucket    *string `json:"bucket"`
		Expect    struct {
			ContentSHA256   string      `json:"content_sha256"`
			ContentEndsWith *string     `json:"content_ends_with"`
			ContentRef      *ContentRef `json:"content_ref"`
		} `json:"expect"`
	} `json:"cases"`
}

func TestSharedCases(t *testing.T) {
	data, err := os.ReadFile(casesFile)
	if err != nil {
		t.Fatal(err)
	}
	var cases sharedCases
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if cases.InlineLimit != InlineLimit || cases.PreviewChars != PreviewChars {
		t.Fatalf("limits %d/%d, the cases say %d/%d", InlineLimit, PreviewChars, cases.InlineLimit, cases.PreviewChars)
	}
	for _, c := range cases.Cases {
		t.Run(c.Name, func(t *testing.T) {
			content := strings.Repeat(c.Unit, c.Repeat)
			rec := &recorder{}
			bucket := ""
			if c.Bucket != nil {
				bucket = *c.Bucket
			}
			shown, ref, err := storeWith(bucket, rec).Bound(context.Background(), c.ToolUseID, content)
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte(shown))
			if got := hex.EncodeToString(digest[:]); got != c.Expect.ContentSHA256 {
				t.Errorf("content sha256 %s, want %s (ends %q)", got, c.Expect.ContentSHA256, shown[len(shown)-200:])
			}
			if c.Expect.ContentEndsWith == nil && shown != content {
				t.Errorf("inline content changed")
			}
			if c.Expect.ContentEndsWith != nil && !strings.HasSuffix(shown, *c.Expect.ContentEndsWith) {
				t.Errorf("content ends %q", shown[len(shown)-200:])
			}
			want := c.Expect.ContentRef
			if (ref == nil) != (want == nil) || ref != nil && *ref != *want {
				t.Fatalf("content_ref %+v, want %+v", ref, want)
			}
			if want == nil && len(rec.puts) != 0 {
				t.Errorf("stored %d objects, want none", len(rec.puts))
			}
			if want != nil && (len(rec.puts) != 1 || rec.puts[0] != put{want.Bucket, want.Key, content, "text/plain; charset=utf-8"}) {
				t.Errorf("stored the wrong objects: %d", len(rec.puts))
			}
		})
	}
}

// fakeS3 answers PutObject as S3 does: 200, or 404 NoSuchBucket for any bucket but "artifacts".
func fakeS3(t *testing.T) (*httptest.Server, map[string]string) {
	objects := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPut || r.Header.Get("Authorization") == "" {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		}
		if !strings.HasPrefix(r.URL.Path, "/artifacts/") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code>`+
				`<Message>The specified bucket does not exist</Message></Error>`)
			return
		}
		objects[r.URL.Path] = string(body)
	}))
	t.Cleanup(srv.Close)
	return srv, objects
}

func s3Client(url string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil
		}),
	})
}

func TestTheSDKStoresTheObject(t *testing.T) {
	srv, objects := fakeS3(t)
	content := strings.Repeat("é", InlineLimit+1)
	shown, ref, err := storeWith("artifacts", s3Client(srv.URL)).Bound(context.Background(), "t", content)
	if err != nil {
		t.Fatal(err)
	}
	if objects["/artifacts/"+ref.Key] != content || ref.Chars != InlineLimit+1 {
		t.Fatalf("stored %v, ref %+v", len(objects), ref)
	}
	if !strings.HasSuffix(shown, "Full result: s3://artifacts/"+ref.Key+"]") {
		t.Errorf("preview ends %q", shown[len(shown)-100:])
	}
}

func TestARefusedObjectIsAnErrorNamingTheCode(t *testing.T) {
	srv, _ := fakeS3(t)
	_, _, err := storeWith("gone", s3Client(srv.URL)).Bound(context.Background(), "t", strings.Repeat("x", InlineLimit+1))
	want := "the result (16385 characters) could not be stored in the artifact bucket (NoSuchBucket)"
	if err == nil || err.Error() != want {
		t.Fatalf("err %v, want %q", err, want)
	}
}
