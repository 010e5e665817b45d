package weaviate

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/retry"
)

// An https store whose certificate the client does not trust, or that
// answers plain HTTP, is a *TLSError at the first try: no retry helps.
func TestTLSProblemsAreNotRetried(t *testing.T) {
	quiet := func(s *httptest.Server) *httptest.Server {
		s.Config.ErrorLog = log.New(io.Discard, "", 0)
		return s
	}
	untrusted := quiet(httptest.NewUnstartedServer(http.NotFoundHandler()))
	untrusted.StartTLS()
	defer untrusted.Close()
	plain := quiet(httptest.NewServer(http.NotFoundHandler()))
	defer plain.Close()
	for _, tc := range []struct {
		name, host string
		plain      bool
		want       string
	}{
		{"untrusted certificate", strings.TrimPrefix(untrusted.URL, "https://"), false, "is not trusted: x509: certificate signed by unknown authority"},
		{"plain http", strings.TrimPrefix(plain.URL, "http://"), true, "does not speak https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tries int
			cfg := Config{Scheme: "https", Host: tc.host, APIKey: "secret-key-123", KeyEnv: APIKeyEnv,
				Retry: retry.Policy{Initial: 10 * time.Millisecond, Budget: time.Second, OnRetry: func(int, error, time.Duration) { tries++ }}}
			_, err := Open(context.Background(), cfg)
			te, ok := errors.AsType[*TLSError](err)
			if !ok || te.Plain != tc.plain || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "weaviates://"+tc.host) {
				t.Fatalf("Open: %v, want a *TLSError saying %q", err, tc.want)
			}
			if tries != 0 || errors.Is(err, ErrUnavailable) {
				t.Errorf("retried %d times (unavailable: %v)", tries, errors.Is(err, ErrUnavailable))
			}
			if strings.Contains(err.Error(), "secret-key-123") {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
}
