// Package provider holds what every model provider (Ollama, an OpenAI-compatible
// server, Cohere, a reranker) shares: the errors callers branch on whatever
// the server (a rejected key, a missing model, an error status with its
// Retry-After), API keys as secrets that never print, and the rule for which
// base URLs a key or a document may be sent to. It makes no network calls.
package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ragcli/rag/internal/embed"
)

// ErrModelMissing is what every provider's "no such model" error is (errors.Is).
var ErrModelMissing = errors.New("model not found")

// AuthError reports that the server refused the request's credentials (401 or
// 403). KeyEnv names the variable the key came from (or, when none was sent,
// the one it would have come from), for the hint.
type AuthError struct {
	Host   string
	Status int
	KeyEnv string // "" when rag has no variable for this server's key
	Sent   bool   // a key was sent
	Msg    string // the server's message, with the key redacted
}

func (e *AuthError) Error() string {
	s := fmt.Sprintf("%s refused the credentials (%d %s)", e.Host, e.Status, http.StatusText(e.Status))
	if !e.Sent {
		s = fmt.Sprintf("%s refused the request (%d %s); no API key was sent", e.Host, e.Status, http.StatusText(e.Status))
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// ModelMissingError reports that the server has no model called Model.
type ModelMissingError struct {
	Model string
	Host  string
}

func (e *ModelMissingError) Error() string {
	return fmt.Sprintf("model %q not found on %s", e.Model, e.Host)
}

// Is makes a ModelMissingError an ErrModelMissing.
func (e *ModelMissingError) Is(target error) bool { return target == ErrModelMissing }

// StatusError is an error answer that has no more specific error, such as a
// 429 or a 500. Its StatusCode and RetryAfter let the retry policy tell a
// transient failure from a permanent one and how long the server asked to wait.
type StatusError struct {
	Host  string
	Code  int
	Msg   string
	After time.Duration // the server's Retry-After, 0 when it sent none
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %d %s: %s", e.Host, e.Code, http.StatusText(e.Code), e.Msg)
}

// StatusCode is the HTTP status the server answered with.
func (e *StatusError) StatusCode() int { return e.Code }

// Is makes a StatusError that another try might cure (5xx, 429, 408) an
// embed.ErrUnavailable, so ingest stores chunks as pending once the retries
// are spent.
func (e *StatusError) Is(target error) bool {
	return target == embed.ErrUnavailable && (e.Code >= 500 || e.Code == http.StatusTooManyRequests || e.Code == http.StatusRequestTimeout)
}

// RetryAfter is how long the server asked the client to wait, 0 when it did not say.
func (e *StatusError) RetryAfter() time.Duration { return e.After }

// ParseRetryAfter reads a Retry-After header (seconds or an HTTP date), or the
// retry-after-ms header some APIs send; 0 when absent or unreadable.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// UnreachableError reports that no server answered at Host: the connection
// was refused, reset or cut short, or timed out before an answer. It is an
// embed.ErrUnavailable (ingest keeps the chunks pending, a hybrid search
// falls back to its lexical leg) and worth another try.
type UnreachableError struct {
	Name string // what the server is ("cohere"), "" when Host says enough
	Host string
	Err  error
}

func (e *UnreachableError) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("cannot reach %s at %s", e.Name, e.Host)
	}
	return fmt.Sprintf("cannot reach %s", e.Host)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Is makes an UnreachableError an embed.ErrUnavailable.
func (e *UnreachableError) Is(target error) bool { return target == embed.ErrUnavailable }

// Transient marks an unreachable server as worth another try.
func (e *UnreachableError) Transient() bool { return true }

// TransportError is the one reading, for every HTTP provider, of an error
// that came without an answer from the server at host (name as in
// UnreachableError): a cancellation as it is, the call's own deadline as a
// context.DeadlineExceeded, a refused, reset or cut connection and a network
// timeout as an UnreachableError, anything else with key redacted.
func TransportError(name, host string, key Key, err error) error {
	at := host
	if name != "" {
		at = name + " at " + host
	}
	var oe *net.OpError
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s did not answer in time: %w", at, context.DeadlineExceeded)
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &oe) && oe.Op == "dial",
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.As(err, &ne) && ne.Timeout():
		return &UnreachableError{Name: name, Host: host, Err: err}
	}
	return fmt.Errorf("%s: %s", at, key.Redact(err.Error()))
}

