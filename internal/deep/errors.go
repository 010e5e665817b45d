package deep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/ollama"
)

// PlanError reports that the model's plan could not be used: not valid JSON,
// or no sub-question in it. The caller should answer the question the plain
// way instead.
type PlanError struct {
	Reason string // what was wrong, e.g. "not valid JSON"
	Reply  string // the model's reply, for debugging
}

func (e *PlanError) Error() string { return "no usable plan: " + e.Reason }

// AllFailedError reports that no worker produced an answer, so there is
// nothing to write the final answer from. Parts holds every failure.
type AllFailedError struct {
	Parts []Part
}

func (e *AllFailedError) Error() string {
	reason := ""
	if len(e.Parts) > 0 {
		reason = ": " + e.Parts[0].Error
	}
	n := len(e.Parts)
	if n == 1 {
		return "the one part of the question could not be answered" + reason
	}
	return fmt.Sprintf("none of the %d parts of the question could be answered; the first%s", n, reason)
}

// TimeoutError reports a step that hit its own deadline (not the caller's).
type TimeoutError struct {
	Step  string // "answer", "check", "plan", "final answer"
	After time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("no %s within %s", e.Step, e.After)
}

// Unwrap makes a TimeoutError a context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// StatusCoder is implemented by errors that carry the HTTP status a server
// answered with, such as *ollama.StatusError.
type StatusCoder interface {
	error
	StatusCode() int
}

// Transient reports whether err is worth one more try: a timeout, a 5xx (or
// 408, 429) answer, a connection refused, reset or cut short. A 4xx answer, a
// missing model or a cancellation is not.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if sc, ok := errors.AsType[StatusCoder](err); ok {
		return transientStatus(sc.StatusCode())
	}
	if errors.Is(err, embed.ErrUnavailable) || // the ollama package's unreachable server
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	return errors.Is(err, ollama.ErrChatIdle)
}

func transientStatus(code int) bool {
	return code >= 500 || code == 408 || code == 429
}
