package deep

import (
	"context"
	"fmt"
	"time"

	"github.com/ragcli/rag/internal/retry"
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

// Transient reports whether err is worth one more try: what the model
// adapter marks transient (retry.IsTransient: a timeout, a 5xx, 408 or 429
// answer, a connection refused, reset or cut short), and a step that hit its
// own deadline. A 4xx answer, a missing model or a cancellation is not.
func Transient(err error) bool {
	return retry.IsTransient(err)
}
