package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
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
