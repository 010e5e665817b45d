package ollama

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/provider"
	"github.com/ragcli/rag/internal/retry"
)

// UnreachableError reports that no Ollama server answered at Host.
type UnreachableError struct {
	Host string
	Err  error
	// Seen tells that the server had answered this client before: it went
	// away (a restart), so the failure is worth retrying. A server that was
	// never reached is not waited for.
	Seen bool
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach ollama at %s", e.Host)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Is makes an UnreachableError an embed.ErrUnavailable.
func (e *UnreachableError) Is(target error) bool { return target == embed.ErrUnavailable }

// Transient implements retry's marker: see Seen.
func (e *UnreachableError) Transient() bool { return e.Seen }

// TimeoutError reports a call that got no (complete) answer within its
// deadline: a hung server, or a model load slower than allowed. It is an
// embed.ErrUnavailable, so that ingest keeps the chunks pending and a hybrid
// search falls back to its lexical leg.
type TimeoutError struct {
	Host  string
	After time.Duration
	Seen  bool // the server had answered before, so another try may work
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("ollama at %s did not answer within %s", e.Host, e.After.Round(time.Second))
}

// Unwrap makes a TimeoutError a context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Is makes a TimeoutError an embed.ErrUnavailable.
func (e *TimeoutError) Is(target error) bool { return target == embed.ErrUnavailable }

// Transient implements retry's marker.
func (e *TimeoutError) Transient() bool { return e.Seen }

// ModelMissingError reports that the server does not have Model.
type ModelMissingError struct {
	Model string
	Host  string
}

func (e *ModelMissingError) Error() string {
	return fmt.Sprintf("model %q not found on %s", e.Model, e.Host)
}

// Is makes a ModelMissingError a provider.ErrModelMissing, as every
// provider's is.
func (e *ModelMissingError) Is(target error) bool { return target == provider.ErrModelMissing }

// Capabilities a model can have, as /api/show lists them.
const (
	CapEmbedding  = "embedding"
	CapCompletion = "completion"
)

// CapabilityError reports a model used for what it cannot do: an embedding
// model asked to chat, or a chat model asked to embed (which the real server
// answers with a vector that means nothing for retrieval).
type CapabilityError struct {
	Model string
	Want  string // CapEmbedding or CapCompletion
}

func (e *CapabilityError) Error() string {
	if e.Want == CapEmbedding {
		return fmt.Sprintf("%s is a chat model; it cannot embed", e.Model)
	}
	return fmt.Sprintf("%s is an embedding model; it cannot chat", e.Model)
}

// HostError reports an OLLAMA_HOST that points at something that is not an
// Ollama API: a URL with a path, or https to a plain-HTTP server.
type HostError struct {
	Host   string
	Reason string
	Fix    string // what to set instead, for the hint
}

func (e *HostError) Error() string { return fmt.Sprintf("ollama at %s: %s", e.Host, e.Reason) }

// StatusError is an error answer from the server that rag has no more
// specific error for, such as a 500. A transient one (see Transient) is an
// embed.ErrUnavailable, so that ingest keeps the chunks pending once the
// retries are spent.
type StatusError struct {
	Host string
	Code int
	Msg  string
	// After is the answer's Retry-After (see retryafter.go), 0 when it sent none.
	After time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("ollama at %s answered %d: %s", e.Host, e.Code, e.Msg)
}

// StatusCode is the HTTP status the server answered with.
func (e *StatusError) StatusCode() int { return e.Code }

// RetryAfter is how long the server (or a proxy in front of it) asked to
// wait, for the retry policy.
func (e *StatusError) RetryAfter() time.Duration { return e.After }

// Transient reports whether another try may work: a 5xx, 408 or 429, and the
// 400s with which Ollama reports a model runner that crashed (the next
// request starts a new one).
func (e *StatusError) Transient() bool {
	return retry.TransientStatus(e.Code) || runnerCrashed(e.Msg)
}

// Is makes a transient StatusError an embed.ErrUnavailable.
func (e *StatusError) Is(target error) bool {
	return target == embed.ErrUnavailable && e.Transient()
}

// runnerCrashed recognises the texts Ollama v0.17 answers while a model
// runner dies or restarts (server/sched.go, llm/server.go).
func runnerCrashed(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{
		"runner process no longer running",
		"runner process has terminated",
		"do embedding request",
		"health resp:",       // the scheduler's health check of a dying runner
		"connection refused", // the server dialling a runner just killed
		"connection reset by peer",
		"error was encountered while running the model",
		"model runner has unexpectedly stopped",
		"unexpected eof",
	} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// StreamError is an error line inside a streamed answer, as Ollama sends when
// its runner fails mid-answer ("an error was encountered while running the
// model: unexpected EOF"). It is transient: nothing was wrong with the request.
type StreamError struct {
	Host string
	Msg  string
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("ollama at %s failed mid-answer: %s", e.Host, e.Msg)
}

// Transient implements retry's marker.
func (e *StreamError) Transient() bool { return true }

// CutError reports an answer that failed after part of it was delivered: the
// caller has shown text that stops mid-way. It is not retried, since the part
// shown cannot be taken back. Content holds what arrived.
type CutError struct {
	Err error
}

func (e *CutError) Error() string { return fmt.Sprintf("the answer was cut short: %v", e.Err) }
func (e *CutError) Unwrap() error { return e.Err }

// Transient implements retry's marker: never.
func (e *CutError) Transient() bool { return false }

// ErrIncomplete: a streamed answer ended without its final ("done") line and
// without an error. Ollama does that when it stops a model repeating itself,
// and a dropped connection looks the same.
var ErrIncomplete = errors.New("the answer is incomplete: the server ended the stream before finishing it")

// incomplete is ErrIncomplete as a transient error, for a stream that ended
// before anything was delivered.
type incomplete struct{ host string }

func (e incomplete) Error() string {
	return fmt.Sprintf("ollama at %s: %v", e.host, ErrIncomplete)
}
func (e incomplete) Unwrap() error   { return ErrIncomplete }
func (e incomplete) Transient() bool { return true }

// ErrChatIdle: the server stopped streaming an answer for the idle timeout.
var ErrChatIdle = errors.New("no answer within the idle timeout")

// classifyAfter is classify for a request whose error answer asked to wait
// after (its Retry-After), which a StatusError then carries.
func (c *Client) classifyAfter(model string, err error, after time.Duration) error {
	err = c.classify(model, err)
	if se, ok := errors.AsType[*StatusError](err); ok && after > 0 {
		se.After = after
	}
	return err
}

// classify turns a transport or API error into one of the package's errors.
func (c *Client) classify(model string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	if ae, ok := errors.AsType[api.AuthorizationError](err); ok {
		// A proxy in front of Ollama that wants credentials.
		return &provider.AuthError{Host: c.Host(), Status: ae.StatusCode}
	}
	if se, ok := errors.AsType[api.StatusError](err); ok {
		if se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden {
			return &provider.AuthError{Host: c.Host(), Status: se.StatusCode, Msg: strings.TrimSpace(se.ErrorMessage)}
		}
		return c.classifyStatus(model, se)
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok ||
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		plain := *c.host
		plain.Scheme = "http"
		return &HostError{Host: c.Host(), Reason: "the server speaks plain HTTP, not https",
			Fix: fmt.Sprintf("use http:// in OLLAMA_HOST (or --ollama-host): %s", plain.String())}
	}
	ne, isNet := errors.AsType[net.Error](err)
	oe, isOp := errors.AsType[*net.OpError](err)
	if errors.Is(err, syscall.ECONNREFUSED) || isOp && oe.Op == "dial" ||
		isNet && ne.Timeout() && !errors.Is(err, context.DeadlineExceeded) ||
		// The server went away mid-request.
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return &UnreachableError{Host: c.Host(), Err: err, Seen: c.seen.Load()}
	}
	if ue, ok := errors.AsType[*url.Error](err); ok && errors.Is(ue, context.DeadlineExceeded) {
		return fmt.Errorf("ollama at %s did not answer in time: %w", c.Host(), context.DeadlineExceeded)
	}
	return err
}

func (c *Client) classifyStatus(model string, se api.StatusError) error {
	msg := strings.TrimSpace(se.ErrorMessage)
	low := strings.ToLower(msg)
	switch {
	case se.StatusCode == http.StatusNotFound && strings.HasPrefix(low, "model ") && strings.Contains(low, "not found"):
		return &ModelMissingError{Model: model, Host: c.Host()}
	case se.StatusCode == http.StatusNotFound:
		// Not Ollama's JSON answer for a model: the route itself is missing.
		return c.routeMissing(msg)
	case se.StatusCode == http.StatusBadRequest && strings.Contains(low, "context length"):
		return fmt.Errorf("%w: %s", embed.ErrInputTooLong, msg)
	case strings.Contains(low, "does not support chat"):
		return &CapabilityError{Model: model, Want: CapCompletion}
	case strings.Contains(low, "does not support embeddings"):
		return &CapabilityError{Model: model, Want: CapEmbedding}
	}
	return &StatusError{Host: c.Host(), Code: se.StatusCode, Msg: msg}
}

func (c *Client) routeMissing(body string) error {
	e := &HostError{Host: c.Host(), Reason: fmt.Sprintf("no Ollama API here (404: %s)", firstLine(body))}
	if p := strings.TrimRight(c.host.Path, "/"); p != "" {
		bare := *c.host
		bare.Path = ""
		e.Reason = fmt.Sprintf("no Ollama API under the path %s (404: %s)", p, firstLine(body))
		e.Fix = fmt.Sprintf("drop the path from OLLAMA_HOST (or --ollama-host): %s", bare.String())
	} else {
		e.Fix = "point OLLAMA_HOST (or --ollama-host) at an Ollama server, such as http://127.0.0.1:11434"
	}
	return e
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}
