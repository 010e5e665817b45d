package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/embed"
)

func TestKeyNeverPrints(t *testing.T) {
	k := NewKey("sk-secret-1234567890", "OPENAI_API_KEY")
	holder := struct {
		Name string
		K    Key
		P    *Key
	}{"x", k, &k}
	b, _ := json.Marshal(holder)
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x %d", k, k, k, k, k, k, k),
		fmt.Sprintf("%v %+v %#v", holder, holder, &holder), string(b),
		k.Redact("server said: bad key sk-secret-1234567890."),
	} {
		if strings.Contains(s, "sk-secret") {
			t.Errorf("key printed: %s", s)
		}
	}
	if k.Value() != "sk-secret-1234567890" || !k.Set() || k.Env != "OPENAI_API_KEY" {
		t.Error("the key's value is lost")
	}
}

func TestParseBaseURL(t *testing.T) {
	key := NewKey("sk-x", "K")
	tests := []struct {
		raw      string
		key      Key
		insecure bool
		want     string // "" for an error
		wantErr  error
	}{
		{"http://127.0.0.1:8080/v1/", key, false, "http://127.0.0.1:8080/v1", nil},
		{"http://localhost:1234/v1", key, false, "http://localhost:1234/v1", nil},
		{"http://[::1]:8080", key, false, "http://[::1]:8080", nil},
		{"https://api.openai.com/v1", key, false, "https://api.openai.com/v1", nil},
		{"http://gpu-box:8000/v1", key, false, "", ErrInsecure},
		{"http://10.0.0.5:8000/v1", key, false, "", ErrInsecure},
		{"http://gpu-box:8000/v1", key, true, "http://gpu-box:8000/v1", nil},
		{"http://gpu-box:8000/v1", Key{}, false, "http://gpu-box:8000/v1", nil}, // no key to leak
		{"ftp://x/v1", key, false, "", nil},
		{"http://user:pw@127.0.0.1/v1", key, false, "", nil},
		{"127.0.0.1:8080", key, false, "", nil},
	}
	for _, tt := range tests {
		u, err := ParseBaseURL(tt.raw, tt.key, tt.insecure)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("%s: accepted as %s", tt.raw, u)
		case tt.want != "" && (err != nil || u.String() != tt.want):
			t.Errorf("%s: %v, %v; want %s", tt.raw, u, err, tt.want)
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Errorf("%s: %v, want %v", tt.raw, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: the URL's password is in the error: %v", tt.raw, err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"2"}}, 2 * time.Second},
		{http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{http.Header{"Retry-After": {now.Add(3 * time.Second).Format(http.TimeFormat)}}, 3 * time.Second},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 250 * time.Millisecond},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{}, 0},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.h, now); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.h, got, tt.want)
		}
	}
}

func TestRedirectElsewhereRefused(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:1/v1")
	c := HTTPClient(base, time.Second, time.Second)
	other, _ := http.NewRequest("GET", "http://127.0.0.2:1/v1", nil)
	same, _ := http.NewRequest("GET", "http://127.0.0.1:1/v2", nil)
	if err := c.CheckRedirect(other, []*http.Request{same}); err == nil {
		t.Error("a redirect to another host is followed")
	}
	if err := c.CheckRedirect(same, []*http.Request{same}); err != nil {
		t.Errorf("a redirect on the same origin is refused: %v", err)
	}
}

func TestKeyInUnexportedField(t *testing.T) {
	type client struct{ key Key }
	c := &client{key: NewKey("sk-secret-abcdef", "K")}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v", c, *c, c)} {
		if strings.Contains(s, "sk-secret") {
			t.Errorf("key printed through an unexported field: %s", s)
		}
	}
}

// TestTransportError: every HTTP provider reads an error without an answer
// the same way: cancellation untouched, the call's deadline a
// DeadlineExceeded, a dead or dying connection an UnreachableError (an
// embed.ErrUnavailable worth a retry), anything else with the key redacted.
func TestTransportError(t *testing.T) {
	key := NewKey("sk-secret-1234567890", "K")
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:9/v1/embeddings", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name        string
		err         error
		unreachable bool
		want        string
	}{
		{"cancelled", context.Canceled, false, "context canceled"},
		{"deadline", fmt.Errorf("post: %w", context.DeadlineExceeded), false, "cohere at http://h did not answer in time"},
		{"refused", refused, true, "cannot reach cohere at http://h"},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true, "cannot reach cohere at http://h"},
		{"cut short", io.ErrUnexpectedEOF, true, "cannot reach cohere at http://h"},
		{"other", errors.New("tls: bad certificate for sk-secret-1234567890"), false, "cohere at http://h: tls: bad certificate for [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := TransportError("cohere", "http://h", key, tt.err)
			if err.Error() != tt.want && !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			_, unreachable := errors.AsType[*UnreachableError](err)
			if unreachable != tt.unreachable || errors.Is(err, embed.ErrUnavailable) != tt.unreachable {
				t.Errorf("unreachable = %v, ErrUnavailable = %v; want %v", unreachable, errors.Is(err, embed.ErrUnavailable), tt.unreachable)
			}
			if tt.name == "cancelled" && err != context.Canceled {
				t.Errorf("a cancellation must come back as it is, got %v", err)
			}
			if tt.name == "deadline" && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%v is not a DeadlineExceeded", err)
			}
		})
	}
	if got := TransportError("", "http://h/v1", key, refused).Error(); got != "cannot reach http://h/v1" {
		t.Errorf("unnamed: %q", got)
	}
}
