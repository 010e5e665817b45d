package weaviate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/retry"
)

func TestParseURL(t *testing.T) {
	t.Setenv(APIKeyEnv, "")
	for _, tc := range []struct {
		in                          string
		scheme, host, base, consist string
		repl                        int
		err                         string
	}{
		{in: "weaviate://127.0.0.1:8080", scheme: "http", host: "127.0.0.1:8080", base: "Rag"},
		{in: "weaviate://db.example:9000/Team", scheme: "http", host: "db.example:9000", base: "Team"},
		{in: "weaviates://db.example/Team", scheme: "https", host: "db.example:443", base: "Team"},
		{in: "weaviate+https://db.example:8443", scheme: "https", host: "db.example:8443", base: "Rag"},
		{in: "https://db.example", scheme: "https", host: "db.example:443", base: "Rag"},
		{in: "weaviate://h:1/Docs?replication=3&consistency=quorum", scheme: "http", host: "h:1", base: "Docs", repl: 3, consist: "QUORUM"},
		{in: "weaviate://h:1/docs", err: "upper-case"},
		{in: "weaviate://h:1/Do-cs", err: "upper-case"},
		{in: "ftp://h:1", err: "scheme"},
		{in: "weaviate://user:secret@h:1", err: "no credentials"},
		{in: "weaviate://h:1?replication=0", err: "replication"},
		{in: "weaviate://h:1?consistency=SOME", err: "consistency"},
	} {
		cfg, err := ParseURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: error shows the password: %v", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if cfg.Scheme != tc.scheme || cfg.Host != tc.host || cfg.Base != tc.base || cfg.Replication != tc.repl || cfg.Consistency != tc.consist {
			t.Errorf("%s: got %+v", tc.in, cfg)
		}
	}
	t.Setenv(APIKeyEnv, "k-123")
	cfg, err := ParseURL("weaviate://h:1")
	if err != nil || cfg.APIKey != "k-123" || cfg.KeyEnv != APIKeyEnv {
		t.Fatalf("key from the environment: %+v %v", cfg, err)
	}
	if strings.Contains(cfg.String(), "k-123") {
		t.Fatalf("String shows the key: %s", cfg)
	}
}

// The error mapping, against a server that answers what Weaviate answers
// on failure: a 401 becomes an *AuthError naming the variable, a 500 an
// *UnavailableError after the retries, and the key is in neither, even when
// the server echoes it back.
func TestErrorsMapAndHideKey(t *testing.T) {
	const key = "sk-very-secret-key-42"
	status := http.StatusUnauthorized
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/meta" && status == 0 {
			w.Write([]byte(`{"version":"1.35.2"}`))
			return
		}
		calls++
		w.WriteHeader(status)
		w.Write([]byte(`{"error":[{"message":"bad token ` + r.Header.Get("Authorization") + `"}]}`))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	fast := retry.Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond, Budget: 50 * time.Millisecond}

	_, err := Open(context.Background(), Config{Host: host, APIKey: key, KeyEnv: APIKeyEnv, Retry: fast})
	var ae *AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), APIKeyEnv) {
		t.Fatalf("401: %v, want an *AuthError naming %s", err, APIKeyEnv)
	}
	// One try of ours; the client itself asks /v1/meta once for the
	// server's version. A retried 401 would be a dozen calls in 50 ms.
	if calls > 2 {
		t.Errorf("401 was tried %d times, want no retries", calls)
	}
	_, err = Open(context.Background(), Config{Host: host, Retry: fast})
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "needs an API key") {
		t.Fatalf("401 without a key: %v", err)
	}

	status, calls = http.StatusInternalServerError, 0
	_, err = Open(context.Background(), Config{Host: host, APIKey: key, KeyEnv: APIKeyEnv, Retry: fast})
	var ue *UnavailableError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("500: %v, want an *UnavailableError", err)
	}
	if calls < 2 {
		t.Errorf("500 was tried %d times, want retries", calls)
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("error shows the key: %v", err)
	}
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("the echoed key should read [redacted]: %v", err)
	}

	srv.Close()
	calls = 0
	_, err = Open(context.Background(), Config{Host: host, Retry: fast})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "cannot reach weaviate") {
		t.Fatalf("closed server: %v", err)
	}
}

func TestChunkIDsDeterministic(t *testing.T) {
	a := []Chunk{{Text: "one"}, {Text: "two"}, {Text: "one"}}
	ids := ChunkIDs("docs/a.md", a)
	if again := ChunkIDs("docs/a.md", a); strings.Join(again, ",") != strings.Join(ids, ",") {
		t.Fatal("ids differ between runs")
	}
	if ids[0] == ids[2] {
		t.Fatal("two equal chunks of one file share an id")
	}
	if other := ChunkIDs("docs/b.md", a); other[0] == ids[0] {
		t.Fatal("the same chunk in another file has the same id")
	}
	// An edit of the first chunk changes only its id.
	edited := ChunkIDs("docs/a.md", []Chunk{{Text: "one, edited"}, {Text: "two"}, {Text: "one"}})
	if edited[0] == ids[0] || edited[1] != ids[1] {
		t.Fatalf("edit: %v vs %v", edited, ids)
	}
	// A heading is content too.
	if h := ChunkIDs("docs/a.md", []Chunk{{Text: "one", Headings: []string{"H"}}}); h[0] == ids[0] {
		t.Fatal("heading not part of the id")
	}
}
