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
	"github.com/ragcli/rag/internal/store"
)

func TestFromLocation(t *testing.T) {
	l, err := store.ParseURL("weaviates://db.example/team")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(APIKeyEnv, "k-123")
	t.Setenv(ReplicationEnv, "3")
	t.Setenv(ConsistencyEnv, "quorum")
	cfg, err := FromLocation(l)
	if err != nil || cfg.Scheme != "https" || cfg.Host != "db.example:443" || cfg.Base != "Team" ||
		cfg.APIKey != "k-123" || cfg.KeyEnv != APIKeyEnv || cfg.Replication != 3 || cfg.Consistency != Quorum {
		t.Fatalf("FromLocation: %+v %v", cfg, err)
	}
	if strings.Contains(cfg.String(), "k-123") {
		t.Fatalf("String shows the key: %s", cfg)
	}
	t.Setenv(ReplicationEnv, "0")
	if _, err := FromLocation(l); err == nil || !strings.Contains(err.Error(), ReplicationEnv) {
		t.Fatalf("replication 0: %v", err)
	}
	t.Setenv(ReplicationEnv, "")
	t.Setenv(ConsistencyEnv, "SOME")
	if _, err := FromLocation(l); err == nil || !strings.Contains(err.Error(), ConsistencyEnv) {
		t.Fatalf("consistency SOME: %v", err)
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
