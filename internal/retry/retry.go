// Package retry is rag's one retry policy for calls to model servers: capped
// exponential backoff with full jitter over a bounded total time, honouring a
// server's Retry-After. It decides what is worth another try ([IsTransient])
// from markers any package can attach to its errors ([Transient],
// [After], or a Transient() / RetryAfter() / StatusCode() method), so
// providers need not import each other. It does not log or print; a caller
// that wants to show retries sets [Policy.OnRetry].
package retry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults of a Policy whose fields are left zero.
const (
	DefaultInitial = 500 * time.Millisecond
	DefaultMax     = 8 * time.Second
	// DefaultBudget bounds the time from the first try to the start of the
	// last one: a server that stays down is given up on after about 30 s.
	DefaultBudget = 30 * time.Second
)

// Policy says how long and how often to try again.
type Policy struct {
	// Initial is the first backoff; each next one doubles, up to Max. The wait
	// actually taken is a random duration up to the backoff ("full jitter"),
	// at least Initial/2, so that clients failing together do not retry
	// together.
	Initial time.Duration
	Max     time.Duration
	// Budget bounds the total: no try starts later than Budget after the
	// first. A negative Budget means a single try.
	Budget time.Duration
	// Attempts, when positive, also caps the number of tries.
	Attempts int
	// OnRetry, when set, is called before each wait with the try that failed
	// (1 for the first), its error and the wait.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// Default is the policy of every model call unless a caller says otherwise.
var Default = Policy{}

func (p Policy) withDefaults() Policy {
	if p.Initial <= 0 {
		p.Initial = DefaultInitial
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	if p.Budget == 0 {
		p.Budget = DefaultBudget
	}
	return p
}

// GaveUpError is the last failure of a call that was tried more than once.
type GaveUpError struct {
	Attempts int
	Elapsed  time.Duration
	Err      error
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("%v (gave up after %d tries in %s)", e.Err, e.Attempts, e.Elapsed.Round(100*time.Millisecond))
}

func (e *GaveUpError) Unwrap() error { return e.Err }

// Do calls fn until it succeeds, fails for a reason that is not transient, ctx
// ends, or the policy's budget or attempts are spent. It returns fn's last
// error, wrapped in a *GaveUpError when fn ran more than once and still
// failed, and ctx's error when ctx ended during a wait.
func Do(ctx context.Context, p Policy, fn func(ctx context.Context) error) error {
	p = p.withDefaults()
	start := time.Now()
	backoff := p.Initial
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if !IsTransient(err) {
			return gaveUp(attempt, start, err)
		}
		wait := p.Initial/2 + rand.N(backoff-p.Initial/2+1)
		if ra := RetryAfter(err); ra > wait {
			wait = ra
		}
		elapsed := time.Since(start)
		if p.Budget < 0 || elapsed+wait > p.Budget || p.Attempts > 0 && attempt >= p.Attempts {
			return gaveUp(attempt, start, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// The caller's deadline would end the wait: fail now, with the
			// real reason rather than a deadline.
			return gaveUp(attempt, start, err)
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, p.Max)
	}
}

func gaveUp(attempt int, start time.Time, err error) error {
	if attempt == 1 {
		return err
	}
	return &GaveUpError{Attempts: attempt, Elapsed: time.Since(start), Err: err}
}

// marked is an error with retry advice attached.
type marked struct {
	err       error
	transient bool
	after     time.Duration
}

func (m *marked) Error() string             { return m.err.Error() }
func (m *marked) Unwrap() error             { return m.err }
func (m *marked) Transient() bool           { return m.transient }
func (m *marked) RetryAfter() time.Duration { return m.after }

// Transient marks err as worth another try, whatever it wraps.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, transient: true}
}

// Permanent marks err as not worth another try, whatever it wraps.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err}
}

// After marks err as transient with a server-given wait (Retry-After) before
// the next try.
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, transient: true, after: d}
}

// ParseRetryAfter reads an HTTP Retry-After header (seconds or an HTTP date);
// 0 when absent or unreadable.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// RetryAfter is the wait the first error in err's chain with a RetryAfter()
// method asks for; 0 when none does.
func RetryAfter(err error) time.Duration {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return ra.RetryAfter()
	}
	return 0
}

// TransientStatus reports whether an HTTP status is worth another try: 5xx,
// 408 (request timeout) and 429 (too many requests).
func TransientStatus(code int) bool {
	return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
}

// IsTransient reports whether err is worth another try. The first error in
// err's chain that says so decides: a Transient() bool method (as [Transient]
// and [Permanent] attach), then a StatusCode() int method (see
// [TransientStatus]). Without either, a deadline, a timeout and a connection
// refused, reset or cut short are transient; a cancellation is never.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var t interface{ Transient() bool }
	if errors.As(err, &t) {
		return t.Transient()
	}
	var sc interface{ StatusCode() int }
	if errors.As(err, &sc) {
		return TransientStatus(sc.StatusCode())
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return false // https to a plain-HTTP server: no retry helps
	}
	if errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