// Key is an API key. It never prints: every fmt verb, JSON and the error texts
// of this package show "[redacted]". The value is kept behind a function, so
// even a struct that holds a Key in an unexported field (which fmt prints by
// reflection, without calling Format) shows an address, not the key. Env
// names the variable it was read from.
type Key struct {
	value func() string
	Env   string
}

// NewKey returns the key value read from the variable env.
func NewKey(value, env string) Key {
	value = strings.TrimSpace(value)
	return Key{value: func() string { return value }, Env: env}
}

// Value is the key itself, for the Authorization header and nothing else.
func (k Key) Value() string {
	if k.value == nil {
		return ""
	}
	return k.value()
}

// Set reports whether there is a key.
func (k Key) Set() bool { return k.Value() != "" }

const redacted = "[redacted]"

func (k Key) String() string   { return redacted }
func (k Key) GoString() string { return redacted }

// Format redacts the key under every verb, %#v and %+v included.
func (k Key) Format(f fmt.State, _ rune) { fmt.Fprint(f, redacted) }

// MarshalJSON redacts the key.
func (k Key) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText redacts the key (YAML, logs).
func (k Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Redact replaces every occurrence of the key in s; servers sometimes echo a
// key they refuse.
func (k Key) Redact(s string) string {
	v := k.Value()
	if len(v) < 4 {
		return s
	}
	return strings.ReplaceAll(s, v, redacted)
}

// ErrInsecure reports a key or documents that would travel in clear text to
// another machine.
var ErrInsecure = errors.New("refusing to send an API key over plain HTTP to a remote host")

// InsecureError names the URL that was refused.
type InsecureError struct{ URL string }

func (e *InsecureError) Error() string { return fmt.Sprintf("%s: %s", ErrInsecure, e.URL) }

// Is makes an InsecureError an ErrInsecure.
func (e *InsecureError) Is(target error) bool { return target == ErrInsecure }

// ParseBaseURL checks a provider's base URL: http or https, a host, no
// credentials or query in it. A key sent to a host other than this machine
// must go over https unless allowInsecure.
func ParseBaseURL(raw string, key Key, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("parse base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: want http://HOST[:PORT][/PATH] or https://...", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("base URL %s: put credentials in an API key variable, not in the URL", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if u.Scheme == "http" && key.Set() && !Loopback(u.Hostname()) && !allowInsecure {
		return nil, &InsecureError{URL: u.String()}
	}
	return u, nil
}

// Loopback reports whether host names this machine: localhost or a loopback IP.
func Loopback(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SameOrigin reports whether u is on the same scheme, host and port as base,
// the only place a key may go (a redirect elsewhere is refused).
func SameOrigin(base, u *url.URL) bool {
	return strings.EqualFold(base.Scheme, u.Scheme) && strings.EqualFold(base.Host, u.Host)
}

// HTTPClient returns an HTTP client for base: no proxy for a loopback host,
// the environment's proxy otherwise, a dial deadline, and redirects refused
// when they leave base's origin, so a key never reaches another host.
func HTTPClient(base *url.URL, dial, header time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if Loopback(base.Hostname()) {
		t.Proxy = nil
	}
	t.DialContext = (&net.Dialer{Timeout: dial}).DialContext
	t.ResponseHeaderTimeout = header
	t.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport: t,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !SameOrigin(base, req.URL) {
				return fmt.Errorf("refusing a redirect from %s to %s", base.Host, req.URL.Host)
			}
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			return nil
		},
	}
}

// Message is a server's error text as rag shows it: trimmed, the key
// redacted (before the cut, so no part of a key survives it) and cut to 300
// bytes.
func Message(msg string, key Key) string {
	msg = key.Redact(strings.TrimSpace(msg))
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return msg
}

// AnswerError maps an error answer to rag's errors the same way for every
// provider: 401 or 403 is an AuthError naming where the key came from, a 404
// that speaks of a model is a ModelMissingError, anything else a StatusError
// with the server's Retry-After. msg comes from Message. A provider checks
// its own cases (an over-long input) before calling it.
func AnswerError(host string, code int, header http.Header, msg string, key Key, model string) error {
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return &AuthError{Host: host, Status: code, KeyEnv: key.Env, Sent: key.Set(), Msg: msg}
	case code == http.StatusNotFound && strings.Contains(strings.ToLower(msg), "model"):
		return &ModelMissingError{Model: model, Host: host}
	}
	if msg == "" {
		msg = http.StatusText(code)
	}
	return &StatusError{Host: host, Code: code, Msg: msg, After: ParseRetryAfter(header, time.Now())}
}
