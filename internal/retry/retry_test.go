package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/retry"
)

type statusErr int

func (e statusErr) Error() string   { return fmt.Sprintf("status %d", int(e)) }
func (e statusErr) StatusCode() int { return int(e) }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestIsTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("plain"), false},
		{context.Canceled, false},
		{fmt.Errorf("call: %w", context.Canceled), false},
		{context.DeadlineExceeded, true},
		{statusErr(500), true},
		{statusErr(503), true},
		{statusErr(408), true},
		{statusErr(429), true},
		{statusErr(400), false},
		{statusErr(404), false},
		{fmt.Errorf("embed: %w", statusErr(502)), true},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, true},
		// markers decide over what they wrap
		{retry.Transient(errors.New("runner crashed")), true},
		{retry.Transient(statusErr(400)), true},
		{retry.Permanent(statusErr(503)), false},
		{retry.Permanent(context.DeadlineExceeded), false},
		{fmt.Errorf("outer: %w", retry.After(errors.New("slow down"), time.Second)), true},
		{errors.New("Get \"https://x\": http: server gave HTTP response to HTTPS client"), false},
	}
	for _, tt := range tests {
		if got := retry.IsTransient(tt.err); got != tt.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

var fast = retry.Policy{Initial: time.Millisecond, Max: 4 * time.Millisecond, Budget: time.Second}

func TestDoRetriesTransientUntilSuccess(t *testing.T) {
	calls := 0
	var waits []time.Duration
	p := fast
	p.OnRetry = func(attempt int, err error, wait time.Duration) { waits = append(waits, wait) }
	err := retry.Do(t.Context(), p, func(context.Context) error {
		calls++
		if calls < 3 {
			return statusErr(500)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err = %v after %d calls, want nil after 3", err, calls)
	}
	if len(waits) != 2 {
		t.Fatalf("OnRetry called %d times, want 2", len(waits))
	}
	for _, w := range waits {
		if w < p.Initial/2 || w > p.Max {
			t.Errorf("wait %s outside [%s, %s]", w, p.Initial/2, p.Max)
		}
	}
}

func TestDoPermanentIsTriedOnce(t *testing.T) {
	calls := 0
	want := statusErr(400)
	err := retry.Do(t.Context(), fast, func(context.Context) error { calls++; return want })
	if calls != 1 || !errors.Is(err, want) {
		t.Fatalf("calls = %d, err = %v", calls, err)
	}
	if _, ok := errors.AsType[*retry.GaveUpError](err); ok {
		t.Errorf("a single try is reported as given up: %v", err)
	}
}

func TestDoBudgetBoundsTheTotal(t *testing.T) {
	p := retry.Policy{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, Budget: 100 * time.Millisecond}
	calls := 0
	start := time.Now()
	err := retry.Do(t.Context(), p, func(context.Context) error { calls++; return statusErr(503) })
	elapsed := time.Since(start)
	ge, ok := errors.AsType[*retry.GaveUpError](err)
	if !ok || ge.Attempts != calls || calls < 3 {
		t.Fatalf("err = %v after %d calls, want a GaveUpError after several", err, calls)
	}
	if !errors.Is(err, statusErr(503)) {
		t.Errorf("GaveUpError does not wrap the last failure: %v", err)
	}
	// No try starts after the budget: the total stays below budget + one wait.
	if elapsed > p.Budget+p.Max+50*time.Millisecond {
		t.Errorf("took %s for a budget of %s", elapsed, p.Budget)
	}
}

func TestDoAttemptsAndNegativeBudget(t *testing.T) {
	calls := 0
	p := fast
	p.Attempts = 2
	retry.Do(t.Context(), p, func(context.Context) error { calls++; return statusErr(500) })
	if calls != 2 {
		t.Errorf("Attempts 2: %d calls", calls)
	}
	calls = 0
	retry.Do(t.Context(), retry.Policy{Budget: -1}, func(context.Context) error { calls++; return statusErr(500) })
	if calls != 1 {
		t.Errorf("Budget -1: %d calls, want 1", calls)
	}
}

func TestDoHonoursRetryAfter(t *testing.T) {
	var got time.Duration
	p := fast
	p.OnRetry = func(_ int, _ error, wait time.Duration) { got = wait }
	calls := 0
	retry.Do(t.Context(), p, func(context.Context) error {
		calls++
		if calls == 1 {
			return retry.After(statusErr(429), 50*time.Millisecond)
		}
		return nil
	})
	if got != 50*time.Millisecond {
		t.Errorf("wait = %s, want the server's 50ms", got)
	}
	// A Retry-After beyond the budget: give up now rather than sleep past it.
	calls = 0
	err := retry.Do(t.Context(), fast, func(context.Context) error {
		calls++
		return retry.After(statusErr(503), time.Hour)
	})
	if calls != 1 || err == nil {
		t.Errorf("Retry-After 1h: %d calls, err %v", calls, err)
	}
}

func TestDoStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	p := retry.Policy{Initial: time.Hour, Max: time.Hour, Budget: 2 * time.Hour}
	done := make(chan error)
	go func() {
		done <- retry.Do(ctx, p, func(context.Context) error { return statusErr(500) })
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Do did not return when its context was cancelled")
	}
	// A caller's deadline shorter than the next wait: fail at once with the
	// real reason.
	dctx, dcancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer dcancel()
	err := retry.Do(dctx, retry.Policy{Initial: time.Second, Max: time.Second}, func(context.Context) error { return statusErr(502) })
	if !errors.Is(err, statusErr(502)) {
		t.Errorf("err = %v, want the 502", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Fri, 02 Jan 2026 03:04:15 GMT": 10 * time.Second,
		"Fri, 02 Jan 2026 03:04:00 GMT": 0, // in the past
	}
	for h, want := range tests {
		if got := retry.ParseRetryAfter(h, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", h, got, want)
		}
	}
}
